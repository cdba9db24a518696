//! Reading the SOAP requests the emulator receives with `roxmltree` (a
//! read-only, namespace-aware DOM), so the emulator can check each
//! element's namespace and place as EWS does; writing is `format!` with
//! [`escape`].
//!
//! The client reads with `roxmltree` too, but through its own few lines:
//! the emulator must not depend on the code it tests. Text comes from a
//! client: a request that is not well-formed XML (undeclared namespace
//! prefixes included), has a DTD (refused by `roxmltree`'s default) or more
//! than [`NODES_LIMIT`] nodes is an error, never a panic; `roxmltree` does
//! not recurse, so deep nesting is bounded by the node limit alone.

use roxmltree::{Document, Node, ParsingOptions};

/// The most nodes a request may have: the emulator's operations have a
/// dozen (a photo's `Content` is one text node).
const NODES_LIMIT: u32 = 10_000;

/// Parses a whole request.
pub(crate) fn parse(xml: &str) -> Result<Document<'_>, roxmltree::Error> {
    Document::parse_with_options(
        xml,
        ParsingOptions {
            nodes_limit: NODES_LIMIT,
            ..ParsingOptions::default()
        },
    )
}

/// The first child element of `parent` with local name `name`, whatever
/// its namespace (the caller checks that, as EWS's schema validation does).
pub(crate) fn child<'a, 'i>(parent: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    parent.children().find(|c| c.has_tag_name(name))
}

/// The element's own text (text and CDATA children joined, comments
/// left out), trimmed.
pub(crate) fn text(element: Node<'_, '_>) -> String {
    let joined = element
        .children()
        .filter(Node::is_text)
        .filter_map(|c| c.text())
        .collect::<String>();
    joined.trim().to_owned()
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
            <s:Body><m:SetUserPhoto><m:Email>a&amp;b@<![CDATA[example]]><!-- no -->.test</m:Email><Content>&#65;</Content></m:SetUserPhoto></s:Body></s:Envelope>"#;
        let doc = parse(xml).expect("parse");
        let env = doc.root_element();
        assert_eq!(
            (env.tag_name().name(), env.tag_name().namespace()),
            ("Envelope", Some("x"))
        );
        let v = child(env, "Header")
            .and_then(|h| child(h, "RequestServerVersion"))
            .expect("version");
        assert_eq!(v.tag_name().namespace(), Some("t"));
        assert_eq!(v.attribute("Version"), Some("Exchange2016"));
        let body = child(env, "Body").expect("body");
        let ops: Vec<_> = body.children().filter(Node::is_element).collect();
        assert_eq!(ops.len(), 1, "whitespace is no operation");
        assert_eq!(
            (ops[0].tag_name().name(), ops[0].tag_name().namespace()),
            ("SetUserPhoto", Some("m"))
        );
        let email = child(ops[0], "Email").expect("email");
        assert_eq!(text(email), "a&b@example.test");
        let content = child(ops[0], "Content").expect("content");
        assert_eq!(
            (text(content).as_str(), content.tag_name().namespace()),
            ("A", None)
        );
        assert!(
            child(env, "Email").is_none(),
            "children only, not descendants"
        );
    }

    #[test]
    fn broken_or_hostile_input_is_an_error_not_a_panic() {
        // What a broken or hostile client may send: no document, an
        // undeclared prefix, an envelope left open or closed wrongly, an
        // entity that does not exist, a DTD (entity expansion).
        for xml in [
            "",
            "<s:Envelope/>",
            "<s:Envelope xmlns:s=\"x\"><s:Body>",
            "<s:Envelope xmlns:s=\"x\"></s:Body>",
            "<m:Email xmlns:m=\"m\">&nbsp;</m:Email>",
            r#"<!DOCTYPE a [<!ENTITY e "ee">]><a>&e;</a>"#,
        ] {
            assert!(parse(xml).is_err(), "{xml:?}");
        }
        let n = usize::try_from(NODES_LIMIT).expect("u32 fits");
        let deep = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        let wide = format!("<a>{}</a>", "<b/>".repeat(n));
        for xml in [deep, wide] {
            let e = parse(&xml).expect_err("over the node limit");
            assert!(e.to_string().contains("nodes limit"), "{e}");
        }
        assert_eq!(escape("<&>"), "&lt;&amp;&gt;");
    }
}
