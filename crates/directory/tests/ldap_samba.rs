//! The LDAP backend against a real Samba AD DC (started by
//! `scripts/test-servers up`; these tests FAIL, with that instruction, when
//! it is not running).
//!
//! What they prove: the conformance suite passes scoped to the test OU,
//! bound as the least-privilege service account; every seeded user lists,
//! page by page with pages of at most 1,000; a name that is a filter
//! fragment cannot widen a search; wrong passwords and account states give
//! AD's explained sub-codes; an untrusted certificate and an unencrypted
//! URL are refused; an oversized photo never leaves the machine; a dropped
//! connection is reopened once.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod ldap_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use secrecy::SecretString;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use userphoto_directory::conformance::{self, fixtures, SuiteFlags, TestScope};
use userphoto_directory::ldap::{LdapConfig, LdapDirectory};
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, FindResult, PhotoLookup, UserKey, UserQuery,
};

use ldap_common::{connect, AdTestEnv};

/// The user filter for conformance runs: AD's default minus the seeded
/// `filter.inject`, whose display name is the very text
/// (`*)(objectClass=*`) the suite expects to match nobody. (The injection
/// test below uses that user with the default filter.)
const SUITE_USER_FILTER: &str =
    "(&(objectCategory=person)(objectClass=user)(!(sAMAccountName=filter.inject)))";

/// Regular seeded users the suite may write (`user0001` … `user0009`).
fn regular_scope(env: &AdTestEnv) -> TestScope {
    let users: Vec<String> = (1..=9).map(|n| format!("user{n:04}")).collect();
    TestScope::new(UserKey::SamAccountName, "user000", users)
        .map(|s| s.with_base(env.test_ou.clone()))
        .expect("scope")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_passes_the_conformance_suite_as_the_service_account() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc().user_filter(SUITE_USER_FILTER)).await;
    let flags = SuiteFlags::from_capabilities(dir.capabilities());
    assert_eq!(
        flags,
        SuiteFlags::read_write(UserKey::ALL),
        "AD supports every key"
    );
    conformance::run_all_with(&dir, &regular_scope(&env), &flags).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_passes_the_suite_with_a_shared_display_name() {
    // alex.taylor1 and alex.taylor2 share "Alex Taylor": ambiguity is checked.
    let env = AdTestEnv::ad();
    let dir: Arc<dyn Directory> =
        Arc::new(connect(env.svc_in_test_ou().user_filter(SUITE_USER_FILTER)).await);
    let scope = TestScope::new(
        UserKey::SamAccountName,
        "alex.taylor",
        ["alex.taylor1", "alex.taylor2"],
    )
    .map(|s| s.with_base(env.test_ou.clone()))
    .expect("scope");
    conformance::run_all(&dir, &scope).await;
}

#[tokio::test]
async fn every_seeded_user_is_listed_in_pages_of_at_most_1000() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc_in_test_ou()).await;
    let before = dir.stats();
    let mut n = 0usize;
    let mut users = dir.list_users(&UserQuery::all());
    while let Some(user) = users.next().await {
        let user = user.unwrap_or_else(|e| panic!("listing failed after {n} users: {e}"));
        assert!(user.sam_account_name.is_some(), "{user:?}");
        n += 1;
    }
    drop(users);
    assert_eq!(n, env.user_count, "every user below the test OU");
    assert!(n >= 2_500);
    let after = dir.stats();
    let pages = after.pages - before.pages;
    assert!(
        pages >= 3,
        "{n} users in pages of 1,000 take at least 3 pages, got {pages}"
    );
    assert_eq!(after.largest_page_size_sent, 1_000);
    assert!(
        after.largest_page_received <= 1_000,
        "{}",
        after.largest_page_received
    );
    assert_eq!(
        after.search_requests - before.search_requests,
        after.paged_requests - before.paged_requests,
        "every listing request carries the paged-results control"
    );
}

