//! Interval series per queue on a local-time grid, aware of time zones and daylight saving.
//!
//! A series has one slot per interval of the 24-hour local day (48 for 30 minutes) for every
//! local date in the history. A slot's value is the calls of *one real interval* starting at that
//! local wall-clock time: when clocks go back, the repeated hour holds two real intervals and the
//! slot holds their mean; when clocks go forward, the skipped slots have no value. Days and
//! slots without data are `None`, never a silent zero:
//!
//! - per-call history: a local day on which a queue got no call at all is closed (weekend,
//!   holiday, outage); on a day with calls, an interval without calls is a real zero. Slots
//!   before the first and after the last call of the whole file are unobserved.
//! - interval history: only the intervals listed are observed.

use std::collections::{BTreeMap, HashSet};

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::error::{Result, WfmError};
use crate::history::{CallRecord, History, IntervalRecord};
use crate::units::IntervalLength;

/// Calls and handle time of one queue on the local interval grid.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSeries {
    /// Queue name.
    pub queue: String,
    /// Interval length of the grid.
    pub interval: IntervalLength,
    /// Zone of the grid.
    pub tz: Tz,
    /// Local date of day 0.
    pub first_day: NaiveDate,
    /// Calls per real interval, indexed `day * slots_per_day + slot`; `None` = not observed.
    pub calls: Vec<Option<f64>>,
    /// Average handle time per slot (seconds), `None` when no answered call has one.
    pub aht_s: Vec<Option<f64>>,
    /// Calls behind each `aht_s` value (its weight).
    pub aht_weight: Vec<f64>,
}

impl QueueSeries {
    /// An empty (all unobserved) series of `days` days.
    pub fn empty(
        queue: &str,
        interval: IntervalLength,
        tz: Tz,
        first_day: NaiveDate,
        days: usize,
    ) -> QueueSeries {
        let n = days * interval.slots_per_day();
        QueueSeries {
            queue: queue.to_string(),
            interval,
            tz,
            first_day,
            calls: vec![None; n],
            aht_s: vec![None; n],
            aht_weight: vec![0.0; n],
        }
    }

    /// Intervals per local day.
    pub fn slots_per_day(&self) -> usize {
        self.interval.slots_per_day()
    }

    /// Days covered.
    pub fn days(&self) -> usize {
        self.calls.len() / self.slots_per_day()
    }

    /// Local date of day `day`.
    pub fn date(&self, day: usize) -> NaiveDate {
        self.first_day + Duration::days(day as i64)
    }

    /// Weekday of day `day`.
    pub fn weekday(&self, day: usize) -> Weekday {
        self.date(day).weekday()
    }

    /// Observed calls over the whole series.
    pub fn total_calls(&self) -> f64 {
        self.calls.iter().flatten().sum()
    }

    /// Keeps only the first `days` days (for backtests).
    pub fn truncated(&self, days: usize) -> QueueSeries {
        let n = days.min(self.days()) * self.slots_per_day();
        QueueSeries {
            calls: self.calls[..n].to_vec(),
            aht_s: self.aht_s[..n].to_vec(),
            aht_weight: self.aht_weight[..n].to_vec(),
            ..self.clone()
        }
    }

    /// Marks the given dates unobserved (special days left out of training).
    pub fn exclude_dates(&mut self, dates: &[NaiveDate]) {
        let spd = self.slots_per_day();
        for date in dates {
            let day = (*date - self.first_day).num_days();
            if day >= 0 && (day as usize) < self.days() {
                let range = day as usize * spd..(day as usize + 1) * spd;
                self.calls[range.clone()].fill(None);
                self.aht_s[range.clone()].fill(None);
                self.aht_weight[range].fill(0.0);
            }
        }
    }
}

/// The real intervals that start at local `date` + `slot` in `tz`: none in a skipped hour, two in
/// a repeated hour.
pub fn slot_starts(
    tz: &Tz,
    interval: IntervalLength,
    date: NaiveDate,
    slot: usize,
) -> Vec<DateTime<Tz>> {
    let minutes = slot as u32 * interval.minutes();
    let Some(time) = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0) else {
        return Vec::new();
    };
    match tz.from_local_datetime(&date.and_time(time)) {
        chrono::LocalResult::Single(t) => vec![t],
        chrono::LocalResult::Ambiguous(a, b) => vec![a, b],
        chrono::LocalResult::None => Vec::new(),
    }
}

fn local_slot(t: &DateTime<Utc>, tz: &Tz, interval: IntervalLength) -> (NaiveDate, usize, u32) {
    let local = t.with_timezone(tz);
    let minute_of_day = local.hour() * 60 + local.minute();
    (local.date_naive(), (minute_of_day / interval.minutes()) as usize, minute_of_day)
}

