//! The run's report (issue 6, "Reports"): a text summary with pass/fail
//! against the thresholds, and a self-contained HTML page (no script, no
//! external asset) with graphs drawn as inline SVG: visits per second,
//! login time percentiles and gateway step percentiles over time,
//! failures by kind, CPU by process.
//!
//! The thresholds judge the intervals marked `judged` (a storm's ramp and
//! hold, the step test's holds at 50 % and 80 % of capacity):
//! - share of visits that succeeded (retries included) ≥ 99.7 %;
//! - p95 of a whole login (entry page to landing page, retries and their
//!   pauses included) < 2 s;
//! - p99 of each gateway step < its budget (20 ms by default).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::attack::StepOutcome;
use crate::monitor::Counters;
use crate::record::{Mark, Recorded, Side, quantile};

/// Pass/fail limits.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Minimum share of successful visits, percent.
    pub min_success_percent: f64,
    /// Maximum p95 of a whole login, milliseconds.
    pub login_p95_ms: f64,
    /// Maximum p99 of each gateway step, milliseconds.
    pub step_p99_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_success_percent: 99.7,
            login_p95_ms: 2000.0,
            step_p99_ms: 20.0,
        }
    }
}

/// Everything the report shows.
pub struct Run<'a> {
    /// Shape name.
    pub title: String,
    /// Parameters shown as given (name, value).
    pub parameters: Vec<(String, String)>,
    /// Scenario names and descriptions, by index.
    pub scenarios: Vec<(String, String)>,
    /// What the users recorded.
    pub data: &'a Recorded,
    /// Counters sampled every second.
    pub counters: &'a [Counters],
    /// The step test's rates, if it ran.
    pub steps: Option<&'a [StepOutcome]>,
    /// The step test's capacity, logins per second.
    pub capacity: Option<f64>,
    /// The limits.
    pub thresholds: Thresholds,
}

/// One threshold's result.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// What was observed.
    pub observed: String,
    /// The limit.
    pub limit: String,
    /// Whether it holds.
    pub pass: bool,
}

/// Usage of an interval, from the counters at its ends.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Seconds covered by the counters.
    pub seconds: f64,
    /// CPU seconds of the gateway.
    pub gateway_cpu: Option<f64>,
    /// Of the simulators.
    pub testbed_cpu: Option<f64>,
    /// Of the load generator.
    pub generator_cpu: Option<f64>,
    /// Of Redis.
    pub redis_cpu: Option<f64>,
    /// Redis calls by command.
    pub redis_calls: BTreeMap<String, u64>,
    /// Redis network bytes (in + out).
    pub redis_bytes: Option<u64>,
    /// The gateway's resident memory at the end, KiB.
    pub gateway_rss_kib: Option<u64>,
    /// Its peak so far, KiB.
    pub gateway_peak_kib: Option<u64>,
}

/// One step's latencies over an interval, in ms.
#[derive(Debug, Clone)]
pub struct StepFigures {
    /// `METHOD /path`.
    pub name: String,
    /// Who answers it.
    pub side: Side,
    /// Exchanges.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

const STEP_HEADERS: [&str; 7] = ["side", "step", "count", "p50", "p95", "p99", "max"];

impl StepFigures {
    /// The row of the steps table, under [`STEP_HEADERS`].
    fn row(&self) -> Vec<String> {
        vec![
            self.side.label().to_owned(),
            self.name.clone(),
            self.count.to_string(),
            format!("{:.2}", self.p50),
            format!("{:.2}", self.p95),
            format!("{:.2}", self.p99),
            format!("{:.2}", self.max),
        ]
    }
}

/// Figures of one interval.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Visits that ended in it.
    pub visits: usize,
    /// Of which succeeded.
    pub ok: usize,
    /// Successful visits with a login at an IdP.
    pub logins: usize,
    /// Login time percentiles, ms (p50, p95, p99).
    pub login_ms: Option<(f64, f64, f64)>,
    /// Per step, gateway first, slowest p99 first.
    pub steps: Vec<StepFigures>,
    /// Failed attempts by kind.
    pub failures: BTreeMap<String, usize>,
    /// Resource usage.
    pub usage: Usage,
}

fn ms(micros: u32) -> f64 {
    f64::from(micros) / 1000.0
}

fn inside(at: u32, intervals: &[(u32, u32)]) -> bool {
    intervals.iter().any(|(from, to)| at >= *from && at <= *to)
}

fn delta(from: Option<f64>, to: Option<f64>) -> Option<f64> {
    Some(to? - from?).filter(|d| *d >= 0.0)
}

