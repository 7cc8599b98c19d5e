//! Workforce management (placeholder until issue 5 lands).

pub mod schedule;
