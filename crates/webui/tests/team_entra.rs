//! Team mode with Entra sign-in (OpenID Connect, code + PKCE) against the
//! Graph emulator's authorize, token and JWKS endpoints, at the API level:
//! the browser is sent to Entra with a state cookie, comes back with a
//! code, is signed in as their UPN (approver by the group claim); the
//! callback refuses a state this browser did not start; passwords are not
//! taken; an Entra-signed-in employee submits and an approver approves
//! (written to a folder target found by UPN).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt as _;
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{PhotoSlot, User};
use userphoto_emulators::graph::{
    GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET, DEFAULT_USER_PASSWORD,
};
use userphoto_selfservice::oidc::{EntraSignIn, OidcConfig};
use userphoto_selfservice::signin::Approvers;
use userphoto_selfservice::{Policy, Queue, SqliteStore};
use userphoto_webui::team::{router, TeamOptions, TeamState};

const HOST: &str = "127.0.0.1:8080";
const GROUP: &str = "99999999-8888-7777-6666-555555555555";

struct World {
    _emu: GraphEmulator,
    app: Router,
    employee: String,
    approver: String,
    dir: tempfile::TempDir,
}

async fn world() -> World {
    let probe = GraphEmulator::start(Knobs::default())
        .await
        .expect("emulator");
    let users = probe.users();
    let (employee, approver) = (
        users[0].user_principal_name.clone(),
        users[1].user_principal_name.clone(),
    );
    drop(probe);
    let mut knobs = Knobs::default();
    knobs
        .group_members
        .push((approver.clone(), GROUP.to_owned()));
    let emu = GraphEmulator::start(knobs).await.expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let folder_users: Vec<FolderUser> = [&employee, &approver]
        .iter()
        .enumerate()
        .map(|(i, upn)| {
            FolderUser::from(
                User::new(format!("f{i}"))
                    .with_sam_account_name(format!("person{i}"))
                    .with_upn((*upn).clone()),
            )
        })
        .collect();
    let folder = FolderDirectory::create_with(
        dir.path().join("hd"),
        folder_users,
        FolderOptions::new().with_slot(PhotoSlot::Hd),
    )
    .await
    .expect("folder");
    let target = Target::new(TargetKind::Folder, Arc::new(folder), "svc");
    let entra = EntraSignIn::new(
        OidcConfig {
            login_url: emu.login_url(),
            tenant: emu.tenant_id(),
            client_id: emu.client_id(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uri: format!("http://{HOST}/auth/callback"),
        },
        Approvers {
            group: Some(GROUP.to_owned()),
            accounts: Vec::new(),
        },
    );
    let store = SqliteStore::open(&dir.path().join("requests.sqlite")).expect("store");
    let ops = Ops::new(
        BackupStore::new(dir.path().join("backups")),
        AuditLog::new(dir.path().join("audit.jsonl")),
    );
    let listen: SocketAddr = HOST.parse().expect("addr");
    let state = TeamState::new(
        Queue::new(Arc::new(store), Policy::default()),
        entra,
        vec![target],
        ops,
        TeamOptions::loopback(listen),
    );
    World {
        _emu: emu,
        app: router(state),
        employee,
        approver,
        dir,
    }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.expect("answer");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body")
        .to_vec();
    (status, headers, body)
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri(path).header(header::HOST, HOST);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

fn cookies(headers: &axum::http::HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dec(v: &str) -> String {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            if let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

fn query(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), dec(v)))
        .collect()
}

/// Signs `upn` in through Entra; the session cookie header.
async fn sign_in(w: &World, upn: &str) -> (String, String) {
    let (status, headers, _) = send(&w.app, get("/auth/entra", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("to Entra")
        .to_owned();
    let state_cookie = cookies(&headers)
        .remove("userphoto_oidc")
        .expect("a state cookie");
    let set = headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(set.contains("HttpOnly") && set.contains("Secure"), "{set}");
    // At Entra (the emulator's form).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut form = query(&to);
    form.push(("login".into(), upn.into()));
    form.push(("passwd".into(), DEFAULT_USER_PASSWORD.into()));
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let res = http
        .post(to.split_once('?').map(|(a, _)| a).unwrap_or(&to))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 302);
    let back = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("back")
        .to_owned();
    let path = back.trim_start_matches(&format!("http://{HOST}"));
    let (status, headers, body) = send(
        &w.app,
        get(path, Some(&format!("userphoto_oidc={state_cookie}"))),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let session = cookies(&headers)
        .remove("userphoto_team")
        .expect("a session cookie");
    let cookie = format!("userphoto_team={session}");
    let (_, _, me) = send(&w.app, get("/api/me", Some(&cookie))).await;
    let me: Value = serde_json::from_slice(&me).expect("me");
    (cookie, me["csrf"].as_str().expect("csrf").to_owned())
}

fn post(path: &str, cookie: &str, csrf: &str, body: Body, kind: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::COOKIE, cookie)
        .header("x-csrf-token", csrf)
        .header(header::CONTENT_TYPE, kind)
        .body(body)
        .expect("request")
}

#[tokio::test]
async fn entra_sign_in_then_submit_and_approve() {
    let w = world().await;
    let (_, _, method) = send(&w.app, get("/auth/method", None)).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&method).expect("json")["method"],
        "entra"
    );
    let (emp, emp_csrf) = sign_in(&w, &w.employee).await;
    let (_, _, me) = send(&w.app, get("/api/me", Some(&emp))).await;
    let me: Value = serde_json::from_slice(&me).expect("me");
    assert_eq!(me["name"], w.employee.as_str());
    assert_eq!(me["approver"], false);

    let photo = userphoto_testkit::fixtures::jpeg(
        &userphoto_testkit::fixtures::noise(700, 700, 5),
        &userphoto_testkit::fixtures::JpegOptions::default(),
    );
    let (s, _, up) = send(
        &w.app,
        post(
            "/api/uploads",
            &emp,
            &emp_csrf,
            Body::from(photo),
            "application/octet-stream",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let up: Value = serde_json::from_slice(&up).expect("upload");
    let (s, _, r) = send(
        &w.app,
        post(
            "/api/requests",
            &emp,
            &emp_csrf,
            Body::from(json!({"upload": up["id"]}).to_string()),
            "application/json",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&r));
    let r: Value = serde_json::from_slice(&r).expect("request");
    assert_eq!(r["user"], w.employee.as_str());
    let id = r["id"].as_i64().expect("id");

    let (boss, boss_csrf) = sign_in(&w, &w.approver).await;
    let (_, _, me) = send(&w.app, get("/api/me", Some(&boss))).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&me).expect("me")["approver"],
        true,
        "the group claim makes an approver"
    );
    let (s, _, done) = send(
        &w.app,
        post(
            &format!("/api/queue/{id}/approve"),
            &boss,
            &boss_csrf,
            Body::empty(),
            "application/json",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let done: Value = serde_json::from_slice(&done).expect("done");
    assert_eq!(done["state"], "approved", "{done}");
    let audit = AuditLog::new(w.dir.path().join("audit.jsonl"))
        .read()
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].approved_by.as_deref(), Some(w.approver.as_str()));
    assert_eq!(
        audit[0].user_id, "f0",
        "written to the employee found by UPN"
    );
}

#[tokio::test]
async fn the_callback_needs_this_browsers_state_and_passwords_are_not_taken() {
    let w = world().await;
    // Started in one browser, finished in another (login CSRF): refused.
    let (_, headers, _) = send(&w.app, get("/auth/entra", None)).await;
    let to = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("to Entra")
        .to_owned();
    let state = query(&to)
        .into_iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v)
        .expect("state");
    let (s, h, _) = send(
        &w.app,
        get(&format!("/auth/callback?code=x&state={state}"), None),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!cookies(&h).contains_key("userphoto_team"));
    // A state nobody started, with a matching cookie: refused too.
    let (s, _, _) = send(
        &w.app,
        get(
            "/auth/callback?code=x&state=made-up",
            Some("userphoto_oidc=made-up"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let req = Request::builder()
        .method("POST")
        .uri("/api/signin")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": w.employee, "password": "x"}).to_string(),
        ))
        .expect("request");
    let (s, _, _) = send(&w.app, req).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