/// Usage over `[from, to]` from the counters sampled nearest its ends.
fn usage(counters: &[Counters], from: u32, to: u32) -> Usage {
    let first = counters.iter().find(|c| c.at_ms >= from);
    let last = counters.iter().rev().find(|c| c.at_ms <= to);
    let (Some(first), Some(last)) = (first, last) else {
        return Usage::default();
    };
    if last.at_ms <= first.at_ms {
        return Usage::default();
    }
    let redis_calls = last
        .redis_calls
        .iter()
        .map(|(name, calls)| {
            let before = first.redis_calls.get(name).copied().unwrap_or(0);
            (name.clone(), calls.saturating_sub(before))
        })
        .filter(|(_, calls)| *calls > 0)
        .collect();
    Usage {
        seconds: f64::from(last.at_ms - first.at_ms) / 1000.0,
        gateway_cpu: delta(first.gateway_cpu, last.gateway_cpu),
        testbed_cpu: delta(first.testbed_cpu, last.testbed_cpu),
        generator_cpu: delta(first.generator_cpu, last.generator_cpu),
        redis_cpu: delta(first.redis_cpu, last.redis_cpu),
        redis_calls,
        redis_bytes: last
            .redis_net_bytes
            .zip(first.redis_net_bytes)
            .map(|(b, a)| b.saturating_sub(a)),
        gateway_rss_kib: last.gateway_rss_kib,
        gateway_peak_kib: last.gateway_peak_kib,
    }
}

/// The figures of the given intervals (usage only when there is one).
pub fn figures(data: &Recorded, counters: &[Counters], intervals: &[(u32, u32)]) -> Figures {
    let visits: Vec<_> = data
        .visits
        .iter()
        .filter(|v| inside(v.at_ms, intervals))
        .collect();
    let mut login_times: Vec<u32> = visits
        .iter()
        .filter(|v| v.ok && v.login)
        .map(|v| v.micros)
        .collect();
    login_times.sort_unstable();
    let login_ms = quantile(&login_times, 0.5)
        .zip(quantile(&login_times, 0.95))
        .zip(quantile(&login_times, 0.99))
        .map(|((a, b), c)| (ms(a), ms(b), ms(c)));
    let mut per_step: Vec<Vec<u32>> = vec![Vec::new(); data.steps.len()];
    for sample in data.samples.iter().filter(|s| inside(s.at_ms, intervals)) {
        if let Some(values) = per_step.get_mut(usize::from(sample.step)) {
            values.push(sample.micros);
        }
    }
    let mut steps = Vec::new();
    for ((name, side), mut values) in data.steps.iter().zip(per_step) {
        values.sort_unstable();
        let q = |p| quantile(&values, p).map_or(0.0, ms);
        if !values.is_empty() {
            steps.push(StepFigures {
                name: name.clone(),
                side: *side,
                count: values.len(),
                p50: q(0.5),
                p95: q(0.95),
                p99: q(0.99),
                max: q(1.0),
            });
        }
    }
    steps.sort_by(|a, b| a.side.cmp(&b.side).then(b.p99.total_cmp(&a.p99)));
    let mut failures = BTreeMap::new();
    for failure in data.failures.iter().filter(|f| inside(f.at_ms, intervals)) {
        if let Some(kind) = data.failure_kinds.get(usize::from(failure.kind)) {
            *failures.entry(kind.clone()).or_insert(0) += 1;
        }
    }
    let usage = match intervals {
        [(from, to)] => usage(counters, *from, *to),
        _ => Usage::default(),
    };
    Figures {
        visits: visits.len(),
        ok: visits.iter().filter(|v| v.ok).count(),
        logins: visits.iter().filter(|v| v.ok && v.login).count(),
        login_ms,
        steps,
        failures,
        usage,
    }
}

