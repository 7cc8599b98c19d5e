//! Parsing of the units planners type: durations (`30m`, `180s`, `7d`), interval lengths and
//! service-level targets (`80/20s`).

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

/// A service-level target: `fraction` of calls answered within `threshold_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceTarget {
    /// Fraction in (0, 1), e.g. 0.8.
    pub fraction: f64,
    /// Answer-time threshold in seconds, e.g. 20.
    pub threshold_s: f64,
}

impl ServiceTarget {
    /// Parses `80/20s` (percent / threshold; the threshold takes any duration unit, default
    /// seconds) or `0.8/20`.
    pub fn parse(text: &str) -> Result<ServiceTarget> {
        let bad = |why: &str| {
            WfmError::BadValue(format!("{text:?} is not a service-level target like 80/20s: {why}"))
        };
        let (level, threshold) = text.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let level: f64 = level.trim().trim_end_matches('%').parse().map_err(|_| bad("level"))?;
        let fraction = if level > 1.0 { level / 100.0 } else { level };
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(bad("the level must be between 0 and 100 %, exclusive"));
        }
        let threshold_s = parse_duration_s(threshold).map_err(|_| bad("threshold"))?;
        Ok(ServiceTarget { fraction, threshold_s })
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

    #[test]
    fn targets() {
        let t = ServiceTarget::parse("80/20s").unwrap();
        assert_eq!((t.fraction, t.threshold_s), (0.8, 20.0));
        let t = ServiceTarget::parse("0.9/1m").unwrap();
        assert_eq!((t.fraction, t.threshold_s), (0.9, 60.0));
        assert!(ServiceTarget::parse("80").is_err());
        assert!(ServiceTarget::parse("100/20s").is_err());
    }
}
