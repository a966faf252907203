//! Writing the `ficAlimMENESR` XML documents of the AAF (domain reference §3;
//! brief "The file format"): the prolog and header comments, one
//! `addRequest`/`modifyRequest`/`deleteRequest` per record, values escaped,
//! bytes in UTF-8 or ISO-8859-15 as the declaration says.
//!
//! A record is formatted into a reused buffer, encoded and written at once, so
//! a document of any size is written with flat memory.

use std::io::Write;

use super::{AafSpec, Category, Encoding, GenError};

/// What a record asks of the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `addRequest`: the complete entry.
    Add,
    /// `modifyRequest`: attributes replaced.
    Modify,
    /// `deleteRequest`.
    Delete,
}

/// An attribute and its values (none, or empty strings, are written `<value/>`).
pub(crate) type Attr = (&'static str, Vec<String>);

/// One record of a category file.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Add, modify or delete.
    pub op: Operation,
    /// Its category (the operational attribute).
    pub category: Category,
    /// `identifier/id`.
    pub id: String,
    /// Attributes (add) or replaced attributes (modify); empty for a delete.
    pub attributes: Vec<Attr>,
}

/// Encodes `text` in ISO-8859-15, appending to `out`; the error is the first
/// character that has no code there.
pub(crate) fn encode_iso_8859_15(text: &str, out: &mut Vec<u8>) -> Result<(), char> {
    for ch in text.chars() {
        let byte = match ch {
            '€' => 0xA4,
            'Š' => 0xA6,
            'š' => 0xA8,
            'Ž' => 0xB4,
            'ž' => 0xB8,
            'Œ' => 0xBC,
            'œ' => 0xBD,
            'Ÿ' => 0xBE,
            // The ISO-8859-1 characters whose codes ISO-8859-15 reassigned.
            '\u{A4}' | '\u{A6}' | '\u{A8}' | '\u{B4}' | '\u{B8}' | '\u{BC}' | '\u{BD}'
            | '\u{BE}' => return Err(ch),
            _ => u8::try_from(u32::from(ch)).map_err(|_| ch)?,
        };
        out.push(byte);
    }
    Ok(())
}

/// Appends `text` with `&`, `<`, `>` and `"` escaped.
fn escape_into(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
}

/// Writes one document: prolog on creation, records, closing tag on `finish`.
pub(crate) struct DocWriter<W: Write> {
    out: W,
    encoding: Encoding,
    target: String,
    text: String,
    bytes: Vec<u8>,
    lines: u64,
    records: u64,
}

impl<W: Write> DocWriter<W> {
    /// Starts a document for `spec` on `out`; `target` names it in errors.
    pub(crate) fn start(spec: &AafSpec, out: W, target: String) -> Result<Self, GenError> {
        let mut writer = Self {
            out,
            encoding: spec.encoding,
            target,
            text: String::with_capacity(4096),
            bytes: Vec::with_capacity(4096),
            lines: 0,
            records: 0,
        };
        let degree = match spec.degree {
            crate::people::Degree::First => "1",
            crate::people::Degree::Second => "2",
        };
        writer.text.push_str("<?xml version=\"1.0\" encoding=\"");
        writer.text.push_str(spec.encoding.declaration());
        writer
            .text
            .push_str("\"?>\n<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\n");
        writer
            .text
            .push_str("<!-- versionAF : 4.2 -->\n<!-- versionSDET : 6.6 -->\n");
        writer.text.push_str("<!-- codeAcademieExport : ");
        writer.text.push_str(&spec.academie);
        writer.text.push_str(" -->\n<!-- degre : ");
        writer.text.push_str(degree);
        writer.text.push_str(" -->\n<ficAlimMENESR>\n");
        writer.flush_text("the header")?;
        Ok(writer)
    }

