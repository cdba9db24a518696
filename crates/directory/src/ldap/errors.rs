//! LDAP result codes and transport failures, turned into this crate's
//! [`Error`] with one sentence saying what is wrong and what to do.
//!
//! Why a module of its own: an LDAP server answers `rc=49` or
//! `rc=50` with a diagnostic string only a directory engineer can read
//! (`80090308: LdapErr: DSID-0C09041C, … data 775, v4563`). The person
//! running a photo import needs "the account svc-photos is locked out; wait
//! for the lockout to end or unlock it". Every failure of this backend goes
//! through [`to_error`] exactly once, with the operation it happened in
//! (bind, search, read, write, remove) as context, so the same code maps to
//! the same message everywhere, and the mapping is unit-tested without a
//! server. Messages never contain the password — only where it came from.

use std::fmt;
use std::time::Duration;

use ldap3::{LdapError, LdapResult};

use super::filter::parent_dn;
use crate::error::Error;

/// A sentence and a hint, used as the source of [`Error::Other`] where no
/// semantic variant fits (TLS trust, size limits, unexpected result codes).
#[derive(Debug)]
pub(crate) struct Explained {
    message: String,
    hint: String,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.message, self.hint)
    }
}

impl std::error::Error for Explained {}

fn other(ctx: &Ctx<'_>, message: String, hint: impl Into<String>) -> Error {
    Error::other(
        ctx.backend,
        Explained {
            message,
            hint: hint.into(),
        },
    )
}

/// What went wrong, before the operation's context is known.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Opening the connection failed (TCP, TLS handshake, StartTLS).
    Connect(LdapError),
    /// The connection broke during an operation (worth one reconnect).
    Dropped(LdapError),
    /// The operation did not finish in time.
    Timeout,
    /// The server answered with a result code other than success.
    Server(LdapResult),
    /// The simple bind was refused (always mapped as a bind failure,
    /// whatever operation needed the connection).
    Bind(LdapResult),
    /// The Kerberos sign-in failed on this side (no ticket, no ticket for
    /// the server); `message` and `hint` are final.
    Kerberos {
        /// What failed.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The server sent something this client cannot read.
    Protocol(String),
    /// Anything else the client library reported.
    Client(LdapError),
}

impl Failure {
    /// Classifies an error of an operation on an open connection.
    pub(crate) fn from_op(e: LdapError) -> Self {
        match e {
            LdapError::Timeout { .. } => Failure::Timeout,
            LdapError::LdapResult { result } => Failure::Server(result),
            LdapError::Io { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::IdScrubSend { .. }
            | LdapError::MiscSend { .. }
            | LdapError::EndOfStream => Failure::Dropped(e),
            e => Failure::Client(e),
        }
    }

    /// Checks a result: success (0) is `Ok`, anything else a `Server` failure.
    pub(crate) fn check(result: LdapResult) -> Result<LdapResult, Failure> {
        if result.rc == 0 {
            Ok(result)
        } else {
            Err(Failure::Server(result))
        }
    }

    /// Whether the connection is gone (reconnect once and retry).
    pub(crate) fn is_dropped(&self) -> bool {
        matches!(self, Failure::Dropped(_))
    }

    /// Whether the server said it is busy or unavailable (51, 52).
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, Failure::Server(r) if r.rc == 51 || r.rc == 52)
    }

    /// The result code, for a server answer.
    pub(crate) fn rc(&self) -> Option<u32> {
        match self {
            Failure::Server(r) => Some(r.rc),
            _ => None,
        }
    }
}

/// Facts about the directory the messages mention.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The directory as its `Display` names it.
    pub(crate) backend: &'a dyn fmt::Display,
    /// The URL connected to.
    pub(crate) url: &'a str,
    /// Who we bind as (DN or UPN), or `anonymous`.
    pub(crate) bind: &'a str,
    /// Where the password came from (`USERPHOTO_AD_PASSWORD`), if known.
    pub(crate) password_source: Option<&'a str>,
    /// The operation timeout.
    pub(crate) timeout: Duration,
}

