//! What the generator saw: latency per RPC (hdrhistogram, microseconds), outcomes by status
//! code, and per-queue tallies of what it did to calls, for the accounting check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

/// The RPCs the generator sends, named as the server's `switchboard_rpcs_total` metric names
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Rpc {
    /// Router.RouteCall.
    RouteCall,
    /// Router.SubmitDigits.
    SubmitDigits,
    /// Router.ReportCallEvent.
    ReportCallEvent,
    /// Agents.Login.
    Login,
    /// Agents.SetReady.
    SetReady,
    /// Agents.SetNotReady.
    SetNotReady,
}

impl Rpc {
    /// Every kind, in report order.
    pub const ALL: [Rpc; 6] = [
        Rpc::RouteCall,
        Rpc::SubmitDigits,
        Rpc::ReportCallEvent,
        Rpc::SetReady,
        Rpc::SetNotReady,
        Rpc::Login,
    ];

    /// The method name (the `rpc` label of the server's metric).
    pub fn name(self) -> &'static str {
        match self {
            Rpc::RouteCall => "RouteCall",
            Rpc::SubmitDigits => "SubmitDigits",
            Rpc::ReportCallEvent => "ReportCallEvent",
            Rpc::Login => "Login",
            Rpc::SetReady => "SetReady",
            Rpc::SetNotReady => "SetNotReady",
        }
    }
}

/// Highest latency a histogram tracks, microseconds; slower RPCs are clamped to it.
const MAX_TRACKED_US: u64 = 60_000_000;

/// Per-queue counts of what the generator did, in the server's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueTally {
    /// Calls that entered the queue (routed to it: connected or queued).
    pub offered: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls abandoned in the queue or while ringing.
    pub abandoned: u64,
    /// Calls whose talk and wrap-up were both ended.
    pub handled: u64,
}

/// Call-level counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallTally {
    /// Calls started (RouteCall sent).
    pub started: u64,
    /// Calls that reached an agent and were answered.
    pub answered: u64,
    /// Calls the caller hung up on before an answer.
    pub abandoned: u64,
    /// Calls that went through the menu.
    pub via_menu: u64,
    /// Calls that waited in a queue before an agent was free.
    pub queued: u64,
    /// Agent breaks (not ready, then ready).
    pub breaks: u64,
    /// Calls that failed (an RPC error) and were left alone.
    pub failed: u64,
    /// Calls the server refused at RouteCall (overload: RESOURCE_EXHAUSTED or UNAVAILABLE);
    /// nothing was routed, so they are not failures.
    pub refused: u64,
}

/// Whether `code` from `rpc` is the server shedding load, not an error: only a new call can be
/// refused (events of admitted calls and agent changes must never be).
pub fn is_refusal(rpc: Rpc, code: tonic::Code) -> bool {
    rpc == Rpc::RouteCall
        && matches!(code, tonic::Code::ResourceExhausted | tonic::Code::Unavailable)
}

#[derive(Debug)]
struct Inner {
    latency: BTreeMap<Rpc, Histogram<u64>>,
    /// Every outcome by RPC and status code name (`Ok` included).
    codes: BTreeMap<(Rpc, String), u64>,
    queues: BTreeMap<String, QueueTally>,
    calls: CallTally,
    /// Time a queued call waited for its assignment, microseconds.
    queued_wait: Histogram<u64>,
    /// The first message of each failing RPC and code, to tell why.
    first_errors: BTreeMap<(Rpc, String), String>,
    /// Latency of refused RouteCalls, microseconds (not in `latency`).
    refusals: Histogram<u64>,
    /// When the last refusal came back.
    last_refusal: Option<Instant>,
}

/// Shared by every task of a run; one short lock per record.
#[derive(Debug)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

fn histogram() -> Histogram<u64> {
    // Three significant figures from 1 us to a minute: bounded memory (tens of kB).
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("constant bounds are valid")
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            inner: Mutex::new(Inner {
                latency: BTreeMap::new(),
                codes: BTreeMap::new(),
                queues: BTreeMap::new(),
                calls: CallTally::default(),
                queued_wait: histogram(),
                first_errors: BTreeMap::new(),
                refusals: histogram(),
                last_refusal: None,
            }),
        }
    }
}

impl Recorder {
    /// One RPC finished after `took` with `code` (`tonic::Code::Ok` on success).
    pub fn rpc(&self, rpc: Rpc, took: Duration, code: tonic::Code) {
        let us = (took.as_micros() as u64).clamp(1, MAX_TRACKED_US);
        let mut inner = self.inner.lock();
        if is_refusal(rpc, code) {
            let _ = inner.refusals.record(us);
            inner.last_refusal = Some(Instant::now());
        } else {
            let _ = inner.latency.entry(rpc).or_insert_with(histogram).record(us);
        }
        *inner.codes.entry((rpc, format!("{code:?}"))).or_default() += 1;
    }

    /// Keeps the first message of a failure of `rpc` with `code`.
    pub fn error_message(&self, rpc: Rpc, code: tonic::Code, message: &str) {
        let mut inner = self.inner.lock();
        inner.first_errors.entry((rpc, format!("{code:?}"))).or_insert_with(|| message.to_string());
    }

