//! Shared by the LDAP test binaries (`ldap_*.rs`): the one typed test
//! environment, loaded from the env file `scripts/test-servers` writes (or
//! from the same variables exported in the environment), and a few helpers.
//!
//! A missing server is a **failure** with instructions, never a skip: a test
//! run that silently skipped the real-server tests would prove nothing.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part

use std::path::PathBuf;

use secrecy::SecretString;
use userphoto_directory::ldap::{LdapDirectory, LdapDirectoryBuilder};

/// What to do when the test server is missing.
pub const START_HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";

/// The Samba AD DC the tests run against (the `USERPHOTO_TEST_AD_*` facts).
#[derive(Debug, Clone)]
pub struct AdTestEnv {
    pub url: String,
    pub base_dn: String,
    pub test_ou: String,
    pub ca_file: PathBuf,
    pub admin_dn: String,
    pub admin_password: String,
    pub svc_upn: String,
    pub svc_dn: String,
    pub svc_password: String,
    pub user_password: String,
    pub user_count: usize,
}

impl AdTestEnv {
    /// Loads the Samba facts: from `USERPHOTO_TEST_AD_*` variables when
    /// `USERPHOTO_TEST_AD_URL` is set, else from the env file.
    pub fn load() -> Result<Self, String> {
        let vars = userphoto_testkit::servers::facts("samba", "AD")
            .map_err(|e| format!("the test server: {e}; {START_HINT}"))?;
        let get = |key: &str| -> Result<String, String> {
            vars.get(&format!("USERPHOTO_TEST_AD_{key}"))
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| {
                    format!("USERPHOTO_TEST_AD_{key} is missing from the test environment; {START_HINT}")
                })
        };
        Ok(AdTestEnv {
            url: get("URL")?,
            base_dn: get("BASE_DN")?,
            test_ou: get("TEST_OU")?,
            ca_file: PathBuf::from(get("CA_FILE")?),
            admin_dn: get("ADMIN_DN")?,
            admin_password: get("ADMIN_PASSWORD")?,
            svc_upn: get("SVC_UPN")?,
            svc_dn: get("SVC_DN")?,
            svc_password: get("SVC_PASSWORD")?,
            user_password: get("USER_PASSWORD")?,
            user_count: get("USER_COUNT")?
                .parse()
                .map_err(|e| format!("USERPHOTO_TEST_AD_USER_COUNT is not a number ({e})"))?,
        })
    }

    /// Like [`load`](Self::load), panicking with the instructions.
    pub fn ad() -> Self {
        let env = Self::load().unwrap_or_else(|e| panic!("Samba AD test server: {e}"));
        let host = url::Url::parse(&env.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        userphoto_directory::conformance::require_local_host(&host);
        env
    }

    /// A builder for the domain, bound as the least-privilege service
    /// account (may write only `thumbnailPhoto` below the test OU).
    pub fn svc(&self) -> LdapDirectoryBuilder {
        LdapDirectory::builder()
            .url(&self.url)
            .base_dn(&self.base_dn)
            .ca_file(&self.ca_file)
            .bind_dn(&self.svc_upn)
            .password(SecretString::from(self.svc_password.clone()))
            .password_source("USERPHOTO_TEST_AD_SVC_PASSWORD")
    }

    /// The service account, searching only the test OU.
    pub fn svc_in_test_ou(&self) -> LdapDirectoryBuilder {
        self.svc().base_dn(&self.test_ou)
    }

    /// A builder bound as the domain administrator.
    pub fn admin(&self) -> LdapDirectoryBuilder {
        LdapDirectory::builder()
            .url(&self.url)
            .base_dn(&self.base_dn)
            .ca_file(&self.ca_file)
            .bind_dn(&self.admin_dn)
            .password(SecretString::from(self.admin_password.clone()))
    }

    /// The `host:port` of the LDAPS URL.
    pub fn ldaps_addr(&self) -> String {
        let u = url::Url::parse(&self.url).unwrap_or_else(|e| panic!("{}: {e}", self.url));
        format!(
            "{}:{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(636)
        )
    }
}

/// Builds and connects, panicking with the start hint when the server is
/// not reachable.
pub async fn connect(builder: LdapDirectoryBuilder) -> LdapDirectory {
    match builder.build().await {
        Ok(dir) => dir,
        Err(e) if e.is_transient() => {
            panic!("the Samba AD test server is not reachable: {e}; {START_HINT}")
        }
        Err(e) => panic!("connecting to the test server failed: {e}"),
    }
}
