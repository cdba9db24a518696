//! The Samba AD DC of `scripts/test-servers up`, for the import tests:
//! its facts, the `ad` target bound as svc-photos, and `ldapsearch` as the
//! administrator to check the server independently of our LDAP code.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use userphoto_directory::config::{Config, Target, TargetKind};
use userphoto_directory::{DirectoryExt as _, UserKey};
use userphoto_testkit::servers::{samba_ldapsearch, SambaAccount};

use super::Counting;

pub const START_HINT: &str =
    "run scripts/test-servers up (see docs/TESTING.md), then run the tests again";

/// The Samba facts, from `USERPHOTO_TEST_AD_*` or the env file.
pub fn ad_vars() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"))
}

pub fn var<'a>(vars: &'a HashMap<String, String>, key: &str) -> &'a str {
    vars.get(&format!("USERPHOTO_TEST_AD_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {START_HINT}"))
}

/// The `ad` target bound as svc-photos, wrapped to count writes.
pub async fn ad_target(dir: &Path, vars: &HashMap<String, String>) -> (Target, Arc<Counting>) {
    ad_target_in(dir, vars, var(vars, "TEST_OU")).await
}

/// [`ad_target`] with its base at `base_dn`.
pub async fn ad_target_in(
    dir: &Path,
    vars: &HashMap<String, String>,
    base_dn: &str,
) -> (Target, Arc<Counting>) {
    let secret = dir.join("svc-password");
    std::fs::write(&secret, var(vars, "SVC_PASSWORD")).expect("password file");
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n",
        var(vars, "URL"),
        base_dn,
        var(vars, "SVC_UPN"),
        secret.display().to_string(),
        var(vars, "CA_FILE"),
    );
    let config = Config::parse(&text, &dir.join("userphoto.toml")).expect("config");
    let target = config
        .open(TargetKind::Ad)
        .await
        .unwrap_or_else(|e| panic!("cannot open the Samba AD DC: {e}; {START_HINT}"));
    let counting = Arc::new(Counting::new(Arc::clone(&target.directory)));
    let wrapped = Target {
        directory: counting.clone(),
        ..target
    };
    (wrapped, counting)
}

/// `uSNChanged` of each user, read with `ldapsearch` as the administrator
/// (independently of our LDAP code).
pub fn usn_changed(vars: &HashMap<String, String>, users: &[String]) -> HashMap<String, String> {
    let filter = format!(
        "(|{})",
        users
            .iter()
            .map(|u| format!("(sAMAccountName={u})"))
            .collect::<String>()
    );
    let text = samba_ldapsearch(
        vars,
        SambaAccount::Admin,
        &filter,
        &["sAMAccountName", "uSNChanged"],
    );
    let mut map = HashMap::new();
    for block in text.split("\n\n") {
        let get = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(str::to_owned)
        };
        if let (Some(name), Some(usn)) = (get("sAMAccountName"), get("uSNChanged")) {
            map.insert(name, usn);
        }
    }
    map
}

/// Removes the photos of `names` so a test starts from a known state.
pub async fn clear(target: &Target, names: &[String]) {
    for n in names {
        let user = target
            .directory
            .find_user(UserKey::SamAccountName, n)
            .await
            .expect("seeded user");
        target
            .directory
            .remove_photo(&user)
            .await
            .expect("clear photo");
    }
}

/// Adds the OU `name` beside the test OU (not inside it: tests count the
/// users there) and the users `(sAMAccountName, UPN, mail)` in it, as the
/// administrator, with OpenLDAP's `ldapadd -c` (what is already there is
/// left as it is): fixtures some tests need besides the seeded users. The
/// OU's DN.
pub fn ensure_users(
    vars: &HashMap<String, String>,
    name: &str,
    users: &[(&str, &str, &str)],
) -> String {
    let ou = format!("OU={name},{}", var(vars, "BASE_DN"));
    let ldif: String = std::iter::once(format!(
        "dn: {ou}\nobjectClass: organizationalUnit\nou: {name}\n\n"
    ))
    .chain(users
        .iter()
        .map(|(sam, upn, mail)| {
            format!(
                "dn: CN={sam},{ou}\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {upn}\nmail: {mail}\ndisplayName: {sam}\n\n"
            )
        }))
        .collect();
    let mut child = std::process::Command::new("ldapadd")
        .env("LDAPTLS_CACERT", var(vars, "CA_FILE"))
        .args(["-x", "-c", "-H", var(vars, "URL")])
        .args([
            "-D",
            var(vars, "ADMIN_DN"),
            "-w",
            var(vars, "ADMIN_PASSWORD"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ldapadd cannot run ({e}); install ldap-utils"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(ldif.as_bytes()).expect("ldapadd input");
    }
    let out = child.wait_with_output().expect("ldapadd");
    let err = String::from_utf8_lossy(&out.stderr);
    // 68: the entry exists already (this test ran before).
    let unexpected = err
        .lines()
        .filter(|l| l.contains("ldap_add:") && !l.contains("Already exists"))
        .count();
    assert_eq!(unexpected, 0, "ldapadd: {err}");
    ou
}
