//! Kerberos for EWS: the `Negotiate` token (SPNEGO carrying a Kerberos
//! AP-REQ for `HTTP/<host>`) made from the current user's ticket, as
//! Exchange's default Windows authentication (Negotiate) expects.
//!
//! Unix: the system's GSSAPI (`libgssapi`, the crate under `cross-krb5`)
//! with the SPNEGO mechanism and a host-based name `HTTP@host`, as `curl
//! --negotiate` does; the ticket comes from the `kinit` credential cache.
//! Windows: SSPI's Negotiate package through `cross-krb5`, with the logon
//! session's tickets. The server's mutual-authentication answer is not
//! checked: over HTTPS, TLS has already authenticated the server.

/// A Negotiate token for `HTTP/<host>` from the current user's ticket, or
/// why there is none (GSSAPI's / SSPI's own words).
#[cfg(all(unix, feature = "kerberos"))]
pub(crate) fn kerberos_token(host: &str) -> Result<Vec<u8>, String> {
    use libgssapi::context::{ClientCtx, CtxFlags};
    use libgssapi::name::Name;
    use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};

    let name = Name::new(
        format!("HTTP@{host}").as_bytes(),
        Some(&GSS_NT_HOSTBASED_SERVICE),
    )
    .map_err(|e| e.to_string())?;
    let mut ctx = ClientCtx::new(
        None,
        name,
        CtxFlags::GSS_C_MUTUAL_FLAG,
        Some(&GSS_MECH_SPNEGO),
    );
    ctx.step(None, None)
        .map_err(|e| e.to_string())?
        .map(|token| token.to_vec())
        .ok_or_else(|| "GSSAPI made no initial token".into())
}

/// A Negotiate token for `HTTP/<host>` from the logon session's tickets.
#[cfg(windows)]
pub(crate) fn kerberos_token(host: &str) -> Result<Vec<u8>, String> {
    use cross_krb5::{ClientCtx, InitiateFlags};

    ClientCtx::new(
        InitiateFlags::NEGOTIATE_TOKEN,
        None,
        &format!("HTTP/{host}"),
        None,
    )
    .map(|(_, token)| token.to_vec())
    .map_err(|e| format!("{e:#}"))
}

/// Without Kerberos in the build there is no token.
#[cfg(not(any(all(unix, feature = "kerberos"), windows)))]
pub(crate) fn kerberos_token(_host: &str) -> Result<Vec<u8>, String> {
    Err(crate::ldap::KERBEROS_NOT_BUILT.into())
}
