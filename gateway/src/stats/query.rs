//! Reading the statistics of an area over a period, and what may be shown
//! of them (issue 8: "small counts that could single out a person are
//! suppressed").
//!
//! [`query`] reads one day hash per day of the period (`HGETALL`, never
//! `SCAN`), keeps the cells of the area, and adds them up into the tables of
//! a [`Report`]: logins and accesses per day and per hour of the day, by
//! profile, by service (top resources), by IdP, refusals by kind and login
//! failures by family. "Logins" are successful logins; "accesses" granted
//! accesses.
//!
//! # Suppression rule
//!
//! Primary suppression: every figure from 1 to `min_count - 1` is shown as
//! suppressed (`< 5`); 0 is shown (it singles nobody out). Complementary
//! (secondary) suppression, the usual rule of statistical disclosure
//! control: within each column of a table whose rows add up to a shown
//! total, when exactly one cell is suppressed, the smallest other non-zero
//! cell is suppressed too, so that no suppressed cell can be recomputed by
//! subtracting the shown cells from the total.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sso_store::Store;

use super::{Cell, Kind, Settings, StatsError, day_key};
use crate::viewer::{Level, Scope};

/// One figure as shown: its value, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// The count; `None` when suppressed.
    pub value: Option<u64>,
    /// Whether the count is too small to be shown.
    pub suppressed: bool,
}

impl Figure {
    fn shown(value: u64) -> Self {
        Self {
            value: Some(value),
            suppressed: false,
        }
    }

    const SUPPRESSED: Self = Self {
        value: None,
        suppressed: true,
    };
}

/// One row of a table: a label and one figure per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// What the row counts (a day, an hour, a profile, a service...).
    pub label: String,
    /// The figures, in the table's column order.
    pub figures: Vec<Figure>,
}

/// A table: its rows and the total of each column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Column names (stable English names; the page and the CSV translate
    /// them).
    pub columns: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Row>,
    /// The total of each column.
    pub total: Vec<Figure>,
}

/// The figures of an area over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The area.
    pub scope: Scope,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// The suppression threshold used.
    pub min_count: u64,
    /// Logins and accesses per day.
    pub by_day: Table,
    /// Logins and accesses per hour of the day, over the period.
    pub by_hour: Table,
    /// Logins and accesses by profile.
    pub by_profile: Table,
    /// Accesses by service, most used first.
    pub by_service: Table,
    /// Logins by upstream IdP.
    pub by_idp: Table,
    /// Refused accesses by kind.
    pub refusals: Table,
    /// Failed logins by family.
    pub login_failures: Table,
}

/// Whether a cell lies in the area.
pub fn in_scope(cell: &Cell, scope: &Scope) -> bool {
    let value = match scope.level {
        Level::National => return true,
        Level::Ecole => &cell.uai,
        Level::Circonscription => &cell.circonscription,
        Level::Commune => &cell.commune,
        Level::Departement => &cell.departement,
        Level::Academie => &cell.academie,
    };
    !value.is_empty() && *value == scope.code
}

/// The raw counts, before suppression.
#[derive(Default)]
struct Counts {
    by_day: BTreeMap<String, [u64; 2]>,
    by_hour: BTreeMap<String, [u64; 2]>,
    by_profile: BTreeMap<String, [u64; 2]>,
    by_service: BTreeMap<String, [u64; 1]>,
    by_idp: BTreeMap<String, [u64; 1]>,
    refusals: BTreeMap<String, [u64; 1]>,
    login_failures: BTreeMap<String, [u64; 1]>,
}

/// Shown for an empty dimension.
const UNKNOWN: &str = "inconnu";

fn label(value: &str) -> String {
    if value.is_empty() {
        UNKNOWN.to_owned()
    } else {
        value.to_owned()
    }
}

impl Counts {
    fn add(&mut self, day: NaiveDate, cell: &Cell, count: u64) {
        let hour = format!("{:02}", cell.hour);
        let day = day.format("%Y-%m-%d").to_string();
        let column = match (cell.kind, cell.outcome.as_str()) {
            (Kind::Login, "success") => 0,
            (Kind::Access, "granted") => 1,
            (Kind::Login, failure) => {
                self.login_failures.entry(label(failure)).or_default()[0] += count;
                return;
            }
            (Kind::Access, refusal) => {
                self.refusals.entry(label(refusal)).or_default()[0] += count;
                return;
            }
        };
        add_to(&mut self.by_day, &day, column, count);
        add_to(&mut self.by_hour, &hour, column, count);
        add_to(&mut self.by_profile, &label(&cell.profile), column, count);
        if column == 0 {
            self.by_idp.entry(label(&cell.idp)).or_default()[0] += count;
        } else {
            self.by_service.entry(label(&cell.service)).or_default()[0] += count;
        }
    }
}

fn add_to(table: &mut BTreeMap<String, [u64; 2]>, key: &str, column: usize, count: u64) {
    if let Some(slot) = table.entry(key.to_owned()).or_default().get_mut(column) {
        *slot += count;
    }
}

