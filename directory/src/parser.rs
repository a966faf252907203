//! Streaming reader of one AAF export file (domain reference §3, DTD
//! `ficAlimMENESR.dtd`): root `ficAlimMENESR` holding `addRequest`,
//! `modifyRequest` (`modification/@operation = replace`) and `deleteRequest`,
//! each with `operationalAttributes` (`categoriePersonne`,
//! `categorieStructure`, `categorieMatiere`, `categorieMef`),
//! `identifier/id`, and multi-valued `attr/value` or `modification/value`.
//!
//! One record is held in memory at a time, whatever the file size. The
//! DOCTYPE is accepted only without an internal subset: its external DTD is
//! never fetched, no entity is ever declared or expanded (only the five
//! predefined ones and character references are read). Header comments
//! (`versionAF`, `versionSDET`, `codeAcademieExport`, `degre`) are read
//! before the root element. Every error carries the line where it happened;
//! after an error the reader yields nothing more (the file is refused).

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use thiserror::Error;

use crate::encoding::{self, Encoding, ToUtf8};

/// Longest value accepted (a value is one field of one record).
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Most values per record, over all its attributes.
pub const MAX_VALUES_PER_RECORD: usize = 20_000;
/// Deepest nesting of the format (`ficAlimMENESR/addRequest/attributes/attr/value`).
const MAX_DEPTH: usize = 5;

/// The kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `addRequest`: a new entry (or a complete replacement in a complete export).
    Add,
    /// `modifyRequest`: attributes replaced.
    Modify,
    /// `deleteRequest`: the entry removed.
    Delete,
}

/// One attribute of a record (or one `replace` modification), its values in
/// file order; empty `<value/>` elements are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Its name (`sn`, `ENTEleveClasses`, ...).
    pub name: String,
    /// Its values.
    pub values: Vec<String>,
}

/// One request of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Add, modify or delete.
    pub operation: Operation,
    /// The value of its operational attribute (`Eleve`, `EtabEducNat`, ...), empty if absent.
    pub category: String,
    /// `identifier/id`, empty if absent.
    pub id: String,
    /// `attributes/attr` (add) or `modifications/modification` (modify).
    pub attributes: Vec<Attribute>,
    /// Line of its start tag.
    pub line: u64,
}

impl Record {
    /// The values of attribute `name` (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map_or(&[], |a| a.values.as_slice())
    }

    /// The first value of attribute `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }
}

/// What the comments before the root element say about the export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// `versionAF`.
    pub version_af: Option<String>,
    /// `versionSDET`.
    pub version_sdet: Option<String>,
    /// `codeAcademieExport`.
    pub academie: Option<String>,
    /// `degre` (`1` or `2`).
    pub degree: Option<String>,
}

/// Why a file was refused, with the line where the reader stopped.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {problem}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong in a file.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Problem {
    /// The file could not be read.
    #[error("read error: {0}")]
    Io(String),
    /// The XML declaration names an encoding this importer does not know.
    #[error("unsupported encoding {0:?} (ISO-8859-15, ISO-8859-1 and UTF-8 are accepted)")]
    UnsupportedEncoding(String),
    /// Bytes that are not valid in the declared encoding.
    #[error("text is not valid {0}: wrong encoding declaration?")]
    InvalidText(&'static str),
    /// The DOCTYPE has an internal subset (entity declarations).
    #[error("DOCTYPE with an internal subset (entity declarations are refused)")]
    InternalSubset,
    /// An entity reference other than the predefined ones.
    #[error(
        "entity reference &{0}; is not allowed (only &amp; &lt; &gt; &quot; &apos; and character references)"
    )]
    Entity(String),
    /// The XML is not well-formed.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The file ends before the root element is closed (truncated file).
    #[error("unexpected end of file: the file is truncated")]
    Truncated,
    /// The root element is not `ficAlimMENESR`.
    #[error("root element is <{0}>, expected <ficAlimMENESR>")]
    Root(String),
    /// An element that has no place where it is.
    #[error("unexpected element <{element}> inside <{parent}>")]
    UnexpectedElement {
        /// The element found.
        element: String,
        /// Its parent.
        parent: String,
    },
    /// An element without a required attribute.
    #[error("<{element}> has no {attribute} attribute")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// A modification other than `replace`.
    #[error("modification operation {0:?} is not supported (only replace)")]
    Modification(String),
    /// Text where only elements may appear.
    #[error("unexpected text inside <{0}>")]
    UnexpectedText(String),
    /// A value longer than [`MAX_VALUE_LEN`].
    #[error("a value is longer than {MAX_VALUE_LEN} bytes")]
    ValueTooLong,
    /// A record with more than [`MAX_VALUES_PER_RECORD`] values.
    #[error("a record has more than {MAX_VALUES_PER_RECORD} values")]
    TooManyValues,
    /// Elements nested deeper than the format allows.
    #[error("elements nested deeper than the format allows")]
    TooDeep,
    /// A processing instruction inside the document.
    #[error("processing instruction inside the document")]
    ProcessingInstruction,
}

