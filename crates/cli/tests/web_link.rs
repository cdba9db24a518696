//! A new sign-in link without a restart: the real server (the built
//! binary, `userphoto serve` over a `[folder]` target and `userphoto
//! demo`) prints a one-time link; it is spent; `serve --link` / `demo
//! --link` asks the running server for a fresh one, which signs in once.
//! With no server running, `--link` says so and how to start one.

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::Cli;

/// A server started as a child; killed by its PID when dropped.
struct Running {
    child: Child,
    address: String,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, args: &[&str], env: &[(String, String)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_userphoto"));
    command
        .arg("--json")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--no-open"])
        .current_dir(dir)
        .env_remove("USERPHOTO_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("start the server");
    // Owned at once, so every way out of here stops it by its PID.
    let mut running = Running {
        child,
        address: String::new(),
        url: String::new(),
    };
    let stdout = running.child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read stdout");
        assert!(read > 0, "the server ended before saying where it listens");
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["type"] == "listening" {
            running.address = v["address"].as_str().expect("address").to_owned();
            running.url = v["url"].as_str().expect("url").to_owned();
            return running;
        }
    }
}

/// `GET path` on its own connection: the status and headers.
fn get(address: &str, path: &str, cookie: Option<&str>) -> (u16, HashMap<String, String>) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let text = String::from_utf8_lossy(&answer);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
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
    (status, headers)
}

/// Signs in with `url` (the path after the address): the session works.
fn sign_in(server: &Running, url: &str) {
    let path = url.split_once(&server.address).map_or(url, |(_, p)| p);
    let (status, headers) = get(&server.address, path, None);
    assert_eq!(status, 303, "the link {url} signs in");
    let base = headers["location"].trim_end_matches('/').to_owned();
    let cookie = headers["set-cookie"]
        .split(';')
        .next()
        .expect("a cookie")
        .to_owned();
    let (status, _) = get(
        &server.address,
        &format!("{base}/api/session"),
        Some(&cookie),
    );
    assert_eq!(status, 200, "the session of {url} works");
    // Spent: the same link again is refused.
    let (status, _) = get(&server.address, path, None);
    assert_eq!(status, 401, "the link {url} works once");
}

/// Runs `userphoto --json <args>` in `dir`; the exit code, stdout, stderr.
fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_userphoto"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("USERPHOTO_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run userphoto");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The link `--link` printed (JSON).
fn new_link(dir: &Path, args: &[&str], env: &[(String, String)]) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(dir, &all, env);
    assert_eq!(code, Some(0), "{args:?}: {stdout}\n{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["type"], "link", "{line}");
    line["url"].as_str().expect("url").to_owned()
}

#[test]
fn serve_link_gives_a_fresh_one_time_link_from_the_running_server() {
    let env = Cli::new("[folder]\npath = \"dir\"\n", &[]);
    std::fs::create_dir_all(env.path("dir")).expect("mkdir");
    std::fs::write(
        env.path("dir/users.csv"),
        "id,sam_account_name,display_name\nu1,ann,Ann\n",
    )
    .expect("users.csv");

    // Nobody is running: a clear error naming the data folder and the fix.
    let (code, _, stderr) = run(env.dir.path(), &["serve", "--link"], env.env());
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("no userphoto serve is running for")
            && stderr.contains("start it with `userphoto serve`"),
        "{stderr}"
    );

    let server = start(env.dir.path(), &["serve"], env.env());
    sign_in(&server, &server.url);
    // The control file is private: only the user can ask for links.
    let control = std::fs::read_dir(env.dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n == "serve-control.json"))
        .expect("serve-control.json in the data folder");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&control)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{}", control.display());
    }

    let fresh = new_link(env.dir.path(), &["serve", "--link"], env.env());
    assert_ne!(fresh, server.url);
    sign_in(&server, &fresh);
    // Each request makes another.
    let again = new_link(env.dir.path(), &["serve", "--link"], env.env());
    assert_ne!(again, fresh);
    sign_in(&server, &again);

    // A killed server leaves its file behind: `--link` still says nobody
    // is running rather than failing obscurely.
    drop(server);
    assert!(control.exists(), "the kill left the file (the stale case)");
    let (code, _, stderr) = run(env.dir.path(), &["serve", "--link"], env.env());
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("no userphoto serve is running for"),
        "{stderr}"
    );
}

#[test]
fn demo_link_reaches_the_running_demo_in_its_sandbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = dir.path().join("sandbox");
    let sandbox_arg = sandbox.to_string_lossy().into_owned();
    let (code, _, stderr) = run(dir.path(), &["demo", "--link", "--data", &sandbox_arg], &[]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("no userphoto demo is running for")
            && stderr.contains(&format!(
                "start it with `userphoto demo --data {sandbox_arg}`"
            )),
        "{stderr}"
    );
    let server = start(dir.path(), &["demo", "--data", &sandbox_arg], &[]);
    sign_in(&server, &server.url);
    let fresh = new_link(dir.path(), &["demo", "--link", "--data", &sandbox_arg], &[]);
    sign_in(&server, &fresh);
}
