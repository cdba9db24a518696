//! One adaptive limiter per application and tenant.
//!
//! Why: Graph throttles per app *and tenant*, not per connection. When one
//! request gets 429, every other request of the same app is about to get
//! one too; if each task backs off on its own, the others keep hammering
//! and the tenant stays throttled. So every `GraphDirectory` of one app in
//! one tenant (even several opened in one process) shares one limiter:
//!
//! * a **pause gate** — a 429's `Retry-After` (or our backoff) pauses every
//!   task until it has passed, not just the one that got it;
//! * an **AIMD concurrency limit** — each 429 halves how many requests may
//!   be in flight, each run of successes adds one back, up to the
//!   configured maximum.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How many requests may be in flight and until when everyone waits.
#[derive(Debug)]
struct State {
    limit: usize,
    max: usize,
    in_flight: usize,
    successes: usize,
    paused_until: Option<Instant>,
    throttled: u64,
}

/// The shared limiter. Get one with [`Limiter::shared`].
#[derive(Debug)]
pub(crate) struct Limiter {
    state: Mutex<State>,
    freed: Notify,
}

/// A slot to send one request; frees itself when dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.limiter.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.limiter.freed.notify_waiters();
    }
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Limiter>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Limiter>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Limiter {
    /// A limiter of its own (tests).
    pub(crate) fn new(max_concurrency: usize) -> Self {
        let max = max_concurrency.max(1);
        Limiter {
            state: Mutex::new(State {
                limit: max,
                max,
                in_flight: 0,
                successes: 0,
                paused_until: None,
                throttled: 0,
            }),
            freed: Notify::new(),
        }
    }

    /// The limiter shared by every user of `key` (login URL, tenant and
    /// client id) in this process.
    pub(crate) fn shared(key: &str, max_concurrency: usize) -> Arc<Limiter> {
        let mut map = registry()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = map.get(key).and_then(Weak::upgrade) {
            return existing;
        }
        let limiter = Arc::new(Limiter::new(max_concurrency));
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(key.to_owned(), Arc::downgrade(&limiter));
        limiter
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until no pause is in force and a slot is free, then takes it.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait_until = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.paused_until {
                    Some(until) if until > now => Some(until),
                    _ if s.in_flight < s.limit => {
                        s.paused_until = None;
                        s.in_flight += 1;
                        return Permit { limiter: self };
                    }
                    _ => None,
                }
            };
            match wait_until {
                Some(until) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// A request went through: after `limit` successes in a row the limit
    /// grows by one.
    pub(crate) fn success(&self) {
        let mut s = self.lock();
        s.successes += 1;
        if s.successes >= s.limit && s.limit < s.max {
            s.limit += 1;
            s.successes = 0;
            drop(s);
            self.freed.notify_waiters();
        }
    }

    /// The service said slow down: pause everyone for `wait` and halve the
    /// concurrency.
    pub(crate) fn throttled(&self, wait: Duration) {
        let mut s = self.lock();
        s.throttled += 1;
        s.successes = 0;
        s.limit = (s.limit / 2).max(1);
        let until = Instant::now() + wait;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }

    /// The current concurrency limit (for tests and logs).
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_halves_the_limit() {
        let l = Limiter::new(8);
        l.throttled(Duration::from_secs(2));
        assert_eq!(l.limit(), 4);
        let start = Instant::now();
        let p = l.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        drop(p);
        for _ in 0..4 {
            l.success();
        }
        assert_eq!(l.limit(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_bounds_requests_in_flight() {
        let l = Arc::new(Limiter::new(1));
        let first = l.acquire().await;
        let l2 = l.clone();
        let waiter = tokio::spawn(async move {
            let _p = l2.acquire().await;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.expect("second request gets its slot");
    }

    #[test]
    fn one_limiter_per_app_and_tenant() {
        let a = Limiter::shared("https://login|t1|app", 4);
        let b = Limiter::shared("https://login|t1|app", 4);
        let c = Limiter::shared("https://login|t2|app", 4);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