/// Where the reader is inside a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Operational,
    Identifier,
    Attributes,
    Modifications,
}

/// Streaming reader: an iterator of records.
pub struct AafReader<R: BufRead> {
    reader: Reader<Source<R>>,
    buf: Vec<u8>,
    line: u64,
    header: Header,
    encoding: Encoding,
    done: bool,
    /// Inside `value` or `id`: whitespace is content.
    in_value: bool,
}

/// The byte source, transcoded to UTF-8 when needed.
enum Source<R: BufRead> {
    Utf8(R),
    Transcoded(ToUtf8<R>),
}

impl<R: BufRead> std::io::Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Utf8(r) => r.read(out),
            Self::Transcoded(r) => r.read(out),
        }
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Self::Utf8(r) => r.fill_buf(),
            Self::Transcoded(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match self {
            Self::Utf8(r) => r.consume(amount),
            Self::Transcoded(r) => r.consume(amount),
        }
    }
}

fn at(line: u64, problem: Problem) -> ParseError {
    ParseError { line, problem }
}

/// One event of the file, owned, with its text already decoded.
enum Token {
    /// A start tag (`empty` for `<x/>`), with the `name` and `operation`
    /// attributes the format uses.
    Start {
        local: Cow<'static, str>,
        name: Option<String>,
        operation: Option<String>,
        empty: bool,
    },
    End,
    Text(String),
    /// Whitespace between elements (not kept).
    Blank,
    /// A character or entity reference, resolved.
    Reference(String),
    Comment(String),
    Doctype {
        internal_subset: bool,
    },
    Declaration,
    ProcessingInstruction,
    Eof,
}

impl Token {
    fn is_blank(&self) -> bool {
        match self {
            Self::Text(text) => text.chars().all(|c| c.is_ascii_whitespace()),
            Self::Comment(_) | Self::Blank => true,
            _ => false,
        }
    }
}

/// The element names of the format, matched without allocating.
const ELEMENTS: [&str; 12] = [
    "ficAlimMENESR",
    "addRequest",
    "modifyRequest",
    "deleteRequest",
    "operationalAttributes",
    "identifier",
    "id",
    "attributes",
    "attr",
    "modifications",
    "modification",
    "value",
];

fn start_token(start: &BytesStart<'_>, empty: bool) -> Token {
    let raw = start.local_name();
    let local: Cow<'static, str> = match ELEMENTS.iter().find(|e| e.as_bytes() == raw.as_ref()) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(String::from_utf8_lossy(raw.as_ref()).into_owned()),
    };
    let (name, operation) = match &*local {
        "attr" => (attribute_value(start, "name"), None),
        "modification" => (
            attribute_value(start, "name"),
            attribute_value(start, "operation"),
        ),
        _ => (None, None),
    };
    Token::Start {
        local,
        name,
        operation,
        empty,
    }
}

/// The unescaped value of attribute `name`, `None` when absent or unreadable.
fn attribute_value(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

/// The element being read inside a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Request,
    Section(Section),
    /// `attr` or `modification`.
    Attr(Section),
    /// `value` (inside an attribute) or `id`.
    Value(Section),
}

