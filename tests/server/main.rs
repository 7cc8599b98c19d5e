//! End-to-end tests of the gRPC API: a real server on 127.0.0.1:0 and generated tonic clients.

mod harness;

mod admin;
mod auth;
mod bad_input;
mod calls;
mod loadgen;
mod overload;
mod shutdown;
mod stats;
mod transport;
mod wallboard;
