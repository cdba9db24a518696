//! Kerberos sign-in (`auth = "kerberos"`) against the real Samba AD DC and
//! its KDC (started by `scripts/test-servers up`; these tests FAIL, with
//! that instruction, when it is not running).
//!
//! Each test writes its own `krb5.conf` (the test realm, KDC on loopback)
//! and credential cache in a temporary folder, points `KRB5_CONFIG` and
//! `KRB5CCNAME` at them, and runs `kinit` (from krb5-user) with a test
//! password given on its standard input: the password exists in the test
//! only, never in the configuration userphoto reads.
//!
//! What they prove: an `[ad]` section with `auth = "kerberos"` and no bind
//! DN or password lists, sets and removes a photo, over LDAPS and over
//! plain `ldap://` with the SASL sealing layer; a missing ticket gives the
//! documented `kinit` message; a user without write rights is refused with
//! AD's insufficient-access answer.
//!
//! Built without the `kerberos` feature (on Unix), the one test here proves
//! that `auth = "kerberos"` is refused with how to get a build that has it.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC and its KDC, Linux test servers of scripts/test-servers
// (docs/TESTING.md, "Windows under Wine"), and a Windows domain logon that Wine has
// not got. The Linux run covers it.
#![cfg(not(windows))]

#[cfg(any(feature = "kerberos", windows))]
mod kerberos_common;
mod ldap_common;

#[cfg(not(any(feature = "kerberos", windows)))]
#[test]
fn without_the_feature_kerberos_is_refused_with_how_to_build_it() {
    use userphoto_directory::ldap::{LdapAuth, LdapDirectory};
    let err = LdapDirectory::builder()
        .url("ldaps://dc1.corp.example.com")
        .base_dn("DC=corp,DC=example,DC=com")
        .auth(LdapAuth::Kerberos)
        .build_lazy()
        .expect_err("no Kerberos in this build");
    assert!(err.to_string().contains("--features kerberos"), "{err}");
}

#[cfg(any(feature = "kerberos", windows))]
mod kerberos {
    use futures::TryStreamExt as _;
    use ldap3::{LdapConnAsync, LdapConnSettings};
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    use userphoto_directory::conformance::fixtures;
    use userphoto_directory::ldap::{LdapConfig, LdapDirectory};
    use userphoto_directory::{Directory, Error, PhotoLookup, UserQuery};

    use super::kerberos_common::{Realm as KrbRealm, Sandbox, KRB5_ENV};
    use super::ldap_common::{AdTestEnv, START_HINT};

    /// The OU this file's target user lives in (not the shared test OU,
    /// whose users other tests count).
    const OU: &str = "userphoto-kerberos";
    /// The user whose photo is set and removed.
    const TARGET: &str = "krb-photo-target";
    /// An ordinary user (no rights beyond reading), with a password so that
    /// `kinit` can get its ticket. (The shared OU's regular users have no
    /// password, hence no Kerberos keys.)
    const READER: &str = "krb-reader";
    /// The reader's throwaway password: it exists in this test domain only.
    const READER_PASSWORD: &str = "Userphoto-Krb-Reader-1";

    /// An attribute and its values, for an LDAP add.
    type Attr<'a> = (&'a [u8], Vec<&'a [u8]>);

    /// The Kerberos facts of the test domain, and the AD ones.
    #[derive(Debug)]
    struct Realm {
        ad: AdTestEnv,
        realm: String,
        krb: KrbRealm,
    }

    impl Realm {
        fn load() -> Self {
            let krb = KrbRealm::load();
            Realm {
                ad: AdTestEnv::ad(),
                realm: krb.realm.clone(),
                krb,
            }
        }

        fn ou_dn(&self) -> String {
            format!("OU={OU},{}", self.ad.base_dn)
        }
    }

