//! `auth = "kerberos"` through the built binary, against the Samba AD DC
//! and its KDC (`scripts/test-servers up`; these FAIL, with that
//! instruction, when it is not running).
//!
//! The working folder's `userphoto.toml` has `auth = "kerberos"` and no
//! bind DN or password; the ticket comes from `kinit` (the test's password
//! on its stdin) into a credential cache of the test's own, named by
//! `KRB5CCNAME` with a `krb5.conf` of its own (`KRB5_CONFIG`). What it
//! proves: `detect` signs in, `users` lists, `set` / `get` / `remove` work
//! on a user of the test's own OU (made by `ldapadd`, idempotently); with
//! an empty cache every command says to run kinit.
//!
//! Without the `kerberos` feature (Unix) the binary refuses the section
//! saying how to build it; that is what runs then.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC and its KDC, Linux test servers of scripts/test-servers
// (docs/TESTING.md, "Windows under Wine"), and a Windows domain logon that Wine has
// not got. The Linux run covers it.
#![cfg(not(windows))]

mod common;

#[cfg(any(feature = "kerberos", windows))]
use std::io::Write as _;
#[cfg(any(feature = "kerberos", windows))]
use std::process::{Command, Stdio};

#[cfg(any(feature = "kerberos", windows))]
use common::START_HINT;
use common::{Cli, Facts};

/// The test's own OU and user (not the shared test OU, whose users other
/// tests count); the same as `crates/directory/tests/ldap_kerberos.rs`.
const OU: &str = "userphoto-kerberos";
#[cfg(any(feature = "kerberos", windows))]
const USER: &str = "krb-photo-target";

fn section(ad: &Facts) -> String {
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = \"OU={OU},{}\"\nca_file = {:?}\nauth = \"kerberos\"\n",
        ad.get("URL"),
        ad.get("BASE_DN"),
        ad.get("CA_FILE"),
    );
    assert!(!text.to_ascii_lowercase().contains("password"), "{text}");
    text
}

#[cfg(not(any(feature = "kerberos", windows)))]
#[test]
fn without_the_feature_the_section_is_refused_with_how_to_build_it() {
    let ad = Facts::samba();
    let cli = Cli::new(&section(&ad), &[]);
    let (code, _, stderr) = cli.output(&["users"], &[]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--features kerberos"), "{stderr}");
}

#[cfg(any(feature = "kerberos", windows))]
/// Makes the OU and the user as the administrator (test set-up, through
/// OpenLDAP's `ldapadd`; `-c` goes on past "already exists").
fn ensure_user(ad: &Facts) {
    let base = ad.get("BASE_DN");
    let ldif = format!(
        "dn: OU={OU},{base}\nobjectClass: organizationalUnit\nou: {OU}\n\ndn: CN={USER},OU={OU},{base}\nobjectClass: user\ncn: {USER}\nsAMAccountName: {USER}\n"
    );
    let mut child = Command::new("ldapadd")
        .args([
            "-x",
            "-c",
            "-H",
            ad.get("URL"),
            "-D",
            ad.get("ADMIN_DN"),
            "-w",
            ad.get("ADMIN_PASSWORD"),
        ])
        .env("LDAPTLS_CACERT", ad.get("CA_FILE"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run ldapadd ({e}); {START_HINT}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ldif.as_bytes())
        .expect("write the LDIF");
    let out = child.wait_with_output().expect("ldapadd");
    // 0: added; 68: already there (with -c the exit code is the last one).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("Already exists"),
        "ldapadd: {stderr}"
    );
}

/// A `krb5.conf` for the test realm and an empty credential cache, as the
/// variables a run gets.
#[cfg(any(feature = "kerberos", windows))]
fn krb5_env(ad: &Facts, dir: &std::path::Path) -> Vec<(String, String)> {
    let realm = ad.get("REALM");
    let conf = format!(
        "[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 1\n[realms]\n {realm} = {{\n  kdc = {}\n }}\n",
        ad.get("KDC")
    );
    std::fs::write(dir.join("krb5.conf"), conf).expect("krb5.conf");
    vec![
        (
            "KRB5_CONFIG".into(),
            dir.join("krb5.conf").to_string_lossy().into_owned(),
        ),
        (
            "KRB5CCNAME".into(),
            format!("FILE:{}", dir.join("ccache").display()),
        ),
    ]
}

/// `kinit principal` with the password on stdin, in `env`.
#[cfg(any(feature = "kerberos", windows))]
fn kinit(env: &[(String, String)], principal: &str, password: &str) {
    userphoto_testkit::kerberos::kinit(principal, password, &[], env);
}

#[cfg(any(feature = "kerberos", windows))]
#[test]
fn with_a_ticket_and_no_password_users_set_get_remove_work() {
    let ad = Facts::samba();
    ensure_user(&ad);
    let krb = tempfile::tempdir().expect("tempdir");
    let env = krb5_env(&ad, krb.path());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cli = Cli::new(&section(&ad), &env_refs).with_unreachable_message(format!(
        "the Samba AD test server is not reachable; {START_HINT}"
    ));

    // No ticket yet: the documented message, for any command.
    let (code, _, stderr) = cli.output(&["users"], &[]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("no usable Kerberos ticket"), "{stderr}");
    assert!(
        stderr.contains(&format!("kinit your-name@{}", ad.get("REALM"))),
        "{stderr}"
    );

    kinit(
        &env,
        &format!("Administrator@{}", ad.get("REALM")),
        ad.get("ADMIN_PASSWORD"),
    );
    let detect = cli.json(&["detect"]);
    let line = detect
        .iter()
        .find(|l| l["target"] == "ad")
        .expect("ad line");
    assert_eq!(line["authenticated"].as_bool(), Some(true), "{line}");

    let users = cli.json(&["users"]);
    assert!(users.iter().any(|u| u["name"] == USER), "{users:?}");

    let img = cli.image("photo.png", 300, 300, 7);
    let set = cli.json(&["set", USER, &img, "--target", "ad"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    let sha = set[0]["new_sha256"].as_str().expect("sha").to_owned();
    let got = cli.json(&["get", USER, "--target", "ad", "--out", "got.jpg"]);
    assert_eq!(got[0]["state"], "photo", "{got:?}");
    assert_eq!(got[0]["sha256"], sha.as_str());
    let removed = cli.json(&["remove", USER, "--target", "ad"]);
    assert_eq!(removed[0]["status"], "done", "{removed:?}");
    let got = cli.json(&["get", USER, "--target", "ad"]);
    assert_ne!(got[0]["state"], "photo", "{got:?}");

    // The audit log says who acted: the ticket, not "anonymous".
    let audit = std::fs::read_to_string(cli.path("audit.jsonl")).expect("audit");
    assert!(
        audit.contains("the Kerberos ticket of local user"),
        "{audit}"
    );
    assert!(!audit.contains("anonymous"), "{audit}");

    let config = std::fs::read_to_string(cli.path("userphoto.toml")).expect("config");
    assert!(!config.contains(ad.get("ADMIN_PASSWORD")));
    assert!(
        !config.to_ascii_lowercase().contains("password"),
        "{config}"
    );
}
