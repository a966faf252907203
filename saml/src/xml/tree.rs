//! A small namespace-aware element tree read with quick-xml, used by every parser
//! of this crate: elements are matched by namespace URI and local name (never by
//! prefix), text is the concatenation of text nodes, every element remembers its
//! byte span in the source so that it can be cut out exactly (signatures stay
//! valid) together with the namespace declarations it inherits.

use std::ops::Range;
use std::rc::Rc;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use thiserror::Error;

use super::{MAX_DEPTH, XmlError};

/// A schema-level problem in a well-formed document.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    /// The root element is not the expected one.
    #[error("expected root element {expected}, found {{{found_ns}}}{found}")]
    UnexpectedRoot {
        /// The expected element.
        expected: &'static str,
        /// Namespace of the element found.
        found_ns: String,
        /// Local name of the element found.
        found: String,
    },
    /// A required child element is missing.
    #[error("element {parent} has no {element} child")]
    MissingElement {
        /// The parent element.
        parent: String,
        /// The missing element.
        element: &'static str,
    },
    /// An element that may appear once appears several times.
    #[error("element {parent} has several {element} children, at most one is allowed")]
    DuplicateElement {
        /// The parent element.
        parent: String,
        /// The repeated element.
        element: &'static str,
    },
    /// A required attribute is missing.
    #[error("element {element} has no {attribute} attribute")]
    MissingAttribute {
        /// The element.
        element: String,
        /// The missing attribute.
        attribute: &'static str,
    },
    /// An attribute or text value is not valid.
    #[error("invalid value {value:?} for {field} of {element}: {reason}")]
    InvalidValue {
        /// The element.
        element: String,
        /// The attribute or "text".
        field: &'static str,
        /// The value read.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// Text was expected but the element holds a comment, a processing
    /// instruction or a child element (comment-injection attacks on NameID).
    #[error("element {element} must hold only text, found a {found}")]
    NonTextContent {
        /// The element.
        element: String,
        /// What was found: "comment", "processing instruction" or "child element".
        found: &'static str,
    },
}

/// One element of the tree.
#[derive(Debug)]
pub(crate) struct Element {
    /// Namespace URI, `None` when unbound.
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Name as written (prefix included).
    pub qname: String,
    /// Attributes other than namespace declarations, values normalised.
    pub attrs: Vec<Attribute>,
    /// Child nodes in document order.
    pub children: Vec<Node>,
    /// Byte range of the whole element in the source.
    pub span: Range<usize>,
    /// Byte offset just after the start tag (equal to `span.end` for an empty element).
    pub content_start: usize,
    /// Namespace declarations written on this element: (prefix, URI), prefix "" for default.
    pub decls: Vec<(String, String)>,
    /// Namespace bindings in scope from the ancestors: (prefix, URI).
    pub inherited: Rc<Vec<(String, String)>>,
}

/// One attribute.
#[derive(Debug)]
pub(crate) struct Attribute {
    /// Namespace URI (attributes without a prefix have none).
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Name as written (prefix included).
    pub qname: String,
    /// Normalised value.
    pub value: String,
}

/// A child node.
#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    Comment,
    ProcessingInstruction,
}

/// Receives the parse events of [`walk`].
pub(crate) trait Sink {
    fn start(&mut self, element: Element);
    fn end(&mut self, end: usize);
    fn text(&mut self, text: &str);
    fn comment(&mut self);
    fn processing_instruction(&mut self);
}

/// A sink that keeps nothing: [`walk`] then only validates.
pub(crate) struct NullSink;

impl Sink for NullSink {
    fn start(&mut self, _: Element) {}
    fn end(&mut self, _: usize) {}
    fn text(&mut self, _: &str) {}
    fn comment(&mut self) {}
    fn processing_instruction(&mut self) {}
}

