//! Parsing and checking `userphoto.toml`, with messages a person can act on.
//!
//! Why a module of its own: this is where text someone typed meets the
//! program. Every message names the file, the line where it can, the
//! section and the key, and says what to write instead. Secrets written
//! inline are caught here, before any typed parsing, so the message is
//! "secrets are never read from the file" rather than "unknown key".

use std::path::Path;

use super::sections::{ConfigFile, ExchangeSection, FolderSection, M365Section};
use super::SecretSource;
use crate::error::{Error, Result};
use crate::ldap::{LdapConfig, LdapFlavor};

/// The largest `thumbnailPhoto` Active Directory stores (schema rangeUpper).
const AD_MAX_BYTES: usize = 102_400;

/// Parses `text` (read from `path`) and checks every section.
pub(super) fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
    let file_name = path.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| toml_error(&file_name, text, &e))?;
    reject_inline_secrets(&file_name, text, &table)?;
    let mut file: ConfigFile =
        toml::from_str(text).map_err(|e: toml::de::Error| toml_error(&file_name, text, &e))?;
    // The section decides the LDAP defaults; the file does not say.
    file.ad = file.ad.map(|c| c.with_flavor(LdapFlavor::ActiveDirectory));
    file.ldap = file.ldap.map(|c| c.with_flavor(LdapFlavor::Plain));
    let origin = |section: &str| format!("[{section}] in {file_name}");
    if let Some(ad) = &file.ad {
        check_ldap(ad, &origin("ad"), true)?;
    }
    if let Some(ldap) = &file.ldap {
        check_ldap(ldap, &origin("ldap"), false)?;
    }
    if let Some(m365) = &file.m365 {
        check_m365(m365, &origin("m365"))?;
    }
    if let Some(exchange) = &file.exchange {
        check_exchange(exchange, &origin("exchange"))?;
    }
    if let Some(folder) = &file.folder {
        check_folder(folder, &origin("folder"))?;
    }
    if let Some(google) = &file.google {
        super::google::check(google, &origin("google"))?;
    }
    check_sync(&file, &file_name)?;
    Ok(file)
}

/// `[[sync]]` jobs: a usable, unique name; known crop and `removed`
/// values; targets that have a section.
fn check_sync(file: &ConfigFile, file_name: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, job) in file.sync.iter().enumerate() {
        let origin = format!("[[sync]] number {} in {file_name}", i + 1);
        if job.name.is_empty()
            || !job
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "{origin}: name = {:?} must be letters, digits, `-` or `_` (it names the job on the command line and its lock file), e.g. name = \"hr-photos\"",
                job.name
            )));
        }
        if !seen.insert(job.name.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "{origin}: a job named {:?} is already defined; give each [[sync]] job its own name",
                job.name
            )));
        }
        if let Some(crop) = job.crop.as_deref() {
            if !matches!(crop, "auto" | "face" | "centre" | "center") {
                return Err(invalid(format!(
                    "{origin}: crop = {crop:?} is not known; write \"auto\", \"face\" or \"centre\""
                )));
            }
        }
        if let Some(removed) = job.removed.as_deref() {
            if removed != "nothing" {
                return Err(invalid(format!(
                    "{origin}: removed = {removed:?} is not supported; a sync job never removes photos, so write removed = \"nothing\" or leave it out"
                )));
            }
        }
        let source_kind = job
            .source
            .to_str()
            .and_then(|s| s.parse::<crate::kind::TargetKind>().ok());
        for kind in job.targets.iter().chain(source_kind.as_ref()) {
            let configured = match kind {
                crate::kind::TargetKind::Ad => file.ad.is_some(),
                crate::kind::TargetKind::M365 => file.m365.is_some(),
                crate::kind::TargetKind::Exchange => file.exchange.is_some(),
                crate::kind::TargetKind::Ldap => file.ldap.is_some(),
                crate::kind::TargetKind::Folder => file.folder.is_some(),
                crate::kind::TargetKind::Google => file.google.is_some(),
            };
            if !configured {
                return Err(invalid(format!(
                    "{origin}: {kind} has no [{kind}] section; add one, or do not name it as a source or target"
                )));
            }
        }
    }
    Ok(())
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig { message }
}

/// Turns a TOML error into one sentence: file, line, section, what, hint.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> Error {
    let message = e.message().trim().trim_end_matches('.');
    let mut at = String::new();
    if let Some(span) = e.span() {
        let start = span.start.min(text.len());
        let line = text.get(..start).map_or(1, |t| t.matches('\n').count() + 1);
        at.push_str(&format!(", line {line}"));
        if let Some(section) = section_at(text, start) {
            at.push_str(&format!(" in [{section}]"));
        }
    }
    let hint = if message.starts_with("unknown field") {
        "; remove that key or correct its spelling"
    } else if message.starts_with("missing field") {
        "; add that key to the section"
    } else if message.starts_with("invalid type") {
        "; check the value (text needs quotes, numbers and true/false do not)"
    } else {
        "; fix the file (it is TOML: key = value lines under [section] headers)"
    };
    invalid(format!("{file}{at}: {message}{hint}"))
}

