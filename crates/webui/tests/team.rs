//! Team mode at the API level (the router driven with `oneshot`) against
//! the real Samba AD DC of `scripts/test-servers up`: sign-in by bind, one
//! message for every refusal, an employee reaching only their own request
//! (another's id in any URL is "no such request", the queue is refused),
//! CSRF and Host checks, approve and reject, an approver not approving
//! their own photo, and the queue surviving a restart.
//!
//! Fixtures: `userphoto_testkit::servers::samba_selfservice_fixtures` (an
//! OU beside the test OU). svc-photos may only write in the test OU, so
//! approved photos are written as the domain administrator here.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt as _;
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Config, TargetKind};
use userphoto_selfservice::signin::{Approvers, SignIn};
use userphoto_selfservice::{Policy, Queue, SqliteStore};
use userphoto_webui::team::{router, TeamOptions, TeamState};

const START_HINT: &str =
    "run scripts/test-servers up (see docs/TESTING.md), then run the tests again";
const HOST: &str = "127.0.0.1:8080";

fn facts() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"))
}

fn var<'a>(f: &'a HashMap<String, String>, key: &str) -> &'a str {
    f.get(&format!("USERPHOTO_TEST_AD_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {START_HINT}"))
}

/// A team-mode app over the fixture OU, its queue in `dir`.
async fn app(dir: &Path) -> (Router, HashMap<String, String>) {
    let f = facts();
    let ou = userphoto_testkit::servers::samba_selfservice_fixtures(&f);
    // Bound as the administrator: svc-photos may write only in the test OU.
    let secret = dir.join("admin-password");
    std::fs::write(&secret, var(&f, "ADMIN_PASSWORD")).expect("secret");
    let sections = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n",
        var(&f, "URL"),
        ou,
        var(&f, "ADMIN_UPN"),
        secret.display().to_string(),
        var(&f, "CA_FILE"),
    );
    let config = Config::parse(&sections, &dir.join("userphoto.toml")).expect("config");
    let ad = config
        .open_ad_directory()
        .await
        .unwrap_or_else(|e| panic!("cannot open the Samba AD DC: {e}; {START_HINT}"))
        .expect("[ad]");
    let signin = SignIn::new(
        ad,
        Approvers {
            group: Some(format!("CN=ss-helpdesk,{ou}")),
            accounts: Vec::new(),
        },
    );
    let target = config.open(TargetKind::Ad).await.expect("ad target");
    let ops = Ops::new(
        BackupStore::new(dir.join("backups")),
        AuditLog::new(dir.join("audit.jsonl")),
    );
    let store = SqliteStore::open(&dir.join("requests.sqlite")).expect("store");
    let queue = Queue::new(Arc::new(store), Policy::default());
    let listen: SocketAddr = HOST.parse().expect("addr");
    let state = TeamState::new(
        queue,
        signin,
        vec![target],
        ops,
        TeamOptions::loopback(listen),
    );
    (router(state), f)
}