    /// Writes one record.
    pub(crate) fn record(&mut self, record: &Record) -> Result<(), GenError> {
        let element = match record.op {
            Operation::Add => "addRequest",
            Operation::Modify => "modifyRequest",
            Operation::Delete => "deleteRequest",
        };
        let t = &mut self.text;
        t.push_str("  <");
        t.push_str(element);
        t.push_str(">\n    <operationalAttributes><attr name=\"");
        t.push_str(super::operational_attribute(record.category));
        t.push_str("\"><value>");
        t.push_str(record.category.as_str());
        t.push_str("</value></attr></operationalAttributes>\n    <identifier><id>");
        escape_into(&record.id, t);
        t.push_str("</id></identifier>\n");
        match record.op {
            Operation::Add => {
                t.push_str("    <attributes>\n");
                for (name, values) in &record.attributes {
                    t.push_str("      <attr name=\"");
                    t.push_str(name);
                    t.push_str("\">");
                    push_values(values, t);
                    t.push_str("</attr>\n");
                }
                t.push_str("    </attributes>\n");
            }
            Operation::Modify => {
                t.push_str("    <modifications>\n");
                for (name, values) in &record.attributes {
                    t.push_str("      <modification name=\"");
                    t.push_str(name);
                    t.push_str("\" operation=\"replace\">");
                    push_values(values, t);
                    t.push_str("</modification>\n");
                }
                t.push_str("    </modifications>\n");
            }
            Operation::Delete => {}
        }
        t.push_str("  </");
        t.push_str(element);
        t.push_str(">\n");
        self.records += 1;
        self.flush_text(&record.id)
    }

    /// Records written so far.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Closes the document; returns the output and its number of lines.
    pub(crate) fn finish(mut self) -> Result<(W, u64), GenError> {
        self.text.push_str("</ficAlimMENESR>\n");
        self.flush_text("the closing tag")?;
        self.out.flush().map_err(|source| GenError::Io {
            target: self.target.clone(),
            source,
        })?;
        Ok((self.out, self.lines))
    }

    /// Encodes and writes the buffered text.
    fn flush_text(&mut self, what: &str) -> Result<(), GenError> {
        self.lines += self.text.bytes().filter(|b| *b == b'\n').count() as u64;
        let result = match self.encoding {
            Encoding::Utf8 => self.out.write_all(self.text.as_bytes()),
            Encoding::Iso8859_15 => {
                self.bytes.clear();
                encode_iso_8859_15(&self.text, &mut self.bytes).map_err(|ch| {
                    GenError::Unencodable {
                        ch,
                        record: what.to_owned(),
                        target: self.target.clone(),
                    }
                })?;
                self.out.write_all(&self.bytes)
            }
        };
        self.text.clear();
        result.map_err(|source| GenError::Io {
            target: self.target.clone(),
            source,
        })
    }
}

/// `<value>a</value><value>b</value>`, or `<value/>` for nothing or an empty value.
fn push_values(values: &[String], out: &mut String) {
    if values.is_empty() {
        out.push_str("<value/>");
    }
    for value in values {
        if value.is_empty() {
            out.push_str("<value/>");
        } else {
            out.push_str("<value>");
            escape_into(value, out);
            out.push_str("</value>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_8859_15_has_its_own_eight_characters_and_refuses_the_ones_it_dropped() {
        let mut out = Vec::new();
        encode_iso_8859_15("aé€ŠšŽžŒœŸÿ", &mut out).unwrap();
        assert_eq!(
            out,
            [
                b'a', 0xE9, 0xA4, 0xA6, 0xA8, 0xB4, 0xB8, 0xBC, 0xBD, 0xBE, 0xFF
            ]
        );
        for ch in ['¤', '¦', '¨', '´', '¸', '¼', '½', '¾', 'ł', '’'] {
            assert_eq!(encode_iso_8859_15(&format!("x{ch}"), &mut out), Err(ch));
        }
    }

    #[test]
    fn values_are_escaped_and_empty_ones_are_self_closing() {
        let mut out = String::new();
        push_values(
            &["Enfance & Familles <\"35\">".to_owned(), String::new()],
            &mut out,
        );
        assert_eq!(
            out,
            "<value>Enfance &amp; Familles &lt;&quot;35&quot;&gt;</value><value/>"
        );
        out.clear();
        push_values(&[], &mut out);
        assert_eq!(out, "<value/>");
    }
}
