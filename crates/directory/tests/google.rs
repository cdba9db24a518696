//! The google backend against the Google Workspace emulator: the
//! conformance suite, sign-in failures and what each says to fix, quota
//! and 5xx retries without repeated writes, paging, "replace replaces"
//! with a self-set photo, and the emulator's strict checks (each fails
//! when the client breaks the rule).

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use userphoto_directory::conformance::{self, SuiteFlags, TestScope};
use userphoto_directory::google::{GoogleBuilder, GoogleDirectory, ServiceAccountKey};
use userphoto_directory::graph::RetryConfig;
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, Photo, PhotoLookup, UserKey, UserQuery,
};
use userphoto_emulators::google::{
    unknown_key_json, GoogleEmulator, GoogleUser, Knobs, DEFAULT_ADMIN, DEFAULT_NON_ADMIN,
    SERVICE_ACCOUNT_CLIENT_ID, USER_SCOPE,
};

const IN_SCOPE: [&str; 4] = ["cf-alice", "cf-bob", "cf-carol", "cf-dave"];

fn named(id: &str, local: &str, given: &str, family: &str) -> GoogleUser {
    let mut u = GoogleUser::new(id, format!("{local}@example.test"));
    u.given_name = given.to_owned();
    u.family_name = family.to_owned();
    u
}

fn scoped_knobs() -> Knobs {
    Knobs::default()
        .with_users(5)
        .with_user(
            named("800000000000000000001", "cf-alice", "Alice", "Cf").with_employee_id("CF001"),
        )
        .with_user(named("800000000000000000002", "cf-bob", "Bob", "Cf").with_employee_id("CF002"))
        .with_user(named(
            "800000000000000000003",
            "cf-carol",
            "CF Shared",
            "Name",
        ))
        .with_user(named(
            "800000000000000000004",
            "cf-dave",
            "CF Shared",
            "Name",
        ))
}

fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .with_backoff(Duration::from_millis(5), Duration::from_millis(100))
        .with_jitter_seed(7)
}

fn builder(emulator: &GoogleEmulator, subject: &str) -> GoogleBuilder {
    let key =
        ServiceAccountKey::from_json(emulator.key_json().as_bytes(), "test key").expect("key");
    GoogleDirectory::builder(subject)
        .key(key)
        .api_url(emulator.api_url())
        .retry(quick_retry())
        .requests_per_minute(600_000)
}

fn directory(emulator: &GoogleEmulator) -> GoogleDirectory {
    builder(emulator, DEFAULT_ADMIN).build().expect("builds")
}

