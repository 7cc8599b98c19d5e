//! The five scenarios of the load test as phases of arrivals, a call mix and a target.

use std::time::Duration;

use serde::Serialize;

use crate::traffic::{CallProfile, MeanMs};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// One call in flight at a time: the latency floor of every RPC.
    Floor,
    /// The busiest hour of a large center, in real time: open-loop arrivals at the peak rate,
    /// ringing, talk, wrap-up, breaks, abandons; CPU per 1,000 calls.
    Realistic,
    /// The realistic mix back to back with more and more callers: the most RPCs the server
    /// takes without errors.
    Saturation,
    /// Every call to one queue served by a handful of agents: the queue's lock and the
    /// assignment stream under contention.
    Hot,
    /// Ten times the peak rate for a while, between two stretches at the peak rate.
    Burst,
    /// RouteCall offered far above capacity for a while, between two stretches at the peak
    /// rate: refusals must be fast, events of admitted calls keep their latency, and the
    /// server recovers by itself when load drops.
    Overload,
}

impl Scenario {
    /// Every scenario, in the order `all` runs them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Floor,
        Scenario::Realistic,
        Scenario::Saturation,
        Scenario::Hot,
        Scenario::Burst,
        Scenario::Overload,
    ];

    /// The scenario's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Floor => "floor",
            Scenario::Realistic => "realistic",
            Scenario::Saturation => "saturation",
            Scenario::Hot => "hot",
            Scenario::Burst => "burst",
            Scenario::Overload => "overload",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How calls arrive during a phase.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// `callers` callers, each starting a new call as soon as the last one ended.
    Closed {
        /// Calls in flight.
        callers: usize,
    },
    /// Poisson arrivals at a mean rate, whatever the server's speed (as a real switch does).
    Open {
        /// Mean new calls per second.
        calls_per_s: f64,
    },
}

/// One stretch of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    /// Shown in reports.
    pub name: String,
    /// How calls arrive.
    pub arrivals: Arrivals,
    /// How long arrivals go on.
    pub duration: Duration,
}

/// Knobs of a run; every run is bounded by its phases' durations and `max_calls`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Knobs {
    /// Length of the main phase (each step of saturation, the burst itself).
    pub duration: Duration,
    /// The peak arrival rate, calls per second (burst runs at ten times it).
    pub peak_calls_per_s: f64,
    /// Caller counts of the saturation steps.
    pub saturation_callers: Vec<usize>,
    /// Callers of the hot queue.
    pub hot_callers: usize,
    /// Mean talk time of the real-time scenarios (realistic, burst), ms.
    pub talk_ms: u64,
    /// Arrival rate of the overload phase, calls per second (well above what 2 cores route).
    pub overload_calls_per_s: f64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            duration: Duration::from_secs(10),
            peak_calls_per_s: 400.0,
            saturation_callers: vec![8, 16, 32, 64, 128],
            hot_callers: 40,
            talk_ms: 30_000,
            overload_calls_per_s: 10_000.0,
        }
    }
}

/// The longest run allowed, all phases together.
pub const MAX_RUN: Duration = Duration::from_secs(3_600);

/// What a scenario does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Which.
    pub scenario: Scenario,
    /// Its phases, in order.
    pub phases: Vec<Phase>,
    /// The call mix.
    pub profile: CallProfile,
    /// Everything to the hot queue (else the skill queues and the menu).
    pub hot: bool,
}

