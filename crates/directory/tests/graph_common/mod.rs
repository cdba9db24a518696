//! Shared set-up for the graph backend's tests: an emulator on port 0 and
//! a `GraphDirectory` pointed at it.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use secrecy::SecretString;
use userphoto_directory::graph::{
    CertificateCredential, GraphBuilder, GraphCredential, GraphDirectory, RetryConfig,
};
use userphoto_emulators::graph::{
    EmulatedUser, GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET, TEST_APP_PEM,
};

/// The conformance scope's users (alias prefix `cf-`) and two outsiders'
/// worth of generated users.
pub fn scoped_knobs() -> Knobs {
    Knobs::default()
        .with_users(5)
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000001", "cf-alice")
                .with_employee_id("CF001"),
        )
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000002", "cf-bob")
                .with_employee_id("CF002"),
        )
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000003", "cf-carol")
                .with_display_name("CF Shared Name"),
        )
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000004", "cf-dave")
                .with_display_name("CF Shared Name"),
        )
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000005", "cf-nomail")
                .without_mailbox(),
        )
        .with_user(
            EmulatedUser::new("10000000-0000-4000-8000-000000000006", "cf-locked").forbidden(),
        )
}

/// An emulator with `knobs` on a loopback port.
pub async fn start(knobs: Knobs) -> GraphEmulator {
    GraphEmulator::start(knobs).await.expect("emulator")
}

/// A directory on `emulator` retrying up to `max_retries` times with
/// backoff between `min` and `max`.
pub fn retrying(
    emulator: &GraphEmulator,
    min: Duration,
    max: Duration,
    max_retries: u32,
) -> GraphDirectory {
    builder(emulator)
        .retry(
            RetryConfig::default()
                .with_backoff(min, max)
                .with_max_retries(max_retries),
        )
        .build()
        .expect("builds")
}

/// Fast retries for tests (the emulator answers in microseconds).
pub fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .with_backoff(Duration::from_millis(5), Duration::from_millis(100))
        .with_jitter_seed(7)
}

/// A builder for `emulator`, signing in with the registered secret.
pub fn builder(emulator: &GraphEmulator) -> GraphBuilder {
    GraphDirectory::builder(emulator.tenant_id(), emulator.client_id())
        .graph_url(emulator.graph_url())
        .login_url(emulator.login_url())
        .credential(GraphCredential::Secret(SecretString::from(
            DEFAULT_CLIENT_SECRET,
        )))
        .read_after_write(Duration::from_secs(5))
        .retry(quick_retry())
}

/// The registered test certificate as a credential.
pub fn certificate() -> GraphCredential {
    GraphCredential::Certificate(
        CertificateCredential::from_pem(TEST_APP_PEM.as_bytes(), "test certificate")
            .expect("the test certificate parses"),
    )
}

/// A directory on `emulator` with the secret.
pub fn directory(emulator: &GraphEmulator) -> GraphDirectory {
    builder(emulator).build().expect("builds")
}

/// A small JPEG-looking photo (the backend checks the magic bytes only).
pub fn jpeg(tag: &str) -> userphoto_directory::Photo {
    let mut bytes = b"\xFF\xD8\xFF\xE0".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(b"\xFF\xD9");
    userphoto_directory::Photo::new(bytes).expect("a jpeg")
}
