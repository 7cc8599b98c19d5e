//! What a gRPC request must look like before any service works on it, checked in one tower
//! layer in front of every service (health and reflection included):
//!
//! - every message frame within `server.limits.max_request_bytes`: the body is watched as it
//!   streams in, and a frame whose 5-byte gRPC prefix (flag, big-endian u32 length) announces
//!   more fails the request with RESOURCE_EXHAUSTED naming the setting, before its payload is
//!   buffered (tonic's own check, kept behind this one, would say OUT_OF_RANGE);
//! - a `grpc-timeout` header, when present, that parses: a malformed deadline is refused with
//!   INVALID_ARGUMENT naming the header instead of being dropped silently.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tonic::codegen::{http, Bytes};
use tonic::Status;

/// Length of the gRPC message prefix: compression flag and big-endian u32 length.
const FRAME_HEADER_BYTES: usize = 5;

/// Puts [`IntakeService`] in front of a service.
#[derive(Clone, Debug)]
pub struct IntakeLayer {
    max_request_bytes: usize,
}

impl IntakeLayer {
    /// Refuses request messages larger than `max_request_bytes`.
    pub fn new(max_request_bytes: usize) -> IntakeLayer {
        IntakeLayer { max_request_bytes }
    }
}

impl<S> tower_layer::Layer<S> for IntakeLayer {
    type Service = IntakeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IntakeService { inner, max_request_bytes: self.max_request_bytes }
    }
}

/// See [`IntakeLayer`].
#[derive(Clone, Debug)]
pub struct IntakeService<S> {
    inner: S,
    max_request_bytes: usize,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower_service::Service<http::Request<B>> for IntakeService<S>
where
    S: tower_service::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
    >,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(value) = request.headers().get("grpc-timeout") {
            if crate::limits::grpc_timeout(request.headers()).is_none() {
                let shown = String::from_utf8_lossy(value.as_bytes()).into_owned();
                let status = Status::invalid_argument(format!(
                    "invalid grpc-timeout header {shown:?}: must be 1 to 8 digits and a unit (H, M, S, m, u, n)"
                ));
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        }
        let max = self.max_request_bytes;
        let request = request.map(|body| {
            tonic::body::Body::new(LimitedBody {
                inner: Box::pin(body),
                frames: FrameScan::new(max),
            })
        });
        Box::pin(self.inner.call(request))
    }
}

/// Follows the gRPC framing of a body chunk by chunk, keeping only the position in the current
/// frame: payload bytes are counted, never copied.
#[derive(Debug)]
struct FrameScan {
    max_message_bytes: usize,
    header: [u8; FRAME_HEADER_BYTES],
    header_have: usize,
    payload_left: u64,
}

impl FrameScan {
    fn new(max_message_bytes: usize) -> FrameScan {
        FrameScan {
            max_message_bytes,
            header: [0; FRAME_HEADER_BYTES],
            header_have: 0,
            payload_left: 0,
        }
    }

    /// Advances over `chunk`; the length of the first frame announced above the limit.
    fn scan(&mut self, mut chunk: &[u8]) -> Result<(), u64> {
        while !chunk.is_empty() {
            if self.payload_left > 0 {
                let skip =
                    usize::try_from(self.payload_left).unwrap_or(usize::MAX).min(chunk.len());
                self.payload_left -= skip as u64;
                chunk = &chunk[skip..];
                continue;
            }
            let take = (FRAME_HEADER_BYTES - self.header_have).min(chunk.len());
            self.header[self.header_have..self.header_have + take].copy_from_slice(&chunk[..take]);
            self.header_have += take;
            chunk = &chunk[take..];
            if self.header_have == FRAME_HEADER_BYTES {
                self.header_have = 0;
                let [_, a, b, c, d] = self.header;
                let len = u64::from(u32::from_be_bytes([a, b, c, d]));
                if len > self.max_message_bytes as u64 {
                    return Err(len);
                }
                self.payload_left = len;
            }
        }
        Ok(())
    }
}

/// A request body that fails with RESOURCE_EXHAUSTED at the first oversized frame header.
struct LimitedBody<B> {
    inner: Pin<Box<B>>,
    frames: FrameScan,
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = Bytes;
    type Error = tonic::codegen::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match self.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            if let Err(len) = self.frames.scan(data) {
                let status = Status::resource_exhausted(format!(
                    "request message of {len} bytes is larger than the limit of {} bytes (server.limits.max_request_bytes)",
                    self.frames.max_message_bytes
                ));
                return Poll::Ready(Some(Err(Box::new(status))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(std::iter::repeat_n(7u8, len as usize));
        out
    }

    #[test]
    fn frames_within_the_limit_pass_in_any_chunking() {
        let body: Vec<u8> = [frame(0), frame(10), frame(100)].concat();
        for chunk in [1, 2, 3, 5, 6, 64, body.len()] {
            let mut scan = FrameScan::new(100);
            for piece in body.chunks(chunk) {
                assert_eq!(scan.scan(piece), Ok(()), "chunks of {chunk}");
            }
            assert_eq!((scan.header_have, scan.payload_left), (0, 0), "chunks of {chunk}");
        }
    }

    #[test]
    fn an_oversized_header_is_caught_even_split_across_chunks() {
        let mut body = frame(3);
        body.extend_from_slice(&[0, 0, 0, 0, 101]);
        for chunk in [1, 2, 4, 7, body.len()] {
            let mut scan = FrameScan::new(100);
            let result: Result<Vec<()>, u64> = body.chunks(chunk).map(|p| scan.scan(p)).collect();
            assert_eq!(result, Err(101), "chunks of {chunk}");
        }
        let mut scan = FrameScan::new(100);
        assert_eq!(scan.scan(&[1, 0xff, 0xff, 0xff, 0xff]), Err(u64::from(u32::MAX)));
    }
}
