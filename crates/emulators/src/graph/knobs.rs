//! The emulator's knobs and its users.
//!
//! Why a module of its own: every behaviour a test wants on demand — page
//! size, how many users, throttling, random 503s, slow read-after-write,
//! short-lived tokens, users without a mailbox or whose photo we may not
//! change — is one field here with a documented default, so a test reads
//! as the list of conditions it runs under.

use std::time::Duration;

use serde::Serialize;

/// The tenant every emulator uses unless told otherwise.
pub const DEFAULT_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The application (client) id registered in the emulator by default.
pub const DEFAULT_CLIENT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The client secret registered by default (test value, not a secret).
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-secret";

/// The password emulated users sign in with at the authorize endpoint
/// (test value, not a secret).
pub const DEFAULT_USER_PASSWORD: &str = "emulator-user-password";

/// The test certificate (public part) the emulator registers by default;
/// its key is in [`TEST_APP_PEM`].
pub const TEST_APP_CERT: &str = include_str!("../../fixtures/app.crt");
/// The test certificate and its private key (PEM), as an admin would give
/// `certificate_file`. For tests only: the key is public.
pub const TEST_APP_PEM: &str = include_str!("../../fixtures/app.pem");
/// A certificate and key that are NOT registered (for the 401 path).
pub const UNREGISTERED_PEM: &str = include_str!("../../fixtures/other.pem");

/// A token bucket applied to every Graph request.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Throttle {
    /// Requests per second allowed on average.
    pub rate_per_sec: f64,
    /// Requests that may be sent at once after a quiet spell.
    pub burst: f64,
}

/// One user of the emulated tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EmulatedUser {
    /// The object id (a GUID).
    pub id: String,
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `mail` (`None`: no SMTP address).
    pub mail: Option<String>,
    /// `mailNickname` (the alias).
    pub mail_nickname: String,
    /// `displayName`.
    pub display_name: String,
    /// `onPremisesSamAccountName` (`None`: a cloud-only user).
    pub on_premises_sam_account_name: Option<String>,
    /// `employeeId`.
    pub employee_id: Option<String>,
    /// `accountEnabled`.
    pub account_enabled: bool,
    /// Whether the user has a mailbox (photos need one here).
    pub has_mailbox: bool,
    /// Whether our app is refused writes to this user's photo (403).
    pub forbidden: bool,
}

impl EmulatedUser {
    /// A user whose every name derives from `alias`: UPN
    /// `alias@contoso.test`, mail `alias.mail@contoso.test`, on-premises
    /// name `alias`, display name `alias` in title words.
    pub fn new(id: impl Into<String>, alias: &str) -> Self {
        EmulatedUser {
            id: id.into(),
            user_principal_name: format!("{alias}@contoso.test"),
            mail: Some(format!("{alias}.mail@contoso.test")),
            mail_nickname: alias.to_owned(),
            display_name: alias.replace(['.', '-'], " "),
            on_premises_sam_account_name: Some(alias.to_owned()),
            employee_id: None,
            account_enabled: true,
            has_mailbox: true,
            forbidden: false,
        }
    }

