//! Overload protection and resource bounds.
//!
//! - [`LimitSettings`]: every bound, with its default (`[server.limits]`).
//! - [`AdmissionLayer`]: a tower layer in front of every gRPC service. It counts requests
//!   accepted and not yet answered and refuses new ones at once with RESOURCE_EXHAUSTED beyond
//!   the limit of their [`Priority`], so overload turns into fast refusals instead of queueing
//!   latency. Events of calls already admitted have a higher limit than new calls, so a flood
//!   of RouteCall is shed first. A request whose `grpc-timeout` passed before it got a worker is
//!   answered DEADLINE_EXCEEDED without being worked on. With `max_new_calls_per_s` set,
//!   RouteCalls beyond that rate are refused too ([`CallRate`]).
//! - [`StreamLimiter`]: server streams (WatchStats, WatchAgent, WatchAssignments) per client,
//!   where a client is its bearer token (authentication on) or its IP address.
//! - [`OverloadMetrics`]: shed requests, open and lagging streams, buffered messages.
//!
//! ```
//! use switchboard_server::limits::{LimitSettings, Priority};
//! let limits = LimitSettings::default();
//! assert!(limits.max_concurrent_new_requests < limits.max_concurrent_requests);
//! assert_eq!(Priority::of("/switchboard.v1.Router/RouteCall"), Priority::New);
//! assert_eq!(Priority::of("/switchboard.v1.Router/ReportCallEvent"), Priority::Admitted);
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tonic::codegen::http;
use tonic::Status;

use crate::error::ServiceError;
use crate::service::ResponseStream;

/// Every resource bound of the server (`[server.limits]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// gRPC requests accepted and not yet answered, over all connections. Beyond it every
    /// request is refused with RESOURCE_EXHAUSTED, even events of admitted calls.
    pub max_concurrent_requests: usize,
    /// The part of `max_concurrent_requests` that new work may use (RouteCall, reads, admin,
    /// stream opening). The rest is kept for events of calls already admitted and agent state
    /// changes, so those are shed last.
    pub max_concurrent_new_requests: usize,
    /// New work is refused while requests keep waiting longer than this for a worker (the
    /// shortest wait of a 50 ms window, so a passing burst does not count); 0 turns it off.
    /// Events of admitted calls are never refused for it.
    pub max_queue_delay_ms: u64,
    /// New calls (RouteCall) admitted per second, sustained; 0 turns it off. Beyond it a
    /// RouteCall is refused with RESOURCE_EXHAUSTED and a `grpc-retry-pushback-ms` hint. The
    /// limits above count requests the server has read, so they cannot see a backlog still in
    /// the sockets of a server short of CPU; a rate set below what the server routes (see
    /// BENCHMARKS.md, "Overload") keeps it from forming: what switches and SBCs call a CPS limit.
    pub max_new_calls_per_s: u32,
    /// Calls a burst may take beyond the rate, at once; 0 means a tenth of a second's worth
    /// (at least 1).
    pub new_calls_burst: u32,
    /// Server streams (WatchStats, WatchAgent, WatchAssignments) one client may hold open;
    /// a client is its bearer token, or its IP address when authentication is off.
    pub max_streams_per_client: usize,
    /// Largest request message accepted, in bytes: a larger one is answered RESOURCE_EXHAUSTED
    /// from its frame prefix, before its payload is buffered (`intake`).
    pub max_request_bytes: usize,
    /// Largest response message sent, in bytes (a stats snapshot with every agent is the
    /// largest: about 200 bytes per agent).
    pub max_response_bytes: usize,
    /// Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); a client
    /// opening more has them refused by HTTP/2 (UNAVAILABLE) or queued by its library.
    pub max_concurrent_streams_per_connection: u32,
    /// Largest header block of a request (metadata: token, deadline), in bytes.
    pub max_header_list_bytes: u32,
    /// Agent updates buffered for WatchAgent streams; a watcher further behind gets
    /// RESOURCE_EXHAUSTED and its stream ends.
    pub agent_update_buffer: usize,
    /// Decisions buffered for WatchAssignments streams; a watcher further behind gets
    /// RESOURCE_EXHAUSTED and its stream ends (missed offers time out and are re-offered).
    pub assignment_buffer: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_concurrent_requests: 4_096,
            max_concurrent_new_requests: 3_072,
            max_queue_delay_ms: 5,
            max_new_calls_per_s: 0,
            new_calls_burst: 0,
            max_streams_per_client: 16,
            max_request_bytes: 4 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            // hyper's own default, kept: the load generator's 4 connections rely on it.
            max_concurrent_streams_per_connection: 200,
            max_header_list_bytes: 16 * 1024,
            agent_update_buffer: 4_096,
            assignment_buffer: crate::hub::ASSIGNMENT_BUFFER,
        }
    }
}