fn malformed(position: u64, reason: impl ToString) -> XmlError {
    XmlError::Malformed {
        position: usize::try_from(position).unwrap_or(usize::MAX),
        reason: reason.to_string(),
    }
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

fn resolved(result: ResolveResult<'_>, position: usize) -> Result<Option<String>, XmlError> {
    match result {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.0).into_owned())),
        ResolveResult::Unknown(prefix) => Err(XmlError::UndeclaredPrefix {
            prefix: String::from_utf8_lossy(&prefix).into_owned(),
            position,
        }),
    }
}

/// Parses `xml` and feeds `sink`, enforcing every rule of
/// [`check_untrusted`](super::check_untrusted).
pub(crate) fn walk(xml: &str, max_len: usize, sink: &mut impl Sink) -> Result<(), XmlError> {
    if xml.len() > max_len {
        return Err(XmlError::TooLarge {
            len: xml.len(),
            max: max_len,
        });
    }
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_comments = true;
    reader.config_mut().check_end_names = true;
    let mut scopes: Vec<Rc<Vec<(String, String)>>> = vec![Rc::new(Vec::new())];
    let mut depth = 0usize;
    let mut seen_root = false;
    loop {
        let before = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| malformed(reader.error_position(), e))?;
        let after = reader.buffer_position();
        match event {
            Event::Start(_) | Event::Empty(_) if seen_root && depth == 0 => {
                return Err(XmlError::ContentAfterRoot {
                    position: offset(before),
                });
            }
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(XmlError::TooDeep { max: MAX_DEPTH });
                }
                seen_root = true;
                let inherited = scopes.last().cloned().unwrap_or_default();
                let element = read_start(&reader, &start, before, after, inherited)?;
                scopes.push(own_scope(&element));
                sink.start(element);
            }
            Event::Empty(start) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(XmlError::TooDeep { max: MAX_DEPTH });
                }
                seen_root = true;
                let inherited = scopes.last().cloned().unwrap_or_default();
                let element = read_start(&reader, &start, before, after, inherited)?;
                sink.start(element);
                sink.end(offset(after));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                scopes.pop();
                sink.end(offset(after));
            }
            Event::Text(text) => {
                let content = text.xml10_content().map_err(|e| malformed(before, e))?;
                if depth == 0 {
                    if !content.trim().is_empty() {
                        return Err(if seen_root {
                            XmlError::ContentAfterRoot {
                                position: offset(before),
                            }
                        } else {
                            malformed(before, "text before the root element")
                        });
                    }
                } else {
                    sink.text(&content);
                }
            }
            Event::CData(cdata) => {
                if depth == 0 {
                    return Err(malformed(before, "CDATA outside the root element"));
                }
                let content = cdata.xml10_content().map_err(|e| malformed(before, e))?;
                sink.text(&content);
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| malformed(before, e))?;
                let replacement = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&name)
                        .map(str::to_owned)
                        .ok_or_else(|| XmlError::EntityReference {
                            reference: format!("&{name};"),
                            position: offset(before),
                        })?,
                    Err(_) => {
                        return Err(XmlError::EntityReference {
                            reference: format!("&{name};"),
                            position: offset(before),
                        });
                    }
                };
                if depth == 0 {
                    return Err(malformed(before, "reference outside the root element"));
                }
                sink.text(&replacement);
            }
            Event::Comment(_) => {
                if depth > 0 {
                    sink.comment();
                }
            }
            Event::PI(_) => {
                if depth > 0 {
                    sink.processing_instruction();
                }
            }
            Event::Decl(decl) => check_declaration(&decl, before)?,
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => {
                if depth > 0 {
                    return Err(malformed(after, "unexpected end of document"));
                }
                if !seen_root {
                    return Err(XmlError::NoRootElement);
                }
                return Ok(());
            }
        }
    }
}

fn check_declaration(decl: &quick_xml::events::BytesDecl<'_>, before: u64) -> Result<(), XmlError> {
    let version = decl.version().map_err(|e| malformed(before, e))?;
    if version.as_ref() != b"1.0" {
        return Err(XmlError::UnsupportedVersion {
            version: String::from_utf8_lossy(&version).into_owned(),
        });
    }
    if let Some(encoding) = decl.encoding() {
        let encoding = encoding.map_err(|e| malformed(before, e))?;
        let name = String::from_utf8_lossy(&encoding).into_owned();
        if !name.eq_ignore_ascii_case("utf-8") {
            return Err(XmlError::UnsupportedEncoding { encoding: name });
        }
    }
    Ok(())
}

