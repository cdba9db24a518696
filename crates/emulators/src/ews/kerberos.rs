//! Kerberos under `Negotiate` for the EWS emulator: the ticket in a SPNEGO
//! token is verified by the system's GSSAPI library with the service keys
//! of the default keytab (`KRB5_KTNAME`), as IIS verifies it with the
//! Exchange server's machine account keys. No Kerberos crypto is written
//! here.
//!
//! Why it can be emulated honestly: verifying a ticket needs only the
//! service's long-term key, which Samba exports (`samba-tool domain
//! exportkeytab --principal=HTTP/localhost`); the ticket itself comes from
//! the real KDC. Without a keytab (or without the `kerberos` feature, which
//! links libgssapi and so needs libkrb5-dev and libclang-dev to build) a
//! Kerberos token is refused with 401, as IIS does for a ticket it cannot
//! decrypt, and Negotiate clients fall back to NTLM.
//!
//! Simplification: the emulator sends no mutual-authentication token back
//! (the final `WWW-Authenticate: Negotiate …` on the 200); clients that
//! require it are not emulated.

/// Why a Kerberos token is refused when tickets are not verified.
const NOT_ON: &str =
    "the emulator verifies Kerberos tickets only with --keytab (EwsKnobs::kerberos)";

/// Verifies the SPNEGO/Kerberos `token` and returns the client principal.
#[cfg(all(unix, feature = "kerberos"))]
pub(super) fn accept(enabled: bool, token: &[u8]) -> Result<String, String> {
    use libgssapi::context::{SecurityContext as _, ServerCtx};
    use libgssapi::credential::{Cred, CredUsage};

    if !enabled {
        return Err(NOT_ON.into());
    }
    let cred = Cred::acquire(None, None, CredUsage::Accept, None)
        .map_err(|e| format!("no service key (the keytab in KRB5_KTNAME): {e}"))?;
    let mut ctx = ServerCtx::new(Some(cred));
    ctx.step(token)
        .map_err(|e| format!("the ticket did not verify: {e}"))?;
    if !ctx.is_complete() {
        return Err("the Negotiate exchange wants a second leg, which the emulator does not do (send the Kerberos token first)".into());
    }
    ctx.source_name()
        .map(|name| name.to_string())
        .map_err(|e| format!("no client name in the ticket: {e}"))
}

/// Without the `kerberos` feature no ticket can be verified.
#[cfg(not(all(unix, feature = "kerberos")))]
pub(super) fn accept(enabled: bool, _token: &[u8]) -> Result<String, String> {
    Err(if enabled {
        "this emulator was built without the kerberos feature (Unix: cargo build --features kerberos)"
            .into()
    } else {
        NOT_ON.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_a_token_is_refused_not_trusted() {
        let err = accept(false, b"\x60\x03\x06\x01\x00").expect_err("refused");
        assert!(err.contains("--keytab"), "{err}");
    }

    #[cfg(all(unix, feature = "kerberos"))]
    #[test]
    fn garbage_is_refused_even_with_keys_on() {
        assert!(accept(true, b"\x60\x03\x06\x01\x00").is_err());
        assert!(accept(true, b"").is_err());
    }
}