/// The figures of `scope` from `from` to `to` (inclusive), suppressed as
/// the module documentation says.
pub async fn query(
    store: &dyn Store,
    scope: &Scope,
    from: NaiveDate,
    to: NaiveDate,
    settings: &Settings,
) -> Result<Report, StatsError> {
    let days = (to - from).num_days();
    if days < 0 {
        return Err(StatsError::Period(format!("{from} is after {to}")));
    }
    if days >= settings.max_days {
        return Err(StatsError::Period(format!(
            "{} days: at most {} in one report",
            days + 1,
            settings.max_days
        )));
    }
    let mut counts = Counts::default();
    for day in from.iter_days().take_while(|day| *day <= to) {
        let key = day_key(day);
        for (field, count) in store.hgetall(&key).await? {
            let cell = Cell::parse(&field).map_err(|err| StatsError::BadField {
                key: key.clone(),
                reason: err.to_string(),
            })?;
            let count = u64::try_from(count).unwrap_or_default();
            if count > 0 && in_scope(&cell, scope) {
                counts.add(day, &cell, count);
            }
        }
    }
    let min = settings.min_count;
    let mut hours = counts.by_hour;
    for hour in 0..24 {
        hours.entry(format!("{hour:02}")).or_default();
    }
    let mut services: Vec<(String, [u64; 1])> = counts.by_service.into_iter().collect();
    services.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Report {
        scope: scope.clone(),
        from,
        to,
        min_count: min,
        by_day: table(&["logins", "accesses"], counts.by_day, min),
        by_hour: table(&["logins", "accesses"], hours, min),
        by_profile: table(&["logins", "accesses"], counts.by_profile, min),
        by_service: table(&["accesses"], services, min),
        by_idp: table(&["logins"], counts.by_idp, min),
        refusals: table(&["refusals"], counts.refusals, min),
        login_failures: table(&["failures"], counts.login_failures, min),
    })
}

