//! Character encodings of AAF exports (domain reference §3: ISO-8859-15 or
//! UTF-8). The encoding is read from the XML declaration (XML 1.0 §4.3.3);
//! ISO-8859-15 and ISO-8859-1 bytes are transcoded to UTF-8 while streaming,
//! so the XML parser only ever sees UTF-8 and memory stays flat. A UTF-8 file
//! that is not valid UTF-8 (typically a Latin-9 file declared UTF-8) fails in
//! the parser with the line where it happens.

use std::io::{self, BufRead, Read};

/// An encoding an export may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (also the default when the declaration names none).
    Utf8,
    /// ISO-8859-15 (Latin-9: Latin-1 with €, Š, š, Ž, ž, Œ, œ, Ÿ).
    Latin9,
    /// ISO-8859-1 (Latin-1).
    Latin1,
}

impl Encoding {
    /// The encoding named in an XML declaration, case-insensitively.
    pub fn from_label(label: &str) -> Option<Self> {
        match label.to_ascii_uppercase().as_str() {
            "UTF-8" | "UTF8" => Some(Self::Utf8),
            "ISO-8859-15" | "ISO8859-15" | "ISO_8859-15" | "LATIN-9" | "LATIN9" => {
                Some(Self::Latin9)
            }
            "ISO-8859-1" | "ISO8859-1" | "ISO_8859-1" | "LATIN1" | "LATIN-1" => Some(Self::Latin1),
            _ => None,
        }
    }
}

/// What the XML declaration at the start of `head` says about the encoding:
/// `Ok(None)` without declaration or without `encoding`, `Err(label)` for a
/// label this importer does not know.
pub(crate) fn declared(head: &[u8]) -> Result<Option<Encoding>, String> {
    let Some(rest) = head.strip_prefix(b"<?xml") else {
        return Ok(None);
    };
    let end = rest
        .windows(2)
        .position(|w| w == b"?>")
        .unwrap_or(rest.len());
    let declaration = String::from_utf8_lossy(rest.get(..end).unwrap_or_default());
    let Some(at) = declaration.find("encoding") else {
        return Ok(None);
    };
    let after = declaration.get(at + "encoding".len()..).unwrap_or_default();
    let after = after
        .trim_start()
        .strip_prefix('=')
        .unwrap_or(after)
        .trim_start();
    let mut chars = after.chars();
    let label: String = match chars.next() {
        Some(quote @ ('"' | '\'')) => chars.take_while(|c| *c != quote).collect(),
        _ => return Err(after.chars().take(20).collect()),
    };
    Encoding::from_label(&label).map(Some).ok_or(label)
}

/// Turns ISO-8859-15 or ISO-8859-1 bytes into UTF-8 while reading.
pub(crate) struct ToUtf8<R> {
    inner: R,
    latin9: bool,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> ToUtf8<R> {
    pub(crate) fn new(inner: R, encoding: Encoding) -> Self {
        Self {
            inner,
            latin9: encoding == Encoding::Latin9,
            out: Vec::with_capacity(16 * 1024),
            pos: 0,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        let chunk = self.inner.fill_buf()?;
        let used = chunk.len();
        for &byte in chunk {
            let c = if self.latin9 {
                latin9_char(byte)
            } else {
                char::from(byte)
            };
            let mut utf8 = [0u8; 4];
            self.out
                .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        self.inner.consume(used);
        Ok(())
    }
}

/// The eight code points where ISO-8859-15 differs from ISO-8859-1.
fn latin9_char(byte: u8) -> char {
    match byte {
        0xA4 => '€',
        0xA6 => 'Š',
        0xA8 => 'š',
        0xB4 => 'Ž',
        0xB8 => 'ž',
        0xBC => 'Œ',
        0xBD => 'œ',
        0xBE => 'Ÿ',
        other => char::from(other),
    }
}

impl<R: BufRead> Read for ToUtf8<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(available.get(..n).unwrap_or_default());
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for ToUtf8<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.refill()?;
        }
        Ok(self.out.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_is_read() {
        assert_eq!(
            declared(b"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><a/>"),
            Ok(Some(Encoding::Latin9))
        );
        assert_eq!(
            declared(b"<?xml version='1.0' encoding = 'utf-8' ?>"),
            Ok(Some(Encoding::Utf8))
        );
        assert_eq!(declared(b"<?xml version=\"1.0\"?><a/>"), Ok(None));
        assert_eq!(declared(b"<a/>"), Ok(None));
        assert_eq!(
            declared(b"<?xml version=\"1.0\" encoding=\"EBCDIC\"?>"),
            Err("EBCDIC".to_owned())
        );
    }

    #[test]
    fn latin9_bytes_become_utf8() {
        let bytes: &[u8] = b"c\x9cur \xbduvre \xa4 \xe9t\xe9";
        let mut text = String::new();
        ToUtf8::new(bytes, Encoding::Latin9)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "c\u{9c}ur œuvre € été");
        let mut latin1 = String::new();
        ToUtf8::new(&b"\xbd \xa4"[..], Encoding::Latin1)
            .read_to_string(&mut latin1)
            .unwrap();
        assert_eq!(latin1, "½ ¤");
    }
}
