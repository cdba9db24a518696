//! The Exchange (EWS) backend against the EWS EMULATOR of
//! `userphoto-emulators` (written from Microsoft's documentation; not
//! Exchange). Users come from a folder directory standing in for Active
//! Directory; photos live in the emulated mailboxes, keyed by `mail`.
//!
//! What they prove: the conformance suite passes (reads, writes, a user
//! without a mailbox, a mailbox whose photo we may not change, removal
//! absent and said so); writes round-trip byte for byte; `ErrorServerBusy`
//! back-off hints are honoured and then given up on; an Exchange 2013
//! server is told "Exchange 2016 or later is required"; `detect`'s server
//! probe reads `ServerVersionInfo`; wrong credentials, plain http and a
//! user without mail are explained. Authentication: the conformance suite
//! runs with NTLM against an emulator that offers only NTLM (a real
//! CHALLENGE from sspi's acceptor, the AUTHENTICATE message checked against
//! the account), each connection signs in once and carries later requests,
//! concurrent requests each keep their handshake on their own connection;
//! Basic works against a Basic emulator; a wrong password and a scheme the
//! server does not offer are explained without printing the password.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use userphoto_directory::conformance::{self, fixtures, SuiteFlags, TestScope};
use userphoto_directory::ews::{EwsAuth, EwsDirectory, EwsDirectoryBuilder};
use userphoto_directory::folder::FolderDirectory;
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, PhotoLookup, User, UserKey, UserQuery,
};
use userphoto_emulators::ews::{
    EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

const DOMAIN: &str = "corp.example.test";

fn user(name: &str, mail: Option<&str>) -> User {
    let u = User::new(format!(
        "CN={name},OU=userphoto-test,DC=corp,DC=example,DC=test"
    ))
    .with_sam_account_name(name)
    .with_upn(format!("{name}@{DOMAIN}"))
    .with_display_name(format!("EWS {name}"));
    match mail {
        Some(m) => u.with_mail(m),
        None => u,
    }
}

fn mail(name: &str) -> String {
    format!("{name}@{DOMAIN}")
}

/// An emulator plus a folder directory of users, and the backend over both.
struct Setup {
    emulator: EwsEmulator,
    users: Arc<dyn Directory>,
    _dir: tempfile::TempDir,
}

async fn setup(knobs: EwsKnobs) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = ["ews.user1", "ews.user2", "ews.user3", "ews.user4"];
    let mut users: Vec<User> = names.iter().map(|n| user(n, Some(&mail(n)))).collect();
    users.push(user("ews.nobox", Some(&mail("ews.nobox"))));
    users.push(user("ews.denied", Some(&mail("ews.denied"))));
    users.push(user("ews.nomail", None));
    let folder = FolderDirectory::create(dir.path().join("ad"), users)
        .await
        .expect("folder directory");
    let knobs = knobs
        .with_mailboxes(names.iter().map(|n| mail(n)))
        .with_mailboxes([mail("ews.denied")])
        .with_denied([mail("ews.denied")]);
    let emulator = EwsEmulator::start(knobs).await.expect("emulator");
    Setup {
        emulator,
        users: Arc::new(folder),
        _dir: dir,
    }
}

impl Setup {
    fn builder(&self) -> EwsDirectoryBuilder {
        EwsDirectory::builder()
            .ews_url(self.emulator.ews_url())
            .credentials(DEFAULT_USERNAME, SecretString::from(DEFAULT_PASSWORD))
            .password_source("USERPHOTO_EXCHANGE_PASSWORD")
            .allow_insecure(true)
            .users(self.users.clone())
    }

    fn ews(&self) -> EwsDirectory {
        self.builder().build().expect("build")
    }
}

