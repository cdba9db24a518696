//! Reading HTTP answers from Microsoft's endpoints (Graph and sign-in)
//! with the same care: a size cap, `Retry-After`, errors in words without
//! the URL's query. Shared by the transport, the credentials and the
//! device-code sign-in (and the Google backend).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::error::Error;

/// The most of one answer that is read; see the module docs.
pub(crate) const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Why an answer's body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection broke off (or timed out) while reading.
    Broken(reqwest::Error),
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
}

/// Reads `response`'s body, refusing one larger than [`MAX_ANSWER_BYTES`]
/// (by its `Content-Length`, or by counting as it arrives).
pub(crate) async fn read_body(
    mut response: reqwest::Response,
) -> std::result::Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Broken)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error for an answer over [`MAX_ANSWER_BYTES`] from `url`.
pub(crate) fn too_large(url: &str, setting: &str) -> Error {
    Error::other(
        "m365",
        format!(
            "the answer from {} is larger than {} MiB, so it was not read; check that {setting} points at Microsoft's endpoint",
            host_of(url),
            MAX_ANSWER_BYTES / (1024 * 1024)
        ),
    )
}

/// `Retry-After` as a duration: delta-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after(text, SystemTime::now())
}

pub(crate) fn parse_retry_after(text: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `host:port` of a URL, for messages (never the path or query).
pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_else(|| "the configured URL".to_owned())
}

/// A reqwest error in words, without the URL's query.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
