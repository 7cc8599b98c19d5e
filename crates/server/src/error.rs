//! The one service error type, mapped to gRPC status codes in one place.

use switchboard_routing::Error as RoutingError;
use tonic::{Code, Status};

/// Why a request failed. Every variant leaves the server's state as it was.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request field is missing or malformed (INVALID_ARGUMENT).
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// Field path in the request, e.g. `agent.skills[1].level`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The id names nothing (NOT_FOUND).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but the state does not allow it (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The id exists already (ALREADY_EXISTS).
    #[error("{0}")]
    AlreadyExists(String),
    /// A queue, stream or buffer is full (RESOURCE_EXHAUSTED).
    #[error("{0}")]
    ResourceExhausted(String),
    /// No or unknown token (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(String),
    /// The token's role may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(String),
    /// A bug or an environment failure (INTERNAL); logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An INVALID_ARGUMENT naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ServiceError {
        ServiceError::InvalidArgument { field: field.into(), reason: reason.into() }
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::InvalidArgument { .. } => Code::InvalidArgument,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::FailedPrecondition(_) => Code::FailedPrecondition,
            ServiceError::AlreadyExists(_) => Code::AlreadyExists,
            ServiceError::ResourceExhausted(_) => Code::ResourceExhausted,
            ServiceError::Unauthenticated(_) => Code::Unauthenticated,
            ServiceError::PermissionDenied(_) => Code::PermissionDenied,
            ServiceError::Internal(_) => Code::Internal,
        }
    }
}

impl From<RoutingError> for ServiceError {
    fn from(e: RoutingError) -> Self {
        let message = e.to_string();
        match e {
            RoutingError::UnknownAgent(_)
            | RoutingError::UnknownQueue(_)
            | RoutingError::UnknownCall(_)
            | RoutingError::UnknownEntryPoint(_) => ServiceError::NotFound(message),
            RoutingError::DuplicateCall(_) => ServiceError::AlreadyExists(message),
            RoutingError::QueueFull { .. } => ServiceError::ResourceExhausted(message),
            RoutingError::IllegalTransition { .. } | RoutingError::CallStateMismatch { .. } => {
                ServiceError::FailedPrecondition(message)
            }
            RoutingError::InvalidArgument { field, reason } => {
                ServiceError::InvalidArgument { field, reason }
            }
        }
    }
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        if let ServiceError::Internal(message) = &e {
            tracing::error!(error = %message, "internal error");
        }
        Status::new(e.code(), e.to_string())
    }
}

/// Result of a service handler.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_errors_map_to_the_documented_codes() {
        let check = |e: RoutingError, code: Code| assert_eq!(ServiceError::from(e).code(), code);
        check(RoutingError::UnknownAgent("a".into()), Code::NotFound);
        check(RoutingError::UnknownEntryPoint("+1".into()), Code::NotFound);
        check(RoutingError::DuplicateCall("c".into()), Code::AlreadyExists);
        check(
            RoutingError::QueueFull { queue: "q".into(), max_waiting: 1 },
            Code::ResourceExhausted,
        );
        check(
            RoutingError::CallStateMismatch {
                call: "c".into(),
                action: "answered",
                reason: "x".into(),
            },
            Code::FailedPrecondition,
        );
        let status = Status::from(ServiceError::from(RoutingError::InvalidArgument {
            field: "agent.id".into(),
            reason: "must not be empty".into(),
        }));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "invalid agent.id: must not be empty");
    }
}
