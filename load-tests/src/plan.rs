//! What a run does: the mix of users (a TOML file) and the load shape.
//!
//! The mix (issue 6, "Scenarios"): each scenario is a kind of user with
//! its identity provider, its accounts at the simulated IdP, where it
//! starts (the ENT, or a resource reached directly), how many médiacentre
//! resources it opens, and whether it comes back with the session it
//! holds. Weights set the proportions.
//!
//! The shapes (issue 6, "Load shapes") are rates of visits per second:
//! each simulated user makes one visit every `period_s` seconds, so a
//! rate R needs R × period users, and goose ramps users in linearly.
//! - smoke: 1 minute at a low rate (CI);
//! - storm: the Monday 8h storm, ramp to the rate in 60 s, hold 10 min;
//! - rentrée: three storms separated by calmer periods;
//! - soak: hours at a moderate rate;
//! - step: raise the rate until the error rate or the latency budget (p95
//!   of a whole login) is exceeded or the stack cannot keep up, then hold
//!   at 50 % (judged) and 80 % (shown) of the capacity found.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The mix shipped with the crate (`load-tests/mix.toml`).
pub const DEFAULT_MIX: &str = include_str!("../mix.toml");

/// Why a mix file is refused.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    /// The file cannot be read.
    #[error("cannot read the mix file {path}: {reason}")]
    Read {
        /// Which file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TOML does not parse or has unknown fields.
    #[error("mix file {path}: {reason}")]
    Parse {
        /// Which file.
        path: String,
        /// The parser's message (line and column included).
        reason: String,
    },
    /// A scenario is unusable.
    #[error("mix file {path}, scenario `{scenario}`: {reason}")]
    Scenario {
        /// Which file.
        path: String,
        /// Which scenario.
        scenario: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Nothing to run.
    #[error("mix file {path}: {reason}")]
    Empty {
        /// Which file.
        path: String,
        /// What is missing.
        reason: &'static str,
    },
}

/// One kind of user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (reports).
    pub name: String,
    /// What it plays, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Relative share of the users.
    pub weight: u32,
    /// The upstream IdP's id at the gateway (the discovery page's link
    /// `/login/<idp>`).
    pub idp: String,
    /// Where the browser starts, relative to the testbed's URL (the ENT's
    /// login, or a resource's).
    pub entry: String,
    /// Accounts at the simulated IdP, used in turn.
    pub accounts: Vec<String>,
    /// Médiacentre resources opened after landing (from the ENT's list).
    #[serde(default)]
    pub resources: u8,
    /// Keeps the gateway's session between visits: a returning user.
    #[serde(default)]
    pub returning: bool,
}

/// The mix of users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Seconds between two visits of one user.
    pub period_s: f64,
    /// The kinds of users.
    #[serde(rename = "scenario")]
    pub scenarios: Vec<Scenario>,
}

impl Mix {
    /// Parses and checks a mix; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, MixError> {
        let mix: Mix = toml::from_str(text).map_err(|err| MixError::Parse {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        let refuse = |scenario: &Scenario, reason| MixError::Scenario {
            path: path.to_owned(),
            scenario: scenario.name.clone(),
            reason,
        };
        if !(mix.period_s.is_finite() && mix.period_s >= 0.5) {
            return Err(MixError::Empty {
                path: path.to_owned(),
                reason: "period_s must be at least 0.5 seconds",
            });
        }
        if mix.scenarios.iter().all(|s| s.weight == 0) {
            return Err(MixError::Empty {
                path: path.to_owned(),
                reason: "no scenario has a weight above 0",
            });
        }
        if mix.scenarios.len() > usize::from(u8::MAX) {
            return Err(MixError::Empty {
                path: path.to_owned(),
                reason: "at most 255 scenarios",
            });
        }
        for scenario in &mix.scenarios {
            if scenario.accounts.is_empty() {
                return Err(refuse(scenario, "no account to log in with"));
            }
            if !scenario.entry.starts_with('/') {
                return Err(refuse(
                    scenario,
                    "entry must be a path on the testbed, starting with /",
                ));
            }
            if scenario.idp.is_empty() || scenario.idp.contains(['/', '?', '#']) {
                return Err(refuse(scenario, "idp must be an IdP id of the gateway"));
            }
        }
        Ok(mix)
    }

    /// Reads a mix file, or the default mix.
    pub fn load(path: Option<&Path>) -> Result<Self, MixError> {
        match path {
            None => Self::parse(DEFAULT_MIX, "load-tests/mix.toml (built in)"),
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|err| MixError::Read {
                    path: shown.clone(),
                    reason: err.to_string(),
                })?;
                Self::parse(&text, &shown)
            }
        }
    }

    /// Users needed for `rate` visits per second (at least one).
    pub fn users_for(&self, rate: f64) -> usize {
        ((rate * self.period_s).round() as usize).max(1)
    }
}

/// The load shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShapeName {
    /// One minute at a low rate (CI).
    Smoke,
    /// The Monday 8h storm: ramp in 60 s, hold 10 minutes.
    Storm,
    /// The rentrée day: three storms and calmer periods between them.
    Rentree,
    /// Hours at a moderate rate.
    Soak,
    /// Raise the rate until a threshold breaks; report the capacity.
    Step,
}

/// A stretch of the run at one rate: ramp, then hold.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Name in the report.
    pub name: String,
    /// Visits per second aimed at.
    pub rate: f64,
    /// Time to reach the rate from the previous segment's.
    pub ramp: Duration,
    /// Time at the rate.
    pub hold: Duration,
    /// Whether the thresholds judge this segment.
    pub judged: bool,
}