    /// The `i`th generated user: alias `{prefix}{i:05}`.
    pub fn numbered(prefix: &str, i: usize) -> Self {
        let mut u = EmulatedUser::new(
            format!("00000000-0000-4000-8000-{:012}", i),
            &format!("{prefix}{i:05}"),
        );
        u.employee_id = Some(format!("E{i:05}"));
        u.display_name = format!("{} User {i:05}", capitalise(prefix));
        u
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Sets `mail` (`None`: no SMTP address).
    pub fn with_mail(mut self, mail: Option<String>) -> Self {
        self.mail = mail;
        self
    }

    /// Sets `onPremisesSamAccountName`.
    pub fn with_sam(mut self, sam: Option<String>) -> Self {
        self.on_premises_sam_account_name = sam;
        self
    }

    /// Sets the UPN.
    pub fn with_upn(mut self, upn: impl Into<String>) -> Self {
        self.user_principal_name = upn.into();
        self
    }

    /// Sets `employeeId`.
    pub fn with_employee_id(mut self, id: impl Into<String>) -> Self {
        self.employee_id = Some(id.into());
        self
    }

    /// A user without a mailbox: photo reads answer 404
    /// `MailboxNotEnabledForRESTAPI`, writes likewise.
    pub fn without_mailbox(mut self) -> Self {
        self.has_mailbox = false;
        self
    }

    /// A user whose photo our app may read but not change (403).
    pub fn forbidden(mut self) -> Self {
        self.forbidden = true;
        self
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// How the emulator behaves. `Knobs::default()` is a quiet tenant: 10
/// users, pages of 100, no throttling, no faults, writes visible at once,
/// tokens valid for an hour.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Knobs {
    /// The tenant id the token endpoint answers for.
    pub tenant_id: String,
    /// The registered application's client id.
    pub client_id: String,
    /// The registered client secret (`None`: secrets are refused).
    #[serde(skip)]
    pub client_secret: Option<String>,
    /// The registered certificate, PEM (`None`: assertions are refused).
    #[serde(skip)]
    pub certificate_pem: Option<String>,
    /// How many generated users (`{prefix}00000`, …).
    pub users: usize,
    /// The alias prefix of generated users.
    pub user_prefix: String,
    /// Users added after the generated ones.
    pub extra_users: Vec<EmulatedUser>,
    /// The most users in one page, whatever `$top` asks (Graph: 999).
    pub page_size: usize,
    /// A token bucket over every Graph request (`None`: unthrottled).
    pub throttle: Option<Throttle>,
    /// The share of Graph requests answered 429 at random, before doing
    /// anything (0.0–1.0).
    pub random_429_rate: f64,
    /// The share answered 503 at random, before doing anything.
    pub random_503_rate: f64,
    /// The `Retry-After` sent with random 429s (random 503s carry none, so
    /// clients' own backoff is exercised).
    pub fault_retry_after: Duration,
    /// Send `Retry-After` as an HTTP date instead of seconds.
    pub retry_after_as_date: bool,
    /// How long a photo write or removal reads back stale.
    pub read_after_write: Duration,
    /// How long an access token is valid.
    pub token_lifetime: Duration,
    /// The seed of the fault dice.
    pub seed: u64,
    /// Device code sign-in: how many polls answer `authorization_pending`
    /// before the emulated admin has "approved" (default 1).
    pub device_code_pending_polls: u32,
    /// Device code sign-in: the polling interval the emulator asks for.
    pub device_code_interval: Duration,
    /// The registered client secret has expired: a right secret is
    /// answered `AADSTS7000222` (401 `invalid_client`), as Entra does.
    pub secret_expired: bool,
    /// Whether admin consent was granted for the app's application
    /// permissions. Without it Entra still issues a token (with no
    /// roles), and Graph answers every call 403 `Authorization_RequestDenied`
    /// "Insufficient privileges to complete the operation." (default true).
    pub admin_consent: bool,
    /// The tenant's `photoUpdateSettings.source` (`cloud` or
    /// `onPremises`); with `onPremises` photo uploads and removals are
    /// refused (403).
    pub photo_update_source: String,
    /// The roles `photoUpdateSettings.allowedRoles` lists.
    pub photo_update_allowed_roles: Vec<String>,
    /// Whether the application lacks `PeopleSettings.Read.All`: reading
    /// `photoUpdateSettings` is then refused (403).
    pub people_settings_denied: bool,
    /// The password every emulated user signs in with at the authorize
    /// endpoint (OpenID Connect; a test value).
    #[serde(skip)]
    pub user_password: String,
    /// Group memberships for the id token's `groups` claim: (UPN, group
    /// object id).
    pub group_members: Vec<(String, String)>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            tenant_id: DEFAULT_TENANT.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: Some(DEFAULT_CLIENT_SECRET.to_owned()),
            certificate_pem: Some(TEST_APP_CERT.to_owned()),
            users: 10,
            user_prefix: "emu".to_owned(),
            extra_users: Vec::new(),
            page_size: 100,
            throttle: None,
            random_429_rate: 0.0,
            random_503_rate: 0.0,
            fault_retry_after: Duration::from_secs(1),
            retry_after_as_date: false,
            read_after_write: Duration::ZERO,
            token_lifetime: Duration::from_secs(3599),
            seed: 0x5eed,
            device_code_pending_polls: 1,
            device_code_interval: Duration::from_secs(1),
            secret_expired: false,
            admin_consent: true,
            photo_update_source: "cloud".to_owned(),
            photo_update_allowed_roles: Vec::new(),
            people_settings_denied: false,
            user_password: DEFAULT_USER_PASSWORD.to_owned(),
            group_members: Vec::new(),
        }
    }
}

impl Knobs {
    /// Sets how many generated users there are.
    pub fn with_users(mut self, n: usize) -> Self {
        self.users = n;
        self
    }

    /// Adds a user after the generated ones.
    pub fn with_user(mut self, user: EmulatedUser) -> Self {
        self.extra_users.push(user);
        self
    }

    /// Sets the tenant's photo update source (`cloud` or `onPremises`).
    pub fn with_photo_update_source(mut self, source: &str) -> Self {
        source.clone_into(&mut self.photo_update_source);
        self
    }

    /// Sets the largest page.
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Throttles every Graph request with a token bucket.
    pub fn with_throttle(mut self, rate_per_sec: f64, burst: f64) -> Self {
        self.throttle = Some(Throttle {
            rate_per_sec,
            burst,
        });
        self
    }

    /// Random 429s and 503s, with the `Retry-After` they carry.
    pub fn with_faults(mut self, rate_429: f64, rate_503: f64, retry_after: Duration) -> Self {
        self.random_429_rate = rate_429.clamp(0.0, 1.0);
        self.random_503_rate = rate_503.clamp(0.0, 1.0);
        self.fault_retry_after = retry_after;
        self
    }

    /// Sends `Retry-After` as an HTTP date.
    pub fn with_retry_after_as_date(mut self) -> Self {
        self.retry_after_as_date = true;
        self
    }

    /// Sets how long writes read back stale.
    pub fn with_read_after_write(mut self, delay: Duration) -> Self {
        self.read_after_write = delay;
        self
    }

    /// Sets how long tokens live.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets the fault dice's seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Registers a different client secret (`None`: refuse secrets).
    pub fn with_client_secret(mut self, secret: Option<String>) -> Self {
        self.client_secret = secret;
        self
    }
}
