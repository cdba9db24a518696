//! The one public error type of this crate.
//!
//! Why a module of its own: every backend (LDAP, Graph, EWS, folder) fails in
//! its own words — LDAP result codes, HTTP statuses, `io::Error`s. Callers
//! (the bulk engine, the CLI, the web UI) must not learn those words; they
//! need to know *what kind* of failure it was (retry it? tell the admin to
//! fix a permission? skip this user?) and a sentence to show. So each backend
//! keeps a private error type and converts it into one of these semantic
//! variants, and no dependency's error type appears in this enum (the
//! `Other` fallback boxes it as a source instead).
//!
//! Messages are lower-case, one sentence, and say what is wrong and what to
//! do about it. They never contain a secret.

use std::fmt;
use std::time::Duration;

use crate::user::UserKey;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to a directory.
///
/// Match on the variant to decide what to do; show the `Display` text to the
/// person. [`Error::is_transient`] says whether trying again later may help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user (or other object) does not exist in the directory.
    #[error("{what} was not found; check the name, or list users to see what exists")]
    NotFound {
        /// What was looked for, e.g. `user with sAMAccountName "jsmith"`.
        what: String,
    },

    /// A lookup that must name exactly one user matched several.
    #[error(
        "{value:?} matches {} users by {key} ({}); use a more specific key such as the UPN or the id",
        candidates.len(),
        candidates.join(", ")
    )]
    Ambiguous {
        /// The key that was matched on.
        key: UserKey,
        /// The value that matched more than one user.
        value: String,
        /// A short description of each matching user (display name and id).
        candidates: Vec<String>,
    },

    /// The directory understood who we are but does not allow the operation.
    #[error("{message}; {hint}")]
    PermissionDenied {
        /// What was refused, e.g. `writing thumbnailPhoto of jsmith was refused`.
        message: String,
        /// What to do, e.g. `grant the service account Write thumbnailPhoto on the OU`.
        hint: String,
    },

    /// The directory did not accept our credentials (or we have none).
    #[error("{message}; {hint}")]
    Unauthenticated {
        /// What failed, e.g. `the bind as svc-photos was refused: wrong password`.
        message: String,
        /// What to do, e.g. `check USERPHOTO_AD_PASSWORD`.
        hint: String,
    },

    /// The photo is not acceptable to this directory (too large, wrong format).
    ///
    /// Backends return this *before* sending anything when the photo breaks a
    /// limit they know from their [`Capabilities`](crate::Capabilities).
    #[error("the photo was rejected: {reason}")]
    PhotoRejected {
        /// Why, e.g. `it is 120000 bytes and this target takes at most 102400`.
        reason: String,
    },

    /// The directory asked us to slow down and retries did not get through.
    #[error("{}", throttled_message(*retry_after))]
    Throttled {
        /// How long the directory asked us to wait, if it said.
        retry_after: Option<Duration>,
    },

    /// The directory could not be reached or is not serving right now.
    #[error("{message}; check that the server is up and reachable, then try again")]
    Unavailable {
        /// What failed, e.g. `cannot connect to ldaps://dc1.corp.example.com:636`.
        message: String,
    },

    /// The directory did not answer in time.
    #[error(
        "the directory did not answer within {after:?}; check the network or raise the timeout"
    )]
    Timeout {
        /// How long we waited.
        after: Duration,
    },

    /// The user is not in a state that allows the operation (for example, a
    /// photo written to a target where the user has no mailbox).
    #[error("{message}")]
    Precondition {
        /// What is wrong and what to do.
        message: String,
    },

    /// A photo read back after writing is not the one written, even after
    /// waiting the allowed time.
    #[error(
        "the photo of {user} reads back as {} instead of {}; the directory may be slow to replicate, so check again later or allow more time",
        describe_digest(found.as_deref()),
        describe_digest(expected.as_deref())
    )]
    NotVerified {
        /// The user whose photo was checked.
        user: String,
        /// The digest that was written (`None`: the photo was removed).
        expected: Option<String>,
        /// The digest read back (`None`: no photo).
        found: Option<String>,
    },

    /// The backend cannot do this at all (see its capabilities).
    #[error("{backend} cannot {operation}; use a target that supports it")]
    NotSupported {
        /// The operation, e.g. `remove photos`.
        operation: &'static str,
        /// The backend, as its `Display` prints it.
        backend: String,
    },

    /// The backend's configuration (or its users file) is wrong.
    #[error("{message}")]
    InvalidConfig {
        /// What is wrong and where, and how to fix it.
        message: String,
    },

    /// The configuration file cannot be read.
    #[error("cannot read the configuration file {} ({reason}); check the path given with --config", path.display())]
    ConfigUnreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why, as the operating system said.
        reason: String,
    },

    /// A target was asked for that the configuration has no section for.
    #[error("the {kind} target is not configured ({configured}); add an [{kind}] section to {file} or pass --config")]
    NotConfigured {
        /// The target asked for.
        kind: crate::kind::TargetKind,
        /// What is configured: `configured: ad, m365`, or `no target is
        /// configured`.
        configured: String,
        /// The configuration file.
        file: String,
    },

    /// Anything else; the source says what.
    #[error("{backend}: {source}")]
    Other {
        /// The backend, as its `Display` prints it.
        backend: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn describe_digest(digest: Option<&str>) -> String {
    digest.map_or_else(|| "no photo".to_owned(), |d| format!("sha256 {d}"))
}

fn throttled_message(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(after) => format!(
            "the directory is throttling requests and asked to wait {}s; try again later or lower the concurrency",
            after.as_secs().max(1)
        ),
        None => "the directory is throttling requests; try again later or lower the concurrency"
            .to_owned(),
    }
}

