//! The slice of OData the emulator understands, and Graph's error shapes.
//!
//! Why a module of its own: the backend sends `$filter` expressions
//! (`prop eq 'v'`, `prop in ('a','b')`, `startswith(prop,'v')` joined by
//! `or`) and reads Graph's error bodies; both sides of that contract are
//! easiest to check when the parser and the error builders sit together.
//! Anything else in a filter is refused with 400, as Graph refuses what it
//! does not support, so a backend that sends something new fails loudly.

use std::time::SystemTime;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::knobs::EmulatedUser;

/// The most values Graph takes in one `in (…)` clause.
pub const MAX_IN_VALUES: usize = 15;

/// One condition of a filter; the filter holds if any holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Clause {
    /// `prop eq 'v'` or `prop in ('a', …)`.
    In(String, Vec<String>),
    /// `startswith(prop,'v')`.
    StartsWith(String, String),
}

/// A parsed `$filter`: clauses joined by `or`.
pub(crate) type Filter = Vec<Clause>;

/// Parses a `$filter`, or says why not.
pub(crate) fn parse_filter(text: &str) -> Result<Filter, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut clauses = vec![p.clause()?];
    loop {
        p.ws();
        if p.i >= p.s.len() {
            return Ok(clauses);
        }
        p.word("or")?;
        clauses.push(p.clause()?);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.ws();
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_alphanumeric) {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a property name at {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn word(&mut self, w: &str) -> Result<(), String> {
        let got = self.ident()?;
        if got.eq_ignore_ascii_case(w) {
            Ok(())
        } else {
            Err(format!("expected '{w}', found '{got}'"))
        }
    }

    fn punct(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.i))
        }
    }

    fn literal(&mut self) -> Result<String, String> {
        self.punct(b'\'')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("unterminated string literal".into()),
                Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| "invalid UTF-8".into());
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let name = self.ident()?;
        if name.eq_ignore_ascii_case("startswith") {
            self.punct(b'(')?;
            let prop = self.ident()?;
            self.punct(b',')?;
            let value = self.literal()?;
            self.punct(b')')?;
            return Ok(Clause::StartsWith(prop, value));
        }
        let op = self.ident()?;
        if op.eq_ignore_ascii_case("eq") {
            return Ok(Clause::In(name, vec![self.literal()?]));
        }
        if !op.eq_ignore_ascii_case("in") {
            return Err(format!("unsupported operator '{op}'"));
        }
        self.punct(b'(')?;
        let mut values = vec![self.literal()?];
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&b')') {
                self.i += 1;
                break;
            }
            self.punct(b',')?;
            values.push(self.literal()?);
        }
        if values.len() > MAX_IN_VALUES {
            return Err(format!(
                "too many values in 'in' ({}, at most {MAX_IN_VALUES})",
                values.len()
            ));
        }
        Ok(Clause::In(name, values))
    }
}

/// The value of a filterable property, or `Err` for one Graph would refuse.
pub(crate) fn property<'u>(u: &'u EmulatedUser, name: &str) -> Result<Option<&'u str>, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "id" => Some(u.id.as_str()),
        "userprincipalname" => Some(u.user_principal_name.as_str()),
        "mail" => u.mail.as_deref(),
        "mailnickname" => Some(u.mail_nickname.as_str()),
        "displayname" => Some(u.display_name.as_str()),
        "onpremisessamaccountname" => u.on_premises_sam_account_name.as_deref(),
        "employeeid" => u.employee_id.as_deref(),
        other => return Err(format!("property '{other}' is not filterable here")),
    })
}

/// Whether `u` matches `filter` (Graph compares these case-insensitively).
pub(crate) fn matches(filter: &Filter, u: &EmulatedUser) -> Result<bool, String> {
    for clause in filter {
        let hit = match clause {
            Clause::In(prop, values) => property(u, prop)?
                .is_some_and(|v| values.iter().any(|x| x.to_lowercase() == v.to_lowercase())),
            Clause::StartsWith(prop, prefix) => property(u, prop)?
                .is_some_and(|v| v.to_lowercase().starts_with(&prefix.to_lowercase())),
        };
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A Graph error: `{"error": {"code", "message", "innerError": {…}}}`.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let now = httpdate_now();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now,
                "request-id": "00000000-0000-0000-0000-000000000000",
                "client-request-id": "00000000-0000-0000-0000-000000000000",
            }
        }
    });
    (status, Json(body)).into_response()
}

/// A 429 or 503 with `Retry-After`, in seconds or as an HTTP date.
pub(crate) fn retry_later(
    status: StatusCode,
    after: std::time::Duration,
    as_date: bool,
) -> Response {
    let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "TooManyRequests",
            "Too many requests. Please try again later.",
        )
    } else {
        (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please try again later.",
        )
    };
    let mut response = graph_error(status, code, message);
    let value = if as_date {
        // An HTTP date has one-second resolution: round up so the client
        // never comes back early.
        let at = SystemTime::now() + after + std::time::Duration::from_millis(999);
        fmt_http_date(at)
    } else {
        after.as_secs_f64().ceil().to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

fn httpdate_now() -> String {
    fmt_http_date(SystemTime::now())
}

/// Formats an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn fmt_http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {d:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_filters_the_backend_sends() {
        assert_eq!(
            parse_filter("userPrincipalName in ('a@x', 'O''Brien')"),
            Ok(vec![Clause::In(
                "userPrincipalName".into(),
                vec!["a@x".into(), "O'Brien".into()]
            )])
        );
        assert_eq!(
            parse_filter("startswith(displayName,'jo') or mail eq 'j@x'"),
            Ok(vec![
                Clause::StartsWith("displayName".into(), "jo".into()),
                Clause::In("mail".into(), vec!["j@x".into()]),
            ])
        );
        assert!(parse_filter("mail ne 'x'").is_err());
        assert!(parse_filter("mail eq 'x").is_err());
    }

    #[test]
    fn http_dates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
        assert_eq!(fmt_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