/// The `[section]` header in force at byte `offset` of `text`.
fn section_at(text: &str, offset: usize) -> Option<String> {
    let mut section = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let t = line.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            if let Some(end) = t.find(']') {
                section = t.get(1..end).map(|s| s.trim().to_owned());
            }
        }
        pos += line.len();
    }
    section
}

/// Whether `key` looks like an inline secret rather than a pointer to one.
fn is_inline_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let secretish = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "private_key",
    ]
    .iter()
    .any(|w| k.contains(w))
        || k == "pwd";
    secretish && !k.ends_with("_env") && !k.ends_with("_file") && k != "certificate_file"
}

/// Refuses `password = "…"` and its kin anywhere in the file.
fn reject_inline_secrets(file: &str, text: &str, table: &toml::Table) -> Result<()> {
    for (section, value) in table {
        let found = match value {
            toml::Value::Table(t) => t
                .keys()
                .find(|k| is_inline_secret(k))
                .map(|k| (Some(section.as_str()), k)),
            _ => is_inline_secret(section).then_some((None, section)),
        };
        let Some((in_section, key)) = found else {
            continue;
        };
        let line =
            line_of_key(text, in_section, key).map_or_else(String::new, |l| format!(", line {l}"));
        let stem = if key.to_ascii_lowercase().contains("secret") && section == "m365" {
            "client_secret"
        } else {
            "password"
        };
        let var = format!(
            "USERPHOTO_{}_{}",
            section.to_ascii_uppercase(),
            if stem == "password" {
                "PASSWORD"
            } else {
                "SECRET"
            }
        );
        let place = if in_section.is_some() {
            format!("[{section}] {key}")
        } else {
            key.clone()
        };
        return Err(invalid(format!(
            "{file}{line}: {place} holds a secret, and secrets are never read from the configuration file; delete that line and write {stem}_env = \"{var}\" (an environment variable holding it) or {stem}_file = \"/path/to/file\" instead"
        )));
    }
    Ok(())
}

/// The line number of `key = …` inside `[section]` (or at the top level).
fn line_of_key(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t
                .find(']')
                .and_then(|end| t.get(1..end))
                .map(|s| s.trim().to_owned());
            continue;
        }
        let Some(rest) = t.strip_prefix(key) else {
            continue;
        };
        if rest.trim_start().starts_with('=') && current.as_deref() == section {
            return Some(i + 1);
        }
    }
    None
}

fn require_text(value: &str, origin: &str, key: &str, example: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(invalid(format!(
            "{origin}: {key} is empty; write e.g. {key} = \"{example}\""
        )))
    } else {
        Ok(())
    }
}

fn check_size(size: Option<u32>, origin: &str) -> Result<()> {
    match size {
        Some(s) if !(16..=4096).contains(&s) => Err(invalid(format!(
            "{origin}: photo_size = {s} is outside 16..4096; write a square size in pixels such as 96, 240 or 648"
        ))),
        _ => Ok(()),
    }
}

fn check_max_bytes(max: Option<usize>, origin: &str, ceiling: Option<usize>) -> Result<()> {
    match (max, ceiling) {
        (Some(m), _) if m < 512 => Err(invalid(format!(
            "{origin}: max_bytes = {m} is too small for a photo; write at least 512"
        ))),
        (Some(m), Some(c)) if m > c => Err(invalid(format!(
            "{origin}: max_bytes = {m} is more than the directory stores ({c} bytes); write at most {c}"
        ))),
        _ => Ok(()),
    }
}