impl Plan {
    /// The plan of `scenario` with `knobs`; refuses unbounded or empty runs.
    pub fn new(scenario: Scenario, knobs: &Knobs) -> anyhow::Result<Plan> {
        if knobs.duration.is_zero() {
            anyhow::bail!("duration: must be more than 0 s");
        }
        if !(knobs.peak_calls_per_s > 0.0 && knobs.peak_calls_per_s <= 100_000.0) {
            anyhow::bail!("calls-per-s: must be more than 0 and at most 100000");
        }
        if knobs.saturation_callers.is_empty()
            || knobs.saturation_callers.iter().any(|c| !(1..=10_000).contains(c))
        {
            anyhow::bail!("callers: each step must have 1 to 10000 callers");
        }
        if !(knobs.overload_calls_per_s > 0.0 && knobs.overload_calls_per_s <= 100_000.0) {
            anyhow::bail!("overload-calls-per-s: must be more than 0 and at most 100000");
        }
        if !(1..=10_000).contains(&knobs.hot_callers) {
            anyhow::bail!("callers: the hot queue takes 1 to 10000 callers");
        }
        let d = knobs.duration;
        let closed = |name: String, callers| Phase {
            name,
            arrivals: Arrivals::Closed { callers },
            duration: d,
        };
        let open = |name: &str, calls_per_s: f64, duration| Phase {
            name: format!("{name} {calls_per_s}/s"),
            arrivals: Arrivals::Open { calls_per_s },
            duration,
        };
        let real_time = CallProfile { talk: MeanMs(knobs.talk_ms), ..CallProfile::realistic() };
        let peak = knobs.peak_calls_per_s;
        let plan = match scenario {
            Scenario::Floor => Plan {
                scenario,
                phases: vec![closed("1 caller".into(), 1)],
                profile: CallProfile::back_to_back(),
                hot: false,
            },
            Scenario::Saturation => Plan {
                scenario,
                phases: knobs
                    .saturation_callers
                    .iter()
                    .map(|&c| closed(format!("{c} callers"), c))
                    .collect(),
                profile: CallProfile::back_to_back(),
                hot: false,
            },
            Scenario::Hot => Plan {
                scenario,
                phases: vec![closed(format!("{} callers", knobs.hot_callers), knobs.hot_callers)],
                profile: CallProfile {
                    menu_share: 0.0,
                    talk: MeanMs(20),
                    patience: MeanMs(2_000),
                    ..CallProfile::back_to_back()
                },
                hot: true,
            },
            Scenario::Realistic => Plan {
                scenario,
                phases: vec![open("peak", peak, d)],
                profile: real_time,
                hot: false,
            },
            Scenario::Burst => {
                let shoulder = (d / 2).max(Duration::from_secs(1));
                Plan {
                    scenario,
                    phases: vec![
                        open("before", peak, shoulder),
                        open("burst", peak * 10.0, d),
                        open("after", peak, shoulder),
                    ],
                    profile: real_time,
                    hot: false,
                }
            }
            Scenario::Overload => {
                let shoulder = (d / 2).max(Duration::from_secs(1));
                Plan {
                    scenario,
                    phases: vec![
                        open("before", peak, shoulder),
                        open("overload", knobs.overload_calls_per_s, d),
                        // As long as the overload: recovery is measured in it.
                        open("after", peak, d),
                    ],
                    // Short calls, so events of admitted calls keep coming during the overload.
                    profile: CallProfile {
                        ring_ms: 200,
                        ivr: MeanMs(500),
                        talk: MeanMs(1_000),
                        wrap: MeanMs(500),
                        break_len: MeanMs(1_000),
                        ..CallProfile::realistic()
                    },
                    hot: false,
                }
            }
        };
        let total: Duration = plan.phases.iter().map(|p| p.duration).sum();
        if total > MAX_RUN {
            anyhow::bail!(
                "duration: the run would take {} s, more than the {} s allowed",
                total.as_secs(),
                MAX_RUN.as_secs()
            );
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_a_bounded_plan() {
        for s in Scenario::ALL {
            let plan = Plan::new(s, &Knobs::default()).unwrap();
            assert!(!plan.phases.is_empty());
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        let burst = Plan::new(Scenario::Burst, &Knobs::default()).unwrap();
        assert_eq!(burst.phases[1].arrivals, Arrivals::Open { calls_per_s: 4_000.0 });
        assert_eq!(Plan::new(Scenario::Saturation, &Knobs::default()).unwrap().phases.len(), 5);
        let overload = Plan::new(Scenario::Overload, &Knobs::default()).unwrap();
        assert_eq!(overload.phases[1].arrivals, Arrivals::Open { calls_per_s: 10_000.0 });
        assert_eq!(overload.phases[2].arrivals, Arrivals::Open { calls_per_s: 400.0 });
    }

    #[test]
    fn unbounded_runs_are_refused() {
        let check = |knobs: Knobs, flag: &str| {
            let err = Plan::new(Scenario::Saturation, &knobs).unwrap_err().to_string();
            assert!(err.starts_with(flag), "{err}");
        };
        check(Knobs { duration: Duration::ZERO, ..Knobs::default() }, "duration");
        check(Knobs { duration: Duration::from_secs(3_000), ..Knobs::default() }, "duration");
        check(Knobs { saturation_callers: vec![], ..Knobs::default() }, "callers");
        check(Knobs { peak_calls_per_s: f64::NAN, ..Knobs::default() }, "calls-per-s");
    }
}