impl From<crate::user::UnknownKey> for Error {
    fn from(e: crate::user::UnknownKey) -> Self {
        Error::InvalidConfig {
            message: e.to_string(),
        }
    }
}

impl From<crate::kind::UnknownTarget> for Error {
    fn from(e: crate::kind::UnknownTarget) -> Self {
        Error::InvalidConfig {
            message: e.to_string(),
        }
    }
}

impl Error {
    /// A short machine-readable code for reports and `--json` output
    /// (`not-found`, `permission-denied`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not-found",
            Error::Ambiguous { .. } => "ambiguous",
            Error::PermissionDenied { .. } => "permission-denied",
            Error::Unauthenticated { .. } => "unauthenticated",
            Error::PhotoRejected { .. } => "photo-rejected",
            Error::Throttled { .. } => "throttled",
            Error::Unavailable { .. } => "unavailable",
            Error::Timeout { .. } => "timeout",
            Error::Precondition { .. } => "precondition",
            Error::NotVerified { .. } => "not-verified",
            Error::NotSupported { .. } => "not-supported",
            Error::InvalidConfig { .. } => "invalid-config",
            Error::ConfigUnreadable { .. } => "config-unreadable",
            Error::NotConfigured { .. } => "not-configured",
            Error::Other { .. } => "other",
        }
    }

    /// The message for a front end without command-line flags (the web
    /// UI): the same sentence as `Display`, with a remedy that names no
    /// flag. `Display` is the command line's wording.
    pub fn plain_message(&self) -> String {
        match self {
            Error::ConfigUnreadable { path, reason } => format!(
                "cannot read the configuration file {} ({reason}); check that it exists and can be read",
                path.display()
            ),
            Error::NotConfigured {
                kind,
                configured,
                file,
            } => format!(
                "the {kind} target is not configured ({configured}); add an [{kind}] section to {file}"
            ),
            other => other.to_string(),
        }
    }

    /// Whether the configuration is wrong (rather than a directory): the
    /// [`Error::InvalidConfig`], [`Error::ConfigUnreadable`] and
    /// [`Error::NotConfigured`] variants.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Error::InvalidConfig { .. }
                | Error::ConfigUnreadable { .. }
                | Error::NotConfigured { .. }
        )
    }

    /// Whether trying the same operation again later may succeed
    /// (throttling, an unavailable server, a timeout).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. } | Error::Unavailable { .. } | Error::Timeout { .. }
        )
    }

    /// How long the directory asked us to wait before retrying, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Wraps any error as [`Error::Other`], naming the backend it came from.
    pub fn other(
        backend: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Other {
            backend: backend.to_string(),
            source: source.into(),
        }
    }

    /// A [`Error::NotSupported`] for `operation` on `backend`.
    pub fn not_supported(operation: &'static str, backend: impl fmt::Display) -> Self {
        Error::NotSupported {
            operation,
            backend: backend.to_string(),
        }
    }

    /// A [`Error::PhotoRejected`] with the given reason.
    pub fn photo_rejected(reason: impl Into<String>) -> Self {
        Error::PhotoRejected {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_the_flag_on_the_command_line_only() {
        let unreadable = Error::ConfigUnreadable {
            path: "elsewhere.toml".into(),
            reason: "No such file or directory (os error 2)".into(),
        };
        let missing = Error::NotConfigured {
            kind: crate::kind::TargetKind::Ad,
            configured: "configured: folder".into(),
            file: "userphoto.toml".into(),
        };
        assert_eq!(
            unreadable.to_string(),
            "cannot read the configuration file elsewhere.toml (No such file or directory (os error 2)); check the path given with --config"
        );
        assert_eq!(
            missing.to_string(),
            "the ad target is not configured (configured: folder); add an [ad] section to userphoto.toml or pass --config"
        );
        for e in [unreadable, missing] {
            assert!(e.is_config());
            let plain = e.plain_message();
            assert!(!plain.contains("--"), "{plain}");
            let problem = e.to_string();
            assert!(plain.starts_with(problem.split("; ").next().unwrap_or_default()));
        }
        let other = Error::NotFound { what: "x".into() };
        assert_eq!(other.plain_message(), other.to_string());
        assert!(!other.is_config());
    }

    #[test]
    fn transient_variants() {
        assert!(Error::Throttled { retry_after: None }.is_transient());
        assert!(Error::Unavailable {
            message: "down".into()
        }
        .is_transient());
        assert!(Error::Timeout {
            after: Duration::from_secs(1)
        }
        .is_transient());
        assert!(!Error::NotFound { what: "x".into() }.is_transient());
        assert!(!Error::photo_rejected("too big").is_transient());
    }

    #[test]
    fn messages_are_one_lower_case_sentence() {
        let errors = [
            Error::NotFound {
                what: "user with alias \"jsmith\"".into(),
            },
            Error::Ambiguous {
                key: UserKey::DisplayName,
                value: "John Smith".into(),
                candidates: vec!["a".into(), "b".into()],
            },
            Error::Throttled {
                retry_after: Some(Duration::from_secs(7)),
            },
            Error::Throttled { retry_after: None },
            Error::Timeout {
                after: Duration::from_secs(30),
            },
            Error::not_supported("remove photos", "folder:///x"),
            Error::photo_rejected("it is empty"),
            Error::NotVerified {
                user: "jsmith".into(),
                expected: Some("ab".into()),
                found: None,
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.starts_with(|c: char| !c.is_uppercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        let e = Error::Throttled {
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(e.to_string().contains("7s"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    }
}
