//! Keeps freed photo buffers in the process for the next photo.
//!
//! Measured (issue 21, 40 camera photos, `perf stat -e page-faults`,
//! `strace -c -f`): with glibc's default settings a `convert` took 63,000
//! page faults on one worker and 77,000 on two — the kernel handing out
//! and zeroing ~250 MB of fresh pages, about 7 % of the CPU time — while
//! making only a few dozen `mmap`/`munmap` calls. The cause is glibc's
//! *dynamic* thresholds: each worker's heap is trimmed (`madvise`, pages
//! given back) whenever more than twice the last large block sits free at
//! its top, so every photo's decode buffers (libjpeg's coefficients for a
//! progressive 12 MP file alone are ~36 MB) are faulted in again, and each
//! extra worker pays for a heap of its own. Fixed thresholds keep up to
//! 64 MB free per heap for reuse: 15,700 faults on one worker, 31,000 on
//! two, 4–7 % less CPU. Blocks over 32 MB (a 100-megapixel decode) are
//! still mapped on their own and given back as soon as they are freed.

/// Sets the allocator up for a process that prepares many photos (call it
/// once, early, before threads start). Does nothing where the C library is
/// not glibc.
pub fn tune_allocator_for_photos() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::set_thresholds();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    /// Largest block served from a heap; larger ones are mapped and unmapped
    /// on their own (glibc's own maximum for this setting on 64-bit).
    const MMAP_THRESHOLD: i32 = 32 << 20;
    /// Free memory a heap may keep at its top before giving it back.
    const TRIM_THRESHOLD: i32 = 64 << 20;

    pub(super) fn set_thresholds() {
        // SAFETY: mallopt only changes allocator parameters; it is safe to
        // call at any time (glibc takes its own locks), and a refused value
        // (return 0) leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}