/// A browser: its cookie and CSRF token once signed in.
#[derive(Default)]
struct Browser {
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Browser {
    fn request(&self, method: &str, path: &str, body: Body, content_type: &str) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, content_type);
        if method != "GET" {
            b = b.header(header::ORIGIN, format!("http://{HOST}"));
            if let Some(csrf) = &self.csrf {
                b = b.header("x-csrf-token", csrf);
            }
        }
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, format!("userphoto_team={c}"));
        }
        b.body(body).expect("request")
    }

    async fn send(&self, app: &Router, req: Request<Body>) -> Answer {
        let res = app.clone().oneshot(req).await.expect("answer");
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .expect("body")
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, app: &Router, path: &str) -> Answer {
        self.send(
            app,
            self.request("GET", path, Body::empty(), "application/json"),
        )
        .await
    }

    async fn post(&self, app: &Router, path: &str, body: Value) -> Answer {
        self.send(
            app,
            self.request(
                "POST",
                path,
                Body::from(body.to_string()),
                "application/json",
            ),
        )
        .await
    }

    async fn sign_in(app: &Router, name: &str, password: &str) -> (Browser, Answer) {
        let mut b = Browser::default();
        let a = b
            .post(
                app,
                "/api/signin",
                json!({"name": name, "password": password}),
            )
            .await;
        if a.status == StatusCode::OK {
            let set = a
                .headers
                .get(header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .expect("a session cookie")
                .to_owned();
            for attr in ["Secure", "HttpOnly", "SameSite=Strict"] {
                assert!(set.contains(attr), "cookie without {attr}: {set}");
            }
            b.cookie = set
                .split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .map(|(_, v)| v.to_owned());
            b.csrf = a.json()["csrf"].as_str().map(str::to_owned);
        }
        (b, a)
    }

    /// Uploads a photo and submits it; the request's JSON.
    async fn submit(&self, app: &Router, seed: u32) -> Value {
        let photo = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(500, 500, seed),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        let up = self
            .send(
                app,
                self.request(
                    "POST",
                    "/api/uploads",
                    Body::from(photo),
                    "application/octet-stream",
                ),
            )
            .await;
        assert_eq!(up.status, StatusCode::OK, "{:?}", up.json());
        let up = up.json();
        assert!(up["checks"].as_array().is_some_and(|c| !c.is_empty()));
        let prev = self
            .get(
                app,
                &format!("/{}", up["preview"].as_str().expect("preview")),
            )
            .await;
        assert_eq!(prev.status, StatusCode::OK);
        let r = self
            .post(
                app,
                "/api/requests",
                json!({"upload": up["id"], "crop": null}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        r.json()
    }
}

fn seed() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos())
}

