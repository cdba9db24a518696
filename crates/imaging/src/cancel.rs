//! Stopping image work nobody waits for any more (a browser that hung up
//! on a crop preview): the pipeline checks a flag between its stages.
//!
//! The flag is set per thread with [`CancelFlag::scope`], so callers that
//! run the pipeline on a worker thread need no new parameters.

use crate::ImagingError;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag that asks the image work running under it to stop.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

thread_local! {
    static CURRENT: RefCell<Option<CancelFlag>> = const { RefCell::new(None) };
}

impl CancelFlag {
    /// A flag not (yet) set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `f` with this flag watched by every `prepare` and `probe` it
    /// makes on this thread; they return [`ImagingError::Cancelled`] once
    /// it is set.
    pub fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<CancelFlag>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }
}

/// Whether the work on this thread was asked to stop.
pub fn is_cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelFlag::is_cancelled))
}

/// `Err(Cancelled)` once the work on this thread was asked to stop.
pub(crate) fn check() -> Result<(), ImagingError> {
    if is_cancelled() {
        Err(ImagingError::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn the_flag_is_seen_inside_its_scope_only() {
        let flag = CancelFlag::new();
        assert!(flag.scope(check).is_ok());
        flag.cancel();
        assert_eq!(flag.scope(check), Err(ImagingError::Cancelled));
        assert!(check().is_ok(), "outside the scope nothing is cancelled");
        let bytes = userphoto_testkit::fixtures::progressive_noise_jpeg(64, 64, 1);
        let err = flag
            .scope(|| crate::prepare(&bytes, &crate::PrepareOptions::default()))
            .unwrap_err();
        assert_eq!(err, ImagingError::Cancelled);
    }
}
