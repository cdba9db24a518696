//! `TestApp`: the router over a fresh demo sandbox, driven with `oneshot`
//! (no socket), with a signed-in session on request.

#![allow(dead_code, unreachable_pub)]

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;
use tower::ServiceExt as _;
use userphoto_webui::demo::{sandbox, Demo};
use userphoto_webui::{router, AppState, ServerOptions};

/// The address the tests pretend to listen on.
pub const HOST: &str = "127.0.0.1:8080";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub demo: Demo,
    _dir: tempfile::TempDir,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

pub struct Builder {
    max_upload: usize,
    /// Serve these targets (and engine) instead of the demo sandbox's.
    targets: Option<(
        Vec<userphoto_directory::config::Target>,
        userphoto_bulk::ops::Ops,
    )>,
    state_dir: Option<std::path::PathBuf>,
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            max_upload: userphoto_webui::DEFAULT_MAX_UPLOAD,
            targets: None,
            state_dir: None,
        }
    }

    /// A signed-in app with default settings.
    pub async fn signed_in() -> TestApp {
        TestApp::builder().build().await.sign_in().await
    }

    /// Trades a fresh login token for a session and reads the CSRF token.
    pub async fn sign_in(mut self) -> TestApp {
        let url = self.state.login_url();
        let path = url.trim_start_matches(&format!("http://{HOST}"));
        let res = self.send(get(path)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login redirects");
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(
            location,
            format!("{}/", self.state.base_path()),
            "to the base path"
        );
        let cookie = res
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        self.cookie = cookie.split(';').next().map(str::to_owned);
        let (status, session) = self.json(self.authed(get("/api/session"))).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        self.csrf = session["csrf"].as_str().map(str::to_owned);
        self
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.expect("infallible")
    }

    pub async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.send(req).await;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// THE way tests make a signed-in request: `req`, written with the
    /// app's own paths (`/api/users`, `/`, `/assets/app.js`), moved under
    /// the session's random base path (`/s/<random>/…`, the only place the
    /// browser sends the cookie), with the session cookie added.
    /// [`authed_write`](Self::authed_write) adds what writes need on top.
    pub fn authed(&self, mut req: Request<Body>) -> Request<Body> {
        let base = self.state.base_path();
        let original = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if !original.starts_with(&format!("{base}/")) {
            *req.uri_mut() = format!("{base}{original}").parse().expect("uri");
        }
        if let Some(c) = &self.cookie {
            req.headers_mut()
                .insert(header::COOKIE, c.parse().expect("cookie header"));
        }
        req
    }

    /// Adds the session cookie, a same-origin Origin and the CSRF token.
    pub fn authed_write(&self, req: Request<Body>) -> Request<Body> {
        let mut req = self.authed(req);
        let h = req.headers_mut();
        h.insert(
            header::ORIGIN,
            format!("http://{HOST}").parse().expect("origin"),
        );
        if let Some(t) = &self.csrf {
            h.insert("x-csrf-token", t.parse().expect("csrf"));
        }
        req
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        self.json(self.authed(get(path))).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.json(self.authed_write(req)).await
    }

    pub async fn upload(&self, bytes: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::post("/api/uploads")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bytes))
            .expect("request");
        self.json(self.authed_write(req)).await
    }

    /// The id of the demo user with this logon name.
    pub async fn user_id(&self, logon: &str) -> String {
        let (status, found) = self
            .get_json(&format!("/api/users?q={logon}&source=ad"))
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        found["users"]
            .as_array()
            .and_then(|a| a.iter().find(|u| u["name"] == logon))
            .and_then(|u| u["id"].as_str())
            .expect("user in search")
            .to_owned()
    }

    /// The pane of `target` for user `id`.
    pub async fn pane(&self, id: &str, target: &str) -> Value {
        let (status, user) = self.get_json(&format!("/api/users/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        user["panes"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["target"] == target))
            .cloned()
            .expect("pane")
    }
}

impl Builder {
    pub fn with_max_upload(mut self, bytes: usize) -> Self {
        self.max_upload = bytes;
        self
    }

    /// Serves `targets` with `ops` instead of the demo sandbox's.
    pub fn with_targets(
        mut self,
        targets: Vec<userphoto_directory::config::Target>,
        ops: userphoto_bulk::ops::Ops,
    ) -> Self {
        self.targets = Some((targets, ops));
        self
    }

    /// Keeps folder imports' state in `dir` (as `serve` does).
    pub fn with_state_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// An app over `targets` (not the demo's) and no backups, when given.
    pub async fn build_with(
        self,
        targets: Option<Vec<userphoto_directory::config::Target>>,
    ) -> TestApp {
        match targets {
            Some(t) => {
                self.with_targets(t, userphoto_bulk::ops::Ops::none())
                    .build()
                    .await
            }
            None => self.build().await,
        }
    }

    pub async fn build(self) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(template(), dir.path());
        let demo = sandbox(Some(dir.path())).await.expect("demo sandbox");
        let options = ServerOptions::new(HOST.parse().expect("addr"))
            .with_demo(self.targets.is_none())
            .with_max_upload_bytes(self.max_upload)
            .with_state_dir(self.state_dir);
        let (targets, ops) = self
            .targets
            .unwrap_or_else(|| (demo.targets.clone(), demo.ops.clone()));
        let state = AppState::new(targets, ops, options);
        TestApp {
            router: router(state.clone()),
            state,
            demo,
            _dir: dir,
            cookie: None,
            csrf: None,
        }
    }
}

/// A GET with the right Host. A relative path (as the API hands them
/// out: relative to the page) is taken from the root; [`TestApp::authed`]
/// then moves it under the base path.
pub fn get(path: &str) -> Request<Body> {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .expect("request")
}

/// A photo of `w`×`h` pixels.
pub fn photo(w: u32, h: u32) -> Vec<u8> {
    userphoto_webui::demo::avatar_png("Test Person", 3, w, h).expect("png")
}

/// One seeded sandbox per test binary; each test works on a copy.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            std::thread::spawn(|| {
                let dir = tempfile::tempdir().expect("tempdir");
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime
                    .block_on(sandbox(Some(dir.path())))
                    .expect("seed the template sandbox");
                dir
            })
            .join()
            .expect("template thread")
        })
        .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
