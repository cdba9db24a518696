//! Graph's and Entra ID's error answers, turned into this crate's [`Error`].
//!
//! Why a module of its own: the same HTTP status means different things on
//! different endpoints (a 404 is "no photo", "no mailbox" or "no such user"
//! depending on Graph's error code), and a sign-in refusal is only useful
//! when its AADSTS code is explained in words an admin can act on. All of
//! that knowledge sits here, in one place, with tests.

use serde::Deserialize;

use crate::error::Error;

/// The permission an app needs to change photos (application permission,
/// admin consent).
pub(crate) const WRITE_PERMISSION_HINT: &str = "grant the app the Microsoft Graph application permission ProfilePhoto.ReadWrite.All (or User.ReadWrite.All) under App registrations > API permissions in Entra ID, then grant admin consent (see docs/M365.md)";

/// Graph's `{"error": {"code", "message"}}`.
#[derive(Debug, Default, Deserialize)]
struct GraphBody {
    #[serde(default)]
    error: GraphInner,
}

#[derive(Debug, Default, Deserialize)]
struct GraphInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A Graph error answer: status, code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GraphFailure {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl GraphFailure {
    /// Reads a Graph error body (anything unreadable gives empty fields).
    pub(crate) fn parse(status: u16, body: &[u8]) -> Self {
        let parsed: GraphBody = serde_json::from_slice(body).unwrap_or_default();
        GraphFailure {
            status,
            code: parsed.error.code,
            message: first_sentence(&parsed.error.message),
        }
    }

    /// `403 Authorization_RequestDenied: Insufficient privileges…`.
    pub(crate) fn describe(&self) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (true, true) => format!("HTTP {}", self.status),
            (false, true) => format!("HTTP {} {}", self.status, self.code),
            _ => format!("HTTP {} {}: {}", self.status, self.code, self.message),
        }
    }

    /// Whether the user has no Exchange mailbox (photos need one).
    pub(crate) fn is_no_mailbox(&self) -> bool {
        let c = self.code.to_ascii_lowercase();
        c.contains("mailbox")
            || c == "errornonexistentmailbox"
            || self
                .message
                .to_ascii_lowercase()
                .contains("mailbox is either inactive")
    }

    /// Whether the user itself does not exist.
    pub(crate) fn is_no_user(&self) -> bool {
        self.code == "Request_ResourceNotFound"
    }
}

/// The first sentence of a server message, without trace ids and
/// timestamps, and without a trailing period.
fn first_sentence(text: &str) -> String {
    let cut = text
        .find(" Trace ID:")
        .or_else(|| text.find("\r\n"))
        .unwrap_or(text.len());
    text[..cut].trim().trim_end_matches('.').to_owned()
}

/// Maps a Graph error answer that is not specific to one operation.
pub(crate) fn general(failure: &GraphFailure, what: &str, backend: &str) -> Error {
    match failure.status {
        401 => Error::Unauthenticated {
            message: format!("Microsoft Graph refused our access token while {what} ({})", failure.describe()),
            hint: "check that tenant_id and client_id name the app registration, that its permissions have admin consent, and that this machine's clock is right".to_owned(),
        },
        403 => Error::PermissionDenied {
            message: format!("Microsoft Graph refused {what} ({})", failure.describe()),
            hint: WRITE_PERMISSION_HINT.to_owned(),
        },
        429 => Error::Throttled { retry_after: None },
        500..=599 => Error::Unavailable {
            message: format!("Microsoft Graph failed while {what} ({})", failure.describe()),
        },
        _ => Error::other(
            backend,
            format!("Microsoft Graph answered {} while {what}", failure.describe()),
        ),
    }
}

/// Entra ID's token error: `{"error", "error_description", "error_codes"}`.
#[derive(Debug, Default, Deserialize)]
struct AadBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

/// What an AADSTS code means and what to do, in an admin's words.
pub(crate) fn explain_aadsts(code: u64) -> (&'static str, &'static str) {
    match code {
        7000215 => (
            "the client secret is wrong",
            "put the secret's Value (not its Secret ID) into the variable or file named by client_secret_env / client_secret_file, or create a new secret under Certificates & secrets",
        ),
        7000222 => (
            "the client secret has expired",
            "create a new client secret under Certificates & secrets of the app registration and update client_secret_env / client_secret_file",
        ),
        700016 => (
            "no app with this client_id is registered in this tenant",
            "check client_id (the Application (client) ID) and tenant_id (the Directory (tenant) ID) on the app registration's Overview page",
        ),
        90002 | 90023 => (
            "the tenant does not exist in this cloud",
            "check tenant_id, and login_url for a national cloud",
        ),
        700027 => (
            "the certificate is not registered for the app (not uploaded, replaced, or expired)",
            "upload the certificate (.crt/.cer, public part only) under Certificates & secrets of the app registration, and check it has not expired",
        ),
        700024 => (
            "the signed assertion is outside its valid time range",
            "check this machine's clock (it must be within a few minutes of real time)",
        ),
        50027 => (
            "the signed assertion is malformed",
            "check that certificate_file holds the certificate and its unencrypted private key in PEM",
        ),
        7000218 => (
            "no credential was sent",
            "set client_secret_env, client_secret_file or certificate_file in [m365]; for `userphoto login m365`, turn on Allow public client flows under the app registration's Authentication",
        ),
        65001 | 500011 => (
            "the app lacks admin consent or is not set up in this tenant",
            "grant admin consent for the app's API permissions (App registrations > API permissions > Grant admin consent)",
        ),
        1002012 | 70011 => (
            "the requested scope is invalid",
            "check graph_url: the scope is graph_url followed by /.default",
        ),
        70008 | 700082 | 50173 => (
            "the saved sign-in has expired or was revoked",
            "run `userphoto login m365` again",
        ),
        70019 | 70020 => (
            "the sign-in code expired",
            "run `userphoto login m365` again and finish the sign-in within 15 minutes",
        ),
        70000 | 65004 => (
            "the sign-in was declined",
            "run `userphoto login m365` again and accept the permissions",
        ),
        50126 => (
            "the user name or password typed at the Microsoft sign-in page was wrong",
            "run `userphoto login m365` again and sign in with the admin account's right password",
        ),
        50034 => (
            "the account signed in with does not exist in this tenant",
            "run `userphoto login m365` again and sign in with an account of the tenant named by tenant_id (user@your-domain)",
        ),
        7000112 | 50057 => (
            "the app or its service principal is disabled",
            "enable the enterprise application in Entra ID",
        ),
        _ => (
            "Entra ID refused the sign-in",
            "look the AADSTS code up in Microsoft's list of Entra authentication error codes",
        ),
    }
}