impl Run<'_> {
    fn interval_figures(&self, intervals: &[(u32, u32)]) -> Figures {
        figures(self.data, self.counters, intervals)
    }

    fn judged(&self) -> Vec<(u32, u32)> {
        self.data
            .marks
            .iter()
            .filter(|m| m.judged)
            .map(|m| (m.start_ms, m.end_ms))
            .collect()
    }

    /// The figures of every judged interval together.
    pub fn judged_figures(&self) -> Figures {
        self.interval_figures(&self.judged())
    }

    /// The thresholds' results over the judged intervals.
    pub fn verdict(&self) -> Vec<Check> {
        let t = self.thresholds;
        let judged = self.judged();
        if judged.is_empty() {
            return vec![Check {
                name: "an interval to judge".into(),
                observed: "none (the step test found no rate that held)".into(),
                limit: "at least one".into(),
                pass: false,
            }];
        }
        let f = self.interval_figures(&judged);
        let success = if f.visits == 0 {
            0.0
        } else {
            100.0 * f.ok as f64 / f.visits as f64
        };
        let mut checks = vec![Check {
            name: "successful visits (retries included)".into(),
            observed: format!("{success:.2} % of {}", f.visits),
            limit: format!("≥ {} %", t.min_success_percent),
            pass: f.visits > 0 && success >= t.min_success_percent,
        }];
        let p95 = f.login_ms.map(|(_, p95, _)| p95);
        checks.push(Check {
            name: "p95 of a whole login".into(),
            observed: p95.map_or("no login".into(), |p| format!("{p:.0} ms")),
            limit: format!("< {} ms", t.login_p95_ms),
            pass: p95.is_some_and(|p| p < t.login_p95_ms)
                || (p95.is_none() && f.ok > 0 && f.logins == 0),
        });
        for step in f.steps.iter().filter(|step| step.side == Side::Gateway) {
            checks.push(Check {
                name: format!("p99 of {}", step.name),
                observed: format!("{:.2} ms", step.p99),
                limit: format!("< {} ms", t.step_p99_ms),
                pass: step.p99 < t.step_p99_ms,
            });
        }
        checks
    }
}

fn per(value: Option<f64>, count: usize, scale: f64) -> String {
    match value {
        Some(v) if count > 0 => format!("{:.3}", v * scale / count as f64),
        _ => "–".into(),
    }
}

fn cores(value: Option<f64>, seconds: f64) -> String {
    match value {
        Some(v) if seconds > 0.0 => format!("{:.2}", v / seconds),
        _ => "–".into(),
    }
}

/// Rows of the intervals table: name, target, achieved, success, login
/// p95, gateway CPU per visit, cores by process.
fn interval_rows(run: &Run<'_>) -> Vec<[String; 11]> {
    run.data
        .marks
        .iter()
        .map(|mark: &Mark| {
            let f = run.interval_figures(&[(mark.start_ms, mark.end_ms)]);
            let seconds = f64::from(mark.end_ms.saturating_sub(mark.start_ms)) / 1000.0;
            let u = &f.usage;
            [
                format!("{}{}", mark.name, if mark.judged { " *" } else { "" }),
                format!("{:.1}", mark.target_rate),
                format!("{:.1}", f.ok as f64 / seconds.max(1.0)),
                format!("{:.1}", f.logins as f64 / seconds.max(1.0)),
                if f.visits == 0 {
                    "–".into()
                } else {
                    format!("{:.2}", 100.0 * f.ok as f64 / f.visits as f64)
                },
                f.login_ms
                    .map_or("–".into(), |(_, p95, _)| format!("{p95:.0}")),
                per(u.gateway_cpu, f.ok, 1000.0),
                cores(u.gateway_cpu, u.seconds),
                cores(u.testbed_cpu, u.seconds),
                cores(u.generator_cpu, u.seconds),
                cores(u.redis_cpu, u.seconds),
            ]
        })
        .collect()
}

/// Gateway steps by interval: the header (step, then each interval) and
/// one row per gateway step, each cell `p50 / p95 / p99` in ms.
fn steps_by_interval(run: &Run<'_>) -> (Vec<String>, Vec<Vec<String>>) {
    let marks = &run.data.marks;
    let per_mark: Vec<Figures> = marks
        .iter()
        .map(|m| run.interval_figures(&[(m.start_ms, m.end_ms)]))
        .collect();
    let mut header = vec!["gateway step".to_owned()];
    header.extend(marks.iter().map(|m| m.name.clone()));
    let rows = run
        .data
        .steps
        .iter()
        .filter(|(_, side)| *side == Side::Gateway)
        .map(|(name, _)| {
            let mut row = vec![name.clone()];
            row.extend(per_mark.iter().map(|f| {
                f.steps
                    .iter()
                    .find(|step| step.name == *name)
                    .map_or("–".into(), |step| {
                        format!("{:.2} / {:.2} / {:.2}", step.p50, step.p95, step.p99)
                    })
            }));
            row
        })
        .collect();
    (header, rows)
}

const INTERVAL_HEADERS: [&str; 11] = [
    "interval (* judged)",
    "target visits/s",
    "visits/s",
    "logins/s",
    "success %",
    "login p95 ms",
    "gateway CPU ms/visit",
    "gateway cores",
    "testbed cores",
    "generator cores",
    "Redis cores",
];

