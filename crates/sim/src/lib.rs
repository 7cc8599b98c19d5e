//! Switchboard's simulator: replays traffic through the real routing engine on a virtual
//! clock, to see what a schedule and a routing strategy actually achieve.
//!
//! Erlang formulas assume one queue, one skill and exponential times. The simulator instead
//! drives [`switchboard_routing::plan::Router`], the very code the server runs, with the
//! contact center's own configuration: skill queues, priorities, escalation, overflow,
//! last-agent and percentage routing behave as in production. Calls come from a forecast
//! (non-homogeneous Poisson arrivals) or from call records (replayed at their times); talk
//! times, wrap-up (the queue's) and caller patience are drawn from the chosen models; agents
//! follow their shifts and breaks or a fixed headcount. Each interval and queue reports
//! offered, answered, abandoned, service level, ASA, P(wait) and occupancy beside the Erlang C
//! (or, with exponential patience, Erlang A) prediction for the same load and staff.
//!
//! Runs are seeded and deterministic; replications use seeds derived from the first and give
//! means with 95 % confidence intervals.
//!
//! **Architecture invariant:** the simulator knows nothing of files, sockets, gRPC, the server
//! or the wall clock. It reads input text it is handed, calls the routing crate's public API
//! only, and returns text (CSV, JSON, SVG) for its caller to write.
//!
//! # Example
//!
//! ```
//! use switchboard_routing::plan::{CustomerStore, RoutingConfig};
//! use switchboard_sim::{read_forecast, simulate, Options, Patience, Scenario, Staffing, Traffic};
//! use switchboard_sim::{HandleModel, Shape};
//!
//! let config = RoutingConfig::from_toml(r#"
//!     [[queues]]
//!     id = "support"
//!     skills = { support = 1 }
//!     service_level_s = 20
//!     wrap_up_s = 0
//! "#).expect("valid configuration");
//! // Two hours at 100 calls per 30 minutes, 180 s handle time.
//! let forecast = read_forecast("forecast.csv", "interval_start,queue,calls,aht_s\n\
//!     2026-11-23T08:00:00Z,support,100,180\n2026-11-23T08:30:00Z,support,100,180\n\
//!     2026-11-23T09:00:00Z,support,100,180\n2026-11-23T09:30:00Z,support,100,180\n")?;
//! let scenario = Scenario {
//!     config,
//!     customers: CustomerStore::default(),
//!     traffic: Traffic::Forecast(forecast),
//!     staffing: Staffing::Fixed(14),
//!     handle: HandleModel::Shape(Shape::Exponential),
//!     patience: Patience::Infinite,
//!     interval_ms: None,
//! };
//! let report = simulate(&scenario, &Options { seed: 7, replications: 4 }, &mut |_| {})?;
//! let support = &report.summary[0];
//! assert_eq!(support.queue, "support");
//! let erlang = support.erlang.expect("an Erlang C prediction");
//! assert!((erlang.service_level - 0.888).abs() < 0.001);
//! assert!(support.metrics.service_level.expect("answered calls").mean > 0.7);
//! # Ok::<(), switchboard_sim::SimError>(())
//! ```

mod dist;
mod error;
mod input;
mod report;
mod run;
mod scenario;
mod stats;

pub use dist::{HandleModel, Patience, Shape, DEFAULT_PATIENCE_MEAN_S};
pub use error::SimError;
pub use input::{
    read_forecast, read_history, read_shifts, Forecast, ForecastRow, RecordedCall, Shift,
    DEFAULT_INTERVAL_MIN,
};
pub use report::{IntervalRow, QueueInfo, Report, SummaryRow};
pub use scenario::{all_queues_profile, Scenario, Staffing, Traffic};
pub use stats::{predict, Counters, Estimate, MetricEstimates, Metrics, Prediction};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How to run a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Seed of the first replication; the others' seeds are drawn from it.
    pub seed: u64,
    /// Independent replications, at least 1.
    pub replications: u32,
}

/// The most replications one run accepts.
pub const MAX_REPLICATIONS: u32 = 10_000;

/// Runs `options.replications` independent replications of `scenario` and reports means and
/// 95 % confidence intervals. `progress` is told, from time to time, how many more calls have
/// been simulated.
pub fn simulate(
    scenario: &Scenario,
    options: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Report, SimError> {
    scenario.validate()?;
    if !(1..=MAX_REPLICATIONS).contains(&options.replications) {
        return Err(SimError::option(
            "replications",
            format!("{} is outside 1..={MAX_REPLICATIONS}", options.replications),
        ));
    }
    let horizon = horizon(scenario);
    let mut seeds = ChaCha8Rng::seed_from_u64(options.seed);
    let mut outputs = Vec::with_capacity(options.replications as usize);
    let mut patience_s = None;
    for r in 0..options.replications {
        let seed = if r == 0 { options.seed } else { seeds.next_u64() };
        let sim = run::Sim::new(scenario, seed, horizon, progress)?;
        patience_s = sim.erlang_patience_s();
        outputs.push(sim.run()?);
    }
    Ok(Report::build(scenario, options, horizon, patience_s, &outputs))
}

/// Start and end of the reporting horizon, Unix milliseconds: a forecast's own intervals, or
/// the recorded calls' span on interval boundaries.
fn horizon(scenario: &Scenario) -> (u64, u64) {
    let interval = scenario.interval_ms();
    match &scenario.traffic {
        Traffic::Forecast(f) => {
            let first = f.rows.iter().map(|r| r.start_ms).min().unwrap_or(0);
            let last = f.rows.iter().map(|r| r.start_ms + f.interval_ms).max().unwrap_or(first);
            let intervals = (last - first).div_ceil(interval).max(1);
            (first, first + intervals * interval)
        }
        Traffic::History(calls) => {
            let first = calls.first().map_or(0, |c| c.arrived_ms);
            let last = calls.last().map_or(0, |c| c.arrived_ms);
            (first - first % interval, (last - last % interval) + interval)
        }
    }
}