/// Maps a refused token request.
pub(crate) fn token_refused(status: u16, body: &[u8], client_id: &str) -> Error {
    let parsed: AadBody = serde_json::from_slice(body).unwrap_or_default();
    // Some answers (proxies, older endpoints) carry the code only in the
    // description: "AADSTS7000215: Invalid client secret provided…".
    let from_text = || {
        let rest = parsed.error_description.split("AADSTS").nth(1)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    };
    let Some(code) = parsed.error_codes.first().copied().or_else(from_text) else {
        // No code at all: still show what Entra said (never the secret,
        // which no answer carries).
        let said = first_sentence(&parsed.error_description);
        return Error::Unauthenticated {
            message: format!(
                "signing in to Entra ID as app {client_id} failed with HTTP {status} {}{}",
                parsed.error,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(" ({said})")
                }
            )
            .trim_end()
            .to_owned(),
            hint: "check login_url, tenant_id and client_id in [m365]".to_owned(),
        };
    };
    let (meaning, todo) = explain_aadsts(code);
    let detail = first_sentence(
        parsed
            .error_description
            .split_once(": ")
            .map_or(parsed.error_description.as_str(), |(_, d)| d),
    );
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    Error::Unauthenticated {
        message: format!(
            "signing in to Entra ID as app {client_id} was refused with AADSTS{code}: {meaning}{detail}"
        ),
        hint: todo.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graph_errors() {
        let f = GraphFailure::parse(
            404,
            br#"{"error":{"code":"ImageNotFound","message":"Exception of type 'X' was thrown.","innerError":{}}}"#,
        );
        assert_eq!(f.code, "ImageNotFound");
        assert!(!f.is_no_mailbox());
        let f = GraphFailure::parse(404, br#"{"error":{"code":"MailboxNotEnabledForRESTAPI"}}"#);
        assert!(f.is_no_mailbox());
        let f = GraphFailure::parse(502, b"<html>bad gateway</html>");
        assert_eq!(f.describe(), "HTTP 502");
    }

    #[test]
    fn explains_aadsts_codes() {
        let e = token_refused(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret. Trace ID: 1 Correlation ID: 2","error_codes":[7000215]}"#,
            "app-1",
        );
        let text = e.to_string();
        assert!(text.contains("AADSTS7000215"), "{text}");
        assert!(text.contains("the client secret is wrong"), "{text}");
        assert!(!text.contains("Trace ID"), "{text}");
        assert!(matches!(e, Error::Unauthenticated { .. }));
    }

    #[test]
    fn device_code_and_code_in_text_only_answers_are_explained() {
        for (code, meaning) in [
            (
                50126,
                "password typed at the Microsoft sign-in page was wrong",
            ),
            (50034, "does not exist in this tenant"),
            (7000222, "expired"),
            (700027, "certificate is not registered"),
            (700024, "outside its valid time range"),
            (90002, "tenant does not exist"),
            (700016, "no app with this client_id"),
            (65001, "admin consent"),
        ] {
            let body = format!(
                r#"{{"error":"invalid_grant","error_description":"AADSTS{code}: Something. Trace ID: 1","error_codes":[{code}]}}"#
            );
            let text = token_refused(400, body.as_bytes(), "app-1").to_string();
            assert!(text.contains(&format!("AADSTS{code}")), "{text}");
            assert!(text.contains(meaning), "{code}: {text}");
        }
        // Without error_codes, the code is read from the description.
        let e = token_refused(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1"}"#,
            "app-1",
        );
        let text = e.to_string();
        assert!(text.contains("AADSTS7000215"), "{text}");
        assert!(text.contains("the client secret is wrong"), "{text}");
        // Without any code, Entra's words are still shown.
        let text = token_refused(
            400,
            br#"{"error":"invalid_request","error_description":"The request body must contain grant_type."}"#,
            "app-1",
        )
        .to_string();
        assert!(text.contains("must contain grant_type"), "{text}");
    }

    #[test]
    fn a_403_names_the_permission() {
        let f = GraphFailure::parse(
            403,
            br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        );
        let text = general(&f, "writing a photo", "m365").to_string();
        assert!(text.contains("ProfilePhoto.ReadWrite.All"), "{text}");
        assert!(text.contains("User.ReadWrite.All"), "{text}");
    }
}