/// The text summary.
pub fn text(run: &Run<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "sso-load {} — summary", run.title);
    for (name, value) in &run.parameters {
        let _ = writeln!(out, "  {name}: {value}");
    }
    let checks = run.verdict();
    let pass = checks.iter().all(|c| c.pass);
    let _ = writeln!(out, "\nVerdict: {}", if pass { "PASS" } else { "FAIL" });
    for check in &checks {
        let _ = writeln!(
            out,
            "  [{}] {}: {} (limit {})",
            if check.pass { "ok" } else { "FAIL" },
            check.name,
            check.observed,
            check.limit
        );
    }
    if let Some(steps) = run.steps {
        let _ = writeln!(out, "\nStep test");
        for step in steps {
            let _ = writeln!(
                out,
                "  target {:.1} visits/s: {:.1} logins/s, success {:.2} %, login p95 {:.0} ms, worst gateway p99 {:.2} ms{}",
                step.target,
                step.achieved,
                step.success,
                step.login_p95_ms,
                step.worst_p99_ms,
                step.broke
                    .as_ref()
                    .map_or(String::new(), |b| format!(" — broke: {b}"))
            );
        }
        let _ = writeln!(
            out,
            "  capacity: {}",
            run.capacity
                .map_or("none found".into(), |c| format!("{c:.1} logins/s"))
        );
    }
    let _ = writeln!(out, "\nIntervals");
    let _ = writeln!(out, "  {}", INTERVAL_HEADERS.join(" | "));
    for row in interval_rows(run) {
        let _ = writeln!(out, "  {}", row.join(" | "));
    }
    let (header, rows) = steps_by_interval(run);
    let _ = writeln!(out, "\nGateway steps by interval, p50 / p95 / p99 (ms)");
    let _ = writeln!(out, "  {}", header.join(" | "));
    for row in rows {
        let _ = writeln!(out, "  {}", row.join(" | "));
    }
    let f = run.judged_figures();
    let _ = writeln!(out, "\nSteps over the judged intervals (ms)");
    let _ = writeln!(out, "  {}", STEP_HEADERS.join(" | "));
    for step in &f.steps {
        let _ = writeln!(out, "  {}", step.row().join(" | "));
    }
    if let Some(usage) = cost(run) {
        let _ = writeln!(out, "\nCost per visit over the judged intervals");
        for (name, value) in usage {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    let _ = writeln!(out, "\nFailed attempts by kind (whole run)");
    let all = run.interval_figures(&[(0, u32::MAX)]);
    if all.failures.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (kind, count) in &all.failures {
        let _ = writeln!(out, "  {count} × {kind}");
    }
    out
}

/// Per-visit costs over the judged intervals, summed interval by interval.
fn cost(run: &Run<'_>) -> Option<Vec<(String, String)>> {
    let mut visits = 0;
    let mut logins = 0;
    let mut total = Usage::default();
    let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    for mark in run.data.marks.iter().filter(|m| m.judged) {
        let f = run.interval_figures(&[(mark.start_ms, mark.end_ms)]);
        visits += f.ok;
        logins += f.logins;
        let u = f.usage;
        total.seconds += u.seconds;
        total.gateway_cpu = add(total.gateway_cpu, u.gateway_cpu);
        total.redis_cpu = add(total.redis_cpu, u.redis_cpu);
        total.redis_bytes = add(
            total.redis_bytes.map(|b| b as f64),
            u.redis_bytes.map(|b| b as f64),
        )
        .map(|b| b as u64);
        for (name, calls) in u.redis_calls {
            *total.redis_calls.entry(name).or_insert(0) += calls;
        }
        total.gateway_rss_kib = u.gateway_rss_kib.or(total.gateway_rss_kib);
        total.gateway_peak_kib = u.gateway_peak_kib.or(total.gateway_peak_kib);
    }
    if visits == 0 {
        return None;
    }
    let mut rows = vec![
        (
            "successful visits".into(),
            format!("{visits} ({logins} with a login)"),
        ),
        (
            "gateway CPU per visit".into(),
            format!("{} ms", per(total.gateway_cpu, visits, 1000.0)),
        ),
        (
            "Redis CPU per visit".into(),
            format!("{} ms", per(total.redis_cpu, visits, 1000.0)),
        ),
        (
            "Redis bytes per visit (in + out)".into(),
            per(total.redis_bytes.map(|b| b as f64), visits, 1.0),
        ),
    ];
    let calls: u64 = total.redis_calls.values().sum();
    if calls > 0 {
        let detail = total
            .redis_calls
            .iter()
            .map(|(name, n)| format!("{name} {:.2}", *n as f64 / visits as f64))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push((
            "Redis commands per visit".into(),
            format!("{:.2} ({detail})", calls as f64 / visits as f64),
        ));
    }
    if let Some(rss) = total.gateway_rss_kib {
        rows.push((
            "gateway memory (RSS at the end, peak)".into(),
            format!(
                "{:.1} MiB, {:.1} MiB",
                rss as f64 / 1024.0,
                total.gateway_peak_kib.unwrap_or(rss) as f64 / 1024.0
            ),
        ));
    }
    Some(rows)
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line of a chart: name, colour, points (seconds, value).
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    pub(crate) points: Vec<(f64, f64)>,
}

const COLORS: [&str; 6] = [
    "#1f4e9c", "#b3261e", "#1b7a3d", "#8a4b00", "#6b3fa0", "#00707a",
];

/// An SVG line chart with axes, the judged intervals shaded and a legend;
/// the time axis runs from 0 to `end` seconds (the same for every chart).
pub(crate) fn chart(
    id: &str,
    title: &str,
    unit: &str,
    series: &[Series],
    marks: &[Mark],
    end: f64,
) -> String {
    let (w, h, left, bottom, top, right) = (880.0, 260.0, 60.0, 30.0, 12.0, 12.0);
    let max_x = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(end.max(1.0), f64::max);
    let max_y = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let x = |v: f64| left + (w - left - right) * v / max_x;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max_y);
    let mut svg = format!(
        "<figure><svg role=\"img\" aria-labelledby=\"{id}-t\" viewBox=\"0 0 {w} {h}\" width=\"100%\">\
<title id=\"{id}-t\">{}</title>",
        escape(title)
    );
    for mark in marks.iter().filter(|m| m.judged) {
        let (a, b) = (
            x(f64::from(mark.start_ms) / 1000.0),
            x(f64::from(mark.end_ms) / 1000.0).min(w - right),
        );
        let _ = write!(
            svg,
            "<rect x=\"{a:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#eef2f8\"/>",
            (b - a).max(0.0),
            h - top - bottom
        );
    }
    for i in 0..=4 {
        let value = max_y * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 4.0,
            y(value) + 4.0,
            short(value),
            y = y(value)
        );
    }
    for i in 0..=5 {
        let value = max_x * f64::from(i) / 5.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{:.0} s</text>",
            x(value),
            h - 10.0,
            value
        );
    }
    for s in series {
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/>",
            s.color,
            points.join(" ")
        );
    }
    svg.push_str("</svg><figcaption>");
    let _ = write!(svg, "{} ({})", escape(title), escape(unit));
    for s in series {
        let _ = write!(
            svg,
            " <span class=\"key\"><span style=\"background:{}\"></span>{}</span>",
            s.color,
            escape(&s.name)
        );
    }
    svg.push_str("</figcaption></figure>");
    svg
}

