//! `userphoto convert`, run as the built binary on generated photos: output
//! names, sizes, budgets, per-file errors, `--json`, `--force`, exit codes.

use image::ImageFormat;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use userphoto_testkit::fixtures::{self, JpegOptions};
use userphoto_testkit::jpeg::{decode_rgb, has_metadata};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_userphoto"))
        .args(args)
        .current_dir(dir)
        .env_remove("USERPHOTO_CONFIG")
        .output()
        .expect("userphoto runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A folder of HR photos: two good ones (one sideways, with GPS/XMP), a
/// truncated one, a README, and one in a subfolder.
fn hr_folder(root: &Path) {
    let inbox = root.join("inbox");
    std::fs::create_dir_all(inbox.join("sub")).expect("mkdir");
    let scene = fixtures::marker_scene(900, 700);
    std::fs::write(
        inbox.join("John.Smith.jpg"),
        fixtures::jpeg(
            &fixtures::stored_for_orientation(&scene, 6),
            &JpegOptions {
                orientation: Some(6),
                with_private_metadata: true,
                ..JpegOptions::default()
            },
        ),
    )
    .expect("write");
    std::fs::write(
        inbox.join("Ann Lee 2024.png"),
        fixtures::encode(ImageFormat::Png, &scene),
    )
    .expect("write");
    let good = fixtures::jpeg(&scene, &JpegOptions::default());
    std::fs::write(inbox.join("broken.jpg"), fixtures::truncated(&good, 0.5)).expect("write");
    std::fs::write(inbox.join("README.txt"), "photos from HR, March\n").expect("write");
    std::fs::write(inbox.join("sub").join("deep.jpg"), &good).expect("write");
}

#[test]
fn converts_a_folder_reporting_bad_files_and_carrying_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    hr_folder(tmp.path());
    let out = run(tmp.path(), &["convert", "inbox", "--out", "ready"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit status 1"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken.jpg") && stderr.contains("damaged"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("2 converted, 1 failed, 1 skipped"),
        "{}",
        text(&out.stdout)
    );

    for (name, side) in [
        ("John.Smith 648x648.jpg", 648),
        ("John.Smith 96x96.jpg", 96),
        ("Ann Lee 2024 648x648.jpg", 648),
        ("Ann Lee 2024 96x96.jpg", 96),
    ] {
        let bytes = std::fs::read(tmp.path().join("ready").join(name)).expect(name);
        let (w, h, _) = decode_rgb(&bytes);
        assert_eq!((w, h), (side, side), "{name}");
        assert!(
            bytes.len() <= if side == 96 { 10 * 1024 } else { 300 * 1024 },
            "{name} over budget"
        );
        assert!(!has_metadata(&bytes), "{name} carries metadata");
    }
    assert!(
        !tmp.path().join("ready/broken 648x648.jpg").exists(),
        "nothing written for a bad file"
    );
    assert!(
        !tmp.path().join("ready/sub").exists(),
        "subfolders only with -r"
    );
}

#[test]
fn recursive_json_run_mirrors_subfolders_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    hr_folder(tmp.path());
    std::fs::remove_file(tmp.path().join("inbox/broken.jpg")).expect("rm");
    let out = run(
        tmp.path(),
        &["convert", "-r", "inbox", "--out", "ready", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let files: Vec<&Value> = lines.iter().filter(|v| v["type"] == "file").collect();
    assert_eq!(files.len(), 4);
    let john = files
        .iter()
        .find(|v| {
            v["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("John.Smith.jpg"))
        })
        .expect("John");
    assert_eq!(john["status"], "converted");
    assert_eq!(john["report"]["orientation"], 6);
    assert_eq!(john["report"]["width"], 900, "upright width");
    assert_eq!(john["outputs"].as_array().map(Vec::len), Some(2));
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["converted"], 3);
    assert!(tmp.path().join("ready/sub/deep 648x648.jpg").is_file());

    let before = std::fs::read(tmp.path().join("ready/John.Smith 96x96.jpg")).expect("read");
    std::fs::write(tmp.path().join("ready/John.Smith 96x96.jpg"), b"keep me").expect("write");
    let again = run(
        tmp.path(),
        &["convert", "inbox/John.Smith.jpg", "--out", "ready"],
    );
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("ready/John.Smith 96x96.jpg")).expect("read"),
        b"keep me"
    );
    let forced = run(
        tmp.path(),
        &[
            "convert",
            "inbox/John.Smith.jpg",
            "--out",
            "ready",
            "--force",
        ],
    );
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(
        std::fs::read(tmp.path().join("ready/John.Smith 96x96.jpg")).expect("read"),
        before,
        "deterministic output"
    );
}

