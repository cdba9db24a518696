//! A process-wide budget for decoded pixels.
//!
//! Every decode reserves what its buffers will hold (width × height × bytes
//! per pixel, from the header, before anything is allocated) and waits
//! while other decodes hold the budget. `convert -j N`, imports and the web
//! UI's requests thus stay within one memory budget however many run at
//! once, while small photos still run side by side. A single picture larger
//! than the whole budget runs alone rather than never.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Default budget: 512 MiB. A 100-megapixel picture (the default pixel
/// limit) needs ~300 MB once flattened to 8-bit RGB; camera JPEGs decoded
/// at a reduced DCT scale need a few MB each.
pub const DEFAULT_MEMORY_BUDGET: u64 = 512 << 20;

struct Budget {
    /// (total, in use).
    state: Mutex<(u64, u64)>,
    freed: Condvar,
}

static BUDGET: Budget = Budget::new(DEFAULT_MEMORY_BUDGET);

thread_local! {
    /// Reservations this thread holds: a second decode of the same photo
    /// (finer scale) must not wait for the first, or two threads could
    /// each hold one and wait for the other forever.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

impl Budget {
    const fn new(total: u64) -> Self {
        Self {
            state: Mutex::new((total, 0)),
            freed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, (u64, u64)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reserve(&'static self, bytes: u64) -> Reservation {
        let nested = HELD.with(|h| h.get() > 0);
        let mut s = self.state();
        while !nested && s.1 > 0 && s.1.saturating_add(bytes) > s.0 {
            s = self.freed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        s.1 = s.1.saturating_add(bytes);
        drop(s);
        HELD.with(|h| h.set(h.get() + 1));
        Reservation {
            budget: self,
            bytes,
        }
    }
}

/// Sets the process-wide budget for decoded pixels, in bytes (at least
/// 64 MiB). Default [`DEFAULT_MEMORY_BUDGET`].
pub fn set_memory_budget(bytes: u64) {
    BUDGET.state().0 = bytes.max(64 << 20);
    BUDGET.freed.notify_all();
}

/// The budget in force, in bytes.
pub fn memory_budget() -> u64 {
    BUDGET.state().0
}

/// A share of the budget, given back when dropped.
pub(crate) struct Reservation {
    budget: &'static Budget,
    bytes: u64,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reservation({} bytes)", self.bytes)
    }
}

/// Reserves `bytes` of the process-wide budget, waiting while other
/// threads' reservations leave too little. Never waits when nothing else
/// is reserved, nor on a thread that already holds a reservation.
pub(crate) fn reserve(bytes: u64) -> Reservation {
    BUDGET.reserve(bytes)
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut s = self.budget.state();
        s.1 = s.1.saturating_sub(self.bytes);
        drop(s);
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn reservations_wait_for_the_budget_and_nest_without_waiting() {
        static LOCAL: Budget = Budget::new(250);
        let most = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let most = Arc::clone(&most);
                std::thread::spawn(move || {
                    let _r = LOCAL.reserve(150);
                    // A nested reservation on the same thread goes through.
                    let _nested = LOCAL.reserve(100);
                    most.fetch_max(LOCAL.state().1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(30));
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        // One thread's pair fits; a second thread's first share would not.
        assert_eq!(most.load(Ordering::SeqCst), 250);
        assert_eq!(LOCAL.state().1, 0);
        // One picture bigger than the whole budget still runs (alone).
        let big = LOCAL.reserve(1000);
        assert_eq!(LOCAL.state().1, 1000);
        drop(big);
        assert_eq!(LOCAL.state().1, 0);
    }
}