#[tokio::test]
async fn a_wrong_password_or_name_gets_one_message_and_no_cookie() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, f) = app(dir.path()).await;
    let (_, wrong) = Browser::sign_in(&app, "ss-employee", "not-it").await;
    let (_, nobody) = Browser::sign_in(&app, "ss-nobody", var(&f, "USER_PASSWORD")).await;
    for a in [&wrong, &nobody] {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.headers.get(header::SET_COOKIE).is_none());
        assert_eq!(
            a.json()["error"]["message"],
            "The name or password is not right."
        );
    }
    // Signed out: nothing but the page and sign-in.
    let anon = Browser::default();
    assert_eq!(
        anon.get(&app, "/api/requests").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(anon.get(&app, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_employee_reaches_only_their_own_request_and_never_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, f) = app(dir.path()).await;
    let pw = var(&f, "USER_PASSWORD");
    let (sam, ok) = Browser::sign_in(&app, "ss-employee", pw).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json());
    assert_eq!(ok.json()["approver"], false);
    let mine = sam.submit(&app, seed()).await;
    assert_eq!(mine["state"], "pending");
    assert_eq!(mine["user"], "ss-employee");
    let id = mine["id"].as_i64().expect("id");

    let (olive, _) = Browser::sign_in(&app, "ss-other", pw).await;
    for path in [
        format!("/api/requests/{id}"),
        format!("/api/requests/{id}/photo.jpg"),
    ] {
        let a = olive.get(&app, &path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.json()["error"]["message"], "there is no such request");
    }
    let a = olive
        .post(&app, &format!("/api/requests/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        olive.get(&app, "/api/queue").await.status,
        StatusCode::FORBIDDEN
    );
    for action in ["approve", "reject"] {
        let a = olive
            .post(
                &app,
                &format!("/api/queue/{id}/{action}"),
                json!({"reason": "x"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{action}");
    }
    let a = olive
        .get(&app, &format!("/api/queue/{id}/current/ad"))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A user name in the body is not how the owner is chosen: olive's
    // list stays empty.
    assert_eq!(olive.get(&app, "/api/requests").await.json(), json!([]));

    // The owner sees it; a write without the CSRF token, or from another
    // origin, or to another host name, is refused.
    assert_eq!(
        sam.get(&app, &format!("/api/requests/{id}")).await.status,
        StatusCode::OK
    );
    let no_csrf = Browser {
        cookie: sam.cookie.clone(),
        csrf: None,
    };
    let a = no_csrf
        .post(&app, &format!("/api/requests/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let mut req = sam.request(
        "POST",
        &format!("/api/requests/{id}/withdraw"),
        Body::empty(),
        "application/json",
    );
    req.headers_mut().insert(
        header::ORIGIN,
        "http://evil.example".parse().expect("origin"),
    );
    assert_eq!(sam.send(&app, req).await.status, StatusCode::FORBIDDEN);
    let mut req = sam.request("GET", "/api/requests", Body::empty(), "application/json");
    req.headers_mut()
        .insert(header::HOST, "evil.example:8080".parse().expect("host"));
    assert_eq!(sam.send(&app, req).await.status, StatusCode::FORBIDDEN);

    let w = sam
        .post(&app, &format!("/api/requests/{id}/withdraw"), json!({}))
        .await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.json()["state"], "withdrawn");
}

#[tokio::test]
async fn the_approver_approves_and_rejects_and_the_queue_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, f) = app(dir.path()).await;
    let pw = var(&f, "USER_PASSWORD");
    let (sam, _) = Browser::sign_in(&app, "ss-employee", pw).await;
    let (hal, ok) = Browser::sign_in(&app, "ss-helper", pw).await;
    assert_eq!(ok.json()["approver"], true);

    let first = sam.submit(&app, seed()).await;
    let id = first["id"].as_i64().expect("id");
    // Restart: a new app over the same database still has it queued.
    drop(app);
    let (app, _) = self::app(dir.path()).await;
    let (hal2, _) = Browser::sign_in(&app, "ss-helper", pw).await;
    let queue = hal2.get(&app, "/api/queue").await.json();
    assert!(
        queue
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == id),
        "{queue}"
    );
    // The old session died with the old server.
    assert_eq!(
        hal.get(&app, "/api/queue").await.status,
        StatusCode::UNAUTHORIZED
    );

    let done = hal2
        .post(&app, &format!("/api/queue/{id}/approve"), json!({}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.json());
    assert_eq!(done.json()["state"], "approved", "{:?}", done.json());
    assert_eq!(done.json()["reviewer"], "ss-helper");
    let audit = AuditLog::new(dir.path().join("audit.jsonl"))
        .read()
        .expect("audit");
    assert_eq!(
        audit.last().and_then(|l| l.approved_by.as_deref()),
        Some("ss-helper")
    );
    let (sam, _) = Browser::sign_in(&app, "ss-employee", pw).await;
    let now = sam.get(&app, "/api/me/photo/ad").await;
    assert_eq!(now.status, StatusCode::OK);
    assert_eq!(
        Some(userphoto_directory::sha256_hex(&now.body)),
        audit.last().and_then(|l| l.new_sha256.clone()),
        "the employee sees the approved photo"
    );

    let second = sam.submit(&app, seed().wrapping_add(1)).await;
    let id2 = second["id"].as_i64().expect("id");
    let empty = hal2
        .post(
            &app,
            &format!("/api/queue/{id2}/reject"),
            json!({"reason": " "}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no = hal2
        .post(
            &app,
            &format!("/api/queue/{id2}/reject"),
            json!({"reason": "Please face the camera"}),
        )
        .await;
    assert_eq!(no.json()["state"], "rejected");
    let mine = sam.get(&app, "/api/requests").await.json();
    let seen = mine
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["id"] == id2)
        .cloned()
        .expect("own request");
    assert_eq!(seen["state"], "rejected");
    assert_eq!(seen["reason"], "Please face the camera");

    // An approver does not approve their own photo.
    let own = hal2.submit(&app, seed().wrapping_add(2)).await;
    let own_id = own["id"].as_i64().expect("id");
    let a = hal2
        .post(&app, &format!("/api/queue/{own_id}/approve"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    hal2.post(&app, &format!("/api/requests/{own_id}/withdraw"), json!({}))
        .await;
}
