//! Workforce management for Switchboard: call history, forecasting and Erlang staffing.
//!
//! The pipeline a planner runs: read history ([`history`]), aggregate it per queue on a local
//! interval grid ([`series`]), forecast volume and handle time ([`forecast`]), and turn the
//! forecast into agents ([`erlang`], [`staffing`]). [`generate`] makes realistic synthetic
//! history for demos and tests.
//!
//! **Architecture invariant:** this crate knows nothing of the server, gRPC or the routing
//! engine; it computes over numbers and reads or writes CSV and TOML through its callers.
//!
//! ```
//! use switchboard_wfm::generate::{generate_intervals, GeneratorConfig};
//! use switchboard_wfm::history::History;
//! use switchboard_wfm::forecast::{forecast_queues, ForecastOptions, Method};
//! use switchboard_wfm::series::aggregate;
//! use switchboard_wfm::units::IntervalLength;
//!
//! let config = GeneratorConfig { weeks: 6, ..GeneratorConfig::default() };
//! let generated = generate_intervals(&config, IntervalLength::MIN30);
//! let series = aggregate(&History::Intervals(generated.rows), IntervalLength::MIN30, config.tz)?;
//! let options = ForecastOptions { method: Method::WeightedAverage, ..ForecastOptions::default() };
//! let forecast = forecast_queues(&series, &generated.holidays, &options)?;
//! assert!(forecast.rows.iter().any(|row| row.calls > 0.0));
//! # Ok::<(), switchboard_wfm::WfmError>(())
//! ```

pub mod chart;
pub mod erlang;
pub mod error;
pub mod forecast;
pub mod generate;
pub mod history;
pub mod schedule;
pub mod series;
pub mod staffing;
pub mod units;

pub use error::{Result, WfmError};
