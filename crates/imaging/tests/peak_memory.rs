//! Peak memory of one `prepare`, measured in a child process (this test
//! binary run again on one test) from its `VmHWM` (Linux). The figures of
//! issue 16 at full size (100 megapixels, an 800 MB colour profile) are
//! measured by `benches/peak_rss.rs` in a release build; these smaller
//! cases run in every test run and failed before the fix (a 16-bit copy of
//! the picture; a colour profile inflated to its declared size).
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;
use userphoto_imaging::{prepare, PrepareOptions};
use userphoto_testkit::fixtures;

const CHILD_FILE: &str = "USERPHOTO_PEAK_RSS_FILE";

/// Run in a child by [`peak_kib`]; does nothing in an ordinary test run.
#[test]
fn child_prepare() {
    let Some(path) = std::env::var_os(CHILD_FILE) else {
        return;
    };
    let bytes = std::fs::read(&path).expect("child input readable");
    let outcome = prepare(&bytes, &PrepareOptions::default()).map(|_| ());
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM line");
    println!("PEAK {} OUTCOME {:?}", hwm.trim(), outcome);
}

/// Peak RSS in KiB of a child that prepares `bytes`.
fn peak_kib(dir: &Path, name: &str, bytes: &[u8]) -> u64 {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write input");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_prepare",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_FILE, &path)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("PEAK ").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "no PEAK line from the child: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("{name}: {line}");
    line.split_whitespace()
        .next()
        .and_then(|kib| kib.parse().ok())
        .expect("a number of kB")
}

#[test]
fn sixteen_bit_rgba_and_colour_profile_bombs_stay_small() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = peak_kib(
        dir.path(),
        "small.png",
        &fixtures::encode(image::ImageFormat::Png, &fixtures::noise(64, 64, 1)),
    );
    // 2500×2500 16-bit RGBA: 50 MB of samples, 19 MB once 8-bit RGB. Before
    // the fix: the decoder's 50 MB + a 50 MB 16-bit copy + the result.
    let png16 = dir.path().join("rgba16.png");
    fixtures::write_png16_rgba(&png16, 2500, 2500).expect("write png");
    let bytes = std::fs::read(&png16).expect("read png");
    let rgba16 = peak_kib(dir.path(), "rgba16-copy.png", &bytes) - base;
    // A 64×64 picture with a 200 MB colour profile: before the fix it was
    // inflated in full (and more, while its buffer grew).
    let icc = peak_kib(
        dir.path(),
        "iccp.png",
        &fixtures::png_with_iccp_bomb(200 << 20),
    ) - base;
    eprintln!("above a 64×64 PNG: 16-bit RGBA {rgba16} KiB, iCCP bomb {icc} KiB");
    assert!(
        rgba16 < 45 << 10,
        "16-bit RGBA PNG: {rgba16} KiB above baseline"
    );
    assert!(icc < 40 << 10, "iCCP bomb: {icc} KiB above baseline");
}
