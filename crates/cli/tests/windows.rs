//! The built binary as an admin at a Windows prompt runs it, with no server:
//! `--version`, `--help`, `detect` with no target configured, `convert` of
//! real camera photos from the corpus, and `import --mapping` whose rows
//! name files by full path and by relative path with `\`.
//!
//! Every platform runs these; the Windows build's tests run them under Wine
//! (`scripts/windows-tests`), where every path below is a Windows one: the
//! temporary folder is `C:\users\…\Temp\…`, typed with a drive letter and
//! backslashes, and the corpus is on `Z:`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_userphoto"))
        .args(args)
        .current_dir(dir)
        .env_remove("USERPHOTO_CONFIG")
        .env("USERPHOTO_STATE_DIR", dir.join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("userphoto runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// `path` as typed at a prompt: absolute, and on Windows with a drive
/// letter and backslashes (checked, so the test cannot quietly pass with
/// Unix-looking paths under Wine).
fn typed(path: &Path) -> String {
    let s = path.display().to_string();
    assert!(path.is_absolute(), "{s}");
    if cfg!(windows) {
        let b = s.as_bytes();
        assert!(
            b.len() > 3 && b[0].is_ascii_alphabetic() && &b[1..3] == b":\\",
            "a drive letter and a backslash: {s}"
        );
        assert!(!s.contains('/'), "backslashes only: {s}");
    }
    s
}

#[test]
fn version_and_help() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), &["--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("userphoto {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(tmp.path(), &["--help"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    for command in ["convert", "import", "detect", "serve"] {
        assert!(help.contains(command), "{command} in:\n{help}");
    }
}

#[test]
fn detect_with_no_target_says_how_to_configure_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), &["--json", "detect"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let targets: Vec<&Value> = lines.iter().filter(|l| l["type"] == "target").collect();
    assert_eq!(targets.len(), 6, "{lines:#?}");
    assert!(
        targets.iter().all(|t| t["configured"] == false),
        "{lines:#?}"
    );
    let mode = lines
        .iter()
        .find(|l| l["type"] == "mode")
        .expect("mode line");
    assert_eq!(mode["configured"], 0);
    assert!(
        text(&out.stderr).contains("no target is configured; add an [ad]"),
        "{}",
        text(&out.stderr)
    );
}

/// Two real camera photos (10.7 and 12.2 megapixels, progressive JPEG)
/// from the corpus, converted by absolute paths into a folder whose name
/// has a space.
#[test]
fn convert_corpus_photos_by_absolute_paths() {
    let Some(corpus) = userphoto_testkit::corpus::dir(
        "large/MANIFEST.tsv",
        "convert of camera photos by absolute paths",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let inbox = tmp.path().join("HR photos");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    let photos = [
        "Bridge_by_Sander_Klootwijk.jpg",
        "sunset_by_Aitzol_Berasategi.jpg",
    ];
    for name in photos {
        std::fs::copy(corpus.join("large").join(name), inbox.join(name)).expect("copy");
    }
    let ready = tmp.path().join("ready");
    let out = run(
        tmp.path(),
        &[
            "--json",
            "convert",
            &typed(&inbox),
            "--out",
            &typed(&ready),
            "--size",
            "648",
            "--crop",
            "centre",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let converted = lines
        .iter()
        .filter(|l| l["type"] == "file" && l["status"] == "converted")
        .count();
    assert_eq!(converted, photos.len(), "{lines:#?}");
    for name in photos {
        let stem = name.trim_end_matches(".jpg");
        let made = ready.join(format!("{stem} 648x648.jpg"));
        let bytes =
            std::fs::read(&made).unwrap_or_else(|e| panic!("{}: {e}; {lines:#?}", made.display()));
        let (w, h, _) = userphoto_testkit::jpeg::decode_rgb(&bytes);
        assert_eq!((w, h), (648, 648), "{}", made.display());
    }
}

/// A mapping file as an admin writes it on Windows: one row by the full
/// path the folder was given with (`C:\…\hr\IMG_0001.jpg`), one by a
/// relative path with a backslash (`sub\IMG_0002.jpg`), one by `.\`.
#[test]
fn a_mapping_names_files_by_full_path_and_by_backslashed_relative_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("dir")).expect("mkdir");
    std::fs::create_dir_all(root.join("hr").join("sub")).expect("mkdir");
    std::fs::write(
        root.join("dir").join("users.csv"),
        "id,sam_account_name,display_name\nu1,John.Smith,John Smith\nu2,jane,Jane Doe\nu3,ann,Ann Lee\n",
    )
    .expect("users.csv");
    std::fs::write(
        root.join("userphoto.toml"),
        "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n",
    )
    .expect("config");
    let photo = |rel: &[&str], seed: u32| {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(200, 200, seed),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        let path: PathBuf = rel.iter().fold(root.join("hr"), |p, c| p.join(c));
        std::fs::write(path, bytes).expect("photo");
    };
    photo(&["IMG_0001.jpg"], 1);
    photo(&["sub", "IMG_0002.jpg"], 2);
    photo(&["IMG_0003.jpg"], 3);
    let hr = root.join("hr");
    let mapping = root.join("map.csv");
    std::fs::write(
        &mapping,
        format!(
            "file,user\n\"{}\",John.Smith\nsub\\IMG_0002.jpg,jane\n.\\IMG_0003.jpg,ann\n",
            typed(&hr.join("IMG_0001.jpg"))
        ),
    )
    .expect("map");
    let out = run(
        root,
        &[
            "--json",
            "import",
            &typed(&hr),
            "--recursive",
            "--mapping",
            &typed(&mapping),
            "--dry-run",
        ],
    );
    let lines = json_lines(&out);
    let mut users: Vec<String> = lines
        .iter()
        .filter(|l| l["type"] == "plan" && l["action"] == "set")
        .map(|l| l["user_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    users.sort();
    assert_eq!(
        users,
        ["u1", "u2", "u3"],
        "{}\n{lines:#?}",
        text(&out.stderr)
    );
}
