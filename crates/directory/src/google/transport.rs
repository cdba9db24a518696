//! The ONE place Google requests are sent, paced and retried.
//!
//! Every Directory API request of the backend goes through
//! [`Transport::send`], which
//!
//! * waits for its turn at the client-side pace (the [`Pacer`]): Google's
//!   documented default quota is 2,400 queries per minute per user per
//!   project, so requests are spaced to the configured rate, and a quota
//!   answer pauses every task, not just the one that got it;
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
use crate::graph::transport::{
    describe_reqwest, host_of, read_body, retry_after, Backoff, BodyError, RetryConfig,
    MAX_ANSWER_BYTES,
};

/// Spaces requests to a rate, and holds everyone back after a quota answer.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    burst: u32,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    /// The earliest time the next request may leave.
    next: Instant,
    /// Nobody sends before this (after a quota answer).
    paused_until: Instant,
}

impl Pacer {
    /// At most `per_minute` requests a minute, with bursts of `burst`.
    pub(crate) fn new(per_minute: u32, burst: u32) -> Self {
        let now = Instant::now();
        Pacer {
            interval: Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1))),
            burst: burst.max(1),
            state: Mutex::new(PacerState {
                next: now,
                paused_until: now,
            }),
        }
    }

    /// Waits for this request's turn.
    pub(crate) async fn acquire(&self) {
        let at = {
            let mut s = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            // A quiet spell banks up to `burst` slots, no more.
            let earliest = now
                .checked_sub(self.interval * (self.burst - 1))
                .unwrap_or(now);
            let slot = s.next.max(earliest).max(s.paused_until);
            s.next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(at).await;
    }

    /// Holds every task back for `wait`.
    pub(crate) fn pause(&self, wait: Duration) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = Instant::now() + wait;
        if until > s.paused_until {
            s.paused_until = until;
        }
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
                self.pacer.pause(wait);
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
        pacer.pause(Duration::from_secs(2));
        let t1 = Instant::now();
        pacer.acquire().await;
        assert!(t1.elapsed() >= Duration::from_secs(2));
    }
}
