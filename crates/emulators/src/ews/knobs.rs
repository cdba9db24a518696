//! What the EWS emulator is told to be (its account, authentication,
//! server version, faults) and what it has seen.

use super::{DEFAULT_PASSWORD, DEFAULT_USERNAME};

/// Which authentication the emulator offers and accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmulatedAuth {
    /// NTLM or Basic (the default).
    #[default]
    NtlmOrBasic,
    /// NTLM only (Exchange's out-of-the-box EWS virtual directory).
    Ntlm,
    /// Basic only.
    Basic,
    /// `Negotiate` only (an EWS virtual directory whose only Windows
    /// authentication provider is Negotiate, Exchange's default): NTLM
    /// messages are accepted under that scheme, as Windows' Negotiate
    /// package accepts raw NTLM; Kerberos (SPNEGO) tokens are verified when
    /// [`EwsKnobs::kerberos`] is on (with a keytab), refused otherwise.
    Negotiate,
}

impl EmulatedAuth {
    pub(super) fn ntlm(self) -> bool {
        matches!(self, EmulatedAuth::Ntlm | EmulatedAuth::NtlmOrBasic)
    }

    /// The scheme NTLM messages are accepted under, if any.
    pub(super) fn accepts_ntlm_as(self, scheme: &str) -> bool {
        if self == EmulatedAuth::Negotiate {
            scheme.eq_ignore_ascii_case("Negotiate")
        } else {
            self.ntlm() && scheme.eq_ignore_ascii_case("NTLM")
        }
    }

    pub(super) fn basic(self) -> bool {
        matches!(self, EmulatedAuth::Basic | EmulatedAuth::NtlmOrBasic)
    }
}

impl std::str::FromStr for EmulatedAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ntlm" => Ok(EmulatedAuth::Ntlm),
            "basic" => Ok(EmulatedAuth::Basic),
            "negotiate" => Ok(EmulatedAuth::Negotiate),
            "ntlm,basic" | "basic,ntlm" | "both" | "any" => Ok(EmulatedAuth::NtlmOrBasic),
            other => Err(format!("{other:?}: use ntlm, basic, both or negotiate")),
        }
    }
}

/// How the emulator behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EwsKnobs {
    /// The account accepted (case-insensitive): `DOMAIN\user` or a UPN.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Which authentication is offered and accepted.
    pub auth: EmulatedAuth,
    /// Answer as Exchange 2013 (no `SetUserPhoto`, no `Exchange2016` schema).
    pub exchange_2013: bool,
    /// Primary SMTP addresses that have a mailbox (case-insensitive);
    /// any other address has none.
    pub mailboxes: Vec<String>,
    /// Mailboxes whose photo the account may not change.
    pub denied: Vec<String>,
    /// How many SOAP requests from now answer `ErrorServerBusy`.
    pub busy_requests: u32,
    /// The `BackOffMilliseconds` those faults carry.
    pub busy_backoff_ms: u64,
    /// Under `Negotiate`, verify Kerberos tickets with the service keys of
    /// the default keytab (`KRB5_KTNAME`, e.g. one exported from the test
    /// DC for `HTTP/localhost`). Needs the `kerberos` feature (Unix); off,
    /// a Kerberos token is refused with 401, as IIS does when it cannot
    /// decrypt the ticket, and the client falls back to NTLM.
    pub kerberos: bool,
}

impl Default for EwsKnobs {
    fn default() -> Self {
        EwsKnobs {
            username: DEFAULT_USERNAME.into(),
            password: DEFAULT_PASSWORD.into(),
            auth: EmulatedAuth::default(),
            exchange_2013: false,
            mailboxes: Vec::new(),
            denied: Vec::new(),
            busy_requests: 0,
            busy_backoff_ms: 250,
            kerberos: false,
        }
    }
}

impl EwsKnobs {
    /// Adds mailboxes.
    pub fn with_mailboxes<S: Into<String>>(mut self, mails: impl IntoIterator<Item = S>) -> Self {
        self.mailboxes.extend(mails.into_iter().map(Into::into));
        self
    }

    /// Marks mailboxes whose photo may not be changed.
    pub fn with_denied<S: Into<String>>(mut self, mails: impl IntoIterator<Item = S>) -> Self {
        self.denied.extend(mails.into_iter().map(Into::into));
        self
    }

    /// Which authentication is offered and accepted.
    pub fn with_auth(mut self, auth: EmulatedAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Another account and password.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    /// Verify Kerberos tickets under `Negotiate` (see [`EwsKnobs::kerberos`]).
    pub fn with_kerberos(mut self, on: bool) -> Self {
        self.kerberos = on;
        self
    }

    /// Exchange 2013 mode.
    pub fn exchange_2013(mut self, on: bool) -> Self {
        self.exchange_2013 = on;
        self
    }

    /// The next `n` SOAP requests answer `ErrorServerBusy` with `backoff_ms`.
    pub fn with_busy(mut self, n: u32, backoff_ms: u64) -> Self {
        self.busy_requests = n;
        self.busy_backoff_ms = backoff_ms;
        self
    }
}

/// What the emulator has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EwsStats {
    /// REST `GetUserPhoto` requests.
    pub rest_requests: u64,
    /// SOAP requests.
    pub soap_requests: u64,
    /// Photos stored by `SetUserPhoto`.
    pub photos_set: u64,
    /// `ErrorServerBusy` faults sent.
    pub busy_faults: u64,
    /// Requests refused with 401 (NTLM's CHALLENGE included).
    pub unauthorized: u64,
    /// NTLM handshakes that ended signed in.
    pub ntlm_sign_ins: u64,
    /// Connections signed in with a verified Kerberos ticket (Negotiate).
    pub kerberos_sign_ins: u64,
    /// Kerberos tokens refused (no keytab, or the ticket did not verify).
    pub kerberos_refused: u64,
    /// Requests let in by their Basic credentials.
    pub basic_requests: u64,
}
