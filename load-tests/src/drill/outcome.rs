//! What each failure drill measured and its verdict against the targets of
//! issue 7 ("Failure drills"): "rolling restart and replica loss lose no
//! completed login beyond requests in flight on the killed replica; Redis
//! failover makes logins unavailable for under 5 s; no replay accepted and
//! no session lost for acknowledged writes in any drill; full recovery
//! within 10 s of Redis returning; an IdP outage affects only its users."
//!
//! The figures come from the login attempts' time series (each attempt's
//! start, end, population and failure kind), from HAProxy's request log
//! (which replica answered, with which status and termination state) and
//! from the checkers of [`super::probe`]. The report is `drills.txt` and a
//! self-contained `drills.html` (inline SVG, no script).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::probe::{ReplayCheck, SessionCheck};
use super::{DrillName, POPULATIONS};
use crate::record::Mark;
use crate::report::{Series, chart, escape, table};

/// Longest acceptable unavailability during a Redis failover.
pub const FAILOVER_LIMIT_MS: u32 = 5_000;
/// Longest acceptable time from Redis back to the first successful login.
pub const RECOVERY_LIMIT_MS: u32 = 10_000;
/// Slack around a killed replica's failed request when matching it with a
/// failed login (clock of HAProxy's log versus the load's).
const MATCH_SLACK_MS: u32 = 50;

/// One login attempt of the load.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it started, ms since the run started.
    pub start_ms: u32,
    /// When it ended.
    pub end_ms: u32,
    /// Index into [`POPULATIONS`].
    pub population: usize,
    /// Its failure kind; `None` when the user landed logged in.
    pub error: Option<String>,
}

/// One line of HAProxy's request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaproxyLine {
    /// Accept time, ms since the run started.
    pub at_ms: u32,
    /// The server that answered (`gw1`...) or `<NOSRV>`.
    pub server: String,
    /// The status sent to the client (-1 when none).
    pub status: i32,
    /// Termination state (`----` for a normal end).
    pub termination: String,
    /// `METHOD /path`.
    pub step: String,
}

impl HaproxyLine {
    /// Whether the request failed at the server side (5xx or an abnormal
    /// termination).
    pub fn failed(&self) -> bool {
        self.status >= 500 || !self.termination.starts_with('-')
    }
}

/// Parses the lines of the drills' `log-format` (`drill <unix s.ms>
/// <server> <status> <termination> <method> <path>`); `unix_start_ms` is
/// the run's start.
pub fn haproxy_lines(log: &str, unix_start_ms: u64) -> Vec<HaproxyLine> {
    log.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            if fields.next()? != "drill" {
                return None;
            }
            let (seconds, millis) = fields.next()?.split_once('.')?;
            let unix = seconds.parse::<u64>().ok()? * 1000 + millis.parse::<u64>().ok()?;
            let at_ms = u32::try_from(unix.checked_sub(unix_start_ms)?).ok()?;
            let server = fields.next()?.to_owned();
            let status = fields.next()?.parse().ok()?;
            let termination = fields.next()?.to_owned();
            let step = format!("{} {}", fields.next()?, fields.next()?);
            Some(HaproxyLine {
                at_ms,
                server,
                status,
                termination,
                step,
            })
        })
        .collect()
}

/// What happened during one drill, as the driver saw it.
#[derive(Debug, Clone)]
pub struct DrillRun {
    /// Which drill.
    pub name: DrillName,
    /// Start of the baseline, ms since the run started.
    pub start_ms: u32,
    /// Start of the fault.
    pub fault_start_ms: u32,
    /// End of the fault (everything restored).
    pub fault_end_ms: u32,
    /// End of the recovery period.
    pub end_ms: u32,
    /// Timeline.
    pub events: Vec<(u32, String)>,
    /// Replicas stopped or killed, from the signal to ready again.
    pub stopped: Vec<(String, u32, u32)>,
    /// When Redis came back (`redis-down`).
    pub redis_back_ms: Option<u32>,
    /// The IdP taken down (`idp-down`).
    pub affected: Option<&'static str>,
    /// Whether its users got the French unavailable page.
    pub unavailable_page: Option<bool>,
    /// Tickets presented again right after the fault.
    pub replays_after_fault: ReplayCheck,
    /// Tickets presented again at the end of the recovery.
    pub replays: ReplayCheck,
    /// The session pool's check.
    pub sessions: SessionCheck,
    /// Why the drill could not run.
    pub error: Option<String>,
}

