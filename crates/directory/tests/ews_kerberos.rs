//! Negotiate for EWS (`auth = "kerberos"` in `[exchange]`) against the EWS
//! EMULATOR (not Exchange) with real tickets from the Samba test DC's KDC
//! (started by `scripts/test-servers up`; these tests FAIL, with that
//! instruction, when it is not running).
//!
//! The emulator verifies the ticket with the keys of `HTTP/localhost` that
//! `scripts/test-servers` exports from Samba (`USERPHOTO_TEST_AD_HTTP_KEYTAB`),
//! through the system's GSSAPI, as IIS does with the Exchange server's keys.
//! It needs its own `kerberos` feature: `cargo test --all-features`, or
//! `--features kerberos,userphoto-emulators/kerberos`.
//!
//! What they prove: with a ticket and no password anywhere, photos are set
//! and read under Negotiate (Kerberos sign-ins counted, no NTLM); a server
//! that cannot verify the ticket gets NTLM under Negotiate instead when a
//! password is configured (the fallback); with neither, the error says to
//! run kinit.

#[cfg(all(unix, feature = "kerberos"))]
mod kerberos_common;

#[cfg(all(unix, feature = "kerberos"))]
mod negotiate {
    use std::sync::Arc;

    use secrecy::SecretString;
    use userphoto_directory::conformance::fixtures;
    use userphoto_directory::ews::{EwsAuth, EwsDirectory, EwsDirectoryBuilder};
    use userphoto_directory::folder::FolderDirectory;
    use userphoto_directory::{Directory, DirectoryExt as _, Error, PhotoLookup, User, UserKey};
    use userphoto_emulators::ews::{
        EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
    };

    use super::kerberos_common::{Realm, Sandbox, KRB5_ENV};

    const MAIL: &str = "krb.user@corp.example.test";

    struct Setup {
        emulator: EwsEmulator,
        users: Arc<dyn Directory>,
        _dir: tempfile::TempDir,
    }

    /// An emulator offering only Negotiate (Exchange's default), verifying
    /// tickets when `kerberos`, and a folder directory with one user.
    async fn setup(realm: &Realm, kerberos: bool) -> Setup {
        // The emulator's acceptor finds the service keys here.
        std::env::set_var(
            "KRB5_KTNAME",
            format!("FILE:{}", realm.http_keytab.display()),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let user = User::new("CN=krb.user,OU=userphoto-kerberos,DC=corp,DC=example,DC=test")
            .with_sam_account_name("krb.user")
            .with_mail(MAIL);
        let folder = FolderDirectory::create(dir.path().join("ad"), vec![user])
            .await
            .expect("folder directory");
        let knobs = EwsKnobs::default()
            .with_auth(EmulatedAuth::Negotiate)
            .with_kerberos(kerberos)
            .with_mailboxes([MAIL]);
        Setup {
            emulator: EwsEmulator::start(knobs).await.expect("emulator"),
            users: Arc::new(folder),
            _dir: dir,
        }
    }

    impl Setup {
        /// `auth = "kerberos"`, no credentials; the URL names the host as
        /// the service principal does (`HTTP/localhost`).
        fn builder(&self) -> EwsDirectoryBuilder {
            EwsDirectory::builder()
                .ews_url(self.emulator.ews_url().replace("127.0.0.1", "localhost"))
                .auth(EwsAuth::Kerberos)
                .allow_insecure(true)
                .users(self.users.clone())
        }
    }

    async fn set_and_read(dir: &EwsDirectory) {
        let user = dir
            .find_user(UserKey::SamAccountName, "krb.user")
            .await
            .expect("find");
        let photo = fixtures::jpeg("ews-kerberos");
        dir.set_photo(&user, &photo).await.expect("set the photo");
        match dir.get_photo(&user).await.expect("read the photo") {
            PhotoLookup::Photo(p) => assert_eq!(p.bytes(), photo.bytes()),
            other => panic!("no photo after setting it: {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ticket_signs_in_under_negotiate_with_no_password() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let sandbox = Sandbox::new(&realm);
        sandbox.kinit(&realm.admin(), &realm.admin_password);
        let s = setup(&realm, true).await;
        let dir = s.builder().build().expect("build without a password");
        set_and_read(&dir).await;
        let stats = s.emulator.stats();
        assert!(stats.kerberos_sign_ins >= 1, "{stats:?}");
        assert_eq!(
            (stats.ntlm_sign_ins, stats.kerberos_refused),
            (0, 0),
            "{stats:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_ticket_falls_back_to_ntlm_when_a_password_is_given() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let sandbox = Sandbox::new(&realm);
        sandbox.kinit(&realm.admin(), &realm.admin_password);
        // This emulator cannot verify tickets (as a server without the
        // HTTP/ service name): 401 to the Kerberos token.
        let s = setup(&realm, false).await;
        let dir = s
            .builder()
            .credentials(DEFAULT_USERNAME, SecretString::from(DEFAULT_PASSWORD))
            .password_source("USERPHOTO_EXCHANGE_PASSWORD")
            .build()
            .expect("build");
        set_and_read(&dir).await;
        let stats = s.emulator.stats();
        assert!(stats.kerberos_refused >= 1, "{stats:?}");
        assert!(stats.ntlm_sign_ins >= 1, "{stats:?}");
        assert_eq!(stats.kerberos_sign_ins, 0, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_ticket_and_no_password_says_to_run_kinit() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let _sandbox = Sandbox::new(&realm); // an empty cache
        let s = setup(&realm, true).await;
        let dir = s.builder().build().expect("build");
        // Users come from [ad] (here a folder); the photo read is EWS.
        let user = s
            .users
            .find_user(UserKey::SamAccountName, "krb.user")
            .await
            .expect("find");
        let err = dir
            .get_photo(&user)
            .await
            .expect_err("no ticket, no password");
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("no Kerberos ticket for HTTP/localhost"),
            "{text}"
        );
        assert!(text.contains("kinit"), "{text}");
    }
}

// (On Windows, Kerberos is always built, and these server tests do not run.)
#[cfg(all(unix, not(feature = "kerberos")))]
#[test]
fn without_the_feature_exchange_kerberos_is_refused_with_how_to_build_it() {
    use userphoto_directory::ews::{EwsAuth, EwsDirectory};
    let err = EwsDirectory::builder()
        .ews_url("https://mail.corp.example.com/EWS/Exchange.asmx")
        .auth(EwsAuth::Kerberos)
        .build()
        .expect_err("no Kerberos in this build");
    assert!(err.to_string().contains("--features kerberos"), "{err}");
}
