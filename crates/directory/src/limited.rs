//! [`Limited`]: a directory that lets at most N operations talk to the
//! inner directory at once.
//!
//! Why a decorator: a bulk run wants to bound what it asks of a server (the
//! server's [`suggested_concurrency`](crate::Capabilities::suggested_concurrency))
//! without bounding everything else a write involves. Holding a permit
//! around "read, back up, write, audit" also held it through the backup's
//! and the audit log's `fsync`, so the server sat idle while the disk
//! flushed. Wrapping the directory puts the permit around exactly the
//! directory calls.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt as _};
use tokio::sync::Semaphore;

use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{FindResult, User, UserKey, UserQuery};

/// A directory allowing at most `limit` of its operations in flight; the
/// rest wait their turn. A listing holds its permit until the stream ends
/// or is dropped. `Display` and `capabilities` are the inner directory's.
pub struct Limited {
    inner: Arc<dyn Directory>,
    permits: Arc<Semaphore>,
    limit: usize,
}

impl Limited {
    /// Wraps `inner`, allowing `limit` operations at once (at least 1).
    pub fn new(inner: Arc<dyn Directory>, limit: usize) -> Self {
        let limit = limit.max(1);
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// How many operations may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed; the error is only for completeness.
        self.permits
            .acquire()
            .await
            .map_err(|_| Error::Unavailable {
                message: format!("{} is closing; no more calls are made to it", self.inner),
            })
    }
}

impl fmt::Debug for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limited")
            .field("inner", &self.inner)
            .field("limit", &self.limit)
            .finish()
    }
}

impl fmt::Display for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl Directory for Limited {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        let query = query.clone();
        futures::stream::once(async move {
            let permit = self.permit().await;
            let users = self.inner.list_users(&query);
            match permit {
                // The permit travels with the stream and is freed with it.
                Ok(permit) => users
                    .map(move |u| {
                        let _held = &permit;
                        u
                    })
                    .boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
        .boxed()
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        let _permit = self.permit().await?;
        self.inner.find_users(key, values).await
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        let _permit = self.permit().await?;
        self.inner.get_photo(user).await
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        let _permit = self.permit().await?;
        self.inner.set_photo(user, photo).await
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        let _permit = self.permit().await?;
        self.inner.remove_photo(user).await
    }

    async fn photo_policy(&self) -> Result<Option<crate::PhotoPolicy>> {
        let _permit = self.permit().await?;
        self.inner.photo_policy().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::folder::FolderDirectory;

    /// Counts how many `get_photo` calls overlap in the inner directory.
    #[derive(Debug)]
    struct Overlap {
        inner: FolderDirectory,
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl fmt::Display for Overlap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "overlap counter")
        }
    }

    #[async_trait]
    impl Directory for Overlap {
        fn capabilities(&self) -> &Capabilities {
            self.inner.capabilities()
        }
        fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
            self.inner.list_users(query)
        }
        async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
            self.inner.find_users(key, values).await
        }
        async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            self.inner.get_photo(user).await
        }
        async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
            self.inner.set_photo(user, photo).await
        }
        async fn remove_photo(&self, user: &User) -> Result<()> {
            self.inner.remove_photo(user).await
        }
    }

    #[tokio::test]
    async fn at_most_the_limit_reaches_the_inner_directory() {
        let dir = tempfile::tempdir().unwrap();
        let users: Vec<User> = (0..12).map(|i| User::new(format!("u{i}"))).collect();
        let inner = Arc::new(Overlap {
            inner: FolderDirectory::create(dir.path(), users).await.unwrap(),
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let limited = Arc::new(Limited::new(inner.clone(), 3));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..12 {
            let limited = Arc::clone(&limited);
            tasks.spawn(async move { limited.get_photo(&User::new(format!("u{i}"))).await });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(inner.most.load(Ordering::SeqCst), 3);
        assert_eq!(limited.to_string(), "overlap counter");
    }
}