impl DrillRun {
    /// A drill starting at `start_ms`.
    pub fn new(name: DrillName, start_ms: u32) -> Self {
        Self {
            name,
            start_ms,
            fault_start_ms: start_ms,
            fault_end_ms: start_ms,
            end_ms: start_ms,
            events: Vec::new(),
            stopped: Vec::new(),
            redis_back_ms: None,
            affected: None,
            unavailable_page: None,
            replays_after_fault: ReplayCheck::default(),
            replays: ReplayCheck::default(),
            sessions: SessionCheck::default(),
            error: None,
        }
    }

    /// Adds an event to the timeline.
    pub fn event(&mut self, at_ms: u32, what: String) {
        self.events.push((at_ms, what));
    }
}

/// The run's parameters, shown in the report.
#[derive(Debug, Clone)]
pub struct Parameters {
    /// The command line.
    pub command: String,
    /// Logins started per second.
    pub rate: f64,
    /// CPUs and model.
    pub machine: String,
    /// Tickets obtained and redeemed once by the checker.
    pub tickets: u64,
    /// The checker's positive control (a fresh ticket accepted once, then
    /// refused); `None` when it could not run.
    pub control: Option<bool>,
}

/// Logins of one population.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempted.
    pub attempted: usize,
    /// Landed logged in.
    pub completed: usize,
    /// Failed.
    pub failed: usize,
}

/// One check of a verdict.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// What was observed.
    pub observed: String,
    /// Whether it holds.
    pub pass: bool,
}

/// One drill's figures and verdict.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The driver's record.
    pub run: DrillRun,
    /// Per population, over the whole drill.
    pub populations: Vec<Counts>,
    /// Per population, during the fault only.
    pub during_fault: Vec<Counts>,
    /// Failure kinds and counts.
    pub kinds: BTreeMap<String, usize>,
    /// Failed logins matched with a failed request on a stopped replica,
    /// per replica.
    pub in_flight: BTreeMap<String, usize>,
    /// The stopped replicas' failed requests in HAProxy's log.
    pub replica_errors: Vec<HaproxyLine>,
    /// Longest interval with attempts but no success: (from, to) ms.
    pub longest_gap: Option<(u32, u32)>,
    /// From Redis back to the first success, ms.
    pub recovery_ms: Option<u32>,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Measured {
    /// Whether every check holds and the drill ran.
    pub fn pass(&self) -> bool {
        self.run.error.is_none() && self.checks.iter().all(|c| c.pass)
    }

    fn gap_ms(&self) -> u32 {
        self.longest_gap.map_or(0, |(a, b)| b - a)
    }
}

fn counts(attempts: &[&Attempt]) -> Vec<Counts> {
    let mut counts = vec![Counts::default(); POPULATIONS.len()];
    for attempt in attempts {
        if let Some(c) = counts.get_mut(attempt.population) {
            c.attempted += 1;
            if attempt.error.is_some() {
                c.failed += 1;
            } else {
                c.completed += 1;
            }
        }
    }
    counts
}

/// The longest interval between two successive successful logins (or the
/// window's edges) in which at least one attempt failed.
pub fn longest_gap(attempts: &[&Attempt], from: u32, to: u32) -> Option<(u32, u32)> {
    let mut successes: Vec<u32> = attempts
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.end_ms)
        .collect();
    successes.sort_unstable();
    let mut edges = vec![from];
    edges.extend(successes);
    edges.push(to);
    edges
        .windows(2)
        .filter_map(|pair| match pair {
            [a, b] if b > a => Some((*a, *b)),
            _ => None,
        })
        .filter(|(a, b)| {
            attempts
                .iter()
                .any(|x| x.error.is_some() && x.end_ms > *a && x.end_ms <= *b)
        })
        .max_by_key(|(a, b)| b - a)
}