async fn find(dir: &EwsDirectory, name: &str) -> User {
    dir.find_user(UserKey::SamAccountName, name)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ews_emulator_passes_the_conformance_suite() {
    // NTLM only, as Exchange's EWS virtual directory out of the box.
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm)).await;
    let dir = s.ews();
    assert_eq!(dir.auth(), EwsAuth::Ntlm, "NTLM is the default");
    let caps = dir.capabilities();
    assert!(
        caps.can_read && caps.can_write && !caps.can_delete,
        "{caps:?}"
    );
    assert_eq!(caps.recommended_pixels, 648);
    let flags = SuiteFlags::from_capabilities(caps);
    let scope = TestScope::new(
        UserKey::SamAccountName,
        "ews.",
        [
            "ews.user1",
            "ews.user2",
            "ews.user3",
            "ews.nobox",
            "ews.denied",
        ],
    )
    .and_then(|s| s.with_no_mailbox_user("ews.nobox"))
    .and_then(|s| s.with_denied_user("ews.denied"))
    .expect("scope");
    conformance::run_all_with(&dir, &scope, &flags).await;
    let stats = s.emulator.stats();
    assert!(stats.ntlm_sign_ins >= 1, "{stats:?}");
    assert_eq!(stats.basic_requests, 0, "{stats:?}");
    assert!(
        stats.ntlm_sign_ins * 4 < stats.soap_requests + stats.rest_requests,
        "signed-in connections carry later requests: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ntlm_requests_keep_each_handshake_on_its_connection() {
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm)).await;
    let dir = Arc::new(s.ews());
    let u = find(&dir, "ews.user3").await;
    dir.set_photo(&u, &fixtures::jpeg("ews-concurrent"))
        .await
        .expect("set");
    let reads = (0..24).map(|_| {
        let dir = dir.clone();
        let u = u.clone();
        tokio::spawn(async move { dir.get_photo(&u).await })
    });
    for r in futures::future::join_all(reads).await {
        let lookup = r.expect("join").expect("get under NTLM");
        assert!(matches!(lookup, PhotoLookup::Photo(_)), "{lookup:?}");
    }
    let stats = s.emulator.stats();
    assert!(stats.ntlm_sign_ins >= 1, "{stats:?}");
    assert!(stats.ntlm_sign_ins <= 25, "{stats:?}");
}

#[tokio::test]
async fn a_server_offering_only_negotiate_gets_ntlm_under_that_scheme() {
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Negotiate)).await;
    let dir = s.ews();
    let u = find(&dir, "ews.user1").await;
    let photo = fixtures::jpeg("ews-negotiate");
    dir.set_photo(&u, &photo)
        .await
        .expect("set under Negotiate");
    match dir.get_photo(&u).await.expect("get under Negotiate") {
        PhotoLookup::Photo(p) => assert_eq!(p.digest(), photo.digest()),
        other => panic!("{other:?}"),
    }
    let stats = s.emulator.stats();
    assert!(stats.ntlm_sign_ins >= 1, "{stats:?}");
    // A wrong password is still refused.
    let wrong = s
        .builder()
        .credentials(DEFAULT_USERNAME, SecretString::from("not-the-password"))
        .build()
        .expect("build");
    let e = wrong.server_info().await.expect_err("refused");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
}

#[tokio::test]
async fn basic_works_against_a_basic_server_and_mismatches_are_explained() {
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Basic)).await;
    let basic = s.builder().auth(EwsAuth::Basic).build().expect("build");
    let u = find(&basic, "ews.user4").await;
    let photo = fixtures::jpeg("ews-basic");
    basic.set_photo(&u, &photo).await.expect("set over Basic");
    match basic.get_photo(&u).await.expect("get over Basic") {
        PhotoLookup::Photo(p) => assert_eq!(p.digest(), photo.digest()),
        other => panic!("{other:?}"),
    }
    let stats = s.emulator.stats();
    assert!(stats.basic_requests >= 2, "{stats:?}");
    assert_eq!(stats.ntlm_sign_ins, 0, "{stats:?}");

    // NTLM towards a server that offers only Basic: said, with the fix.
    let e = s.ews().server_info().await.expect_err("no NTLM offered");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("does not offer NTLM") && text.contains("Basic"),
        "{text}"
    );
    assert!(text.contains("auth = \"basic\""), "{text}");

    // Basic towards a server that offers only NTLM: refused, with the fix.
    let t = setup(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm)).await;
    let e = t
        .builder()
        .auth(EwsAuth::Basic)
        .build()
        .expect("build")
        .server_info()
        .await
        .expect_err("Basic refused");
    let text = e.to_string();
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert!(
        text.contains("BASIC") && text.contains("auth = \"ntlm\""),
        "{text}"
    );
    assert!(!text.contains(DEFAULT_PASSWORD), "{text}");
}

