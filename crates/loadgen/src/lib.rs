//! Switchboard's load generator: drives a running server through the public gRPC API with
//! contact-center traffic (calls routed through the IVR and queues, rung, answered, ended,
//! abandoned; agents going ready, not ready and wrapping up; supervisors watching the stats
//! stream) and reports throughput, latency percentiles (hdrhistogram), errors by status code
//! and CPU per 1,000 calls. After every run it checks the server's statistics and RPC
//! counters against what it did: no call may be lost or counted twice.
//!
//! - [`center`]: the generated contact center (48,000 agents by default).
//! - [`scenario`]: floor, realistic, saturation, hot queue, burst as phases of arrivals.
//! - [`traffic`]: a call's life through the API, the assignment watcher, supervisors.
//! - [`check`]: the accounting against Supervisor statistics and `/metrics`.
//! - [`run`]: a whole run, in process or against a server on this machine (loopback only).
//!
//! ```no_run
//! use switchboard_loadgen::{run_in_process, Options, Scenario};
//!
//! let options = Options { scenario: Scenario::Floor, ..Options::default() };
//! let report = run_in_process(&options)?;
//! println!("{}", report.text());
//! assert!(report.accounting.ok());
//! # anyhow::Ok(())
//! ```

pub mod center;
pub mod check;
pub mod cpu;
pub mod recorder;
pub mod report;
pub mod run;
pub mod scenario;
pub mod traffic;

pub use center::CenterSpec;
pub use report::Report;
pub use run::{
    run_against, run_in_process, run_on_generator_runtime, Endpoint, JournalMode, Options,
};
pub use scenario::{Knobs, Scenario};
