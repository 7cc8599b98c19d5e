//! The crate's error type.

/// Errors of the workforce-management library.
#[derive(Debug, thiserror::Error)]
pub enum WfmError {
    /// A row of an input CSV is malformed; `line` is 1-based and counts the header.
    #[error("line {line}: column {column}: {message}")]
    BadRow { line: u64, column: String, message: String },
    /// The CSV has no header or lacks a required column.
    #[error("{0}")]
    BadHeader(String),
    /// A value given as an option (duration, target, time zone) does not parse.
    #[error("{0}")]
    BadValue(String),
    /// The input does not allow the requested computation (too little history, etc.).
    #[error("{0}")]
    Unusable(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The CSV layer failed below the row level (e.g. invalid UTF-8).
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = WfmError> = std::result::Result<T, E>;
