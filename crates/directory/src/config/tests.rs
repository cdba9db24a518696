//! The configuration file: what is accepted, and what each mistake says.

use std::path::Path;

use super::*;
use crate::PhotoSlot;

fn parse(text: &str) -> Result<Config> {
    Config::parse(text, Path::new("/etc/userphoto/userphoto.toml"))
}

fn err(text: &str) -> String {
    parse(text).expect_err("must be refused").to_string()
}

const FULL: &str = r#"
[ad]
url = "ldaps://dc1.corp.example.com"
base_dn = "DC=corp,DC=example,DC=com"
bind_dn = "svc-photos@corp.example.com"
password_env = "USERPHOTO_AD_PASSWORD"
ca_file = "corp-ca.pem"

[m365]
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret_env = "USERPHOTO_M365_SECRET"
graph_url = "https://graph.microsoft.com"
login_url = "https://login.microsoftonline.com"

[exchange]
ews_url = "https://mail.corp.example.com/EWS/Exchange.asmx"
username = "CORP\\svc-photos"
password_file = "/run/secrets/ews"
auth = "ntlm"

[ldap]
url = "ldaps://ldap.example.org"
base_dn = "ou=people,dc=example,dc=org"
bind_dn = "cn=photo-writer,dc=example,dc=org"
password_env = "USERPHOTO_LDAP_PASSWORD"
user_filter = "(objectClass=inetOrgPerson)"
name_attribute = "uid"
photo_attribute = "jpegPhoto"
photo_size = 240
max_bytes = 65536

[folder]
path = "sandbox"
slot = "thumbnail"
listing_key = "upn"

[google]
key_file = "google-key.json"
subject = "admin@example.com"
requests_per_minute = 1200

[backup]
dir = "backups"

[audit]
path = "/var/log/userphoto/audit.jsonl"
"#;

#[test]
fn the_design_example_parses() {
    let config = parse(FULL).expect("valid");
    assert_eq!(config.configured(), TargetKind::ALL.to_vec());
    let ldap = config.file().ldap.as_ref().expect("ldap");
    assert_eq!(ldap.photo_size, Some(240));
    assert_eq!(
        config.backup_dir().expect("dir"),
        Path::new("/etc/userphoto/backups")
    );
    assert_eq!(
        config.audit_path().expect("audit"),
        Path::new("/var/log/userphoto/audit.jsonl")
    );
    assert_eq!(
        config.identity(TargetKind::Ad).as_deref(),
        Some("svc-photos@corp.example.com")
    );
    let folder = config.file().folder.as_ref().expect("folder");
    assert_eq!(folder.slot, Some(PhotoSlot::Thumbnail));
}

#[test]
fn an_empty_file_has_no_targets_and_default_locations() {
    let config = parse("").expect("valid");
    assert!(config.configured().is_empty());
    let dir = config.backup_dir().expect("default");
    assert!(dir.ends_with("backups"), "{}", dir.display());
    assert!(config
        .audit_path()
        .expect("default")
        .ends_with("audit.jsonl"));
}