#[tokio::test]
async fn paging_follows_small_pages_and_never_asks_for_more_than_1000() {
    let env = AdTestEnv::ad();
    // A small page: the server's answers prove the control reached it (an
    // unpaged search here returns everything in one answer).
    let small = connect(env.svc_in_test_ou().page_size(250)).await;
    let n = small
        .list_users(&UserQuery::all())
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .expect("list");
    let s = small.stats();
    assert_eq!(n, env.user_count);
    let expected_pages = n.div_ceil(250) as u64;
    assert!(
        s.pages >= expected_pages,
        "{n} users in pages of 250: {} pages",
        s.pages
    );
    assert_eq!(s.largest_page_received, 250, "each page is at most 250");
    assert_eq!(s.largest_page_size_sent, 250);

    // Asking for more than 1,000 is lowered to 1,000.
    let big = connect(env.svc_in_test_ou().page_size(5_000)).await;
    let n = big
        .list_users(&UserQuery::all())
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .expect("list");
    let s = big.stats();
    assert_eq!(n, env.user_count);
    assert_eq!(s.largest_page_size_sent, 1_000);
    assert!(s.largest_page_received <= 1_000);
    assert!(s.pages >= 3, "{}", s.pages);
}

#[tokio::test]
async fn the_whole_domain_lists_and_a_limit_stops_early() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc()).await;
    let all = dir.collect_users(&UserQuery::all()).await.expect("list");
    assert!(all.len() > env.user_count, "administrator, svc-photos… too");
    let some = dir
        .collect_users(&UserQuery::all().with_limit(5))
        .await
        .expect("limit");
    assert_eq!(some.len(), 5);
    // The connection is still good after an abandoned search.
    let again = dir
        .collect_users(&UserQuery::search("user0001"))
        .await
        .expect("after abandon");
    assert_eq!(again.len(), 1, "{again:?}");
}

#[tokio::test]
async fn a_filter_fragment_as_a_name_cannot_widen_a_search() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc()).await;
    let evil = "*)(objectClass=*";

    // The one user whose display name is literally that text.
    let by_display = dir
        .find_user(UserKey::DisplayName, evil)
        .await
        .expect("found");
    assert_eq!(
        by_display.sam_account_name.as_deref(),
        Some("filter.inject")
    );

    // As a logon name, a mail, an id: nobody.
    for key in [
        UserKey::SamAccountName,
        UserKey::Mail,
        UserKey::Upn,
        UserKey::Id,
    ] {
        let r = dir
            .find_users(key, &[evil.to_owned(), "*".to_owned()])
            .await
            .expect("lookup");
        assert_eq!(r, vec![FindResult::NotFound, FindResult::NotFound], "{key}");
    }

    // As a search prefix: only that user, not the directory.
    let found = dir
        .collect_users(&UserQuery::search(evil))
        .await
        .expect("search");
    let names: Vec<_> = found
        .iter()
        .map(|u| u.sam_account_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["filter.inject"]);
    // A lone `*` is a literal too: it finds the names that start with `*`.
    let star = dir
        .collect_users(&UserQuery::search("*"))
        .await
        .expect("search");
    assert_eq!(star.len(), 1, "a literal * prefix: {star:?}");
    assert!(star[0].same_as(&by_display));

    // Parentheses in a real name are escaped, and match.
    let jane = dir
        .find_user(UserKey::SamAccountName, "JANE.DOE(EXT)")
        .await
        .expect("jane");
    assert_eq!(jane.display_name.as_deref(), Some("Jane Doe (External)"));
}