    /// Makes the OU and its one user (idempotent), as the administrator
    /// with a simple bind: test set-up, not the code under test.
    async fn ensure_target(realm: &Realm) -> String {
        let ad = &realm.ad;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&ad.ca_file).expect("read the test CA") {
            roots
                .add(cert.expect("a PEM certificate"))
                .expect("add the test CA");
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let settings = LdapConnSettings::new().set_config(std::sync::Arc::new(tls));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &ad.url)
            .await
            .unwrap_or_else(|e| panic!("the Samba AD test server: {e}; {START_HINT}"));
        ldap3::drive!(conn);
        ldap.simple_bind(&ad.admin_dn, &ad.admin_password)
            .await
            .and_then(|r| r.success())
            .expect("admin bind");
        let ou = realm.ou_dn();
        let user = format!("CN={TARGET},{ou}");
        let upn = format!("{READER}@{}", realm.realm.to_ascii_lowercase());
        // unicodePwd: the password in double quotes, UTF-16LE.
        let password: Vec<u8> = format!("\"{READER_PASSWORD}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let entries: [(String, Vec<Attr<'_>>); 3] = [
            (
                ou.clone(),
                vec![
                    (b"objectClass", vec![b"organizationalUnit"]),
                    (b"ou", vec![OU.as_bytes()]),
                ],
            ),
            (
                user.clone(),
                vec![
                    (b"objectClass", vec![b"user"]),
                    (b"cn", vec![TARGET.as_bytes()]),
                    (b"sAMAccountName", vec![TARGET.as_bytes()]),
                ],
            ),
            (
                format!("CN={READER},{ou}"),
                vec![
                    (b"objectClass", vec![b"user"]),
                    (b"cn", vec![READER.as_bytes()]),
                    (b"sAMAccountName", vec![READER.as_bytes()]),
                    (b"userPrincipalName", vec![upn.as_bytes()]),
                    // 512: a normal, enabled account.
                    (b"userAccountControl", vec![b"512"]),
                    (b"unicodePwd", vec![password.as_slice()]),
                ],
            ),
        ];
        for (dn, attrs) in entries {
            let attrs: Vec<(&[u8], std::collections::HashSet<&[u8]>)> = attrs
                .into_iter()
                .map(|(a, v)| (a, v.into_iter().collect()))
                .collect();
            let r = ldap.add(&dn, attrs).await.expect("add");
            // 68: entryAlreadyExists (an earlier run made it).
            assert!(r.rc == 0 || r.rc == 68, "adding {dn}: {r:?}");
        }
        let _ = ldap.unbind().await;
        user
    }

    /// The `[ad]` section of a configuration file: no bind DN, no password.
    fn section(realm: &Realm, url: &str, extra: &str) -> LdapConfig {
        let text = format!(
            "url = {url:?}\nbase_dn = {base:?}\nca_file = {ca:?}\nauth = \"kerberos\"\n{extra}",
            base = realm.ou_dn(),
            ca = realm.ad.ca_file.display().to_string(),
        );
        assert!(!text.to_ascii_lowercase().contains("password"), "{text}");
        toml::from_str(&text).expect("the [ad] section parses")
    }

    async fn list_set_remove(dir: &LdapDirectory, target_dn: &str) {
        let users: Vec<_> = dir
            .list_users(&UserQuery::all())
            .try_collect()
            .await
            .expect("list as the ticket holder");
        let names: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let user = users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(target_dn))
            .unwrap_or_else(|| panic!("{target_dn} not listed: {names:?}"));

        let photo = fixtures::jpeg("kerberos");
        dir.set_photo(user, &photo).await.expect("set the photo");
        match dir.get_photo(user).await.expect("read the photo back") {
            PhotoLookup::Photo(p) => assert_eq!(p.bytes(), photo.bytes(), "the photo read back"),
            other => panic!("no photo after setting it: {other:?}"),
        }
        dir.remove_photo(user).await.expect("remove the photo");
        assert!(
            matches!(
                dir.get_photo(user).await.expect("read"),
                PhotoLookup::NoPhoto
            ),
            "the photo is gone"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admin_ticket_lists_sets_and_removes_a_photo_over_ldaps() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let target = ensure_target(&realm).await;
        let sandbox = Sandbox::new(&realm.krb);
        sandbox.kinit(
            &format!("Administrator@{}", realm.realm),
            &realm.ad.admin_password,
        );
        let dir = section(&realm, &realm.ad.url, "")
            .connect()
            .await
            .expect("a Kerberos bind with the admin's ticket");
        list_set_remove(&dir, &target).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plain_ldap_is_sealed_by_the_kerberos_layer() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let target = ensure_target(&realm).await;
        let sandbox = Sandbox::new(&realm.krb);
        sandbox.kinit(
            &format!("Administrator@{}", realm.realm),
            &realm.ad.admin_password,
        );
        // Port 389 without TLS: Samba refuses simple binds there ("strong
        // auth required"), so this succeeding means the SASL layer is on;
        // no allow_insecure is needed for it.
        let url = realm
            .ad
            .url
            .replacen("ldaps://", "ldap://", 1)
            .replace(":636", ":389");
        let dir = section(&realm, &url, "starttls = false\n")
            .connect()
            .await
            .expect("a sealed Kerberos bind on ldap://");
        list_set_remove(&dir, &target).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_ticket_says_to_run_kinit() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let _sandbox = Sandbox::new(&realm.krb); // an empty cache: no kinit
        let err = section(&realm, &realm.ad.url, "")
            .connect()
            .await
            .expect_err("no ticket, no bind");
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("no usable Kerberos ticket"), "{text}");
        assert!(
            text.contains(&format!("kinit your-name@{}", realm.realm)),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_ticket_says_to_run_kinit() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let sandbox = Sandbox::new(&realm.krb);
        sandbox.kinit_with(&realm.krb.admin(), &realm.ad.admin_password, &["-l", "2s"]);
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        let err = section(&realm, &realm.ad.url, "")
            .connect()
            .await
            .expect_err("an expired ticket, no bind");
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("no usable Kerberos ticket"), "{text}");
        assert!(
            text.contains(&format!("kinit your-name@{}", realm.realm)),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_user_without_write_rights_is_refused_in_plain_words() {
        let _env = KRB5_ENV.lock().await;
        let realm = Realm::load();
        let target = ensure_target(&realm).await;
        let sandbox = Sandbox::new(&realm.krb);
        // An ordinary user: may read the directory, may not write other
        // people's photos.
        sandbox.kinit(&format!("{READER}@{}", realm.realm), READER_PASSWORD);
        let dir = section(&realm, &realm.ad.url, "")
            .connect()
            .await
            .expect("a regular user may sign in");
        let users: Vec<_> = dir
            .list_users(&UserQuery::all())
            .try_collect()
            .await
            .expect("a regular user may list");
        let user = users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(&target))
            .expect("the target is listed");
        let err = dir
            .set_photo(user, &fixtures::jpeg("refused"))
            .await
            .expect_err("no write rights");
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("insufficientAccessRights") && text.contains("was refused"),
            "{text}"
        );
        // Who was refused, by name: the ticket's principal (the system
        // GSSAPI tells it; on Windows the message says "klist shows who").
        let who = format!("refused to {READER}@{}", realm.realm);
        assert!(text.contains(&who), "{text}");
    }
}