fn own_scope(element: &Element) -> Rc<Vec<(String, String)>> {
    if element.decls.is_empty() {
        return Rc::clone(&element.inherited);
    }
    let mut scope: Vec<(String, String)> = element
        .inherited
        .iter()
        .filter(|(prefix, _)| !element.decls.iter().any(|(p, _)| p == prefix))
        .cloned()
        .collect();
    scope.extend(element.decls.iter().cloned());
    Rc::new(scope)
}

fn read_start(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    before: u64,
    after: u64,
    inherited: Rc<Vec<(String, String)>>,
) -> Result<Element, XmlError> {
    let position = offset(before);
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let ns = resolved(ns, position)?;
    let local = String::from_utf8_lossy(local.as_ref()).into_owned();
    let qname = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attrs: Vec<Attribute> = Vec::new();
    let mut decls = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| malformed(before, e))?;
        let value = attr
            .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_predefined_entity)
            .map_err(|e| match e {
                quick_xml::Error::Escape(escape) => XmlError::EntityReference {
                    reference: escape.to_string(),
                    position,
                },
                other => malformed(before, other),
            })?
            .into_owned();
        if let Some(binding) = attr.key.as_namespace_binding() {
            let prefix = match binding {
                PrefixDeclaration::Default => String::new(),
                PrefixDeclaration::Named(p) => String::from_utf8_lossy(p).into_owned(),
            };
            decls.push((prefix, value));
            continue;
        }
        let (attr_ns, attr_local) = reader.resolver().resolve_attribute(attr.key);
        let attr_ns = resolved(attr_ns, position)?;
        let attr_local = String::from_utf8_lossy(attr_local.as_ref()).into_owned();
        let attr_qname = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        if attrs
            .iter()
            .any(|a| a.ns == attr_ns && a.local == attr_local)
        {
            return Err(XmlError::DuplicateAttribute {
                attribute: attr_local,
                position,
            });
        }
        attrs.push(Attribute {
            ns: attr_ns,
            local: attr_local,
            qname: attr_qname,
            value,
        });
    }
    Ok(Element {
        ns,
        local,
        qname,
        attrs,
        children: Vec::new(),
        span: position..offset(after),
        content_start: offset(after),
        decls,
        inherited,
    })
}

/// Builds the element tree.
struct TreeBuilder {
    stack: Vec<Element>,
    root: Option<Element>,
}

impl Sink for TreeBuilder {
    fn start(&mut self, element: Element) {
        self.stack.push(element);
    }

    fn end(&mut self, end: usize) {
        if let Some(mut element) = self.stack.pop() {
            element.span.end = end;
            match self.stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(element)),
                None => self.root = Some(element),
            }
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(parent) = self.stack.last_mut() {
            if let Some(Node::Text(previous)) = parent.children.last_mut() {
                previous.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
        }
    }

    fn comment(&mut self) {
        if let Some(parent) = self.stack.last_mut() {
            parent.children.push(Node::Comment);
        }
    }

    fn processing_instruction(&mut self) {
        if let Some(parent) = self.stack.last_mut() {
            parent.children.push(Node::ProcessingInstruction);
        }
    }
}

/// Checks `xml` like [`check_untrusted`](super::check_untrusted) and returns its root element.
pub(crate) fn parse(xml: &str, max_len: usize) -> Result<Element, XmlError> {
    let mut builder = TreeBuilder {
        stack: Vec::new(),
        root: None,
    };
    walk(xml, max_len, &mut builder)?;
    builder.root.ok_or(XmlError::NoRootElement)
}

impl Element {
    /// True when this element has the given namespace and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    /// A readable name for errors: the name as written.
    pub fn name(&self) -> String {
        self.qname.clone()
    }

