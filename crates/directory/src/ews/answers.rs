//! Reading EWS answers: a SOAP fault or a response message's
//! `ResponseCode`, the server's version, and what each error code means.

use std::time::Duration;

use super::xml;
use super::ServerInfo;

/// One EWS answer, classified.
#[derive(Debug)]
pub(super) enum Reply {
    /// `NoError`, with the `PictureData` when the answer has one (the
    /// SOAP `GetUserPhoto`'s).
    Ok { picture_data: Option<String> },
    /// An EWS error code (from a response message or a SOAP fault) and its text.
    Code {
        code: String,
        text: String,
        backoff: Option<Duration>,
    },
}

pub(super) fn is_no_mailbox(code: &str) -> bool {
    matches!(
        code,
        "ErrorNonExistentMailbox" | "ErrorMailRecipientNotFound" | "ErrorInvalidSmtpAddress"
    )
}

pub(super) fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "ErrorAccessDenied" | "ErrorImpersonateUserDenied" | "ErrorImpersonationDenied"
    )
}

/// Codes an Exchange 2013 server gives a `SetUserPhoto` / `Exchange2016` request.
pub(super) fn is_version_error(code: &str) -> bool {
    matches!(
        code,
        "ErrorInvalidServerVersion"
            | "ErrorSchemaValidation"
            | "ErrorInvalidRequest"
            | "ErrorUnsupportedOperation"
    ) || code.contains("ActionNotSupported")
        || code.contains("InvalidServerVersion")
}

pub(super) fn parse_server_info(text: &str) -> Option<ServerInfo> {
    let doc = xml::parse(text).ok()?;
    let e = xml::find(doc.root_element(), "ServerVersionInfo")?;
    let num = |name: &str| e.attribute(name).and_then(|v| v.trim().parse().ok());
    Some(ServerInfo {
        major: num("MajorVersion")?,
        minor: num("MinorVersion").unwrap_or(0),
        build: num("MajorBuildNumber").unwrap_or(0),
        version: e.attribute("Version").unwrap_or_default().to_owned(),
    })
}

/// Reads an EWS answer: a SOAP fault (its `ResponseCode` in `detail`, else
/// its `faultcode`), or the first response message's `ResponseCode`.
pub(super) fn classify(text: &str) -> Reply {
    let doc = match xml::parse(text) {
        Ok(doc) => doc,
        Err(why) => {
            return Reply::Code {
                code: "NoResponseCode".into(),
                text: format!("the answer is not XML ({why})"),
                backoff: None,
            }
        }
    };
    let doc = doc.root_element();
    let backoff = xml::find(doc, "MessageXml").and_then(|m| {
        m.descendants()
            .find(|v| v.has_tag_name("Value") && v.attribute("Name") == Some("BackOffMilliseconds"))
            .and_then(|v| xml::text(v).parse::<u64>().ok())
            .map(Duration::from_millis)
    });
    if let Some(fault) = xml::find(doc, "Fault") {
        let code = xml::text_of(fault, "ResponseCode")
            .or_else(|| {
                xml::text_of(fault, "faultcode")
                    .map(|c| c.rsplit(':').next().unwrap_or(&c).to_owned())
            })
            .unwrap_or_else(|| "SoapFault".into());
        let message = xml::text_of(fault, "Message")
            .or_else(|| xml::text_of(fault, "faultstring"))
            .unwrap_or_default();
        return Reply::Code {
            code,
            text: message,
            backoff,
        };
    }
    match xml::text_of(doc, "ResponseCode") {
        Some(code) if code == "NoError" => Reply::Ok {
            picture_data: xml::text_of(doc, "PictureData"),
        },
        Some(code) => Reply::Code {
            code,
            text: xml::text_of(doc, "MessageText").unwrap_or_default(),
            backoff,
        },
        None => Reply::Code {
            code: "NoResponseCode".into(),
            text: "the answer has neither a ResponseCode nor a SOAP fault".into(),
            backoff: None,
        },
    }
}
