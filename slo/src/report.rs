//! Availability against the contract (domain reference §5: at least 99.7 %
//! from 8h to 22h Monday to Friday outside school holidays, at least 97 % at
//! other times). Pure computation over probe records.
//!
//! Method: each record stands for the time from its start to the next
//! record, but for at most twice its probe interval; that time is up when
//! the record is ok, down when it failed. Time no record stands for is
//! uncovered: reported, counted neither up nor down. Availability is up time
//! over covered time, per class (in window, outside). The downtime budget of
//! a class is its share of the whole period's time in that class (0.3 % in
//! the window, 3 % outside); what is left is the budget minus the downtime.
//! The in-window figures are also given per ISO week (Paris dates).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::record::{Outcome, ProbeRecord};
use crate::window::{ClassifyError, Window, paris_instant};

/// Target in the window, in per-mille of the time (99.7 %).
pub const WINDOW_TARGET_PERMILLE: i64 = 997;
/// Target outside the window (97 %).
pub const OUTSIDE_TARGET_PERMILLE: i64 = 970;

/// Why a report cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The period cannot be classified.
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    /// `to` is before `from`.
    #[error("période vide : le {to} est avant le {from}")]
    EmptyPeriod {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// Records of several probes and none chosen.
    #[error("les enregistrements viennent de plusieurs sondes ({0}) : en choisir une avec --probe")]
    SeveralProbes(String),
    /// The chosen probe has no record.
    #[error("aucun enregistrement de la sonde {0:?}")]
    UnknownProbe(String),
}

/// Figures of one class of time (in the window, or outside it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClassFigures {
    /// Time of the period in this class (ms).
    pub total_ms: i64,
    /// Part covered by records (ms).
    pub covered_ms: i64,
    /// Covered and up (ms).
    pub up_ms: i64,
    /// Covered and down (ms).
    pub down_ms: i64,
    /// Target in per-mille.
    pub target_permille: i64,
}

impl ClassFigures {
    fn new(target_permille: i64) -> Self {
        Self {
            target_permille,
            ..Self::default()
        }
    }

    /// Uncovered time (ms).
    pub fn uncovered_ms(&self) -> i64 {
        self.total_ms - self.covered_ms
    }

    /// Up time over covered time, in percent; `None` when nothing is covered.
    pub fn availability_percent(&self) -> Option<f64> {
        (self.covered_ms > 0).then(|| self.up_ms as f64 * 100.0 / self.covered_ms as f64)
    }

    /// Whether the target is met; `None` when nothing is covered.
    pub fn met(&self) -> Option<bool> {
        (self.covered_ms > 0).then(|| {
            i128::from(self.up_ms) * 1000
                >= i128::from(self.target_permille) * i128::from(self.covered_ms)
        })
    }

    /// The downtime allowed over the class's time (ms).
    pub fn budget_ms(&self) -> i64 {
        self.total_ms * (1000 - self.target_permille) / 1000
    }

    /// Budget minus downtime (negative when exceeded).
    pub fn budget_left_ms(&self) -> i64 {
        self.budget_ms() - self.down_ms
    }

    fn add(&mut self, covered: Option<Outcome>, ms: i64) {
        self.total_ms += ms;
        match covered {
            Some(Outcome::Ok) => {
                self.covered_ms += ms;
                self.up_ms += ms;
            }
            Some(Outcome::Failed) => {
                self.covered_ms += ms;
                self.down_ms += ms;
            }
            None => {}
        }
    }
}

/// In-window figures of one ISO week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekFigures {
    /// ISO year.
    pub iso_year: i32,
    /// ISO week number.
    pub iso_week: u32,
    /// The in-window figures of that week.
    pub window: ClassFigures,
}

/// The computed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Académie code.
    pub academie: String,
    /// Académie name.
    pub academie_name: String,
    /// Its zone.
    pub zone: String,
    /// First day (Paris).
    pub from: NaiveDate,
    /// Last day, included (Paris).
    pub to: NaiveDate,
    /// The probe whose records were used.
    pub probe: Option<String>,
    /// Records used (inside the period).
    pub records: usize,
    /// In the window.
    pub window: ClassFigures,
    /// Outside the window.
    pub outside: ClassFigures,
    /// In-window figures per ISO week.
    pub weeks: Vec<WeekFigures>,
}

