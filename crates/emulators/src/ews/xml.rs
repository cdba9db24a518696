//! Reading the SOAP requests the emulator receives with `quick-xml`: the
//! document becomes a small tree of elements (local names, the namespace
//! each is bound to, decoded attributes and text), so the emulator can
//! check each element's namespace and place as EWS does.
//!
//! The client has a module like this one; the emulator keeps its own copy
//! because it must not depend on the code it tests. Text comes from a
//! client: a document that is not well-formed XML, or nests deeper than
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

    /// The child elements.
    pub(crate) fn children(&self) -> &[Element] {
        &self.children
    }

    /// The first child element named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
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
    fn elements_keep_their_namespace_attributes_and_text() {
        let xml = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x" xmlns:m="m"><s:Header>
            <t:RequestServerVersion xmlns:t="t" Version="Exchange2016"/></s:Header>
            <s:Body><m:SetUserPhoto><m:Email>a&amp;b@example.test</m:Email><Content>&#65;</Content></m:SetUserPhoto></s:Body></s:Envelope>"#;
        let env = parse(xml).expect("parse");
        assert_eq!(
            (env.name.as_str(), env.namespace.as_deref()),
            ("Envelope", Some("x"))
        );
        let v = env
            .child("Header")
            .and_then(|h| h.child("RequestServerVersion"))
            .expect("version");
        assert_eq!(v.namespace.as_deref(), Some("t"));
        assert_eq!(v.attr("Version"), Some("Exchange2016"));
        let op = &env.child("Body").expect("body").children()[0];
        assert_eq!(
            (op.name.as_str(), op.namespace.as_deref()),
            ("SetUserPhoto", Some("m"))
        );
        let email = op.child("Email").expect("email");
        assert_eq!(email.text(), "a&b@example.test");
        let content = op.child("Content").expect("content");
        assert_eq!((content.text(), content.namespace.as_deref()), ("A", None));
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        for xml in [
            "",
            "<",
            "<a",
            "<a x=>",
            "<a>unclosed",
            "&",
            "<a>&bogus;</a>",
            "</a>",
            "<a></b>",
        ] {
            assert!(parse(xml).is_err(), "{xml:?}");
        }
        assert!(parse(&"<a>".repeat(MAX_DEPTH + 1)).is_err());
        assert_eq!(escape("<&>"), "&lt;&amp;&gt;");
    }
}
