//! Switchboard's routing engine: agents, skill queues, agent-selection policies and
//! exactly-once assignment of calls to agents.
//!
//! The [`Engine`] holds agent state in concurrent maps shared by many threads. A call routed to
//! a queue is reserved to exactly one qualified available agent at once, or waits; an agent
//! that becomes available takes the best waiting call it qualifies for across all its queues
//! (highest effective priority, then longest wait). Every operation takes the current time as
//! an argument, timers fire from [`Engine::advance`], and the random policy draws from a seeded
//! generator, so the same inputs always give the same decisions: the server, the simulator and
//! tests drive the very same code.
//!
//! **Architecture invariant:** this crate does no IO and knows nothing of gRPC, protobuf,
//! files, sockets or clocks. Callers turn the world into method calls and [`Event`]s back into
//! the world.
//!
//! # Example
//!
//! ```
//! use switchboard_routing::{
//!     AgentProfile, Engine, EngineConfig, NewCall, QueueConfig, Routed, SkillLevel,
//!     SkillRequirement, Timestamp,
//! };
//!
//! let billing = QueueConfig::new("billing", vec![SkillRequirement::new("billing", 2)]);
//! let engine = Engine::new(EngineConfig { queues: vec![billing], ..Default::default() })?;
//! let t0 = Timestamp::from_secs(1_000);
//!
//! engine.upsert_agent(AgentProfile::new("ana", vec![SkillLevel::new("billing", 4)]), t0)?;
//! engine.login(&"ana".into(), true, t0)?;
//!
//! // The first call goes straight to Ana; the second waits behind it.
//! let first = engine.route_call(&"billing".into(), NewCall::new("c1", t0), t0)?;
//! let Routed::Offered(offer) = first else { panic!("expected an offer") };
//! assert_eq!(offer.agent.as_str(), "ana");
//! let second = engine.route_call(&"billing".into(), NewCall::new("c2", t0), t0)?;
//! assert!(matches!(second, Routed::Queued { position: 1, .. }));
//!
//! // Ana answers and hangs up; after 30 s of wrap-up the waiting call rings her.
//! engine.call_answered(&"c1".into(), Timestamp::from_secs(1_005))?;
//! engine.call_ended(&"c1".into(), Timestamp::from_secs(1_100))?;
//! engine.advance(Timestamp::from_secs(1_130));
//! assert_eq!(
//!     engine.call_status(&"c2".into()),
//!     Some(switchboard_routing::CallStatus::Offered { queue: "billing".into(), agent: "ana".into() }),
//! );
//! # Ok::<(), switchboard_routing::Error>(())
//! ```

mod agent;
mod call;
mod engine;
mod error;
mod event;
mod ids;
mod live;
pub mod plan;
mod policy;
mod queue;
mod skills;
mod time;

pub use agent::{
    AgentCounters, AgentProfile, AgentSnapshot, AgentState, AgentStateKind, Capacity, REASON_MISSED,
};
pub use call::{CallStatus, Escalation, NewCall, MAX_PRIORITY_ABS};
pub use engine::{
    Engine, EngineConfig, RestoreReport, Routed, MAX_AVAILABLE_PROBE, MAX_REASON_LEN_BYTES,
};
pub use error::Error;
pub use event::{Event, EventLog, NoObserver, Observer, Offer, OfferOutcome};
pub use ids::{AgentId, CallId, QueueId, Skill, MAX_ID_LEN_BYTES};
pub use live::{
    LiveAgent, LiveAwaiting, LiveCall, LiveLastAgent, LiveSession, LiveSplits, LiveState,
    LiveTraceStep, SessionChange,
};
pub use policy::SelectionPolicy;
pub use queue::{QueueConfig, QueueCounters, QueueSnapshot, QueueTotals};
pub use skills::{SkillLevel, SkillRequirement, MAX_LEVEL, MIN_LEVEL};
pub use time::Timestamp;
