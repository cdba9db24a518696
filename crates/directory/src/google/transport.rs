//! The ONE place Google requests are sent, paced and retried.
//!
//! Every Directory API request of the backend goes through
//! [`Transport::send`], which
//!
//! * waits for its turn at the client-side pace (the [`Pacer`]): Google's
//!   documented default quota is 2,400 queries per minute per user per
//!   project, so requests are spaced to the configured rate, and a quota
//!   answer slows every task down, not just the one that got it;
//! * attaches the cached access token, and after a 401 signs in again once;
//! * retries `403 userRateLimitExceeded` / `rateLimitExceeded` /
//!   `quotaExceeded`, `429` and `5xx` with exponential backoff and full
//!   jitter (the shared [`Backoff`] of the Graph backend), honouring
//!   `Retry-After` when Google sends one, bounded by a count and a total
//!   time (the same [`RetryConfig`]);
//! * never repeats a write that may have succeeded: a connection failure
//!   is retried for a write only when the request never left (connect
//!   error); any answer Google gave is final unless it is one of the above,
//!   which Google gives without applying the change.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret as _;
use tokio::time::Instant;

use super::credential::TokenCache;
use super::errors::GoogleFailure;
use crate::error::{Error, Result};
use crate::graph::http::{
    describe_reqwest, host_of, read_body, retry_after, BodyError, MAX_ANSWER_BYTES,
};
use crate::graph::transport::{Backoff, RetryConfig};

/// The slowest pace a quota answer can push the [`Pacer`] to: one request
/// a second.
const SLOWEST: Duration = Duration::from_secs(1);
/// Quota answers within this time of a cut count as one.
const CUT_EVERY: Duration = Duration::from_secs(1);

/// Spaces requests to a rate, and slows down when Google says the quota is
/// used up: each quota answer holds every task back for the wait and
/// halves the pace (once a second at most: the answers to requests already
/// in flight count as one; down to one request a second); each answer that
/// is not a quota error speeds it up by 5 %, back to the configured rate. A
/// project whose real quota is below `requests_per_minute` thus settles
/// near its quota instead of meeting it on every other request.
#[derive(Debug)]
pub(crate) struct Pacer {
    fastest: Duration,
    burst: u32,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    /// The current spacing (at least `fastest`).
    interval: Duration,
    /// The earliest time the next request may leave.
    next: Instant,
    /// Nobody sends before this (after a quota answer).
    paused_until: Instant,
    /// When the pace was last halved: the answers to requests already in
    /// flight then count as one.
    last_cut: Option<Instant>,
}

impl Pacer {
    /// At most `per_minute` requests a minute, with bursts of `burst` while
    /// Google has not complained.
    pub(crate) fn new(per_minute: u32, burst: u32) -> Self {
        let now = Instant::now();
        let fastest = Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1)));
        Pacer {
            fastest,
            burst: burst.max(1),
            state: Mutex::new(PacerState {
                interval: fastest,
                next: now,
                paused_until: now,
                last_cut: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for this request's turn.
    pub(crate) async fn acquire(&self) {
        let at = {
            let mut s = self.lock();
            let now = Instant::now();
            // A quiet spell banks up to `burst` slots at the full pace only.
            let bank = if s.interval == self.fastest {
                s.interval * (self.burst - 1)
            } else {
                Duration::ZERO
            };
            let earliest = now.checked_sub(bank).unwrap_or(now);
            let slot = s.next.max(earliest).max(s.paused_until);
            s.next = slot + s.interval;
            slot
        };
        tokio::time::sleep_until(at).await;
    }

    /// A quota answer: everyone goes at half the pace, and waits `asked`
    /// first when Google said how long (`Retry-After`). The task that got
    /// the answer waits its own backoff before it sends again.
    pub(crate) fn throttled(&self, asked: Option<Duration>) {
        let mut s = self.lock();
        if let Some(wait) = asked {
            let until = Instant::now() + wait;
            if until > s.paused_until {
                s.paused_until = until;
            }
        }
        let now = Instant::now();
        if s.last_cut
            .is_some_and(|at| now.duration_since(at) < CUT_EVERY)
        {
            return;
        }
        s.last_cut = Some(now);
        s.interval = (s.interval * 2).min(SLOWEST.max(self.fastest));
    }

    /// An answer that was not a quota error: a little faster again.
    pub(crate) fn success(&self) {
        let mut s = self.lock();
        if s.interval > self.fastest {
            s.interval = s.interval.mul_f64(0.95).max(self.fastest);
        }
    }

    /// The current spacing (tests).
    #[cfg(test)]
    fn interval(&self) -> Duration {
        self.lock().interval
    }
}

/// A request to send.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) json: Option<Vec<u8>>,
    /// What the request does, for messages.
    pub(crate) what: String,
}

impl Request {
    pub(crate) fn new(method: Method, url: impl Into<String>, what: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            json: None,
            what: what.into(),
        }
    }

    pub(crate) fn json(mut self, body: Vec<u8>) -> Self {
        self.json = Some(body);
        self
    }

    fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// A final answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn failure(&self) -> GoogleFailure {
        GoogleFailure::parse(self.status, &self.body)
    }
}

/// What every Google transport of this process has retried, for a run's
/// summary (a command opens one target per kind; the engine above sees
/// only the `Directory` trait).
static TOTAL_RETRIES: AtomicU64 = AtomicU64::new(0);
static TOTAL_RATE_LIMITED: AtomicU64 = AtomicU64::new(0);
static TOTAL_SERVER_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Requests Google answered with a quota error or a 5xx, and how many were
/// sent again, across this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryTotals {
    /// Requests sent again.
    pub retries: u64,
    /// Quota answers (403 rate limits, 429).
    pub rate_limited: u64,
    /// 5xx answers and connection failures.
    pub server_errors: u64,
}