impl LimitSettings {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        let check = |name: &str, value: usize, min: usize, max: usize| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(anyhow::anyhow!("server.limits.{name}: must be {min} to {max}"))
            }
        };
        check("max_concurrent_requests", self.max_concurrent_requests, 1, 1_000_000)?;
        check(
            "max_concurrent_new_requests",
            self.max_concurrent_new_requests,
            1,
            self.max_concurrent_requests,
        )?;
        check("max_queue_delay_ms", self.max_queue_delay_ms as usize, 0, 10_000)?;
        check("max_new_calls_per_s", self.max_new_calls_per_s as usize, 0, 1_000_000)?;
        check("new_calls_burst", self.new_calls_burst as usize, 0, 1_000_000)?;
        check("max_streams_per_client", self.max_streams_per_client, 1, 100_000)?;
        check("max_request_bytes", self.max_request_bytes, 1024, 1 << 30)?;
        check("max_response_bytes", self.max_response_bytes, 1024, 1 << 30)?;
        check(
            "max_concurrent_streams_per_connection",
            self.max_concurrent_streams_per_connection as usize,
            1,
            100_000,
        )?;
        check("max_header_list_bytes", self.max_header_list_bytes as usize, 1024, 1 << 20)?;
        check("agent_update_buffer", self.agent_update_buffer, 16, 1 << 20)?;
        check("assignment_buffer", self.assignment_buffer, 16, 1 << 20)?;
        Ok(())
    }
}

/// Which limit a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Work about a call or agent the server already holds: call events, digits of a call in
    /// its menu, agent state changes, health checks. Shed only at `max_concurrent_requests`.
    Admitted,
    /// Everything else: new calls, reads, admin, opening streams. Shed at
    /// `max_concurrent_new_requests`.
    New,
}

impl Priority {
    /// The priority of a gRPC method path (`/package.Service/Method`).
    pub fn of(path: &str) -> Priority {
        match path {
            "/switchboard.v1.Router/ReportCallEvent"
            | "/switchboard.v1.Router/SubmitDigits"
            | "/switchboard.v1.Agents/Login"
            | "/switchboard.v1.Agents/Logout"
            | "/switchboard.v1.Agents/SetReady"
            | "/switchboard.v1.Agents/SetNotReady"
            | "/grpc.health.v1.Health/Check" => Priority::Admitted,
            _ => Priority::New,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Priority::Admitted => "admitted",
            Priority::New => "new",
        }
    }
}

/// Labels `priority`, `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShedLabel {
    /// `new` or `admitted`.
    pub priority: String,
    /// `concurrency` (a limit was reached), `call_rate` (new calls beyond
    /// `max_new_calls_per_s`), `queue_delay` (requests wait too long for a worker), `deadline` (it expired before a worker got to it) or `streams_per_client`.
    pub reason: String,
}

/// Labels `stream`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabel {
    /// `stats`, `agent`, `assignments`.
    pub stream: String,
}

