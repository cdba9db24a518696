//! Shared by the Kerberos test binaries (`ldap_kerberos.rs`,
//! `ews_kerberos.rs`): the test realm's facts, and a private `krb5.conf`
//! and credential cache filled by `kinit` (the password on its stdin, in
//! the test only).
#![allow(dead_code, unreachable_pub)] // each test binary uses a part

use std::path::{Path, PathBuf};

/// What to do when the test server is missing.
pub const START_HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";

/// `KRB5_CONFIG`, `KRB5CCNAME` and `KRB5_KTNAME` are process-wide: the
/// tests of one binary take turns.
pub static KRB5_ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Kerberos facts of the Samba test domain.
#[derive(Debug, Clone)]
pub struct Realm {
    /// `CORP.EXAMPLE.TEST`.
    pub realm: String,
    /// `127.0.0.1:88`.
    pub kdc: String,
    /// The keys of `HTTP/localhost` (for the EWS emulator).
    pub http_keytab: PathBuf,
    /// The administrator's throwaway password.
    pub admin_password: String,
}

impl Realm {
    /// Loads the facts, panicking with how to start the server.
    pub fn load() -> Self {
        let facts = userphoto_testkit::servers::facts("samba", "AD")
            .unwrap_or_else(|e| panic!("the Samba test server: {e}; {START_HINT}"));
        let get = |k: &str| {
            facts
                .get(&format!("USERPHOTO_TEST_AD_{k}"))
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    panic!(
                        "USERPHOTO_TEST_AD_{k} is missing from the test environment; {START_HINT}"
                    )
                })
        };
        Realm {
            realm: get("REALM"),
            kdc: get("KDC"),
            http_keytab: PathBuf::from(get("HTTP_KEYTAB")),
            admin_password: get("ADMIN_PASSWORD"),
        }
    }

    /// `Administrator@REALM`.
    pub fn admin(&self) -> String {
        format!("Administrator@{}", self.realm)
    }
}

/// A private `krb5.conf` and credential cache, in force while alive
/// (hold [`KRB5_ENV`] meanwhile).
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// An empty cache and a `krb5.conf` naming the test realm's KDC.
    pub fn new(realm: &Realm) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = format!(
            "[libdefaults]\n default_realm = {r}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n[realms]\n {r} = {{\n  kdc = {kdc}\n }}\n",
            r = realm.realm,
            kdc = realm.kdc
        );
        std::fs::write(dir.path().join("krb5.conf"), conf).expect("write krb5.conf");
        std::env::set_var("KRB5_CONFIG", dir.path().join("krb5.conf"));
        std::env::set_var(
            "KRB5CCNAME",
            format!("FILE:{}", cache(dir.path()).display()),
        );
        Sandbox { dir }
    }

    /// Gets a ticket for `principal` with `kinit`, the password on stdin.
    pub fn kinit(&self, principal: &str, password: &str) {
        self.kinit_with(principal, password, &[]);
    }

    /// [`kinit`](Self::kinit) with extra arguments (`-l 2s`: a short life).
    pub fn kinit_with(&self, principal: &str, password: &str, args: &[&str]) {
        userphoto_testkit::kerberos::kinit(principal, password, args, &[]);
        assert!(cache(self.dir.path()).exists(), "kinit wrote no cache");
    }
}

fn cache(dir: &Path) -> PathBuf {
    dir.join("ccache")
}