#[tokio::test]
async fn a_wrong_ntlm_password_or_account_is_refused_and_explained() {
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm)).await;
    for (user, password) in [
        (DEFAULT_USERNAME, "not-the-password"),
        (r"CORP\someone-else", DEFAULT_PASSWORD),
    ] {
        let wrong = s
            .builder()
            .credentials(user, SecretString::from(password))
            .build()
            .expect("build");
        let e = wrong.server_info().await.expect_err("refused");
        assert!(matches!(e, Error::Unauthenticated { .. }), "{user}: {e:?}");
        let text = e.to_string();
        assert!(text.contains("NTLM") && text.contains(user), "{text}");
        assert!(text.contains("USERPHOTO_EXCHANGE_PASSWORD"), "{text}");
        assert!(!text.contains(password), "{text}");
        let u = find(&wrong, "ews.user1").await;
        assert!(matches!(
            wrong.set_photo(&u, &fixtures::jpeg("refused")).await,
            Err(Error::Unauthenticated { .. })
        ));
    }
    let stats = s.emulator.stats();
    assert_eq!((stats.ntlm_sign_ins, stats.photos_set), (0, 0), "{stats:?}");
    // The right password on the same emulator signs in.
    s.ews().server_info().await.expect("right password");
    assert_eq!(s.emulator.stats().ntlm_sign_ins, 1);
}

#[tokio::test]
async fn a_photo_round_trips_through_set_user_photo_and_rest_get() {
    let s = setup(EwsKnobs::default()).await;
    let dir = s.ews();
    let u = find(&dir, "ews.user2").await;
    assert_eq!(dir.get_photo(&u).await.expect("get"), PhotoLookup::NoPhoto);
    let photo = fixtures::jpeg("ews-hd");
    dir.set_photo(&u, &photo).await.expect("set");
    assert_eq!(
        s.emulator.photo(&mail("ews.user2")).as_deref(),
        Some(photo.bytes())
    );
    match dir.get_photo(&u).await.expect("get") {
        PhotoLookup::Photo(p) => assert_eq!(p.digest(), photo.digest()),
        other => panic!("{other:?}"),
    }
    assert!(
        !dir.set_photo_if_changed(&u, &photo).await.expect("same"),
        "an identical photo is skipped"
    );
    // PNG is not sent: Exchange's user photo is a JPEG.
    let e = dir.set_photo(&u, &fixtures::png()).await.expect_err("png");
    assert!(matches!(e, Error::PhotoRejected { .. }), "{e:?}");
    // A photo removed on the server (Remove-UserPhoto) reads as none.
    s.emulator.remove_photo(&mail("ews.user2"));
    assert_eq!(dir.get_photo(&u).await.expect("get"), PhotoLookup::NoPhoto);
    // Listing is the user directory's.
    let all = dir.collect_users(&UserQuery::all()).await.expect("list");
    assert_eq!(all.len(), 7);
}

