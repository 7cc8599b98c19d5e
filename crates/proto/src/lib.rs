//! Switchboard's gRPC contract, `switchboard.v1`, generated from `proto/switchboard/v1/*.proto`.
//!
//! Five services: `Router` (telephony switches), `Agents`, `Supervisor` (read-only live
//! statistics), `Admin` (configuration). Each comes as a tonic server trait
//! (`router_server::Router`) and a client (`router_client::RouterClient`).
//!
//! **Architecture invariant:** this crate is generated code and the codec it uses
//! ([`codec::StrictCodec`]: decode errors are INVALID_ARGUMENT naming the field) and nothing
//! else; conversions to and from the routing domain live in `switchboard-server`.

#![allow(missing_docs, clippy::all)]

pub mod codec;

/// `switchboard.v1`.
pub mod v1 {
    tonic::include_proto!("switchboard.v1");
}

/// The encoded file descriptor set of every `switchboard.v1` file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/switchboard_descriptor.bin"));
