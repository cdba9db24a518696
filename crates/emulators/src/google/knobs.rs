//! The Google Workspace emulator's knobs, its users and its test service
//! account.
//!
//! Why a module of its own: every behaviour a test wants on demand — the
//! quota (`403 userRateLimitExceeded`), random 503s, a user whose self-set
//! photo survives `users.photos.update`, delegation not granted, the Admin
//! SDK API not enabled, a short token lifetime — is one field here with a
//! documented default, so a test reads as the list of conditions it runs
//! under.

use std::time::Duration;

use serde::Serialize;

/// The domain of the emulated Workspace account.
pub const DEFAULT_DOMAIN: &str = "example.test";
/// The customer id `my_customer` stands for.
pub const DEFAULT_CUSTOMER_ID: &str = "C0emu1234";
/// The super admin the service account acts as by default (`subject`).
pub const DEFAULT_ADMIN: &str = "admin@example.test";
/// A user of the domain who is not an admin.
pub const DEFAULT_NON_ADMIN: &str = "staff@example.test";
/// The test service account's e-mail (`client_email`, the JWT's `iss`).
pub const SERVICE_ACCOUNT_EMAIL: &str = "userphoto@emulator-project.iam.gserviceaccount.com";
/// The test service account's numeric client id (what the Admin console's
/// domain-wide delegation page asks for).
pub const SERVICE_ACCOUNT_CLIENT_ID: &str = "109876543210987654321";
/// The scope userphoto asks for and the emulator grants by default.
pub const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";
/// The test service account's private key (PKCS#8 PEM). For tests only:
/// the key is public.
pub const TEST_SA_PRIVATE_PEM: &str = include_str!("../../fixtures/google-sa.pem");
/// Its public key, which the emulator checks signatures against.
pub const TEST_SA_PUBLIC_PEM: &str = include_str!("../../fixtures/google-sa.pub.pem");
/// A private key the emulator does NOT know (a bad-signature test).
pub const OTHER_PRIVATE_PEM: &str = include_str!("../../fixtures/google-other.pem");

/// The service account key file (JSON, as the Cloud console downloads it)
/// for the test service account, with `token_uri` pointing at `base_url`.
pub fn service_account_json(base_url: &str) -> String {
    key_json(base_url, TEST_SA_PRIVATE_PEM)
}

/// A key file for the same account signed with a key the emulator does not
/// know (its signature check fails).
pub fn unknown_key_json(base_url: &str) -> String {
    key_json(base_url, OTHER_PRIVATE_PEM)
}

fn key_json(base_url: &str, pem: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "emulator-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": SERVICE_ACCOUNT_CLIENT_ID,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{base_url}/token"),
    })
    .to_string()
}

/// A token bucket applied to every Directory API request; a request over
/// it is answered `403` with the configured quota reason.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quota {
    /// Requests per second allowed on average.
    pub rate_per_sec: f64,
    /// Requests that may be sent at once after a quiet spell.
    pub burst: f64,
}

/// One user of the emulated account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GoogleUser {
    /// The immutable id (digits).
    pub id: String,
    /// `primaryEmail`.
    pub primary_email: String,
    /// `aliases` (other addresses that reach the user).
    pub aliases: Vec<String>,
    /// `name.givenName`.
    pub given_name: String,
    /// `name.familyName`.
    pub family_name: String,
    /// `externalIds` of type `organization` (the employee id).
    pub employee_id: Option<String>,
    /// `isAdmin`: a super admin (may be the delegation subject).
    pub is_admin: bool,
    /// `suspended`.
    pub suspended: bool,
    /// The user set their own photo, which `users.photos.update` leaves in
    /// place while [`Knobs::self_set_survives_update`] is on (only a
    /// delete removes it).
    pub self_set_photo: bool,
}