fn check(name: &str, observed: String, pass: bool) -> Check {
    Check {
        name: name.to_owned(),
        observed,
        pass,
    }
}

fn measure(run: &DrillRun, attempts: &[Attempt], haproxy: &[HaproxyLine]) -> Measured {
    let mine: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.start_ms >= run.start_ms && a.start_ms < run.end_ms)
        .collect();
    let fault: Vec<&Attempt> = mine
        .iter()
        .copied()
        .filter(|a| a.end_ms >= run.fault_start_ms && a.start_ms <= run.fault_end_ms)
        .collect();
    let mut kinds = BTreeMap::new();
    for attempt in &mine {
        if let Some(kind) = &attempt.error {
            *kinds.entry(kind.clone()).or_insert(0) += 1;
        }
    }
    let replica_errors: Vec<HaproxyLine> = haproxy
        .iter()
        .filter(|line| line.failed())
        .filter(|line| {
            run.stopped.iter().any(|(name, from, to)| {
                *name == line.server && line.at_ms + 2_000 >= *from && line.at_ms <= *to
            })
        })
        .cloned()
        .collect();
    let mut in_flight = BTreeMap::new();
    let mut unexplained = 0;
    for attempt in mine.iter().filter(|a| a.error.is_some()) {
        let matched = replica_errors.iter().find(|line| {
            line.at_ms + MATCH_SLACK_MS >= attempt.start_ms
                && line.at_ms <= attempt.end_ms + MATCH_SLACK_MS
        });
        match matched {
            Some(line) => *in_flight.entry(line.server.clone()).or_insert(0) += 1,
            None => unexplained += 1,
        }
    }
    let longest_gap = longest_gap(&mine, run.start_ms, run.end_ms);
    let recovery_ms = run.redis_back_ms.and_then(|back| {
        mine.iter()
            .filter(|a| a.error.is_none() && a.end_ms >= back)
            .map(|a| a.end_ms - back)
            .min()
    });
    let mut measured = Measured {
        run: run.clone(),
        populations: counts(&mine),
        during_fault: counts(&fault),
        kinds,
        in_flight,
        replica_errors,
        longest_gap,
        recovery_ms,
        checks: Vec::new(),
    };
    measured.checks = checks(&measured, unexplained);
    measured
}

