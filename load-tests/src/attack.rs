//! Driving the simulated users with goose: one goose user per simulated
//! person, each cycling through visits at the mix's period (a rate of R
//! visits per second is R × period users), ramped in by a goose test plan.
//!
//! A visit that fails is retried twice, each time after a pause drawn
//! between 0.5 and 5 seconds, as a user clicking again would (issue 6,
//! "Load shapes"). Each failed attempt is recorded with its kind; the
//! visit counts as failed only when the third attempt fails too.
//!
//! The step test runs one goose attack per rate, judges the rate on the
//! interval held at it, and stops at the first rate whose visits fail
//! beyond the success threshold, whose logins exceed the latency budget
//! (p95 of a whole login), or that the stack cannot keep up with (fewer
//! than 90 % of the visits aimed at): the last rate that held is the
//! capacity. Then it holds at 50 % of the capacity, judged by every
//! threshold (the per-step p99 budget applies at half of saturation), and
//! at 80 %, shown but not judged.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::GooseAttack;
use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::goose::{GooseUser, Scenario, Transaction, TransactionFunction, TransactionResult};
use rand::Rng;

use crate::monitor::{Counters, Monitor};
use crate::plan::{Mix, Segment, StepPlan};
use crate::record::{Mark, Recorder, Side, Visit, micros};
use crate::report::{Thresholds, figures};
use crate::walk::{Browser, Targets, VisitPlan, Walk, visit};

/// Attempts per visit: the first and two retries.
const ATTEMPTS: u8 = 3;
/// A request not answered in this time fails as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every simulated user reads.
pub struct Context {
    /// The mix.
    pub mix: Mix,
    /// Where to go.
    pub targets: Targets,
    /// Where to record.
    pub recorder: Recorder,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

/// Why a run could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// The context was set twice (one run per process).
    #[error("the load test context is already set")]
    ContextSet,
    /// Goose refused the configuration or failed.
    #[error("goose: {0}")]
    Goose(String),
}

/// Sets the run's context; once per process.
pub fn install(context: Context) -> Result<&'static Context, AttackError> {
    CONTEXT.set(context).map_err(|_| AttackError::ContextSet)?;
    CONTEXT.get().ok_or(AttackError::ContextSet)
}

/// A simulated user's state between visits.
#[derive(Clone)]
struct UserState {
    browser: Arc<Browser>,
    visits: usize,
}

type Cycle<'r> = Pin<Box<dyn Future<Output = TransactionResult> + Send + 'r>>;