impl GoogleUser {
    /// A user with this id and primary e-mail; the names come from the
    /// local part (`jane.doe` → Jane Doe).
    pub fn new(id: impl Into<String>, primary_email: impl Into<String>) -> Self {
        let primary_email = primary_email.into();
        let local = primary_email.split('@').next().unwrap_or_default();
        let mut parts = local.splitn(2, '.');
        let cap = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        };
        let given = cap(parts.next().unwrap_or_default());
        let family = cap(parts.next().unwrap_or("User"));
        GoogleUser {
            id: id.into(),
            primary_email,
            aliases: Vec::new(),
            given_name: given,
            family_name: family,
            employee_id: None,
            is_admin: false,
            suspended: false,
            self_set_photo: false,
        }
    }

    /// Generated user number `i`: `emu00042@{domain}`, employee id `E00042`.
    pub fn numbered(domain: &str, i: usize) -> Self {
        let mut u = GoogleUser::new(format!("1{i:020}"), format!("emu{i:05}@{domain}"));
        u.given_name = "Emu".to_owned();
        u.family_name = format!("User{i:05}");
        u.employee_id = Some(format!("E{i:05}"));
        u.aliases = vec![format!("alias{i:05}@{domain}")];
        u
    }

    /// Makes the user a super admin.
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    /// Sets the employee id (`externalIds` type `organization`).
    pub fn with_employee_id(mut self, id: impl Into<String>) -> Self {
        self.employee_id = Some(id.into());
        self
    }

    /// Adds an alias address.
    pub fn with_alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// The user set their own photo (see [`GoogleUser::self_set_photo`]).
    pub fn with_self_set_photo(mut self) -> Self {
        self.self_set_photo = true;
        self
    }

    /// `given family`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// How the emulator behaves. Start from `Knobs::default()`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Knobs {
    /// The domain (`example.test`).
    pub domain: String,
    /// The customer id `my_customer` resolves to.
    pub customer_id: String,
    /// How many generated users (`emu00000@…`).
    pub users: usize,
    /// Users added besides the generated ones (the admin, the non-admin
    /// and any a test adds).
    pub extra_users: Vec<GoogleUser>,
    /// The largest `maxResults` accepted (Google: 500).
    pub max_results: usize,
    /// The service account's e-mail (`iss`).
    pub service_account: String,
    /// The service account's public key (PEM) the signature is checked with.
    pub public_key_pem: String,
    /// The scopes domain-wide delegation grants the service account (the
    /// Admin console's list); empty: delegation not granted.
    pub delegated_scopes: Vec<String>,
    /// Whether the Admin SDK API is enabled in the service account's
    /// project (`false`: every API request is `403 accessNotConfigured`).
    pub api_enabled: bool,
    /// The quota bucket (`None`: unlimited).
    pub quota: Option<Quota>,
    /// The reason a quota answer carries: `userRateLimitExceeded`
    /// (default) or `rateLimitExceeded`.
    pub quota_reason: String,
    /// Share of API requests answered `503 backendError` at random (0–1).
    pub random_503_rate: f64,
    /// Share of API requests answered `429` (`RESOURCE_EXHAUSTED`) at
    /// random (0–1).
    pub random_429_rate: f64,
    /// Whether a user's self-set photo survives `users.photos.update`
    /// (the behaviour GAM works around by deleting first).
    pub self_set_survives_update: bool,
    /// How long an access token lives (Google: 3600 s).
    pub token_lifetime: Duration,
    /// How far in the future an assertion's `iat` may be (clock skew
    /// tolerated).
    pub clock_skew: Duration,
    /// How far the emulator's clock is ahead of this machine's, in seconds
    /// (negative: behind): a client with a wrong clock.
    pub clock_offset_secs: i64,
    /// The largest decoded `photoData` accepted, in bytes. Google
    /// documents no figure (see docs/GOOGLE.md); this is the emulator's.
    pub max_photo_bytes: usize,
    /// Seed of the fault dice.
    pub seed: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            domain: DEFAULT_DOMAIN.to_owned(),
            customer_id: DEFAULT_CUSTOMER_ID.to_owned(),
            users: 10,
            extra_users: vec![
                GoogleUser::new("900000000000000000001", DEFAULT_ADMIN).admin(),
                GoogleUser::new("900000000000000000002", DEFAULT_NON_ADMIN),
            ],
            max_results: 500,
            service_account: SERVICE_ACCOUNT_EMAIL.to_owned(),
            public_key_pem: TEST_SA_PUBLIC_PEM.to_owned(),
            delegated_scopes: vec![USER_SCOPE.to_owned()],
            api_enabled: true,
            quota: None,
            quota_reason: "userRateLimitExceeded".to_owned(),
            random_503_rate: 0.0,
            random_429_rate: 0.0,
            self_set_survives_update: false,
            token_lifetime: Duration::from_secs(3600),
            clock_skew: Duration::from_secs(300),
            clock_offset_secs: 0,
            max_photo_bytes: 2 * 1024 * 1024,
            seed: 0x6009_1e5e_ed00_0001,
        }
    }
}

impl Knobs {
    /// Sets how many generated users there are.
    pub fn with_users(mut self, n: usize) -> Self {
        self.users = n;
        self
    }

    /// Adds a user.
    pub fn with_user(mut self, user: GoogleUser) -> Self {
        self.extra_users.push(user);
        self
    }

    /// Throttles API requests to `rate_per_sec` with a bucket of `burst`.
    pub fn with_quota(mut self, rate_per_sec: f64, burst: f64) -> Self {
        self.quota = Some(Quota {
            rate_per_sec,
            burst: burst.max(1.0),
        });
        self
    }

    /// Random 503 and 429 shares.
    pub fn with_faults(mut self, random_503: f64, random_429: f64) -> Self {
        self.random_503_rate = random_503.clamp(0.0, 1.0);
        self.random_429_rate = random_429.clamp(0.0, 1.0);
        self
    }

    /// Domain-wide delegation grants these scopes (none: not granted).
    pub fn with_delegated_scopes(mut self, scopes: &[&str]) -> Self {
        self.delegated_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Turns the Admin SDK API off in the project.
    pub fn with_api_disabled(mut self) -> Self {
        self.api_enabled = false;
        self
    }

    /// Self-set photos survive `users.photos.update`.
    pub fn with_self_set_survives_update(mut self) -> Self {
        self.self_set_survives_update = true;
        self
    }

    /// Sets the access token lifetime.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Puts the emulator's clock `secs` ahead of this machine's.
    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }

    /// Sets the largest decoded photo accepted.
    pub fn with_max_photo_bytes(mut self, n: usize) -> Self {
        self.max_photo_bytes = n;
        self
    }
}