/// Metrics of overload and stream health.
#[derive(Debug, Clone, Default)]
pub struct OverloadMetrics {
    /// Requests refused without being worked on.
    pub shed: Family<ShedLabel, Counter>,
    /// Requests accepted and not yet answered.
    pub in_flight: Gauge,
    /// Server streams open.
    pub streams_open: Family<StreamLabel, Gauge>,
    /// Streams ended because their reader fell more than a buffer behind.
    pub streams_lagged: Family<StreamLabel, Counter>,
    /// Messages held in the shared stream buffers (refreshed with the statistics).
    pub stream_buffered: Family<StreamLabel, Gauge>,
    /// Messages waiting for the event pump (statistics, call records, agent updates).
    pub pump_backlog: Gauge,
}

impl OverloadMetrics {
    /// Registers every overload metric in `registry`.
    pub fn register(registry: &mut Registry) -> OverloadMetrics {
        let m = OverloadMetrics::default();
        registry.register(
            "requests_shed",
            "Requests refused without being worked on, by priority and reason",
            m.shed.clone(),
        );
        registry.register(
            "requests_in_flight",
            "gRPC requests accepted and not yet answered",
            m.in_flight.clone(),
        );
        registry.register("streams_open", "Server streams open", m.streams_open.clone());
        registry.register(
            "streams_lagged",
            "Streams ended because the reader fell a whole buffer behind",
            m.streams_lagged.clone(),
        );
        registry.register(
            "stream_buffered_messages",
            "Messages held in the shared buffer of a stream kind",
            m.stream_buffered.clone(),
        );
        registry.register(
            "pump_backlog_messages",
            "Messages waiting for the event pump",
            m.pump_backlog.clone(),
        );
        m
    }

