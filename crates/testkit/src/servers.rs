//! The facts `scripts/test-servers` publishes about a running test server
//! (URLs, DNs, passwords of throwaway accounts), read one way by every test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The env file `scripts/test-servers` writes for `server` (`samba`,
/// `slapd`): under `$USERPHOTO_TEST_SERVERS_DIR`, else `<repo>/.test-servers`.
pub fn env_file(server: &str) -> PathBuf {
    std::env::var_os("USERPHOTO_TEST_SERVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.test-servers"))
        .join(server)
        .join("env")
}

/// Every `USERPHOTO_TEST_<prefix>_*` fact: from the environment when
/// `USERPHOTO_TEST_<prefix>_URL` is set, else from `server`'s env file
/// (`KEY=value` lines, `#` comments). The error says which file could not
/// be read; callers add how to start the server.
pub fn facts(server: &str, prefix: &str) -> Result<HashMap<String, String>, String> {
    let wanted = format!("USERPHOTO_TEST_{prefix}_");
    if std::env::var_os(format!("{wanted}URL")).is_some() {
        return Ok(std::env::vars()
            .filter(|(k, _)| k.starts_with(&wanted))
            .collect());
    }
    let file = env_file(server);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("its env file {} cannot be read ({e})", file.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// Who [`samba_ldapsearch`] binds as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SambaAccount {
    /// The domain administrator (`ADMIN_DN`, `ADMIN_PASSWORD`).
    Admin,
    /// The least-privilege photo account (`SVC_UPN`, `SVC_PASSWORD`).
    PhotoService,
}

/// Searches the Samba AD DC of `facts` (the `USERPHOTO_TEST_AD_*` map of
/// [`facts`]) with OpenLDAP's `ldapsearch`, under `TEST_OU`, trusting
/// `CA_FILE`, bound as `account`; returns the LDIF (lines unwrapped). Tests
/// use it to check the server independently of our LDAP code.
///
/// # Panics
/// When a fact is missing, `ldapsearch` cannot run (install `ldap-utils`)
/// or fails (its stderr is in the message): this is a test helper.
pub fn samba_ldapsearch(
    facts: &HashMap<String, String>,
    account: SambaAccount,
    filter: &str,
    attributes: &[&str],
) -> String {
    let fact = |key: &str| -> &str {
        facts
            .get(&format!("USERPHOTO_TEST_AD_{key}"))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing"))
    };
    let (dn, password) = match account {
        SambaAccount::Admin => (fact("ADMIN_DN"), fact("ADMIN_PASSWORD")),
        SambaAccount::PhotoService => (fact("SVC_UPN"), fact("SVC_PASSWORD")),
    };
    let out = std::process::Command::new("ldapsearch")
        .env("LDAPTLS_CACERT", fact("CA_FILE"))
        .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", fact("URL")])
        .args(["-D", dn, "-w", password, "-b", fact("TEST_OU"), filter])
        .args(attributes)
        .output()
        .unwrap_or_else(|e| panic!("ldapsearch cannot run ({e}); install ldap-utils"));
    assert!(
        out.status.success(),
        "ldapsearch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The self-service fixtures' OU, beside the test OU (tests count the
/// users in the test OU, so nothing is added there).
pub const SELFSERVICE_OU: &str = "userphoto-selfservice";

/// Runs an OpenLDAP tool (`ldapadd`, `ldapsearch`, …) against the Samba
/// AD DC of `facts` as the administrator, trusting only the test CA, with
/// `input` on stdin; returns (success, stdout, stderr).
///
/// # Panics
/// When a fact is missing or the tool cannot run (install `ldap-utils`).
pub fn samba_admin_tool(
    facts: &HashMap<String, String>,
    tool: &str,
    args: &[&str],
    input: &str,
) -> (bool, String, String) {
    use std::io::Write as _;
    let fact = |key: &str| -> &str {
        facts
            .get(&format!("USERPHOTO_TEST_AD_{key}"))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing"))
    };
    let mut child = std::process::Command::new(tool)
        .env("LDAPTLS_CACERT", fact("CA_FILE"))
        .args(["-x", "-H", fact("URL"), "-D", fact("ADMIN_DN"), "-w"])
        .arg(fact("ADMIN_PASSWORD"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} cannot run ({e}); install ldap-utils"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for the ldap tool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes sure the self-service fixtures exist (added once; `ldapadd -c`
/// leaves what exists): the OU [`SELFSERVICE_OU`] beside the test OU, the
/// enabled accounts `ss-employee`, `ss-other`, `ss-helper` with the seeded
/// user password (`USER_PASSWORD`), and the group `ss-helpdesk` with
/// `ss-helper` in it. Returns the OU's DN.
///
/// # Panics
/// When `ldapadd` fails for another reason than "already exists".
pub fn samba_selfservice_fixtures(facts: &HashMap<String, String>) -> String {
    use base64::Engine as _;
    let fact = |key: &str| -> &str {
        facts
            .get(&format!("USERPHOTO_TEST_AD_{key}"))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing"))
    };
    let ou = format!("OU={SELFSERVICE_OU},{}", fact("BASE_DN"));
    let pwd: Vec<u8> = format!("\"{}\"", fact("USER_PASSWORD"))
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let pwd = base64::engine::general_purpose::STANDARD.encode(pwd);
    let realm = fact("REALM").to_lowercase();
    let mut ldif = format!("dn: {ou}\nobjectClass: organizationalUnit\nou: {SELFSERVICE_OU}\n\n");
    for (sam, display) in [
        ("ss-employee", "Sam Employee"),
        ("ss-other", "Olive Other"),
        ("ss-helper", "Hal Helpdesk"),
    ] {
        ldif.push_str(&format!(
            "dn: CN={sam},{ou}\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {sam}@{realm}\ndisplayName: {display}\nuserAccountControl: 512\nunicodePwd:: {pwd}\n\n"
        ));
    }
    ldif.push_str(&format!(
        "dn: CN=ss-helpdesk,{ou}\nobjectClass: group\nsAMAccountName: ss-helpdesk\nmember: CN=ss-helper,{ou}\n\n"
    ));
    let (_, _, err) = samba_admin_tool(facts, "ldapadd", &["-c"], &ldif);
    let unexpected: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("ldap_add:") && !l.contains("Already exists"))
        .collect();
    assert!(unexpected.is_empty(), "ldapadd: {err}");
    ou
}

/// Makes sure `n` load-test employees `ss-load-000`… exist in the
/// self-service OU (after [`samba_selfservice_fixtures`]), enabled, with
/// the seeded user password; added once. Returns their names.
///
/// # Panics
/// When `ldapadd` fails for another reason than "already exists".
pub fn samba_selfservice_load_users(facts: &HashMap<String, String>, n: usize) -> Vec<String> {
    use base64::Engine as _;
    let ou = samba_selfservice_fixtures(facts);
    let fact = |key: &str| -> &str {
        facts
            .get(&format!("USERPHOTO_TEST_AD_{key}"))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing"))
    };
    let pwd: Vec<u8> = format!("\"{}\"", fact("USER_PASSWORD"))
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let pwd = base64::engine::general_purpose::STANDARD.encode(pwd);
    let names: Vec<String> = (0..n).map(|i| format!("ss-load-{i:03}")).collect();
    let ldif: String = names
        .iter()
        .map(|sam| {
            format!(
                "dn: CN={sam},{ou}\nobjectClass: user\nsAMAccountName: {sam}\ndisplayName: Load {sam}\nuserAccountControl: 512\nunicodePwd:: {pwd}\n\n"
            )
        })
        .collect();
    let (_, _, err) = samba_admin_tool(facts, "ldapadd", &["-c"], &ldif);
    let unexpected: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("ldap_add:") && !l.contains("Already exists"))
        .collect();
    assert!(unexpected.is_empty(), "ldapadd: {err}");
    names
}
