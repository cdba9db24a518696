//! Waiting out an outage, as a layer around a directory: a call that fails
//! because the directory could not be reached (a restart, a dropped
//! network, throttling past the backend's own retries) waits until the
//! directory answers again, then is made once more — in the same run,
//! where `--resume` would otherwise have to do it later
//! ([`ExecuteOptions::outage_wait`]).
//!
//! Why a layer (like [`Limited`](userphoto_directory::Limited)) rather than
//! a second pass of the executor: each user's writes go in plan order (HD
//! first, Active Directory last), and a write that waits here holds back
//! the later writes of its user — so the order needs no bookkeeping, and
//! writes carry on as soon as the directory is back. One caller at a time
//! probes the directory (with back-off, 1 s doubling to 15 s); the others
//! wait for its verdict. The patience is counted from the first failure of
//! an outage; once it is spent, calls fail at once (their rows are failed,
//! retryable, for `--resume`). A retried write puts the same photo again,
//! so a write that failed after the directory had in fact taken it does no
//! harm.
//!
//! [`ExecuteOptions::outage_wait`]: super::execute::ExecuteOptions::outage_wait

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt as _};
use tokio::time::Instant;
use userphoto_directory::config::TargetKind;
use userphoto_directory::{
    Capabilities, Directory, Error as DirError, FindResult, Photo, PhotoLookup, User, UserKey,
    UserQuery,
};

use super::execute::CancelToken;
use super::reporter::{Event, Reporter};

/// The longest pause between two probes of a directory that is down.
const MAX_PAUSE: Duration = Duration::from_secs(15);

/// A directory whose calls wait out an outage: see the [module](self).
pub(super) struct OutageWait {
    inner: Arc<dyn Directory>,
    kind: TargetKind,
    patience: Duration,
    reporter: Arc<dyn Reporter>,
    cancel: CancelToken,
    /// Calls waiting for the directory to answer again.
    waiting: AtomicUsize,
    /// Held by the caller probing the directory.
    gate: tokio::sync::Mutex<Gate>,
}

/// What is known about the current outage.
#[derive(Debug, Default)]
struct Gate {
    /// When the directory was last seen answering again after an outage.
    back_at: Option<Instant>,
    /// When the patience of the current outage runs out.
    deadline: Option<Instant>,
    /// The patience ran out (or the run was stopped): no more waiting.
    gave_up: bool,
}

impl OutageWait {
    /// Wraps `inner` (the `kind` target's directory), waiting up to
    /// `patience` per outage, telling `reporter` when it starts waiting,
    /// and giving up when `cancel` is cancelled.
    pub(super) fn new(
        inner: Arc<dyn Directory>,
        kind: TargetKind,
        patience: Duration,
        reporter: Arc<dyn Reporter>,
        cancel: CancelToken,
    ) -> Self {
        OutageWait {
            inner,
            kind,
            patience,
            reporter,
            cancel,
            waiting: AtomicUsize::new(0),
            gate: tokio::sync::Mutex::new(Gate::default()),
        }
    }

