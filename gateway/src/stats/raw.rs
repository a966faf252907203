//! Raw export and import of the statistics (issue 8, "Reversibility": all
//! data exportable in open formats): the day hashes as CSV, `;`-separated
//! (as French spreadsheets expect), UTF-8, one line per cell, with a header
//! line:
//!
//! `jour;heure;type;academie;departement;commune;circonscription;uai;profil;idp;service;protocole;issue;nombre`
//!
//! `jour` is `YYYY-MM-DD` (Europe/Paris), `heure` `00` to `23`, `type`
//! `login` or `access`, then the dimensions of the [`Cell`] (empty when
//! unknown) and the count. A value holding `;`, `"` or a line break is
//! quoted, `"` doubled (RFC 4180). The days are those listed in
//! `stats:days` (no `SCAN`).
//!
//! [`import`] adds the counts (`HINCRBY`): into an empty deployment it
//! restores them. Each day gets the TTL it would have had under the default
//! retention (`DEFAULT_RETENTION_DAYS` after the day); a day already past it
//! is skipped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use sso_store::Store;

use super::config::DEFAULT_RETENTION_DAYS;
use super::{Cell, DAYS_KEY, StatsError, day_key};

/// The header line of the raw CSV.
pub const HEADER: [&str; 14] = [
    "jour",
    "heure",
    "type",
    "academie",
    "departement",
    "commune",
    "circonscription",
    "uai",
    "profil",
    "idp",
    "service",
    "protocole",
    "issue",
    "nombre",
];

/// Writes one CSV line (`;`-separated, quoted where needed).
pub fn write_line<S: AsRef<str>>(
    out: &mut impl Write,
    values: impl IntoIterator<Item = S>,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (index, value) in values.into_iter().enumerate() {
        if index > 0 {
            line.push(';');
        }
        let value = value.as_ref();
        if value.contains([';', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&value.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(value);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Splits one CSV line (no line break inside a value).
fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (false, ';') => {
                values.push(std::mem::take(&mut current));
                at_start = true;
            }
            (false, '"') => return Err("a quote inside an unquoted value".into()),
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    current.push('"');
                } else {
                    quoted = false;
                    if chars.peek().is_some_and(|next| *next != ';') {
                        return Err("text after a closing quote".into());
                    }
                }
            }
            (_, c) => {
                current.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("an unclosed quote".into());
    }
    values.push(current);
    Ok(values)
}

/// Writes every stored day hash as CSV; returns the number of cells written.
pub async fn export(store: &dyn Store, out: &mut impl Write) -> Result<u64, StatsError> {
    write_line(out, HEADER)?;
    let mut days: Vec<NaiveDate> = store
        .set_members(DAYS_KEY)
        .await?
        .iter()
        .filter_map(|day| day.parse().ok())
        .collect();
    days.sort();
    let mut written = 0;
    for day in days {
        let key = day_key(day);
        let mut cells = Vec::new();
        for (field, count) in store.hgetall(&key).await? {
            let cell = Cell::parse(&field).map_err(|err| StatsError::BadField {
                key: key.clone(),
                reason: err.to_string(),
            })?;
            cells.push((cell, count));
        }
        cells.sort();
        let day_text = day.format("%Y-%m-%d").to_string();
        for (cell, count) in cells {
            let hour = format!("{:02}", cell.hour);
            let count = count.to_string();
            let mut values = vec![day_text.as_str(), hour.as_str(), cell.kind.as_str()];
            values.extend(cell.dimensions());
            values.push(&count);
            write_line(out, values)?;
            written += 1;
        }
    }
    Ok(written)
}

/// Adds the cells of a CSV written by [`export`]; returns the number of
/// cells read. Nothing is written when a line is malformed.
pub async fn import(store: &dyn Store, input: impl Read) -> Result<u64, StatsError> {
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    let mut read = 0;
    for (index, line) in BufReader::new(input).lines().enumerate() {
        let number = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let line = line?;
        let bad = |reason: String| StatsError::BadLine {
            line: number,
            reason,
        };
        let values = split_line(&line).map_err(bad)?;
        if number == 1 {
            if values != HEADER {
                return Err(bad(format!("the header must be {}", HEADER.join(";"))));
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let [day, rest @ .., count] = values.as_slice() else {
            return Err(bad("no value".into()));
        };
        let day: NaiveDate = day
            .parse()
            .map_err(|_| bad(format!("day {day:?} is not YYYY-MM-DD")))?;
        let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
        let cell = Cell::from_parts(&parts).map_err(|err| bad(err.to_string()))?;
        let count: i64 = count
            .parse()
            .ok()
            .filter(|count| *count >= 0)
            .ok_or_else(|| bad(format!("count {count:?} is not a whole number")))?;
        *days
            .entry(day)
            .or_default()
            .entry(cell.field())
            .or_insert(0) += count;
        read += 1;
    }
    let today = Utc::now().date_naive();
    for (day, fields) in days {
        let age = (today - day).num_days().max(0);
        let left = i64::from(DEFAULT_RETENTION_DAYS) - age;
        let Ok(left) = u64::try_from(left) else {
            continue;
        };
        if left == 0 {
            continue;
        }
        let ttl = Duration::from_secs(left * 86_400);
        let increments: Vec<(String, i64)> = fields.into_iter().collect();
        store.hincr(&day_key(day), &increments, ttl).await?;
        store
            .set_add(DAYS_KEY, &day.format("%Y-%m-%d").to_string(), ttl)
            .await?;
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use sso_store::MemoryStore;

    use super::*;
    use crate::stats::Kind;

    #[tokio::test]
    async fn an_export_imported_into_an_empty_store_is_the_same_export() {
        let source = MemoryStore::new();
        let today = Utc::now().date_naive();
        let cell = Cell {
            hour: 9,
            kind: Kind::Access,
            commune: "Saint-Jean; \"le Vieux\"".into(),
            uai: "0350001A".into(),
            service: "atlas".into(),
            outcome: "granted".into(),
            ..Cell::default()
        };
        source
            .hincr(
                &day_key(today),
                &[(cell.field(), 7)],
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        source
            .set_add(
                DAYS_KEY,
                &today.format("%Y-%m-%d").to_string(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let mut first = Vec::new();
        assert_eq!(export(&source, &mut first).await.unwrap(), 1);
        let text = String::from_utf8(first.clone()).unwrap();
        assert!(text.starts_with("jour;heure;type;"), "{text}");
        assert!(text.contains("\"Saint-Jean; \"\"le Vieux\"\"\""), "{text}");

        let target = MemoryStore::new();
        assert_eq!(import(&target, first.as_slice()).await.unwrap(), 1);
        let mut second = Vec::new();
        export(&target, &mut second).await.unwrap();
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn a_malformed_line_is_located_and_nothing_is_written() {
        let store = MemoryStore::new();
        let good = "jour;heure;type;academie;departement;commune;circonscription;uai;profil;idp;service;protocole;issue;nombre\n\
                    2026-11-23;08;login;;;;;;;educonnect;;;success;4\n";
        // Positive control.
        assert_eq!(import(&store, good.as_bytes()).await.unwrap(), 1);
        let bad = format!("{good}2026-11-23;25;login;;;;;;;educonnect;;;success;4\n");
        let other = MemoryStore::new();
        match import(&other, bad.as_bytes()).await {
            Err(StatsError::BadLine { line: 3, .. }) => {}
            other => panic!("expected a bad line 3, got {other:?}"),
        }
        assert!(other.set_members(DAYS_KEY).await.unwrap().is_empty());
    }
}