    /// Counts one refused request.
    pub fn shed(&self, priority: Priority, reason: &str) {
        self.shed
            .get_or_create(&ShedLabel {
                priority: priority.label().to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts one stream ended for lagging.
    pub fn lagged(&self, stream: &str) {
        self.streams_lagged.get_or_create(&StreamLabel { stream: stream.to_string() }).inc();
    }

    /// Sets the buffered-message gauge of `stream`.
    pub fn buffered(&self, stream: &str, messages: usize) {
        self.stream_buffered
            .get_or_create(&StreamLabel { stream: stream.to_string() })
            .set(i64::try_from(messages).unwrap_or(i64::MAX));
    }
}

/// Length of a [`QueueDelay`] window.
const QUEUE_DELAY_WINDOW_MS: u64 = 50;
/// Waits a window needs before its minimum says anything: at a trickle of requests, one
/// unlucky wait (the process descheduled) is not a queue.
const QUEUE_DELAY_MIN_SAMPLES: u64 = 8;

/// How long admitted requests wait for a worker (from the HTTP/2 stream's acceptance to the
/// first poll of its task): the *shortest* wait of each 50 ms window. A queue that the
/// workers clear leaves some requests unqueued and a small minimum; a standing queue makes
/// every request wait, and the minimum says by how much (CoDel's observation). Lock-free: a
/// few atomics per request.
#[derive(Debug)]
pub struct QueueDelay {
    epoch: Instant,
    target_us: u64,
    window_start_ms: AtomicU64,
    window_min_us: AtomicU64,
    window_samples: AtomicU64,
    /// The minimum of the last window with enough samples (`u64::MAX`: none).
    standing_us: AtomicU64,
    last_sample_ms: AtomicU64,
}

impl QueueDelay {
    fn new(target: Duration) -> QueueDelay {
        QueueDelay {
            epoch: Instant::now(),
            target_us: target.as_micros() as u64,
            window_start_ms: AtomicU64::new(0),
            window_min_us: AtomicU64::new(u64::MAX),
            window_samples: AtomicU64::new(0),
            standing_us: AtomicU64::new(u64::MAX),
            last_sample_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// One request waited `waited` for a worker.
    pub fn observe(&self, waited: Duration) {
        self.observe_at(self.now_ms(), waited);
    }

    fn observe_at(&self, now: u64, waited: Duration) {
        if self.target_us == 0 {
            return;
        }
        self.last_sample_ms.store(now, Ordering::Relaxed);
        self.window_min_us.fetch_min(waited.as_micros() as u64, Ordering::AcqRel);
        self.window_samples.fetch_add(1, Ordering::AcqRel);
        let start = self.window_start_ms.load(Ordering::Acquire);
        if now >= start + QUEUE_DELAY_WINDOW_MS
            && self
                .window_start_ms
                .compare_exchange(start, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let min = self.window_min_us.swap(u64::MAX, Ordering::AcqRel);
            let samples = self.window_samples.swap(0, Ordering::AcqRel);
            let standing = if samples >= QUEUE_DELAY_MIN_SAMPLES { min } else { u64::MAX };
            self.standing_us.store(standing, Ordering::Release);
        }
    }

    /// The standing wait when it exceeds the target, else `None`. Without recent waits to go
    /// by (everything new refused and nothing else arriving) it lets work in again, which
    /// measures afresh: nothing stays refused once load drops.
    pub fn standing_above_target(&self) -> Option<Duration> {
        self.standing_above_target_at(self.now_ms())
    }

    fn standing_above_target_at(&self, now: u64) -> Option<Duration> {
        if self.target_us == 0 {
            return None;
        }
        let last = self.last_sample_ms.load(Ordering::Relaxed);
        if now > last + 2 * QUEUE_DELAY_WINDOW_MS {
            return None;
        }
        let standing = self.standing_us.load(Ordering::Acquire);
        (standing != u64::MAX && standing > self.target_us).then(|| Duration::from_micros(standing))
    }
}

/// Counts requests in flight against the two limits, and watches the wait for a worker.
#[derive(Debug)]
pub struct Admission {
    in_flight: AtomicUsize,
    max_total: usize,
    max_new: usize,
    queue_delay: QueueDelay,
    /// `None` when `max_new_calls_per_s` is 0.
    call_rate: Option<CallRate>,
    metrics: OverloadMetrics,
}

/// One admitted request; dropping it (answer sent or client gone) frees its place.
#[derive(Debug)]
pub struct AdmissionPermit {
    admission: Arc<Admission>,
}

impl Drop for AdmissionPermit {
    fn drop(&mut self) {
        let now = self.admission.in_flight.fetch_sub(1, Ordering::AcqRel) - 1;
        self.admission.metrics.in_flight.set(now as i64);
    }
}

impl Admission {
    /// Admission with the limits of `settings`, counting into `metrics`.
    pub fn new(settings: &LimitSettings, metrics: OverloadMetrics) -> Arc<Admission> {
        Arc::new(Admission {
            in_flight: AtomicUsize::new(0),
            max_total: settings.max_concurrent_requests,
            max_new: settings.max_concurrent_new_requests,
            queue_delay: QueueDelay::new(Duration::from_millis(settings.max_queue_delay_ms)),
            call_rate: CallRate::new(settings),
            metrics,
        })
    }

    /// The wait for a worker, as admitted requests measure it.
    pub fn queue_delay(&self) -> &QueueDelay {
        &self.queue_delay
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// A place for a request of `priority`, or the RESOURCE_EXHAUSTED status naming the limit.
    pub fn try_admit(self: &Arc<Self>, priority: Priority) -> Result<AdmissionPermit, Status> {
        let (limit, setting) = match priority {
            Priority::Admitted => (self.max_total, "server.limits.max_concurrent_requests"),
            Priority::New => (self.max_new, "server.limits.max_concurrent_new_requests"),
        };
        if priority == Priority::New {
            if let Some(standing) = self.queue_delay.standing_above_target() {
                self.metrics.shed(priority, "queue_delay");
                return Err(Status::resource_exhausted(format!(
                    "server overloaded: requests wait {} ms for a worker, limit {} ms (server.limits.max_queue_delay_ms); retry later",
                    standing.as_millis(),
                    self.queue_delay.target_us / 1000
                )));
            }
        }
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= limit {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.metrics.shed(priority, "concurrency");
            return Err(Status::resource_exhausted(format!(
                "server overloaded: {before} requests in flight, limit {limit} ({setting}); retry later"
            )));
        }
        self.metrics.in_flight.set(before as i64 + 1);
        Ok(AdmissionPermit { admission: self.clone() })
    }
}

impl Admission {
    /// Takes a place in the new-call rate for one RouteCall, or the RESOURCE_EXHAUSTED status
    /// naming the setting, with the wait until the next place in `grpc-retry-pushback-ms`.
    pub fn try_admit_call(&self) -> Result<(), Status> {
        let Some(rate) = &self.call_rate else { return Ok(()) };
        rate.try_take().map_err(|wait| {
            self.metrics.shed(Priority::New, "call_rate");
            rate.refusal(wait)
        })
    }
}

/// The path of the one method that brings a new call, the one the call rate counts.
const ROUTE_CALL_PATH: &str = "/switchboard.v1.Router/RouteCall";

/// The admission rate of new calls: GCRA (the `governor` crate), one compare-and-swap on an
/// atomic per call, so it adds no lock to the routing path. Generic over the clock so tests
/// step time instead of sleeping.
pub struct CallRate<C: Clock = MonotonicClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    per_s: u32,
    burst: u32,
}

impl std::fmt::Debug for CallRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRate").field("per_s", &self.per_s).field("burst", &self.burst).finish()
    }
}

impl CallRate {
    /// The rate of `settings` on the real clock; `None` when it is off.
    pub fn new(settings: &LimitSettings) -> Option<CallRate> {
        CallRate::with_clock(settings, MonotonicClock)
    }
}

impl<C: Clock + Clone> CallRate<C> {
    fn with_clock(settings: &LimitSettings, clock: C) -> Option<CallRate<C>> {
        let per_s = NonZeroU32::new(settings.max_new_calls_per_s)?;
        let burst = NonZeroU32::new(settings.new_calls_burst)
            .or_else(|| NonZeroU32::new(per_s.get().div_ceil(10)))
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_s).allow_burst(burst);
        Some(CallRate {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            per_s: per_s.get(),
            burst: burst.get(),
        })
    }

    /// Takes one place, or says how long until the next one.
    fn try_take(&self) -> Result<(), Duration> {
        self.limiter.check().map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    fn refusal(&self, wait: Duration) -> Status {
        // At least 1 ms: a pushback of 0 would tell a retrying client to come back at once.
        let wait_ms = wait.as_millis().max(1);
        let mut status = Status::resource_exhausted(format!(
            "server at its new-call rate of {} calls/s, burst {} (server.limits.max_new_calls_per_s); retry in {wait_ms} ms",
            self.per_s, self.burst
        ));
        if let Ok(value) = wait_ms.to_string().parse() {
            status.metadata_mut().insert("grpc-retry-pushback-ms", value);
        }
        status
    }
}

/// The `grpc-timeout` of a request, if it has a valid one (up to 8 digits and a unit).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Puts [`AdmissionService`] in front of a service.
#[derive(Clone, Debug)]
pub struct AdmissionLayer {
    admission: Arc<Admission>,
}

impl AdmissionLayer {
    /// A layer admitting through `admission`.
    pub fn new(admission: Arc<Admission>) -> AdmissionLayer {
        AdmissionLayer { admission }
    }
}

impl<S> tower_layer::Layer<S> for AdmissionLayer {
    type Service = AdmissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdmissionService { inner, admission: self.admission.clone() }
    }
}

/// Admits or refuses each request before the gRPC router sees it.
#[derive(Clone, Debug)]
pub struct AdmissionService<S> {
    inner: S,
    admission: Arc<Admission>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower_service::Service<http::Request<B>> for AdmissionService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // hyper calls this when the HTTP/2 stream is accepted, before the request's task is
        // scheduled: time spent waiting for a worker counts as in flight.
        let accepted = Instant::now();
        let priority = Priority::of(request.uri().path());
        let admitted = self.admission.try_admit(priority).and_then(|permit| {
            if request.uri().path() == ROUTE_CALL_PATH {
                self.admission.try_admit_call()?;
            }
            Ok(permit)
        });
        let permit = match admitted {
            Ok(permit) => permit,
            Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
        };
        let deadline = grpc_timeout(request.headers());
        // The ready service goes with this request; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.admission.metrics.clone();
        let admission = self.admission.clone();
        Box::pin(async move {
            // First poll: the request's task got a worker.
            let waited = accepted.elapsed();
            admission.queue_delay.observe(waited);
            if let Some(timeout) = deadline {
                if waited >= timeout {
                    metrics.shed(priority, "deadline");
                    return Ok(Status::deadline_exceeded(format!(
                        "deadline of {} ms passed before the request was worked on (waited {} ms)",
                        timeout.as_millis(),
                        waited.as_millis()
                    ))
                    .into_http());
                }
            }
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

/// Open server streams per client.
#[derive(Debug)]
pub struct StreamLimiter {
    max_per_client: usize,
    open: parking_lot::Mutex<HashMap<String, usize>>,
    metrics: OverloadMetrics,
}

/// One open stream; dropping it (the stream ended or the client went away) frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    limiter: Arc<StreamLimiter>,
    client: String,
    stream: &'static str,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock();
        if let Some(n) = open.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.client);
            }
        }
        drop(open);
        self.limiter.metrics.streams_open.get_or_create(&label(self.stream)).dec();
    }
}