fn short(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Window of the percentile graphs, seconds.
const WINDOW_S: u32 = 10;

fn end_seconds(data: &Recorded) -> u32 {
    data.visits
        .iter()
        .map(|v| v.at_ms)
        .chain(data.samples.iter().map(|s| s.at_ms))
        .max()
        .unwrap_or(0)
        / 1000
        + 1
}

fn rate_series(data: &Recorded) -> Vec<Series> {
    let end = end_seconds(data) as usize;
    let mut logins = vec![0.0; end + 1];
    let mut returning = vec![0.0; end + 1];
    let mut failed = vec![0.0; end + 1];
    for v in &data.visits {
        let second = (v.at_ms / 1000) as usize;
        let bucket = match (v.ok, v.login) {
            (true, true) => &mut logins,
            (true, false) => &mut returning,
            (false, _) => &mut failed,
        };
        if let Some(slot) = bucket.get_mut(second) {
            *slot += 1.0;
        }
    }
    let line = |name: &str, color, values: Vec<f64>| Series {
        name: name.into(),
        color,
        points: values
            .iter()
            .enumerate()
            .map(|(s, v)| (s as f64, *v))
            .collect(),
    };
    vec![
        line("logins", COLORS[0], logins),
        line("visits with the session", COLORS[2], returning),
        line("failed visits", COLORS[1], failed),
    ]
}

fn percentile_series(windows: &BTreeMap<u32, Vec<u32>>) -> Vec<Series> {
    [
        (0.5, "p50", COLORS[2]),
        (0.95, "p95", COLORS[0]),
        (0.99, "p99", COLORS[1]),
    ]
    .into_iter()
    .map(|(q, name, color)| Series {
        name: name.into(),
        color,
        points: windows
            .iter()
            .filter_map(|(w, values)| {
                quantile(values, q).map(|v| (f64::from(w * WINDOW_S + WINDOW_S / 2), ms(v)))
            })
            .collect(),
    })
    .collect()
}

fn windows(values: impl Iterator<Item = (u32, u32)>) -> BTreeMap<u32, Vec<u32>> {
    let mut out: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (at_ms, value) in values {
        out.entry(at_ms / 1000 / WINDOW_S).or_default().push(value);
    }
    for values in out.values_mut() {
        values.sort_unstable();
    }
    out
}

fn failure_series(data: &Recorded) -> Vec<Series> {
    let mut totals: Vec<(usize, usize)> = (0..data.failure_kinds.len()).map(|k| (k, 0)).collect();
    for f in &data.failures {
        if let Some(t) = totals.get_mut(usize::from(f.kind)) {
            t.1 += 1;
        }
    }
    totals.sort_by_key(|t| std::cmp::Reverse(t.1));
    let end = end_seconds(data) / WINDOW_S + 1;
    totals
        .iter()
        .take(COLORS.len())
        .zip(COLORS)
        .map(|((kind, _), color)| {
            let mut counts = vec![0.0; end as usize + 1];
            for f in data
                .failures
                .iter()
                .filter(|f| usize::from(f.kind) == *kind)
            {
                if let Some(c) = counts.get_mut((f.at_ms / 1000 / WINDOW_S) as usize) {
                    *c += 1.0;
                }
            }
            Series {
                name: data.failure_kinds.get(*kind).cloned().unwrap_or_default(),
                color,
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(w, c)| ((w as u32 * WINDOW_S) as f64, *c))
                    .collect(),
            }
        })
        .collect()
}

