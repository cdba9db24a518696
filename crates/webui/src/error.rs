//! The one error type of the web UI, and its JSON shape.
//!
//! Every handler returns [`AppResult`]. An [`AppError`] becomes
//!
//! ```json
//! {"error": {"code": "not-found", "message": "…what is wrong and what to do…"}}
//! ```
//!
//! with a matching status. Messages of 4xx errors come from the library
//! crates, whose messages say what to do and never contain a secret —
//! worded for the page ([`Wording::plain`]): no command-line flag, targets
//! by the page's names (AD, HD). A 5xx
//! error's detail is logged and the client gets a generic sentence: no
//! source chain, no path, no stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use userphoto_bulk::ops::OpsError;
use userphoto_bulk::wording::Wording;
use userphoto_directory::Error as DirError;
use userphoto_imaging::ImagingError;

/// A handler's result.
pub type AppResult<T> = Result<T, AppError>;

/// An error answered to the browser: a status, a stable code, a sentence.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AppError {
    /// An error with this status, code and (client-visible) message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// 401: no valid session.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no valid session; open the address that `userphoto serve` printed (it carries a one-time token)",
        )
    }

    /// 403: refused by a security check (`what` says which).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 413: the upload is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the upload is larger than {} MB; use a smaller photo (userphoto convert makes one)",
                limit / (1024 * 1024)
            ),
        )
    }

    /// 500: logs `detail` and tells the client only that something failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "web UI: internal error");
        let message = match crate::local_files::log_file() {
            Some(path) => format!(
                "something went wrong inside userphoto; the details are in its log, {}",
                path.display()
            ),
            None => "something went wrong inside userphoto; the details are in its log (the terminal running userphoto)".into(),
        };
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// An operation's error, its message worded by `wording` (the page's
    /// names for targets, no command-line flag).
    pub fn ops(error: &OpsError, wording: &Wording) -> Self {
        let (status, code) = match error {
            OpsError::Image(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad-image"),
            OpsError::Directory { source, .. } => match directory_status(source) {
                Some(status_code) => status_code,
                None => return AppError::internal(error),
            },
            OpsError::NoMailbox { .. } => (StatusCode::CONFLICT, "no-mailbox"),
            // Nothing was changed; the sentence says what to fix.
            OpsError::CannotBackUp { .. } => (StatusCode::CONFLICT, "cannot-back-up"),
            OpsError::Backup { .. } => (StatusCode::CONFLICT, "backup-failed"),
            _ => return AppError::internal(error),
        };
        let message = match error {
            OpsError::Image(e) => format!(
                "this file cannot be used as a photo: {}",
                wording.imaging_error(e)
            ),
            _ => wording.ops_error(error),
        };
        AppError::new(status, code, message)
    }

    /// Whether this is the generic 500 (its detail only in the log).
    pub fn is_internal(&self) -> bool {
        self.code == "internal"
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code (`not-found`, `forbidden`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The client-visible message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        (self.status, body).into_response()
    }
}

/// The status and code of a directory error the page may see; `None`:
/// an unexpected one (a generic 500).
fn directory_status(e: &DirError) -> Option<(StatusCode, &'static str)> {
    Some(match e {
        DirError::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found"),
        DirError::Ambiguous { .. } => (StatusCode::CONFLICT, "ambiguous"),
        DirError::PermissionDenied { .. } => (StatusCode::FORBIDDEN, "not-permitted"),
        DirError::Unauthenticated { .. } => (StatusCode::BAD_GATEWAY, "unauthenticated"),
        DirError::PhotoRejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "photo-rejected"),
        DirError::Throttled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "throttled"),
        DirError::Unavailable { .. } | DirError::Timeout { .. } => {
            (StatusCode::BAD_GATEWAY, "unavailable")
        }
        DirError::Precondition { .. } => (StatusCode::CONFLICT, "precondition"),
        DirError::NotVerified { .. } => (StatusCode::BAD_GATEWAY, "not-verified"),
        DirError::NotSupported { .. } => (StatusCode::CONFLICT, "not-supported"),
        e if e.is_config() => (StatusCode::CONFLICT, "config"),
        _ => return None,
    })
}

impl From<DirError> for AppError {
    fn from(e: DirError) -> Self {
        match directory_status(&e) {
            Some((status, code)) => AppError::new(status, code, e.plain_message()),
            None => AppError::internal(e),
        }
    }
}

impl From<ImagingError> for AppError {
    fn from(e: ImagingError) -> Self {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-image",
            format!("this file cannot be used as a photo: {}", e.plain_message()),
        )
    }
}

impl From<OpsError> for AppError {
    /// Worded without flags, targets by their section name; handlers that
    /// know the page's names use [`AppError::ops`].
    fn from(e: OpsError) -> Self {
        AppError::ops(&e, &Wording::plain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_errors_become_a_generic_500_without_the_detail() {
        let e = AppError::from(DirError::other(
            "ldaps://dc1",
            "password hunter2 rejected at /src/secret.rs:12",
        ));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message().contains("hunter2"));
        assert!(!e.message().contains(".rs"));
    }

    #[test]
    fn the_page_is_told_no_command_line_flag() {
        use userphoto_directory::config::TargetKind;
        let config = AppError::from(DirError::NotConfigured {
            kind: TargetKind::Ad,
            configured: "configured: folder".into(),
            file: "userphoto.toml".into(),
        });
        assert_eq!(config.code(), "config");
        let unreadable = AppError::from(DirError::ConfigUnreadable {
            path: "elsewhere.toml".into(),
            reason: "not found".into(),
        });
        let strict = AppError::from(ImagingError::QualityCheckFailed {
            findings: vec!["no face was found".into()],
            codes: vec![userphoto_imaging::QualityIssue::NoFace],
        });
        let too_large = AppError::from(OpsError::Image(ImagingError::InputTooLarge {
            bytes: 60,
            limit: 50,
        }));
        let wording = Wording::plain().with_target_name(TargetKind::M365, "HD");
        let cannot_back_up = AppError::ops(
            &OpsError::CannotBackUp {
                target: TargetKind::M365,
                user: "jane".into(),
                reason: "the server answered 500".into(),
            },
            &wording,
        );
        assert_eq!(cannot_back_up.status(), StatusCode::CONFLICT);
        assert!(cannot_back_up
            .message()
            .starts_with("HD: the current photo of jane"));
        for e in [config, unreadable, strict, too_large, cannot_back_up] {
            assert!(!e.message().contains("--"), "{}", e.message());
            assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn directory_states_map_to_4xx_with_the_library_message() {
        let e = AppError::from(DirError::Precondition {
            message: "no mailbox".into(),
        });
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.message(), "no mailbox");
    }
}
