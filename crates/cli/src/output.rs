//! Where results go: text for people, JSON lines for scripts, a progress
//! bar only when a person is watching (stderr is a terminal and not --json).

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Everything asked for was done.
    Success,
    /// Some items failed; the rest was done.
    PartialFailure,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        match s {
            Status::Success => ExitCode::SUCCESS,
            Status::PartialFailure => ExitCode::from(1),
        }
    }
}

/// The printer shared by the commands.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) verbose: u8,
    interactive: bool,
    stdout: Mutex<()>,
}

impl Output {
    pub(crate) fn new(json: bool, verbose: u8) -> Self {
        Self {
            json,
            verbose,
            interactive: !json && std::io::stderr().is_terminal(),
            stdout: Mutex::new(()),
        }
    }

    /// A progress bar for `len` items, or a hidden one when nobody watches.
    pub(crate) fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if !self.interactive {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar
    }

    /// One JSON object on its own line (stdout).
    pub(crate) fn json_line<T: Serialize>(&self, value: &T) {
        let _guard = self.stdout.lock();
        let mut out = std::io::stdout().lock();
        // A closed pipe (e.g. `| head`) is not an error worth reporting.
        if serde_json::to_writer(&mut out, value).is_ok() {
            let _ = writeln!(out);
        }
    }

    /// A line of text for people (stdout), printed above any progress bar.
    pub(crate) fn line(&self, bar: &ProgressBar, text: &str) {
        let _guard = self.stdout.lock();
        if bar.is_hidden() {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        } else {
            bar.println(text);
        }
    }

    /// A problem with one item (stderr), printed above any progress bar.
    pub(crate) fn problem(&self, bar: &ProgressBar, text: &str) {
        if bar.is_hidden() {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        } else {
            bar.println(text);
        }
    }

    /// A fatal error: the whole command could not run.
    pub(crate) fn fatal(&self, err: &anyhow::Error) {
        if self.json {
            self.json_line(&serde_json::json!({ "type": "error", "error": format!("{err:#}") }));
        }
        let _ = writeln!(std::io::stderr().lock(), "userphoto: error: {err:#}");
    }
}

/// Bytes for people: 1.2 MB, 8.4 KB, 512 B.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(8_400), "8.4 KB");
        assert_eq!(human_bytes(1_200_000), "1.2 MB");
    }
}
