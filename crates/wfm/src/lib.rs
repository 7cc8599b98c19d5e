//! Workforce management (placeholder until issue 5 lands).
