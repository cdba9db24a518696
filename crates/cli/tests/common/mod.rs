//! Shared by the CLI tests that run the built binary against a directory
//! (`ad`, `ldap`, `m365`, `exchange`): a test server's facts, the `[ad]`
//! section bound as Samba's svc-photos, and a working folder with its
//! `userphoto.toml` in which `userphoto` runs with the secrets in its
//! environment.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// How to start the test servers, for the messages of tests that need one.
pub const START_HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";

/// The variable the `[ad]` section of [`ad_section`] reads its password from.
pub const AD_PASSWORD_VAR: &str = "USERPHOTO_CLI_TEST_AD_PASSWORD";

/// A test server's facts (`USERPHOTO_TEST_{PREFIX}_*`, from the
/// environment or `scripts/test-servers`' env file). A missing server or
/// fact fails the test saying how to start it — never a silent skip.
pub struct Facts {
    prefix: &'static str,
    hint: &'static str,
    vars: HashMap<String, String>,
}

impl Facts {
    /// The facts of `server` (`samba`, `slapd`); `what` names it in the
    /// failure, `hint` says how to start it.
    pub fn load(server: &str, prefix: &'static str, what: &str, hint: &'static str) -> Self {
        let vars = userphoto_testkit::servers::facts(server, prefix)
            .unwrap_or_else(|e| panic!("{what}: {e}; {hint}"));
        Facts { prefix, hint, vars }
    }

    /// The Samba AD DC of `scripts/test-servers up`.
    pub fn samba() -> Self {
        Facts::load("samba", "AD", "Samba AD test server", START_HINT)
    }

    /// Every fact, by its full variable name.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// `USERPHOTO_TEST_{PREFIX}_{key}`.
    pub fn get(&self, key: &str) -> &str {
        let name = format!("USERPHOTO_TEST_{}_{key}", self.prefix);
        self.vars
            .get(&name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{name} is missing; {}", self.hint))
    }
}

/// The `[ad]` section for Samba, bound as the least-privilege service
/// account; its password is read from [`AD_PASSWORD_VAR`].
pub fn ad_section(ad: &Facts) -> String {
    format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_env = \"{AD_PASSWORD_VAR}\"\nca_file = {:?}\n",
        ad.get("URL"),
        ad.get("TEST_OU"),
        ad.get("SVC_UPN"),
        ad.get("CA_FILE"),
    )
}

/// A working folder holding `userphoto.toml`, where the built `userphoto`
/// runs with the configuration's secrets in its environment.
pub struct Cli {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    unreachable: Option<String>,
}

impl Cli {
    /// `config` plus backups in `backups/` and the audit log in
    /// `audit.jsonl`; every run gets the variables of `env`.
    pub fn new(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config =
            format!("{config}\n[backup]\ndir = \"backups\"\n\n[audit]\npath = \"audit.jsonl\"\n");
        std::fs::write(dir.path().join("userphoto.toml"), config).expect("config");
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Cli {
            dir,
            env,
            unreachable: None,
        }
    }

    /// A run that exits 2 saying "cannot connect" fails the test with
    /// `message` (what is not reachable and how to start it), not as a
    /// wrong exit code.
    pub fn with_unreachable_message(mut self, message: impl Into<String>) -> Self {
        self.unreachable = Some(message.into());
        self
    }

    /// Sets a variable for every later run (a wrong secret, say).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The variables every run gets.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Runs `userphoto` (with `extra_env` on top); the exit code, stdout
    /// and stderr.
    pub fn output(
        &self,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> (Option<i32>, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_userphoto"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run userphoto");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `userphoto`, asserting the exit code; returns stdout.
    #[track_caller]
    pub fn run(&self, code: i32, args: &[&str]) -> String {
        let (got, stdout, stderr) = self.output(args, &[]);
        if let Some(message) = &self.unreachable {
            if got == Some(2) && stderr.contains("cannot connect") {
                panic!("{message}: {stderr}");
            }
        }
        assert_eq!(
            got,
            Some(code),
            "userphoto {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        stdout
    }

    /// Runs `userphoto --json`, asserting success; its JSON lines.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(0, &all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Writes a `w`×`h` PNG (red and green follow x and y, blue is `seed`)
    /// to `name`; its path.
    pub fn image(&self, name: &str, w: u32, h: u32, seed: u8) -> String {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
        });
        let path = self.path(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .expect("png");
        path.to_string_lossy().into_owned()
    }
}

/// Standard base64 (what LDIF uses), ignoring anything else.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &s)| acc | (u32::from(s) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}
