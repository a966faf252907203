//! `xs:dateTime` values as used by SAML (saml-core §1.3.3): produced in UTC with a
//! `Z` designator and whole seconds; read with optional fractional seconds and
//! either `Z`, a numeric offset, or no zone designator (taken as UTC, as the
//! specification requires every SAML time to be UTC).

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use thiserror::Error;

/// Why a time value could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TimeError {
    /// The text is not an `xs:dateTime` value.
    #[error("invalid xs:dateTime value {value:?}")]
    Invalid {
        /// The text that was read.
        value: String,
    },
}

/// Formats a time as `2026-11-27T08:00:00Z` (UTC, whole seconds).
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an `xs:dateTime` value: `2026-11-27T08:00:00Z`, `2026-11-27T08:00:00.123Z`,
/// `2026-11-27T09:00:00+01:00` or `2026-11-27T08:00:00` (no zone: UTC).
pub fn parse(value: &str) -> Result<DateTime<Utc>, TimeError> {
    let invalid = || TimeError::Invalid {
        value: value.to_owned(),
    };
    let trimmed = value.trim();
    if trimmed.len() < 19 || trimmed.as_bytes().get(10) != Some(&b'T') {
        return Err(invalid());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_utc_with_whole_seconds() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
        assert_eq!(format(&t), "2026-11-27T08:00:00Z");
    }

    #[test]
    fn parses_every_accepted_form() {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
        assert_eq!(parse("2026-11-27T08:00:00Z").unwrap(), t);
        assert_eq!(parse("2026-11-27T09:00:00+01:00").unwrap(), t);
        assert_eq!(parse("2026-11-27T08:00:00").unwrap(), t);
        let fractional = parse("2026-11-27T08:00:00.250Z").unwrap();
        assert_eq!(fractional.timestamp_subsec_millis(), 250);
        assert_eq!(parse(&format(&t)).unwrap(), t);
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "2026-11-27",
            "2026-11-27 08:00:00Z",
            "2026-13-27T08:00:00Z",
            "27/11/2026 08:00",
            "2026-11-27T08:00:00+25:00",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