/// The process-wide [`RetryTotals`].
pub fn retry_totals() -> RetryTotals {
    RetryTotals {
        retries: TOTAL_RETRIES.load(Relaxed),
        rate_limited: TOTAL_RATE_LIMITED.load(Relaxed),
        server_errors: TOTAL_SERVER_ERRORS.load(Relaxed),
    }
}

/// What the transport has seen.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// Sends Directory API requests with auth, pace and retries.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) pacer: Pacer,
    pub(crate) retry: RetryConfig,
    pub(crate) counters: Counters,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("tokens", &self.tokens)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Whether an answer is worth retrying (Google applied nothing).
fn retryable(f: &GoogleFailure) -> bool {
    f.is_rate_limit() || matches!(f.status, 500 | 502 | 503 | 504)
}

impl Transport {
    /// Sends `req` until it gets a final answer or the retry bounds run out.
    pub(crate) async fn send(&self, req: &Request) -> Result<Answer> {
        let start = Instant::now();
        let mut backoff = Backoff::new(&self.retry);
        let mut retries = 0u32;
        let mut reauthenticated = false;
        loop {
            self.pacer.acquire().await;
            let token = self.tokens.get().await?;
            let mut builder = self
                .http
                .request(req.method.clone(), &req.url)
                .bearer_auth(token.expose_secret());
            if let Some(body) = &req.json {
                builder = builder
                    .header("content-type", "application/json")
                    .body(body.clone());
            }
            self.counters.sent.fetch_add(1, Relaxed);
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let after = retry_after(response.headers());
                    match read_body(response).await {
                        Ok(body) => Ok((status, after, body)),
                        Err(BodyError::Broken(e)) => Err(e),
                        Err(BodyError::TooLarge) => {
                            return Err(Error::other(
                                "google",
                                format!(
                                    "the answer from {} is larger than {} MiB, so it was not read; check that api_url points at Google",
                                    host_of(&req.url),
                                    MAX_ANSWER_BYTES / (1024 * 1024)
                                ),
                            ))
                        }
                    }
                }
                Err(e) => Err(e),
            };
            let (failure, asked) = match outcome {
                Ok((401, _, _)) if !reauthenticated => {
                    tracing::debug!("google: the access token was refused; signing in again");
                    self.tokens.invalidate(&token).await;
                    reauthenticated = true;
                    continue;
                }
                Ok((status, after, body)) => {
                    let f = GoogleFailure::parse(status, &body);
                    if !f.is_rate_limit() {
                        self.pacer.success();
                    }
                    if (200..300).contains(&status) || !retryable(&f) {
                        return Ok(Answer { status, body });
                    }
                    if f.is_rate_limit() {
                        self.counters.rate_limited.fetch_add(1, Relaxed);
                        TOTAL_RATE_LIMITED.fetch_add(1, Relaxed);
                        (Error::Throttled { retry_after: after }, after)
                    } else {
                        self.counters.unavailable.fetch_add(1, Relaxed);
                        TOTAL_SERVER_ERRORS.fetch_add(1, Relaxed);
                        (
                            Error::Unavailable {
                                message: format!(
                                    "Google kept failing while {} ({})",
                                    req.what,
                                    f.describe()
                                ),
                            },
                            after,
                        )
                    }
                }
                Err(e) => {
                    // A write that may have reached Google is not sent again.
                    if req.is_write() && !e.is_connect() {
                        return Err(Error::Unavailable {
                            message: format!(
                                "the connection to Google at {} broke while {} ({}); it may or may not have been done, so it was not repeated: check the user and run again",
                                host_of(&req.url),
                                req.what,
                                describe_reqwest(&e)
                            ),
                        });
                    }
                    self.counters.unavailable.fetch_add(1, Relaxed);
                    TOTAL_SERVER_ERRORS.fetch_add(1, Relaxed);
                    (
                        Error::Unavailable {
                            message: format!(
                                "cannot reach Google at {} while {} ({})",
                                host_of(&req.url),
                                req.what,
                                describe_reqwest(&e)
                            ),
                        },
                        None,
                    )
                }
            };
            let wait = asked.unwrap_or_else(|| backoff.wait());
            if matches!(failure, Error::Throttled { .. }) {
                self.pacer.throttled(asked);
            }
            retries += 1;
            if retries > self.retry.max_retries || start.elapsed() + wait > self.retry.retry_timeout
            {
                tracing::warn!(what = %req.what, retries = retries - 1, error = %failure, "google: giving up");
                return Err(failure);
            }
            self.counters.retries.fetch_add(1, Relaxed);
            TOTAL_RETRIES.fetch_add(1, Relaxed);
            tracing::debug!(what = %req.what, retries, ?wait, error = %failure, "google: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_requests_and_pauses_everyone() {
        let pacer = Pacer::new(600, 1); // one every 100 ms
        let t0 = Instant::now();
        for _ in 0..5 {
            pacer.acquire().await;
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t0.elapsed()
        );
        pacer.throttled(Some(Duration::from_secs(2)));
        let t1 = Instant::now();
        pacer.acquire().await;
        assert!(t1.elapsed() >= Duration::from_secs(2));
        assert_eq!(
            pacer.interval(),
            Duration::from_millis(200),
            "half the pace"
        );
        // The acquire above waited 2 s: a new answer cuts again, but the
        // answers to what was in flight with it count as one.
        pacer.throttled(None);
        pacer.throttled(None);
        assert_eq!(
            pacer.interval(),
            Duration::from_millis(400),
            "one cut a second"
        );
        for _ in 0..500 {
            pacer.success();
        }
        assert_eq!(
            pacer.interval(),
            Duration::from_millis(100),
            "back to the configured pace"
        );
    }
}