#[tokio::test]
async fn removal_is_not_supported_and_names_remove_userphoto() {
    let s = setup(EwsKnobs::default()).await;
    let dir = s.ews();
    let u = find(&dir, "ews.user1").await;
    let e = dir.remove_photo(&u).await.expect_err("no remove in EWS");
    assert!(matches!(e, Error::NotSupported { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("Remove-UserPhoto"), "{text}");
    assert!(!dir.capabilities().can_delete);
}

#[tokio::test]
async fn server_busy_back_off_is_honoured_then_given_up() {
    let s = setup(EwsKnobs::default()).await;
    let dir = s.ews();
    let u = find(&dir, "ews.user3").await;
    s.emulator.set_busy(2, 150);
    let t0 = Instant::now();
    dir.set_photo(&u, &fixtures::jpeg("busy"))
        .await
        .expect("set after two busy answers");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "two back-offs of 150 ms: {waited:?}"
    );
    let st = dir.stats();
    assert_eq!((st.busy, st.backoff_ms), (2, 300));
    assert_eq!(s.emulator.stats().busy_faults, 2);

    // Busy for longer than the retries: Throttled, with the server's hint.
    s.emulator.set_busy(10, 20);
    let e = dir
        .set_photo(&u, &fixtures::jpeg("busy-2"))
        .await
        .expect_err("still busy");
    assert!(
        matches!(e, Error::Throttled { retry_after: Some(d) } if d == Duration::from_millis(20)),
        "{e:?}"
    );
    assert!(e.is_transient());

    // A back-off longer than we are willing to wait: not waited.
    let impatient = s
        .builder()
        .max_backoff(Duration::from_millis(50))
        .build()
        .expect("build");
    s.emulator.set_busy(1, 60_000);
    let t0 = Instant::now();
    let e = impatient
        .set_photo(&u, &fixtures::jpeg("busy-3"))
        .await
        .expect_err("busy");
    assert!(matches!(e, Error::Throttled { .. }), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn exchange_2013_is_told_that_2016_is_required() {
    let s = setup(EwsKnobs::default().exchange_2013(true)).await;
    let dir = s.ews();
    let info = dir.server_info().await.expect("server info");
    assert_eq!((info.major, info.minor), (15, 0));
    assert!(!info.supports_set_user_photo());
    assert!(
        info.product().contains("Exchange 2013"),
        "{}",
        info.product()
    );
    let u = find(&dir, "ews.user1").await;
    let e = dir
        .set_photo(&u, &fixtures::jpeg("2013"))
        .await
        .expect_err("2013 has no SetUserPhoto");
    assert!(matches!(e, Error::NotSupported { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("Exchange 2016 or later is required"),
        "{text}"
    );
    // Reading works on 2013 (REST GetUserPhoto).
    s.emulator.put_photo(
        &mail("ews.user1"),
        fixtures::jpeg("on-2013").bytes().to_vec(),
    );
    assert!(dir.get_photo(&u).await.expect("get").photo().is_some());
}

#[tokio::test]
async fn the_server_probe_reads_server_version_info() {
    let s = setup(EwsKnobs::default()).await;
    let info = s.ews().server_info().await.expect("server info");
    assert_eq!((info.major, info.minor), (15, 1));
    assert!(info.supports_set_user_photo());
    assert!(
        info.product().starts_with("Exchange 2016"),
        "{}",
        info.product()
    );
}

#[tokio::test]
async fn wrong_credentials_plain_http_and_users_without_mail_are_explained() {
    let s = setup(EwsKnobs::default()).await;
    let wrong = s
        .builder()
        .credentials(DEFAULT_USERNAME, SecretString::from("not-the-password"))
        .build()
        .expect("build");
    let e = wrong.server_info().await.expect_err("401");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("USERPHOTO_EXCHANGE_PASSWORD"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
    let u = find(&wrong, "ews.user1").await;
    assert!(matches!(
        wrong.get_photo(&u).await,
        Err(Error::Unauthenticated { .. })
    ));

    let e = s
        .builder()
        .allow_insecure(false)
        .build()
        .expect_err("http without allow_insecure");
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
    assert!(e.to_string().contains("https://"), "{e}");

    let dir = s.ews();
    let nomail = find(&dir, "ews.nomail").await;
    assert_eq!(
        dir.get_photo(&nomail).await.expect("get"),
        PhotoLookup::NoMailbox
    );
    let e = dir
        .set_photo(&nomail, &fixtures::jpeg("nomail"))
        .await
        .expect_err("no mail");
    assert!(matches!(e, Error::Precondition { .. }), "{e:?}");
    assert_eq!(s.emulator.stats().photos_set, 0);
}

#[tokio::test]
async fn an_exchange_2013_server_opens_read_only() {
    let s = setup(EwsKnobs::default().exchange_2013(true)).await;
    let info = s.ews().server_info().await.expect("server info");
    let dir = s.builder().server(info).build().expect("build");
    let caps = dir.capabilities();
    assert!(
        caps.can_read && !caps.can_write && !caps.can_delete,
        "{caps:?}"
    );
    assert_eq!(dir.server().map(|i| i.minor), Some(0));
    // The suite agrees: reads work, writes and removals are NotSupported.
    let scope =
        TestScope::new(UserKey::SamAccountName, "ews.", ["ews.user1", "ews.user2"]).expect("scope");
    conformance::run_all(&dir, &scope).await;
}

#[tokio::test]
async fn the_exchange_section_needs_an_ad_section_for_its_users() {
    let s = setup(EwsKnobs::default()).await;
    let text = format!(
        "[exchange]\news_url = \"{}\"\nusername = 'CORP\\svc-photos'\npassword_env = \"USERPHOTO_TEST_EWS_PASSWORD_UNSET\"\nallow_insecure = true\n",
        s.emulator.ews_url()
    );
    let config =
        userphoto_directory::config::Config::parse(&text, std::path::Path::new("userphoto.toml"))
            .expect("valid configuration");
    let Err(e) = config
        .open(userphoto_directory::config::TargetKind::Exchange)
        .await
    else {
        panic!("[exchange] without [ad] opened");
    };
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
    assert!(e.to_string().contains("[ad]"), "{e}");
}

#[tokio::test]
async fn the_emulator_validates_the_soap_it_receives() {
    let s = setup(EwsKnobs::default().with_auth(EmulatedAuth::Basic)).await;
    let http = reqwest::Client::new();
    let post = |body: String| {
        http.post(s.emulator.ews_url())
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(body)
            .send()
    };
    let soap = "http://schemas.xmlsoap.org/soap/envelope/";
    let types = "http://schemas.microsoft.com/exchange/services/2006/types";
    let messages = "http://schemas.microsoft.com/exchange/services/2006/messages";
    let envelope = |soap_ns: &str, types_ns: &str, op_ns: &str| {
        format!(
            "<s:Envelope xmlns:s=\"{soap_ns}\" xmlns:t=\"{types_ns}\" xmlns:m=\"{op_ns}\"><s:Header><t:RequestServerVersion Version=\"Exchange2016\"/></s:Header>\
<s:Body><m:GetUserPhoto><m:Email>{}</m:Email><m:SizeRequested>HR648x648</m:SizeRequested></m:GetUserPhoto></s:Body></s:Envelope>",
            mail("ews.user1")
        )
    };
    let ok = post(envelope(soap, types, messages)).await.expect("send");
    assert_eq!(ok.status(), 200);
    let text = ok.text().await.expect("body");
    assert!(
        text.contains("<ResponseCode>NoError</ResponseCode>"),
        "{text}"
    );
    for (body, why) in [
        (
            envelope("urn:soap12", types, messages),
            "SOAP 1.1 namespace",
        ),
        (
            envelope(soap, "urn:other", messages),
            "RequestServerVersion",
        ),
        (envelope(soap, types, "urn:other"), "invalid child element"),
        (
            "<s:Envelope xmlns:s=\"x\"><unclosed>".to_owned(),
            "well-formed",
        ),
        (
            format!(
                "<!DOCTYPE s:Envelope [<!ENTITY a \"aaaaaaaaaa\">]>{}",
                envelope(soap, types, messages).replace("<m:Email>", "<m:Email>&a;")
            ),
            "DTD",
        ),
    ] {
        let r = post(body).await.expect("send");
        assert_eq!(r.status(), 500, "{why}");
        let text = r.text().await.expect("body");
        assert!(
            text.contains("ErrorSchemaValidation") && text.contains(why),
            "{why}: {text}"
        );
    }
}

/// A server that answers every request with an endless body (a wrong URL,
/// or a hostile server) is not read whole: the request fails with a clear
/// message once the answer passes the limit, and memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_refused_not_read_whole() {
    let s = setup(EwsKnobs::default()).await;
    let server = userphoto_testkit::endless_http::EndlessHttp::start("text/xml");
    let user = s
        .users
        .find_user(UserKey::SamAccountName, "ews.user1")
        .await
        .expect("user");
    // Both transports: reqwest (Basic) and our own connections (NTLM).
    for auth in [EwsAuth::Basic, EwsAuth::Ntlm] {
        let dir = s
            .builder()
            .ews_url(format!("{}/EWS/Exchange.asmx", server.url()))
            .auth(auth)
            .build()
            .expect("build");
        let err = dir
            .get_photo(&user)
            .await
            .expect_err("an endless answer is an error");
        let text = err.to_string();
        assert!(text.contains("larger than 32 MiB"), "{auth:?}: {text}");
        assert!(text.contains("ews_url"), "{auth:?}: {text}");
    }
}
