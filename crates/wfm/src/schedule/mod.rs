//! Shift scheduling: cover a per-interval requirement with shifts at least cost.
//!
//! Read the requirement ([`Requirement::from_staffing_csv`]) and the shift templates
//! ([`parse_templates`]), then [`solve`]: every candidate shift (template, start, break
//! placement) becomes a column of a set-covering LP, solved by column generation, whose optimum
//! is the lower bound; the LP solution is rounded and dived, then improved by exact window
//! re-optimisation and local search (see [`solve`]'s module for the method). Bounds beyond the
//! LP, to judge how much of a gap is integrality: [`cost_step`] and [`block_lower_bound`]. Under-coverage is priced per missing agent-interval, so an impossible requirement
//! yields a schedule and the list of short intervals rather than an error. [`roster`] then
//! puts names on the shifts.
//!
//! ```
//! use chrono::DateTime;
//! use switchboard_wfm::schedule::{parse_templates, solve, Requirement, SolveOptions};
//!
//! let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00+01:00").unwrap();
//! // Two agents from 08:00 to 12:00, one until 14:00 (hourly intervals).
//! let requirement = Requirement::new(start, 60, vec![2.0, 2.0, 2.0, 2.0, 1.0, 1.0]);
//! let templates = parse_templates(
//!     r#"
//!     [[shift]]
//!     name = "part-time"
//!     length = "4h"
//!     start = { earliest = "08:00", latest = "10:00", step = "1h" }
//!     "#,
//! )
//! .unwrap();
//! let schedule = solve(&requirement, &templates, &SolveOptions::default()).unwrap();
//! // 08-12 twice and 10-14 once: 12 paid hours, which is also the LP bound.
//! assert_eq!(schedule.shifts.len(), 3);
//! assert!((schedule.cost - 12.0).abs() < 1e-6);
//! assert!(schedule.gap().unwrap() < 1e-6);
//! assert!(schedule.short_intervals().is_empty());
//! ```

mod bound;
mod columns;
mod lp;
mod output;
pub mod reference;
mod requirement;
pub mod roster;
mod solve;
mod template;

pub use bound::{block_lower_bound, cost_step, lp_lower_bound, round_up_to_step, BlockBound};
pub use columns::{Column, ColumnSet};
pub use output::{coverage_csv, render_chart, shifts_csv, shifts_json, summary};
pub use requirement::{Requirement, RequirementColumn, RequirementError, ALLOWED_INTERVAL_MINUTES};
pub use solve::{
    solve, solve_with_progress, Phase, PlacedBreak, Progress, Schedule, ScheduledShift, SolveError,
    SolveOptions, DEFAULT_TARGET_GAP,
};
pub use template::{
    parse_duration_minutes, parse_shift_file, parse_templates, parse_time_of_day, BreakRule,
    RosterRules, ShiftFile, ShiftTemplate, TemplateError, DAY_NAMES,
};
