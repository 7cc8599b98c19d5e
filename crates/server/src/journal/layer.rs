//! The tower layer between the gRPC listener and the services: an RPC's answer leaves only
//! once every journal record appended before the answer was ready is durable, and new work is
//! refused with UNAVAILABLE while the journal is failed or more than `max_pending_bytes` behind.
//!
//! Waiting for everything appended so far (not just the RPC's own records) is what group commit
//! makes cheap: the records of concurrent RPCs go out in the same write and sync, and it needs
//! no bookkeeping of which record belongs to which RPC.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Journal;

/// Health checks stay answered while the journal refuses work (the process is alive).
const HEALTH_PATH_PREFIX: &str = "/grpc.health.";

/// Wraps every gRPC service; does nothing when the journal is off.
#[derive(Clone, Debug, Default)]
pub struct DurableLayer {
    journal: Option<Journal>,
}

impl DurableLayer {
    /// A layer over `journal` (`None`: journal off).
    pub fn new(journal: Option<Journal>) -> DurableLayer {
        DurableLayer { journal }
    }
}

impl<S> tower::Layer<S> for DurableLayer {
    type Service = Durable<S>;
    fn layer(&self, inner: S) -> Durable<S> {
        Durable { inner, journal: self.journal.clone() }
    }
}

/// See [`DurableLayer`].
#[derive(Clone, Debug)]
pub struct Durable<S> {
    inner: S,
    journal: Option<Journal>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for Durable<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(journal) = self.journal.clone() else {
            let fut = self.inner.call(request);
            return Box::pin(fut);
        };
        if !request.uri().path().starts_with(HEALTH_PATH_PREFIX) {
            if journal.failed() {
                return refuse("the journal cannot write; refusing new work");
            }
            if journal.overloaded() {
                return refuse("the journal is behind (max_pending_bytes); retry shortly");
            }
        }
        let fut = self.inner.call(request);
        Box::pin(async move {
            let response = fut.await?;
            let target = journal.appended();
            if journal.wait_durable(target).await {
                Ok(response)
            } else {
                Ok(tonic::Status::unavailable(
                    "the journal could not make this change durable; it may or may not have happened",
                )
                .into_http())
            }
        })
    }
}

fn refuse<E: Send + 'static>(
    message: &'static str,
) -> BoxFuture<Result<http::Response<tonic::body::Body>, E>> {
    Box::pin(std::future::ready(Ok(tonic::Status::unavailable(message).into_http())))
}