fn cycle_for(index: usize) -> Transaction {
    let function: TransactionFunction =
        Arc::new(move |user: &mut GooseUser| -> Cycle<'_> { Box::pin(cycle(user, index)) });
    Transaction::new(function)
}

/// One visit of the user of scenario `index`, then a pause to the end of
/// the period.
async fn cycle(user: &mut GooseUser, index: usize) -> TransactionResult {
    let started = Instant::now();
    let (Some(context), Some(scenario)) = (
        CONTEXT.get(),
        CONTEXT.get().and_then(|c| c.mix.scenarios.get(index)),
    ) else {
        return Ok(());
    };
    if user.get_session_data::<UserState>().is_none() {
        let browser = match Browser::new(REQUEST_TIMEOUT) {
            Ok(browser) => browser,
            Err(err) => {
                context.recorder.failure(&format!("browser: {err}"));
                return Ok(());
            }
        };
        user.set_session_data(UserState {
            browser: Arc::new(browser),
            visits: 0,
        });
    }
    let Some(state) = user.get_session_data_mut::<UserState>() else {
        return Ok(());
    };
    let number = state.visits;
    state.visits += 1;
    let browser = Arc::clone(&state.browser);
    let first = number == 0 || !scenario.returning;
    if first {
        browser.forget_all();
    } else {
        browser.keep_only(&context.targets.gateway);
    }
    let accounts = &scenario.accounts;
    let account = accounts
        .get((user.weighted_users_index + number) % accounts.len().max(1))
        .map_or("", String::as_str);
    let walk = Walk {
        browser: &browser,
        targets: &context.targets,
        recorder: &context.recorder,
    };
    let plan = VisitPlan {
        entry: &scenario.entry,
        idp: &scenario.idp,
        account,
        resources: scenario.resources,
        offset: user.weighted_users_index + number,
    };
    let mut outcome = Visit {
        at_ms: 0,
        scenario: u8::try_from(index).unwrap_or(u8::MAX),
        ok: false,
        login: first,
        attempts: 0,
        micros: 0,
        accesses: 0,
    };
    for attempt in 1..=ATTEMPTS {
        outcome.attempts = attempt;
        let attempt_started = Instant::now();
        match visit(&walk, plan).await {
            Ok(landed) => {
                outcome.ok = true;
                outcome.login = landed.logged_in;
                outcome.accesses = landed.accesses;
                let waited = attempt_started.duration_since(started) + landed.login_time;
                outcome.micros = micros(waited);
                break;
            }
            Err(err) => {
                context.recorder.failure(&err.kind());
                if attempt < ATTEMPTS {
                    let pause = rand::rng().random_range(500..=5000);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
    }
    context.recorder.visit(outcome);
    let period = Duration::from_secs_f64(context.mix.period_s);
    if let Some(rest) = period.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    Ok(())
}

fn goose_error(err: impl std::fmt::Display) -> AttackError {
    AttackError::Goose(err.to_string())
}

/// Goose's test plan for segments: each ramps to its users, then holds.
fn test_plan(mix: &Mix, segments: &[Segment]) -> String {
    let mut steps: Vec<String> = segments
        .iter()
        .flat_map(|segment| {
            let users = mix.users_for(segment.rate);
            [
                format!("{users},{}s", segment.ramp.as_secs().max(1)),
                format!("{users},{}s", segment.hold.as_secs()),
            ]
        })
        .collect();
    steps.push("0,1s".to_owned());
    steps.join(";")
}

/// Runs `segments` as one goose attack, recording a mark per segment and
/// sampling the counters every second into `samples`.
pub async fn run_segments(
    context: &'static Context,
    segments: &[Segment],
    monitor: Arc<tokio::sync::Mutex<Monitor>>,
    samples: Arc<Mutex<Vec<Counters>>>,
) -> Result<(), AttackError> {
    let mut attack =
        GooseAttack::initialize_with_config(GooseConfiguration::default()).map_err(goose_error)?;
    for (index, scenario) in context.mix.scenarios.iter().enumerate() {
        if scenario.weight == 0 {
            continue;
        }
        let weight = usize::try_from(scenario.weight).map_err(goose_error)?;
        attack = attack.register_scenario(
            Scenario::new(&scenario.name)
                .set_weight(weight)
                .map_err(goose_error)?
                .register_transaction(cycle_for(index).set_name(&scenario.name)),
        );
    }
    let plan = test_plan(&context.mix, segments);
    attack = set(attack, GooseDefault::Host, context.targets.gateway.as_str())?;
    attack = set(attack, GooseDefault::TestPlan, plan.as_str())?;
    attack = set(attack, GooseDefault::NoPrintMetrics, true)?;
    attack = set(attack, GooseDefault::NoErrorSummary, true)?;
    attack = set(attack, GooseDefault::Quiet, 1)?;

    let start = context.recorder.now_ms();
    let mut offset = start;
    for segment in segments {
        let ramp = u32::try_from(segment.ramp.as_millis()).unwrap_or(u32::MAX);
        let hold = u32::try_from(segment.hold.as_millis()).unwrap_or(u32::MAX);
        context.recorder.mark(Mark {
            name: segment.name.clone(),
            start_ms: offset,
            end_ms: offset.saturating_add(ramp).saturating_add(hold),
            target_rate: segment.rate,
            judged: segment.judged,
        });
        offset = offset.saturating_add(ramp).saturating_add(hold);
    }
    let sampler = tokio::spawn(sample_every_second(context, monitor, samples));
    let result = attack.execute().await;
    sampler.abort();
    result.map(|_| ()).map_err(goose_error)
}

fn set<T>(attack: GooseAttack, key: GooseDefault, value: T) -> Result<GooseAttack, AttackError>
where
    GooseAttack: GooseDefaultType<T>,
{
    attack
        .set_default(key, value)
        .map(|a| *a)
        .map_err(goose_error)
}

async fn sample_every_second(
    context: &'static Context,
    monitor: Arc<tokio::sync::Mutex<Monitor>>,
    samples: Arc<Mutex<Vec<Counters>>>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let counters = monitor.lock().await.read(context.recorder.now_ms()).await;
        samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(counters);
    }
}

/// How one rate of the step test went.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Visits per second aimed at.
    pub target: f64,
    /// Successful logins per second achieved during the hold.
    pub achieved: f64,
    /// Share of visits that succeeded, percent.
    pub success: f64,
    /// p95 of a whole login, milliseconds.
    pub login_p95_ms: f64,
    /// The slowest gateway step's p99, milliseconds.
    pub worst_p99_ms: f64,
    /// Why it failed, if it did.
    pub broke: Option<String>,
}

/// Judges the interval `[from, to]` of a step.
fn judge_step(
    context: &Context,
    target: f64,
    from: u32,
    to: u32,
    thresholds: &Thresholds,
) -> StepOutcome {
    let data = context.recorder.snapshot();
    let f = figures(&data, &[], &[(from, to)]);
    let seconds = (f64::from(to.saturating_sub(from)) / 1000.0).max(1.0);
    let achieved_visits = f.ok as f64 / seconds;
    let success = if f.visits == 0 {
        0.0
    } else {
        100.0 * f.ok as f64 / f.visits as f64
    };
    let login_p95_ms = f.login_ms.map_or(0.0, |(_, p95, _)| p95);
    let worst = f
        .steps
        .iter()
        .filter(|step| step.side == Side::Gateway)
        .map(|step| step.p99)
        .fold(0.0_f64, f64::max);
    let broke = if success < thresholds.min_success_percent {
        Some(format!(
            "success {success:.2} % < {} %",
            thresholds.min_success_percent
        ))
    } else if login_p95_ms > thresholds.login_p95_ms {
        Some(format!(
            "login p95 {login_p95_ms:.0} ms > {} ms",
            thresholds.login_p95_ms
        ))
    } else if achieved_visits < 0.9 * target {
        Some(format!(
            "{achieved_visits:.1} visits/s achieved < 90 % of {target:.1}"
        ))
    } else {
        None
    };
    StepOutcome {
        target,
        achieved: f.logins as f64 / seconds,
        success,
        login_p95_ms,
        worst_p99_ms: worst,
        broke,
    }
}

/// Runs one segment (a rate of the step test, or a hold after it).
async fn run_segment(
    context: &'static Context,
    segment: &Segment,
    monitor: &Arc<tokio::sync::Mutex<Monitor>>,
    samples: &Arc<Mutex<Vec<Counters>>>,
) -> Result<(), AttackError> {
    run_segments(
        context,
        std::slice::from_ref(segment),
        Arc::clone(monitor),
        Arc::clone(samples),
    )
    .await
}

/// The step test: rates from `plan.start`, each `plan.factor` times the
/// previous, until one breaks; then 50 % (judged) and 80 % (shown) of the
/// capacity found. Returns each rate's outcome and the capacity
/// (logins per second of the last rate that held).
pub async fn run_steps(
    context: &'static Context,
    plan: StepPlan,
    thresholds: &Thresholds,
    monitor: Arc<tokio::sync::Mutex<Monitor>>,
    samples: Arc<Mutex<Vec<Counters>>>,
) -> Result<(Vec<StepOutcome>, Option<f64>), AttackError> {
    let mut outcomes = Vec::new();
    let mut capacity: Option<(f64, f64)> = None;
    let mut rate = plan.start;
    while rate <= plan.max {
        let segment = Segment {
            name: format!("step {:.0}/s", rate),
            rate,
            ramp: plan.ramp,
            hold: plan.hold,
            judged: false,
        };
        let start = context.recorder.now_ms();
        run_segment(context, &segment, &monitor, &samples).await?;
        let ramp = u32::try_from(plan.ramp.as_millis()).unwrap_or(u32::MAX);
        let hold = u32::try_from(plan.hold.as_millis()).unwrap_or(u32::MAX);
        let from = start.saturating_add(ramp);
        let outcome = judge_step(context, rate, from, from.saturating_add(hold), thresholds);
        tracing::info!(
            target = rate,
            achieved_logins_per_s = outcome.achieved,
            success = outcome.success,
            login_p95_ms = outcome.login_p95_ms,
            worst_gateway_p99_ms = outcome.worst_p99_ms,
            broke = outcome.broke.as_deref().unwrap_or("no"),
            "step done"
        );
        let broke = outcome.broke.is_some();
        if !broke {
            capacity = Some((rate, outcome.achieved));
        }
        outcomes.push(outcome);
        if broke {
            break;
        }
        rate *= plan.factor;
    }
    if let Some((rate, _)) = capacity {
        for (share, judged) in [(0.5, true), (0.8, false)] {
            let segment = Segment {
                name: format!("{:.0} % of capacity", share * 100.0),
                rate: rate * share,
                ramp: plan.ramp,
                hold: plan.confirm,
                judged,
            };
            run_segment(context, &segment, &monitor, &samples).await?;
        }
    }
    Ok((outcomes, capacity.map(|(_, logins)| logins)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_plans_ramp_then_hold_each_segment() {
        let mix = Mix::load(None).unwrap();
        let segments = [
            Segment {
                name: "a".into(),
                rate: 10.0,
                ramp: Duration::from_secs(60),
                hold: Duration::from_secs(600),
                judged: true,
            },
            Segment {
                name: "b".into(),
                rate: 2.0,
                ramp: Duration::from_secs(30),
                hold: Duration::from_secs(120),
                judged: true,
            },
        ];
        let users = mix.users_for(10.0);
        let calm = mix.users_for(2.0);
        assert_eq!(
            test_plan(&mix, &segments),
            format!("{users},60s;{users},600s;{calm},30s;{calm},120s;0,1s")
        );
    }
}
