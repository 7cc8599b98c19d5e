//! Switchboard's server: the routing engine behind tonic gRPC services, with live statistics,
//! call records in SQLite and Prometheus metrics.
//!
//! - [`service`]: `Router` (telephony switches), `Agents`, `Supervisor`, `Admin`, plus the
//!   standard health and reflection services.
//! - [`state::Switchboard`]: the cheap-to-clone handle every service shares.
//! - [`hub`] and [`pump`]: the engine observer streams offers synchronously and hands every
//!   event to one pump thread that keeps [`stats`], [`records`] and agent streams, so routing
//!   never waits for bookkeeping.
//! - [`wallboard`]: the supervisor page at `/`, pushed over server-sent events.
//! - [`limits`]: admission control (load shedding by priority, deadlines), streams per
//!   client and every other bound, with their settings.
//! - [`intake`]: request messages within `max_request_bytes` (checked on the frame prefix, before
//!   buffering) and a well-formed `grpc-timeout`, for every service.
//! - [`serve::run`]: the process: gRPC and HTTP listeners, timers, graceful drain.
//!
//! **Architecture invariant:** routing decisions are made by `switchboard-routing` only; this
//! crate translates, authorizes, observes and stores.

pub mod auth;
pub mod cdr;
pub mod clock;
pub mod convert;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod intake;
pub mod journal;
pub mod limits;
pub mod metrics;
pub mod pump;
pub mod records;
pub mod serve;
pub mod service;
pub mod settings;
pub mod state;
pub mod stats;
pub mod wallboard;

pub use clock::Clock;
pub use serve::{run, run_with_clock};
pub use settings::Settings;
pub use state::{LoadedConfig, Switchboard};
