//! Routing plans: how each entry point (dialed number) routes its calls.
//!
//! A plan is a graph of nodes that a call walks until it reaches a target: IVR menus and digit
//! collection, business-hours calendars, caller region, weighted and round-robin splits,
//! priority rules, CRM lookups, last-agent preference, skill queues with escalation and
//! overflow, and the terminal actions (connect an agent, transfer, voicemail, announcement,
//! hang up). Plans come from the contact-center TOML file ([`RoutingConfig::from_toml`]), which
//! lists every problem with its line. [`Router`] runs them over an [`crate::Engine`]; every
//! decision carries a trace of the nodes visited and why each branch was taken.
//!
//! Like the rest of the crate this module does no IO: the caller reads the files and hands in
//! text, and time is an argument (Unix milliseconds, since calendars need the date).
//!
//! ```
//! use std::sync::Arc;
//! use switchboard_routing::plan::{Action, CustomerStore, IncomingCall, Router, RoutingConfig};
//! use switchboard_routing::{NoObserver, Timestamp};
//!
//! let config = RoutingConfig::from_toml(r#"
//!     [[queues]]
//!     id = "support"
//!     skills = { support = 1 }
//!
//!     [[entry_points]]
//!     number = "+18005550100"
//!     plan = "main"
//!
//!     [plans.main]
//!     start = "vip"
//!
//!     [plans.main.nodes.vip]
//!     type = "priority"
//!     rules = [{ when = "tier == 'gold'", raise = 10 }]
//!     next = "support"
//!
//!     [plans.main.nodes.support]
//!     type = "queue"
//!     queue = "support"
//! "#).expect("valid configuration");
//! let router = Router::new(config, CustomerStore::default(), Arc::new(NoObserver))?;
//! let call = IncomingCall {
//!     id: "c1".into(),
//!     dialed: "+18005550100".into(),
//!     attributes: [("tier".to_string(), "gold".to_string())].into(),
//!     ..Default::default()
//! };
//! let decision = router.start_call(call, Timestamp::from_secs(1_790_000_000))?;
//! assert!(matches!(decision.action, Action::Queued { position: 1, .. }));
//! assert_eq!(decision.trace[0].note, "priority 0 -> 10 (Equals(\"tier\", \"gold\"): raise 10)");
//! # Ok::<(), switchboard_routing::Error>(())
//! ```

mod calendar;
mod config;
mod customers;
mod expr;
mod router;
mod split;

pub use calendar::{Calendar, CalendarStatus, TimeRange};
pub use config::{
    ConfigError, ConfigProblem, EscalationStep, Node, NodeKind, Plan, RoutingConfig, SkillTemplate,
};
pub use customers::{CustomerCsvError, CustomerProfile, CustomerStore};
pub use expr::{Condition, OverflowCondition, Template};
pub use router::{
    Action, Decision, IncomingCall, Router, SessionRestoreReport, TraceStep, MAX_STEPS_PER_WALK,
};