fn checks(m: &Measured, unexplained: usize) -> Vec<Check> {
    let run = &m.run;
    let failed: usize = m.populations.iter().map(|c| c.failed).sum();
    let mut checks = Vec::new();
    match run.name {
        DrillName::RollingRestart | DrillName::ReplicaKill => {
            let in_flight: usize = m.in_flight.values().sum();
            checks.push(check(
                "no failed login beyond requests in flight on the stopped replica",
                format!(
                    "{failed} failed, {in_flight} in flight on {}, {unexplained} otherwise",
                    run.stopped
                        .iter()
                        .map(|(name, ..)| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                unexplained == 0,
            ));
        }
        DrillName::RedisFailover => checks.push(check(
            "logins unavailable for under 5 s",
            format!("longest unavailability {} ms", m.gap_ms()),
            m.gap_ms() < FAILOVER_LIMIT_MS,
        )),
        DrillName::RedisDown => checks.push(check(
            "full recovery within 10 s of Redis returning",
            m.recovery_ms.map_or_else(
                || "no successful login after Redis came back".to_owned(),
                |ms| format!("first successful login {ms} ms after Redis came back"),
            ),
            m.recovery_ms.is_some_and(|ms| ms <= RECOVERY_LIMIT_MS),
        )),
        DrillName::IdpDown => {
            let affected = run.affected.unwrap_or_default();
            let (mut theirs, mut others) = (Counts::default(), Counts::default());
            for (population, c) in POPULATIONS.iter().zip(&m.during_fault) {
                let into = if population.idp == affected {
                    &mut theirs
                } else {
                    &mut others
                };
                into.attempted += c.attempted;
                into.failed += c.failed;
            }
            checks.push(check(
                "the other IdPs' users are unaffected",
                format!(
                    "{} failed of {} during the outage",
                    others.failed, others.attempted
                ),
                others.failed == 0 && others.attempted > 0,
            ));
            checks.push(check(
                "its users get the French unavailable page",
                format!(
                    "{} of {} failed during the outage; page shown: {}",
                    theirs.failed,
                    theirs.attempted,
                    if run.unavailable_page == Some(true) {
                        "yes"
                    } else {
                        "no"
                    }
                ),
                theirs.failed > 0 && run.unavailable_page == Some(true),
            ));
        }
    }
    let replays = [run.replays_after_fault, run.replays];
    checks.push(check(
        "no one-time item accepted twice",
        format!(
            "{} accepted twice of {} re-presented ({} right after the fault, {} of them unanswered; {} unanswered at the end)",
            replays.iter().map(|r| r.accepted_twice).sum::<usize>(),
            replays.iter().map(|r| r.checked).sum::<usize>(),
            run.replays_after_fault.checked,
            run.replays_after_fault.unanswered,
            run.replays.unanswered,
        ),
        replays.iter().all(|r| r.accepted_twice == 0 && r.checked > 0)
            && run.replays.unanswered == 0,
    ));
    let s = run.sessions;
    checks.push(check(
        "no session lost",
        format!(
            "{} lost, {} kept, {} unchecked of {} logged in before the fault",
            s.lost, s.kept, s.unchecked, s.pool
        ),
        s.lost == 0 && s.unchecked == 0 && s.pool > 0,
    ));
    checks
}

/// The drills' report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Parameters.
    pub parameters: Parameters,
    /// Per drill.
    pub drills: Vec<Measured>,
    /// Every attempt (for the chart).
    attempts: Vec<Attempt>,
}

fn control_text(control: Option<bool>) -> &'static str {
    match control {
        Some(true) => "ok",
        Some(false) => "FAIL",
        None => "could not run",
    }
}

fn seconds(ms: u32) -> f64 {
    f64::from(ms) / 1000.0
}

impl Report {
    /// Measures each run.
    pub fn build(
        runs: &[DrillRun],
        attempts: &[Attempt],
        haproxy: &[HaproxyLine],
        parameters: Parameters,
    ) -> Self {
        Self {
            parameters,
            drills: runs.iter().map(|r| measure(r, attempts, haproxy)).collect(),
            attempts: attempts.to_vec(),
        }
    }

    /// 0 when every drill passes, 1 when a target is missed, 2 when a
    /// drill could not run.
    pub fn exit_code(&self) -> u8 {
        if self.drills.iter().any(|d| d.run.error.is_some())
            || self.drills.is_empty()
            || self.parameters.control.is_none()
        {
            2
        } else if self.parameters.control == Some(true) && self.drills.iter().all(Measured::pass) {
            0
        } else {
            1
        }
    }

