//! The EWS client's own TLS (the NTLM path: `tokio-rustls`, not `reqwest`)
//! against a real TLS server on loopback: the Samba AD DC's LDAPS port
//! from `scripts/test-servers up` (this test FAILS with that instruction
//! when it is absent). Samba is not an HTTP server; what is checked is the
//! TLS before any HTTP: without the test CA the certificate is refused and
//! said so; with `ca_file` the handshake passes (the channel binding is
//! taken from the certificate), and what fails next is the HTTP exchange.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC's LDAPS port, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use userphoto_directory::ews::{EwsAuth, EwsDirectory};
use userphoto_directory::folder::FolderDirectory;
use userphoto_directory::{Directory, Error};

const HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";

#[tokio::test]
async fn ntlm_over_https_verifies_the_certificate_and_honours_ca_file() {
    let vars = userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {HINT}"));
    let get = |k: &str| {
        vars.get(&format!("USERPHOTO_TEST_AD_{k}"))
            .cloned()
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{k} is missing; {HINT}"))
    };
    let ldaps = url::Url::parse(&get("URL")).expect("AD URL");
    let port = ldaps.port().unwrap_or(636);
    let host = ldaps.host_str().unwrap_or("localhost").to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let users: Arc<dyn Directory> = Arc::new(
        FolderDirectory::create(
            dir.path().join("ad"),
            Vec::<userphoto_directory::User>::new(),
        )
        .await
        .expect("folder"),
    );
    let builder = EwsDirectory::builder()
        .ews_url(format!("https://{host}:{port}/EWS/Exchange.asmx"))
        .credentials(r"CORP\svc-photos", SecretString::from("Tls-Test-Pass-1"))
        .auth(EwsAuth::Ntlm)
        .timeout(Duration::from_secs(10))
        .users(users);

    let untrusted = builder.clone().build().expect("build");
    let e = untrusted
        .server_info()
        .await
        .expect_err("untrusted certificate");
    let text = e.to_string();
    eprintln!("untrusted: {text}");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(
        text.contains("UnknownIssuer") && text.contains("ca_file"),
        "{text}"
    );
    assert!(!text.contains("Tls-Test-Pass-1"), "{text}");

    let trusted = builder.ca_file(get("CA_FILE")).build().expect("build");
    let e = trusted.server_info().await.expect_err("LDAPS is not EWS");
    let text = e.to_string();
    eprintln!("trusted: {text}");
    assert!(
        !text.to_lowercase().contains("certificate"),
        "the CA file makes the certificate trusted: {text}"
    );
}