/// Aggregates history into one series per queue (sorted by queue name), all over the same local
/// dates.
pub fn aggregate(history: &History, interval: IntervalLength, tz: Tz) -> Result<Vec<QueueSeries>> {
    match history {
        History::Calls(calls) => aggregate_calls(calls, interval, tz),
        History::Intervals(rows) => aggregate_intervals(rows, interval, tz),
    }
}

struct Accumulator {
    calls: Vec<f64>,
    handle_sum: Vec<f64>,
    handled: Vec<f64>,
    observed: Vec<bool>,
}

impl Accumulator {
    fn new(n: usize) -> Accumulator {
        Accumulator {
            calls: vec![0.0; n],
            handle_sum: vec![0.0; n],
            handled: vec![0.0; n],
            observed: vec![false; n],
        }
    }
}

fn day_range<'a>(
    times: impl Iterator<Item = &'a DateTime<Utc>>,
    tz: &Tz,
) -> Option<(NaiveDate, NaiveDate)> {
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for t in times {
        let d = t.with_timezone(tz).date_naive();
        range = Some(match range {
            None => (d, d),
            Some((lo, hi)) => (lo.min(d), hi.max(d)),
        });
    }
    range
}

fn finish(
    accumulators: BTreeMap<String, Accumulator>,
    interval: IntervalLength,
    tz: Tz,
    first_day: NaiveDate,
    days: usize,
    whole_day_observed: bool,
    observed_window: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<QueueSeries> {
    let spd = interval.slots_per_day();
    // Real intervals per slot, the same for every queue.
    let occurrences: Vec<Vec<DateTime<Tz>>> = (0..days * spd)
        .map(|i| slot_starts(&tz, interval, first_day + Duration::days((i / spd) as i64), i % spd))
        .collect();
    let step = Duration::minutes(i64::from(interval.minutes()));
    accumulators
        .into_iter()
        .map(|(queue, acc)| {
            let mut series = QueueSeries::empty(&queue, interval, tz, first_day, days);
            for day in 0..days {
                let range = day * spd..(day + 1) * spd;
                let day_calls: f64 = acc.calls[range.clone()].iter().sum();
                for i in range {
                    let starts = &occurrences[i];
                    // A slot is observed when the data could have seen all of it.
                    let inside = starts.iter().any(|s| {
                        s.with_timezone(&Utc) + step > observed_window.0
                            && s.with_timezone(&Utc) <= observed_window.1
                    });
                    let observed =
                        if whole_day_observed { day_calls > 0.0 } else { acc.observed[i] };
                    if starts.is_empty() || !observed || !inside {
                        continue;
                    }
                    series.calls[i] = Some(acc.calls[i] / starts.len() as f64);
                    if acc.handled[i] > 0.0 {
                        series.aht_s[i] = Some(acc.handle_sum[i] / acc.handled[i]);
                        series.aht_weight[i] = acc.handled[i];
                    }
                }
            }
            series
        })
        .collect()
}

fn aggregate_calls(
    calls: &[CallRecord],
    interval: IntervalLength,
    tz: Tz,
) -> Result<Vec<QueueSeries>> {
    let Some((first_day, last_day)) = day_range(calls.iter().map(|c| &c.arrived_at), &tz) else {
        return Err(WfmError::Unusable("the history has no calls".into()));
    };
    let queues = calls.iter().map(|c| c.queue.as_str()).collect::<HashSet<_>>().len();
    let days = grid_days(first_day, last_day, queues, calls.len(), interval)?;
    let spd = interval.slots_per_day();
    let mut accumulators: BTreeMap<String, Accumulator> = BTreeMap::new();
    let (mut earliest, mut latest) = (calls[0].arrived_at, calls[0].arrived_at);
    for call in calls {
        earliest = earliest.min(call.arrived_at);
        latest = latest.max(call.arrived_at);
        let (date, slot, _) = local_slot(&call.arrived_at, &tz, interval);
        let i = (date - first_day).num_days() as usize * spd + slot;
        let acc =
            accumulators.entry(call.queue.clone()).or_insert_with(|| Accumulator::new(days * spd));
        acc.calls[i] += 1.0;
        if let (Some(handle), false) = (call.handle_s, call.abandoned) {
            acc.handle_sum[i] += handle;
            acc.handled[i] += 1.0;
        }
    }
    Ok(finish(accumulators, interval, tz, first_day, days, true, (earliest, latest)))
}

fn aggregate_intervals(
    rows: &[IntervalRecord],
    interval: IntervalLength,
    tz: Tz,
) -> Result<Vec<QueueSeries>> {
    let Some((first_day, last_day)) = day_range(rows.iter().map(|r| &r.start), &tz) else {
        return Err(WfmError::Unusable("the history has no intervals".into()));
    };
    // The finest spacing of the data: rows every 60 minutes cannot fill a 30-minute grid.
    let mut spacing = 24 * 60;
    let mut seen = HashSet::new();
    for (n, row) in rows.iter().enumerate() {
        let (_, _, minute_of_day) = local_slot(&row.start, &tz, interval);
        spacing = gcd(spacing, minute_of_day);
        if row.start.timestamp() % 60 != 0 {
            return Err(WfmError::Unusable(format!(
                "interval row {} ({}, {}) does not start on a whole minute",
                n + 1,
                row.queue,
                row.start.with_timezone(&tz).to_rfc3339()
            )));
        }
        if !seen.insert((row.queue.as_str(), row.start)) {
            return Err(WfmError::Unusable(format!(
                "interval {} of queue {} is listed twice",
                row.start.with_timezone(&tz).to_rfc3339(),
                row.queue
            )));
        }
    }
    if spacing < interval.minutes() && interval.minutes() % spacing != 0 {
        return Err(WfmError::Unusable(format!(
            "interval rows are {spacing} minutes apart, which does not divide {interval}"
        )));
    }
    if spacing > interval.minutes() && spacing != 24 * 60 {
        return Err(WfmError::Unusable(format!(
            "interval rows are {spacing} minutes apart; a {interval} grid would leave intervals \
             empty (use --interval {spacing}m or longer)"
        )));
    }
    let queues = rows.iter().map(|r| r.queue.as_str()).collect::<HashSet<_>>().len();
    let days = grid_days(first_day, last_day, queues, rows.len(), interval)?;
    let spd = interval.slots_per_day();
    let mut accumulators: BTreeMap<String, Accumulator> = BTreeMap::new();
    let (mut earliest, mut latest) = (rows[0].start, rows[0].start);
    for row in rows {
        earliest = earliest.min(row.start);
        latest = latest.max(row.start);
        let (date, slot, _) = local_slot(&row.start, &tz, interval);
        let i = (date - first_day).num_days() as usize * spd + slot;
        let acc =
            accumulators.entry(row.queue.clone()).or_insert_with(|| Accumulator::new(days * spd));
        acc.calls[i] += row.calls;
        acc.observed[i] = true;
        if let Some(aht) = row.aht_s {
            if row.calls > 0.0 {
                acc.handle_sum[i] += aht * row.calls;
                acc.handled[i] += row.calls;
            }
        }
    }
    Ok(finish(accumulators, interval, tz, first_day, days, false, (earliest, latest)))
}

/// Longest history the grid covers, in days (ten years): forecasting looks back weeks, and a
/// row dated centuries away would otherwise size every queue's grid by its distance.
pub const MAX_HISTORY_SPAN_DAYS: i64 = 3_660;

/// Grid cells (queues x days x slots) any history may use, whatever its size: about 35 MB of
/// grids, room for ten queues over a year of 15-minute slots.
pub const MIN_GRID_CELLS: usize = 1 << 19;

/// Grid cells allowed per input row beyond [`MIN_GRID_CELLS`]: real history fills its grid
/// (a row per busy slot or several calls per slot), so only a sparse file of many queues over
/// a long span comes near it.
pub const GRID_CELLS_PER_ROW: usize = 256;

/// Days of the grid from `first` to `last`, refused when the span or the grid (every queue's
/// slots over the span) is out of proportion to the history: memory stays proportional to the
/// input, whatever dates and queue names it holds.
fn grid_days(
    first: NaiveDate,
    last: NaiveDate,
    queues: usize,
    rows: usize,
    interval: IntervalLength,
) -> Result<usize> {
    let span = (last - first).num_days() + 1;
    if span > MAX_HISTORY_SPAN_DAYS {
        return Err(WfmError::Unusable(format!(
            "the history runs from {first} to {last}, {span} days; at most \
             {MAX_HISTORY_SPAN_DAYS} are supported (check the dates or drop old rows)"
        )));
    }
    let days = usize::try_from(span).unwrap_or(usize::MAX);
    let cells = queues.saturating_mul(days).saturating_mul(interval.slots_per_day());
    let allowed = MIN_GRID_CELLS.max(rows.saturating_mul(GRID_CELLS_PER_ROW));
    if cells > allowed {
        return Err(WfmError::Unusable(format!(
            "{rows} rows in {queues} queues over {days} days would need {cells} {interval} \
             slots, more than {allowed} for a history this size (check the queue column and \
             the dates)"
        )));
    }
    Ok(days)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{read_history, ReadOptions};

    fn series(csv: &str, interval: IntervalLength) -> Result<Vec<QueueSeries>> {
        let tz: Tz = "America/New_York".parse().unwrap();
        let outcome = read_history(csv.as_bytes(), &ReadOptions { tz, skip_bad: false })?;
        aggregate(&outcome.history, interval, tz)
    }

    #[test]
    fn calls_fall_into_local_slots_and_quiet_days_are_closed() {
        let csv = "arrived_at,queue,handle_s,abandoned\n\
            2026-07-06T09:05:00-04:00,sales,100,false\n\
            2026-07-06T09:20:00-04:00,sales,200,false\n\
            2026-07-06T09:40:00-04:00,sales,,true\n\
            2026-07-08T13:40:00Z,sales,300,false\n";
        let s = &series(csv, IntervalLength::MIN30).unwrap()[0];
        assert_eq!(s.days(), 3);
        assert_eq!(s.calls[18], Some(2.0)); // Monday 09:00 local
        assert_eq!(s.aht_s[18], Some(150.0));
        assert_eq!(s.calls[19], Some(1.0));
        assert_eq!(s.aht_s[19], None); // only an abandoned call
        assert_eq!(s.calls[20], Some(0.0)); // a real zero on an open day
        assert_eq!(s.calls[17], None); // before the first call of the file: unobserved
        assert!(s.calls[48..96].iter().all(|v| v.is_none()), "Tuesday had no call: closed");
        assert_eq!(s.calls[96 + 19], Some(1.0)); // Wednesday 09:30 local
        assert_eq!(s.calls[96 + 18], Some(0.0));
        assert_eq!(s.calls[96 + 20], None); // after the last call of the file: unobserved
    }

    /// Found by the history fuzz target: one row dated in the far future sized every queue's
    /// grid by the distance (gigabytes for a two-line file), and many queue names multiplied it.
    #[test]
    fn grids_out_of_proportion_to_the_history_are_refused() {
        let far = "arrived_at\n2026-07-06T09:05:00Z\n9999-12-31T23:00:00Z\n";
        let err = series(far, IntervalLength::MIN15).unwrap_err().to_string();
        assert!(err.contains("9999-12-31") && err.contains("at most 3660"), "{err}");
        let mut sparse = String::from("arrived_at,queue\n");
        for q in 0..400 {
            sparse.push_str(&format!("2026-01-05T09:00:00Z,q{q}\n"));
        }
        sparse.push_str("2027-12-31T09:00:00Z,q0\n");
        let err = series(&sparse, IntervalLength::MIN15).unwrap_err().to_string();
        assert!(err.contains("401 rows in 400 queues"), "{err}");
        // Ten years of one queue is fine.
        let decade = "interval_start,calls\n2016-01-05T00:00:00Z,1\n2026-01-01T00:00:00Z,1\n";
        assert_eq!(series(decade, IntervalLength::MIN60).unwrap()[0].days(), 3650);
    }

    #[test]
    fn daylight_saving_days() {
        // 2026-11-01: New York repeats 01:00-02:00. Two calls in the first 01:00 hour, one in the
        // second: the 01:00 slot holds 1.5 calls per real interval.
        let csv = "arrived_at\n\
            2026-11-01T00:30:00-04:00\n\
            2026-11-01T01:10:00-04:00\n\
            2026-11-01T01:20:00-04:00\n\
            2026-11-01T01:10:00-05:00\n\
            2026-11-01T05:00:00-05:00\n";
        let s = &series(csv, IntervalLength::MIN60).unwrap()[0];
        assert_eq!(s.calls[1], Some(1.5));
        assert_eq!(s.calls[0], Some(1.0));
        // 2026-03-08: 02:00 does not exist.
        let csv = "arrived_at\n2026-03-08T00:30:00-05:00\n2026-03-08T05:00:00-04:00\n";
        let s = &series(csv, IntervalLength::MIN60).unwrap()[0];
        assert_eq!(s.calls[1], Some(0.0));
        assert_eq!(s.calls[2], None);
        assert_eq!(s.calls[3], Some(0.0));
    }

    #[test]
    fn interval_rows_aggregate_up_but_not_down() {
        let csv = "interval_start,queue,calls,aht_s\n\
            2026-07-06T09:00:00-04:00,support,10,100\n\
            2026-07-06T09:15:00-04:00,support,30,200\n\
            2026-07-06T10:00:00-04:00,support,0,\n";
        let s = &series(csv, IntervalLength::MIN30).unwrap()[0];
        assert_eq!(s.calls[18], Some(40.0));
        assert_eq!(s.aht_s[18], Some(175.0));
        assert_eq!(s.calls[19], None); // not listed: not observed
        assert_eq!(s.calls[20], Some(0.0));
        let err = series(csv, IntervalLength::MIN15);
        assert!(err.is_ok());
        let hourly =
            "interval_start,calls\n2026-07-06T09:00:00-04:00,10\n2026-07-06T10:00:00-04:00,5\n";
        let err = series(hourly, IntervalLength::MIN30).unwrap_err();
        assert!(err.to_string().contains("60 minutes apart"), "{err}");
    }
}