/// The operation a failure happened in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op<'a> {
    /// The simple bind.
    Bind,
    /// A search under `base`.
    Search {
        /// The search base.
        base: &'a str,
    },
    /// Reading the photo attribute of `dn`.
    Read {
        /// The entry.
        dn: &'a str,
        /// The photo attribute.
        attribute: &'a str,
    },
    /// Replacing the photo attribute of `dn`.
    Write {
        /// The entry.
        dn: &'a str,
        /// The photo attribute.
        attribute: &'a str,
    },
    /// Deleting the photo attribute of `dn`.
    Remove {
        /// The entry.
        dn: &'a str,
        /// The photo attribute.
        attribute: &'a str,
    },
}

/// The standard name of an LDAP result code (RFC 4511 appendix A).
pub(crate) fn rc_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        80 => "other",
        88 => "abandoned",
        _ => "unknown",
    }
}

/// The Active Directory sub-code in a bind failure's diagnostic text
/// (`…AcceptSecurityContext error, data 52e, v4563` → `0x52e`).
pub(crate) fn ad_data_code(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("data ")?;
    let hex: String = lower[at + 5..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    if hex.is_empty() {
        return None;
    }
    u32::from_str_radix(&hex, 16).ok()
}

/// Message and hint for an AD bind sub-code (`data 52e` and friends).
pub(crate) fn ad_bind_explanation(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0x52e => (
            "wrong password",
            "check the password",
        ),
        0x525 => (
            "no such account",
            "check bind_dn: give the DN or the UPN (name@domain) of an existing account",
        ),
        0x530 => (
            "the account may not log on at this time",
            "allow the account to log on at all hours (its logon hours)",
        ),
        0x531 => (
            "the account may not log on from this computer",
            "remove the account's \"Log On To\" workstation restriction",
        ),
        0x532 => (
            "the account's password has expired",
            "set a new password for the account (and consider \"password never expires\" for a service account)",
        ),
        0x533 => (
            "the account is disabled",
            "enable the account in Active Directory",
        ),
        0x701 => (
            "the account has expired",
            "extend or clear the account's expiry date",
        ),
        0x773 => (
            "the account's password must be changed before it can be used",
            "set a new password and clear \"User must change password at next logon\"",
        ),
        0x775 => (
            "the account is locked out",
            "wait for the lockout to end or unlock the account, and check that no other job uses an old password",
        ),
        _ => return None,
    })
}

fn server_detail(r: &LdapResult) -> String {
    let text = r.text.trim().trim_end_matches('\0').trim();
    if text.is_empty() {
        format!("LDAP result {} {}", r.rc, rc_name(r.rc))
    } else {
        format!("LDAP result {} {}: {text}", r.rc, rc_name(r.rc))
    }
}

fn password_hint(ctx: &Ctx<'_>, base: &str) -> String {
    match ctx.password_source {
        Some(source) if base == "check the password" => {
            format!("check the password given in {source}")
        }
        _ => base.to_owned(),
    }
}

/// Turns `failure`, which happened during `op`, into the public error.
pub(crate) fn to_error(failure: Failure, op: Op<'_>, ctx: &Ctx<'_>) -> Error {
    match failure {
        Failure::Timeout => Error::Timeout { after: ctx.timeout },
        Failure::Connect(e) => connect_error(e, ctx),
        Failure::Dropped(e) => Error::Unavailable {
            message: format!("the connection to {} was lost ({e})", ctx.url),
        },
        Failure::Client(e) => other(
            ctx,
            format!("the LDAP client failed: {e}"),
            "check the configuration (user_filter, attribute names) and try again",
        ),
        Failure::Server(r) => server_error(&r, op, ctx),
        Failure::Bind(r) => server_error(&r, Op::Bind, ctx),
        Failure::Kerberos { message, hint } => Error::Unauthenticated {
            message: format!("signing in to {} with Kerberos: {message}", ctx.url),
            hint,
        },
        Failure::Protocol(message) => other(
            ctx,
            message,
            "the server may not follow the LDAP standard here; report it with the server's make and version",
        ),
    }
}

