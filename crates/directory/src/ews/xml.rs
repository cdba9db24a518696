//! Reading EWS answers with `quick-xml`: the document becomes a small tree
//! of elements (local names, the namespace each is bound to, decoded
//! attributes and text), searched by local name.
//!
//! EWS answers are small apart from `PictureData`, so a tree is simpler to
//! search than a stream and costs little. Text comes from a server: a
//! document that is not well-formed XML, or nests deeper than
//! [`MAX_DEPTH`], is an error, never a panic.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The deepest nesting accepted (SOAP answers are a dozen levels deep).
const MAX_DEPTH: usize = 64;

/// One element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Element {
    /// Local name (prefix dropped).
    pub(crate) name: String,
    /// The namespace the name is bound to.
    pub(crate) namespace: Option<String>,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    /// The decoded value of attribute `name` (local name).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The element's own text, decoded and trimmed.
    pub(crate) fn text(&self) -> &str {
        self.text.trim()
    }

    /// The first element named `name`: this one or a descendant, in
    /// document order.
    pub(crate) fn find(&self, name: &str) -> Option<&Element> {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if e.name == name {
                return Some(e);
            }
            stack.extend(e.children.iter().rev());
        }
        None
    }

    /// Every element named `name` at or below this one, in document order.
    pub(crate) fn find_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            while let Some(e) = stack.pop() {
                stack.extend(e.children.iter().rev());
                if e.name == name {
                    return Some(e);
                }
            }
            None
        })
    }

    /// The text of the first element named `name`.
    pub(crate) fn text_of(&self, name: &str) -> Option<String> {
        self.find(name).map(|e| e.text().to_owned())
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(xml: &str) -> Result<Element, String> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let at = reader.buffer_position();
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML after byte {at}: {e}"))?;
        let namespace = match namespace {
            ResolveResult::Bound(ns) => Some(ns.0.to_owned()),
            _ => None,
        };
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(element(&start, namespace)?);
            }
            Event::Empty(start) => {
                let e = element(&start, namespace)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = root.or(Some(e)),
                }
            }
            Event::End(_) => {
                let Some(e) = stack.pop() else {
                    return Err("an end tag without its start".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = root.or(Some(e)),
                }
            }
            Event::Text(t) => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let decoded = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("unknown entity &{};", &*r))?
                        .to_owned(),
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&decoded);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "the document has no element".into())
}

fn element(start: &BytesStart<'_>, namespace: Option<String>) -> Result<Element, String> {
    let mut attributes = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute value: {e}"))?;
        attributes.push((a.key.local_name().as_ref().to_owned(), value.into_owned()));
    }
    Ok(Element {
        name: start.local_name().as_ref().to_owned(),
        namespace,
        attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Escapes text for an element or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_attributes_and_text_whatever_the_prefix() {
        let xml = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Header>
            <h:ServerVersionInfo xmlns:h="t" MajorVersion="15" MinorVersion='1' Version="V2016_10_10"/></s:Header>
            <s:Body><m:SetUserPhotoResponse xmlns:m="m"><m:ResponseMessages>
            <m:SetUserPhotoResponseMessage ResponseClass="Error">
            <m:MessageText>a &lt;b&gt; &amp; &#233;&#x41;<![CDATA[<c>]]></m:MessageText>
            <m:ResponseCode>ErrorAccessDenied</m:ResponseCode>
            </m:SetUserPhotoResponseMessage></m:ResponseMessages></m:SetUserPhotoResponse></s:Body></s:Envelope>"#;
        let doc = parse(xml).expect("parse");
        assert_eq!(doc.name, "Envelope");
        assert_eq!(doc.namespace.as_deref(), Some("x"));
        let v = doc.find("ServerVersionInfo").expect("version");
        assert_eq!(v.namespace.as_deref(), Some("t"));
        assert_eq!(v.attr("MajorVersion"), Some("15"));
        assert_eq!(v.attr("MinorVersion"), Some("1"));
        assert_eq!(v.attr("Version"), Some("V2016_10_10"));
        assert_eq!(v.attr("Nope"), None);
        let m = doc.find("SetUserPhotoResponseMessage").expect("message");
        assert_eq!(m.attr("ResponseClass"), Some("Error"));
        assert_eq!(
            m.text_of("ResponseCode").as_deref(),
            Some("ErrorAccessDenied")
        );
        assert_eq!(doc.text_of("MessageText").as_deref(), Some("a <b> & éA<c>"));
        assert!(doc.find("Missing").is_none());
        let names: Vec<_> = doc.find_all("ResponseCode").map(Element::text).collect();
        assert_eq!(names, ["ErrorAccessDenied"]);
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        for xml in [
            "",
            "<",
            "<a",
            "<a x=>",
            "<a>unclosed",
            "<a x=\"1>",
            "&",
            "<a>&#xZZ;</a>",
            "<a>&bogus;</a>",
            "</a>",
            "<a></b>",
        ] {
            assert!(parse(xml).is_err(), "{xml:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }
}
