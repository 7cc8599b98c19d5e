//! The one error type of the routing engine.
//!
//! Every operation that returns an error has changed nothing: the engine validates first and
//! mutates after, or undoes what it did before returning.

use crate::agent::AgentStateKind;
use crate::ids::{AgentId, CallId, QueueId};

/// What went wrong, with the offending id or field. Messages are lowercase and name the thing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No agent has this id.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// No queue has this id.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// No call in the engine has this id (never routed, or already ended).
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// No entry point has this dialed number.
    #[error("no entry point for dialed number {0:?}")]
    UnknownEntryPoint(String),
    /// A call with this id is already in the engine.
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
    /// The queue holds as many waiting calls as its `max_waiting` allows.
    #[error("queue {queue} is full ({max_waiting} calls waiting)")]
    QueueFull {
        /// The full queue.
        queue: QueueId,
        /// Its configured limit.
        max_waiting: usize,
    },
    /// The agent's state does not allow the requested change; nothing changed.
    #[error("agent {agent} cannot {action} while {state}")]
    IllegalTransition {
        /// The agent.
        agent: AgentId,
        /// The state it is in.
        state: AgentStateKind,
        /// What was asked, e.g. `go ready`.
        action: &'static str,
    },
    /// The call is not in a state where this event makes sense (e.g. ended before answered).
    #[error("call {call} cannot be {action}: {reason}")]
    CallStateMismatch {
        /// The call.
        call: CallId,
        /// What was reported, e.g. `answered`.
        action: &'static str,
        /// Why not, e.g. `it is still waiting in queue billing`.
        reason: String,
    },
    /// A field of a request or configuration is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// Path of the field, e.g. `agent.skills[2].level`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}
