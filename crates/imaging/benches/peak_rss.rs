//! Peak resident memory of the photo pipeline on hostile and odd files
//! (issue 16): every file of the corpus's `odd/`, a 10000×10000 16-bit
//! RGBA PNG and a 64×64 PNG with an 800 MB colour profile, each at most
//! 400 MB; four of the big PNG at once (as four web uploads) at most 1 GB.
//!
//! ```text
//! cargo bench -p userphoto-imaging --bench peak_rss
//! ```
//!
//! Each case runs in a child process (this program again) that reports its
//! `VmHWM` from /proc/self/status (Linux).

use std::path::{Path, PathBuf};
use std::process::Command;
use userphoto_imaging::{prepare, PrepareOptions};
use userphoto_testkit::fixtures;

const MIB: u64 = 1 << 20;

fn child(path: &Path, at_once: usize) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let threads: Vec<_> = (0..at_once)
        .map(|_| {
            let bytes = bytes.clone();
            std::thread::spawn(move || prepare(&bytes, &PrepareOptions::default()).map(|_| ()))
        })
        .collect();
    let outcomes: Vec<String> = threads
        .into_iter()
        .map(|t| match t.join() {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => format!("refused ({})", e.code()),
            Err(_) => "PANIC".to_string(),
        })
        .collect();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!("{} {}", kib * 1024, outcomes.join(","));
}

/// (peak bytes, outcome) of a child preparing `path` `at_once` times in parallel.
fn measure(path: &Path, at_once: usize) -> (u64, String) {
    let out = Command::new(std::env::current_exe().unwrap_or_default())
        .arg("--child")
        .arg(path)
        .arg(at_once.to_string())
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let (peak, outcome) = text.trim().split_once(' ').unwrap_or(("0", "no answer"));
    (peak.parse().unwrap_or(0), outcome.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path, n] = args.as_slice() {
        if flag == "--child" {
            child(Path::new(path), n.parse().unwrap_or(1));
            return;
        }
    }
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("peak_rss: no temporary folder");
        std::process::exit(2);
    };
    let big = dir.path().join("rgba16-10000.png");
    if let Err(e) = fixtures::write_png16_rgba(&big, 10_000, 10_000) {
        eprintln!("peak_rss: cannot write the 16-bit PNG: {e}");
        std::process::exit(2);
    }
    let icc = dir.path().join("iccp-800mb.png");
    if let Err(e) = std::fs::write(&icc, fixtures::png_with_iccp_bomb(800_000_000)) {
        eprintln!("peak_rss: cannot write the iCCP PNG: {e}");
        std::process::exit(2);
    }
    let mut files: Vec<PathBuf> = vec![big.clone(), icc];
    match userphoto_testkit::corpus::dir("odd/MANIFEST.tsv", "the corpus's odd files") {
        Some(corpus) => {
            let mut odd: Vec<PathBuf> = std::fs::read_dir(corpus.join("odd"))
                .map(|entries| entries.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            odd.retain(|p| p.extension().is_some_and(|e| e != "tsv"));
            odd.sort();
            files.extend(odd);
        }
        None => eprintln!("peak_rss: corpus absent, only the generated files are measured"),
    }
    let mut met = true;
    let mut worst = 0;
    for path in &files {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let (peak, outcome) = measure(path, 1);
        worst = worst.max(peak);
        met &= peak <= 400 * MIB && !outcome.contains("PANIC");
        println!(
            "{:>6} MB peak  {:>10} bytes  {:<28} {outcome}",
            peak / MIB,
            size,
            path.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    let (four, outcome) = measure(&big, 4);
    met &= four <= 1024 * MIB;
    println!(
        "{:>6} MB peak  4 at once: rgba16-10000.png  {outcome}",
        four / MIB
    );
    println!(
        "worst single file {} MB (target ≤ 400), four at once {} MB (target ≤ 1024): {}",
        worst / MIB,
        four / MIB,
        if met { "met" } else { "NOT met" }
    );
    if !met {
        std::process::exit(1);
    }
}
