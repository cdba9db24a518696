//! The graph backend under the conditions a real tenant shows at scale:
//! 2,500 users over many pages, random 429s and 503s, a throttle, tokens
//! that expire or are revoked mid-run, and the refusals (403, 401) whose
//! messages must tell the admin what to do.

mod graph_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use graph_common::{builder, directory, jpeg, retrying, scoped_knobs, start};
use secrecy::SecretString;
use userphoto_directory::graph::{
    CertificateCredential, GraphCredential, GraphDirectory, RetryConfig,
};
use userphoto_directory::{Directory, DirectoryExt as _, Error, User, UserKey, UserQuery};
use userphoto_emulators::graph::{Knobs, UNREGISTERED_PEM};
use userphoto_testkit::endless_http::EndlessHttp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_2500_users_across_pages() {
    let emulator = start(Knobs::default().with_users(2_500).with_page_size(100)).await;
    let dir = directory(&emulator);
    let users: Vec<User> = dir.collect_users(&UserQuery::all()).await.expect("listing");
    assert_eq!(users.len(), 2_500);
    let ids: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), 2_500, "each user once");
    assert_eq!(emulator.stats().requests, 25, "25 pages of 100");
    let last = users
        .iter()
        .find(|u| u.alias.as_deref() == Some("emu02499"));
    let last = last.expect("the last user");
    assert_eq!(last.upn.as_deref(), Some("emu02499@contoso.test"));
    assert_eq!(last.sam_account_name.as_deref(), Some("emu02499"));
    assert_eq!(last.employee_id.as_deref(), Some("E02499"));

    // Streamed: the first user arrives after one page, not 25.
    let emulator = start(Knobs::default().with_users(2_500).with_page_size(100)).await;
    let dir = directory(&emulator);
    let mut stream = dir.list_users(&UserQuery::all());
    stream.next().await.expect("a user").expect("ok");
    assert_eq!(emulator.stats().requests, 1, "one page fetched so far");
    drop(stream);

    // A search and a limit.
    let found = dir
        .collect_users(&UserQuery::search("EMU0249"))
        .await
        .expect("search");
    assert_eq!(found.len(), 10);
    let limited = dir
        .collect_users(&UserQuery::all().with_limit(1_234))
        .await
        .expect("limit");
    assert_eq!(limited.len(), 1_234);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_429s_and_503s_every_write_lands_exactly_once() {
    let knobs = Knobs::default()
        .with_users(300)
        .with_faults(0.10, 0.05, Duration::ZERO);
    let emulator = start(knobs).await;
    let dir = retrying(
        &emulator,
        Duration::from_millis(2),
        Duration::from_millis(50),
        20,
    );
    let users = dir.collect_users(&UserQuery::all()).await.expect("listing");
    assert_eq!(users.len(), 300);
    let dir = &dir;
    let results: Vec<Result<(), Error>> = futures::stream::iter(&users)
        .map(|u| async move { dir.set_photo(u, &jpeg(&u.id)).await })
        .buffer_unordered(8)
        .collect()
        .await;
    let failed: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "failed writes: {failed:?}");
    let stats = emulator.stats();
    assert!(stats.injected_429 > 10, "{stats:?}");
    assert!(stats.injected_503 > 5, "{stats:?}");
    assert_eq!(stats.writes, 300, "{stats:?}");
    for u in &users {
        assert_eq!(emulator.writes_for(&u.id), 1, "{u} written once");
        assert_eq!(
            emulator.stored_photo(&u.id),
            Some(jpeg(&u.id).bytes().to_vec())
        );
    }
    assert!(dir.throttled_count() >= stats.injected_429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    windows,
    ignore = "timing: needs the client to outpace 100 requests/s; the Windows debug build under Wine does not, so the emulator's bucket never fills"
)]
async fn a_throttled_tenant_is_slowed_by_one_shared_limiter() {
    let knobs = Knobs::default().with_users(60).with_throttle(100.0, 10.0);
    let emulator = start(knobs).await;
    // Two directories of the same app and tenant share one limiter.
    let a = Arc::new(builder(&emulator).build().expect("a"));
    let b = Arc::new(builder(&emulator).build().expect("b"));
    let users = a.collect_users(&UserQuery::all()).await.expect("listing");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, u) in users.into_iter().enumerate() {
        let dir = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            dir.set_photo(&u, &jpeg(&u.id)).await.map(|()| u.id)
        }));
    }
    for t in tasks {
        let id = t.await.expect("task").expect("written");
        assert_eq!(emulator.writes_for(&id), 1);
    }
    let stats = emulator.stats();
    assert_eq!(stats.writes, 60);
    assert!(stats.throttled > 0, "the bucket throttled: {stats:?}");
    // 61 requests at 100/s with 10 saved up take about half a second.
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let knobs = Knobs::default()
        .with_throttle(1.0, 1.0)
        .with_retry_after_as_date();
    let emulator = start(knobs).await;
    let dir = directory(&emulator);
    let start = Instant::now();
    dir.find_user(UserKey::Alias, "emu00001")
        .await
        .expect("first");
    dir.find_user(UserKey::Alias, "emu00002")
        .await
        .expect("second, after waiting");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert!(emulator.stats().throttled >= 1);
}

