//! The progressive-JPEG scan bomb, measured: CPU seconds to turn a
//! 100-megapixel file of many nearly empty scans into a 96 px photo.
//!
//! ```text
//! cargo bench -p userphoto-imaging --bench scan_bomb
//! ```
//!
//! Prints one line per file: its scans, its size, the outcome and the
//! process CPU time spent. The target (issue 16): every file within the
//! default limits finishes or is refused in under 2 s of CPU.
//!
//! Unix only (the CPU time comes from `getrusage`); elsewhere it says so
//! and exits with status 2.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

use userphoto_imaging::{prepare, PrepareOptions};
use userphoto_testkit::fixtures::progressive_scan_bomb;

#[cfg(unix)]
#[allow(unsafe_code)]
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[cfg(not(unix))]
fn main() {
    eprintln!("scan_bomb measures CPU time with getrusage: Unix only");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() {
    let options = PrepareOptions::sizes(&[96]);
    let mut worst: f64 = 0.0;
    // The limit itself, just over it, and the size of the reviewer's bomb.
    for scans in [100, 101, 2600] {
        let bytes = progressive_scan_bomb(10_000, 10_000, scans);
        let start = cpu_seconds();
        let outcome = match prepare(&bytes, &options) {
            Ok(p) => format!("converted ({} bytes)", p.photos[0].jpeg.len()),
            Err(e) => format!("refused: {e}"),
        };
        let spent = cpu_seconds() - start;
        worst = worst.max(spent);
        println!(
            "10000x10000, {scans:>4} scans, {:>7} bytes: {spent:.3} s CPU — {outcome}",
            bytes.len()
        );
    }
    // The web UI's crop preview: a 648 px square of the source, decoded at
    // full scale (every scan, every block through the IDCT). Not the 96 px
    // target; printed for comparison.
    let crop = PrepareOptions {
        crop: userphoto_imaging::CropMode::Box(userphoto_imaging::CropBox {
            x: 0.0,
            y: 0.0,
            side: 648.0,
        }),
        ..PrepareOptions::sizes(&[648])
    };
    let bytes = progressive_scan_bomb(10_000, 10_000, 100);
    let start = cpu_seconds();
    let outcome = prepare(&bytes, &crop).map(|p| p.report.decode_scale);
    println!(
        "10000x10000,  100 scans, 648 px crop preview: {:.3} s CPU — {outcome:?} (decode scale n/8)",
        cpu_seconds() - start
    );
    println!(
        "worst: {worst:.3} s CPU (target < 2 s): {}",
        if worst < 2.0 { "met" } else { "NOT met" }
    );
}