fn connect_error(e: LdapError, ctx: &Ctx<'_>) -> Error {
    match e {
        LdapError::Timeout { .. } => Error::Unavailable {
            message: format!(
                "connecting to {} took longer than {:?}",
                ctx.url, ctx.timeout
            ),
        },
        LdapError::Io { source } => match tls_error(&source) {
            Some(tls) => tls_trust_error(tls, ctx),
            None => Error::Unavailable {
                message: format!("cannot connect to {}: {source}", ctx.url),
            },
        },
        LdapError::Rustls { source } => tls_trust_error(&source, ctx),
        LdapError::DNSName { .. } => Error::InvalidConfig {
            message: format!(
                "the host in {} cannot be checked against a TLS certificate; use the server's DNS name or IP address",
                ctx.url
            ),
        },
        LdapError::LdapResult { result } => other(
            ctx,
            format!(
                "the server at {} refused StartTLS ({})",
                ctx.url,
                server_detail(&result)
            ),
            "use ldaps:// instead, or enable TLS on the server",
        ),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => Error::InvalidConfig {
            message: format!(
                "{} is not an LDAP URL; write ldaps://host[:port] or ldap://host[:port]",
                ctx.url
            ),
        },
        e => Error::Unavailable {
            message: format!("cannot connect to {}: {e}", ctx.url),
        },
    }
}

/// The rustls error inside an I/O error, if the I/O error is a TLS failure.
fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|e| e as _);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        source = s.source();
    }
    None
}

fn tls_trust_error(e: &rustls::Error, ctx: &Ctx<'_>) -> Error {
    use rustls::CertificateError as C;
    let (message, hint) = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
            format!(
                "the TLS certificate of {} is not trusted: it was issued by a CA this machine does not trust",
                ctx.url
            ),
            "set ca_file to the PEM file of the CA that issued it (or install that CA in the system trust store)",
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => (
            format!(
                "the TLS certificate of {} is not valid for that host name",
                ctx.url
            ),
            "connect with a name listed in the certificate's subjectAltName, or reissue the certificate with this name",
        ),
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => (
            format!(
                "the TLS certificate of {} is expired or not yet valid",
                ctx.url
            ),
            "renew the server's certificate, and check this machine's clock",
        ),
        rustls::Error::InvalidCertificate(other) => (
            format!(
                "the TLS certificate of {} was rejected ({other:?})",
                ctx.url
            ),
            "check the server's certificate, and set ca_file to the CA that issued it",
        ),
        other => (
            format!("the TLS handshake with {} failed ({other})", ctx.url),
            "check that the port speaks TLS (ldaps:// is usually 636, StartTLS 389)",
        ),
    };
    Error::other(
        ctx.backend,
        Explained {
            message,
            hint: hint.to_owned(),
        },
    )
}