#[tokio::test]
async fn retries_are_bounded_by_count_and_time() {
    let knobs = Knobs::default().with_faults(0.0, 1.0, Duration::ZERO);
    let emulator = start(knobs).await;
    let dir = retrying(
        &emulator,
        Duration::from_millis(1),
        Duration::from_millis(5),
        3,
    );
    let e = dir
        .find_user(UserKey::Alias, "emu00001")
        .await
        .expect_err("never succeeds");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(emulator.stats().requests, 4, "one try and three retries");

    let dir = builder(&emulator)
        .retry(
            RetryConfig::default()
                .with_backoff(Duration::from_millis(100), Duration::from_millis(100))
                .with_max_retries(1_000)
                .with_retry_timeout(Duration::from_millis(350)),
        )
        .build()
        .expect("builds");
    let start = Instant::now();
    let e = dir
        .find_user(UserKey::Alias, "emu00001")
        .await
        .expect_err("gives up");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    let knobs = Knobs::default().with_token_lifetime(Duration::from_secs(2));
    let emulator = start(knobs).await;
    let dir = directory(&emulator);
    let user = dir
        .find_user(UserKey::Alias, "emu00003")
        .await
        .expect("user");
    let deadline = Instant::now() + Duration::from_millis(4_500);
    let mut n = 0;
    while Instant::now() < deadline {
        dir.set_photo(&user, &jpeg(&format!("v{n}")))
            .await
            .expect("written");
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = emulator.stats();
    assert!(dir.sign_ins() >= 3, "renewed: {} sign-ins", dir.sign_ins());
    assert_eq!(
        stats.unauthorized, 0,
        "never sent an expired token: {stats:?}"
    );
    assert_eq!(emulator.writes_for(&user.id), n);
}

#[tokio::test]
async fn a_revoked_token_is_replaced_transparently() {
    let emulator = start(Knobs::default()).await;
    let dir = directory(&emulator);
    let user = dir
        .find_user(UserKey::Alias, "emu00004")
        .await
        .expect("user");
    assert_eq!(dir.sign_ins(), 1);
    emulator.revoke_tokens();
    dir.set_photo(&user, &jpeg("after revoke"))
        .await
        .expect("written");
    assert_eq!(dir.sign_ins(), 2, "signed in again");
    let stats = emulator.stats();
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
    assert_eq!(emulator.writes_for(&user.id), 1);
}

#[tokio::test]
async fn a_403_names_the_permission_to_grant() {
    let emulator = start(scoped_knobs()).await;
    let dir = directory(&emulator);
    let locked = dir
        .find_user(UserKey::Alias, "cf-locked")
        .await
        .expect("user");
    let e = dir
        .set_photo(&locked, &jpeg("x"))
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
    assert!(text.contains("ProfilePhoto.ReadWrite.All"), "{text}");
    assert!(text.contains("User.ReadWrite.All"), "{text}");
    assert!(text.contains("admin consent"), "{text}");
    assert!(text.contains("cf locked"), "names the user: {text}");
    let e = dir.remove_photo(&locked).await.expect_err("refused");
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
}

async fn sign_in_error(dir: GraphDirectory) -> String {
    let e = dir.sign_in().await.expect_err("refused");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert!(!e.is_transient());
    e.to_string()
}

#[tokio::test]
async fn a_401_explains_the_aadsts_code() {
    let emulator = start(Knobs::default()).await;
    let secret = "wrong-secret-value-1234";
    let text = sign_in_error(
        builder(&emulator)
            .credential(GraphCredential::Secret(SecretString::from(secret)))
            .build()
            .expect("builds"),
    )
    .await;
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("the client secret is wrong"), "{text}");
    assert!(text.contains("Value (not its Secret ID)"), "{text}");
    assert!(!text.contains(secret), "never prints the secret: {text}");

    let cert = CertificateCredential::from_pem(UNREGISTERED_PEM.as_bytes(), "test").expect("pem");
    let text = sign_in_error(
        builder(&emulator)
            .credential(GraphCredential::Certificate(cert))
            .build()
            .expect("builds"),
    )
    .await;
    assert!(text.contains("AADSTS700027"), "{text}");
    assert!(text.contains("upload the certificate"), "{text}");

    let text = sign_in_error(
        GraphDirectory::builder(emulator.tenant_id(), "99999999-0000-0000-0000-000000000000")
            .graph_url(emulator.graph_url())
            .login_url(emulator.login_url())
            .credential(GraphCredential::Secret(SecretString::from("x")))
            .build()
            .expect("builds"),
    )
    .await;
    assert!(text.contains("AADSTS700016"), "{text}");
    assert!(text.contains("check client_id"), "{text}");

    let text = sign_in_error(
        GraphDirectory::builder("00000000-dead-beef-0000-000000000000", emulator.client_id())
            .graph_url(emulator.graph_url())
            .login_url(emulator.login_url())
            .credential(GraphCredential::Secret(SecretString::from("x")))
            .build()
            .expect("builds"),
    )
    .await;
    assert!(text.contains("AADSTS90002"), "{text}");
    assert!(text.contains("check tenant_id"), "{text}");
}