    /// Changes the tally of `queue`.
    pub fn queue(&self, queue: &str, f: impl FnOnce(&mut QueueTally)) {
        let mut inner = self.inner.lock();
        if let Some(t) = inner.queues.get_mut(queue) {
            f(t);
        } else {
            f(inner.queues.entry(queue.to_string()).or_default());
        }
    }

    /// Changes the call counts.
    pub fn calls(&self, f: impl FnOnce(&mut CallTally)) {
        f(&mut self.inner.lock().calls);
    }

    /// A queued call got its agent after `waited`.
    pub fn queued_wait(&self, waited: Duration) {
        let us = (waited.as_micros() as u64).clamp(1, MAX_TRACKED_US);
        let _ = self.inner.lock().queued_wait.record(us);
    }

    /// Everything recorded so far.
    pub fn snapshot(&self) -> Recorded {
        let inner = self.inner.lock();
        Recorded {
            latency: inner.latency.clone(),
            codes: inner.codes.clone(),
            queues: inner.queues.clone(),
            calls: inner.calls,
            queued_wait: inner.queued_wait.clone(),
            first_errors: inner.first_errors.clone(),
            refusals: inner.refusals.clone(),
            last_refusal: inner.last_refusal,
        }
    }
}

/// A copy of a recorder's contents.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Latency per RPC, microseconds.
    pub latency: BTreeMap<Rpc, Histogram<u64>>,
    /// Outcomes by RPC and code name.
    pub codes: BTreeMap<(Rpc, String), u64>,
    /// Per-queue tallies.
    pub queues: BTreeMap<String, QueueTally>,
    /// Call counts.
    pub calls: CallTally,
    /// Wait of queued calls for their agent, microseconds.
    pub queued_wait: Histogram<u64>,
    /// The first message of each failing RPC and code.
    pub first_errors: BTreeMap<(Rpc, String), String>,
    /// Latency of refused RouteCalls, microseconds.
    pub refusals: Histogram<u64>,
    /// When the last refusal came back.
    pub last_refusal: Option<Instant>,
}

impl Recorded {
    /// RPCs sent, all outcomes.
    pub fn rpcs(&self) -> u64 {
        self.codes.values().sum()
    }

    /// RPCs that failed, all kinds; refused RouteCalls are not failures (see `refused`).
    pub fn errors(&self) -> u64 {
        self.codes.iter().filter(|((_, code), _)| code != "Ok").map(|(_, n)| n).sum::<u64>()
            - self.refused()
    }

    /// RouteCalls the server refused (RESOURCE_EXHAUSTED or UNAVAILABLE).
    pub fn refused(&self) -> u64 {
        self.refusals.len()
    }

    /// Latency of what calls already admitted send (digits, call events, agent changes):
    /// what overload must not slow down.
    pub fn admitted_latency(&self) -> Histogram<u64> {
        let mut all = histogram();
        for rpc in [Rpc::SubmitDigits, Rpc::ReportCallEvent, Rpc::SetReady, Rpc::SetNotReady] {
            if let Some(h) = self.latency.get(&rpc) {
                let _ = all.add(h);
            }
        }
        all
    }

    /// Latency over every RPC kind except `Login` (set-up, not traffic).
    pub fn traffic_latency(&self) -> Histogram<u64> {
        let mut all = histogram();
        for (rpc, h) in &self.latency {
            if *rpc != Rpc::Login {
                let _ = all.add(h);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_latency_add_up() {
        let r = Recorder::default();
        r.rpc(Rpc::RouteCall, Duration::from_micros(100), tonic::Code::Ok);
        r.rpc(Rpc::RouteCall, Duration::from_micros(300), tonic::Code::Ok);
        r.rpc(Rpc::SetReady, Duration::from_micros(50), tonic::Code::FailedPrecondition);
        r.rpc(Rpc::Login, Duration::from_secs(3600), tonic::Code::Ok);
        let s = r.snapshot();
        assert_eq!(s.rpcs(), 4);
        assert_eq!(s.errors(), 1);
        assert_eq!(s.codes[&(Rpc::SetReady, "FailedPrecondition".to_string())], 1);
        let traffic = s.traffic_latency();
        assert_eq!(traffic.len(), 3, "login is set-up, not traffic");
        assert_eq!(s.refused(), 0);
        r.rpc(Rpc::RouteCall, Duration::from_micros(70), tonic::Code::ResourceExhausted);
        r.rpc(Rpc::ReportCallEvent, Duration::from_micros(90), tonic::Code::ResourceExhausted);
        let s = r.snapshot();
        assert_eq!(s.refused(), 1, "a refused new call is shed load");
        assert_eq!(s.errors(), 2, "a refused event of an admitted call is an error");
        assert_eq!(s.latency[&Rpc::RouteCall].len(), 2, "refusals have their own histogram");
        assert_eq!(s.admitted_latency().len(), 2, "SetReady and ReportCallEvent");
        let hour = s.latency[&Rpc::Login].max();
        assert!(
            (MAX_TRACKED_US..MAX_TRACKED_US + MAX_TRACKED_US / 100).contains(&hour),
            "clamped: {hour}"
        );
    }
}