/// The records of one probe, sorted by time: `probe` when given, else the
/// only probe present.
pub fn select(
    mut records: Vec<ProbeRecord>,
    probe: Option<&str>,
) -> Result<Vec<ProbeRecord>, ReportError> {
    match probe {
        Some(name) => {
            records.retain(|r| r.probe == name);
            if records.is_empty() {
                return Err(ReportError::UnknownProbe(name.to_owned()));
            }
        }
        None => {
            let mut names: Vec<&str> = records.iter().map(|r| r.probe.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            if names.len() > 1 {
                return Err(ReportError::SeveralProbes(names.join(", ")));
            }
        }
    }
    records.sort_by_key(|r| r.time);
    Ok(records)
}

/// Computes the report of `window` over the Paris days `from` to `to`
/// (both included) from `records` (one probe, sorted by time).
pub fn compute(
    window: &Window<'_>,
    records: &[ProbeRecord],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Report, ReportError> {
    if to < from {
        return Err(ReportError::EmptyPeriod { from, to });
    }
    let start = paris_instant(from, NaiveTime::MIN)?;
    let end = paris_instant(
        to.succ_opt().ok_or(ReportError::EmptyPeriod { from, to })?,
        NaiveTime::MIN,
    )?;
    let stretches = window.split(start, end)?;
    let coverage = coverage(records, start, end);
    let mut inside = ClassFigures::new(WINDOW_TARGET_PERMILLE);
    let mut outside = ClassFigures::new(OUTSIDE_TARGET_PERMILLE);
    let mut weeks: BTreeMap<(i32, u32), ClassFigures> = BTreeMap::new();
    let mut next = 0;
    for stretch in &stretches {
        let week = stretch.start.with_timezone(&Paris).date_naive().iso_week();
        let mut cursor = stretch.start;
        while cursor < stretch.end {
            while coverage.get(next).is_some_and(|c| c.end <= cursor) {
                next += 1;
            }
            let (until, state) = match coverage.get(next) {
                Some(c) if c.start <= cursor => (c.end.min(stretch.end), Some(c.outcome)),
                Some(c) => (c.start.min(stretch.end), None),
                None => (stretch.end, None),
            };
            let ms = (until - cursor).num_milliseconds();
            if stretch.in_window {
                inside.add(state, ms);
                weeks
                    .entry((week.year(), week.week()))
                    .or_insert_with(|| ClassFigures::new(WINDOW_TARGET_PERMILLE))
                    .add(state, ms);
            } else {
                outside.add(state, ms);
            }
            cursor = until;
        }
    }
    let academie = window.academie();
    Ok(Report {
        academie: academie.code.clone(),
        academie_name: academie.name.clone(),
        zone: academie
            .zone
            .as_ref()
            .map(|z| z.as_str().to_owned())
            .unwrap_or_default(),
        from,
        to,
        probe: records.first().map(|r| r.probe.clone()),
        records: records
            .iter()
            .filter(|r| r.time >= start && r.time < end)
            .count(),
        window: inside,
        outside,
        weeks: weeks
            .into_iter()
            .map(|((iso_year, iso_week), window)| WeekFigures {
                iso_year,
                iso_week,
                window,
            })
            .collect(),
    })
}

/// The time one record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Covered {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    outcome: Outcome,
}

/// The intervals records stand for, clipped to `[start, end)`, in order and
/// disjoint.
fn coverage(records: &[ProbeRecord], start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Covered> {
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let cap = i64::try_from(record.interval_s)
            .ok()
            .and_then(|s| s.checked_mul(2))
            .and_then(chrono::TimeDelta::try_seconds)
            .and_then(|d| record.time.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let until = records.get(i + 1).map_or(cap, |n| n.time.min(cap));
        let (s, e) = (record.time.max(start), until.min(end));
        if s < e {
            out.push(Covered {
                start: s,
                end: e,
                outcome: record.outcome,
            });
        }
    }
    out
}

fn minutes(ms: i64) -> String {
    format!("{:.1}", ms as f64 / 60_000.0).replace('.', ",")
}

fn percent(figures: &ClassFigures) -> String {
    figures.availability_percent().map_or_else(
        || "non mesurée".to_owned(),
        |p| format!("{p:.3} %").replace('.', ","),
    )
}

fn verdict(figures: &ClassFigures) -> &'static str {
    match figures.met() {
        Some(true) => "objectif atteint",
        Some(false) => "objectif NON atteint",
        None => "aucune mesure",
    }
}

fn target(figures: &ClassFigures) -> String {
    format!("{:.1} %", figures.target_permille as f64 / 10.0).replace('.', ",")
}

fn class_lines(out: &mut String, title: &str, f: &ClassFigures) {
    out.push_str(&format!(
        "{title} (objectif {}) : {} — {}\n",
        target(f),
        percent(f),
        verdict(f)
    ));
    let share = if f.total_ms > 0 {
        format!("{:.1} %", f.covered_ms as f64 * 100.0 / f.total_ms as f64).replace('.', ",")
    } else {
        "—".to_owned()
    };
    out.push_str(&format!(
        "  durée {} min, mesurée {} min ({share}), non couverte {} min\n",
        minutes(f.total_ms),
        minutes(f.covered_ms),
        minutes(f.uncovered_ms())
    ));
    let left = f.budget_left_ms();
    out.push_str(&format!(
        "  indisponibilité {} min ; budget {} min ; {}\n",
        minutes(f.down_ms),
        minutes(f.budget_ms()),
        if left >= 0 {
            format!("reste {} min", minutes(left))
        } else {
            format!("dépassé de {} min", minutes(-left))
        }
    ));
}

/// The report for people (French).
pub fn render_text(report: &Report) -> String {
    let mut out = format!(
        "Disponibilité du {} au {} — académie de {} (zone {})\n",
        report.from.format("%d/%m/%Y"),
        report.to.format("%d/%m/%Y"),
        report.academie_name,
        report.zone
    );
    out.push_str(&format!(
        "Sonde : {} ; {} enregistrement(s) dans la période\n\n",
        report.probe.as_deref().unwrap_or("aucune"),
        report.records
    ));
    class_lines(
        &mut out,
        "Plage contractuelle (8h–22h, lundi–vendredi, jours de classe)",
        &report.window,
    );
    class_lines(&mut out, "Hors plage", &report.outside);
    if !report.weeks.is_empty() {
        out.push_str("\nPar semaine (plage contractuelle) :\n");
        for w in &report.weeks {
            let left = w.window.budget_left_ms();
            out.push_str(&format!(
                "  {}-S{:02} : {} ; indisponibilité {} min ; {}\n",
                w.iso_year,
                w.iso_week,
                percent(&w.window),
                minutes(w.window.down_ms),
                if left >= 0 {
                    format!("budget restant {} min", minutes(left))
                } else {
                    format!("budget dépassé de {} min", minutes(-left))
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use chrono::TimeDelta;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
        paris_instant(date, NaiveTime::from_hms_opt(h, m, 0).unwrap()).unwrap()
    }

    fn record(time: DateTime<Utc>, outcome: Outcome) -> ProbeRecord {
        ProbeRecord {
            time,
            probe: "p".into(),
            target: "t".into(),
            outcome,
            duration_ms: 100,
            interval_s: 60,
            step: None,
            http_status: None,
            reason: None,
        }
    }

    /// A record every minute from `start` to `end` (excluded), failed when
    /// `down` says so.
    fn every_minute(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        down: impl Fn(DateTime<Utc>) -> bool,
    ) -> Vec<ProbeRecord> {
        let mut out = Vec::new();
        let mut t = start;
        while t < end {
            out.push(record(
                t,
                if down(t) {
                    Outcome::Failed
                } else {
                    Outcome::Ok
                },
            ));
            t += TimeDelta::minutes(1);
        }
        out
    }

    const MIN: i64 = 60_000;

    #[test]
    fn failures_count_in_their_own_class() {
        let calendar = Calendar::embedded().unwrap();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let monday = d(2027, 1, 11);
        let (start, end) = (at(monday, 0, 0), at(d(2027, 1, 12), 0, 0));
        // 10 minutes down at 10h (in the window), 30 at 23h (outside).
        let records = every_minute(start, end, |t| {
            (t >= at(monday, 10, 0) && t < at(monday, 10, 10))
                || (t >= at(monday, 23, 0) && t < at(monday, 23, 30))
        });
        let r = compute(&w, &records, monday, monday).unwrap();
        assert_eq!(r.window.total_ms, 14 * 60 * MIN);
        assert_eq!(r.window.covered_ms, r.window.total_ms);
        assert_eq!(r.window.down_ms, 10 * MIN);
        assert_eq!(r.outside.total_ms, 10 * 60 * MIN);
        assert_eq!(r.outside.down_ms, 30 * MIN);
        // 10 min over 840: 98.81 %, missed; budget 2.52 min, exceeded.
        assert_eq!(r.window.met(), Some(false));
        assert_eq!(r.window.budget_ms(), 840 * MIN * 3 / 1000);
        assert!(r.window.budget_left_ms() < 0);
        // 30 min over 600: 95 %, missed outside too.
        assert_eq!(r.outside.met(), Some(false));
        let text = render_text(&r);
        assert!(text.contains("objectif NON atteint"), "{text}");
        assert!(text.contains("dépassé de"), "{text}");
    }

    #[test]
    fn target_met_and_missed_at_the_boundary() {
        let calendar = Calendar::embedded().unwrap();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        // A school week, Monday 11 to Friday 15 January 2027: 70 h = 4200
        // min; 0.3 % is 12.6 min. 12 min down: met; 13 min: missed.
        let (from, to) = (d(2027, 1, 11), d(2027, 1, 15));
        let (start, end) = (at(from, 0, 0), at(d(2027, 1, 16), 0, 0));
        let with_down = |minutes: i64| {
            let first = at(d(2027, 1, 13), 9, 0);
            every_minute(start, end, move |t| {
                t >= first && t < first + TimeDelta::minutes(minutes)
            })
        };
        let met = compute(&w, &with_down(12), from, to).unwrap();
        assert_eq!(met.window.total_ms, 4200 * MIN);
        assert_eq!(met.window.met(), Some(true));
        assert_eq!(
            met.window.budget_left_ms(),
            4200 * MIN * 3 / 1000 - 12 * MIN
        );
        assert_eq!(met.weeks.len(), 1);
        assert_eq!(met.weeks[0].iso_week, 2);
        assert!(render_text(&met).contains("objectif atteint"));
        let missed = compute(&w, &with_down(13), from, to).unwrap();
        assert_eq!(missed.window.met(), Some(false));
        assert!(missed.window.budget_left_ms() < 0);
    }

    #[test]
    fn coverage_gaps_are_reported_not_counted() {
        let calendar = Calendar::embedded().unwrap();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let monday = d(2027, 1, 11);
        // Records from 8h to 10h, then one failed record at 10h (it stands
        // for 2 minutes only, twice its interval), then nothing until 12h,
        // then ok until 22h.
        let mut records = every_minute(at(monday, 8, 0), at(monday, 10, 0), |_| false);
        records.push(record(at(monday, 10, 0), Outcome::Failed));
        records.extend(every_minute(at(monday, 12, 0), at(monday, 22, 0), |_| {
            false
        }));
        let r = compute(&w, &records, monday, monday).unwrap();
        assert_eq!(r.window.down_ms, 2 * MIN);
        assert_eq!(r.window.uncovered_ms(), 118 * MIN);
        assert_eq!(r.window.covered_ms, (14 * 60 - 118) * MIN);
        // The last record (21h59) stands for 1 minute until 22h, then 1
        // minute outside; the night before 8h is uncovered.
        assert_eq!(r.outside.covered_ms, MIN);
        assert_eq!(r.outside.uncovered_ms(), r.outside.total_ms - MIN);
        let expected = (r.window.covered_ms - 2 * MIN) as f64 * 100.0 / r.window.covered_ms as f64;
        assert_eq!(r.window.availability_percent(), Some(expected));
    }

    #[test]
    fn nothing_covered_is_not_a_verdict() {
        let calendar = Calendar::embedded().unwrap();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let r = compute(&w, &[], d(2027, 1, 11), d(2027, 1, 11)).unwrap();
        assert_eq!(r.window.met(), None);
        assert_eq!(r.window.availability_percent(), None);
        assert!(render_text(&r).contains("non mesurée"));
    }

    #[test]
    fn a_period_spanning_holidays_has_less_window_time() {
        let calendar = Calendar::embedded().unwrap();
        // Monday 15 to Sunday 21 February 2027: zone A on holidays, zone B
        // has five school days.
        let (from, to) = (d(2027, 2, 15), d(2027, 2, 21));
        let records = every_minute(at(from, 0, 0), at(d(2027, 2, 22), 0, 0), |t| {
            t >= at(d(2027, 2, 16), 15, 0) && t < at(d(2027, 2, 16), 15, 20)
        });
        let lyon = Window::new(&calendar, "lyon", true).unwrap();
        let a = compute(&lyon, &records, from, to).unwrap();
        assert_eq!(a.window.total_ms, 0);
        assert_eq!(
            a.outside.down_ms,
            20 * MIN,
            "a holiday afternoon is outside"
        );
        assert_eq!(a.outside.met(), Some(true));
        assert!(a.weeks.is_empty());
        let rennes = Window::new(&calendar, "rennes", true).unwrap();
        let b = compute(&rennes, &records, from, to).unwrap();
        assert_eq!(b.window.total_ms, 70 * 60 * MIN);
        assert_eq!(b.window.down_ms, 20 * MIN);
        assert_eq!(b.window.met(), Some(false));
    }

    #[test]
    fn records_are_selected_per_probe() {
        let t = at(d(2027, 1, 11), 9, 0);
        let mut other = record(t, Outcome::Ok);
        other.probe = "q".into();
        let both = vec![record(t, Outcome::Ok), other];
        assert!(matches!(
            select(both.clone(), None).unwrap_err(),
            ReportError::SeveralProbes(_)
        ));
        assert_eq!(select(both.clone(), Some("q")).unwrap().len(), 1);
        assert!(matches!(
            select(both, Some("z")).unwrap_err(),
            ReportError::UnknownProbe(_)
        ));
    }

    #[test]
    fn a_period_reaching_a_missing_year_is_refused() {
        let calendar = Calendar::embedded().unwrap();
        let w = Window::new(&calendar, "rennes", true).unwrap();
        let err = compute(&w, &[], d(2027, 8, 30), d(2027, 9, 3)).unwrap_err();
        assert!(err.to_string().contains("2027-2028"), "{err}");
        assert!(
            compute(&w, &[], d(2027, 8, 23), d(2027, 8, 29)).is_ok(),
            "positive control"
        );
    }
}