    /// Fails unless this element is `{ns}local`.
    pub fn require_name(&self, ns: &str, local: &'static str) -> Result<(), SchemaError> {
        if self.is(ns, local) {
            Ok(())
        } else {
            Err(SchemaError::UnexpectedRoot {
                expected: local,
                found_ns: self.ns.clone().unwrap_or_default(),
                found: self.local.clone(),
            })
        }
    }

    /// The value of an attribute without namespace.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of a namespaced attribute.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of a required attribute without namespace.
    pub fn required_attr(&self, local: &'static str) -> Result<&str, SchemaError> {
        self.attr(local)
            .ok_or_else(|| SchemaError::MissingAttribute {
                element: self.name(),
                attribute: local,
            })
    }

    /// An optional `xs:boolean` attribute (`true`, `false`, `1`, `0`).
    pub fn bool_attr(&self, local: &'static str) -> Result<Option<bool>, SchemaError> {
        match self.attr(local).map(str::trim) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(SchemaError::InvalidValue {
                element: self.name(),
                field: local,
                value: other.to_owned(),
                reason: "not an xs:boolean".to_owned(),
            }),
        }
    }

    /// An optional `xs:unsignedShort` attribute.
    pub fn u16_attr(&self, local: &'static str) -> Result<Option<u16>, SchemaError> {
        self.attr(local)
            .map(|v| {
                v.trim()
                    .parse::<u16>()
                    .map_err(|e| SchemaError::InvalidValue {
                        element: self.name(),
                        field: local,
                        value: v.to_owned(),
                        reason: e.to_string(),
                    })
            })
            .transpose()
    }

    /// An optional `xs:dateTime` attribute.
    pub fn time_attr(
        &self,
        local: &'static str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, SchemaError> {
        self.attr(local)
            .map(|v| {
                crate::time::parse(v).map_err(|e| SchemaError::InvalidValue {
                    element: self.name(),
                    field: local,
                    value: v.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// A required `xs:dateTime` attribute.
    pub fn required_time_attr(
        &self,
        local: &'static str,
    ) -> Result<chrono::DateTime<chrono::Utc>, SchemaError> {
        self.time_attr(local)?
            .ok_or_else(|| SchemaError::MissingAttribute {
                element: self.name(),
                attribute: local,
            })
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Child elements `{ns}local`.
    pub fn children_named<'a, 's>(
        &'a self,
        ns: &'s str,
        local: &'s str,
    ) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The child `{ns}local` if present; an error if there are several.
    pub fn optional_child(
        &self,
        ns: &str,
        local: &'static str,
    ) -> Result<Option<&Element>, SchemaError> {
        let mut found = self.children_named(ns, local);
        let first = found.next();
        if found.next().is_some() {
            return Err(SchemaError::DuplicateElement {
                parent: self.name(),
                element: local,
            });
        }
        Ok(first)
    }

    /// The single child `{ns}local`; an error if it is missing or repeated.
    pub fn required_child(&self, ns: &str, local: &'static str) -> Result<&Element, SchemaError> {
        self.optional_child(ns, local)?
            .ok_or_else(|| SchemaError::MissingElement {
                parent: self.name(),
                element: local,
            })
    }

    /// The text of this element: the concatenation of its text nodes. Refuses
    /// comments, processing instructions and child elements.
    pub fn text(&self) -> Result<String, SchemaError> {
        let mut text = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) => text.push_str(t),
                Node::Comment => return Err(self.non_text("comment")),
                Node::ProcessingInstruction => {
                    return Err(self.non_text("processing instruction"));
                }
                Node::Element(_) => return Err(self.non_text("child element")),
            }
        }
        Ok(text)
    }

    /// [`Element::text`] without leading and trailing whitespace (for URIs,
    /// identifiers and base64 values, whose schema types collapse whitespace).
    pub fn trimmed_text(&self) -> Result<String, SchemaError> {
        self.text().map(|t| t.trim().to_owned())
    }

    fn non_text(&self, found: &'static str) -> SchemaError {
        SchemaError::NonTextContent {
            element: self.name(),
            found,
        }
    }

    /// The text of the optional child `{ns}local`.
    pub fn optional_child_text(
        &self,
        ns: &str,
        local: &'static str,
    ) -> Result<Option<String>, SchemaError> {
        self.optional_child(ns, local)?
            .map(Element::trimmed_text)
            .transpose()
    }

    /// True when a direct child is a `ds:Signature`.
    pub fn has_signature(&self) -> bool {
        self.children_named(crate::ns::DSIG, "Signature")
            .next()
            .is_some()
    }

    /// Cuts this element out of `source` (the text it was parsed from) as a
    /// standalone document: the original bytes, with the namespace declarations
    /// inherited from ancestors added to the start tag. Canonical forms (and so
    /// signatures) are unchanged.
    pub fn standalone_xml(&self, source: &str) -> Option<String> {
        let name_end = self.span.start + 1 + self.qname.len();
        let mut out = String::with_capacity(self.span.len() + 4096);
        out.push_str(source.get(self.span.start..name_end)?);
        for (prefix, uri) in self.inherited.iter() {
            if uri.is_empty() || self.decls.iter().any(|(p, _)| p == prefix) {
                continue;
            }
            if prefix.is_empty() {
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
            }
            out.push_str(&super::escape_attr(uri));
            out.push('"');
        }
        out.push_str(source.get(name_end..self.span.end)?);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_resolved_not_matched_by_prefix() {
        let xml = r#"<x:a xmlns:x="urn:one" xmlns:y="urn:two"><y:b y:k="v" k="w">t&amp;u</y:b><x:b/></x:a>"#;
        let root = parse(xml, 1000).unwrap();
        assert!(root.is("urn:one", "a"));
        let b: Vec<_> = root.children_named("urn:two", "b").collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].attr("k"), Some("w"));
        assert_eq!(b[0].attr_ns("urn:two", "k"), Some("v"));
        assert_eq!(b[0].text().unwrap(), "t&u");
        assert_eq!(
            root.optional_child("urn:one", "b").unwrap().unwrap().qname,
            "x:b"
        );
    }

    #[test]
    fn text_refuses_comments_and_children() {
        let root = parse(
            "<a><b>x<!---->y</b><c>x<d/></c><e>x<![CDATA[y]]></e></a>",
            1000,
        )
        .unwrap();
        let children: Vec<_> = root.elements().collect();
        assert!(matches!(
            children[0].text(),
            Err(SchemaError::NonTextContent {
                found: "comment",
                ..
            })
        ));
        assert!(matches!(
            children[1].text(),
            Err(SchemaError::NonTextContent {
                found: "child element",
                ..
            })
        ));
        assert_eq!(children[2].text().unwrap(), "xy");
    }

    #[test]
    fn duplicates_are_reported() {
        let root = parse(r#"<a xmlns="urn:x"><b/><b/></a>"#, 1000).unwrap();
        assert!(matches!(
            root.optional_child("urn:x", "b"),
            Err(SchemaError::DuplicateElement { .. })
        ));
    }

    #[test]
    fn standalone_extraction_carries_inherited_namespaces() {
        let xml = r#"<r:root xmlns:r="urn:r" xmlns="urn:d" xmlns:s="urn:s"><r:mid><s:leaf a="1"><inner/></s:leaf></r:mid></r:root>"#;
        let root = parse(xml, 1000).unwrap();
        let mid = root.elements().next().unwrap();
        let leaf = mid.elements().next().unwrap();
        let alone = leaf.standalone_xml(xml).unwrap();
        let reparsed = parse(&alone, 1000).unwrap();
        assert!(reparsed.is("urn:s", "leaf"));
        assert!(reparsed.elements().next().unwrap().is("urn:d", "inner"));
        assert!(alone.ends_with(r#"<inner/></s:leaf>"#));
    }

    #[test]
    fn attribute_values_are_normalised() {
        let root = parse("<a b=\"x\ny&#10;z\"/>", 1000).unwrap();
        assert_eq!(root.attr("b"), Some("x y\nz"));
    }
}
