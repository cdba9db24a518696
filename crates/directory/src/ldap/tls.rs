//! The TLS client configuration: the system's trust store plus an optional
//! CA file, always verified.
//!
//! Why a module of its own: certificate checking is the one thing that must
//! never be switched off quietly. This module builds the only
//! `rustls::ClientConfig` the LDAP backend uses; it has no "skip
//! verification" knob at all. Internal CAs are the norm for domain
//! controllers, so `ca_file` adds trust anchors rather than replacing the
//! system's. The crypto provider (ring) is named explicitly, so the
//! backend works whatever provider other crates in the process install.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::{Error, Result};

/// Builds the client configuration: system roots (when `system_roots`) plus
/// every certificate in `ca_file`.
///
/// # Errors
/// [`Error::InvalidConfig`] when `ca_file` cannot be read or holds no
/// certificate, or no trust anchor is left at all.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    system_roots: bool,
) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    if system_roots {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "skipping part of the system trust store");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system trust anchors");
    }
    if let Some(path) = ca_file {
        let certs = read_pem_certificates(path)?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::InvalidConfig {
                message: format!(
                    "the ca_file {} holds no usable CA certificate; give a PEM file with the CA that issued the directory's certificate",
                    path.display()
                ),
            });
        }
    }
    if roots.is_empty() {
        return Err(Error::InvalidConfig {
            message: "no trusted CA certificate is available (the system trust store is empty); set ca_file to the CA that issued the directory's certificate".into(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidConfig {
            message: format!("the TLS library cannot be set up: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let invalid = |why: String| Error::InvalidConfig {
        message: format!(
            "cannot use the ca_file {}: {why}; give a readable PEM file with the CA certificate",
            path.display()
        ),
    };
    let bytes = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| invalid(format!("{e:?}")))?;
    if certs.is_empty() {
        return Err(invalid("it holds no PEM CERTIFICATE block".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_empty_ca_files_are_config_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let e = client_config(Some(&missing), false).expect_err("missing");
        assert!(matches!(e, Error::InvalidConfig { .. }));
        assert!(e.to_string().contains("missing.pem"), "{e}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = client_config(Some(&empty), false).expect_err("empty");
        assert!(e.to_string().contains("no PEM CERTIFICATE"), "{e}");

        let e = client_config(None, false).expect_err("no roots");
        assert!(e.to_string().contains("ca_file"), "{e}");
    }
}
