//! Reading EWS answers with `roxmltree` (a read-only, namespace-aware DOM),
//! searched by local name; writing is `format!` with [`escape`].
//!
//! EWS answers are small apart from `PictureData` (one text node), so a
//! tree is simpler to search than a stream and costs little. Text comes
//! from a server: a document that is not well-formed XML (undeclared
//! namespace prefixes included), that has a DTD (`roxmltree` refuses one by
//! default, so no entity expansion and no external entities), or that has
//! more than [`NODES_LIMIT`] nodes is an error, never a panic. Nesting needs
//! no limit of its own: `roxmltree` builds and walks the tree without
//! recursion, and the node limit bounds it.

use roxmltree::{Document, Node, ParsingOptions};

/// The most nodes an answer may have. The largest real one, the list of
/// time zones that answers the server probe, has a few hundred.
const NODES_LIMIT: u32 = 10_000;

/// Parses a whole answer.
pub(crate) fn parse(xml: &str) -> Result<Document<'_>, roxmltree::Error> {
    let options = ParsingOptions {
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, options)
}

/// The first element with local name `name`: `node` or a descendant, in
/// document order.
pub(crate) fn find<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.descendants().find(|n| n.has_tag_name(name))
}

/// The element's own text (its text and CDATA children, not comments),
/// trimmed.
pub(crate) fn text(node: Node<'_, '_>) -> String {
    let own: String = node
        .children()
        .filter(Node::is_text)
        .filter_map(|c| c.text())
        .collect();
    own.trim().to_owned()
}

/// The text of the first element with local name `name` (see [`find`]).
pub(crate) fn text_of(node: Node<'_, '_>, name: &str) -> Option<String> {
    find(node, name).map(text)
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
            <m:MessageText>a &lt;b&gt; &amp; &#233;&#x41;<![CDATA[<c>]]><!-- why -->!</m:MessageText>
            <m:ResponseCode>ErrorAccessDenied</m:ResponseCode>
            </m:SetUserPhotoResponseMessage></m:ResponseMessages></m:SetUserPhotoResponse></s:Body></s:Envelope>"#;
        let doc = parse(xml).expect("parse");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "Envelope");
        assert_eq!(root.tag_name().namespace(), Some("x"));
        let v = find(root, "ServerVersionInfo").expect("version");
        assert_eq!(v.tag_name().namespace(), Some("t"));
        assert_eq!(v.attribute("MajorVersion"), Some("15"));
        assert_eq!(v.attribute("MinorVersion"), Some("1"));
        assert_eq!(v.attribute("Version"), Some("V2016_10_10"));
        assert_eq!(v.attribute("Nope"), None);
        let m = find(root, "SetUserPhotoResponseMessage").expect("message");
        assert_eq!(m.attribute("ResponseClass"), Some("Error"));
        assert_eq!(
            text_of(m, "ResponseCode").as_deref(),
            Some("ErrorAccessDenied")
        );
        // Entities, character references and CDATA decoded; text around a
        // comment joined.
        assert_eq!(
            text_of(root, "MessageText").as_deref(),
            Some("a <b> & éA<c>!")
        );
        assert!(find(root, "Missing").is_none());
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
            "<s:a/>",
        ] {
            assert!(parse(xml).is_err(), "{xml:?}");
        }
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn hostile_answers_are_refused() {
        // Entity expansion ("billion laughs") and external entities: no DTD.
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>"#;
        let external = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]><l>&x;</l>"#;
        for xml in [laughs, external] {
            let e = parse(xml).expect_err("a DTD is refused");
            assert!(e.to_string().contains("DTD"), "{e}");
        }
        // Too many nodes, flat or nested.
        let n = usize::try_from(NODES_LIMIT).expect("u32 fits");
        let wide = format!("<a>{}</a>", "<b/>".repeat(n));
        let deep = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        for xml in [wide, deep] {
            let e = parse(&xml).expect_err("over the limit");
            assert!(e.to_string().contains("nodes limit"), "{e}");
        }
        // Deep nesting under the limit is no stack overflow, building or searching.
        let depth = n - 2;
        let deep = format!("{}<x/>{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let doc = parse(&deep).expect("under the limit");
        assert!(find(doc.root_element(), "x").is_some());
    }
}
