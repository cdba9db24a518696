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
    let secret = dir.join("svc-password");
    std::fs::write(&secret, var(vars, "SVC_PASSWORD")).expect("password file");
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n",
        var(vars, "URL"),
        var(vars, "TEST_OU"),
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
