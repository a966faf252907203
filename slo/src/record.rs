//! Probe records: one JSON object per line, one line per probe run (issue 7:
//! "records the outcome"). A record says when (UTC), against what, whether
//! the whole login succeeded, how long it took, and, when it failed, at which
//! step and with which HTTP status. It never holds a password, a cookie or a
//! page body.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The outcome of one probe run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The login went through and the final page matched.
    Ok,
    /// It did not.
    Failed,
}

/// One probe run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// When the run started (UTC).
    pub time: DateTime<Utc>,
    /// The probe's name (several probes may watch one deployment).
    pub probe: String,
    /// The start URL, without its query string.
    pub target: String,
    /// Ok or failed.
    pub outcome: Outcome,
    /// Total duration in milliseconds.
    pub duration_ms: u64,
    /// The probe's interval in seconds: the record stands for at most twice
    /// this long.
    pub interval_s: u64,
    /// The step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The HTTP status of the failing response, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// A short reason (no page content, no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a records file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Reading failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("{file}, ligne {line} : enregistrement illisible ({source})")]
    Line {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The error.
        source: serde_json::Error,
    },
}

/// Reads every record of `reader` (blank lines skipped); `file` names it in
/// errors.
pub fn read(reader: impl BufRead, file: &str) -> Result<Vec<ProbeRecord>, RecordError> {
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| RecordError::Io {
            file: file.to_owned(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| RecordError::Line {
            file: file.to_owned(),
            line: index + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Appends `record` as one line.
pub fn append(mut writer: impl Write, record: &ProbeRecord) -> std::io::Result<()> {
    let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    writeln!(writer, "{line}")?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_lines_are_named() {
        let record = ProbeRecord {
            time: "2027-01-11T07:00:00Z".parse().unwrap(),
            probe: "p".into(),
            target: "https://ent.example/login".into(),
            outcome: Outcome::Failed,
            duration_ms: 12,
            interval_s: 60,
            step: Some("idp-login".into()),
            http_status: Some(500),
            reason: None,
        };
        let mut out = Vec::new();
        append(&mut out, &record).unwrap();
        append(&mut out, &record).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"outcome\":\"failed\""));
        let read_back = read(text.as_bytes(), "f").unwrap();
        assert_eq!(read_back, vec![record.clone(), record]);
        let broken = format!("{text}\n{{\"time\": 3}}\n");
        let err = read(broken.as_bytes(), "f.jsonl").unwrap_err();
        assert!(err.to_string().contains("f.jsonl, ligne 4"), "{err}");
    }
}
