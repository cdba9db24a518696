//! Face-framing benchmark and calibration table.
//!
//! ```text
//! taskset -c 0 cargo run --release -p userphoto-imaging --example face_bench -- \
//!     ../shared/corpus/large [more files or folders...]
//! ```
//!
//! For every image: the best of `USERPHOTO_BENCH_RUNS` (default 5) runs of the
//! default conversion (648 + 96) with `--crop centre` and with `--crop face`,
//! the difference (what face framing costs), the faces found, the framing
//! chosen and the quality measures (mean luma, Laplacian variance) used to
//! calibrate the thresholds in docs/FACES.md. Ends with the mean and worst
//! overhead, and says whether it is within the 30 ms budget.
//! Run it under `taskset -c 0` to measure on one core. Times are process
//! CPU time (`CLOCK_PROCESS_CPUTIME_ID`), so other programs competing for
//! the core do not inflate them; wall-clock figures on an idle machine are
//! the same within noise.
//! Unix only (`clock_gettime`); elsewhere it says so and exits with status 2.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, unsafe_code)]
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]

use std::path::PathBuf;
use userphoto_imaging::{CropMode, Pipeline, PrepareOptions};

fn files(args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in args {
        let p = PathBuf::from(a);
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                .expect("readable folder")
                .map(|e| e.expect("entry").path())
                .filter(|p| {
                    matches!(
                        p.extension()
                            .and_then(|e| e.to_str())
                            .map(str::to_ascii_lowercase)
                            .as_deref(),
                        Some("jpg" | "jpeg" | "png" | "webp" | "tif" | "tiff" | "bmp" | "gif")
                    )
                })
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(p);
        }
    }
    out
}

/// CPU time used by this process so far, in milliseconds.
#[cfg(unix)]
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

#[cfg(not(unix))]
fn main() {
    eprintln!("face_bench measures CPU time with clock_gettime: Unix only");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = std::env::var("USERPHOTO_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut pipeline = Pipeline::new();
    let centre = PrepareOptions::default();
    let face = PrepareOptions {
        crop: CropMode::Face,
        ..PrepareOptions::default()
    };
    println!(
        "{:<44} {:>9} {:>9} {:>8}  {:>5} {:<12} {:>6} {:>8}  checks",
        "file", "centre ms", "face ms", "extra", "faces", "framing", "luma", "sharp"
    );
    let mut extras = Vec::new();
    for path in files(&args) {
        let bytes = std::fs::read(&path).expect("readable file");
        let time = |p: &mut Pipeline, o: &PrepareOptions| {
            let mut best = f64::MAX;
            let mut last = None;
            for _ in 0..runs {
                let t = cpu_ms();
                let r = p.prepare(&bytes, o);
                best = best.min(cpu_ms() - t);
                last = Some(r);
            }
            (best, last.expect("at least one run"))
        };
        let (tc, rc) = time(&mut pipeline, &centre);
        if rc.is_err() {
            println!("{:<44} (not convertible)", path.display());
            continue;
        }
        let (tf, rf) = time(&mut pipeline, &face);
        let report = rf.expect("face conversion").report;
        let q = report.quality.expect("measured");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let first = report
            .faces
            .first()
            .map(|f| {
                format!(
                    " face {:.0},{:.0},{:.0},{:.0} s{:.1}",
                    f.x, f.y, f.width, f.height, f.score
                )
            })
            .unwrap_or_default();
        println!(
            "{:<44} {:>9.1} {:>9.1} {:>+8.1}  {:>5} {:<12} {:>6.1} {:>8.1}  {}{first} crop {:.0},{:.0},{:.0}",
            name,
            tc,
            tf,
            tf - tc,
            report.faces.len(),
            format!("{:?}", report.framing),
            q.mean_luma,
            q.sharpness,
            report
                .checks
                .iter()
                .map(|c| c.code())
                .collect::<Vec<_>>()
                .join(","),
            report.crop.x,
            report.crop.y,
            report.crop.side
        );
        extras.push(tf - tc);
    }
    if extras.is_empty() {
        println!("no images given");
        return;
    }
    let mean = extras.iter().sum::<f64>() / extras.len() as f64;
    let worst = extras.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "face framing overhead over centre: mean {mean:.1} ms, worst {worst:.1} ms per photo over {} photos (budget 30 ms): {}",
        extras.len(),
        if worst <= 30.0 { "within budget" } else { "OVER BUDGET" }
    );
}