impl<R: BufRead> AafReader<R> {
    /// Opens a file: reads the declaration (encoding), the DOCTYPE, the header
    /// comments and the root start tag.
    pub fn new(mut input: R) -> Result<Self, ParseError> {
        let head = input
            .fill_buf()
            .map_err(|e| at(1, Problem::Io(e.to_string())))?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            input.consume(3);
        }
        let head = input
            .fill_buf()
            .map_err(|e| at(1, Problem::Io(e.to_string())))?;
        let encoding = encoding::declared(head)
            .map_err(|label| at(1, Problem::UnsupportedEncoding(label)))?
            .unwrap_or(Encoding::Utf8);
        let source = match encoding {
            Encoding::Utf8 => Source::Utf8(input),
            other => Source::Transcoded(ToUtf8::new(input, other)),
        };
        let mut reader = Reader::from_reader(source);
        reader.config_mut().check_end_names = true;
        let mut this = Self {
            reader,
            buf: Vec::with_capacity(4096),
            line: 1,
            header: Header::default(),
            encoding,
            done: false,
            in_value: false,
        };
        this.read_prolog()?;
        Ok(this)
    }

    /// The header comments.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The declared encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Lines read so far (the whole file once the iterator is exhausted).
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    fn fail(&mut self, problem: Problem) -> ParseError {
        self.done = true;
        at(self.line, problem)
    }

    /// Reads the next event; returns it with the line where it starts.
    fn next_token(&mut self) -> Result<(Token, u64), ParseError> {
        self.buf.clear();
        let line = self.line;
        let token = match self.reader.read_event_into(&mut self.buf) {
            Err(quick_xml::Error::Io(error)) => Err(Problem::Io(error.to_string())),
            Err(quick_xml::Error::Syntax(error)) => Err(Problem::Malformed(error.to_string())),
            Err(quick_xml::Error::IllFormed(error)) => Err(Problem::Malformed(error.to_string())),
            Err(quick_xml::Error::Encoding(_)) => Err(Problem::InvalidText("UTF-8")),
            Err(other) => Err(Problem::Malformed(other.to_string())),
            Ok(Event::Start(start)) => Ok(start_token(&start, false)),
            Ok(Event::Empty(start)) => Ok(start_token(&start, true)),
            Ok(Event::End(_)) => Ok(Token::End),
            Ok(Event::Text(text)) if !self.in_value && text.iter().all(u8::is_ascii_whitespace) => {
                Ok(Token::Blank)
            }
            Ok(Event::Text(text)) => text
                .xml10_content()
                .map(|t| Token::Text(t.into_owned()))
                .map_err(|_| Problem::InvalidText("UTF-8")),
            Ok(Event::CData(text)) => text
                .xml10_content()
                .map(|t| Token::Text(t.into_owned()))
                .map_err(|_| Problem::InvalidText("UTF-8")),
            Ok(Event::GeneralRef(reference)) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                match reference.resolve_char_ref() {
                    Ok(Some(c)) => Ok(Token::Reference(c.to_string())),
                    Ok(None) => resolve_predefined_entity(&name)
                        .map(|s| Token::Reference(s.to_owned()))
                        .ok_or(Problem::Entity(name)),
                    Err(_) => Err(Problem::Entity(name)),
                }
            }
            Ok(Event::Comment(text)) => {
                Ok(Token::Comment(String::from_utf8_lossy(&text).into_owned()))
            }
            Ok(Event::DocType(text)) => Ok(Token::Doctype {
                internal_subset: text.contains(&b'['),
            }),
            Ok(Event::Decl(_)) => Ok(Token::Declaration),
            Ok(Event::PI(_)) => Ok(Token::ProcessingInstruction),
            Ok(Event::Eof) => Ok(Token::Eof),
        };
        self.line += self.buf.iter().filter(|b| **b == b'\n').count() as u64;
        match token {
            Ok(token) => Ok((token, line)),
            Err(problem) => {
                self.done = true;
                Err(at(line, problem))
            }
        }
    }

    fn read_prolog(&mut self) -> Result<(), ParseError> {
        loop {
            let (token, line) = self.next_token()?;
            match token {
                Token::Declaration => {}
                Token::Doctype { internal_subset } => {
                    if internal_subset {
                        return Err(self.fail(Problem::InternalSubset));
                    }
                }
                Token::Comment(text) => self.read_header_comment(&text),
                Token::Start { local, empty, .. } => {
                    if local != "ficAlimMENESR" {
                        return Err(self.fail(Problem::Root(local.into_owned())));
                    }
                    self.done = empty;
                    return Ok(());
                }
                Token::Eof => return Err(self.fail(Problem::Truncated)),
                Token::ProcessingInstruction => {
                    return Err(self.fail(Problem::ProcessingInstruction));
                }
                token if token.is_blank() => {}
                _ => {
                    self.done = true;
                    return Err(at(
                        line,
                        Problem::Malformed("content before the root element".to_owned()),
                    ));
                }
            }
        }
    }

    fn read_header_comment(&mut self, text: &str) {
        let Some((key, value)) = text.split_once(':').or_else(|| text.split_once('=')) else {
            return;
        };
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match key.trim() {
            "versionAF" => self.header.version_af = value,
            "versionSDET" => self.header.version_sdet = value,
            "codeAcademieExport" => self.header.academie = value,
            "degre" => self.header.degree = value,
            _ => {}
        }
    }

    /// Refuses a token that may not appear between elements.
    fn between(&mut self, token: &Token, parent: &str) -> Result<(), ParseError> {
        match token {
            token if token.is_blank() => Ok(()),
            Token::Eof => Err(self.fail(Problem::Truncated)),
            Token::ProcessingInstruction => Err(self.fail(Problem::ProcessingInstruction)),
            Token::Text(_) | Token::Reference(_) => {
                Err(self.fail(Problem::UnexpectedText(parent.to_owned())))
            }
            _ => Err(self.fail(Problem::Malformed(format!(
                "unexpected markup inside <{parent}>"
            )))),
        }
    }

    /// Reads the next record, `None` after the root element is closed.
    fn read_record(&mut self) -> Result<Option<Record>, ParseError> {
        loop {
            let (token, line) = self.next_token()?;
            match token {
                Token::Start { local, empty, .. } => {
                    let operation = match &*local {
                        "addRequest" => Operation::Add,
                        "modifyRequest" => Operation::Modify,
                        "deleteRequest" => Operation::Delete,
                        _ => {
                            return Err(self.fail(Problem::UnexpectedElement {
                                element: local.into_owned(),
                                parent: "ficAlimMENESR".to_owned(),
                            }));
                        }
                    };
                    let mut record = Record {
                        operation,
                        category: String::new(),
                        id: String::new(),
                        attributes: Vec::new(),
                        line,
                    };
                    if !empty {
                        self.read_record_body(&mut record)?;
                    }
                    return Ok(Some(record));
                }
                Token::End => {
                    self.expect_eof()?;
                    return Ok(None);
                }
                token => self.between(&token, "ficAlimMENESR")?,
            }
        }
    }

    fn expect_eof(&mut self) -> Result<(), ParseError> {
        loop {
            let (token, _) = self.next_token()?;
            match token {
                Token::Eof => {
                    self.done = true;
                    return Ok(());
                }
                token if token.is_blank() => {}
                _ => {
                    return Err(self.fail(Problem::Malformed(
                        "content after the root element".to_owned(),
                    )));
                }
            }
        }
    }

    /// Reads from just after the request's start tag to its end tag.
    fn read_record_body(&mut self, record: &mut Record) -> Result<(), ParseError> {
        let request = match record.operation {
            Operation::Add => "addRequest",
            Operation::Modify => "modifyRequest",
            Operation::Delete => "deleteRequest",
        };
        let mut stack: Vec<Open> = vec![Open::Request];
        let mut attribute: Option<Attribute> = None;
        let mut value = String::new();
        let mut values = 0usize;
        loop {
            let (token, _) = self.next_token()?;
            let Some(&open) = stack.last() else {
                return Ok(());
            };
            match token {
                Token::Start {
                    local,
                    name,
                    operation,
                    empty,
                } => {
                    let child = match (open, &*local) {
                        (Open::Request, "operationalAttributes") => {
                            Open::Section(Section::Operational)
                        }
                        (Open::Request, "identifier") => Open::Section(Section::Identifier),
                        (Open::Request, "attributes") if record.operation == Operation::Add => {
                            Open::Section(Section::Attributes)
                        }
                        (Open::Request, "modifications")
                            if record.operation == Operation::Modify =>
                        {
                            Open::Section(Section::Modifications)
                        }
                        (Open::Section(Section::Identifier), "id") => {
                            Open::Value(Section::Identifier)
                        }
                        (
                            Open::Section(section @ (Section::Operational | Section::Attributes)),
                            "attr",
                        )
                        | (Open::Section(section @ Section::Modifications), "modification") => {
                            let element = if section == Section::Modifications {
                                "modification"
                            } else {
                                "attr"
                            };
                            let Some(name) = name else {
                                return Err(self.fail(Problem::MissingAttribute {
                                    element,
                                    attribute: "name",
                                }));
                            };
                            if section == Section::Modifications {
                                match operation.as_deref() {
                                    Some("replace") => {}
                                    Some(other) => {
                                        let other = other.to_owned();
                                        return Err(self.fail(Problem::Modification(other)));
                                    }
                                    None => {
                                        return Err(self.fail(Problem::MissingAttribute {
                                            element,
                                            attribute: "operation",
                                        }));
                                    }
                                }
                            }
                            attribute = Some(Attribute {
                                name,
                                values: Vec::new(),
                            });
                            Open::Attr(section)
                        }
                        (Open::Attr(section), "value") => Open::Value(section),
                        _ => {
                            let parent = match open {
                                Open::Request => request,
                                Open::Section(Section::Operational) => "operationalAttributes",
                                Open::Section(Section::Identifier) => "identifier",
                                Open::Section(Section::Attributes) => "attributes",
                                Open::Section(Section::Modifications) => "modifications",
                                Open::Attr(Section::Modifications) => "modification",
                                Open::Attr(_) => "attr",
                                Open::Value(Section::Identifier) => "id",
                                Open::Value(_) => "value",
                            };
                            return Err(self.fail(Problem::UnexpectedElement {
                                element: local.into_owned(),
                                parent: parent.to_owned(),
                            }));
                        }
                    };
                    stack.push(child);
                    if stack.len() > MAX_DEPTH {
                        return Err(self.fail(Problem::TooDeep));
                    }
                    if empty {
                        self.close(&mut stack, record, &mut attribute, &mut value, &mut values)?;
                    } else {
                        self.in_value = matches!(child, Open::Value(_));
                    }
                }
                Token::End => {
                    self.in_value = false;
                    self.close(&mut stack, record, &mut attribute, &mut value, &mut values)?;
                    if stack.is_empty() {
                        return Ok(());
                    }
                }
                Token::Text(text) | Token::Reference(text) if matches!(open, Open::Value(_)) => {
                    value.push_str(&text);
                    if value.len() > MAX_VALUE_LEN {
                        return Err(self.fail(Problem::ValueTooLong));
                    }
                }
                token => self.between(&token, request)?,
            }
        }
    }

    /// Closes the innermost open element of a record.
    fn close(
        &mut self,
        stack: &mut Vec<Open>,
        record: &mut Record,
        attribute: &mut Option<Attribute>,
        value: &mut String,
        values: &mut usize,
    ) -> Result<(), ParseError> {
        match stack.pop() {
            Some(Open::Value(Section::Identifier)) => {
                record.id = std::mem::take(value).trim().to_owned();
            }
            Some(Open::Value(_)) => {
                let text = std::mem::take(value);
                if let Some(attribute) = attribute.as_mut()
                    && !text.is_empty()
                {
                    *values += 1;
                    if *values > MAX_VALUES_PER_RECORD {
                        return Err(self.fail(Problem::TooManyValues));
                    }
                    attribute.values.push(text);
                }
            }
            Some(Open::Attr(section)) => {
                if let Some(done) = attribute.take() {
                    if section == Section::Operational {
                        if let Some(category) = done.values.into_iter().next() {
                            record.category = category;
                        }
                    } else {
                        record.attributes.push(done);
                    }
                }
            }
            Some(Open::Section(_) | Open::Request) | None => {}
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for AafReader<R> {
    type Item = Result<Record, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.read_record().transpose()
    }
}
