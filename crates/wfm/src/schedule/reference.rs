//! The reference instance of the quality bar: a week of 15-minute intervals, 9-hour shifts
//! (lunch in one of three places, two short breaks in two places each) and 4-hour part-time
//! shifts (one break in one of three places), starting on any quarter hour. Used by the bench,
//! the ignored quality test and `switchboard schedule` examples.

use chrono::DateTime;

use super::requirement::Requirement;
use super::template::{parse_templates, ShiftTemplate};

/// The shift templates of the reference instance (also `deploy/examples/shifts.toml`).
pub const WEEK_TEMPLATES_TOML: &str = r#"
[[shift]]
name = "full-time"
length = "9h"
start = { earliest = "00:00", latest = "23:45", step = "15m" }

[[shift.break]]
name = "break 1"
length = "15m"
earliest = "1h45m"
latest = "2h"

[[shift.break]]
name = "lunch"
length = "1h"
earliest = "3h30m"
latest = "4h"
paid = false

[[shift.break]]
name = "break 2"
length = "15m"
earliest = "6h30m"
latest = "6h45m"

[[shift]]
name = "part-time"
length = "4h"
start = { earliest = "00:00", latest = "23:45", step = "15m" }

[[shift.break]]
name = "break"
length = "15m"
earliest = "1h45m"
latest = "2h15m"
"#;

/// The reference templates, parsed.
pub fn week_templates() -> Vec<ShiftTemplate> {
    parse_templates(WEEK_TEMPLATES_TOML).unwrap_or_default()
}

/// A week (Monday 00:00 to Sunday 24:00, UTC) of 15-minute requirements shaped like a
/// 24/7 inbound center: a morning and an afternoon peak of about `peak` agents, quiet nights,
/// lighter weekends, and deterministic independent noise of up to `noise` (a share, e.g. 0.02
/// for +-2 %) on each interval.
pub fn week_requirement(peak: f64, noise: f64) -> Requirement {
    let start = DateTime::parse_from_rfc3339("2026-11-23T00:00:00+00:00")
        .unwrap_or_else(|_| DateTime::UNIX_EPOCH.fixed_offset());
    let mut agents = Vec::with_capacity(7 * 96);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for day in 0..7 {
        let day_scale = match day {
            5 => 0.6,
            6 => 0.45,
            d => 1.0 - 0.04 * f64::from(d),
        };
        for quarter in 0..96 {
            let hour = f64::from(quarter) / 4.0;
            let bump = |centre: f64, width: f64| (-((hour - centre) / width).powi(2)).exp();
            let shape =
                0.08 + 0.85 * bump(10.5, 2.6) + 0.75 * bump(15.0, 2.4) + 0.3 * bump(19.5, 1.8);
            // xorshift noise.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let factor = 1.0 + ((state % 1000) as f64 / 1000.0 - 0.5) * 2.0 * noise;
            agents.push((peak * day_scale * shape * factor).round().max(1.0));
        }
    }
    Requirement::new(start, 15, agents)
}
