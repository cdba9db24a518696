//! The sections of `userphoto.toml`, exactly as written.
//!
//! Why a module of its own: these structs *are* the file format — every
//! key, its type and its default is here and nowhere else, and every struct
//! denies unknown keys so a misspelt `pasword_env` is an error naming the
//! key instead of a silently ignored line. Checks that span keys (both
//! `password_env` and `password_file`, a URL scheme, a size range) live in
//! `validate` next door. `[ad]` and `[ldap]` use the LDAP backend's own
//! [`LdapConfig`], so a key added there is a key of this file.

use std::path::PathBuf;

use serde::Deserialize;

use crate::capabilities::PhotoSlot;
use crate::ldap::LdapConfig;
use crate::user::UserKey;

/// The whole file. Every section is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfigFile {
    /// Active Directory over LDAP(S): `thumbnailPhoto`, users by
    /// `sAMAccountName` (the LDAP backend's own section type, with Active
    /// Directory defaults).
    pub ad: Option<LdapConfig>,
    /// Microsoft 365 / Entra ID through Microsoft Graph.
    pub m365: Option<M365Section>,
    /// Exchange Server on-premises through EWS.
    pub exchange: Option<ExchangeSection>,
    /// A plain LDAP directory: `jpegPhoto`, users by `uid` (plain-LDAP
    /// defaults).
    pub ldap: Option<LdapConfig>,
    /// A local folder directory (demo, tests, export).
    pub folder: Option<FolderSection>,
    /// Google Workspace through the Admin SDK Directory API.
    pub google: Option<GoogleSection>,
    /// Where photos are backed up before they are replaced or removed.
    pub backup: Option<BackupSection>,
    /// Where every change is recorded.
    pub audit: Option<AuditSection>,
    /// Named sync jobs (`[[sync]]`), run by `userphoto sync`.
    #[serde(default)]
    pub sync: Vec<SyncSection>,
    /// Employee self-service with an approval queue (docs/SELF-SERVICE.md).
    pub team: Option<TeamSection>,
}

/// `[team]`: employee self-service photos and who approves them
/// (docs/SELF-SERVICE.md).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TeamSection {
    /// The request database (default: `requests.sqlite` in the data
    /// folder), relative to this file.
    pub database: Option<PathBuf>,
    /// Approve a submission at once when no quality check finds anything
    /// (default off).
    #[serde(default)]
    pub auto_approve: bool,
    /// Refuse submissions with any of these findings: `no_face`,
    /// `several_faces`, `face_too_small`, `too_dark`, `too_blurry`,
    /// `source_too_small`.
    #[serde(default)]
    pub refuse_checks: Vec<String>,
    /// The DN of the AD group whose members (nested too) approve.
    pub approver_group: Option<String>,
    /// Accounts that approve, by their sign-in name.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// The targets an approved photo is written to (default: every
    /// configured target).
    #[serde(default)]
    pub targets: Vec<crate::kind::TargetKind>,
    /// The name (and `:port`) employees open, e.g.
    /// `photos.corp.example.com`; requests for any other `Host` are
    /// refused.
    pub public_name: Option<String>,
    /// The TLS certificate chain (PEM) to serve with; with `key_file`,
    /// needed to listen beyond loopback unless `behind_proxy`.
    pub cert_file: Option<PathBuf>,
    /// The TLS private key (PEM) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Serve plain HTTP to a TLS-terminating reverse proxy at
    /// `proxy_address`, trusting its `X-Forwarded-For`.
    #[serde(default)]
    pub behind_proxy: bool,
    /// The one proxy address trusted with `behind_proxy`.
    pub proxy_address: Option<std::net::IpAddr>,
    /// How employees sign in: `ad` (default: a bind as themselves to
    /// `[ad]`) or `entra` (OpenID Connect with `[m365]`'s tenant and app).
    pub sign_in: Option<String>,
    /// The redirect URI registered for Entra sign-in (default
    /// `https://{public_name}/auth/callback`).
    pub redirect_uri: Option<String>,
}

/// `[m365]`: Microsoft 365 / Entra ID through Microsoft Graph (app-only).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct M365Section {
    /// The directory (tenant) id.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// A PEM file with the certificate and key (instead of a secret).
    pub certificate_file: Option<PathBuf>,
    /// The Graph endpoint (national clouds, emulators).
    pub graph_url: Option<String>,
    /// The login endpoint (national clouds, emulators).
    pub login_url: Option<String>,
    /// How an on-premises user is found here in HYBRID mode: keys tried in
    /// order (default `["upn", "mail", "sam-account-name"]`).
    pub match_order: Option<Vec<UserKey>>,
    /// The most Graph requests in flight (default 8; lowered
    /// automatically while Graph throttles).
    pub max_concurrency: Option<usize>,
    /// Seconds a photo just written may take to read back (default 30).
    pub read_after_write_secs: Option<u64>,
    /// How userphoto signs in: `app` (default: client secret or
    /// certificate, application permissions) or `device-code` (an admin
    /// signed in with `userphoto login m365`, delegated permissions).
    pub sign_in: Option<String>,
    /// Where `userphoto login m365` keeps the admin's sign-in (default: the
    /// platform data folder).
    pub token_file: Option<PathBuf>,
}

