//! The gRPC services, one module each. Handlers check the caller's role, validate every
//! field, call the engine synchronously (never holding a lock across `.await`) and map errors
//! through [`crate::error::ServiceError`].

pub mod admin;
pub mod agents;
pub mod router;
pub mod supervisor;

use std::pin::Pin;

use tokio_stream::Stream;
use tonic::Status;

/// A server stream of `T`.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;
