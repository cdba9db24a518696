//! Filter and DN text: escaping, parsing, and the filters this backend sends.
//!
//! Why a module of its own: every value this backend puts into a filter or a
//! DN comes from outside — a file name, a CSV cell, a search box — and LDAP
//! filters and DNs are tiny languages. A name like `*)(objectClass=*` pasted
//! into a filter unescaped would widen a search to every object in the
//! directory; a photo written to the wrong entry cannot be taken back. So
//! there is exactly one place that turns values into filter text
//! ([`escape_filter_value`], RFC 4515) and DN text ([`escape_dn_value`],
//! RFC 4514), one DN parser for comparing DNs (servers write the same DN
//! with different escapes, so strings must never be compared), and the
//! filter builders below use nothing else. All of it is pure and unit-tested
//! without a server.

use std::fmt;

use crate::user::normalize_key;

/// Escapes a value for use inside an LDAP filter assertion (RFC 4515 §3).
///
/// `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`;
/// everything else (including non-ASCII, sent as UTF-8) is kept. The result
/// only ever matches the literal value: `*` matches a user literally named
/// `*`, never everyone.
///
/// ```
/// use userphoto_directory::ldap::escape_filter_value;
/// assert_eq!(escape_filter_value("*)(objectClass=*"), r"\2a\29\28objectClass=\2a");
/// ```
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '*' => out.push_str(r"\2a"),
            '(' => out.push_str(r"\28"),
            ')' => out.push_str(r"\29"),
            '\\' => out.push_str(r"\5c"),
            '\0' => out.push_str(r"\00"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a value for use as an attribute value in a DN (RFC 4514 §2.4).
///
/// `"`, `+`, `,`, `;`, `<`, `>`, `\` (and `=`, which Active Directory also
/// escapes) get a backslash; a leading space or `#` and a trailing space
/// are escaped; NUL becomes `\00`.
///
/// ```
/// use userphoto_directory::ldap::escape_dn_value;
/// assert_eq!(escape_dn_value("Smith, Anna"), r"Smith\, Anna");
/// assert_eq!(escape_dn_value("#1 "), r"\#1\ ");
/// ```
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str(r"\00"),
            ' ' if i == 0 || i == last => out.push_str(r"\ "),
            '#' if i == 0 => out.push_str(r"\#"),
            c => out.push(c),
        }
    }
    out
}

/// A DN that does not follow RFC 4514.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DnSyntaxError {
    pub(crate) dn: String,
    pub(crate) reason: &'static str,
}

impl fmt::Display for DnSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a valid DN: {}", self.dn, self.reason)
    }
}

/// A parsed DN, for comparison: each RDN is a sorted list of
/// (lower-case attribute type, normalised unescaped value).
///
/// Two DNs are equal when they name the same entry however they were
/// escaped (`CN=Smith\, Anna` and `cn=smith\2c anna`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dn {
    rdns: Vec<Vec<(String, String)>>,
}

impl Dn {
    /// Parses `text` (RFC 4514). The empty string is the root DN.
    pub(crate) fn parse(text: &str) -> Result<Dn, DnSyntaxError> {
        let err = |reason| DnSyntaxError {
            dn: text.to_owned(),
            reason,
        };
        let mut rdns = Vec::new();
        if text.trim().is_empty() {
            return Ok(Dn { rdns });
        }
        for rdn in split_unescaped(text, &[',', ';']).map_err(err)? {
            let mut avas = Vec::new();
            for ava in split_unescaped(rdn, &['+']).map_err(err)? {
                let (attr, value) = ava.split_once('=').ok_or_else(|| err("an RDN lacks '='"))?;
                let attr = attr.trim();
                if attr.is_empty()
                    || !attr
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
                {
                    return Err(err("an attribute type is empty or has characters other than letters, digits, '-' and '.'"));
                }
                let value = unescape_dn_value(value.trim_start()).map_err(err)?;
                avas.push((attr.to_ascii_lowercase(), normalize_key(&value)));
            }
            avas.sort();
            rdns.push(avas);
        }
        Ok(Dn { rdns })
    }

    /// Whether this DN is `base` or lies below it.
    pub(crate) fn is_within(&self, base: &Dn) -> bool {
        self.rdns.len() >= base.rdns.len() && self.rdns.ends_with(&base.rdns)
    }

    /// How many RDNs the DN has (0 for the root DN).
    pub(crate) fn depth(&self) -> usize {
        self.rdns.len()
    }
}

