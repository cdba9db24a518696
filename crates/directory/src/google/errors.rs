//! Google's error answers, turned into this crate's [`Error`] with what to
//! fix.
//!
//! Why a module of its own: the same status means different things (a 403
//! is a quota to wait out, an API to enable, a subject who is not an admin
//! or a scope not delegated), and a sign-in refusal is only useful when it
//! names the Admin console page, the client id and the scope. All of that
//! sits here, with tests. Sources: docs/GOOGLE.md.

use serde::Deserialize;

use crate::error::Error;

/// The Directory API's `{"error": {"code", "message", "errors": [{"reason",
/// "domain", …}], "status"}}`.
#[derive(Debug, Default, Deserialize)]
struct Body {
    #[serde(default)]
    error: Inner,
}

#[derive(Debug, Default, Deserialize)]
struct Inner {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<Item>,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Default, Deserialize)]
struct Item {
    #[serde(default)]
    reason: String,
}

/// A Directory API error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GoogleFailure {
    pub(crate) status: u16,
    /// The first `errors[].reason` (`userRateLimitExceeded`, `notFound`, …),
    /// else the canonical `status` (`PERMISSION_DENIED`).
    pub(crate) reason: String,
    pub(crate) message: String,
}

impl GoogleFailure {
    /// Reads an error body (anything unreadable gives empty fields).
    pub(crate) fn parse(status: u16, body: &[u8]) -> Self {
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let reason = parsed
            .error
            .errors
            .into_iter()
            .map(|e| e.reason)
            .find(|r| !r.is_empty())
            .unwrap_or(parsed.error.status);
        let message = parsed
            .error
            .message
            .split(". ")
            .next()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_owned();
        GoogleFailure {
            status,
            reason,
            message,
        }
    }

    /// `HTTP 403 forbidden: Not Authorized to access this resource/api`.
    pub(crate) fn describe(&self) -> String {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (true, true) => format!("HTTP {}", self.status),
            (false, true) => format!("HTTP {} {}", self.status, self.reason),
            _ => format!("HTTP {} {}: {}", self.status, self.reason, self.message),
        }
    }

    /// A quota answer worth waiting out: 403 `userRateLimitExceeded`,
    /// `rateLimitExceeded` or `quotaExceeded`, or any 429.
    pub(crate) fn is_rate_limit(&self) -> bool {
        self.status == 429
            || (self.status == 403
                && matches!(
                    self.reason.as_str(),
                    "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded"
                ))
    }

    /// The Admin SDK API is not enabled in the service account's project.
    pub(crate) fn is_api_disabled(&self) -> bool {
        self.status == 403
            && (self.reason == "accessNotConfigured" || self.reason == "SERVICE_DISABLED")
    }

    /// The delegation subject may not use the Directory API.
    pub(crate) fn is_not_authorized(&self) -> bool {
        self.status == 403 && !self.is_rate_limit() && !self.is_api_disabled()
    }
}

/// The Admin console step for domain-wide delegation.
pub(crate) fn delegation_hint(client_id: &str, scope: &str) -> String {
    format!(
        "in the Google Admin console open Security > Access and data control > API controls > Manage Domain Wide Delegation, add client ID {client_id} with the OAuth scope {scope} (see docs/GOOGLE.md)"
    )
}

/// The project step for enabling the API.
pub(crate) const ENABLE_API_HINT: &str = "enable the Admin SDK API for the service account's project in the Google Cloud console (APIs & Services > Library > Admin SDK API), wait a few minutes, and try again";

/// The error for a 403 from the Directory API that is not a quota.
pub(crate) fn forbidden(f: &GoogleFailure, what: &str, subject: &str) -> Error {
    if f.is_api_disabled() {
        return Error::PermissionDenied {
            message: format!(
                "Google refused {what}: the Admin SDK API is not enabled ({})",
                f.describe()
            ),
            hint: ENABLE_API_HINT.to_owned(),
        };
    }
    Error::PermissionDenied {
        message: format!("Google refused {what} as {subject} ({})", f.describe()),
        hint: format!(
            "subject = {subject:?} in [google] must be a Workspace admin allowed to manage users (a super admin, or a role with Users > Read and Update); check it in the Admin console under Account > Admin roles"
        ),
    }
}

