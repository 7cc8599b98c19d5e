//! The one error type of the simulator.

use thiserror::Error;

/// What can go wrong building or running a simulation.
#[derive(Debug, Error)]
pub enum SimError {
    /// A bad value in an input file, with its line (1-based, the header is line 1) and field.
    #[error("{file}:{line}: {field}: {message}")]
    Input {
        /// The input's name (a file name, or what the caller calls it).
        file: String,
        /// 1-based line; the header is line 1.
        line: usize,
        /// The column or field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A bad option (distribution, replication count, interval).
    #[error("{option}: {message}")]
    Option {
        /// The option, e.g. `handle`.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The scenario does not fit the configuration (unknown queue, no agents for a queue).
    #[error("{0}")]
    Scenario(String),
    /// The routing engine refused something the simulator built from its inputs.
    #[error("routing engine: {0}")]
    Engine(#[from] switchboard_routing::Error),
}

impl SimError {
    pub(crate) fn input(
        file: &str,
        line: usize,
        field: &str,
        message: impl Into<String>,
    ) -> SimError {
        SimError::Input {
            file: file.to_string(),
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn option(option: &'static str, message: impl Into<String>) -> SimError {
        SimError::Option { option, message: message.into() }
    }
}
