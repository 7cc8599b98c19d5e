//! Parsing of the units planners type: durations (`30m`, `180s`, `7d`) and interval lengths.

use crate::error::{Result, WfmError};

/// Parses a duration such as `20s`, `30m`, `1h`, `7d` or `1.5h` into seconds. A bare number is
/// seconds.
pub fn parse_duration_s(text: &str) -> Result<f64> {
    let t = text.trim();
    let bad = || {
        WfmError::BadValue(format!(
            "{text:?} is not a duration like 20s, 30m, 1h or 7d (a bare number is seconds)"
        ))
    };
    let (number, unit_s) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = match &t[i..] {
                "s" | "sec" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                "d" => 86_400.0,
                _ => return Err(bad()),
            };
            (&t[..i], unit)
        }
        None => (t, 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    Ok(value * unit_s)
}

/// Length of a planning interval: 15, 30 or 60 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntervalLength {
    minutes: u32,
}

impl IntervalLength {
    /// 15 minutes.
    pub const MIN15: IntervalLength = IntervalLength { minutes: 15 };
    /// 30 minutes.
    pub const MIN30: IntervalLength = IntervalLength { minutes: 30 };
    /// 60 minutes.
    pub const MIN60: IntervalLength = IntervalLength { minutes: 60 };

    /// 15, 30 or 60 minutes; anything else is refused.
    pub fn from_minutes(minutes: u32) -> Result<IntervalLength> {
        match minutes {
            15 | 30 | 60 => Ok(IntervalLength { minutes }),
            _ => Err(WfmError::BadValue(format!(
                "interval must be 15m, 30m or 60m, not {minutes} minutes"
            ))),
        }
    }

    /// Parses `15m`, `30m`, `60m` or `1h`.
    pub fn parse(text: &str) -> Result<IntervalLength> {
        let seconds = parse_duration_s(text)?;
        if seconds.fract() != 0.0 || seconds % 60.0 != 0.0 {
            return Err(WfmError::BadValue(format!(
                "interval must be 15m, 30m or 60m, not {text:?}"
            )));
        }
        IntervalLength::from_minutes((seconds / 60.0) as u32)
    }

    /// Minutes in one interval.
    pub fn minutes(self) -> u32 {
        self.minutes
    }

    /// Seconds in one interval.
    pub fn seconds(self) -> f64 {
        f64::from(self.minutes) * 60.0
    }

    /// Intervals in a 24-hour local day.
    pub fn slots_per_day(self) -> usize {
        (24 * 60 / self.minutes) as usize
    }
}

impl std::fmt::Display for IntervalLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}m", self.minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let check = |text: &str, expect: Option<f64>| {
            assert_eq!(parse_duration_s(text).ok(), expect, "{text}");
        };
        check("20s", Some(20.0));
        check("30m", Some(1800.0));
        check("1.5h", Some(5400.0));
        check("7d", Some(604_800.0));
        check("180", Some(180.0));
        check("-3s", None);
        check("3w", None);
        check("", None);
    }

    #[test]
    fn intervals() {
        assert_eq!(IntervalLength::parse("30m").unwrap().slots_per_day(), 48);
        assert_eq!(IntervalLength::parse("1h").unwrap(), IntervalLength::MIN60);
        assert!(IntervalLength::parse("20m").is_err());
        assert!(IntervalLength::parse("90s").is_err());
    }
}