/// Reads one process's CPU seconds from the counters.
type Reading = fn(&Counters) -> Option<f64>;

fn cpu_series(counters: &[Counters]) -> Vec<Series> {
    let pick: [(&str, Reading); 4] = [
        ("gateway", |c| c.gateway_cpu),
        ("testbed", |c| c.testbed_cpu),
        ("load generator", |c| c.generator_cpu),
        ("Redis", |c| c.redis_cpu),
    ];
    pick.iter()
        .zip(COLORS)
        .map(|((name, get), color)| Series {
            name: (*name).into(),
            color,
            points: counters
                .windows(2)
                .filter_map(|pair| {
                    let [a, b] = pair else { return None };
                    let dt = f64::from(b.at_ms.checked_sub(a.at_ms)?) / 1000.0;
                    let used = delta(get(a), get(b))?;
                    (dt > 0.0).then(|| (f64::from(b.at_ms) / 1000.0, used / dt))
                })
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The HTML report.
pub fn html(run: &Run<'_>) -> String {
    let data = run.data;
    let checks = run.verdict();
    let pass = checks.iter().all(|c| c.pass);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>sso-load {title}</title><style>\
body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:960px;color:#111}}\
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #999;padding:.2rem .5rem;text-align:left;font-size:.9rem}}\
.pass{{color:#1b5e20}}.fail{{color:#b3261e}}figure{{margin:0 0 1.5rem}}\
.key{{margin-left:1rem;white-space:nowrap}}.key span{{display:inline-block;width:.9rem;height:.9rem;margin-right:.3rem;vertical-align:middle}}\
</style></head><body><h1>sso-load {title}</h1>",
        title = escape(&run.title)
    );
    let _ = write!(
        out,
        "<p class=\"{}\"><strong>Verdict: {}</strong></p>",
        if pass { "pass" } else { "fail" },
        if pass { "PASS" } else { "FAIL" }
    );
    out.push_str(&table(
        &["threshold", "observed", "limit", "result"],
        &checks
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.observed.clone(),
                    c.limit.clone(),
                    if c.pass { "ok" } else { "FAIL" }.to_owned(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    out.push_str("<h2>Parameters</h2>");
    out.push_str(&table(
        &["parameter", "value"],
        &run.parameters
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect::<Vec<_>>(),
    ));
    if let Some(steps) = run.steps {
        let _ = write!(
            out,
            "<h2>Step test</h2><p>Capacity found: <strong>{}</strong></p>",
            run.capacity
                .map_or("none".into(), |c| format!("{c:.1} logins/s"))
        );
        out.push_str(&table(
            &[
                "target visits/s",
                "logins/s",
                "success %",
                "login p95 ms",
                "worst gateway p99 ms",
                "broke",
            ],
            &steps
                .iter()
                .map(|s| {
                    vec![
                        format!("{:.1}", s.target),
                        format!("{:.1}", s.achieved),
                        format!("{:.2}", s.success),
                        format!("{:.0}", s.login_p95_ms),
                        format!("{:.2}", s.worst_p99_ms),
                        s.broke.clone().unwrap_or_else(|| "no".into()),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
    }
    out.push_str("<h2>Over time</h2><p>Shaded: the intervals the thresholds judge.</p>");
    let end = f64::from(end_seconds(data));
    out.push_str(&chart(
        "rate",
        "Visits per second",
        "per second",
        &rate_series(data),
        &data.marks,
        end,
    ));
    let logins = windows(
        data.visits
            .iter()
            .filter(|v| v.ok && v.login)
            .map(|v| (v.at_ms, v.micros)),
    );
    out.push_str(&chart(
        "login",
        "Whole login time, percentiles per 10 s",
        "ms",
        &percentile_series(&logins),
        &data.marks,
        end,
    ));
    let gateway = windows(
        data.samples
            .iter()
            .filter(|s| {
                data.steps
                    .get(usize::from(s.step))
                    .is_some_and(|(_, side)| *side == Side::Gateway)
            })
            .map(|s| (s.at_ms, s.micros)),
    );
    out.push_str(&chart(
        "steps",
        "Gateway steps (all together), percentiles per 10 s",
        "ms",
        &percentile_series(&gateway),
        &data.marks,
        end,
    ));
    let failures = failure_series(data);
    if failures.is_empty() {
        out.push_str("<p>No failed attempt.</p>");
    } else {
        out.push_str(&chart(
            "failures",
            "Failed attempts by kind, per 10 s",
            "count",
            &failures,
            &data.marks,
            end,
        ));
    }
    let cpu = cpu_series(run.counters);
    if !cpu.is_empty() {
        out.push_str(&chart(
            "cpu",
            "CPU used by process",
            "cores",
            &cpu,
            &data.marks,
            end,
        ));
    }
    out.push_str("<h2>Intervals</h2>");
    out.push_str(&table(
        &INTERVAL_HEADERS,
        &interval_rows(run)
            .into_iter()
            .map(Vec::from)
            .collect::<Vec<_>>(),
    ));
    let (header, rows) = steps_by_interval(run);
    out.push_str("<h2>Gateway steps by interval, p50 / p95 / p99 (ms)</h2>");
    out.push_str(&table(
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        &rows,
    ));
    if let Some(rows) = cost(run) {
        out.push_str("<h2>Cost per visit (judged intervals)</h2>");
        out.push_str(&table(
            &["figure", "value"],
            &rows
                .into_iter()
                .map(|(k, v)| vec![k, v])
                .collect::<Vec<_>>(),
        ));
    }
    let f = run.judged_figures();
    out.push_str("<h2>Steps (judged intervals, ms)</h2>");
    out.push_str(&table(
        &STEP_HEADERS,
        &f.steps.iter().map(StepFigures::row).collect::<Vec<_>>(),
    ));
    let scenario_rows: Vec<Vec<String>> = run
        .scenarios
        .iter()
        .enumerate()
        .map(|(index, (name, description))| {
            let of: Vec<_> = data
                .visits
                .iter()
                .filter(|v| usize::from(v.scenario) == index)
                .collect();
            vec![
                name.clone(),
                description.clone(),
                of.len().to_string(),
                of.iter().filter(|v| v.ok).count().to_string(),
                of.iter().filter(|v| v.attempts > 1).count().to_string(),
                of.iter()
                    .map(|v| usize::from(v.accesses))
                    .sum::<usize>()
                    .to_string(),
            ]
        })
        .collect();
    out.push_str("<h2>Scenarios (whole run)</h2>");
    out.push_str(&table(
        &[
            "scenario",
            "description",
            "visits",
            "succeeded",
            "retried",
            "resources opened",
        ],
        &scenario_rows,
    ));
    let all = run.interval_figures(&[(0, u32::MAX)]);
    out.push_str("<h2>Failed attempts by kind (whole run)</h2>");
    out.push_str(&table(
        &["kind", "count"],
        &all.failures
            .iter()
            .map(|(k, c)| vec![k.clone(), c.to_string()])
            .collect::<Vec<_>>(),
    ));
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Recorder, Visit};
    use std::time::Duration;

    fn visit(ok: bool, micros: u32) -> Visit {
        Visit {
            at_ms: 0,
            scenario: 0,
            ok,
            login: true,
            attempts: if ok { 1 } else { 3 },
            micros,
            accesses: 0,
        }
    }

    fn run_with(recorder: &Recorder) -> Recorded {
        recorder.mark(Mark {
            name: "hold".into(),
            start_ms: 0,
            end_ms: u32::MAX,
            target_rate: 10.0,
            judged: true,
        });
        recorder.snapshot()
    }

    fn report(data: &Recorded) -> Run<'_> {
        Run {
            title: "test".into(),
            parameters: vec![("shape".into(), "test".into())],
            scenarios: vec![("pupil".into(), "Élève".into())],
            data,
            counters: &[],
            steps: None,
            capacity: None,
            thresholds: Thresholds::default(),
        }
    }

    #[test]
    fn a_clean_run_passes_and_each_breach_fails_its_own_check() {
        let recorder = Recorder::new();
        for _ in 0..1000 {
            recorder.visit(visit(true, 300_000));
            recorder.step("POST /saml/sp/acs", Side::Gateway, Duration::from_millis(5));
        }
        let data = run_with(&recorder);
        let checks = report(&data).verdict();
        assert!(checks.iter().all(|c| c.pass), "{checks:?}");
        let summary = text(&report(&data));
        assert!(summary.contains("Verdict: PASS"), "{summary}");
        assert!(
            summary.contains("POST /saml/sp/acs | 5.00 / 5.00 / 5.00"),
            "by interval: {summary}"
        );

        // 4 failed visits in 1004: 99.6 % < 99.7 %.
        for _ in 0..4 {
            recorder.visit(visit(false, 0));
        }
        recorder.failure("HTTP 503 at POST /saml/sp/acs");
        let data = run_with(&recorder);
        let checks = report(&data).verdict();
        let failed: Vec<_> = checks.iter().filter(|c| !c.pass).collect();
        assert_eq!(failed.len(), 1, "{checks:?}");
        assert!(failed[0].name.contains("successful visits"));
        let summary = text(&report(&data));
        assert!(summary.contains("Verdict: FAIL"), "{summary}");
        assert!(
            summary.contains("1 × HTTP 503 at POST /saml/sp/acs"),
            "{summary}"
        );
    }

    #[test]
    fn slow_logins_and_slow_gateway_steps_fail() {
        let recorder = Recorder::new();
        for i in 0..100 {
            let slow = i >= 90;
            recorder.visit(visit(true, if slow { 2_500_000 } else { 400_000 }));
            let step = if slow { 25 } else { 4 };
            recorder.step(
                "GET /saml/idp/sso",
                Side::Gateway,
                Duration::from_millis(step),
            );
            recorder.step(
                "POST /testbed/educonnect/login",
                Side::Testbed,
                Duration::from_millis(80),
            );
        }
        let data = run_with(&recorder);
        let checks = report(&data).verdict();
        let failed: Vec<_> = checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            failed,
            ["p95 of a whole login", "p99 of GET /saml/idp/sso"],
            "{checks:?}"
        );
        assert!(
            !checks.iter().any(|c| c.name.contains("testbed")),
            "testbed steps are shown, not judged"
        );
    }

    #[test]
    fn no_judged_interval_fails() {
        let recorder = Recorder::new();
        recorder.visit(visit(true, 1000));
        let data = recorder.snapshot();
        let checks = report(&data).verdict();
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].pass);
    }

    #[test]
    fn the_html_report_is_self_contained_and_escapes() {
        let recorder = Recorder::new();
        recorder.visit(visit(true, 300_000));
        recorder.step("GET /login?<x>", Side::Gateway, Duration::from_millis(3));
        recorder.failure("unexpected page at GET /<script>");
        let data = run_with(&recorder);
        let page = html(&report(&data));
        assert!(page.contains("<svg role=\"img\""), "charts drawn inline");
        assert!(!page.contains("<script"), "no script, escaped names");
        assert!(page.contains("&lt;script&gt;"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external asset"
        );
    }

    #[test]
    fn usage_is_the_difference_of_the_counters_at_the_ends() {
        let at = |ms: u32, cpu: f64, calls: u64| Counters {
            at_ms: ms,
            gateway_cpu: Some(cpu),
            redis_calls: [("get".to_owned(), calls)].into_iter().collect(),
            redis_net_bytes: Some(u64::from(ms)),
            ..Counters::default()
        };
        let counters = [
            at(0, 1.0, 10),
            at(1000, 1.5, 20),
            at(2000, 2.5, 40),
            at(3000, 9.0, 90),
        ];
        let u = usage(&counters, 500, 2500);
        assert_eq!(u.seconds, 1.0);
        assert_eq!(u.gateway_cpu, Some(1.0));
        assert_eq!(u.redis_calls.get("get"), Some(&20));
        assert_eq!(u.redis_bytes, Some(1000));
        assert_eq!(
            usage(&counters, 2500, 2600).seconds,
            0.0,
            "no sample inside"
        );
    }
}