fn label(stream: &str) -> StreamLabel {
    StreamLabel { stream: stream.to_string() }
}

impl StreamLimiter {
    /// At most `max_per_client` streams per client.
    pub fn new(max_per_client: usize, metrics: OverloadMetrics) -> Arc<StreamLimiter> {
        Arc::new(StreamLimiter {
            max_per_client,
            open: parking_lot::Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Streams `client` holds open now.
    pub fn open_by(&self, client: &str) -> usize {
        self.open.lock().get(client).copied().unwrap_or(0)
    }

    /// A place for one more `stream` of `client`, or RESOURCE_EXHAUSTED naming the limit.
    pub fn acquire(
        self: &Arc<Self>,
        client: String,
        stream: &'static str,
    ) -> Result<StreamPermit, ServiceError> {
        let mut open = self.open.lock();
        let n = open.entry(client.clone()).or_insert(0);
        if *n >= self.max_per_client {
            let held = *n;
            drop(open);
            self.metrics.shed(Priority::New, "streams_per_client");
            return Err(ServiceError::ResourceExhausted(format!(
                "too many streams: this client holds {held} open, limit {} (server.limits.max_streams_per_client); close one first",
                self.max_per_client
            )));
        }
        *n += 1;
        drop(open);
        self.metrics.streams_open.get_or_create(&label(stream)).inc();
        Ok(StreamPermit { limiter: self.clone(), client, stream })
    }
}

/// Who a stream belongs to: the bearer token when authentication is on (tokens identify
/// switches and wallboards), else the peer's IP address (ports change per connection).
pub fn client_key(
    metadata: &tonic::metadata::MetadataMap,
    peer: Option<std::net::SocketAddr>,
    auth_on: bool,
) -> String {
    if auth_on {
        if let Some(token) = metadata.get("authorization").and_then(|v| v.to_str().ok()) {
            return format!("token {token}");
        }
    }
    peer.map_or_else(|| "unknown peer".to_string(), |p| format!("ip {}", p.ip()))
}

/// `stream`, holding `permit` until it ends or is dropped.
pub fn hold<T: Send + 'static>(
    stream: ResponseStream<T>,
    permit: StreamPermit,
) -> ResponseStream<T> {
    Box::pin(Held { stream, _permit: permit })
}

struct Held<T> {
    stream: ResponseStream<T>,
    _permit: StreamPermit,
}

impl<T> tokio_stream::Stream for Held<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use tonic::Code;

    fn check_timeout(value: &str, expect: Option<Duration>) {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        assert_eq!(grpc_timeout(&headers), expect, "{value}");
    }

    #[test]
    fn grpc_timeouts_parse_like_the_spec() {
        check_timeout("0n", Some(Duration::ZERO));
        check_timeout("250m", Some(Duration::from_millis(250)));
        check_timeout("3S", Some(Duration::from_secs(3)));
        check_timeout("2M", Some(Duration::from_secs(120)));
        check_timeout("1H", Some(Duration::from_secs(3600)));
        check_timeout("99999999u", Some(Duration::from_micros(99_999_999)));
        check_timeout("123456789m", None);
        check_timeout("5x", None);
        check_timeout("m", None);
        check_timeout("-1S", None);
    }

    fn admission(total: usize, new: usize) -> Arc<Admission> {
        let settings = LimitSettings {
            max_concurrent_requests: total,
            max_concurrent_new_requests: new,
            ..LimitSettings::default()
        };
        Admission::new(&settings, OverloadMetrics::default())
    }

    #[test]
    fn new_work_is_shed_before_events_of_admitted_calls() {
        let a = admission(3, 2);
        let first = a.try_admit(Priority::New).unwrap();
        let _second = a.try_admit(Priority::New).unwrap();
        let refused = a.try_admit(Priority::New).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused.message().contains("server.limits.max_concurrent_new_requests"),
            "{refused:?}"
        );
        let event = a.try_admit(Priority::Admitted).unwrap();
        let refused = a.try_admit(Priority::Admitted).unwrap_err();
        assert!(refused.message().contains("server.limits.max_concurrent_requests"), "{refused:?}");
        assert_eq!(a.in_flight(), 3);
        drop(event);
        drop(first);
        assert_eq!(a.in_flight(), 1, "answered requests free their place");
        a.try_admit(Priority::New).expect("recovers once load drops");
    }