#[tokio::test]
async fn awkward_names_resolve() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc_in_test_ou()).await;
    // Non-ASCII, given in NFD as macOS writes file names, and upper case.
    let nfd = "Jose\u{301}.Mu\u{308}ller";
    let jose = dir
        .find_user(UserKey::SamAccountName, nfd)
        .await
        .expect("josé");
    assert_eq!(jose.sam_account_name.as_deref(), Some("José.Müller"));
    let zoe = dir
        .find_user(UserKey::SamAccountName, "ZOË.ÅNGSTRÖM")
        .await
        .expect("zoë");
    assert_eq!(zoe.mail.as_deref(), Some("zoe.angstrom@corp.example.test"));
    // The escaped comma in a DN: found by its id, and by that id only.
    let anna = dir
        .find_user(UserKey::SamAccountName, "anna.smith")
        .await
        .expect("anna");
    assert_eq!(anna.display_name.as_deref(), Some("Smith, Anna"));
    let by_id = dir.find_user(UserKey::Id, &anna.id).await.expect("by id");
    assert!(by_id.same_as(&anna));
    // Written with another escape, the same DN.
    let other_escape = anna.id.replace(r"\,", r"\2C");
    assert!(dir
        .find_user(UserKey::Id, &other_escape)
        .await
        .is_ok_and(|u| u.same_as(&anna)));
    // The disabled user, the user without mail.
    let disabled = dir
        .find_user(UserKey::SamAccountName, "disabled.user")
        .await
        .expect("disabled");
    assert_eq!(disabled.enabled, Some(false));
    let no_mail = dir
        .find_user(UserKey::SamAccountName, "no.mail")
        .await
        .expect("no.mail");
    assert_eq!((no_mail.mail, no_mail.enabled), (None, Some(true)));
    // Two users, one display name.
    match dir.find_user(UserKey::DisplayName, "alex taylor").await {
        Err(Error::Ambiguous { candidates, .. }) => assert_eq!(candidates.len(), 2),
        other => panic!("{other:?}"),
    }
    // A DN outside the base is nobody, even if it exists.
    let r = dir
        .find_users(UserKey::Id, std::slice::from_ref(&env.svc_dn))
        .await
        .expect("outside");
    assert_eq!(r, vec![FindResult::NotFound]);
}

#[tokio::test]
async fn lookups_are_batched_in_or_filters() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc_in_test_ou()).await;
    let names: Vec<String> = (1_001..=1_250)
        .map(|n| {
            let name = format!("user{n:04}");
            if n % 2 == 0 {
                name.to_uppercase()
            } else {
                name
            }
        })
        .chain(["nobody.here".to_owned(), "user1001".to_owned()])
        .collect();
    let before = dir.stats().search_requests;
    let results = dir
        .find_users(UserKey::SamAccountName, &names)
        .await
        .expect("batch");
    let searches = dir.stats().search_requests - before;
    assert_eq!(results.len(), names.len());
    assert!(
        results[..250].iter().all(|r| r.user().is_some()),
        "all 250 found"
    );
    assert_eq!(results[250], FindResult::NotFound);
    assert!(results[251].user().is_some(), "duplicates answered again");
    assert_eq!(
        searches, 3,
        "251 distinct names in OR-filters of 100 are 3 searches"
    );
    // By employee id and mail too.
    let r = dir
        .find_users(
            UserKey::EmployeeId,
            &["101001".to_owned(), "900005".to_owned()],
        )
        .await
        .expect("employee ids");
    assert_eq!(
        r.iter()
            .map(|r| r.user().and_then(|u| u.sam_account_name.clone()))
            .collect::<Vec<_>>(),
        [Some("user1001".to_owned()), Some("anna.smith".to_owned())]
    );
}

