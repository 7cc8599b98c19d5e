//! Identifiers of agents, calls, queues and skills: cheap-to-clone shared strings.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a string; cloning the result is a reference-count increment.
            pub fn new(id: impl Into<Arc<str>>) -> Self {
                $name(id.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.into())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id.into())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An agent, as the contact center names it (employee number, login).
    AgentId
);
string_id!(
    /// A call, as the telephony switch names it (a channel or call UUID).
    CallId
);
string_id!(
    /// A skill queue.
    QueueId
);
string_id!(
    /// A skill such as `billing` or `lang:fr`.
    Skill
);

/// Longest identifier the engine accepts, in bytes: ids travel in every event and log line.
pub const MAX_ID_LEN_BYTES: usize = 128;

/// Why an identifier is unacceptable, if it is.
pub(crate) fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("must not be empty")
    } else if id.len() > MAX_ID_LEN_BYTES {
        Some("is longer than 128 bytes")
    } else if id.chars().any(char::is_control) {
        Some("contains control characters")
    } else {
        None
    }
}