#[tokio::test]
async fn certificate_files_are_checked() {
    let e = CertificateCredential::from_pem(b"not pem at all", "[m365] certificate_file x.pem")
        .expect_err("no certificate");
    assert!(e.to_string().contains("certificate_file x.pem"), "{e}");
    let cert_only = userphoto_emulators::graph::TEST_APP_CERT;
    let e = CertificateCredential::from_pem(cert_only.as_bytes(), "c").expect_err("no key");
    assert!(e.to_string().contains("PRIVATE KEY"), "{e}");
    let ok = graph_common::certificate();
    assert!(
        format!("{ok:?}").contains("x5t"),
        "Debug shows the thumbprint only"
    );
}

#[tokio::test]
async fn users_without_a_mailbox_and_unknown_users() {
    let emulator = start(scoped_knobs()).await;
    let dir = directory(&emulator);
    let nomail = dir
        .find_user(UserKey::Alias, "cf-nomail")
        .await
        .expect("user");
    let e = dir
        .set_photo(&nomail, &jpeg("x"))
        .await
        .expect_err("no mailbox");
    assert!(e.to_string().contains("no mailbox"), "{e}");
    let ghost = User::new("20000000-0000-4000-8000-000000000000");
    let e = dir
        .set_photo(&ghost, &jpeg("x"))
        .await
        .expect_err("no such user");
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    let e = dir.get_photo(&ghost).await.expect_err("no such user");
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn size_variants_and_graph_shaped_errors() {
    let emulator = start(Knobs::default()).await;
    let dir = directory(&emulator);
    let user = dir
        .find_user(UserKey::Alias, "emu00002")
        .await
        .expect("user");
    let photo = jpeg("sizes");
    dir.set_photo(&user, &photo).await.expect("written");
    for size in [48, 96, 648] {
        let got = dir.get_photo_sized(&user, size).await.expect("read");
        assert_eq!(got.digest(), Some(photo.digest()), "{size}");
    }
    assert_eq!(
        dir.get_photo_sized(&user, 50).await.expect("read"),
        userphoto_directory::PhotoLookup::NoPhoto,
        "an undocumented size has no photo"
    );

    // The emulator answers in Graph's error shape.
    let http = reqwest::Client::new();
    let url = format!("{}/v1.0/users/{}/photo", emulator.graph_url(), user.id);
    let answer = http.get(&url).send().await.expect("answer");
    assert_eq!(answer.status().as_u16(), 401);
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["message"].is_string());
    assert!(body["error"]["innerError"]["request-id"].is_string());
}

/// An endless answer from the Graph URL or the login URL is not read whole:
/// the request fails at once (no retries) with a message naming the
/// setting to check, and memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_refused_not_read_whole() {
    let emulator = start(Knobs::default()).await;
    let user = directory(&emulator)
        .find_user(UserKey::Alias, "emu00003")
        .await
        .expect("user");
    let server = EndlessHttp::start("application/json");
    let url = server.url();

    let dir = builder(&emulator).graph_url(&url).build().expect("builds");
    let err = dir.get_photo(&user).await.expect_err("an endless answer");
    let text = err.to_string();
    assert!(text.contains("larger than 32 MiB"), "{text}");
    assert!(text.contains("graph_url"), "{text}");
    assert_eq!(dir.requests_sent(), 1, "refused without retrying");

    let dir = builder(&emulator).login_url(&url).build().expect("builds");
    let text = dir.get_photo(&user).await.expect_err("endless").to_string();
    assert!(text.contains("larger than 32 MiB"), "{text}");
    assert!(text.contains("login_url"), "{text}");
}