#[tokio::test]
async fn a_wrong_password_is_explained() {
    let env = AdTestEnv::ad();
    let err = env
        .svc()
        .password(SecretString::from("not-the-password".to_owned()))
        .build()
        .await
        .expect_err("wrong password");
    let text = err.to_string();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(text.contains("wrong password"), "{text}");
    assert!(text.contains("52e"), "{text}");
    assert!(text.contains("USERPHOTO_TEST_AD_SVC_PASSWORD"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test]
async fn account_states_are_explained_with_ad_sub_codes() {
    let env = AdTestEnv::ad();
    for (user, code, words) in [
        ("disabled.user", "533", "disabled"),
        ("must.change", "773", "must be changed"),
        ("expired.account", "701", "account has expired"),
    ] {
        let err = LdapDirectory::builder()
            .url(&env.url)
            .base_dn(&env.base_dn)
            .ca_file(&env.ca_file)
            .bind_dn(format!("{user}@corp.example.test"))
            .password(SecretString::from(env.user_password.clone()))
            .build()
            .await
            .expect_err(user);
        let text = err.to_string();
        assert!(
            matches!(err, Error::Unauthenticated { .. }),
            "{user}: {err:?}"
        );
        assert!(
            text.contains(code) && text.contains(words),
            "{user}: {text}"
        );
    }
    // The same user with the right state binds fine, by UPN and by DN.
    connect(
        LdapDirectory::builder()
            .url(&env.url)
            .base_dn(&env.base_dn)
            .ca_file(&env.ca_file)
            .bind_dn("John.Smith@corp.example.test")
            .password(SecretString::from(env.user_password.clone())),
    )
    .await;
    connect(env.admin()).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_tls_error() {
    let env = AdTestEnv::ad();
    let err = LdapDirectory::builder()
        .url(&env.url)
        .base_dn(&env.base_dn)
        .bind_dn(&env.svc_upn)
        .password(SecretString::from(env.svc_password.clone()))
        .build()
        .await
        .expect_err("no ca_file: the test CA is not trusted");
    let text = err.to_string();
    assert!(text.contains("not trusted"), "{text}");
    assert!(text.contains("ca_file"), "{text}");
    assert!(!err.is_transient(), "retrying will not help: {text}");
}

#[tokio::test]
async fn unencrypted_ldap_is_refused_before_connecting() {
    // A listener that records whether anyone connected.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let touched = Arc::new(AtomicBool::new(false));
    let flag = touched.clone();
    let watcher = tokio::spawn(async move {
        if listener.accept().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let err = LdapDirectory::builder()
        .url(format!("ldap://127.0.0.1:{port}"))
        .base_dn("DC=corp,DC=example,DC=test")
        .starttls(false)
        .bind_dn("svc-photos@corp.example.test")
        .password(SecretString::from("secret".to_owned()))
        .build()
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("without TLS") && text.contains("allow_insecure"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!touched.load(Ordering::SeqCst), "nothing may be sent");
    watcher.abort();
}

#[tokio::test]
async fn starttls_works_and_allow_insecure_meets_samba_s_refusal() {
    let env = AdTestEnv::ad();
    let starttls = connect(
        env.svc_in_test_ou()
            .url("ldap://localhost:389")
            .starttls(true),
    )
    .await;
    let one = starttls
        .collect_users(&UserQuery::search("user0002"))
        .await
        .expect("search over StartTLS");
    assert_eq!(one.len(), 1);

    // With allow_insecure we do send a plain bind (after a loud warning);
    // Samba refuses it, and the message says what to do.
    let err = env
        .svc()
        .url("ldap://localhost:389")
        .starttls(false)
        .allow_insecure(true)
        .build()
        .await
        .expect_err("samba refuses simple binds without TLS");
    let text = err.to_string();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(text.contains("ldaps://"), "{text}");
}

#[tokio::test]
async fn an_oversized_photo_is_refused_before_sending() {
    let env = AdTestEnv::ad();
    let dir = connect(env.svc_in_test_ou()).await;
    assert_eq!(dir.capabilities().max_bytes, 102_400);
    let user = dir
        .find_user(UserKey::SamAccountName, "user0100")
        .await
        .expect("user0100");
    let before = dir.stats().modify_requests;
    let too_big = fixtures::jpeg_of_size("too big for AD", 102_401);
    match dir.set_photo(&user, &too_big).await {
        Err(Error::PhotoRejected { reason }) => {
            assert!(reason.contains("102400"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dir.stats().modify_requests, before, "nothing was sent");
}

#[tokio::test]
async fn the_service_account_may_write_only_thumbnail_photo() {
    let env = AdTestEnv::ad();
    // jpegPhoto is not granted to svc-photos: not accessible, with the grant
    // to ask for.
    let dir = connect(env.svc_in_test_ou().photo_attribute("jpegPhoto")).await;
    let user = dir
        .find_user(UserKey::SamAccountName, "user0101")
        .await
        .expect("user0101");
    let err = dir
        .set_photo(&user, &fixtures::jpeg("denied"))
        .await
        .expect_err("denied");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "grant {} Write jpegPhoto on {}",
            env.svc_upn, env.test_ou
        )),
        "{text}"
    );

    // thumbnailPhoto outside the test OU (the Administrator): refused too.
    let domain = connect(env.svc()).await;
    let admin = domain
        .find_user(UserKey::SamAccountName, "Administrator")
        .await
        .expect("administrator");
    let err = domain
        .set_photo(&admin, &fixtures::jpeg("denied"))
        .await
        .expect_err("outside the OU");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        domain.get_photo(&admin).await.expect("read"),
        PhotoLookup::NoPhoto
    );
}

#[tokio::test]
async fn photos_are_never_written_outside_the_base_dn() {
    let env = AdTestEnv::ad();
    let admin_dir = connect(env.admin()).await;
    let outside = admin_dir
        .find_user(UserKey::SamAccountName, "svc-photos")
        .await
        .expect("svc-photos");
    // A directory scoped to the test OU refuses that user before sending.
    let scoped = connect(env.admin().base_dn(&env.test_ou)).await;
    let before = scoped.stats().modify_requests;
    let err = scoped
        .set_photo(&outside, &fixtures::jpeg("outside"))
        .await
        .expect_err("outside the base");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(scoped.stats().modify_requests, before);
}

#[tokio::test]
async fn display_and_debug_name_the_target_without_the_password() {
    let env = AdTestEnv::ad();
    let dir = env.svc().build_lazy().expect("valid");
    assert_eq!(dir.to_string(), format!("{} ({})", env.url, env.base_dn));
    let debug = format!("{dir:?} {:?}", env.svc());
    assert!(!debug.contains(&env.svc_password), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}

#[tokio::test]
async fn a_config_section_connects() {
    let env = AdTestEnv::ad();
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("svc.pw");
    std::fs::write(&pw, format!("{}\n", env.svc_password)).expect("write");
    let mut config = LdapConfig::default().with_server(&env.url, &env.test_ou);
    config.bind_dn = Some(env.svc_upn.clone());
    config.password_file = Some(pw);
    config.ca_file = Some(env.ca_file.clone());
    config.page_size = Some(500);
    let ad = config.connect().await.expect("connect from config");
    assert_eq!(ad.capabilities().recommended_pixels, 96);
    assert_eq!(ad.photo_attribute(), "thumbnailPhoto");
    let n = ad
        .list_users(&UserQuery::all())
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .expect("list");
    assert_eq!(n, env.user_count);
    assert_eq!(ad.stats().largest_page_size_sent, 500);
}

/// A TCP proxy in front of the DC whose connections can be cut.
struct Proxy {
    port: u16,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let l = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        let _ = server.shutdown().await;
                    }
                });
                l.lock().await.push(link);
            }
        });
        Proxy {
            port,
            links,
            accept,
        }
    }

    /// Stops accepting and cuts every open connection.
    async fn stop(&self) {
        self.accept.abort();
        self.cut().await;
    }

    /// Cuts every open connection (both sockets are dropped).
    async fn cut(&self) {
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test]
async fn a_dropped_connection_is_reopened_once() {
    let env = AdTestEnv::ad();
    let proxy = Proxy::start(env.ldaps_addr()).await;
    let dir = connect(
        env.svc_in_test_ou()
            .url(format!("ldaps://localhost:{}", proxy.port))
            .connections(1),
    )
    .await;
    let user = dir
        .find_user(UserKey::SamAccountName, "user0102")
        .await
        .expect("before the cut");
    assert_eq!(dir.stats().connections, 1);

    proxy.cut().await;
    let again = dir
        .find_user(UserKey::SamAccountName, "user0102")
        .await
        .expect("after the cut: reconnected");
    assert!(again.same_as(&user));
    let s = dir.stats();
    assert_eq!(s.connections, 2, "{s:?}");
    assert_eq!(s.reconnects, 1, "{s:?}");

    // With the server gone for good, the error is transient and says so.
    proxy.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = dir
        .find_user(UserKey::SamAccountName, "user0102")
        .await
        .expect_err("no server");
    assert!(err.is_transient(), "{err:?}");
}
