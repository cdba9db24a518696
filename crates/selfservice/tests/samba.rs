//! Self-service against the real Samba AD DC of `scripts/test-servers up`:
//! employees sign in by a bind as themselves (a wrong password, an unknown
//! name and an empty password all refused alike; failures rate-limited),
//! helpdesk group members are approvers, and an approved request lands in
//! `thumbnailPhoto` (checked with `ldapsearch`), backed up and audited
//! naming the approver.
//!
//! The fixtures live in an OU of their own beside the test OU (other
//! tests count the users in the test OU): `ss-employee`, `ss-other`,
//! `ss-helper` (a member of the group `ss-helpdesk`), all with the seeded
//! user password. svc-photos may write photos only in the test OU, so the
//! approval writes there as the domain administrator.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Config, TargetKind};
use userphoto_imaging::CropMode;
use userphoto_selfservice::signin::{Approvers, Limiter, SignIn, SignInError};
use userphoto_selfservice::{NewRequest, Policy, Queue, SqliteStore, State};

const START_HINT: &str =
    "run scripts/test-servers up (see docs/TESTING.md), then run the tests again";

fn facts() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"))
}

fn var<'a>(f: &'a HashMap<String, String>, key: &str) -> &'a str {
    f.get(&format!("USERPHOTO_TEST_AD_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {START_HINT}"))
}

fn ldap_tool(
    f: &HashMap<String, String>,
    tool: &str,
    args: &[&str],
    input: &str,
) -> (bool, String, String) {
    userphoto_testkit::servers::samba_admin_tool(f, tool, args, input)
}

fn ensure_fixtures(f: &HashMap<String, String>) -> String {
    userphoto_testkit::servers::samba_selfservice_fixtures(f)
}

/// The `[ad]` section over the fixture OU bound as `bind` (`SVC` or `ADMIN`).
fn config(dir: &std::path::Path, f: &HashMap<String, String>, ou: &str, bind: &str) -> Config {
    let secret = dir.join(format!("{bind}-password"));
    std::fs::write(&secret, var(f, &format!("{bind}_PASSWORD"))).expect("password file");
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n\
         [backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n[team]\napprover_group = {:?}\n",
        var(f, "URL"),
        ou,
        var(f, &format!("{bind}_UPN")),
        secret.display().to_string(),
        var(f, "CA_FILE"),
        format!("CN=ss-helpdesk,{ou}"),
    );
    Config::parse(&text, &dir.join("userphoto.toml")).expect("config")
}

async fn sign_in_service(dir: &std::path::Path) -> (SignIn, HashMap<String, String>) {
    let f = facts();
    let ou = ensure_fixtures(&f);
    let cfg = config(dir, &f, &ou, "SVC");
    let ad = cfg
        .open_ad_directory()
        .await
        .unwrap_or_else(|e| panic!("cannot open the Samba AD DC: {e}; {START_HINT}"))
        .expect("[ad]");
    let approvers = Approvers {
        group: cfg
            .file()
            .team
            .as_ref()
            .and_then(|t| t.approver_group.clone()),
        accounts: Vec::new(),
    };
    (SignIn::new(ad, approvers), f)
}

