//! A large category is written as a stream into any writer.

use std::io::Write;

use sso_testbed::aaf::{AafSpec, Category, write_category};
use sso_testbed::people::Degree;

use crate::common::date;

/// Counts bytes and newlines, and the largest single write, then discards.
struct Counting<W> {
    inner: W,
    bytes: u64,
    newlines: u64,
    largest_write: usize,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        self.newlines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.largest_write = self.largest_write.max(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn two_hundred_thousand_pupils_stream_into_a_sink() {
    let mut spec = AafSpec::new("AC-RENNES", Degree::Second, date());
    spec.schools = 100;
    spec.pupils_per_school = 2_000;
    spec.seed = 7;
    let mut out = Counting {
        inner: std::io::sink(),
        bytes: 0,
        newlines: 0,
        largest_write: 0,
    };
    let lines = write_category(&spec, Category::Eleve, &mut out).unwrap();
    // 7 header lines, the closing tag, and per pupil: the request, its
    // operational attributes, identifier, <attributes>, 13 attributes,
    // </attributes> and the closing tag.
    assert_eq!(lines, 8 + 200_000 * 19);
    assert_eq!(out.newlines, lines);
    let per_record = out.bytes / 200_000;
    assert!(
        (900..=2_500).contains(&per_record),
        "{per_record} bytes per pupil"
    );
    // Records are written one at a time: no write holds the whole document.
    assert!(
        out.largest_write < 64 * 1024,
        "a write of {} bytes",
        out.largest_write
    );
}
