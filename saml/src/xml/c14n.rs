//! Exclusive XML Canonicalization 1.0 without comments (xml-exc-c14n §3, over
//! the data model of Canonical XML 1.0 §2), of one element subtree taken as
//! the apex of the node-set: the form whose SHA-256 digest goes into the
//! `ds:Reference` of an enveloped signature this crate writes.
//!
//! It is used only to **sign** documents this gateway built itself;
//! verification of received signatures stays with libxmlsec1. The rules
//! applied here:
//! - a namespace declaration is written on an element when its prefix is
//!   visibly utilized there (the element's own prefix, or the prefix of one
//!   of its attributes; the default namespace for an unprefixed element) and
//!   the nearest output ancestor did not already render the same binding;
//!   `xmlns=""` when an unprefixed element leaves a rendered default namespace;
//! - namespace declarations sorted by prefix (the default one first), then
//!   attributes sorted by namespace URI then local name;
//! - empty elements written as start and end tag pairs; attribute values and
//!   text escaped as C14N §2.3 requires; comments dropped; CDATA sections
//!   written as escaped text (the tree already merged them);
//! - processing instructions would have to be kept and are not represented in
//!   the tree: an element containing one is refused.

use std::fmt::Write as _;

use thiserror::Error;

use super::tree::{Element, Node};

/// The namespace URI the `xml` prefix is bound to by definition; never declared.
const XML_NS_PREFIX: &str = "xml";

/// Why an element could not be canonicalized.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum C14nError {
    /// A processing instruction inside the element (its content is not kept).
    #[error(
        "element {element} contains a processing instruction, which this canonicalizer does not keep"
    )]
    ProcessingInstruction {
        /// The element containing it.
        element: String,
    },
    /// An element or attribute prefix with no binding in scope.
    #[error("prefix {prefix:?} of element {element} is not bound")]
    UnboundPrefix {
        /// The prefix.
        prefix: String,
        /// The element.
        element: String,
    },
}

/// The exclusive canonical form (without comments) of `element` and its
/// descendants, `element` being the apex (no ancestor rendered).
pub(crate) fn exclusive(element: &Element) -> Result<String, C14nError> {
    let mut out = String::with_capacity(element.span.len() + 256);
    let mut rendered: Vec<(String, String)> = Vec::new();
    write_element(element, &mut rendered, &mut out)?;
    Ok(out)
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

/// The URI bound to `prefix` on `element` ("" for an absent default namespace).
fn in_scope<'e>(element: &'e Element, prefix: &str) -> Option<&'e str> {
    element
        .decls
        .iter()
        .rev()
        .chain(element.inherited.iter().rev())
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.as_str())
}