/// Splits at separators that are not escaped with a backslash and not inside
/// a quoted value. Returns an error for a trailing lone backslash.
fn split_unescaped<'a>(text: &'a str, seps: &[char]) -> Result<Vec<&'a str>, &'static str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted && seps.contains(&c) => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if escaped {
        return Err("it ends with a lone backslash");
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Decodes the escapes of one DN attribute value: `\` + special character,
/// `\` + two hex digits (bytes, which may form UTF-8 sequences), and trims
/// unescaped trailing spaces.
fn unescape_dn_value(value: &str) -> Result<String, &'static str> {
    // Unescaped trailing spaces are insignificant; an escaped one is kept.
    let mut end = value.len();
    while end > 0 && value.as_bytes()[end - 1] == b' ' {
        let backslashes = value.as_bytes()[..end - 1]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    let value = &value[..end];
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1).ok_or("it ends with a lone backslash")?;
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(next);
                i += 2;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "a hex escape does not form UTF-8")
}

/// The parent of `dn` as written (everything after the first unescaped
/// comma), e.g. the OU holding a user, for messages.
pub(crate) fn parent_dn(dn: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' => return Some(dn[i + 1..].trim_start()),
            _ => {}
        }
    }
    None
}

/// Puts a filter in parentheses unless it already is (`objectClass=user` →
/// `(objectClass=user)`).
pub(crate) fn parenthesize(filter: &str) -> String {
    let f = filter.trim();
    if f.starts_with('(') && f.ends_with(')') {
        f.to_owned()
    } else {
        format!("({f})")
    }
}

/// `(&<user_filter><extra>)`, or the user filter alone.
pub(crate) fn and_user_filter(user_filter: &str, extra: Option<&str>) -> String {
    match extra {
        Some(extra) => format!("(&{}{extra})", parenthesize(user_filter)),
        None => parenthesize(user_filter),
    }
}

/// `(attr=v)` for one value, `(|(attr=v1)(attr=v2)…)` for several; every
/// value escaped. `None` for no values.
pub(crate) fn any_equal<S: AsRef<str>>(attribute: &str, values: &[S]) -> Option<String> {
    let items: Vec<String> = values
        .iter()
        .map(|v| format!("({attribute}={})", escape_filter_value(v.as_ref())))
        .collect();
    match items.len() {
        0 => None,
        1 => items.into_iter().next(),
        _ => Some(format!("(|{})", items.concat())),
    }
}

/// `(|(a1=p*)(a2=p*)…)`: any of `attributes` starts with `prefix` (escaped).
/// `None` for no attributes.
pub(crate) fn any_starts_with<S: AsRef<str>>(attributes: &[S], prefix: &str) -> Option<String> {
    let p = escape_filter_value(prefix);
    let items: Vec<String> = attributes
        .iter()
        .map(|a| format!("({}={p}*)", a.as_ref()))
        .collect();
    match items.len() {
        0 => None,
        1 => items.into_iter().next(),
        _ => Some(format!("(|{})", items.concat())),
    }
}

/// Whether `name` is a valid attribute description we may put in a filter:
/// a letter then letters, digits and `-` (or a numeric OID), optionally with
/// `;options`. Guards configured attribute names against filter injection.
pub(crate) fn is_attribute_name(name: &str) -> bool {
    let base = name.split(';').next().unwrap_or_default();
    let descr = base.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !base.is_empty()
        && base
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (descr || oid)
        && name
            .split(';')
            .skip(1)
            .all(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped_per_rfc_4515() {
        assert_eq!(escape_filter_value("John.Smith"), "John.Smith");
        assert_eq!(escape_filter_value("*"), r"\2a");
        assert_eq!(escape_filter_value("a(b)c"), r"a\28b\29c");
        assert_eq!(escape_filter_value(r"back\slash"), r"back\5cslash");
        assert_eq!(escape_filter_value("nul\0"), r"nul\00");
        assert_eq!(
            escape_filter_value("*)(objectClass=*"),
            r"\2a\29\28objectClass=\2a"
        );
        // Non-ASCII travels as UTF-8, unescaped.
        assert_eq!(escape_filter_value("Zoë.Ångström"), "Zoë.Ångström");
        // Already-escaped looking text is escaped again: it is data.
        assert_eq!(escape_filter_value(r"\2a"), r"\5c2a");
    }

    #[test]
    fn escaped_filters_parse_and_keep_the_literal_value() {
        // ldap3's own filter parser must read back exactly one equality
        // assertion: the injection attempt stays one value.
        let f = any_equal("sAMAccountName", &["*)(objectClass=*"]).expect("one");
        assert_eq!(f, r"(sAMAccountName=\2a\29\28objectClass=\2a)");
        assert!(ldap3::parse_filter(&f).is_ok());
        for v in ["(", ")", "*", "\\", "\0", "a*b", "((", "x)(|(y=*"] {
            let f = any_equal("uid", &[v]).expect("one");
            assert!(ldap3::parse_filter(&f).is_ok(), "{f}");
        }
    }

    #[test]
    fn dn_values_are_escaped_per_rfc_4514() {
        assert_eq!(escape_dn_value("Smith, Anna"), r"Smith\, Anna");
        assert_eq!(
            escape_dn_value(r#"a+b"c;d<e>f\g=h"#),
            r#"a\+b\"c\;d\<e\>f\\g\=h"#
        );
        assert_eq!(escape_dn_value(" lead"), r"\ lead");
        assert_eq!(escape_dn_value("trail "), r"trail\ ");
        assert_eq!(escape_dn_value("#hash"), r"\#hash");
        assert_eq!(escape_dn_value("mid#dle"), "mid#dle");
        assert_eq!(escape_dn_value("nul\0"), r"nul\00");
        assert_eq!(
            escape_dn_value("Jane Doe (External)"),
            "Jane Doe (External)"
        );
        assert_eq!(escape_dn_value(" "), r"\ ");
    }

    #[test]
    fn escaped_dn_values_parse_back() {
        for v in ["Smith, Anna", " x ", "#1", r"a\b", "a+b=c", "Zoë", "x;y"] {
            let dn = format!("CN={},OU=Test,DC=example,DC=test", escape_dn_value(v));
            let parsed = Dn::parse(&dn).expect("valid");
            let expected = Dn {
                rdns: vec![
                    vec![("cn".into(), normalize_key(v))],
                    vec![("ou".into(), "test".into())],
                    vec![("dc".into(), "example".into())],
                    vec![("dc".into(), "test".into())],
                ],
            };
            // normalize_key trims, so compare with the same rule.
            assert_eq!(parsed, expected, "{dn}");
        }
    }

    #[test]
    fn dns_compare_parsed_not_as_strings() {
        let a = Dn::parse(r"CN=Smith\, Anna,OU=userphoto-test,DC=corp,DC=example,DC=test");
        let b = Dn::parse(r"cn=smith\2C anna, ou=USERPHOTO-TEST,dc=corp,dc=example,dc=test");
        assert_eq!(a, b);
        let plus = Dn::parse(r"uid=a\+b,ou=people,dc=example,dc=org");
        let hex = Dn::parse(r"uid=a\2Bb,ou=people,dc=example,dc=org");
        assert_eq!(plus, hex);
        let multi1 = Dn::parse("cn=A+sn=B,dc=x").expect("ok");
        let multi2 = Dn::parse("sn=b+cn=a,dc=x").expect("ok");
        assert_eq!(multi1, multi2);
    }

    #[test]
    fn within_base() {
        let base = Dn::parse("OU=userphoto-test,DC=corp,DC=example,DC=test").expect("base");
        let inside = Dn::parse("CN=Test User 0001,OU=userphoto-test,DC=corp,DC=example,DC=test")
            .expect("dn");
        let elsewhere =
            Dn::parse("CN=Administrator,CN=Users,DC=corp,DC=example,DC=test").expect("dn");
        let lookalike =
            Dn::parse("CN=x,OU=not-userphoto-test,DC=corp,DC=example,DC=test").expect("dn");
        assert!(inside.is_within(&base));
        assert!(base.is_within(&base));
        assert!(!elsewhere.is_within(&base));
        assert!(!lookalike.is_within(&base));
        assert_eq!(Dn::parse("").map(|d| d.depth()), Ok(0));
    }

    #[test]
    fn malformed_dns_are_errors_not_panics() {
        for bad in [
            "*",
            "*)(objectClass=*",
            "CN",
            "=x",
            r"CN=x\",
            "CN=a,",
            "a b=c",
            r"CN=\ff\fe",
        ] {
            assert!(Dn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parents() {
        assert_eq!(
            parent_dn(r"CN=Smith\, Anna,OU=Staff,DC=x"),
            Some("OU=Staff,DC=x")
        );
        assert_eq!(parent_dn("DC=x"), None);
    }

    #[test]
    fn filters_are_built_from_escaped_parts() {
        assert_eq!(parenthesize("objectClass=user"), "(objectClass=user)");
        assert_eq!(
            and_user_filter("(objectClass=user)", Some("(uid=a)")),
            "(&(objectClass=user)(uid=a))"
        );
        assert_eq!(and_user_filter("objectClass=x", None), "(objectClass=x)");
        assert_eq!(any_equal::<&str>("uid", &[]), None);
        assert_eq!(
            any_equal("uid", &["a", "b*"]).as_deref(),
            Some(r"(|(uid=a)(uid=b\2a))")
        );
        assert_eq!(
            any_starts_with(&["sAMAccountName", "mail"], "jo(").as_deref(),
            Some(r"(|(sAMAccountName=jo\28*)(mail=jo\28*))")
        );
        assert_eq!(any_starts_with(&["uid"], "x").as_deref(), Some("(uid=x*)"));
    }

    #[test]
    fn attribute_names_are_checked() {
        for ok in [
            "thumbnailPhoto",
            "jpegPhoto",
            "uid",
            "x-custom",
            "2.5.4.3",
            "cn;lang-en",
        ] {
            assert!(is_attribute_name(ok), "{ok}");
        }
        for bad in [
            "", "1abc", "uid)(x=*", "a b", "a=b", "2..5", "cn;", "photo*",
        ] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }
}