fn server_error(r: &LdapResult, op: Op<'_>, ctx: &Ctx<'_>) -> Error {
    let detail = server_detail(r);
    match (r.rc, op) {
        (49, _) => {
            let sub = ad_data_code(&r.text);
            let (what, hint) = sub
                .and_then(ad_bind_explanation)
                .unwrap_or(("the credentials were refused", "check bind_dn and the password"));
            let code = sub.map(|c| format!(", AD error {c:x}")).unwrap_or_default();
            Error::Unauthenticated {
                message: format!(
                    "the directory refused the bind as {}: {what} (LDAP result 49{code})",
                    ctx.bind
                ),
                hint: password_hint(ctx, hint),
            }
        }
        (8 | 13, _) => Error::Unauthenticated {
            message: format!(
                "the directory refused to bind as {} without encryption ({detail})",
                ctx.bind
            ),
            hint: "use ldaps:// or ldap:// with StartTLS".into(),
        },
        (48, _) | (1, Op::Search { .. } | Op::Read { .. }) if ctx.bind == "anonymous" => {
            Error::Unauthenticated {
                message: format!("the directory does not serve anonymous clients ({detail})"),
                hint: "set bind_dn and a password".into(),
            }
        }
        (50, Op::Write { dn, attribute } | Op::Remove { dn, attribute }) => {
            let ou = parent_dn(dn).unwrap_or(dn);
            Error::PermissionDenied {
                message: format!(
                    "{} {attribute} of {dn} was refused to {} (LDAP result 50 insufficientAccessRights)",
                    if matches!(op, Op::Write { .. }) { "writing" } else { "removing" },
                    ctx.bind
                ),
                hint: format!("grant {} Write {attribute} on {ou}", ctx.bind),
            }
        }
        (50, _) => Error::PermissionDenied {
            message: format!("{} may not read here ({detail})", ctx.bind),
            hint: format!("grant {} read access to the users under base_dn", ctx.bind),
        },
        (51 | 52, _) => Error::Unavailable {
            message: format!("the directory at {} is not serving now ({detail})", ctx.url),
        },
        (3, _) => Error::Timeout { after: ctx.timeout },
        (4, Op::Search { .. }) => other(
            ctx,
            format!(
                "the directory stopped the search at its size limit, so the list of users would be incomplete ({detail})"
            ),
            format!(
                "allow {} to page past the limit (OpenLDAP: olcLimits size.prtotal=unlimited; Active Directory: paged searches), or narrow user_filter",
                ctx.bind
            ),
        ),
        (11, Op::Search { .. }) => other(
            ctx,
            format!("the directory refused the search as too expensive ({detail})"),
            "narrow user_filter or base_dn, or raise the server's query limits",
        ),
        (10, _) => Error::InvalidConfig {
            message: format!(
                "{} does not hold this part of the directory and referred us to {} ({detail}); point url at a server of the domain that holds base_dn",
                ctx.url,
                if r.refs.is_empty() { "another server".to_owned() } else { r.refs.join(", ") }
            ),
        },
        (32 | 34, Op::Search { base }) => Error::InvalidConfig {
            message: format!(
                "the search base {base:?} does not exist in {} ({detail}); check base_dn",
                ctx.backend
            ),
        },
        (32 | 34, Op::Read { dn, .. } | Op::Write { dn, .. } | Op::Remove { dn, .. }) => {
            Error::NotFound {
                what: format!("the entry {dn} in {}", ctx.backend),
            }
        }
        (19 | 21, Op::Write { dn, attribute }) => Error::PhotoRejected {
            reason: format!(
                "the directory refused it for {attribute} of {dn} as too large or not valid ({detail}); prepare a smaller JPEG for this target (userphoto convert)"
            ),
        },
        (17, _) => Error::InvalidConfig {
            message: format!(
                "the directory does not know an attribute this backend uses ({detail}); check photo_attribute, name_attribute and the other attribute names"
            ),
        },
        (65, Op::Write { dn, attribute }) => Error::InvalidConfig {
            message: format!(
                "the entry {dn} cannot hold {attribute} ({detail}); check photo_attribute, or give the entry an object class that allows it (inetOrgPerson for jpegPhoto)"
            ),
        },
        _ => other(
            ctx,
            format!("{} failed ({detail})", describe(op)),
            "see the directory's log for the reason",
        ),
    }
}

