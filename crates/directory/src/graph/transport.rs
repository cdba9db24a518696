//! The ONE place Graph requests are sent, retried and throttled.
//!
//! Why a module of its own (STYLE.md §1, object_store's `client/retry.rs`):
//! retries scattered over call sites multiply (a retry inside a retry) and
//! drift apart. Every Graph request of the backend goes through
//! [`Transport::send`], which
//!
//! * takes a slot from the shared per-app-and-tenant [`Limiter`] (a pause
//!   after a 429 holds back every task, and the concurrency adapts);
//! * attaches the cached access token, and on 401
//!   `InvalidAuthenticationToken` forgets it and tries once more with a new
//!   one;
//! * retries 429, 503 and 504 — and connection failures, since every
//!   request we send is idempotent (GET, PUT of the whole photo, DELETE) —
//!   honouring `Retry-After` in seconds or as an HTTP date, otherwise
//!   waiting an exponential backoff with full jitter;
//! * gives up after [`RetryConfig::max_retries`] retries or when the next
//!   wait would pass [`RetryConfig::retry_timeout`], whichever comes first,
//!   with [`Error::Throttled`] or [`Error::Unavailable`].
//!
//! Anything else (2xx, other 4xx) is handed back as an [`Answer`] for the
//! caller to interpret: what a 404 means depends on the endpoint.
//!
//! No answer is read past [`MAX_ANSWER_BYTES`](super::http::MAX_ANSWER_BYTES) ([`read_body`]): Graph's
//! largest are a page of 999 users (about 1 MB) and a photo (a few MB), so
//! anything far larger is a wrong URL or a hostile server, and must not
//! fill memory.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use secrecy::ExposeSecret as _;
use tokio::time::Instant;

use super::credential::TokenCache;
use super::errors::GraphFailure;
use super::http::{describe_reqwest, host_of, read_body, retry_after, too_large, BodyError};
use super::limiter::Limiter;
use crate::error::{Error, Result};

/// How retries are bounded and spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt, at most (default 10).
    pub max_retries: u32,
    /// Total time spent on one request, waits included, at most (default
    /// 5 minutes).
    pub retry_timeout: Duration,
    /// The first backoff (default 500 ms); doubles each retry.
    pub initial_backoff: Duration,
    /// The largest backoff (default 30 s).
    pub max_backoff: Duration,
    /// The seed of the jitter (default: from the clock); fixed in tests.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 10,
            retry_timeout: Duration::from_secs(300),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            jitter_seed: None,
        }
    }
}

impl RetryConfig {
    /// Sets the retry count.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the total time bound.
    pub fn with_retry_timeout(mut self, t: Duration) -> Self {
        self.retry_timeout = t;
        self
    }

    /// Sets the first and largest backoff.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Fixes the jitter's seed (deterministic tests).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }
}

/// Full-jitter exponential backoff with a small injectable RNG (also the
/// `google` backend's).
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(config: &RetryConfig) -> Self {
        let seed = config.jitter_seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos().into())
                .unwrap_or(7)
        });
        Backoff {
            next: config.initial_backoff,
            max: config.max_backoff,
            rng: seed | 1,
        }
    }

    /// A wait between half of and the full current backoff, which then
    /// doubles.
    pub(crate) fn wait(&mut self) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.5 + unit / 2.0)
    }
}

/// A request to send: method, URL, optional body with its content type,
/// and extra headers.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) body: Option<(Vec<u8>, &'static str)>,
    pub(crate) headers: Vec<(&'static str, &'static str)>,
    /// What the request does, for messages (`writing the photo of …`).
    pub(crate) what: String,
}

impl Request {
    pub(crate) fn new(method: Method, url: impl Into<String>, what: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            body: None,
            headers: Vec::new(),
            what: what.into(),
        }
    }

    pub(crate) fn body(mut self, bytes: Vec<u8>, content_type: &'static str) -> Self {
        self.body = Some((bytes, content_type));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A final answer: a 2xx, or a 4xx that retrying cannot fix.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn failure(&self) -> GraphFailure {
        GraphFailure::parse(self.status, &self.body)
    }
}

/// Counters of what the transport has seen (for tests, logs, the bench).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: std::sync::atomic::AtomicU64,
    pub(crate) throttled: std::sync::atomic::AtomicU64,
    pub(crate) unavailable: std::sync::atomic::AtomicU64,
    pub(crate) reauthenticated: std::sync::atomic::AtomicU64,
}

