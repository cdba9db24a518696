//! A folder import started from the web UI journals like `userphoto
//! import`: the real server (`userphoto serve`, the built binary) is killed
//! by its PID in the middle of an import into the Samba AD DC, started
//! again, and the page's API offers the interrupted import and carries it
//! on. Every photo lands, and none is written twice.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use userphoto_testkit::servers::{samba_ldapsearch, SambaAccount};

use common::{ad_section, base64_decode, Cli, Facts, AD_PASSWORD_VAR};

/// Users of the test OU this test writes (no other test uses them).
const FIRST: u32 = 2200;
const USERS: u32 = 40;

/// `userphoto serve` running as a child, and a signed-in session with it.
struct Server {
    child: Child,
    address: String,
    /// The page's random base path (`/s/…`): the API lives under it.
    base: String,
    cookie: String,
    csrf: String,
}

impl Server {
    /// Starts `userphoto serve` in `env`'s folder and signs in with the
    /// one-time link it prints.
    fn start(env: &Cli) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_userphoto"));
        command
            .args(["--json", "serve", "--listen", "127.0.0.1:0", "--no-open"])
            .current_dir(env.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env.env() {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start userphoto serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the listening line");
        let listening: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not the listening line ({e}): {line}"));
        let address = listening["address"].as_str().expect("address").to_owned();
        let url = listening["url"].as_str().expect("url");
        let login = url.split_once(&address).map_or(url, |(_, p)| p).to_owned();
        let mut server = Server {
            child,
            address,
            base: String::new(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let (status, headers, _) = server.request("GET", &login, None);
        assert_eq!(status, 303, "the one-time link signs in");
        server.base = headers
            .get("location")
            .map(|l| l.trim_end_matches('/').to_owned())
            .expect("the sign-in redirects to the page");
        server.cookie = headers
            .get("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let (status, _, session) = server.request("GET", "/api/session", None);
        assert_eq!(status, 200, "{session}");
        server.csrf = session["csrf"].as_str().expect("csrf").to_owned();
        server
    }

    /// One HTTP/1.1 request on its own connection; the status, the
    /// headers (lower-case names) and the body as JSON (`null` if not).
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, HashMap<String, String>, Value) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let body = body.map(Value::to_string).unwrap_or_default();
        // The API is under the page's base path; the sign-in link is not.
        let path = if path.starts_with("/api/") {
            format!("{}{path}", self.base)
        } else {
            path.to_owned()
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        if !self.cookie.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", self.cookie));
        }
        if method != "GET" {
            head.push_str(&format!(
                "Origin: http://{}\r\nX-CSRF-Token: {}\r\nContent-Type: application/json\r\n",
                self.address, self.csrf
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("send");
        stream.write_all(body.as_bytes()).expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (
            status,
            headers,
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let (status, _, answer) = self.request("POST", path, Some(&body));
        assert_eq!(status, 200, "POST {path}: {answer}");
        answer
    }

    /// Waits for the report of import `id` (the run has finished).
    fn report(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, _, report) =
                self.request("GET", &format!("/api/imports/{id}/report"), None);
            if status == 200 {
                return report;
            }
            assert!(
                Instant::now() < deadline,
                "the import did not finish: {report}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the server by its PID, at once (no clean shutdown).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `set` lines of the audit log, per user name.
fn audit_sets(path: &Path) -> HashMap<String, Vec<String>> {
    let mut sets: HashMap<String, Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["action"] == "set" {
            let name = v["user_name"].as_str().unwrap_or_default().to_lowercase();
            let sha = v["new_sha256"].as_str().unwrap_or_default().to_owned();
            sets.entry(name).or_default().push(sha);
        }
    }
    sets
}

/// Each user's thumbnailPhoto digest, read back with `ldapsearch`.
fn photos_in_samba(samba: &Facts) -> HashMap<String, String> {
    let ldif = samba_ldapsearch(
        samba.vars(),
        SambaAccount::PhotoService,
        "(sAMAccountName=user22*)",
        &["sAMAccountName", "thumbnailPhoto"],
    );
    let mut out = HashMap::new();
    for entry in ldif.split("\n\n") {
        let name = entry
            .lines()
            .find_map(|l| l.strip_prefix("sAMAccountName: "))
            .map(str::to_lowercase);
        let photo = entry
            .lines()
            .find_map(|l| l.strip_prefix("thumbnailPhoto:: "))
            .map(base64_decode);
        if let (Some(name), Some(photo)) = (name, photo) {
            out.insert(name, userphoto_directory::sha256_hex(&photo));
        }
    }
    out
}

#[test]
fn a_web_import_stopped_with_the_server_is_carried_on_after_a_restart() {
    let samba = Facts::samba();
    let env = Cli::new(
        &ad_section(&samba),
        &[(AD_PASSWORD_VAR, samba.get("SVC_PASSWORD"))],
    );
    // Photos new to the DC on every run of this test: large enough that
    // preparing them takes a while, so the server dies mid-run.
    let run_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos());
    let hr = env.path("hr");
    std::fs::create_dir_all(&hr).expect("mkdir");
    for (i, n) in (FIRST..FIRST + USERS).enumerate() {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(1600, 1200, run_seed.wrapping_add(i as u32)),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(hr.join(format!("user{n}.jpg")), bytes).expect("photo");
    }

    let server = Server::start(&env);
    let plan = server.post("/api/imports", json!({"folder": hr}));
    assert_eq!(plan["counts"]["set"], USERS, "{plan}");
    let id = plan["id"].as_str().expect("id").to_owned();
    server.post(
        &format!("/api/imports/{id}/start"),
        json!({"confirm": false}),
    );
    // Killed once a few photos are in: mid-run, as a crash or a reboot.
    let audit = env.path("audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while audit_sets(&audit).values().map(Vec::len).sum::<usize>() < 3 {
        assert!(Instant::now() < deadline, "no photo was written");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    let before = audit_sets(&audit).values().map(Vec::len).sum::<usize>();
    assert!(
        before < USERS as usize,
        "the import finished before the server was stopped ({before} written); the test needs a slower run"
    );

    // Started again: the page is offered the interrupted import.
    let server = Server::start(&env);
    let (status, _, found) = server.request("GET", "/api/imports/interrupted", None);
    assert_eq!(status, 200, "{found}");
    let imports = found["imports"].as_array().expect("imports");
    let ours = imports
        .iter()
        .find(|i| {
            i["folder"]
                .as_str()
                .is_some_and(|f| Path::new(f).ends_with("hr"))
        })
        .unwrap_or_else(|| panic!("the interrupted import is offered: {found}"));
    assert_eq!(ours["writes"], USERS, "{ours}");
    let carry = server.post("/api/imports/resume", json!({"folder": ours["folder"]}));
    assert_eq!(carry["resumed"], true, "{carry}");
    let id = carry["id"].as_str().expect("id").to_owned();
    server.post(
        &format!("/api/imports/{id}/start"),
        json!({"confirm": false}),
    );
    let report = server.report(&id);
    assert_eq!(report["summary"]["failed"], 0, "{report}");
    assert_eq!(report["summary"]["not_done"], 0, "{report}");

    // Nothing more to carry on, every photo in place, none written twice.
    let (_, _, found) = server.request("GET", "/api/imports/interrupted", None);
    assert!(
        !found["imports"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["folder"] == ours["folder"])),
        "{found}"
    );
    drop(server);
    let sets = audit_sets(&audit);
    let in_samba = photos_in_samba(&samba);
    for n in FIRST..FIRST + USERS {
        let name = format!("user{n}");
        let written = sets.get(&name).cloned().unwrap_or_default();
        assert!(
            written.len() <= 1,
            "{name} was written {} times",
            written.len()
        );
        let now = in_samba
            .get(&name)
            .unwrap_or_else(|| panic!("{name} has no photo in Samba"));
        // The photo a write put there (one killed between the directory and
        // the audit log is found in place on the carry-on: not rewritten).
        if let Some(sha) = written.first() {
            assert_eq!(
                sha, now,
                "{name}: Samba holds another photo than the one written"
            );
        }
    }
    let total: usize = sets.values().map(Vec::len).sum();
    assert!(
        total >= USERS as usize - 1,
        "{total} of {USERS} writes in the audit log"
    );
}