fn describe(op: Op<'_>) -> String {
    match op {
        Op::Bind => "the bind".into(),
        Op::Search { base } => format!("searching under {base}"),
        Op::Read { dn, attribute } => format!("reading {attribute} of {dn}"),
        Op::Write { dn, attribute } => format!("writing {attribute} of {dn}"),
        Op::Remove { dn, attribute } => format!("removing {attribute} of {dn}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.into(),
            refs: vec![],
            ctrls: vec![],
        }
    }

    fn ctx() -> Ctx<'static> {
        Ctx {
            backend: &"ldaps://dc1 (DC=x)",
            url: "ldaps://dc1",
            bind: "svc-photos@corp.example.test",
            password_source: Some("USERPHOTO_AD_PASSWORD"),
            timeout: Duration::from_secs(30),
        }
    }

    fn map(rc: u32, text: &str, op: Op<'_>) -> Error {
        to_error(Failure::Server(result(rc, text)), op, &ctx())
    }

    const WRITE: Op<'static> = Op::Write {
        dn: "CN=John Smith,OU=Staff,DC=x",
        attribute: "thumbnailPhoto",
    };

    #[test]
    fn parses_ad_sub_codes() {
        let samba = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
        assert_eq!(ad_data_code(samba), Some(0x52e));
        assert_eq!(ad_data_code("... DATA 775, v4563"), Some(0x775));
        assert_eq!(ad_data_code("data 701, v1db1"), Some(0x701));
        assert_eq!(ad_data_code("Invalid credentials"), None);
        assert_eq!(ad_data_code("data , v1"), None);
        assert_eq!(ad_data_code("metadata xyz"), None);
        for code in [
            0x52e, 0x525, 0x530, 0x531, 0x532, 0x533, 0x701, 0x773, 0x775,
        ] {
            assert!(ad_bind_explanation(code).is_some(), "{code:x}");
        }
        assert!(ad_bind_explanation(0x123).is_none());
    }

    #[test]
    fn bind_failures_explain_the_sub_code() {
        let e = map(49, "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1", Op::Bind);
        let text = e.to_string();
        assert!(matches!(e, Error::Unauthenticated { .. }));
        assert!(
            text.contains("wrong password") && text.contains("52e"),
            "{text}"
        );
        assert!(text.contains("USERPHOTO_AD_PASSWORD"), "{text}");
        for (code, words) in [
            ("532", "expired"),
            ("533", "disabled"),
            ("701", "account has expired"),
            ("773", "must be changed"),
            ("775", "locked out"),
            ("525", "no such account"),
            ("530", "at this time"),
            ("531", "from this computer"),
        ] {
            let text = map(
                49,
                &format!("AcceptSecurityContext error, data {code}, v4563"),
                Op::Bind,
            )
            .to_string();
            assert!(text.contains(words), "{code}: {text}");
            assert!(
                !text.contains("USERPHOTO_AD_PASSWORD") || code == "52e",
                "{text}"
            );
        }
        let plain = map(49, "Invalid credentials", Op::Bind).to_string();
        assert!(plain.contains("check bind_dn and the password"), "{plain}");
    }

    #[test]
    fn permission_denied_names_the_grant() {
        let e = map(50, "00002098: SecErr", WRITE);
        assert!(matches!(e, Error::PermissionDenied { .. }));
        let text = e.to_string();
        assert!(
            text.contains(
                "grant svc-photos@corp.example.test Write thumbnailPhoto on OU=Staff,DC=x"
            ),
            "{text}"
        );
    }

    #[test]
    fn photo_too_large_or_invalid_is_rejected() {
        for rc in [19, 21] {
            let e = map(rc, "", WRITE);
            assert!(matches!(e, Error::PhotoRejected { .. }), "{rc}: {e}");
        }
    }

    #[test]
    fn busy_and_unavailable_are_transient() {
        for rc in [51, 52] {
            let e = map(rc, "", WRITE);
            assert!(e.is_transient(), "{rc}: {e}");
        }
        assert!(to_error(Failure::Timeout, WRITE, &ctx()).is_transient());
        let dropped = Failure::from_op(LdapError::EndOfStream);
        assert!(dropped.is_dropped());
        assert!(to_error(dropped, WRITE, &ctx()).is_transient());
        assert!(Failure::Server(result(51, "")).is_busy());
        assert!(!Failure::Server(result(50, "")).is_busy());
    }

    #[test]
    fn size_limit_is_an_error_not_a_short_list() {
        let e = map(4, "", Op::Search { base: "DC=x" });
        assert!(matches!(e, Error::Other { .. }));
        assert!(!e.is_transient());
        assert!(e.to_string().contains("incomplete"), "{e}");
    }

    #[test]
    fn missing_entries_and_bases() {
        let e = map(
            32,
            "",
            Op::Read {
                dn: "CN=x,DC=x",
                attribute: "jpegPhoto",
            },
        );
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        let e = map(
            32,
            "",
            Op::Search {
                base: "OU=gone,DC=x",
            },
        );
        assert!(matches!(e, Error::InvalidConfig { .. }), "{e}");
        assert!(e.to_string().contains("check base_dn"));
    }

    #[test]
    fn unencrypted_bind_refused_by_server() {
        let e = map(8, "BindSimple: Transport encryption required.", Op::Bind);
        assert!(e.to_string().contains("ldaps://"), "{e}");
    }

    #[test]
    fn messages_are_one_lower_case_sentence_without_secrets() {
        let cases = [
            map(49, "data 52e", Op::Bind),
            map(50, "", WRITE),
            map(19, "", WRITE),
            map(51, "", WRITE),
            map(4, "", Op::Search { base: "DC=x" }),
            map(
                80,
                "boom",
                Op::Remove {
                    dn: "CN=a,DC=x",
                    attribute: "jpegPhoto",
                },
            ),
            map(10, "", Op::Search { base: "DC=x" }),
        ];
        for e in cases {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