/// A table from its raw rows, with the suppression rule applied.
fn table<const N: usize>(
    columns: &[&'static str; N],
    rows: impl IntoIterator<Item = (String, [u64; N])>,
    min: u64,
) -> Table {
    let rows: Vec<(String, [u64; N])> = rows.into_iter().collect();
    let mut shown: Vec<Vec<Figure>> = rows
        .iter()
        .map(|(_, values)| values.iter().map(|v| primary(*v, min)).collect())
        .collect();
    let mut total = Vec::with_capacity(N);
    for column in 0..N {
        let values: Vec<u64> = rows
            .iter()
            .map(|(_, values)| values.get(column).copied().unwrap_or_default())
            .collect();
        let column_total = primary(values.iter().sum(), min);
        if !column_total.suppressed {
            complement(&mut shown, &values, column);
        }
        total.push(column_total);
    }
    Table {
        columns: columns.to_vec(),
        rows: rows
            .into_iter()
            .zip(shown)
            .map(|((label, _), figures)| Row { label, figures })
            .collect(),
        total,
    }
}

/// Primary suppression of one count.
fn primary(value: u64, min: u64) -> Figure {
    if value > 0 && value < min {
        Figure::SUPPRESSED
    } else {
        Figure::shown(value)
    }
}

/// Complementary suppression in one column: a lone suppressed cell takes
/// the smallest other non-zero cell with it.
fn complement(shown: &mut [Vec<Figure>], values: &[u64], column: usize) {
    let suppressed = shown
        .iter()
        .filter(|row| row.get(column).is_some_and(|f| f.suppressed))
        .count();
    if suppressed != 1 {
        return;
    }
    let smallest = shown
        .iter()
        .zip(values)
        .enumerate()
        .filter(|(_, (row, value))| **value > 0 && row.get(column).is_some_and(|f| !f.suppressed))
        .min_by_key(|(_, (_, value))| **value)
        .map(|(index, _)| index);
    if let Some(figure) = smallest
        .and_then(|index| shown.get_mut(index))
        .and_then(|row| row.get_mut(column))
    {
        *figure = Figure::SUPPRESSED;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sso_store::MemoryStore;

    use super::*;

    fn settings() -> Settings {
        Settings {
            retention: Duration::from_secs(3600),
            min_count: 5,
            max_days: 400,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn login(uai: &str, profile: &str, hour: u8) -> Cell {
        Cell {
            hour,
            kind: Kind::Login,
            academie: "AC-RENNES".into(),
            departement: "035".into(),
            commune: "Rennes".into(),
            circonscription: "Rennes Nord".into(),
            uai: uai.into(),
            profile: profile.into(),
            idp: "educonnect".into(),
            outcome: "success".into(),
            ..Cell::default()
        }
    }

    async fn add(store: &MemoryStore, on: &str, cell: &Cell, count: i64) {
        store
            .hincr(
                &day_key(day(on)),
                &[(cell.field(), count)],
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
    }

    fn scope(level: Level, code: &str) -> Scope {
        Scope {
            level,
            code: code.into(),
        }
    }

    #[tokio::test]
    async fn three_logins_are_suppressed_and_six_are_shown() {
        let store = MemoryStore::new();
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_ELV", 8),
            3,
        )
        .await;
        add(
            &store,
            "2026-11-23",
            &login("0350002B", "National_ELV", 8),
            6,
        )
        .await;
        let a = query(
            &store,
            &scope(Level::Ecole, "0350001A"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        assert_eq!(a.by_day.total, [Figure::SUPPRESSED, Figure::shown(0)]);
        assert_eq!(a.by_day.rows[0].figures[0], Figure::SUPPRESSED);
        let b = query(
            &store,
            &scope(Level::Ecole, "0350002B"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        assert_eq!(b.by_day.total[0], Figure::shown(6));
        assert_eq!(b.by_day.rows[0].figures[0], Figure::shown(6));
        assert_eq!(b.by_idp.rows[0].figures[0], Figure::shown(6));
        let serialized = serde_json::to_value(&a).unwrap();
        assert_eq!(
            serialized["by_day"]["total"][0],
            serde_json::json!({"value": null, "suppressed": true})
        );
    }

    #[tokio::test]
    async fn a_suppressed_cell_cannot_be_recomputed_from_the_total() {
        let store = MemoryStore::new();
        // 3 teachers, 20 pupils, 9 parents at one school: total 32 shown.
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_ENS", 9),
            3,
        )
        .await;
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_ELV", 9),
            20,
        )
        .await;
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_TUT", 9),
            9,
        )
        .await;
        let report = query(
            &store,
            &scope(Level::Ecole, "0350001A"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        let by_profile: BTreeMap<&str, Figure> = report
            .by_profile
            .rows
            .iter()
            .map(|row| (row.label.as_str(), row.figures[0]))
            .collect();
        assert_eq!(by_profile["National_ENS"], Figure::SUPPRESSED);
        assert_eq!(
            by_profile["National_TUT"],
            Figure::SUPPRESSED,
            "the smallest other cell"
        );
        assert_eq!(by_profile["National_ELV"], Figure::shown(20));
        assert_eq!(report.by_profile.total[0], Figure::shown(32));

        // Positive control: with nothing below the threshold, everything shows.
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_ENS", 9),
            2,
        )
        .await;
        let report = query(
            &store,
            &scope(Level::Ecole, "0350001A"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        assert!(
            report
                .by_profile
                .rows
                .iter()
                .all(|row| !row.figures[0].suppressed)
        );
    }

    #[tokio::test]
    async fn a_school_report_holds_nothing_of_another_school() {
        let store = MemoryStore::new();
        add(
            &store,
            "2026-11-23",
            &login("0350001A", "National_ELV", 8),
            7,
        )
        .await;
        let mut other = login("0350002B", "National_DIR", 10);
        other.idp = "agents".into();
        add(&store, "2026-11-23", &other, 11).await;
        let mut access = other.clone();
        access.kind = Kind::Access;
        access.service = "manuel-b".into();
        access.outcome = "granted".into();
        add(&store, "2026-11-23", &access, 12).await;

        let a = query(
            &store,
            &scope(Level::Ecole, "0350001A"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        let text = serde_json::to_string(&a).unwrap();
        for of_b in [
            "National_DIR",
            "agents",
            "manuel-b",
            "\"value\":11",
            "\"value\":12",
        ] {
            assert!(!text.contains(of_b), "{of_b} in {text}");
        }
        assert_eq!(a.by_day.total, [Figure::shown(7), Figure::shown(0)]);
        // Positive control: the commune sees both.
        let commune = query(
            &store,
            &scope(Level::Commune, "Rennes"),
            day("2026-11-23"),
            day("2026-11-23"),
            &settings(),
        )
        .await
        .unwrap();
        assert_eq!(commune.by_day.total, [Figure::shown(18), Figure::shown(12)]);
        assert_eq!(commune.by_service.rows[0].label, "manuel-b");
    }

    #[tokio::test]
    async fn periods_are_checked_and_every_day_is_read() {
        let store = MemoryStore::new();
        add(
            &store,
            "2026-11-22",
            &login("0350001A", "National_ELV", 23),
            5,
        )
        .await;
        add(
            &store,
            "2026-11-24",
            &login("0350001A", "National_ELV", 0),
            6,
        )
        .await;
        let national = scope(Level::National, "");
        let report = query(
            &store,
            &national,
            day("2026-11-22"),
            day("2026-11-24"),
            &settings(),
        )
        .await
        .unwrap();
        assert_eq!(report.by_day.total[0], Figure::shown(11));
        assert_eq!(report.by_hour.rows.len(), 24);
        assert!(matches!(
            query(
                &store,
                &national,
                day("2026-11-24"),
                day("2026-11-22"),
                &settings()
            )
            .await,
            Err(StatsError::Period(_))
        ));
        assert!(matches!(
            query(
                &store,
                &national,
                day("2025-01-01"),
                day("2026-11-22"),
                &settings()
            )
            .await,
            Err(StatsError::Period(_))
        ));
    }
}
