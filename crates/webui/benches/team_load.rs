//! Team mode under a realistic morning, on loopback, against the Samba AD
//! DC of `scripts/test-servers up`: 200 employees signed in at once
//! browsing their page, 20 of them uploading full-size camera photos at the
//! same moment (upload → preview → submit), and an approver working the
//! queue (list, approve each: written to Active Directory). Prints p50/p99
//! latency of the employee page and of the queue, uploads per second, the
//! peak RSS of the process (server and clients together), and the count of
//! requests lost or failed, beside the issue's targets.
//!
//! ```sh
//! export USERPHOTO_TEST_SERVERS_DIR=/work/test-servers; eval "$(scripts/test-servers env)"
//! cargo bench -p userphoto-webui --bench team_load
//! USERPHOTO_TEAM_BROWSERS=50 USERPHOTO_TEAM_UPLOADERS=5 cargo bench -p userphoto-webui --bench team_load
//! ```
//!
//! The employees are `ss-load-000`… in the self-service OU beside the test
//! OU (added once). The camera photo is `faces/kodim04.png` of the corpus
//! scaled to 3000×4000 (12 MP) and encoded as a JPEG at quality 92 (a plain
//! scene of that size without the corpus).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Config, TargetKind};
use userphoto_selfservice::signin::{Approvers, Limiter, SignIn};
use userphoto_selfservice::{Policy, Queue, SqliteStore};
use userphoto_webui::team::{serve, TeamOptions, TeamState};

