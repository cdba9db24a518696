//! Where `tracing` events go: standard error, always (warnings by default,
//! `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides), never
//! standard output, so `--json` output stays clean. `serve` also writes
//! info and above to a log file in the data folder (0600), whose path the
//! web UI's error page names.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;
use userphoto_directory::private_fs;

/// The log file, once `serve` opened one.
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
/// Whether [`FILE`] is open: until then the file layer formats nothing.
static FILE_OPEN: AtomicBool = AtomicBool::new(false);

/// Writes to [`FILE`] when it is open, nowhere otherwise.
struct FileWriter;

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match FILE.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match FILE.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The standard-error filter: `RUST_LOG` when set (and not empty), else
/// by `-v` count.
fn stderr_filter(verbose: u8) -> EnvFilter {
    if std::env::var("RUST_LOG").is_ok_and(|v| !v.trim().is_empty()) {
        if let Ok(filter) = EnvFilter::try_from_default_env() {
            return filter;
        }
    }
    // Our crates are all named `userphoto*`.
    let directives = match verbose {
        0 => "warn",
        1 => "warn,userphoto=info",
        2 => "info,userphoto=debug",
        _ => "trace",
    };
    EnvFilter::new(directives)
}

/// Installs the subscriber. Call once, first thing.
pub(crate) fn init(verbose: u8) {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(stderr_filter(verbose));
    let file = tracing_subscriber::fmt::layer()
        .with_writer(|| FileWriter)
        .with_ansi(false)
        .with_filter(filter_fn(|meta| {
            FILE_OPEN.load(Ordering::Relaxed) && *meta.level() <= tracing::Level::INFO
        }));
    // Fails only if a subscriber is already set: then that one is used.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// Opens (appending, private) `serve.log` in `data_dir` for the events
/// from now on; its path.
///
/// # Errors
/// When the folder or the file cannot be created.
pub(crate) fn open_log_file(data_dir: &Path) -> std::io::Result<PathBuf> {
    private_fs::create_dir_all(data_dir)?;
    let path = data_dir.join("serve.log");
    let file = private_fs::open(private_fs::options().create(true).append(true), &path)?;
    *FILE.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
    FILE_OPEN.store(true, Ordering::Relaxed);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serve wiring in one process: the subscriber installed, the log
    /// file opened in the data folder; a 5xx's detail lands in the file
    /// (not on the page) and the page names the file.
    #[test]
    fn a_5xx_detail_is_in_the_log_file_the_page_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(0);
        let path = open_log_file(&dir.path().join("data")).expect("log file");
        userphoto_webui::local_files::set_log_file(Some(path.clone()));
        let error = userphoto_webui::AppError::internal("detail-7f3a: the disk vanished");
        assert!(
            !error.message().contains("detail-7f3a"),
            "{}",
            error.message()
        );
        assert!(
            error.message().contains(&path.display().to_string()),
            "{}",
            error.message()
        );
        let logged = std::fs::read_to_string(&path).expect("read the log");
        assert!(
            logged.contains("detail-7f3a: the disk vanished"),
            "{logged}"
        );
        assert!(logged.contains("ERROR"), "{logged}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