const HERE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn an_employee_signs_in_with_their_own_password_and_only_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (signin, f) = sign_in_service(dir.path()).await;
    let password = var(&f, "USER_PASSWORD");

    let sam = signin
        .sign_in("ss-employee", password, HERE)
        .await
        .expect("signs in");
    assert_eq!(sam.name, "ss-employee");
    assert_eq!(sam.display_name.as_deref(), Some("Sam Employee"));
    assert!(!sam.approver);
    // By UPN, any case: the same account.
    let upn = format!("SS-EMPLOYEE@{}", var(&f, "REALM").to_lowercase());
    assert_eq!(
        signin
            .sign_in(&upn, password, HERE)
            .await
            .expect("upn")
            .name,
        "ss-employee"
    );

    let helper = signin
        .sign_in("ss-helper", password, HERE)
        .await
        .expect("helper");
    assert!(helper.approver, "a member of the helpdesk group approves");

    let wrong = signin.sign_in("ss-other", "not-the-password", HERE).await;
    let unknown = signin.sign_in("ss-nobody", password, HERE).await;
    let empty = signin.sign_in("ss-other", "", HERE).await;
    let filter = signin.sign_in("ss-*", password, HERE).await;
    let mut messages = Vec::new();
    for r in [wrong, unknown, empty, filter] {
        match r {
            Err(e @ SignInError::Refused) => messages.push(e.to_string()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    messages.dedup();
    assert_eq!(
        messages,
        vec!["the name or password is not right"],
        "never which part"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_per_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (signin, f) = sign_in_service(dir.path()).await;
    let signin = signin.with_limits(
        Limiter::new(2, Duration::from_secs(60)),
        Limiter::new(4, Duration::from_secs(60)),
    );
    let password = var(&f, "USER_PASSWORD");
    let elsewhere: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    for _ in 0..2 {
        assert!(matches!(
            signin.sign_in("ss-other", "wrong", HERE).await,
            Err(SignInError::Refused)
        ));
    }
    // The account is locked even with the right password, from anywhere.
    assert!(matches!(
        signin.sign_in("ss-other", password, elsewhere).await,
        Err(SignInError::TooMany { .. })
    ));
    // Another account from the same address still works, until the
    // address has used up its own allowance.
    signin
        .sign_in("ss-employee", password, HERE)
        .await
        .expect("employee");
    for name in ["ss-x1", "ss-x2"] {
        assert!(matches!(
            signin.sign_in(name, "wrong", HERE).await,
            Err(SignInError::Refused)
        ));
    }
    assert!(matches!(
        signin.sign_in("ss-employee", password, HERE).await,
        Err(SignInError::TooMany { .. })
    ));
    signin
        .sign_in("ss-employee", password, elsewhere)
        .await
        .expect("other address");
}

#[tokio::test]
async fn an_approved_request_lands_in_thumbnail_photo_backed_up_and_audited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = facts();
    let ou = ensure_fixtures(&f);
    let cfg = config(dir.path(), &f, &ou, "ADMIN");
    let target = cfg
        .open(TargetKind::Ad)
        .await
        .unwrap_or_else(|e| panic!("cannot open the Samba AD DC: {e}; {START_HINT}"));
    let ops = Ops::new(
        BackupStore::new(dir.path().join("backups")),
        AuditLog::new(dir.path().join("audit.jsonl")),
    );
    let store = SqliteStore::open(&dir.path().join("requests.sqlite")).expect("store");
    let queue = Queue::new(Arc::new(store), Policy::default());
    // Photos that differ on every run, so no write is ever "unchanged".
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos());
    let mut audit = Vec::new();
    for round in 0..2u32 {
        let photo = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(400, 400, seed.wrapping_add(round)),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        let r = queue
            .submit(NewRequest {
                user: "ss-employee".into(),
                display_name: Some("Sam Employee".into()),
                photo,
                crop: CropMode::Auto,
            })
            .await
            .expect("submit")
            .request;
        let done = queue
            .approve(r.id, "ss-helper", std::slice::from_ref(&target), &ops)
            .await
            .expect("approve");
        assert_eq!(done.state, State::Approved, "{:?}", done.reason);
        assert_eq!(done.outcome, vec!["ad: done"]);
        audit = AuditLog::new(dir.path().join("audit.jsonl"))
            .read()
            .expect("audit");
        assert_eq!(audit.len(), round as usize + 1);
    }
    for line in &audit {
        assert_eq!(line.approved_by.as_deref(), Some("ss-helper"));
        assert_eq!(line.user_name.as_deref(), Some("ss-employee"));
    }
    // The second approval replaced the first photo: it was kept first.
    let second = &audit[1];
    assert_eq!(second.old_sha256, audit[0].new_sha256);
    let kept = second
        .backup
        .as_deref()
        .expect("a backup of the replaced photo");
    let kept = std::fs::read(dir.path().join("backups").join(kept)).expect("backup file");
    assert_eq!(
        Some(userphoto_directory::sha256_hex(&kept)),
        audit[0].new_sha256
    );
    let new = second.new_sha256.clone().expect("new digest");

    // ldapsearch, not our LDAP code, reads the thumbnail back.
    let (ok, out, err) = ldap_tool(
        &f,
        "ldapsearch",
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            &format!("CN=ss-employee,{ou}"),
            "-s",
            "base",
            "thumbnailPhoto",
        ],
        "",
    );
    assert!(ok, "ldapsearch: {err}");
    let b64 = out
        .lines()
        .find_map(|l| l.strip_prefix("thumbnailPhoto:: "))
        .expect("a thumbnail");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(userphoto_directory::sha256_hex(&bytes), new);
}