const START_HINT: &str = "run scripts/test-servers up (see docs/TESTING.md), then run again";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn camera_photo() -> Vec<u8> {
    let corpus =
        userphoto_testkit::corpus::dir("faces/kodim04.png", "a real scene as the camera photo");
    let img = match corpus.and_then(|c| image::open(c.join("faces/kodim04.png")).ok()) {
        Some(img) => img
            .resize_exact(3000, 4000, image::imageops::FilterType::Triangle)
            .to_rgb8(),
        None => {
            let s = userphoto_testkit::fixtures::marker_scene(3000, 4000);
            image::RgbImage::from_raw(s.width, s.height, s.pixels).expect("scene")
        }
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .expect("jpeg");
    out
}

#[derive(Default)]
struct Tally {
    page: Mutex<Vec<Duration>>,
    queue: Mutex<Vec<Duration>>,
    signin: Mutex<Vec<Duration>>,
    upload: Mutex<Vec<Duration>>,
    failed: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut f = self.failures.lock().expect("lock");
        if f.len() < 10 {
            f.push(what);
        }
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Client {
    async fn sign_in(
        http: &reqwest::Client,
        base: &str,
        name: &str,
        password: &str,
    ) -> Result<Client, String> {
        let res = http
            .post(format!("{base}api/signin"))
            .header("origin", base.trim_end_matches('/'))
            .json(&serde_json::json!({"name": name, "password": password}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("sign-in of {name}: {}", res.status()));
        }
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or("no cookie")?
            .to_owned();
        let me: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
        Ok(Client {
            http: http.clone(),
            base: base.to_owned(),
            cookie,
            csrf: me["csrf"].as_str().unwrap_or_default().to_owned(),
        })
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, String> {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header("origin", self.base.trim_end_matches('/'))
    }

    /// The employee page's requests, at once as a browser sends them.
    async fn page(&self) -> Result<(), String> {
        let (me, mine, photo) = tokio::join!(
            self.get("api/me"),
            self.get("api/requests"),
            self.get("api/me/photo/ad")
        );
        for (what, r, ok404) in [
            ("me", me, false),
            ("requests", mine, false),
            ("photo", photo, true),
        ] {
            let r = r?;
            let s = r.status();
            let _ = r.bytes().await;
            if !(s.is_success() || (ok404 && s == reqwest::StatusCode::NOT_FOUND)) {
                return Err(format!("{what}: {s}"));
            }
        }
        Ok(())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let browsers = env_usize("USERPHOTO_TEAM_BROWSERS", 200);
    let uploaders = env_usize("USERPHOTO_TEAM_UPLOADERS", 20).min(browsers);
    let facts = userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"));
    let fact = |k: &str| {
        facts
            .get(&format!("USERPHOTO_TEST_AD_{k}"))
            .cloned()
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{k} is missing; {START_HINT}"))
    };
    let names = userphoto_testkit::servers::samba_selfservice_load_users(&facts, browsers);
    let ou = format!(
        "OU={},{}",
        userphoto_testkit::servers::SELFSERVICE_OU,
        fact("BASE_DN")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("admin-password");
    std::fs::write(&secret, fact("ADMIN_PASSWORD")).expect("secret");
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n",
        fact("URL"),
        ou,
        fact("ADMIN_UPN"),
        secret.display().to_string(),
        fact("CA_FILE")
    );
    let config = Config::parse(&text, &dir.path().join("userphoto.toml")).expect("config");
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
    )
    // Everyone signs in from 127.0.0.1 here; only failures count anyway.
    .with_limits(
        Limiter::new(5, Duration::from_secs(900)),
        Limiter::new(10_000, Duration::from_secs(900)),
    );
    let target = config.open(TargetKind::Ad).await.expect("ad target");
    let ops = Ops::new(
        BackupStore::new(dir.path().join("backups")),
        AuditLog::new(dir.path().join("audit.jsonl")),
    );
    let store = SqliteStore::open(&dir.path().join("requests.sqlite")).expect("store");
    let queue = Queue::new(Arc::new(store), Policy::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let local: SocketAddr = listener.local_addr().expect("addr");
    let state = TeamState::new(
        queue,
        signin,
        vec![target],
        ops,
        TeamOptions::loopback(local),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{local}/");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .expect("client");
    let password = fact("USER_PASSWORD");
    let photo = Arc::new(camera_photo());
    println!(
        "team_load: {browsers} employees browsing, {uploaders} uploading a {:.1} MB 12 MP camera photo, 1 approver; image work limited to {} at once (cores - 1)",
        photo.len() as f64 / 1e6,
        std::thread::available_parallelism()
            .map_or(2, usize::from)
            .saturating_sub(1)
            .max(1)
    );

    let tally = Arc::new(Tally::default());
    // Everyone signs in (20 at a time, as a morning's arrivals).
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(20));
    let mut joins = Vec::new();
    for name in names.clone() {
        let (http, base, password, gate, tally) = (
            http.clone(),
            base.clone(),
            password.clone(),
            gate.clone(),
            tally.clone(),
        );
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let t = Instant::now();
            match Client::sign_in(&http, &base, &name, &password).await {
                Ok(c) => {
                    tally.signin.lock().expect("lock").push(t.elapsed());
                    Some(c)
                }
                Err(e) => {
                    tally.fail(e);
                    None
                }
            }
        }));
    }
    let mut clients = Vec::new();
    for j in joins {
        if let Ok(Some(c)) = j.await {
            clients.push(Arc::new(c));
        }
    }
    println!(
        "sign-in: {} of {} in {:.1} s",
        clients.len(),
        names.len(),
        started.elapsed().as_secs_f64()
    );
    let approver = Client::sign_in(&http, &base, "ss-helper", &password)
        .await
        .expect("the approver signs in");

    let running = Arc::new(AtomicBool::new(true));
    let morning = Instant::now();
    // Browsing: each employee loads their page, thinks 250 ms, again.
    let mut browsing = Vec::new();
    for c in &clients {
        let c = Arc::clone(c);
        let (running, tally) = (running.clone(), tally.clone());
        browsing.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let t = Instant::now();
                match c.page().await {
                    Ok(()) => tally.page.lock().expect("lock").push(t.elapsed()),
                    Err(e) => tally.fail(format!("page: {e}")),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Uploads: the first `uploaders` employees, all at the same moment.
    let submitted = Arc::new(AtomicUsize::new(0));
    let upload_start = Instant::now();
    let mut uploading = Vec::new();
    for c in clients.iter().take(uploaders) {
        let c = Arc::clone(c);
        let (photo, tally, submitted) = (photo.clone(), tally.clone(), submitted.clone());
        uploading.push(tokio::spawn(async move {
            let t = Instant::now();
            let step = async {
                let up = c
                    .post("api/uploads")
                    .header("content-type", "application/octet-stream")
                    .body(photo.to_vec())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !up.status().is_success() {
                    return Err(format!("upload: {}", up.status()));
                }
                let up: serde_json::Value = up.json().await.map_err(|e| e.to_string())?;
                let preview = c.get(up["preview"].as_str().unwrap_or_default()).await?;
                let _ = preview.bytes().await;
                let sub = c
                    .post("api/requests")
                    .json(&serde_json::json!({"upload": up["id"], "crop": up["crop"]}))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !sub.status().is_success() {
                    return Err(format!("submit: {}", sub.status()));
                }
                Ok::<(), String>(())
            };
            match step.await {
                Ok(()) => {
                    submitted.fetch_add(1, Ordering::Relaxed);
                    tally.upload.lock().expect("lock").push(t.elapsed());
                }
                Err(e) => tally.fail(format!("upload: {e}")),
            }
        }));
    }
    // The approver: list the queue, approve what is there, until every
    // upload is approved (or five minutes pass).
    let approved = Arc::new(AtomicUsize::new(0));
    let approving = {
        let (tally, approved, submitted_c) = (tally.clone(), approved.clone(), submitted.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(300);
            while approved.load(Ordering::Relaxed) < uploaders && Instant::now() < deadline {
                let t = Instant::now();
                let list = match approver.get("api/queue").await {
                    Ok(r) if r.status().is_success() => {
                        r.json::<Vec<serde_json::Value>>().await.unwrap_or_default()
                    }
                    Ok(r) => {
                        tally.fail(format!("queue: {}", r.status()));
                        Vec::new()
                    }
                    Err(e) => {
                        tally.fail(e);
                        Vec::new()
                    }
                };
                tally.queue.lock().expect("lock").push(t.elapsed());
                for r in list.iter().filter(|r| r["state"] == "pending") {
                    let id = r["id"].as_i64().unwrap_or_default();
                    match approver
                        .post(&format!("api/queue/{id}/approve"))
                        .send()
                        .await
                    {
                        Ok(res) if res.status().is_success() => {
                            let done: serde_json::Value = res.json().await.unwrap_or_default();
                            if done["state"] == "approved" {
                                approved.fetch_add(1, Ordering::Relaxed);
                            } else {
                                tally.fail(format!("approve {id}: {}", done["reason"]));
                            }
                        }
                        Ok(res) => tally.fail(format!("approve {id}: {}", res.status())),
                        Err(e) => tally.fail(format!("approve {id}: {e}")),
                    }
                }
                if list.is_empty() && submitted_c.load(Ordering::Relaxed) >= uploaders {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    for u in uploading {
        let _ = u.await;
    }
    let upload_secs = upload_start.elapsed().as_secs_f64();
    let _ = approving.await;
    // Browse a little longer after the uploads, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    for b in browsing {
        let _ = b.await;
    }
    let morning_secs = morning.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = server.await;

    let sorted = |m: &Mutex<Vec<Duration>>| {
        let mut v = m.lock().expect("lock").clone();
        v.sort();
        v
    };
    let (page, queue, signin, upload) = (
        sorted(&tally.page),
        sorted(&tally.queue),
        sorted(&tally.signin),
        sorted(&tally.upload),
    );
    let done = submitted.load(Ordering::Relaxed);
    let approved = approved.load(Ordering::Relaxed);
    let lost = uploaders.saturating_sub(approved);
    let failed = tally.failed.load(Ordering::Relaxed);
    let rss = peak_rss_mb();
    println!("morning: {morning_secs:.1} s");
    println!(
        "employee page (3 requests at once): n={} p50 {} p99 {}   (target p99 <= 300 ms: {})",
        page.len(),
        ms(percentile(&page, 0.5)),
        ms(percentile(&page, 0.99)),
        if percentile(&page, 0.99) <= Duration::from_millis(300) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "approver queue: n={} p50 {} p99 {}",
        queue.len(),
        ms(percentile(&queue, 0.5)),
        ms(percentile(&queue, 0.99))
    );
    println!(
        "sign-in (bind as the employee): n={} p50 {} p99 {}",
        signin.len(),
        ms(percentile(&signin, 0.5)),
        ms(percentile(&signin, 0.99))
    );
    println!(
        "uploads: {done} of {uploaders} submitted in {upload_secs:.1} s = {:.2} uploads/s (each upload+preview+submit p50 {} p99 {})",
        done as f64 / upload_secs.max(f64::EPSILON),
        ms(percentile(&upload, 0.5)),
        ms(percentile(&upload, 0.99))
    );
    println!("approved and written to AD: {approved} of {uploaders}");
    println!(
        "peak RSS (server and clients in one process): {rss:.0} MB   (target <= 1024 MB: {})",
        if rss <= 1024.0 { "met" } else { "NOT met" }
    );
    println!("lost: {lost}   failed requests: {failed}   (target 0 and 0)");
    for f in tally.failures.lock().expect("lock").iter() {
        println!("  failure: {f}");
    }
}
