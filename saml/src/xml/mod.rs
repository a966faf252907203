//! Hardened handling of untrusted XML (XML 1.0, Namespaces in XML 1.0), applied
//! to every document before anything else reads it: no DOCTYPE (hence no entity
//! declarations, no entity expansion, no external entities), a size limit, a
//! nesting limit, UTF-8 only, well-formed, every prefix declared. Also the
//! escaping used by every builder of this crate.

pub(crate) mod c14n;
pub(crate) mod tree;

pub use c14n::C14nError;
pub use tree::SchemaError;

use thiserror::Error;

/// Deepest element nesting accepted (SAML messages and metadata stay far below).
pub const MAX_DEPTH: usize = 64;
/// Default size limit for protocol messages read by this crate's parsers.
pub const MAX_MESSAGE_LEN: usize = 1024 * 1024;
/// Default size limit for metadata documents (federation aggregates are large).
pub const MAX_METADATA_LEN: usize = 64 * 1024 * 1024;

/// Why a document was refused before being parsed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum XmlError {
    /// The document is larger than allowed.
    #[error("XML document of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the document.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document has a DOCTYPE declaration.
    #[error("XML document has a DOCTYPE declaration (refused: entities, XXE)")]
    Doctype,
    /// The XML declaration names an encoding other than UTF-8.
    #[error("XML declaration names encoding {encoding:?}, only UTF-8 is accepted")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// The XML declaration names a version other than 1.0.
    #[error("XML declaration names version {version:?}, only 1.0 is accepted")]
    UnsupportedVersion {
        /// The declared version.
        version: String,
    },
    /// Elements are nested deeper than [`MAX_DEPTH`].
    #[error("XML elements nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A prefix is used without being declared.
    #[error("XML prefix {prefix:?} is not declared (at byte {position})")]
    UndeclaredPrefix {
        /// The prefix.
        prefix: String,
        /// Byte offset of the element.
        position: usize,
    },
    /// An element carries the same attribute twice (after namespace resolution).
    #[error("XML attribute {attribute:?} is repeated on one element (at byte {position})")]
    DuplicateAttribute {
        /// The attribute.
        attribute: String,
        /// Byte offset of the element.
        position: usize,
    },
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("XML entity reference {reference:?} is not allowed (at byte {position})")]
    EntityReference {
        /// The reference as written.
        reference: String,
        /// Byte offset of the reference.
        position: usize,
    },
    /// The document has no root element.
    #[error("XML document has no root element")]
    NoRootElement,
    /// The document has content after its root element.
    #[error("XML document has content after its root element (at byte {position})")]
    ContentAfterRoot {
        /// Byte offset of the content.
        position: usize,
    },
    /// The document is not well-formed.
    #[error("XML document is not well-formed at byte {position}: {reason}")]
    Malformed {
        /// Byte offset where the parser stopped.
        position: usize,
        /// What the parser reported.
        reason: String,
    },
}

/// Refuses anything with a DOCTYPE (hence no entity expansion, no XXE) and
/// anything over `max_len` bytes; must be called before any parsing of input.
///
/// Also refuses: nesting deeper than [`MAX_DEPTH`], a declared encoding other
/// than UTF-8, undeclared prefixes, repeated attributes, unknown entity
/// references, content outside the root element, and any other
/// well-formedness error.
pub fn check_untrusted(xml: &str, max_len: usize) -> Result<(), XmlError> {
    tree::walk(xml, max_len, &mut tree::NullSink)
}

/// Escapes text content: `&`, `<`, `>` and carriage return become references;
/// characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Escapes an attribute value written between double quotes: `&`, `<`, `>`,
/// `"`, `'` and the whitespace characters that attribute normalisation would
/// otherwise turn into spaces become references; forbidden characters become U+FFFD.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><a xmlns="urn:x"><b c="1 &amp; 2">t &lt; u &#233;</b></a>"#;

    #[test]
    fn a_plain_document_passes() {
        assert_eq!(check_untrusted(PLAIN, 10_000), Ok(()));
    }

    #[test]
    fn doctype_is_refused() {
        let xml = r#"<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>"#;
        assert_eq!(check_untrusted(xml, 10_000), Err(XmlError::Doctype));
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>"#;
        assert_eq!(check_untrusted(xxe, 10_000), Err(XmlError::Doctype));
    }

    #[test]
    fn undeclared_entities_are_refused() {
        assert!(check_untrusted("<a>&amp;</a>", 100).is_ok());
        let err = check_untrusted("<a>&xxe;</a>", 100).unwrap_err();
        assert!(matches!(err, XmlError::EntityReference { .. }), "{err:?}");
        let err = check_untrusted(r#"<a b="&xxe;"/>"#, 100).unwrap_err();
        assert!(matches!(err, XmlError::EntityReference { .. }), "{err:?}");
    }

    #[test]
    fn size_limit_is_enforced() {
        assert!(check_untrusted(PLAIN, PLAIN.len()).is_ok());
        assert_eq!(
            check_untrusted(PLAIN, PLAIN.len() - 1),
            Err(XmlError::TooLarge {
                len: PLAIN.len(),
                max: PLAIN.len() - 1
            })
        );
    }

    #[test]
    fn depth_limit_is_enforced() {
        let nest = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(check_untrusted(&nest(MAX_DEPTH), 100_000).is_ok());
        assert_eq!(
            check_untrusted(&nest(MAX_DEPTH + 1), 100_000),
            Err(XmlError::TooDeep { max: MAX_DEPTH })
        );
    }

    #[test]
    fn other_encodings_are_refused() {
        assert!(check_untrusted(r#"<?xml version="1.0" encoding="utf-8"?><a/>"#, 100).is_ok());
        let err =
            check_untrusted(r#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#, 100).unwrap_err();
        assert!(matches!(err, XmlError::UnsupportedEncoding { .. }));
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert_eq!(check_untrusted("", 100), Err(XmlError::NoRootElement));
        assert!(matches!(
            check_untrusted("<a></b>", 100),
            Err(XmlError::Malformed { .. })
        ));
        assert!(check_untrusted("<a>", 100).is_err());
        assert!(matches!(
            check_untrusted("<a/><b/>", 100),
            Err(XmlError::ContentAfterRoot { .. })
        ));
        assert!(matches!(
            check_untrusted("<p:a/>", 100),
            Err(XmlError::UndeclaredPrefix { .. })
        ));
        assert!(matches!(
            check_untrusted(
                r#"<a xmlns:x="urn:1" xmlns:y="urn:1" x:b="1" y:b="2"/>"#,
                100
            ),
            Err(XmlError::DuplicateAttribute { .. })
        ));
        assert!(check_untrusted(r#"<a b="1" b="2"/>"#, 100).is_err());
    }

    #[test]
    fn escaping_covers_markup_and_forbidden_characters() {
        assert_eq!(escape_text("a<b>&c\r"), "a&lt;b&gt;&amp;c&#13;");
        assert_eq!(escape_attr("\"'\n"), "&quot;&apos;&#10;");
        assert_eq!(escape_text("x\u{0}y"), "x\u{FFFD}y");
        let doc = format!(
            r#"<a b="{}">{}</a>"#,
            escape_attr("<\"&'>"),
            escape_text("<&>")
        );
        assert!(check_untrusted(&doc, 100).is_ok());
    }
}