/// `{"error": …, "error_description": …}` from the token endpoint.
#[derive(Debug, Default, Deserialize)]
struct OAuthBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The error for a refused sign-in, saying what to fix.
pub(crate) fn token_refused(
    status: u16,
    body: &[u8],
    client_email: &str,
    client_id: &str,
    scope: &str,
    subject: &str,
) -> Error {
    let parsed: OAuthBody = serde_json::from_slice(body).unwrap_or_default();
    let said = if parsed.error_description.is_empty() {
        format!("HTTP {status} {}", parsed.error)
            .trim_end()
            .to_owned()
    } else {
        format!("{}: {}", parsed.error, parsed.error_description)
    };
    let who = format!("signing in to Google as service account {client_email} acting as {subject}");
    let (meaning, hint) = match parsed.error.as_str() {
        "unauthorized_client" => (
            "domain-wide delegation is not granted for this client and scope".to_owned(),
            delegation_hint(client_id, scope),
        ),
        "invalid_grant" if parsed.error_description.contains("iat and exp")
            || parsed.error_description.contains("timeframe") =>
        (
            "the signed token's time is outside what Google accepts".to_owned(),
            "this computer's clock is probably wrong: set it right (NTP) and try again".to_owned(),
        ),
        "invalid_grant" if parsed.error_description.to_ascii_lowercase().contains("email") => (
            "the subject is not a user of the Workspace domain".to_owned(),
            format!("set subject in [google] to the e-mail of a Workspace admin of your domain (now {subject:?})"),
        ),
        "invalid_grant" if parsed.error_description.contains("Signature") => (
            "Google does not know the key the token was signed with".to_owned(),
            "the key may have been deleted or the file is for another service account: create a new JSON key for the service account in the Cloud console (IAM & Admin > Service accounts > Keys) and point key_file at it".to_owned(),
        ),
        "invalid_grant" => (
            "the signed token was refused".to_owned(),
            "check this computer's clock (NTP), that subject in [google] is a Workspace admin, and that the key is current".to_owned(),
        ),
        "invalid_client" | "disabled_client" => (
            "the service account or its key is disabled or deleted".to_owned(),
            "check the service account and its keys in the Cloud console (IAM & Admin > Service accounts)".to_owned(),
        ),
        _ => (
            "the token endpoint refused".to_owned(),
            "check key_file and token_url in [google]".to_owned(),
        ),
    };
    Error::Unauthenticated {
        message: format!("{who} was refused: {meaning} ({said})"),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directory_errors() {
        let f = GoogleFailure::parse(
            403,
            br#"{"error":{"code":403,"message":"Quota exceeded. More.","errors":[{"reason":"userRateLimitExceeded","domain":"usageLimits"}],"status":"PERMISSION_DENIED"}}"#,
        );
        assert!(f.is_rate_limit());
        assert_eq!(
            f.describe(),
            "HTTP 403 userRateLimitExceeded: Quota exceeded"
        );
        let f = GoogleFailure::parse(
            403,
            br#"{"error":{"message":"x","errors":[{"reason":"accessNotConfigured"}]}}"#,
        );
        assert!(f.is_api_disabled() && !f.is_rate_limit() && !f.is_not_authorized());
        let f = GoogleFailure::parse(403, br#"{"error":{"message":"Not Authorized to access this resource/api","errors":[{"reason":"forbidden"}]}}"#);
        assert!(f.is_not_authorized());
        assert!(GoogleFailure::parse(429, b"nonsense").is_rate_limit());
    }

    #[test]
    fn sign_in_refusals_say_what_to_fix() {
        let e = token_refused(
            401,
            br#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#,
            "sa@p.iam.gserviceaccount.com",
            "1234",
            "https://www.googleapis.com/auth/admin.directory.user",
            "admin@x.test",
        );
        let text = e.to_string();
        assert!(text.contains("client ID 1234"), "{text}");
        assert!(text.contains("admin.directory.user"), "{text}");
        let e = token_refused(400, br#"{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}"#, "sa", "1", "s", "a");
        assert!(e.to_string().contains("clock"), "{e}");
        let e = token_refused(
            400,
            br#"{"error":"invalid_grant","error_description":"Invalid email or User ID"}"#,
            "sa",
            "1",
            "s",
            "nobody@x",
        );
        assert!(e.to_string().contains("Workspace admin"), "{e}");
    }
}