/// Overrides of a shape's defaults (command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShapeOptions {
    /// Visits per second (the step test's first rate).
    pub rate: Option<f64>,
    /// Ramp time.
    pub ramp: Option<Duration>,
    /// Hold time (the step test's time per step).
    pub hold: Option<Duration>,
}

fn segment(name: String, rate: f64, ramp: Duration, hold: Duration) -> Segment {
    Segment {
        name,
        rate,
        ramp,
        hold,
        judged: true,
    }
}

/// The step test's parameters.
#[derive(Debug, Clone, Copy)]
pub struct StepPlan {
    /// First rate.
    pub start: f64,
    /// Each step's rate is the previous one's times this.
    pub factor: f64,
    /// Ramp of each step.
    pub ramp: Duration,
    /// Time measured at each step.
    pub hold: Duration,
    /// Time held at 50 % and at 80 % of the capacity found.
    pub confirm: Duration,
    /// Highest rate tried.
    pub max: f64,
}

/// What a shape runs.
#[derive(Debug, Clone)]
pub enum Shape {
    /// Fixed segments, one after the other.
    Fixed(Vec<Segment>),
    /// The step test.
    Step(StepPlan),
}

const MINUTE: Duration = Duration::from_secs(60);

impl ShapeName {
    /// The shape with its defaults, overridden by `options`.
    pub fn shape(self, options: ShapeOptions) -> Shape {
        let rate = |default: f64| options.rate.unwrap_or(default);
        let ramp = |default: Duration| options.ramp.unwrap_or(default);
        let hold = |default: Duration| options.hold.unwrap_or(default);
        match self {
            ShapeName::Smoke => Shape::Fixed(vec![segment(
                "smoke".into(),
                rate(4.0),
                ramp(Duration::from_secs(10)),
                hold(Duration::from_secs(45)),
            )]),
            ShapeName::Storm => Shape::Fixed(vec![segment(
                "Monday 8h storm".into(),
                rate(100.0),
                ramp(MINUTE),
                hold(10 * MINUTE),
            )]),
            ShapeName::Rentree => {
                let peak = rate(100.0);
                let mut segments = Vec::new();
                for (index, moment) in ["8h", "10h", "13h30"].iter().enumerate() {
                    segments.push(segment(
                        format!("storm {moment}"),
                        peak,
                        ramp(MINUTE),
                        hold(5 * MINUTE),
                    ));
                    if index < 2 {
                        segments.push(segment(
                            format!("calm after {moment}"),
                            peak / 5.0,
                            ramp(MINUTE / 2),
                            hold(2 * MINUTE),
                        ));
                    }
                }
                Shape::Fixed(segments)
            }
            ShapeName::Soak => Shape::Fixed(vec![segment(
                "soak".into(),
                rate(20.0),
                ramp(MINUTE),
                hold(120 * MINUTE),
            )]),
            ShapeName::Step => Shape::Step(StepPlan {
                start: rate(20.0),
                factor: 1.25,
                ramp: ramp(Duration::from_secs(10)),
                hold: hold(Duration::from_secs(30)),
                confirm: MINUTE,
                max: 5000.0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mix_parses_with_pupils_parents_staff_and_returning_users() {
        let mix = Mix::load(None).unwrap();
        let names: Vec<_> = mix.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["pupil", "parent", "teacher", "returning"]);
        let total: u32 = mix.scenarios.iter().map(|s| s.weight).sum();
        assert_eq!(total, 100);
        assert!(mix.scenarios.iter().any(|s| s.returning));
        assert_eq!(mix.users_for(100.0), (100.0 * mix.period_s) as usize);
    }

    #[test]
    fn the_first_login_mix_parses() {
        let text = include_str!("../mixes/first-login.toml");
        let mix = Mix::parse(text, "first-login.toml").unwrap();
        assert_eq!(mix.scenarios.len(), 1);
        assert_eq!(mix.scenarios[0].resources, 0);
    }

    #[test]
    fn broken_mixes_are_refused_with_the_reason() {
        let good = "period_s = 5\n[[scenario]]\nname = \"p\"\nweight = 1\nidp = \"educonnect\"\nentry = \"/testbed/ent/login\"\naccounts = [\"eleve.louis\"]\n";
        assert!(Mix::parse(good, "m.toml").is_ok());
        let cases = [
            (
                good.replace("weight = 1", "weight = 0"),
                "no scenario has a weight",
            ),
            (
                good.replace("[\"eleve.louis\"]", "[]"),
                "scenario `p`: no account",
            ),
            (
                good.replace("\"/testbed/ent/login\"", "\"testbed\""),
                "entry must be a path",
            ),
            (good.replace("period_s = 5", "period_s = 0"), "period_s"),
            (good.replace("weight = 1", "weigth = 1"), "unknown field"),
            (
                good.replace("\"educonnect\"", "\"../x\""),
                "idp must be an IdP id",
            ),
        ];
        for (text, expected) in cases {
            let err = Mix::parse(&text, "m.toml").unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.starts_with("mix file m.toml"), "{err}");
        }
    }

    #[test]
    fn overrides_replace_the_defaults() {
        let Shape::Fixed(segments) = ShapeName::Storm.shape(ShapeOptions {
            rate: Some(250.0),
            ramp: None,
            hold: Some(Duration::from_secs(30)),
        }) else {
            panic!("the storm is a fixed shape");
        };
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].rate, 250.0);
        assert_eq!(segments[0].ramp, MINUTE);
        assert_eq!(segments[0].hold, Duration::from_secs(30));
        let Shape::Fixed(day) = ShapeName::Rentree.shape(ShapeOptions::default()) else {
            panic!("the rentrée is a fixed shape");
        };
        assert_eq!(day.len(), 5, "three storms, two calms");
        assert_eq!(day[1].rate, day[0].rate / 5.0);
    }
}
