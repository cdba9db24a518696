//! What the Graph emulator remembers: the tenant's users, their photos (with
//! the read-after-write delay), issued tokens, the throttle bucket, the
//! fault dice and the counters tests assert on.
//!
//! Why a module of its own: the HTTP handlers stay thin and every rule that
//! tests depend on (a rejected request changes nothing; a write becomes
//! visible only after the configured delay; writes are counted per user)
//! lives here, next to the data it guards.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::knobs::{EmulatedUser, Knobs};

/// Counters a test or the benchmark reads after a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Graph requests received (not counting the token endpoint).
    pub requests: u64,
    /// 429 answers given by the token bucket.
    pub throttled: u64,
    /// 429 answers given at random (`random_429_rate`).
    pub injected_429: u64,
    /// 503 answers given at random (`random_503_rate`).
    pub injected_503: u64,
    /// Photo uploads applied (PUTs that changed state).
    pub writes: u64,
    /// Photo removals applied.
    pub deletes: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Requests refused with 401 (missing, unknown or expired token).
    pub unauthorized: u64,
    /// Photo bytes served (`$value` of the photo or a size of it): what a
    /// re-run that trusts its sync state must not ask for.
    pub photo_reads: u64,
    /// Photo uploads refused because the tenant's photo update setting
    /// says photos are managed on premises.
    pub refused_on_premises: u64,
}

/// A stored photo, with what a reader sees until the write is visible.
#[derive(Clone, Debug)]
pub(crate) struct PhotoState {
    /// The newest bytes (`None`: removed).
    pub(crate) current: Option<Vec<u8>>,
    /// What readers see until `visible_at`.
    pub(crate) previous: Option<Vec<u8>>,
    /// When `current` becomes what readers see.
    pub(crate) visible_at: Instant,
}

impl PhotoState {
    /// The bytes a reader sees now.
    pub(crate) fn visible(&self, now: Instant) -> Option<&Vec<u8>> {
        if now >= self.visible_at {
            self.current.as_ref()
        } else {
            self.previous.as_ref()
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Bucket {
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            tokens: burst.max(1.0),
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// A small deterministic RNG (xorshift64*): the fault dice must be
/// reproducible from a seed, and the emulator needs nothing stronger.
#[derive(Debug)]
pub(crate) struct Dice(u64);

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Dice(seed | 1)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn roll(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.roll();
        self.0
    }
}

/// Everything mutable, behind one lock.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) knobs: Knobs,
    pub(crate) users: Vec<EmulatedUser>,
    pub(crate) photos: HashMap<String, PhotoState>,
    pub(crate) writes_per_user: HashMap<String, u64>,
    pub(crate) tokens: HashMap<String, Instant>,
    /// Device codes handed out, with how many times each was polled.
    pub(crate) device_codes: HashMap<String, u32>,
    /// Refresh tokens issued to signed-in admins (device code flow).
    pub(crate) refresh_tokens: std::collections::HashSet<String>,
    pub(crate) bucket: Option<Bucket>,
    pub(crate) dice: Dice,
    pub(crate) stats: Stats,
    /// `http://127.0.0.1:PORT`, for `@odata.nextLink` and the assertion's
    /// expected audience.
    pub(crate) base_url: String,
    /// Authorization codes handed out by the authorize endpoint.
    pub(crate) auth_codes: HashMap<String, super::oidc::AuthCode>,
}

impl Inner {
    pub(crate) fn new(knobs: Knobs) -> Self {
        let mut users: Vec<EmulatedUser> = (0..knobs.users)
            .map(|i| EmulatedUser::numbered(&knobs.user_prefix, i))
            .collect();
        users.extend(knobs.extra_users.iter().cloned());
        Inner {
            bucket: knobs.throttle.map(|t| Bucket::new(t.rate_per_sec, t.burst)),
            dice: Dice::new(knobs.seed),
            users,
            photos: HashMap::new(),
            writes_per_user: HashMap::new(),
            tokens: HashMap::new(),
            device_codes: HashMap::new(),
            refresh_tokens: std::collections::HashSet::new(),
            stats: Stats::default(),
            base_url: String::new(),
            auth_codes: HashMap::new(),
            knobs,
        }
    }

    /// The user whose id or UPN is `key` (case-insensitive), as Graph
    /// addresses `/users/{id | userPrincipalName}`.
    pub(crate) fn user(&self, key: &str) -> Option<&EmulatedUser> {
        self.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key)
        })
    }

    /// A new opaque value (device codes, refresh tokens).
    pub(crate) fn opaque(&mut self, kind: &str) -> String {
        format!(
            "{kind}.{:016x}{:016x}",
            self.dice.next_u64(),
            self.dice.next_u64()
        )
    }

    /// Issues a token valid for the configured lifetime.
    pub(crate) fn issue_token(&mut self) -> (String, Duration) {
        let lifetime = self.knobs.token_lifetime;
        let token = format!(
            "emulator.{}.{:016x}",
            self.stats.tokens_issued,
            self.dice.next_u64()
        );
        self.tokens.insert(token.clone(), Instant::now() + lifetime);
        self.stats.tokens_issued += 1;
        (token, lifetime)
    }
}
