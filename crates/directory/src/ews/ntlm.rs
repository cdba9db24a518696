//! The client half of NTLM (MS-NLMP) for EWS: the NEGOTIATE message that
//! opens a handshake and the AUTHENTICATE message that answers the server's
//! CHALLENGE, both made by `sspi` (Devolutions' pure-Rust SSPI, which also
//! has the acceptor the EWS emulator uses). No NTLM crypto is written here.
//!
//! Over HTTPS the AUTHENTICATE message carries the TLS channel binding
//! (`tls-server-end-point`, RFC 5929), so servers with Extended Protection
//! for Authentication (on by default in Exchange 2019 CU14 and later)
//! accept it.

use secrecy::{ExposeSecret as _, SecretString};
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation, Ntlm,
    SecurityBuffer, SecurityStatus, Sspi as _, SspiImpl as _, Username,
};

/// One NTLM handshake in progress (one per HTTP connection).
pub(crate) struct NtlmHandshake {
    ntlm: Ntlm,
    credentials: Option<sspi::AuthIdentityBuffers>,
    target: String,
}

impl std::fmt::Debug for NtlmHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmHandshake")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl NtlmHandshake {
    /// Starts a handshake as `username` (`DOMAIN\user` or a UPN) towards
    /// `host`; returns it with the NEGOTIATE message.
    pub(crate) fn start(
        username: &str,
        password: &SecretString,
        host: &str,
    ) -> Result<(Self, Vec<u8>), String> {
        let username = Username::parse(username)
            .map_err(|e| format!("the username cannot be used for NTLM: {e}"))?;
        let identity = AuthIdentity {
            username,
            password: password.expose_secret().to_owned().into(),
        };
        let mut ntlm = Ntlm::new();
        let acquired = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Outbound)
            .with_auth_data(&identity)
            .execute(&mut ntlm)
            .map_err(|e| format!("NTLM credentials: {e}"))?;
        let mut handshake = NtlmHandshake {
            ntlm,
            credentials: acquired.credentials_handle,
            target: format!("HTTP/{host}"),
        };
        let negotiate = handshake.step(None, None)?;
        Ok((handshake, negotiate))
    }

    /// Answers the server's CHALLENGE with the AUTHENTICATE message;
    /// `channel_binding` is the `tls-server-end-point` value over HTTPS.
    pub(crate) fn answer(
        &mut self,
        challenge: &[u8],
        channel_binding: Option<&[u8]>,
    ) -> Result<Vec<u8>, String> {
        self.step(Some(challenge), channel_binding)
    }

    fn step(
        &mut self,
        input: Option<&[u8]>,
        channel_binding: Option<&[u8]>,
    ) -> Result<Vec<u8>, String> {
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input_buffers = input.map(|token| {
            let mut buffers = vec![SecurityBuffer::new(token.to_vec(), BufferType::Token)];
            if let Some(cb) = channel_binding {
                buffers.push(SecurityBuffer::new(
                    sec_channel_bindings(cb),
                    BufferType::ChannelBindings,
                ));
            }
            buffers
        });
        let mut builder = self
            .ntlm
            .initialize_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_target_name(&self.target)
            .with_output(&mut output);
        if let Some(buffers) = input_buffers.as_mut() {
            builder = builder.with_input(buffers);
        }
        let result = self
            .ntlm
            .initialize_security_context_impl(&mut builder)
            .and_then(|mut g| g.resolve_to_result())
            .map_err(|e| format!("NTLM: {e}"))?;
        if matches!(
            result.status,
            SecurityStatus::CompleteAndContinue | SecurityStatus::CompleteNeeded
        ) {
            self.ntlm
                .complete_auth_token(&mut output)
                .map_err(|e| format!("NTLM: {e}"))?;
        }
        Ok(output
            .into_iter()
            .next()
            .map(|b| b.buffer)
            .unwrap_or_default())
    }
}

/// A `SEC_CHANNEL_BINDINGS` structure holding only application data, the
/// form SSPI takes channel bindings in: eight 32-bit fields (no initiator,
/// no acceptor address), then the data.
fn sec_channel_bindings(application_data: &[u8]) -> Vec<u8> {
    const HEADER: u32 = 32;
    let len = u32::try_from(application_data.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(32 + application_data.len());
    for field in [0, 0, 0, 0, 0, 0, len, HEADER] {
        out.extend_from_slice(&u32::to_le_bytes(field));
    }
    out.extend_from_slice(application_data);
    out
}

/// The `tls-server-end-point` channel binding of a server certificate
/// (RFC 5929 §4.1): the certificate hashed with its signature's hash
/// function, SHA-256 where that is MD5 or SHA-1.
pub(crate) fn tls_server_end_point(certificate_der: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let algorithm = x509_parser::parse_x509_certificate(certificate_der)
        .map(|(_, cert)| cert.signature_algorithm.algorithm.to_id_string())
        .unwrap_or_default();
    // sha384WithRSAEncryption, ecdsa-with-SHA384, RSASSA-PSS is left at SHA-256.
    let hash = match algorithm.as_str() {
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => {
            sha2::Sha384::digest(certificate_der).to_vec()
        }
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => {
            sha2::Sha512::digest(certificate_der).to_vec()
        }
        _ => sha2::Sha256::digest(certificate_der).to_vec(),
    };
    let mut out = b"tls-server-end-point:".to_vec();
    out.extend_from_slice(&hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handshake_starts_with_a_negotiate_message() {
        let (_, negotiate) = NtlmHandshake::start(
            r"CORP\svc-photos",
            &SecretString::from("not-a-real-password"),
            "mail.example.test",
        )
        .expect("start");
        assert_eq!(&negotiate[..8], b"NTLMSSP\0");
        assert_eq!(negotiate[8], 1, "message type 1 (NEGOTIATE)");
    }

    #[test]
    fn channel_bindings_have_the_sspi_layout() {
        let cb = sec_channel_bindings(b"tls-server-end-point:xyz");
        assert_eq!(cb.len(), 32 + 24);
        assert_eq!(u32::from_le_bytes([cb[24], cb[25], cb[26], cb[27]]), 24);
        assert_eq!(u32::from_le_bytes([cb[28], cb[29], cb[30], cb[31]]), 32);
        let parsed = sspi::channel_bindings::ChannelBindings::from_bytes(&cb).expect("parse");
        assert_eq!(parsed.application_data, b"tls-server-end-point:xyz");
        let ep = tls_server_end_point(b"not a certificate");
        assert_eq!(ep.len(), "tls-server-end-point:".len() + 32);
    }
}