fn jpeg(tag: &str) -> Photo {
    conformance::fixtures::jpeg(tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_passes_the_conformance_suite() {
    let emulator = GoogleEmulator::start(scoped_knobs())
        .await
        .expect("emulator");
    let dir: Arc<dyn Directory> = Arc::new(directory(&emulator));
    conformance::require_local_host("127.0.0.1");
    let scope = TestScope::new(UserKey::Alias, "cf-", IN_SCOPE).expect("scope");
    let keys = [
        UserKey::Mail,
        UserKey::Upn,
        UserKey::Alias,
        UserKey::EmployeeId,
        UserKey::DisplayName,
    ];
    conformance::run_all_with(&dir, &scope, &SuiteFlags::read_write(keys)).await;
    for user in emulator.users() {
        if !user.primary_email.starts_with("cf-") {
            assert_eq!(emulator.writes_for(&user.id), 0, "{} was written", user.id);
        }
    }
    assert!(dir
        .to_string()
        .starts_with("Google Workspace http://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_stream_page_by_page_with_every_key() {
    let emulator = GoogleEmulator::start(Knobs::default().with_users(1203))
        .await
        .expect("emulator");
    let dir = directory(&emulator);
    let users: Vec<_> = dir
        .list_users(&UserQuery::all())
        .try_collect()
        .await
        .expect("listed");
    assert_eq!(users.len(), 1205, "1,203 generated + admin + non-admin");
    let sent = dir.requests_sent();
    assert_eq!(sent, 3, "pages of 500: {sent} requests");
    let u = users
        .iter()
        .find(|u| u.mail.as_deref() == Some("emu00042@example.test"))
        .expect("emu00042");
    assert_eq!(
        u.employee_id.as_deref(),
        Some("E00042"),
        "externalIds type organization"
    );
    assert_eq!(u.display_name.as_deref(), Some("Emu User00042"));
    assert_eq!(u.alias.as_deref(), Some("emu00042"));
    // An alias address finds its user, by mail and by UPN.
    let found = dir
        .find_user(UserKey::Mail, "alias00042@example.test")
        .await
        .expect("by alias");
    assert_eq!(found.id, u.id);
    let found = dir
        .find_user(UserKey::EmployeeId, "E00042")
        .await
        .expect("by employee id");
    assert_eq!(found.id, u.id);
    let searched: Vec<_> = dir
        .list_users(&UserQuery::search("emu0004"))
        .try_collect()
        .await
        .expect("searched");
    assert_eq!(searched.len(), 10, "emu00040..emu00049");
}

async fn sign_in_error(knobs: Knobs, subject: &str) -> String {
    let emulator = GoogleEmulator::start(knobs).await.expect("emulator");
    let dir = builder(&emulator, subject).build().expect("builds");
    match dir.sign_in().await {
        Ok(()) => {
            let e = dir
                .list_users(&UserQuery::all())
                .try_collect::<Vec<_>>()
                .await
                .expect_err("refused");
            e.to_string()
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn delegation_not_granted_names_the_client_id_and_scope() {
    let text = sign_in_error(Knobs::default().with_delegated_scopes(&[]), DEFAULT_ADMIN).await;
    assert!(
        text.contains("domain-wide delegation is not granted"),
        "{text}"
    );
    assert!(
        text.contains(&format!("client ID {SERVICE_ACCOUNT_CLIENT_ID}")),
        "{text}"
    );
    assert!(text.contains(USER_SCOPE), "{text}");
}

#[tokio::test]
async fn a_wrong_clock_gives_an_expired_jwt_and_says_so() {
    // The emulator's clock is two hours ahead: our JWT has expired there.
    let text = sign_in_error(Knobs::default().with_clock_offset(7200), DEFAULT_ADMIN).await;
    assert!(text.contains("Token must be a short-lived token"), "{text}");
    assert!(text.contains("clock"), "{text}");
}

#[tokio::test]
async fn a_subject_who_is_not_an_admin_is_named() {
    let text = sign_in_error(Knobs::default(), DEFAULT_NON_ADMIN).await;
    assert!(
        text.contains("Not Authorized to access this resource/api"),
        "{text}"
    );
    assert!(
        text.contains(DEFAULT_NON_ADMIN) && text.contains("admin"),
        "{text}"
    );
    let text = sign_in_error(Knobs::default(), "nobody@example.test").await;
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(
        text.contains("not a user of the Workspace domain"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_key_and_a_disabled_api_say_what_to_fix() {
    let emulator = GoogleEmulator::start(Knobs::default())
        .await
        .expect("emulator");
    let key = ServiceAccountKey::from_json(unknown_key_json(&emulator.api_url()).as_bytes(), "k")
        .expect("key");
    let dir = GoogleDirectory::builder(DEFAULT_ADMIN)
        .key(key)
        .api_url(emulator.api_url())
        .build()
        .expect("builds");
    let e = dir.sign_in().await.expect_err("bad signature");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert!(e.to_string().contains("create a new JSON key"), "{e}");
    let text = sign_in_error(Knobs::default().with_api_disabled(), DEFAULT_ADMIN).await;
    assert!(text.contains("Admin SDK API is not enabled"), "{text}");
    assert!(text.contains("Cloud console"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("key.json");
    std::fs::write(
        &path,
        userphoto_emulators::google::service_account_json("http://127.0.0.1:1"),
    )
    .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = ServiceAccountKey::from_file(&path).expect_err("refused");
    assert!(e.to_string().contains("chmod 600"), "{e}");
    assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let key = ServiceAccountKey::from_file(&path).expect("accepted");
    assert!(
        !format!("{key:?}").contains("PRIVATE"),
        "Debug never shows the key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_errors_are_retried_and_every_photo_lands_once() {
    // 20 requests a second: 60 writes (delete + update each) must wait.
    let emulator = GoogleEmulator::start(Knobs::default().with_users(60).with_quota(20.0, 5.0))
        .await
        .expect("emulator");
    let dir = Arc::new(
        builder(&emulator, DEFAULT_ADMIN)
            .retry(
                RetryConfig::default()
                    .with_backoff(Duration::from_millis(50), Duration::from_millis(400))
                    .with_max_retries(30),
            )
            .max_concurrency(8)
            .build()
            .expect("builds"),
    );
    let users: Vec<_> = dir
        .list_users(&UserQuery::search("emu"))
        .try_collect()
        .await
        .expect("listed");
    assert_eq!(users.len(), 60);
    let mut tasks = Vec::new();
    for (i, u) in users.into_iter().enumerate() {
        let dir = Arc::clone(&dir);
        tasks.push(tokio::spawn(async move {
            dir.set_photo(&u, &jpeg(&format!("q{i}")))
                .await
                .map(|()| u.id)
        }));
    }
    for t in tasks {
        t.await.expect("joined").expect("written despite the quota");
    }
    let stats = emulator.stats();
    assert!(stats.quota_errors > 0, "the quota was hit: {stats:?}");
    assert!(dir.retries() > 0 && dir.rate_limited_count() > 0);
    let writes = emulator.writes_per_user();
    assert_eq!(writes.len(), 60);
    assert!(
        writes.values().all(|n| *n == 1),
        "no write repeated: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_without_repeating_a_write() {
    let emulator = GoogleEmulator::start(Knobs::default().with_users(20).with_faults(0.3, 0.1))
        .await
        .expect("emulator");
    let dir = builder(&emulator, DEFAULT_ADMIN)
        .retry(quick_retry().with_max_retries(40))
        .build()
        .expect("builds");
    let users: Vec<_> = dir
        .list_users(&UserQuery::search("emu"))
        .try_collect()
        .await
        .expect("listed");
    for (i, u) in users.iter().enumerate() {
        dir.set_photo(u, &jpeg(&format!("f{i}")))
            .await
            .expect("written");
    }
    assert!(emulator.stats().unavailable > 0);
    assert!(emulator.writes_per_user().values().all(|n| *n == 1));
}

#[tokio::test]
async fn replace_replaces_a_photo_the_user_set_themself() {
    let knobs = Knobs::default().with_self_set_survives_update().with_user(
        GoogleUser::new("700000000000000000001", "selfie@example.test").with_self_set_photo(),
    );
    let emulator = GoogleEmulator::start(knobs).await.expect("emulator");
    let id = "700000000000000000001";
    // The knob is real: an update alone reports success and changes nothing.
    let plain = builder(&emulator, DEFAULT_ADMIN)
        .delete_before_update(false)
        .build()
        .expect("builds");
    let user = plain
        .find_user(UserKey::Mail, "selfie@example.test")
        .await
        .expect("found");
    let ours = jpeg("ours");
    plain
        .set_photo(&user, &ours)
        .await
        .expect("Google says yes");
    assert!(
        emulator.has_self_set_photo(id),
        "the self-set photo survived the update"
    );
    // The default deletes first, so ours lands.
    let dir = directory(&emulator);
    dir.set_photo(&user, &ours).await.expect("written");
    assert!(!emulator.has_self_set_photo(id));
    match dir.get_photo(&user).await.expect("read") {
        PhotoLookup::Photo(p) => assert_eq!(p.digest(), ours.digest()),
        other => panic!("expected our photo, got {other:?}"),
    }
}

/// Raw requests, to prove the emulator refuses what Google refuses.
#[tokio::test]
async fn the_emulator_is_strict_where_google_is() {
    let emulator = GoogleEmulator::start(Knobs::default().with_max_photo_bytes(1000))
        .await
        .expect("emulator");
    let dir = directory(&emulator);
    dir.sign_in().await.expect("signed in");
    let token_answer: serde_json::Value = reqwest::Client::new()
        .post(emulator.token_url())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(token_answer["error"], "unsupported_grant_type");
    let user = dir
        .find_user(UserKey::Mail, "emu00001@example.test")
        .await
        .expect("user");
    // A standard-alphabet photo is refused by the emulator, not by us: send
    // through the backend's own path with a photo whose base64 has + and /.
    let mut bytes = jpeg("std").bytes().to_vec();
    bytes.extend_from_slice(&[0xFB, 0xFF, 0xBF, 0xFF, 0xD9]);
    let tricky = Photo::new(bytes).expect("photo");
    assert!(base64_has_std_chars(tricky.bytes()));
    dir.set_photo(&user, &tricky)
        .await
        .expect("web-safe base64 is accepted");
    let big = conformance::fixtures::jpeg_of_size("big", 2000);
    let e = dir
        .set_photo(&user, &big)
        .await
        .expect_err("over the emulator's limit");
    assert!(matches!(e, Error::PhotoRejected { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("previous photo had already been removed"),
        "the user is told the old photo is gone and where it is: {e}"
    );
}

fn base64_has_std_chars(bytes: &[u8]) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .contains(['+', '/'])
}

/// Signs an assertion with the test key and `claims` changed by `edit`.
fn assertion(emulator: &GoogleEmulator, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": userphoto_emulators::google::SERVICE_ACCOUNT_EMAIL,
        "scope": USER_SCOPE,
        "aud": emulator.token_url(),
        "iat": now,
        "exp": now + 3600,
        "sub": DEFAULT_ADMIN,
    });
    edit(&mut claims);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(
        userphoto_emulators::google::TEST_SA_PRIVATE_PEM.as_bytes(),
    )
    .expect("key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .expect("signed")
}

async fn exchange(emulator: &GoogleEmulator, jwt: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(emulator.token_url())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", jwt),
        ])
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_token_endpoint_checks_every_claim() {
    let emulator = GoogleEmulator::start(Knobs::default())
        .await
        .expect("emulator");
    let good = exchange(&emulator, &assertion(&emulator, |_| {})).await;
    assert!(good["access_token"].is_string(), "{good}");
    for (what, edit, error) in [
        (
            "iss",
            Box::new(|c: &mut serde_json::Value| {
                c["iss"] = "other@x.iam.gserviceaccount.com".into()
            }) as Box<dyn FnOnce(&mut serde_json::Value)>,
            "invalid_grant",
        ),
        (
            "aud",
            Box::new(|c: &mut serde_json::Value| {
                c["aud"] = "https://oauth2.googleapis.com/token".into()
            }),
            "invalid_grant",
        ),
        (
            "exp - iat > 1 h",
            Box::new(|c: &mut serde_json::Value| {
                c["exp"] = (c["iat"].as_u64().unwrap_or(0) + 7200).into()
            }),
            "invalid_grant",
        ),
        (
            "expired",
            Box::new(|c: &mut serde_json::Value| {
                c["iat"] = 1000.into();
                c["exp"] = 2000.into();
            }),
            "invalid_grant",
        ),
        (
            "scope",
            Box::new(|c: &mut serde_json::Value| {
                c["scope"] = "https://www.googleapis.com/auth/admin.directory.group".into()
            }),
            "unauthorized_client",
        ),
        (
            "sub",
            Box::new(|c: &mut serde_json::Value| c["sub"] = "stranger@elsewhere.test".into()),
            "invalid_grant",
        ),
    ] {
        let answer = exchange(&emulator, &assertion(&emulator, edit)).await;
        assert_eq!(answer["error"], error, "{what}: {answer}");
    }
}

#[tokio::test]
async fn the_photo_endpoint_refuses_the_standard_alphabet_a_wrong_type_and_big_data() {
    let emulator = GoogleEmulator::start(Knobs::default().with_max_photo_bytes(1000))
        .await
        .expect("emulator");
    let token = exchange(&emulator, &assertion(&emulator, |_| {})).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/admin/directory/v1/users/emu00001@example.test/photos/thumbnail",
        emulator.api_url()
    );
    let put = |body: serde_json::Value| http.put(&url).bearer_auth(&token).json(&body).send();
    use base64::Engine as _;
    let photo = jpeg("raw");
    let mut bytes = photo.bytes().to_vec();
    bytes.extend_from_slice(&[0xFB, 0xFF, 0xBF]);
    let standard = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert!(standard.contains(['+', '/']));
    let r = put(serde_json::json!({ "photoData": standard, "mimeType": "JPEG" }))
        .await
        .expect("sent");
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Invalid value for ByteString"),
        "{body}"
    );
    let web_safe = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
    let r = put(serde_json::json!({ "photoData": web_safe, "mimeType": "PNG" }))
        .await
        .expect("sent");
    assert_eq!(r.status(), 400, "a JPEG declared as PNG");
    let r = put(serde_json::json!({ "photoData": web_safe, "mimeType": "image/webp" }))
        .await
        .expect("sent");
    assert_eq!(r.status(), 400, "an undocumented type");
    let big = base64::engine::general_purpose::URL_SAFE.encode(vec![0xFF; 2000]);
    let r = put(serde_json::json!({ "photoData": big, "mimeType": "JPEG" }))
        .await
        .expect("sent");
    assert_eq!(r.status(), 400, "over the size limit");
    let r = put(
        serde_json::json!({ "photoData": web_safe, "mimeType": "JPEG", "width": 96, "height": 96 }),
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 200, "the documented form is accepted");
    let list = format!(
        "{}/admin/directory/v1/users?customer=my_customer&maxResults=501",
        emulator.api_url()
    );
    let r = http
        .get(&list)
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400, "maxResults over 500");
    let r = http
        .get(format!(
            "{}/admin/directory/v1/users?maxResults=5",
            emulator.api_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400, "neither customer nor domain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_users_stream_page_by_page() {
    use futures::StreamExt as _;
    let emulator = GoogleEmulator::start(Knobs::default().with_users(100_000))
        .await
        .expect("emulator");
    let dir = directory(&emulator);
    let mut users = dir.list_users(&UserQuery::all());
    let (mut n, mut most_sent_ahead) = (0u64, 0u64);
    while let Some(user) = users.next().await {
        user.expect("a user");
        n += 1;
        // Streamed: never more than one page requested ahead of what was
        // handed out.
        let pages = dir.requests_sent();
        most_sent_ahead = most_sent_ahead.max(pages * 500 - n.min(pages * 500));
    }
    assert_eq!(n, 100_002);
    assert_eq!(dir.requests_sent(), 201, "pages of 500");
    assert!(most_sent_ahead < 500, "{most_sent_ahead}");
}