    /// Runs `call`; if the directory could not be reached, waits for it to
    /// answer again and runs `call` once more.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, DirError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        let started = Instant::now();
        match call().await {
            Err(e) if e.is_transient() => {
                if self.until_back(started).await {
                    call().await
                } else {
                    Err(e)
                }
            }
            answer => answer,
        }
    }

    /// Waits until the directory answers after `failed_at`; false when the
    /// patience runs out or the run is stopped.
    async fn until_back(&self, failed_at: Instant) -> bool {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let back = self.probe_or_wait(failed_at).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        back
    }

    async fn probe_or_wait(&self, failed_at: Instant) -> bool {
        let mut gate = self.gate.lock().await;
        if gate.gave_up || self.cancel.is_cancelled() {
            return false;
        }
        // Someone saw it answer since this call failed: try again.
        if gate.back_at.is_some_and(|t| t >= failed_at) {
            return true;
        }
        let deadline = match gate.deadline {
            Some(d) => d,
            None => {
                let d = Instant::now() + self.patience;
                gate.deadline = Some(d);
                self.reporter.event(&Event::Waiting {
                    targets: vec![self.kind.as_str().to_owned()],
                    writes: self.waiting.load(Ordering::SeqCst).max(1),
                    patience_s: self.patience.as_secs(),
                });
                d
            }
        };
        let mut pause = Duration::from_secs(1);
        loop {
            if self.answers(deadline).await {
                gate.back_at = Some(Instant::now());
                gate.deadline = None;
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                gate.gave_up = true;
                return false;
            }
            tokio::select! {
                () = self.cancel.cancelled() => {
                    gate.gave_up = true;
                    return false;
                }
                () = tokio::time::sleep_until((now + pause).min(deadline)) => {}
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Whether the directory answers a harmless read before `deadline`.
    async fn answers(&self, deadline: Instant) -> bool {
        let probe = async {
            let query = UserQuery::all().with_limit(1);
            let mut users = self.inner.list_users(&query);
            !matches!(users.next().await, Some(Err(_)))
        };
        matches!(tokio::time::timeout_at(deadline, probe).await, Ok(true))
    }
}

impl fmt::Debug for OutageWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutageWait")
            .field("inner", &self.inner)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for OutageWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait]
impl Directory for OutageWait {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User, DirError>> {
        // A listing is not retried half-way: the run lists nothing.
        self.inner.list_users(query)
    }

    async fn find_users(
        &self,
        key: UserKey,
        values: &[String],
    ) -> Result<Vec<FindResult>, DirError> {
        self.call(|| self.inner.find_users(key, values)).await
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup, DirError> {
        self.call(|| self.inner.get_photo(user)).await
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<(), DirError> {
        self.call(|| self.inner.set_photo(user, photo)).await
    }

    async fn remove_photo(&self, user: &User) -> Result<(), DirError> {
        self.call(|| self.inner.remove_photo(user)).await
    }

    async fn photo_policy(&self) -> Result<Option<userphoto_directory::PhotoPolicy>, DirError> {
        self.inner.photo_policy().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::import::reporter::CollectingReporter;

    /// A directory that is down until `up` is set, counting its calls.
    struct Flaky {
        up: AtomicBool,
        calls: AtomicUsize,
        caps: Capabilities,
    }

    impl Flaky {
        fn check(&self) -> Result<(), DirError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(DirError::Unavailable {
                    message: "down".into(),
                })
            }
        }
    }

    impl fmt::Display for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("flaky")
        }
    }

    impl fmt::Debug for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Flaky")
        }
    }

    #[async_trait]
    impl Directory for Flaky {
        fn capabilities(&self) -> &Capabilities {
            &self.caps
        }
        fn list_users(&self, _query: &UserQuery) -> BoxStream<'_, Result<User, DirError>> {
            let answer = self.check().map(|()| User::new("u1"));
            futures::stream::iter(vec![answer]).boxed()
        }
        async fn find_users(
            &self,
            _key: UserKey,
            values: &[String],
        ) -> Result<Vec<FindResult>, DirError> {
            self.check()?;
            Ok(vec![FindResult::NotFound; values.len()])
        }
        async fn get_photo(&self, _user: &User) -> Result<PhotoLookup, DirError> {
            self.check().map(|()| PhotoLookup::NoPhoto)
        }
        async fn set_photo(&self, _user: &User, _photo: &Photo) -> Result<(), DirError> {
            self.check()
        }
        async fn remove_photo(&self, _user: &User) -> Result<(), DirError> {
            self.check()
        }
    }

    fn flaky() -> Arc<Flaky> {
        Arc::new(Flaky {
            up: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            caps: Capabilities::for_slot(userphoto_directory::PhotoSlot::Thumbnail),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn calls_wait_for_the_directory_and_are_made_again_once() {
        let dir = flaky();
        let reporter = Arc::new(CollectingReporter::default());
        let layer = Arc::new(OutageWait::new(
            dir.clone(),
            TargetKind::Ad,
            Duration::from_secs(60),
            reporter.clone(),
            CancelToken::new(),
        ));
        let calls: Vec<_> = (0..3)
            .map(|i| {
                let layer = Arc::clone(&layer);
                tokio::spawn(async move {
                    let user = User::new(format!("u{i}"));
                    layer.get_photo(&user).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(5)).await;
        dir.up.store(true, Ordering::SeqCst);
        for c in calls {
            let answer = c.await.expect("task");
            assert!(matches!(answer, Ok(PhotoLookup::NoPhoto)), "{answer:?}");
        }
        let waited = reporter
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Waiting { .. }))
            .count();
        assert_eq!(waited, 1, "one outage, announced once");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_patience_calls_fail_with_the_directorys_error() {
        let dir = flaky();
        let layer = OutageWait::new(
            dir.clone(),
            TargetKind::Ad,
            Duration::from_secs(30),
            Arc::new(CollectingReporter::default()),
            CancelToken::new(),
        );
        let user = User::new("u1");
        let err = layer.get_photo(&user).await.expect_err("still down");
        assert!(matches!(err, DirError::Unavailable { .. }), "{err}");
        let probes = dir.calls.load(Ordering::SeqCst);
        // Later calls do not wait again for the same outage.
        let started = Instant::now();
        assert!(layer.get_photo(&user).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(dir.calls.load(Ordering::SeqCst), probes + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_run_does_not_wait() {
        let dir = flaky();
        let cancel = CancelToken::new();
        cancel.cancel();
        let layer = OutageWait::new(
            dir,
            TargetKind::Ad,
            Duration::from_secs(600),
            Arc::new(CollectingReporter::default()),
            cancel,
        );
        let started = Instant::now();
        assert!(layer
            .set_photo(&User::new("u1"), &test_photo())
            .await
            .is_err());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    fn test_photo() -> Photo {
        // The smallest JPEG a Photo accepts: SOI, then EOI.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpeg.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        Photo::new(jpeg).expect("a photo")
    }
}