/// Sends Graph requests with auth, limits and retries.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) limiter: Arc<Limiter>,
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

/// Whether a status is worth retrying.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 503 | 504)
}

impl Transport {
    /// Sends `req` until it gets a final answer or the retry bounds run out.
    pub(crate) async fn send(&self, req: &Request) -> Result<Answer> {
        use std::sync::atomic::Ordering::Relaxed;
        let start = Instant::now();
        let mut backoff = Backoff::new(&self.retry);
        let mut retries = 0u32;
        let mut reauthenticated = false;
        loop {
            let permit = self.limiter.acquire().await;
            let token = self.tokens.get().await?;
            let mut builder = self
                .http
                .request(req.method.clone(), &req.url)
                .bearer_auth(token.expose_secret());
            for (name, value) in &req.headers {
                builder = builder.header(*name, *value);
            }
            if let Some((bytes, content_type)) = &req.body {
                builder = builder
                    .header("content-type", *content_type)
                    .body(bytes.clone());
            }
            self.counters.sent.fetch_add(1, Relaxed);
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let after = retry_after(response.headers());
                    match read_body(response).await {
                        Ok(body) => Ok((status, after, body)),
                        Err(BodyError::Broken(e)) => Err(e),
                        // Not worth retrying: the same URL gives the same answer.
                        Err(BodyError::TooLarge) => return Err(too_large(&req.url, "graph_url")),
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            // What went wrong this time, and how long the server asked us
            // to wait; a final answer returns.
            let (failure, asked) = match outcome {
                Ok((401, _, body)) if !reauthenticated => {
                    let f = GraphFailure::parse(401, &body);
                    if f.code == "InvalidAuthenticationToken" {
                        tracing::debug!("m365: the access token was refused; signing in again");
                        self.counters.reauthenticated.fetch_add(1, Relaxed);
                        self.tokens.invalidate(&token).await;
                        reauthenticated = true;
                        continue;
                    }
                    return Ok(Answer { status: 401, body });
                }
                Ok((status, after, body)) if retryable(status) => {
                    if status == 429 {
                        self.counters.throttled.fetch_add(1, Relaxed);
                    } else {
                        self.counters.unavailable.fetch_add(1, Relaxed);
                    }
                    let f = GraphFailure::parse(status, &body);
                    (
                        if status == 429 {
                            Error::Throttled { retry_after: after }
                        } else {
                            Error::Unavailable {
                                message: format!(
                                    "Microsoft Graph kept failing while {} ({})",
                                    req.what,
                                    f.describe()
                                ),
                            }
                        },
                        after,
                    )
                }
                Ok((status, _, body)) => {
                    self.limiter.success();
                    return Ok(Answer { status, body });
                }
                Err(e) => {
                    self.counters.unavailable.fetch_add(1, Relaxed);
                    let error = if e.is_timeout() {
                        Error::Timeout {
                            after: start.elapsed(),
                        }
                    } else {
                        Error::Unavailable {
                            message: format!(
                                "cannot reach Microsoft Graph at {} while {} ({})",
                                host_of(&req.url),
                                req.what,
                                describe_reqwest(&e)
                            ),
                        }
                    };
                    (error, None)
                }
            };
            let wait = asked.unwrap_or_else(|| backoff.wait());
            if matches!(failure, Error::Throttled { .. }) {
                self.limiter.throttled(wait);
            }
            retries += 1;
            if retries > self.retry.max_retries || start.elapsed() + wait > self.retry.retry_timeout
            {
                tracing::warn!(what = %req.what, retries = retries - 1, elapsed = ?start.elapsed(), error = %failure, "m365: giving up");
                return Err(failure);
            }
            tracing::debug!(what = %req.what, retries, ?wait, limit = self.limiter.limit(), error = %failure, "m365: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::http::parse_retry_after;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_bounded() {
        let config = RetryConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1))
            .with_jitter_seed(42);
        let mut b = Backoff::new(&config);
        let waits: Vec<Duration> = (0..8).map(|_| b.wait()).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        let mut again = Backoff::new(&config);
        assert_eq!(again.wait(), waits[0], "a fixed seed repeats");
    }

    #[test]
    fn messages_name_the_host_only() {
        assert_eq!(
            host_of("https://graph.microsoft.com/v1.0/users?$filter=x"),
            "graph.microsoft.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8765/v1.0"), "127.0.0.1:8765");
    }
}
