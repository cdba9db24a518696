//! The conformance suite against the Graph backend on the Graph emulator:
//! signed in with a client secret and with a certificate, through
//! `Arc<dyn Directory>`, and with writes that read back stale for a while.

mod graph_common;

use std::sync::Arc;
use std::time::Duration;

use graph_common::{builder, certificate, directory, scoped_knobs};
use userphoto_directory::conformance::{self, SuiteFlags, TestScope};
use userphoto_directory::{Directory, DirectoryExt as _, PhotoLookup, UserKey};
use userphoto_emulators::graph::GraphEmulator;

const IN_SCOPE: [&str; 6] = [
    "cf-alice",
    "cf-bob",
    "cf-carol",
    "cf-dave",
    "cf-nomail",
    "cf-locked",
];

fn scope() -> TestScope {
    TestScope::new(UserKey::Alias, "cf-", IN_SCOPE)
        .and_then(|s| s.with_no_mailbox_user("cf-nomail"))
        .and_then(|s| s.with_denied_user("cf-locked"))
        .expect("a valid scope")
}

/// Runs the suite and proves the users outside the scope were not touched.
async fn suite(emulator: &GraphEmulator, dir: &dyn Directory) {
    conformance::require_local_host(&emulator.addr().ip().to_string());
    conformance::run_all_with(dir, &scope(), &SuiteFlags::read_write(UserKey::ALL)).await;
    for user in emulator.users() {
        if !user.mail_nickname.starts_with("cf-") {
            assert_eq!(emulator.writes_for(&user.id), 0, "{} was written", user.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_with_a_secret_passes_the_suite() {
    let emulator = GraphEmulator::start(scoped_knobs())
        .await
        .expect("emulator");
    let dir = directory(&emulator);
    suite(&emulator, &dir).await;
    assert!(dir
        .to_string()
        .starts_with("Microsoft Graph http://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_with_a_certificate_passes_the_suite() {
    let emulator = GraphEmulator::start(scoped_knobs())
        .await
        .expect("emulator");
    let dir = builder(&emulator)
        .credential(certificate())
        .build()
        .expect("builds");
    dir.sign_in().await.expect("the assertion is accepted");
    suite(&emulator, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arc_graph_with_small_pages_passes_the_suite() {
    let emulator = GraphEmulator::start(scoped_knobs().with_page_size(2))
        .await
        .expect("emulator");
    let dir: Arc<dyn Directory> = Arc::new(directory(&emulator));
    suite(&emulator, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_with_stale_reads_passes_the_suite() {
    let knobs = scoped_knobs().with_read_after_write(Duration::from_millis(400));
    let emulator = GraphEmulator::start(knobs).await.expect("emulator");
    let dir = directory(&emulator);
    suite(&emulator, &dir).await;
}

#[tokio::test]
async fn a_write_that_reads_back_stale_is_verified_with_patience() {
    let knobs = scoped_knobs().with_read_after_write(Duration::from_millis(1500));
    let emulator = GraphEmulator::start(knobs).await.expect("emulator");
    let dir = directory(&emulator);
    let alice = dir
        .find_user(UserKey::Alias, "cf-alice")
        .await
        .expect("alice");
    let photo = graph_common::jpeg("stale");
    dir.set_photo(&alice, &photo).await.expect("written");
    assert_eq!(
        dir.get_photo(&alice).await.expect("read"),
        PhotoLookup::NoPhoto,
        "the emulator reads back stale at first"
    );
    let impatient = dir
        .verify_photo(&alice, photo.digest(), Duration::from_millis(200))
        .await;
    assert!(
        matches!(
            impatient,
            Err(userphoto_directory::Error::NotVerified { .. })
        ),
        "{impatient:?}"
    );
    dir.verify_photo(&alice, photo.digest(), dir.capabilities().read_after_write)
        .await
        .expect("verified once the write shows");
    assert_eq!(
        emulator.writes_for(&alice.id),
        1,
        "verifying never rewrites"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_under_random_429s_and_503s_passes_the_suite() {
    let knobs = scoped_knobs().with_faults(0.10, 0.05, Duration::ZERO);
    let emulator = GraphEmulator::start(knobs).await.expect("emulator");
    let dir = directory(&emulator);
    suite(&emulator, &dir).await;
    let stats = emulator.stats();
    assert!(stats.injected_429 + stats.injected_503 > 0, "{stats:?}");
}