#[test]
fn inline_password_is_refused_with_what_to_write() {
    let text = "[ad]\nurl = \"ldaps://dc\"\nbase_dn = \"DC=x\"\nbind_dn = \"svc\"\npassword = \"hunter2\"\n";
    let msg = err(text);
    assert!(
        msg.contains("/etc/userphoto/userphoto.toml, line 5"),
        "{msg}"
    );
    assert!(msg.contains("[ad] password"), "{msg}");
    assert!(
        msg.contains("password_env = \"USERPHOTO_AD_PASSWORD\""),
        "{msg}"
    );
    assert!(msg.contains("password_file"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn inline_client_secret_is_refused() {
    let msg = err("[m365]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"abc\"\n");
    assert!(
        msg.contains("client_secret_env = \"USERPHOTO_M365_SECRET\""),
        "{msg}"
    );
    assert!(!msg.contains("abc\""), "{msg}");
}

#[test]
fn unknown_keys_and_sections_are_named() {
    let msg = err("[folder]\npath = \"x\"\npaht = \"y\"\n");
    assert!(msg.contains("line 3 in [folder]"), "{msg}");
    assert!(msg.contains("paht"), "{msg}");
    assert!(msg.contains("correct its spelling"), "{msg}");

    let msg = err("[azure]\nx = 1\n");
    assert!(msg.contains("azure"), "{msg}");
}

#[test]
fn missing_and_mistyped_keys_are_named() {
    let msg = err("[ldap]\nurl = \"ldaps://x\"\nbind_dn = \"cn=a\"\npassword_env = \"P\"\n");
    assert!(msg.contains("base_dn"), "{msg}");
    assert!(msg.contains("[ldap]"), "{msg}");
    let msg = err("[folder]\npath = \"x\"\nphoto_size = \"big\"\n");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("check the value"), "{msg}");
}

#[test]
fn password_source_is_required_and_single() {
    let base = "[ad]\nurl = \"ldaps://dc\"\nbase_dn = \"DC=x\"\nbind_dn = \"svc\"\n";
    let msg = err(base);
    assert!(
        msg.contains("[ad] in /etc/userphoto/userphoto.toml has no password_env"),
        "{msg}"
    );
    let msg = err(&format!(
        "{base}password_env = \"A\"\npassword_file = \"b\"\n"
    ));
    assert!(msg.contains("both password_env and password_file"), "{msg}");
}

#[test]
fn values_are_checked() {
    let base = "[ad]\nbase_dn = \"DC=x\"\nbind_dn = \"svc\"\npassword_env = \"P\"\n";
    let msg = err(&format!("{base}url = \"dc1.corp\"\n"));
    assert!(msg.contains("must start with ldaps://"), "{msg}");
    let msg = err(&format!("{base}url = \"ldaps://dc\"\nmax_bytes = 200000\n"));
    assert!(msg.contains("write at most 102400"), "{msg}");
    let msg = err("[folder]\npath = \"x\"\nphoto_size = 5\n");
    assert!(msg.contains("photo_size = 5"), "{msg}");
    let msg =
        err("[exchange]\news_url = \"http://mail.corp\"\nusername = \"u\"\npassword_env = \"P\"\n");
    assert!(msg.contains("https://"), "{msg}");
    let msg = err("[folder]\npath = \"x\"\nslot = \"huge\"\n");
    assert!(msg.contains("line 3"), "{msg}");
    let msg = err(
        "[exchange]\news_url = \"https://mail.corp/EWS/Exchange.asmx\"\nusername = \"u\"\npassword_env = \"P\"\nauth = \"spnego\"\n",
    );
    assert!(msg.contains("line 5") && msg.contains("ntlm"), "{msg}");
}

#[test]
fn syntax_errors_name_the_line() {
    let msg = err("[folder]\npath = \"unterminated\n");
    assert!(msg.contains("userphoto.toml, line 2"), "{msg}");
}

#[test]
fn target_names_parse() {
    for kind in TargetKind::ALL {
        assert_eq!(kind.as_str().parse::<TargetKind>().ok(), Some(kind));
    }
    assert!("azure".parse::<TargetKind>().is_err());
}

#[test]
fn mode_follows_the_reachable_sides() {
    use TargetKind::*;
    assert_eq!(Mode::of([Ad]), Mode::OnPremises);
    assert_eq!(Mode::of([Ldap, Exchange]), Mode::OnPremises);
    assert_eq!(Mode::of([M365]), Mode::Cloud);
    assert_eq!(Mode::of([Ad, M365]), Mode::Hybrid);
    assert_eq!(Mode::of([Folder]), Mode::None);
    assert_eq!(Mode::of([]), Mode::None);
    assert_eq!(Mode::Hybrid.to_string(), "HYBRID");
}

#[tokio::test]
async fn a_missing_section_says_what_to_add() {
    let config = parse("").expect("valid");
    let e = config
        .open(TargetKind::Ad)
        .await
        .expect_err("not configured");
    let msg = e.to_string();
    assert!(msg.contains("the ad target is not configured"), "{msg}");
    assert!(
        msg.contains("add an [ad] section to /etc/userphoto/userphoto.toml"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_folder_target_opens_with_its_spec() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::folder::FolderDirectory::create(
        dir.path().join("sandbox"),
        [crate::User::new("u1").with_sam_account_name("a")],
    )
    .await
    .expect("create");
    let path = dir.path().join("userphoto.toml");
    std::fs::write(
        &path,
        "[folder]\npath = \"sandbox\"\nslot = \"thumbnail\"\n",
    )
    .expect("write");
    let config = Config::load(&path).expect("valid");
    let target = config.open(TargetKind::Folder).await.expect("open");
    assert_eq!(target.slot(), PhotoSlot::Thumbnail);
    assert_eq!((target.photo_size, target.budget_bytes), (96, 10 * 1024));
    assert!(target.identity.starts_with("local user "));
}

#[test]
fn google_needs_one_key_source_and_an_admin_subject() {
    let path = Path::new("/etc/userphoto/userphoto.toml");
    let e = Config::parse("[google]\nsubject = \"admin@x.test\"\n", path).expect_err("no key");
    assert!(e.to_string().contains("key_file"), "{e}");
    let e = Config::parse(
        "[google]\nkey_file = \"k.json\"\nkey_env = \"K\"\nsubject = \"admin@x.test\"\n",
        path,
    )
    .expect_err("two keys");
    assert!(e.to_string().contains("keep one"), "{e}");
    let e = Config::parse("[google]\nkey_env = \"K\"\nsubject = \"admin\"\n", path)
        .expect_err("not an e-mail");
    assert!(e.to_string().contains("Workspace admin"), "{e}");
    let e = Config::parse(
        "[google]\nkey_env = \"K\"\nsubject = \"a@x.test\"\nprivate_key = \"x\"\n",
        path,
    )
    .expect_err("inline key");
    assert!(!e.to_string().contains("\"x\""), "{e}");
    let ok =
        Config::parse("[google]\nkey_env = \"K\"\nsubject = \"a@x.test\"\n", path).expect("valid");
    assert_eq!(ok.configured(), vec![TargetKind::Google]);
    assert_eq!(
        TargetKind::Google.default_slot(),
        crate::PhotoSlot::Thumbnail
    );
    assert_eq!(
        "workspace".parse::<TargetKind>().ok(),
        Some(TargetKind::Google)
    );
}

#[test]
fn kerberos_sign_in_takes_no_bind_dn_or_password() {
    let base = "[ad]\nurl = \"ldaps://dc1.corp.example.com\"\nbase_dn = \"DC=corp,DC=example,DC=com\"\nauth = \"kerberos\"\n";
    for extra in [
        "bind_dn = \"svc\"\n",
        "password_env = \"P\"\n",
        "password_file = \"pw\"\n",
    ] {
        let msg = err(&format!("{base}{extra}"));
        assert!(msg.contains("auth = \"kerberos\""), "{msg}");
        assert!(msg.contains("remove bind_dn"), "{msg}");
    }
    match (parse(base), crate::ldap::KERBEROS_AVAILABLE) {
        (Ok(c), true) => {
            let ad = c.file.ad.expect("[ad]");
            assert_eq!(ad.auth, crate::ldap::LdapAuth::Kerberos);
            assert!(ad.read_password().expect("no password").is_none());
        }
        // A build without the feature says how to get one.
        (Err(e), false) => assert!(e.to_string().contains("--features kerberos"), "{e}"),
        (other, available) => panic!("Kerberos built in: {available}, yet {other:?}"),
    }
}

#[test]
fn exchange_kerberos_needs_no_password_and_takes_both_or_neither() {
    let ad =
        "[ad]\nurl = \"ldaps://dc1.corp.example.com\"\nbase_dn = \"DC=corp,DC=example,DC=com\"\n";
    let ex = "[exchange]\news_url = \"https://mail.corp.example.com/EWS/Exchange.asmx\"\nauth = \"kerberos\"\n";
    let msg = err(&format!("{ad}{ex}username = \"CORP\\\\svc\"\n"));
    assert!(msg.contains("NTLM fallback needs both"), "{msg}");
    match (
        parse(&format!("{ad}{ex}")),
        parse(&format!(
            "{ad}{ex}username = \"CORP\\\\svc\"\npassword_env = \"P\"\n"
        )),
        crate::ldap::KERBEROS_AVAILABLE,
    ) {
        (Ok(_), Ok(_), true) => {}
        (Err(a), Err(b), false) => {
            assert!(a.to_string().contains("--features kerberos"), "{a}");
            assert!(b.to_string().contains("--features kerberos"), "{b}");
        }
        (a, b, available) => panic!("Kerberos built in: {available}, yet {a:?} / {b:?}"),
    }
    // Without kerberos, a username and password stay required.
    let msg = err("[exchange]\news_url = \"https://mail.corp.example.com/EWS/Exchange.asmx\"\n");
    assert!(
        msg.contains("username") || msg.contains("password"),
        "{msg}"
    );
}

/// On Windows a config names folders with drive letters and backslashes
/// (TOML literal strings need no escaping); relative ones are taken from
/// the config file's folder, and `\x` from its drive.
#[cfg(windows)]
#[test]
fn windows_paths_keep_their_drive_and_relative_ones_follow_the_config() {
    let text = "[backup]\ndir = 'D:\\Photos\\backups'\n[audit]\npath = \"logs\\\\audit.jsonl\"\n";
    let config =
        Config::parse(text, Path::new(r"C:\ProgramData\userphoto\userphoto.toml")).expect("valid");
    assert_eq!(
        config.backup_dir().expect("dir"),
        Path::new(r"D:\Photos\backups")
    );
    assert_eq!(
        config.audit_path().expect("audit"),
        Path::new(r"C:\ProgramData\userphoto\logs\audit.jsonl")
    );
    let config = Config::parse(
        "[backup]\ndir = '\\Shared\\backups'\n",
        Path::new(r"C:\ProgramData\userphoto\userphoto.toml"),
    )
    .expect("valid");
    assert_eq!(
        config.backup_dir().expect("dir"),
        Path::new(r"C:\Shared\backups")
    );
}

/// On Windows the default data folder (audit log, backups, sign-ins) is
/// `%LOCALAPPDATA%\userphoto\data`: in the user's own profile, whose ACL
/// keeps other users out, and not in the roaming profile.
#[cfg(windows)]
#[test]
fn the_default_data_folder_is_under_localappdata() {
    let local = std::env::var_os("LOCALAPPDATA").expect("Windows sets LOCALAPPDATA");
    let profile = std::env::var_os("USERPROFILE").expect("Windows sets USERPROFILE");
    let want = Path::new(&local).join("userphoto").join("data");
    let config = parse("").expect("valid");
    assert_eq!(
        config.audit_path().expect("audit"),
        want.join("audit.jsonl")
    );
    assert_eq!(config.backup_dir().expect("dir"), want.join("backups"));
    assert_eq!(config.data_dir().expect("data"), want);
    assert!(
        want.starts_with(&profile),
        "{} is inside the profile {}",
        want.display(),
        Path::new(&profile).display()
    );
    if let Some(roaming) = std::env::var_os("APPDATA") {
        assert!(!want.starts_with(roaming), "not the roaming profile");
    }
}
