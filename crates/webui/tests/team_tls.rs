//! Team mode's TLS listener: a self-signed certificate for `localhost`,
//! a client that trusts only it gets an answer over TLS; a client that
//! says nothing does not hold up another one; a plain-HTTP request on the
//! TLS port gets no answer.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use userphoto_webui::team::tls::{serve_router, server_config, TlsListener};

fn files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).expect("cert");
    std::fs::write(&k, cert.key_pair.serialize_pem()).expect("key");
    (c, k, cert.cert.der().to_vec())
}

#[tokio::test]
async fn team_mode_answers_over_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, der) = files(dir.path());
    let config = server_config(&cert, &key).expect("server config");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let listener = TlsListener::new(tcp, config).expect("listener");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = Router::new().route("/", get(|| async { "hello over tls" }));
    let server = tokio::spawn(serve_router(listener, app, async {
        let _ = stop_rx.await;
    }));

    // A client that connects and never speaks.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).expect("trust the test certificate");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .expect("the handshake is not held up by the silent client")
        .expect("handshake");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello over tls"), "{answer}");

    // Plain HTTP on the TLS port: no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!buf.starts_with(b"HTTP/"), "plain HTTP must not be served");

    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

#[test]
fn a_key_that_does_not_match_or_a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _, _) = files(dir.path());
    let other = tempfile::tempdir().expect("tempdir");
    let (_, key2, _) = files(other.path());
    let err = server_config(&cert, &key2).expect_err("mismatch");
    assert!(err.contains("do not make a usable pair"), "{err}");
    let err = server_config(&dir.path().join("nope.pem"), &key2).expect_err("missing");
    assert!(
        err.contains("cert_file") && err.contains("nope.pem"),
        "{err}"
    );
}
