//! Kerberos sign-in (`auth = "kerberos"`): a SASL GSSAPI bind with the
//! ticket of the user running userphoto, so no bind DN or password is in
//! any file.
//!
//! Why `ldap3`'s `gssapi` feature (the `cross-krb5` crate) and not the
//! `sspi` crate the EWS backend uses for NTLM: `sspi`'s Kerberos client
//! talks to the KDC itself and needs the password (or a smart card) to get
//! its first ticket; it cannot use the ticket `kinit` left in the
//! credential cache, which is the point here. `cross-krb5` is the system's
//! own Kerberos on each platform — MIT/Heimdal GSSAPI on Linux and macOS
//! (the credential cache `kinit` fills, `KRB5CCNAME`), SSPI on Windows (the
//! logon session's tickets) — and `ldap3` drives the SASL exchange with it,
//! including AD's expectations: over TLS, no SASL layer but the
//! `tls-server-end-point` channel binding; over plain `ldap://`, the
//! Kerberos confidentiality (sealing) layer.
//!
//! The Unix side links `libgssapi_krb5` through bindgen, so building it
//! needs `libkrb5-dev` and `libclang-dev`: it is the `kerberos` cargo
//! feature (off by default, so `cargo build` needs only Rust and a C
//! compiler). On Windows it is always built (SSPI is part of the OS).

use serde::{Deserialize, Serialize};

/// How an `[ad]` / `[ldap]` target signs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LdapAuth {
    /// A simple bind as `bind_dn` with the password from `password_env` /
    /// `password_file`; anonymous without `bind_dn`.
    #[default]
    Simple,
    /// A SASL GSSAPI bind with the current user's Kerberos ticket (from
    /// `kinit` on Linux/macOS, the Windows logon on Windows); no bind DN or
    /// password.
    Kerberos,
}

/// Whether this build can sign in with Kerberos (the `kerberos` feature,
/// or Windows).
pub const KERBEROS_AVAILABLE: bool = cfg!(any(feature = "kerberos", windows));

/// What to do when this build has no Kerberos, for messages.
pub(crate) const NOT_BUILT: &str = "this userphoto was built without Kerberos support; build it with `cargo build --release --features kerberos` (needs libkrb5-dev and libclang-dev, see README), or use bind_dn with password_env / password_file";