    /// `n` waits of `ms` each at time `at` (ms since the tracker's epoch).
    fn waits(q: &QueueDelay, at: u64, n: usize, ms: u64) {
        for _ in 0..n {
            q.observe_at(at, Duration::from_millis(ms));
        }
    }

    #[test]
    fn a_standing_queue_is_told_from_a_burst_and_forgotten_when_it_drains() {
        let q = QueueDelay::new(Duration::from_millis(5));
        let window = QUEUE_DELAY_WINDOW_MS;
        // A burst: most requests waited long, some not at all. Not a standing queue.
        waits(&q, 10, 20, 40);
        waits(&q, 20, 1, 0);
        waits(&q, window + 10, 1, 40);
        assert_eq!(q.standing_above_target_at(window + 10), None);
        // Every request of a window waited at least 12 ms: standing.
        waits(&q, window + 20, 20, 12);
        waits(&q, 2 * window + 20, 1, 30);
        assert_eq!(q.standing_above_target_at(2 * window + 20), Some(Duration::from_millis(12)));
        // Too few waits to judge: one slow request in a quiet window says nothing.
        waits(&q, 3 * window + 30, 1, 50);
        assert_eq!(q.standing_above_target_at(3 * window + 30), None);
        // Overloaded again, then no waits to go by at all (everything new refused): let
        // work in rather than stay refused.
        waits(&q, 3 * window + 40, 20, 9);
        waits(&q, 4 * window + 40, 1, 9);
        assert!(q.standing_above_target_at(4 * window + 40).is_some());
        assert_eq!(q.standing_above_target_at(7 * window + 40), None);
        // Off: never refuses.
        let off = QueueDelay::new(Duration::ZERO);
        waits(&off, 10, 20, 100);
        waits(&off, window + 10, 20, 100);
        assert_eq!(off.standing_above_target_at(window + 10), None);
    }

