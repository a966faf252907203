//! Text surgery on serialized SAML messages, the way an attacker edits a
//! captured message (SAML Raider style): find an element by its qualified
//! name, cut it out, move it, rewrite one attribute or one text value. The
//! documents are the ones the simulated IdP writes, with fixed prefixes
//! (`samlp`, `saml`, `ds`, `xenc`).
#![cfg(test)]

use std::ops::Range;

/// Byte range of the `nth` (0-based, document order) element named `qname`,
/// from `<qname` to the end of its matching end tag (or of the empty-element
/// tag), nested elements of the same name included.
pub fn nth_element_range(xml: &str, qname: &str, nth: usize) -> Range<usize> {
    let open = format!("<{qname}");
    let close = format!("</{qname}>");
    let starts: Vec<usize> = xml
        .match_indices(&open)
        .map(|(at, _)| at)
        .filter(|&at| {
            matches!(
                xml.as_bytes().get(at + open.len()),
                Some(b' ' | b'>' | b'/' | b'\n' | b'\t')
            )
        })
        .collect();
    let start = *starts
        .get(nth)
        .unwrap_or_else(|| panic!("no element {qname} number {nth} in {xml}"));
    let tag_end = start + xml[start..].find('>').expect("unterminated start tag");
    if xml.as_bytes()[tag_end - 1] == b'/' {
        return start..tag_end + 1;
    }
    let mut depth = 1usize;
    let mut cursor = tag_end + 1;
    loop {
        let next_open = starts.iter().copied().find(|&at| at >= cursor);
        let next_close = cursor
            + xml[cursor..]
                .find(&close)
                .unwrap_or_else(|| panic!("no end tag for {qname}"));
        match next_open {
            Some(open_at) if open_at < next_close => {
                let inner_end = open_at + xml[open_at..].find('>').expect("unterminated tag");
                if xml.as_bytes()[inner_end - 1] != b'/' {
                    depth += 1;
                }
                cursor = inner_end + 1;
            }
            _ => {
                depth -= 1;
                cursor = next_close + close.len();
                if depth == 0 {
                    return start..cursor;
                }
            }
        }
    }
}

/// The first element named `qname`, as text.
pub fn element<'a>(xml: &'a str, qname: &str) -> &'a str {
    &xml[nth_element_range(xml, qname, 0)]
}

/// `xml` with the first element named `qname` replaced by `with`.
pub fn replace_element(xml: &str, qname: &str, with: &str) -> String {
    let range = nth_element_range(xml, qname, 0);
    format!("{}{with}{}", &xml[..range.start], &xml[range.end..])
}

/// `xml` without its first element named `qname`.
pub fn remove_element(xml: &str, qname: &str) -> String {
    replace_element(xml, qname, "")
}

/// `xml` with `insert` placed just before the first `<qname` start tag.
pub fn insert_before(xml: &str, qname: &str, insert: &str) -> String {
    let at = nth_element_range(xml, qname, 0).start;
    format!("{}{insert}{}", &xml[..at], &xml[at..])
}

/// `xml` with `insert` placed as the last child of the first element named
/// `qname` (just before its end tag).
pub fn append_child(xml: &str, qname: &str, insert: &str) -> String {
    let range = nth_element_range(xml, qname, 0);
    let end_tag = format!("</{qname}>");
    let at = range.end - end_tag.len();
    assert_eq!(&xml[at..range.end], end_tag, "{qname} is an empty element");
    format!("{}{insert}{}", &xml[..at], &xml[at..])
}

/// `xml` with the value of attribute `name` on the first `<qname` start tag
/// replaced by `value`.
pub fn set_attr(xml: &str, qname: &str, name: &str, value: &str) -> String {
    let start = nth_element_range(xml, qname, 0).start;
    let tag_end = start + xml[start..].find('>').expect("unterminated start tag");
    let needle = format!(" {name}=\"");
    let attr_at = start
        + xml[start..tag_end]
            .find(&needle)
            .unwrap_or_else(|| panic!("{qname} has no attribute {name}"));
    let value_start = attr_at + needle.len();
    let value_end = value_start + xml[value_start..].find('"').expect("unterminated value");
    format!("{}{value}{}", &xml[..value_start], &xml[value_end..])
}

/// `xml` without attribute `name` on the first `<qname` start tag.
pub fn remove_attr(xml: &str, qname: &str, name: &str) -> String {
    let start = nth_element_range(xml, qname, 0).start;
    let tag_end = start + xml[start..].find('>').expect("unterminated start tag");
    let needle = format!(" {name}=\"");
    let attr_at = start
        + xml[start..tag_end]
            .find(&needle)
            .unwrap_or_else(|| panic!("{qname} has no attribute {name}"));
    let value_start = attr_at + needle.len();
    let value_end = value_start + xml[value_start..].find('"').expect("unterminated value");
    format!("{}{}", &xml[..attr_at], &xml[value_end + 1..])
}

/// `xml` with the text `from` replaced by `to`, which must occur exactly once.
pub fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "{from:?} must occur exactly once in {xml}"
    );
    xml.replacen(from, to, 1)
}
