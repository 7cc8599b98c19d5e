//! Switchboard's workforce management: call history, forecasting, Erlang staffing and shift
//! scheduling for planners.
//!
//! **Architecture invariant:** this crate knows nothing of the server, gRPC or the routing
//! engine; it computes over numbers and reads or writes CSV and TOML through its callers.

pub mod erlang;
pub mod schedule;