    #[test]
    fn new_work_is_refused_while_requests_queue_but_admitted_work_is_not() {
        let a = admission(100, 50);
        let now = a.queue_delay.now_ms();
        waits(&a.queue_delay, now, 20, 30);
        // The window closes a minute ahead by its own clock, so the verdict is fresh however
        // slowly this test runs.
        waits(&a.queue_delay, now + 60_000, 1, 30);
        let refused = a.try_admit(Priority::New).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("server.limits.max_queue_delay_ms"), "{refused:?}");
        a.try_admit(Priority::Admitted).expect("events of admitted calls are never refused for it");
    }

    fn call_rate(per_s: u32, burst: u32) -> (CallRate<FakeRelativeClock>, FakeRelativeClock) {
        let settings = LimitSettings {
            max_new_calls_per_s: per_s,
            new_calls_burst: burst,
            ..LimitSettings::default()
        };
        let clock = FakeRelativeClock::default();
        (CallRate::with_clock(&settings, clock.clone()).expect("rate on"), clock)
    }

    /// Calls admitted out of `offered`, taken back to back.
    fn take(rate: &CallRate<FakeRelativeClock>, offered: usize) -> usize {
        (0..offered).filter(|_| rate.try_take().is_ok()).count()
    }

    #[test]
    fn the_call_rate_admits_its_burst_then_its_rate_and_says_when_to_retry() {
        let (rate, clock) = call_rate(100, 5);
        assert_eq!(take(&rate, 50), 5, "a burst beyond the bucket is cut at its size");
        let wait = rate.try_take().unwrap_err();
        assert_eq!(wait, Duration::from_millis(10), "one place every 1/100 s");
        let status = rate.refusal(wait);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("server.limits.max_new_calls_per_s"), "{status:?}");
        assert_eq!(status.metadata().get("grpc-retry-pushback-ms").unwrap(), "10");
        // A second of overload at 1,000 offered per 10 ms step: exactly the rate gets in.
        let mut admitted = 0;
        for _ in 0..100 {
            clock.advance(Duration::from_millis(10));
            admitted += take(&rate, 10);
        }
        assert_eq!(admitted, 100);
        // Load drops: after a quiet spell the whole burst is there again, no more.
        clock.advance(Duration::from_secs(60));
        assert_eq!(take(&rate, 50), 5);
    }

    #[test]
    fn the_call_rate_is_off_at_zero_and_its_burst_defaults_to_a_tenth_of_a_second() {
        assert!(CallRate::new(&LimitSettings::default()).is_none());
        assert_eq!(call_rate(2_000, 0).0.burst, 200);
        assert_eq!(call_rate(3, 0).0.burst, 1);
        let a = admission(10, 10);
        for _ in 0..1_000 {
            a.try_admit_call().expect("no rate limit by default");
        }
    }

    #[test]
    fn streams_are_limited_per_client_and_freed_on_drop() {
        let limiter = StreamLimiter::new(2, OverloadMetrics::default());
        let a1 = limiter.acquire("ip 10.0.0.1".into(), "stats").unwrap();
        let _a2 = limiter.acquire("ip 10.0.0.1".into(), "agent").unwrap();
        let refused = limiter.acquire("ip 10.0.0.1".into(), "stats").unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.to_string().contains("server.limits.max_streams_per_client"));
        limiter.acquire("ip 10.0.0.2".into(), "stats").expect("other clients are not affected");
        drop(a1);
        assert_eq!(limiter.open_by("ip 10.0.0.1"), 1);
        limiter.acquire("ip 10.0.0.1".into(), "stats").expect("a closed stream frees its place");
    }

    #[test]
    fn settings_validate_the_new_share() {
        let mut s = LimitSettings::default();
        s.validate().unwrap();
        s.max_concurrent_new_requests = s.max_concurrent_requests + 1;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.starts_with("server.limits.max_concurrent_new_requests"), "{err}");
    }
}