/// The Kerberos realm an Active Directory base DN suggests
/// (`DC=corp,DC=example,DC=com` → `CORP.EXAMPLE.COM`), for the `kinit`
/// hint; `None` when the DN has no `DC=` parts.
pub(crate) fn realm_of(base_dn: &str) -> Option<String> {
    let parts: Vec<String> = base_dn
        .split(',')
        .filter_map(|rdn| {
            let (attr, value) = rdn.split_once('=')?;
            attr.trim()
                .eq_ignore_ascii_case("dc")
                .then(|| value.trim().to_ascii_uppercase())
        })
        .filter(|v| !v.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// What to run (or do) to get a ticket, for this platform.
pub(crate) fn ticket_hint(realm: Option<&str>) -> String {
    if cfg!(windows) {
        "sign in to Windows with your domain account (or lock and unlock the session to renew its tickets); `klist` shows the tickets you hold".into()
    } else {
        format!(
            "run `kinit your-name@{}` and try again; `klist` shows the ticket you hold (and KRB5CCNAME which cache is used)",
            realm.unwrap_or("YOUR.REALM")
        )
    }
}

/// Whether a GSSAPI message means "no usable ticket" (none, or expired)
/// rather than a refusal by the server or a wrong name.
pub(crate) fn is_missing_ticket(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "no kerberos credentials",
        "no credentials",
        "credentials cache file",
        "credential cache",
        "not found in credential",
        "expired",
        "sec_e_no_credentials",
        "no credentials are available",
        "0x8009030e",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(any(feature = "kerberos", windows))]
pub(crate) use imp::bind;

#[cfg(any(feature = "kerberos", windows))]
mod imp {
    use std::time::Duration;

    use cross_krb5::{Cred, InitiateFlags, K5Cred as _};
    use ldap3::{Ldap, LdapError};

    use super::super::errors::Failure;
    use super::{is_missing_ticket, ticket_hint};

    /// Signs `ldap` in with the current user's ticket for `ldap/<host>`;
    /// returns the ticket's principal when the platform tells it.
    ///
    /// The credential is taken first, so that a missing or expired ticket
    /// is told apart (with what to run) from a server that refuses us.
    pub(crate) async fn bind(
        ldap: &mut Ldap,
        host: &str,
        realm: Option<&str>,
        timeout: Duration,
    ) -> Result<Option<String>, Failure> {
        let no_ticket = |detail: String| Failure::Kerberos {
            message: format!("no usable Kerberos ticket ({detail})"),
            hint: ticket_hint(realm),
        };
        let cred = Cred::client_acquire(InitiateFlags::empty(), None)
            .map_err(|e| no_ticket(format!("{e:#}")))?;
        let principal = principal();
        let result = ldap
            .with_timeout(timeout)
            .sasl_gssapi_cred_bind(cred, host)
            .await
            .map_err(|e| match e {
                LdapError::GssapiOperationError(m) if is_missing_ticket(&m) => no_ticket(m),
                LdapError::GssapiOperationError(m) => Failure::Kerberos {
                    message: format!("the Kerberos sign-in to ldap/{host} failed ({m})"),
                    hint: format!(
                        "the ticket is asked for the service ldap/{host}: write the server's DNS name in url (as the domain knows it, not an IP address or alias), check that the clock is within 5 minutes of the domain's and that `klist` shows a ticket of the server's realm"
                    ),
                },
                e => match Failure::from_op(e) {
                    Failure::Dropped(e) => Failure::Connect(e),
                    other => other,
                },
            })?;
        if result.rc != 0 {
            return Err(Failure::Bind(result));
        }
        Ok(principal)
    }

    /// The principal of the default credential (`alice@CORP.EXAMPLE.COM`),
    /// for messages; `None` where the platform's library does not say
    /// (Windows: SSPI through cross-krb5 has no such query).
    #[cfg(all(unix, feature = "kerberos"))]
    fn principal() -> Option<String> {
        use libgssapi::credential::{Cred, CredUsage};
        let cred = Cred::acquire(None, None, CredUsage::Initiate, None).ok()?;
        cred.name().ok().map(|name| name.to_string())
    }

    #[cfg(not(all(unix, feature = "kerberos")))]
    fn principal() -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realm_follows_the_base_dn() {
        assert_eq!(
            realm_of("DC=corp,DC=example,DC=com").as_deref(),
            Some("CORP.EXAMPLE.COM")
        );
        assert_eq!(
            realm_of("OU=Staff, dc=corp ,dc=example,DC=test").as_deref(),
            Some("CORP.EXAMPLE.TEST")
        );
        assert_eq!(realm_of("ou=people,o=example"), None);
    }

    #[test]
    fn missing_and_expired_tickets_are_told_apart_from_refusals() {
        // MIT krb5's words for an absent cache and an expired ticket.
        assert!(is_missing_ticket(
            "gssapi error: No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)"
        ));
        assert!(is_missing_ticket("Ticket expired"));
        assert!(is_missing_ticket("The referenced credential has expired"));
        assert!(!is_missing_ticket("Server not found in Kerberos database"));
        assert!(!is_missing_ticket("Clock skew too great"));
    }

    #[test]
    fn the_hint_says_what_to_run() {
        let hint = ticket_hint(Some("CORP.EXAMPLE.COM"));
        if cfg!(windows) {
            assert!(hint.contains("sign in to Windows"), "{hint}");
        } else {
            assert!(hint.contains("kinit your-name@CORP.EXAMPLE.COM"), "{hint}");
        }
    }

    #[test]
    fn auth_is_written_in_lowercase() {
        #[derive(Deserialize)]
        struct S {
            auth: LdapAuth,
        }
        let s: S = toml::from_str("auth = \"kerberos\"").expect("parse");
        assert_eq!(s.auth, LdapAuth::Kerberos);
        let s: S = toml::from_str("auth = \"simple\"").expect("parse");
        assert_eq!(s.auth, LdapAuth::Simple);
        assert!(toml::from_str::<S>("auth = \"ntlm\"").is_err());
    }
}
