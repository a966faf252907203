//! Helpers: a small reader of `ficAlimMENESR` documents built on quick-xml,
//! an ISO-8859-15 decoder written from the standard's table, specs.

use std::path::Path;

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;
use sso_testbed::aaf::{AafSpec, Category, ExportSet};
use sso_testbed::people::Degree;

pub fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
}

/// A moderate export: 6 schools of 200 pupils and 30 staff.
pub fn spec(degree: Degree) -> AafSpec {
    let mut spec = AafSpec::new("AC-RENNES", degree, date());
    spec.schools = 6;
    spec.pupils_per_school = 200;
    spec.staff_per_school = 30;
    spec.seed = 20_260_901;
    spec
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub op: String,
    pub operational: (String, String),
    pub id: String,
    pub attrs: Vec<(String, Vec<String>)>,
}

impl Rec {
    pub fn values(&self, name: &str) -> Vec<String> {
        self.attrs
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.clone())
            .collect()
    }

    pub fn first(&self, name: &str) -> Option<String> {
        self.values(name).into_iter().next()
    }

    pub fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| n == name)
    }
}

/// Parses a whole document (UTF-8 text), panicking on malformed XML.
pub fn parse(text: &str) -> Vec<Rec> {
    let mut reader = Reader::from_reader(text.as_bytes());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut rec: Option<Rec> = None;
    let mut in_operational = false;
    let mut current_attr: Option<(String, Vec<String>)> = None;
    let mut collecting: Option<String> = None;
    let mut saw_root = false;
    loop {
        let event = reader.read_event_into(&mut buf).expect("well-formed XML");
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                let attr_name = e
                    .try_get_attribute("name")
                    .unwrap()
                    .map(|a| String::from_utf8(a.value.to_vec()).unwrap());
                match name.as_str() {
                    "ficAlimMENESR" => saw_root = true,
                    "addRequest" | "modifyRequest" | "deleteRequest" => {
                        rec = Some(Rec {
                            op: name.clone(),
                            operational: (String::new(), String::new()),
                            id: String::new(),
                            attrs: Vec::new(),
                        });
                    }
                    "operationalAttributes" => in_operational = true,
                    "attr" | "modification" => {
                        current_attr = Some((attr_name.unwrap(), Vec::new()));
                    }
                    "value" | "id" => collecting = Some(String::new()),
                    _ => {}
                }
                if empty {
                    close(
                        &name,
                        &mut rec,
                        &mut out,
                        &mut in_operational,
                        &mut current_attr,
                        &mut collecting,
                    );
                }
            }
            Event::End(e) => {
                let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                close(
                    &name,
                    &mut rec,
                    &mut out,
                    &mut in_operational,
                    &mut current_attr,
                    &mut collecting,
                );
            }
            Event::Text(t) => {
                if let Some(c) = collecting.as_mut() {
                    c.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                let c = collecting.as_mut().expect("entity outside a value");
                let name = r.decode().unwrap().into_owned();
                c.push(match name.as_str() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    other => panic!("unexpected entity {other}"),
                });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    assert!(saw_root);
    out
}

fn close(
    name: &str,
    rec: &mut Option<Rec>,
    out: &mut Vec<Rec>,
    in_operational: &mut bool,
    current_attr: &mut Option<(String, Vec<String>)>,
    collecting: &mut Option<String>,
) {
    match name {
        "value" => {
            let v = collecting.take().unwrap();
            current_attr.as_mut().unwrap().1.push(v);
        }
        "id" => rec.as_mut().unwrap().id = collecting.take().unwrap(),
        "attr" | "modification" => {
            let attr = current_attr.take().unwrap();
            let r = rec.as_mut().unwrap();
            if *in_operational {
                r.operational = (attr.0, attr.1.into_iter().next().unwrap());
            } else {
                r.attrs.push(attr);
            }
        }
        "operationalAttributes" => *in_operational = false,
        "addRequest" | "modifyRequest" | "deleteRequest" => out.push(rec.take().unwrap()),
        _ => {}
    }
}

/// ISO-8859-15 to text: the byte is the code point except for the eight
/// positions the standard reassigned.
pub fn decode_iso_8859_15(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            0xA4 => '€',
            0xA6 => 'Š',
            0xA8 => 'š',
            0xB4 => 'Ž',
            0xB8 => 'ž',
            0xBC => 'Œ',
            0xBD => 'œ',
            0xBE => 'Ÿ',
            _ => char::from(*b),
        })
        .collect()
}

/// The text of a file, decoded as its declaration says.
pub fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
    if head.contains("encoding=\"ISO-8859-15\"") {
        decode_iso_8859_15(&bytes)
    } else {
        assert!(head.contains("encoding=\"UTF-8\""), "{head}");
        String::from_utf8(bytes).unwrap()
    }
}

/// Every record of a category in a set, over all its files.
pub fn records(set: &ExportSet, category: Category) -> Vec<Rec> {
    set.files_of(category)
        .flat_map(|f| parse(&read_text(&set.path(&f.name))))
        .collect()
}