#[test]
fn sizes_budgets_and_usage_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("small.png"),
        fixtures::encode(ImageFormat::Png, &fixtures::marker_scene(64, 80)),
    )
    .expect("write");
    let out = run(
        tmp.path(),
        &[
            "convert",
            "small.png",
            "--out",
            "o",
            "--size",
            "96",
            "--size",
            "48",
            "--max-bytes",
            "9000",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("smaller than 96"),
        "warns about the small source"
    );
    assert!(
        tmp.path().join("o/small 64x64.jpg").is_file(),
        "not upscaled"
    );
    assert!(tmp.path().join("o/small 48x48.jpg").is_file());

    let missing = run(tmp.path(), &["convert", "nope.jpg", "--out", "o"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("nope.jpg"),
        "{}",
        text(&missing.stderr)
    );
    let bad_args = run(
        tmp.path(),
        &["convert", "small.png", "--out", "o", "--max-bytes", "100"],
    );
    assert_eq!(bad_args.status.code(), Some(2), "usage mistakes exit 2");
    assert!(
        text(&bad_args.stderr).contains("byte budget 100"),
        "{}",
        text(&bad_args.stderr)
    );
    let too_many = run(
        tmp.path(),
        &[
            "convert",
            "small.png",
            "--out",
            "o",
            "--size",
            "96",
            "--max-bytes",
            "9000",
            "--max-bytes",
            "9000",
        ],
    );
    assert_eq!(too_many.status.code(), Some(2));
    assert!(
        text(&too_many.stderr).contains("--max-bytes"),
        "{}",
        text(&too_many.stderr)
    );
}

#[test]
fn face_and_auto_framing_report_quality_and_strict_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A portrait without a face: auto takes the upper-centre square and
    // says no face was found; --strict turns that into a failure.
    std::fs::write(
        tmp.path().join("Ann.Lee.png"),
        fixtures::encode(ImageFormat::Png, &fixtures::marker_scene(600, 900)),
    )
    .expect("write");
    let out = run(
        tmp.path(),
        &[
            "--json",
            "convert",
            "Ann.Lee.png",
            "--out",
            "o",
            "--size",
            "96",
            "--crop",
            "auto",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: Value = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|v| v["type"] == "file")
        .expect("a file line");
    let report = &line["report"];
    assert_eq!(report["framing"], "upper_centre", "{report}");
    assert_eq!(report["crop"]["x"], 0.0, "{report}");
    assert!(
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c == "no_face"),
        "{report}"
    );
    assert!(tmp.path().join("o/Ann.Lee 96x96.jpg").is_file());

    let strict = run(
        tmp.path(),
        &[
            "convert",
            "Ann.Lee.png",
            "--out",
            "strict",
            "--size",
            "96",
            "--crop",
            "face",
            "--strict",
        ],
    );
    assert_ne!(
        strict.status.code(),
        Some(0),
        "--strict must fail the photo"
    );
    let stderr = text(&strict.stderr);
    assert!(
        stderr.contains("Ann.Lee.png") && stderr.contains("no face found"),
        "{stderr}"
    );
    assert!(!tmp.path().join("strict/Ann.Lee 96x96.jpg").exists());
}
