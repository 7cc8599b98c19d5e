//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use switchboard_proto::v1 as pb;
use switchboard_routing::QueueConfig;

/// Labels `queue`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// Queue id.
    pub queue: String,
}

/// Labels `state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// Agent state.
    pub state: String,
}

/// Labels `rpc`, `code`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabel {
    /// Method name.
    pub rpc: String,
    /// gRPC status code name.
    pub code: String,
}

/// Label `kind` of what a restart recovered from the journal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecoveredLabel {
    /// `agent_<state>`, `call_queued`, `call_offered`, `call_connected`, `offer_expired`,
    /// `plan_session_queued`, `plan_session_ivr`, `last_agent`, `split_position`, `dropped`,
    /// `torn_tail`.
    pub kind: String,
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    /// What the last start recovered from the journal.
    pub recovered: Family<RecoveredLabel, Counter>,
    registry: Registry,
    /// RPCs handled, by method and status.
    pub rpcs: Family<RpcLabel, Counter>,
    /// Time to decide a RouteCall or SubmitDigits, seconds.
    pub route_seconds: Histogram,
    waiting: Family<QueueLabel, Gauge>,
    longest_wait: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    service_level_today: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    offered_today: Family<QueueLabel, Gauge>,
    answered_today: Family<QueueLabel, Gauge>,
    abandoned_today: Family<QueueLabel, Gauge>,
    agents: Family<StateLabel, Gauge>,
    /// Shed requests, open and lagging streams, buffers.
    pub overload: crate::limits::OverloadMetrics,
}

impl Metrics {
    /// Registers every metric; queue gauges start at zero for every queue.
    pub fn new(queues: &[QueueConfig]) -> Metrics {
        let mut registry = Registry::with_prefix("switchboard");
        let rpcs = Family::<RpcLabel, Counter>::default();
        registry.register("rpcs", "RPCs handled by method and status code", rpcs.clone());
        // 10 us to ~80 ms.
        let route_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1e-5, 2.0, 14),
        );
        registry.register(
            "route_decision_seconds",
            "Time to decide RouteCall and SubmitDigits",
            route_seconds.clone(),
        );
        let waiting = Family::<QueueLabel, Gauge>::default();
        registry.register("queue_calls_waiting", "Calls waiting in the queue", waiting.clone());
        let longest_wait =
            Family::<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "queue_longest_wait_seconds",
            "Wait of the longest-waiting call",
            longest_wait.clone(),
        );
        let service_level_today =
            Family::<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "queue_service_level_today_ratio",
            "Answered within threshold over answered, since local midnight",
            service_level_today.clone(),
        );
        let offered_today = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "queue_offered_today",
            "Calls that entered the queue today",
            offered_today.clone(),
        );
        let answered_today = Family::<QueueLabel, Gauge>::default();
        registry.register("queue_answered_today", "Calls answered today", answered_today.clone());
        let abandoned_today = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "queue_abandoned_today",
            "Calls abandoned today",
            abandoned_today.clone(),
        );
        let agents = Family::<StateLabel, Gauge>::default();
        registry.register("agents", "Agents by state", agents.clone());
        let overload = crate::limits::OverloadMetrics::register(&mut registry);
        for q in queues {
            let label = QueueLabel { queue: q.id.to_string() };
            waiting.get_or_create(&label).set(0);
        }
        let recovered = Family::<RecoveredLabel, Counter>::default();
        registry.register(
            "recovered",
            "What the server recovered from its journal at start, by kind",
            recovered.clone(),
        );
        Metrics {
            recovered,
            registry,
            rpcs,
            route_seconds,
            waiting,
            longest_wait,
            service_level_today,
            offered_today,
            answered_today,
            abandoned_today,
            agents,
            overload,
        }
    }

    /// Counts one RPC outcome.
    pub fn rpc(&self, rpc: &str, code: tonic::Code) {
        self.rpcs
            .get_or_create(&RpcLabel { rpc: rpc.to_string(), code: format!("{code:?}") })
            .inc();
    }

    /// Copies the latest statistics into the gauges.
    pub fn observe(&self, queues: &[pb::QueueStats], agents: &[pb::Agent]) {
        for q in queues {
            let label = QueueLabel { queue: q.queue.clone() };
            self.waiting.get_or_create(&label).set(i64::from(q.calls_waiting));
            self.longest_wait.get_or_create(&label).set(q.longest_wait_ms as f64 / 1000.0);
            if let Some(today) = &q.today {
                self.offered_today.get_or_create(&label).set(today.offered as i64);
                self.answered_today.get_or_create(&label).set(today.answered as i64);
                self.abandoned_today.get_or_create(&label).set(today.abandoned as i64);
                if let Some(sl) = today.service_level {
                    self.service_level_today.get_or_create(&label).set(sl);
                }
            }
        }
        let mut by_state = std::collections::BTreeMap::<&str, i64>::new();
        for state in ["logged_out", "available", "not_ready", "reserved", "on_call", "wrap_up"] {
            by_state.insert(state, 0);
        }
        for a in agents {
            let name = match pb::AgentState::try_from(a.state).unwrap_or_default() {
                pb::AgentState::Available => "available",
                pb::AgentState::NotReady => "not_ready",
                pb::AgentState::Reserved => "reserved",
                pb::AgentState::OnCall => "on_call",
                pb::AgentState::WrapUp => "wrap_up",
                pb::AgentState::LoggedOut | pb::AgentState::Unspecified => "logged_out",
            };
            *by_state.entry(name).or_default() += 1;
        }
        for (state, n) in by_state {
            self.agents.get_or_create(&StateLabel { state: state.to_string() }).set(n);
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("cannot encode metrics");
        }
        out
    }
}
