//! Just enough XML reading for the EWS requests the emulator receives: the first element with a given
//! local name (namespace prefixes ignored), its attributes, and its text
//! with the five predefined entities and character references decoded.
//!
//! A copy of the client's scanner (the emulator must not depend on the
//! code it tests); the requests are small and flat. Anything it cannot find
//! is `None`, never a panic: the text comes from a client.

/// One element found by [`find`]: its attributes' raw text and its content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    attrs: &'a str,
    content: &'a str,
}

impl<'a> Element<'a> {
    /// The decoded value of attribute `name` (local name, prefix ignored).
    pub(crate) fn attr(&self, name: &str) -> Option<String> {
        let mut rest = self.attrs;
        loop {
            let eq = rest.find('=')?;
            let key = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let quote = after.chars().next()?;
            if quote != '"' && quote != '\'' {
                return None;
            }
            let close = after[1..].find(quote)?;
            let value = &after[1..1 + close];
            if local(key) == name {
                return Some(decode(value));
            }
            rest = &after[close + 2..];
        }
    }

    /// The element's decoded text (its content, with any child tags left in).
    pub(crate) fn text(&self) -> String {
        decode(self.content.trim())
    }

    /// The raw content, to search inside.
    pub(crate) fn content(&self) -> &'a str {
        self.content
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The first element named `name` (local name) in `xml`.
pub(crate) fn find<'a>(xml: &'a str, name: &str) -> Option<Element<'a>> {
    let mut pos = 0;
    while let Some(off) = xml[pos..].find('<') {
        let start = pos + off + 1;
        let rest = &xml[start..];
        if rest.starts_with('/') || rest.starts_with('?') || rest.starts_with('!') {
            pos = start;
            continue;
        }
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (tag_name, attrs) = match tag.find(|c: char| c.is_whitespace()) {
            Some(i) => (&tag[..i], &tag[i..]),
            None => (tag, ""),
        };
        let body_start = start + end + 1;
        if local(tag_name) == name {
            if self_closing {
                return Some(Element { attrs, content: "" });
            }
            let close = closing_tag(&xml[body_start..], tag_name)?;
            return Some(Element {
                attrs,
                content: &xml[body_start..body_start + close],
            });
        }
        pos = body_start;
    }
    None
}

/// Offset of `</tag_name>` (same qualified name) in `xml`.
fn closing_tag(xml: &str, tag_name: &str) -> Option<usize> {
    let needle = format!("</{tag_name}");
    let mut pos = 0;
    while let Some(off) = xml[pos..].find(&needle) {
        let at = pos + off;
        let after = &xml[at + needle.len()..];
        if after.trim_start().starts_with('>') {
            return Some(at);
        }
        pos = at + needle.len();
    }
    None
}

/// The text of the first element named `name`.
pub(crate) fn text(xml: &str, name: &str) -> Option<String> {
    find(xml, name).map(|e| e.text())
}

/// Decodes `&lt; &gt; &amp; &quot; &apos; &#N; &#xN;`; anything else is kept.
pub(crate) fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';').filter(|&n| n <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
