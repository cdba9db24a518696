//! The security model, request by request (no socket: `router().oneshot`).

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{get, photo, TestApp, HOST};

#[tokio::test]
async fn without_a_session_everything_is_401() {
    let app = TestApp::builder().build().await;
    for path in ["/", "/api/session", "/api/users?q=a", "/assets/app.js"] {
        let res = app.send(get(path)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, body) = app.json(get("/api/session")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn the_token_works_once_and_sets_a_strict_httponly_cookie() {
    let app = TestApp::builder().build().await;
    let url = app.state.login_url();
    let path = url.trim_start_matches(&format!("http://{HOST}")).to_owned();
    let res = app.send(get(&path)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let base = app.state.base_path().to_owned();
    assert_eq!(res.headers()[header::LOCATION], format!("{base}/"));
    let cookie = res.headers()[header::SET_COOKIE].to_str().expect("ascii");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let again = app.send(get(&path)).await;
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "a token works once"
    );
    let wrong = app.send(get("/?token=deadbeef")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_host_is_403_even_with_a_session() {
    let app = TestApp::signed_in().await;
    for host in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1:9999",
        "localhost",
    ] {
        let req = Request::get("/api/session")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request");
        let (status, body) = app.json(app.authed(req)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
        let req = Request::get("/api/session")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            app.send(app.authed(req)).await.status(),
            StatusCode::OK,
            "{host}"
        );
    }
}

#[tokio::test]
async fn a_cross_origin_post_is_403() {
    let app = TestApp::signed_in().await;
    let id = app.user_id("Ada.Lovelace").await;
    let req = Request::post(format!("/api/users/{id}/remove"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"target":"ad"}"#))
        .expect("request");
    let mut req = app.authed_write(req);
    req.headers_mut().insert(
        header::ORIGIN,
        "http://evil.example".parse().expect("origin"),
    );
    let (status, _) = app.json(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nothing was removed.
    assert_eq!(app.pane(&id, "ad").await["state"], "photo");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_403() {
    let app = TestApp::signed_in().await;
    let id = app.user_id("Ada.Lovelace").await;
    let req = Request::post(format!("/api/users/{id}/remove"))
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"target":"ad"}"#))
        .expect("request");
    let (status, _) = app.json(app.authed(req)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.pane(&id, "ad").await["state"], "photo");
}

#[tokio::test]
async fn an_oversized_upload_is_413_with_our_json() {
    let app = TestApp::builder()
        .with_max_upload(64 * 1024)
        .build()
        .await
        .sign_in()
        .await;
    let (status, body) = app.upload(vec![0xFF; 65 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too-large");
}

#[tokio::test]
async fn every_answer_carries_a_strict_csp_and_no_sniffing() {
    let app = TestApp::signed_in().await;
    for req in [app.authed(get("/")), get("/api/session")] {
        let res = app.send(req).await;
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}

#[tokio::test]
async fn errors_say_what_is_wrong_without_internals() {
    let app = TestApp::signed_in().await;
    let (status, body) = app.get_json("/api/users/nobody-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        !message.contains("panicked") && !message.contains(".rs:"),
        "{message}"
    );
    let (status, body) = app.upload(b"not an image at all".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "bad-image");
    let _ = photo(1, 1);
}

#[test]
fn listening_beyond_loopback_needs_an_explicit_flag() {
    use userphoto_webui::server::check_listen;
    assert!(check_listen("127.0.0.1:0".parse().expect("addr"), false).is_ok());
    assert!(check_listen("[::1]:0".parse().expect("addr"), false).is_ok());
    let err = check_listen("0.0.0.0:8080".parse().expect("addr"), false).expect_err("refused");
    assert!(err.contains("--allow-remote"), "{err}");
    assert!(check_listen("0.0.0.0:8080".parse().expect("addr"), true).is_ok());
}

/// Browsers send a host's cookies to every port of it. The session cookie
/// is bound to the UI's random base path instead of `/`, so another
/// service on 127.0.0.1 never receives it; and where it is not sent, it
/// does not count.
#[tokio::test]
async fn the_session_cookie_is_bound_to_a_random_base_path() {
    let app = TestApp::builder().build().await;
    let url = app.state.login_url();
    let res = app
        .send(get(url.trim_start_matches(&format!("http://{HOST}"))))
        .await;
    let set_cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    let base = app.state.base_path().to_owned();
    assert!(
        set_cookie.contains(&format!("; Path={base}/")),
        "{set_cookie}"
    );
    // 128 random bits, fresh per server: not guessable by another service.
    let secret = base.trim_start_matches("/s/");
    assert!(secret.len() >= 32, "{base}");
    let other = TestApp::builder().build().await;
    assert_ne!(other.state.base_path(), base);
    let pair = set_cookie.split(';').next().expect("cookie").to_owned();
    // The cookie outside the base path (where a browser never sends it):
    // signed out, and the CSRF token is not handed out.
    for path in ["/api/session", "/", "/assets/app.js", "/s/api/session"] {
        let mut req = get(path);
        req.headers_mut()
            .insert(header::COOKIE, pair.parse().expect("cookie"));
        let res = app.send(req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Under it, signed in.
    let mut req = get(&format!("{base}/api/session"));
    req.headers_mut()
        .insert(header::COOKIE, pair.parse().expect("cookie"));
    let (status, session) = app.json(req).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(session["csrf"].is_string());
    // The base path without its slash leads to the page.
    let res = app.send(get(&base)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], format!("{base}/"));
}

#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    let app = TestApp::signed_in().await;
    let mut req = get("/api/session");
    req.headers_mut()
        .append(header::HOST, "evil.example".parse().expect("host"));
    let (status, body) = app.json(app.authed(req)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The same host twice too: which one counts is not defined.
    let mut req = get("/api/session");
    req.headers_mut()
        .append(header::HOST, HOST.parse().expect("host"));
    let (status, _) = app.json(app.authed(req)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
