//! Routing engine.
