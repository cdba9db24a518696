//! The server half of NTLM for the EWS emulator: a real CHALLENGE message
//! and the check of the client's AUTHENTICATE message against the
//! configured account, both done by `sspi`'s NTLM acceptor (no NTLM crypto
//! is written here).
//!
//! `sspi`'s acceptor proves the password through the message integrity
//! code (MIC), which is keyed by the password-derived session key; a
//! message without a MIC would pass whatever the password. MS-NLMP makes
//! the MIC mandatory when the CHALLENGE carries a timestamp (sspi's does),
//! so a message without one is refused here: that is read from the
//! `MsvAvFlags` pair of the NTLMv2 response before sspi is asked.

use sspi::{
    AuthIdentity, BufferType, CredentialUse, DataRepresentation, Ntlm, SecurityBuffer,
    SecurityStatus, ServerRequestFlags, Sspi as _, SspiImpl as _, Username,
};

/// An accepted NEGOTIATE message waiting for its AUTHENTICATE (one per
/// connection).
pub(crate) struct Acceptor {
    ntlm: Ntlm,
    credentials: Option<sspi::AuthIdentityBuffers>,
    expected: Username,
    configured: String,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor").finish_non_exhaustive()
    }
}

/// The NTLM message type of `token` (1, 2 or 3), if it is one.
pub(crate) fn message_type(token: &[u8]) -> Option<u8> {
    if token.len() >= 12 && token.starts_with(b"NTLMSSP\0") {
        Some(token[8])
    } else {
        None
    }
}

impl Acceptor {
    /// Answers a NEGOTIATE message with a CHALLENGE, for `username`
    /// (`DOMAIN\user` or a UPN) with `password`.
    pub(crate) fn challenge(
        username: &str,
        password: &str,
        negotiate: &[u8],
    ) -> Result<(Self, Vec<u8>), String> {
        let expected =
            Username::parse(username).map_err(|e| format!("the emulator's username: {e}"))?;
        let identity = AuthIdentity {
            username: expected.clone(),
            password: password.to_owned().into(),
        };
        let mut ntlm = Ntlm::new();
        let acquired = ntlm
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Inbound)
            .with_auth_data(&identity)
            .execute(&mut ntlm)
            .map_err(|e| format!("NTLM credentials: {e}"))?;
        let mut acceptor = Acceptor {
            ntlm,
            credentials: acquired.credentials_handle,
            expected,
            configured: username.to_owned(),
        };
        let (_, challenge) = acceptor.step(negotiate)?;
        Ok((acceptor, challenge))
    }

    /// Checks an AUTHENTICATE message: the account named in it and the
    /// proof of its password.
    pub(crate) fn verify(mut self, authenticate: &[u8]) -> Result<(), String> {
        if !has_mic(authenticate) {
            return Err("the AUTHENTICATE message has no MIC".into());
        }
        let (status, _) = self.step(authenticate)?;
        if matches!(
            status,
            SecurityStatus::CompleteNeeded | SecurityStatus::CompleteAndContinue
        ) {
            self.ntlm
                .complete_auth_token(&mut [])
                .map_err(|e| format!("NTLM: {e}"))?;
        }
        let names = self
            .ntlm
            .query_context_names()
            .map_err(|e| format!("NTLM: {e}"))?;
        let wire = names.username;
        // A UPN may come as the user name with an empty domain.
        if !(wire.eq_ignore_ascii_case(&self.expected)
            || wire.account_name().eq_ignore_ascii_case(&self.configured))
        {
            return Err(format!("{wire:?} is not the emulator's account"));
        }
        Ok(())
    }

    fn step(&mut self, token: &[u8]) -> Result<(SecurityStatus, Vec<u8>), String> {
        let mut input = vec![SecurityBuffer::new(token.to_vec(), BufferType::Token)];
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = self
            .ntlm
            .accept_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut input)
            .with_output(&mut output);
        let result = self
            .ntlm
            .accept_security_context_impl(builder)
            .and_then(|mut g| g.resolve_to_result())
            .map_err(|e| format!("NTLM: {e}"))?;
        let out = output
            .into_iter()
            .next()
            .map(|b| b.buffer)
            .unwrap_or_default();
        Ok((result.status, out))
    }
}

/// Whether the NTLMv2 response of an AUTHENTICATE message says a MIC is
/// present (`MsvAvFlags` bit 0x2). Layout (MS-NLMP 2.2.1.3, 2.2.2.7):
/// `NtChallengeResponseFields` at offset 20 (length u16, max u16, offset
/// u32); the response is `NTProofStr` (16 bytes) then the client challenge,
/// whose AV pairs start 28 bytes in.
fn has_mic(authenticate: &[u8]) -> bool {
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let (Some(len), Some(offset)) = (u16_at(authenticate, 20), u32_at(authenticate, 24)) else {
        return false;
    };
    let Ok(offset) = usize::try_from(offset) else {
        return false;
    };
    let Some(response) = authenticate.get(offset..offset + usize::from(len)) else {
        return false;
    };
    let mut at = 16 + 28;
    while let (Some(id), Some(n)) = (u16_at(response, at), u16_at(response, at + 2)) {
        let value = at + 4;
        match id {
            0 => return false,
            6 => return u32_at(response, value).is_some_and(|flags| flags & 0x2 != 0),
            _ => at = value + usize::from(n),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_messages_are_refused_not_a_panic() {
        assert_eq!(message_type(b"NTLMSSP\0\x01\0\0\0"), Some(1));
        assert_eq!(message_type(b"nonsense"), None);
        for bytes in [&b""[..], b"NTLMSSP\0\x03\0\0\0", &[0xff; 64]] {
            assert!(!has_mic(bytes));
        }
        assert!(Acceptor::challenge(r"CORP\u", "p", b"NTLMSSP\0\x01garbage").is_err());
    }
}