fn check_ldap(s: &LdapConfig, origin: &str, is_ad: bool) -> Result<()> {
    let url = s.url.trim().to_ascii_lowercase();
    if !(url.starts_with("ldaps://") || url.starts_with("ldap://")) {
        return Err(invalid(format!(
            "{origin}: url = {:?} must start with ldaps:// (or ldap:// for StartTLS); write e.g. url = \"ldaps://dc1.corp.example.com\"",
            s.url
        )));
    }
    require_text(&s.base_dn, origin, "base_dn", "DC=corp,DC=example,DC=com")?;
    if let Some(bind_dn) = &s.bind_dn {
        require_text(bind_dn, origin, "bind_dn", "svc-photos@corp.example.com")?;
    }
    if s.auth == crate::ldap::LdapAuth::Kerberos {
        if s.bind_dn.is_some() || s.password_env.is_some() || s.password_file.is_some() {
            return Err(invalid(format!(
                "{origin}: auth = \"kerberos\" signs in with your own Kerberos ticket; remove bind_dn, password_env and password_file"
            )));
        }
        if !crate::ldap::KERBEROS_AVAILABLE {
            return Err(invalid(format!(
                "{origin}: auth = \"kerberos\": {}",
                crate::ldap::KERBEROS_NOT_BUILT
            )));
        }
    }
    // A bind DN needs a password source; without one the bind is anonymous.
    SecretSource::from_keys(
        s.password_env.as_deref(),
        s.password_file.as_deref(),
        origin,
        "password",
        s.bind_dn.is_some(),
    )?;
    if let (Some(budget), Some(max)) = (s.budget_bytes, s.max_bytes) {
        if budget > max {
            return Err(invalid(format!(
                "{origin}: budget_bytes = {budget} is more than max_bytes = {max}; write a budget at most max_bytes"
            )));
        }
    }
    check_size(s.photo_size, origin)?;
    check_max_bytes(s.max_bytes, origin, is_ad.then_some(AD_MAX_BYTES))
}

fn check_http_url(url: &str, origin: &str, key: &str, allow_insecure: bool) -> Result<()> {
    let lower = url.trim().to_ascii_lowercase();
    let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| lower.starts_with(p));
    if lower.starts_with("https://")
        || (lower.starts_with("http://") && (allow_insecure || loopback))
    {
        Ok(())
    } else {
        Err(invalid(format!(
            "{origin}: {key} = {url:?} must be an https:// URL; write e.g. {key} = \"https://…\""
        )))
    }
}

fn check_m365(s: &M365Section, origin: &str) -> Result<()> {
    require_text(
        &s.tenant_id,
        origin,
        "tenant_id",
        "00000000-0000-0000-0000-000000000000",
    )?;
    require_text(
        &s.client_id,
        origin,
        "client_id",
        "00000000-0000-0000-0000-000000000000",
    )?;
    match s.sign_in.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("app" | "device-code") => {}
        Some(other) => {
            return Err(invalid(format!(
                "{origin}: sign_in = {other:?} is not a way to sign in; write sign_in = \"app\" (secret or certificate) or sign_in = \"device-code\" (userphoto login m365)"
            )))
        }
    }
    let secret = SecretSource::from_keys(
        s.client_secret_env.as_deref(),
        s.client_secret_file.as_deref(),
        origin,
        "client_secret",
        s.certificate_file.is_none() && !s.uses_device_code(),
    )?;
    if s.uses_device_code() && (secret.is_some() || s.certificate_file.is_some()) {
        return Err(invalid(format!(
            "{origin} has sign_in = \"device-code\" and an app credential; keep one way to sign in"
        )));
    }
    if secret.is_some() && s.certificate_file.is_some() {
        return Err(invalid(format!(
            "{origin} has both a client secret and certificate_file; keep one way to sign in"
        )));
    }
    for (key, url) in [("graph_url", &s.graph_url), ("login_url", &s.login_url)] {
        if let Some(url) = url {
            check_http_url(url, origin, key, false)?;
        }
    }
    Ok(())
}

fn check_exchange(s: &ExchangeSection, origin: &str) -> Result<()> {
    check_http_url(&s.ews_url, origin, "ews_url", s.allow_insecure)?;
    // Kerberos signs in with the ticket; a username and password, if
    // given (both), are the NTLM fallback's.
    let kerberos = s.auth == Some(crate::ews::EwsAuth::Kerberos);
    let password = SecretSource::from_keys(
        s.password_env.as_deref(),
        s.password_file.as_deref(),
        origin,
        "password",
        !kerberos,
    )?;
    if !kerberos || password.is_some() || !s.username.trim().is_empty() {
        require_text(&s.username, origin, "username", "CORP\\\\svc-photos")?;
        if password.is_none() {
            return Err(invalid(format!(
                "{origin}: username is given without password_env or password_file (the NTLM fallback needs both); remove username, or add the password's source"
            )));
        }
    }
    if kerberos && !crate::ldap::KERBEROS_AVAILABLE {
        return Err(invalid(format!(
            "{origin}: auth = \"kerberos\": {}",
            crate::ldap::KERBEROS_NOT_BUILT
        )));
    }
    Ok(())
}

fn check_folder(s: &FolderSection, origin: &str) -> Result<()> {
    if s.path.as_os_str().is_empty() {
        return Err(invalid(format!(
            "{origin}: path is empty; write the folder holding users.csv, e.g. path = \"sandbox\""
        )));
    }
    check_size(s.photo_size, origin)?;
    check_max_bytes(s.max_bytes, origin, None)
}