impl M365Section {
    /// Whether an admin's device code sign-in is used instead of an app
    /// credential.
    pub fn uses_device_code(&self) -> bool {
        self.sign_in
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("device-code"))
    }
}

/// `[exchange]`: Exchange Server on-premises through EWS.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExchangeSection {
    /// `https://mail.example.com/EWS/Exchange.asmx`.
    pub ews_url: String,
    /// `DOMAIN\user` or a UPN (optional with `auth = "kerberos"`: then
    /// only for the NTLM fallback).
    #[serde(default)]
    pub username: String,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// How to sign in: `ntlm` (default), `basic`, or `kerberos` (Negotiate
    /// with the user's ticket; NTLM fallback if a password is given).
    pub auth: Option<crate::ews::EwsAuth>,
    /// An extra trust anchor (PEM).
    pub ca_file: Option<PathBuf>,
    /// Allow plain `http://` (loudly warned).
    #[serde(default)]
    pub allow_insecure: bool,
}

/// `[google]`: Google Workspace through the Admin SDK Directory API, as a
/// service account with domain-wide delegation (see docs/GOOGLE.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GoogleSection {
    /// The service account's JSON key file (readable by this account only).
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the JSON key's text.
    pub key_env: Option<String>,
    /// The admin to act as (domain-wide delegation).
    pub subject: String,
    /// The customer id (default `my_customer`, the subject's account).
    pub customer: Option<String>,
    /// List only this domain's users instead of the whole account.
    pub domain: Option<String>,
    /// The Admin SDK endpoint (emulators).
    pub api_url: Option<String>,
    /// The OAuth token endpoint (default: the key file's `token_uri`).
    pub oauth_url: Option<String>,
    /// The client-side pace (default 2400: Google's default quota per
    /// user per project).
    pub requests_per_minute: Option<u32>,
    /// The most photo operations at once (default 8).
    pub max_concurrency: Option<usize>,
    /// Delete a photo before replacing it (default true: an update can
    /// leave a photo the user set themself).
    pub delete_before_update: Option<bool>,
}

/// `[folder]`: a folder directory (a `users.csv` and a `photos/` folder).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FolderSection {
    /// The folder (relative paths are relative to the configuration file).
    pub path: PathBuf,
    /// Which photo the folder stands for: `hd` (default), `thumbnail` or
    /// `ldap-jpeg`. Its default size and limits follow.
    pub slot: Option<PhotoSlot>,
    /// The square size photos are prepared at, in pixels.
    pub photo_size: Option<u32>,
    /// The largest photo accepted, in bytes.
    pub max_bytes: Option<usize>,
    /// The key users are named by on the command line (default
    /// `sam-account-name`).
    pub listing_key: Option<UserKey>,
    /// Refuse writes (for browsing an export).
    #[serde(default)]
    pub read_only: bool,
}

/// `[backup]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BackupSection {
    /// The backup folder (default: the platform data folder, e.g.
    /// `~/.local/share/userphoto/backups`).
    pub dir: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditSection {
    /// The audit log, JSON lines (default: `audit.jsonl` in the platform
    /// data folder).
    pub path: Option<PathBuf>,
}

/// `[[sync]]`: a named job `userphoto sync` runs unattended — a source of
/// photos into targets, as `userphoto import` does, with the sync state
/// making an unchanged re-run cost nothing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SyncSection {
    /// The job's name (`userphoto sync NAME`): letters, digits, `-`, `_`.
    pub name: String,
    /// The folder of photos, or a CSV of `user,photo` rows (paths or
    /// https URLs), relative to this file; or a configured target's name
    /// (`m365`): another directory as the source.
    pub source: PathBuf,
    /// The targets to write (default: every configured target but the
    /// source).
    #[serde(default)]
    pub targets: Vec<crate::kind::TargetKind>,
    /// The key file names are matched on (default: the listing key of the
    /// first on-premises target).
    pub match_by: Option<UserKey>,
    /// A `file,user` CSV that overrides the naming rule.
    pub mapping: Option<PathBuf>,
    /// Look into subfolders.
    #[serde(default)]
    pub recursive: bool,
    /// How the square is chosen: `auto` (default), `face`, `centre`.
    pub crop: Option<String>,
    /// Quality findings are failures.
    #[serde(default)]
    pub strict: bool,
    /// What to do about a user whose file was removed from the source:
    /// `nothing` (the default and, for now, the only choice: a photo is
    /// never removed by a sync job).
    pub removed: Option<String>,
    /// Read every current photo and report the ones changed in the
    /// directory since our write (as `--verify`).
    #[serde(default)]
    pub verify: bool,
    /// Write a report of each run: CSV, or JSON when it ends in `.json`
    /// (relative to this file; replaced by each run).
    pub report: Option<PathBuf>,
}
