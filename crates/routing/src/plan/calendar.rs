//! Business-hours calendars: weekly opening hours in an IANA time zone, holidays and special
//! days. Evaluated in local time, so a daylight-saving change moves nothing: 08:00 is 08:00.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// A range of local time in one day, `start` inclusive, `end` exclusive; `end` may be 24:00.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Minutes after midnight.
    pub start_min: u16,
    /// Minutes after midnight, up to 1440.
    pub end_min: u16,
}

impl TimeRange {
    /// Parses `HH:MM-HH:MM`; the end must be later than the start (24:00 allowed).
    pub fn parse(text: &str) -> Result<TimeRange, String> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a range like 08:00-18:00"))?;
        let minutes = |t: &str| -> Result<u16, String> {
            let t = t.trim();
            if t == "24:00" {
                return Ok(1440);
            }
            let time = NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| format!("{t:?} is not a time like 08:30"))?;
            Ok((time.hour() * 60 + time.minute()) as u16)
        };
        let (start_min, end_min) = (minutes(start)?, minutes(end)?);
        if end_min <= start_min {
            return Err(format!("{text:?} ends before it starts (split ranges at midnight)"));
        }
        Ok(TimeRange { start_min, end_min })
    }

    fn contains(&self, minute: u16) -> bool {
        (self.start_min..self.end_min).contains(&minute)
    }
}

/// What a calendar says about a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarStatus {
    /// Within opening hours.
    Open,
    /// Outside opening hours on a normal day.
    Closed,
    /// A holiday, with its name.
    Holiday(String),
}

/// A named calendar.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// Its name in the configuration.
    pub name: String,
    /// The zone its hours are in.
    pub time_zone: Tz,
    /// Opening hours per weekday, Monday first.
    pub weekly: [Vec<TimeRange>; 7],
    /// Closed all day, by local date.
    pub holidays: BTreeMap<NaiveDate, String>,
    /// Days with their own hours (overriding the weekday's, and a holiday on the same date).
    pub special_days: BTreeMap<NaiveDate, Vec<TimeRange>>,
}

impl Calendar {
    /// The status at `instant`, with the local date and time it was judged at.
    pub fn status(&self, instant: DateTime<Utc>) -> (CalendarStatus, String) {
        let local = self.time_zone.from_utc_datetime(&instant.naive_utc());
        let date = local.date_naive();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let at = local.format("%Y-%m-%d %H:%M %Z").to_string();
        let ranges = match (self.special_days.get(&date), self.holidays.get(&date)) {
            (Some(special), _) => special,
            (None, Some(name)) => return (CalendarStatus::Holiday(name.clone()), at),
            (None, None) => &self.weekly[weekday_index(local.weekday())],
        };
        let status = if ranges.iter().any(|r| r.contains(minute)) {
            CalendarStatus::Open
        } else {
            CalendarStatus::Closed
        };
        (status, at)
    }
}

/// Monday = 0.
pub(crate) fn weekday_index(day: Weekday) -> usize {
    day.num_days_from_monday() as usize
}

/// The first pair of ranges that overlap, if any.
pub(crate) fn first_overlap(ranges: &[TimeRange]) -> Option<(TimeRange, TimeRange)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| r.start_min);
    sorted.windows(2).find(|w| w[1].start_min < w[0].end_min).map(|w| (w[0], w[1]))
}