fn write_element(
    element: &Element,
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) -> Result<(), C14nError> {
    let mut used: Vec<&str> = vec![prefix_of(&element.qname)];
    for attribute in &element.attrs {
        let prefix = prefix_of(&attribute.qname);
        if !prefix.is_empty() && !used.contains(&prefix) {
            used.push(prefix);
        }
    }
    used.sort_unstable();
    let depth = rendered.len();
    let mut declarations: Vec<(&str, &str)> = Vec::new();
    for prefix in used {
        if prefix == XML_NS_PREFIX {
            continue;
        }
        let uri = match in_scope(element, prefix) {
            Some(uri) => uri,
            None if prefix.is_empty() => "",
            None => {
                return Err(C14nError::UnboundPrefix {
                    prefix: prefix.to_owned(),
                    element: element.qname.clone(),
                });
            }
        };
        let previous = rendered
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map_or("", |(_, u)| u.as_str());
        if previous != uri {
            declarations.push((prefix, uri));
            rendered.push((prefix.to_owned(), uri.to_owned()));
        }
    }
    out.push('<');
    out.push_str(&element.qname);
    for (prefix, uri) in declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            let _ = write!(out, " xmlns:{prefix}=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    let mut attributes: Vec<_> = element.attrs.iter().collect();
    attributes.sort_by(|a, b| {
        (a.ns.as_deref().unwrap_or(""), a.local.as_str())
            .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
    });
    for attribute in attributes {
        out.push(' ');
        out.push_str(&attribute.qname);
        out.push_str("=\"");
        escape_attr(&attribute.value, out);
        out.push('"');
    }
    out.push('>');
    for child in &element.children {
        match child {
            Node::Element(inner) => write_element(inner, rendered, out)?,
            Node::Text(text) => escape_text(text, out),
            Node::Comment => {}
            Node::ProcessingInstruction => {
                return Err(C14nError::ProcessingInstruction {
                    element: element.qname.clone(),
                });
            }
        }
    }
    out.push_str("</");
    out.push_str(&element.qname);
    out.push('>');
    rendered.truncate(depth);
    Ok(())
}

/// C14N §2.3, text nodes: `&`, `<`, `>` and carriage return as references.
fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// C14N §2.3, attribute nodes: `&`, `<`, `"`, tab, line feed and carriage
/// return as references.
fn escape_attr(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::tree::parse;

    fn canonical(xml: &str) -> String {
        exclusive(&parse(xml, 100_000).unwrap()).unwrap()
    }

    fn first_child(xml: &str) -> String {
        let root = parse(xml, 100_000).unwrap();
        let child = root.elements().next().unwrap();
        exclusive(child).unwrap()
    }

    #[test]
    fn empty_elements_attribute_order_and_escapes() {
        assert_eq!(
            canonical(
                "<a z=\"1\" b='x&apos;&gt;&#9;&#10;&#13;\"' a=\"&lt;&amp;\"><e/>t&gt;&#13;<![CDATA[<c>]]><!-- c --></a>"
            ),
            "<a a=\"&lt;&amp;\" b=\"x'>&#x9;&#xA;&#xD;&quot;\" z=\"1\"><e></e>t&gt;&#xD;&lt;c&gt;</a>"
        );
    }

    #[test]
    fn only_visibly_utilized_namespaces_are_rendered_at_the_apex() {
        // The exc-c14n specification's point: ancestors' unused bindings stay out.
        let xml = r#"<r:root xmlns:r="urn:r" xmlns:u="urn:unused" xmlns="urn:default"><r:child u2:k="v" xmlns:u2="urn:u2"><plain/></r:child></r:root>"#;
        assert_eq!(
            first_child(xml),
            r#"<r:child xmlns:r="urn:r" xmlns:u2="urn:u2" u2:k="v"><plain xmlns="urn:default"></plain></r:child>"#
        );
    }

    #[test]
    fn redundant_declarations_are_dropped_and_rebindings_kept() {
        let xml =
            r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:1"><p:c xmlns:p="urn:2"/></p:b><p:d/></p:a>"#;
        assert_eq!(
            canonical(xml),
            r#"<p:a xmlns:p="urn:1"><p:b><p:c xmlns:p="urn:2"></p:c></p:b><p:d></p:d></p:a>"#
        );
    }

    #[test]
    fn default_namespace_is_undeclared_when_left() {
        let xml = r#"<a xmlns="urn:d"><b xmlns=""><c/></b></a>"#;
        assert_eq!(
            canonical(xml),
            r#"<a xmlns="urn:d"><b xmlns=""><c></c></b></a>"#
        );
        // An unprefixed apex without a default namespace renders nothing.
        assert_eq!(canonical(r#"<a><b xmlns=""/></a>"#), "<a><b></b></a>");
    }

    #[test]
    fn namespaced_attributes_sort_after_unqualified_ones() {
        let xml = r#"<a xmlns:z="urn:a" xmlns:b="urn:z" b:x="1" z:y="2" c="3" xml:lang="fr"/>"#;
        assert_eq!(
            canonical(xml),
            r#"<a xmlns:b="urn:z" xmlns:z="urn:a" c="3" xml:lang="fr" z:y="2" b:x="1"></a>"#
        );
    }

    #[test]
    fn processing_instructions_are_refused() {
        let root = parse("<a><?pi data?></a>", 1000).unwrap();
        assert_eq!(
            exclusive(&root),
            Err(C14nError::ProcessingInstruction {
                element: "a".to_owned()
            })
        );
    }
}