    fn verdict(&self) -> &'static str {
        match self.exit_code() {
            0 => "PASS",
            1 => "FAIL",
            _ => "COULD NOT RUN",
        }
    }

    /// The text report.
    pub fn text(&self) -> String {
        let p = &self.parameters;
        let mut out = format!(
            "Failure drills — verdict: {}\ncommand: {}\nmachine: {}\nload: {:.1} logins/s (first logins through the ENT, one resource each); one-time items: {} CAS tickets redeemed by the checker\n",
            self.verdict(),
            p.command,
            p.machine,
            p.rate,
            p.tickets
        );
        let _ = writeln!(
            out,
            "replay checker's positive control (a fresh ticket accepted once, then refused): {}",
            control_text(p.control)
        );
        for d in &self.drills {
            let run = &d.run;
            let _ = writeln!(
                out,
                "\n== {} — {} (baseline from {:.1} s, fault {:.1}–{:.1} s, end {:.1} s)",
                run.name.label(),
                if d.pass() { "PASS" } else { "FAIL" },
                seconds(run.start_ms),
                seconds(run.fault_start_ms),
                seconds(run.fault_end_ms),
                seconds(run.end_ms)
            );
            if let Some(err) = &run.error {
                let _ = writeln!(out, "  could not run: {err}");
            }
            for (at, what) in &run.events {
                let _ = writeln!(out, "  {:>7.1} s  {what}", seconds(*at));
            }
            for (population, (all, fault)) in POPULATIONS
                .iter()
                .zip(d.populations.iter().zip(&d.during_fault))
            {
                let _ = writeln!(
                    out,
                    "  {}: {} attempted, {} completed, {} failed (during the fault: {} attempted, {} failed)",
                    population.name,
                    all.attempted,
                    all.completed,
                    all.failed,
                    fault.attempted,
                    fault.failed
                );
            }
            for (kind, count) in &d.kinds {
                let _ = writeln!(out, "  failures: {count} × {kind}");
            }
            for (replica, count) in &d.in_flight {
                let _ = writeln!(
                    out,
                    "  in flight on {replica}: {count} failed login(s) matched with its failed requests"
                );
            }
            for line in &d.replica_errors {
                let _ = writeln!(
                    out,
                    "  HAProxy: {:.1} s {} {} {} {}",
                    seconds(line.at_ms),
                    line.server,
                    line.status,
                    line.termination,
                    line.step
                );
            }
            let _ = writeln!(
                out,
                "  longest unavailability: {}",
                d.longest_gap.map_or_else(
                    || "none (no failed attempt)".to_owned(),
                    |(a, b)| format!("{} ms ({:.1}–{:.1} s)", b - a, seconds(a), seconds(b))
                )
            );
            if run.redis_back_ms.is_some() {
                let _ = writeln!(
                    out,
                    "  Redis back → first successful login: {}",
                    d.recovery_ms
                        .map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms"))
                );
            }
            for c in &d.checks {
                let _ = writeln!(
                    out,
                    "  [{}] {}: {}",
                    if c.pass { "ok" } else { "FAIL" },
                    c.name,
                    c.observed
                );
            }
        }
        out
    }

    /// The HTML report: self-contained, inline SVG, no script.
    pub fn html(&self) -> String {
        let p = &self.parameters;
        let mut out = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>sso-load drills</title><style>\
body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:960px;color:#111}}\
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #999;padding:.2rem .5rem;text-align:left;font-size:.9rem}}\
.pass{{color:#1b5e20}}.fail{{color:#b3261e}}figure{{margin:0 0 1.5rem}}\
.key{{margin-left:1rem;white-space:nowrap}}.key span{{display:inline-block;width:.9rem;height:.9rem;margin-right:.3rem;vertical-align:middle}}\
</style></head><body><h1>Failure drills</h1><p class=\"{}\"><strong>Verdict: {}</strong></p>",
            if self.exit_code() == 0 {
                "pass"
            } else {
                "fail"
            },
            self.verdict()
        );
        out.push_str(&table(
            &["parameter", "value"],
            &[
                vec!["command".into(), p.command.clone()],
                vec!["machine".into(), p.machine.clone()],
                vec!["load".into(), format!("{:.1} logins/s", p.rate)],
                vec![
                    "CAS tickets redeemed by the checker".into(),
                    p.tickets.to_string(),
                ],
                vec![
                    "replay checker's positive control".into(),
                    control_text(p.control).to_owned(),
                ],
            ],
        ));
        out.push_str(&table(
            &["drill", "check", "observed", "result"],
            &self
                .drills
                .iter()
                .flat_map(|d| {
                    d.checks.iter().map(|c| {
                        vec![
                            d.run.name.label().to_owned(),
                            c.name.clone(),
                            c.observed.clone(),
                            if c.pass { "ok" } else { "FAIL" }.to_owned(),
                        ]
                    })
                })
                .collect::<Vec<_>>(),
        ));
        let marks: Vec<Mark> = self
            .drills
            .iter()
            .map(|d| Mark {
                name: d.run.name.label().to_owned(),
                start_ms: d.run.fault_start_ms,
                end_ms: d.run.fault_end_ms.max(d.run.fault_start_ms + 200),
                target_rate: p.rate,
                judged: true,
            })
            .collect();
        let end = self.attempts.iter().map(|a| a.end_ms).max().unwrap_or(0);
        let mut ok = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for a in &self.attempts {
            let into = if a.error.is_none() {
                &mut ok
            } else {
                &mut failed
            };
            *into.entry(a.end_ms / 1000).or_insert(0u32) += 1;
        }
        let series = |name: &str, color, map: &BTreeMap<u32, u32>| Series {
            name: name.to_owned(),
            color,
            points: (0..=end / 1000)
                .map(|s| (f64::from(s), f64::from(map.get(&s).copied().unwrap_or(0))))
                .collect(),
        };
        out.push_str(&chart(
            "logins",
            "Logins ending per second (faults shaded)",
            "logins/s",
            &[
                series("completed", "#1b7a3d", &ok),
                series("failed", "#b3261e", &failed),
            ],
            &marks,
            seconds(end),
        ));
        for d in &self.drills {
            let _ = write!(
                out,
                "<h2>{} <span class=\"{}\">{}</span></h2>",
                escape(d.run.name.label()),
                if d.pass() { "pass" } else { "fail" },
                if d.pass() { "PASS" } else { "FAIL" }
            );
            if let Some(err) = &d.run.error {
                let _ = write!(out, "<p class=\"fail\">Could not run: {}</p>", escape(err));
            }
            out.push_str(&table(
                &["time", "event"],
                &d.run
                    .events
                    .iter()
                    .map(|(at, what)| vec![format!("{:.1} s", seconds(*at)), what.clone()])
                    .collect::<Vec<_>>(),
            ));
            out.push_str(&table(
                &[
                    "population",
                    "attempted",
                    "completed",
                    "failed",
                    "attempted during the fault",
                    "failed during the fault",
                ],
                &POPULATIONS
                    .iter()
                    .zip(d.populations.iter().zip(&d.during_fault))
                    .map(|(p, (all, fault))| {
                        vec![
                            p.name.to_owned(),
                            all.attempted.to_string(),
                            all.completed.to_string(),
                            all.failed.to_string(),
                            fault.attempted.to_string(),
                            fault.failed.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ));
            let mut rows: Vec<Vec<String>> = d
                .kinds
                .iter()
                .map(|(kind, count)| vec![kind.clone(), count.to_string()])
                .collect();
            rows.extend(d.in_flight.iter().map(|(replica, count)| {
                vec![
                    format!("in flight on {replica} (matched with HAProxy's log)"),
                    count.to_string(),
                ]
            }));
            rows.push(vec![
                "longest unavailability".into(),
                d.longest_gap
                    .map_or_else(|| "none".to_owned(), |(a, b)| format!("{} ms", b - a)),
            ]);
            if d.run.redis_back_ms.is_some() {
                rows.push(vec![
                    "Redis back → first successful login".into(),
                    d.recovery_ms
                        .map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms")),
                ]);
            }
            out.push_str(&table(&["failures and figures", "value"], &rows));
        }
        out.push_str("</body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(start_ms: u32, end_ms: u32, error: Option<&str>) -> Attempt {
        Attempt {
            start_ms,
            end_ms,
            population: 0,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn haproxy_lines_are_read_and_failures_recognised() {
        let log = "drill 1000.250 gw2 502 SH-- POST /saml/sp/acs\n\
                   other line\n\
                   drill 1001.005 gw1 200 ---- GET /readyz\n";
        let lines = haproxy_lines(log, 999_000);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].at_ms, 1250);
        assert_eq!(lines[0].server, "gw2");
        assert_eq!(lines[0].step, "POST /saml/sp/acs");
        assert!(lines[0].failed());
        assert_eq!(lines[1].at_ms, 2005);
        assert!(!lines[1].failed());
    }

    #[test]
    fn the_longest_gap_needs_a_failure_inside() {
        let all = [
            attempt(0, 1000, None),
            attempt(900, 2000, Some("HTTP 503")),
            attempt(1000, 4000, None),
            attempt(4000, 4500, None),
        ];
        let refs: Vec<&Attempt> = all.iter().collect();
        assert_eq!(longest_gap(&refs, 0, 5000), Some((1000, 4000)));
        let ok: Vec<&Attempt> = all.iter().filter(|a| a.error.is_none()).collect();
        assert_eq!(longest_gap(&ok, 0, 5000), None);
    }

    fn killed_run() -> DrillRun {
        let mut run = DrillRun::new(DrillName::ReplicaKill, 0);
        run.fault_start_ms = 5_000;
        run.fault_end_ms = 8_000;
        run.end_ms = 12_000;
        run.stopped.push(("gw2".into(), 5_000, 8_000));
        let replays = ReplayCheck {
            checked: 3,
            accepted_twice: 0,
            unanswered: 0,
        };
        run.replays_after_fault = replays;
        run.replays = replays;
        run.sessions = SessionCheck {
            pool: 2,
            kept: 2,
            lost: 0,
            unchecked: 0,
        };
        run
    }

    fn parameters() -> Parameters {
        Parameters {
            command: "sso-load drill".into(),
            rate: 8.0,
            machine: "test".into(),
            tickets: 3,
            control: Some(true),
        }
    }

    #[test]
    fn a_failure_in_flight_on_the_killed_replica_passes_and_any_other_fails() {
        let haproxy = [HaproxyLine {
            at_ms: 4_990,
            server: "gw2".into(),
            status: 502,
            termination: "SH--".into(),
            step: "POST /saml/sp/acs".into(),
        }];
        let in_flight = [
            attempt(1_000, 2_000, None),
            attempt(4_900, 5_010, Some("HTTP 502 at POST /saml/sp/acs")),
            attempt(9_000, 9_500, None),
        ];
        let report = Report::build(&[killed_run()], &in_flight, &haproxy, parameters());
        assert_eq!(report.exit_code(), 0, "{}", report.text());
        assert!(report.text().contains("in flight on gw2: 1"));

        let mut other = in_flight.to_vec();
        other.push(attempt(9_600, 9_700, Some("HTTP 503 at GET /saml/idp/sso")));
        let report = Report::build(&[killed_run()], &other, &haproxy, parameters());
        assert_eq!(report.exit_code(), 1, "{}", report.text());
        assert!(report.text().contains("1 otherwise"));
    }

    #[test]
    fn a_replay_or_a_lost_session_fails_the_drill() {
        let fine = [attempt(1_000, 2_000, None)];
        let report = Report::build(&[killed_run()], &fine, &[], parameters());
        assert_eq!(report.exit_code(), 0, "{}", report.text());
        let html = report.html();
        assert!(html.contains("<svg") && !html.contains("<script"));

        let mut replayed = killed_run();
        replayed.replays.accepted_twice = 1;
        let report = Report::build(&[replayed], &fine, &[], parameters());
        assert_eq!(report.exit_code(), 1);

        let mut lost = killed_run();
        lost.sessions.lost = 1;
        lost.sessions.kept = 1;
        let report = Report::build(&[lost], &fine, &[], parameters());
        assert_eq!(report.exit_code(), 1);

        let mut broken = killed_run();
        broken.error = Some("replica did not start".into());
        let report = Report::build(&[broken], &fine, &[], parameters());
        assert_eq!(report.exit_code(), 2);
    }

    #[test]
    fn a_failover_longer_than_five_seconds_fails() {
        let mut run = killed_run();
        run.name = DrillName::RedisFailover;
        run.stopped.clear();
        let short = [
            attempt(0, 4_000, None),
            attempt(4_000, 5_000, Some("HTTP 503 at POST /saml/sp/acs")),
            attempt(5_000, 8_000, None),
        ];
        let report = Report::build(&[run.clone()], &short, &[], parameters());
        assert_eq!(report.exit_code(), 0, "{}", report.text());
        let long = [
            attempt(0, 2_000, None),
            attempt(4_000, 5_000, Some("HTTP 503 at POST /saml/sp/acs")),
            attempt(5_000, 8_000, None),
        ];
        let report = Report::build(&[run], &long, &[], parameters());
        assert_eq!(report.exit_code(), 1, "{}", report.text());
    }
}
