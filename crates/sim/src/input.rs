//! Reading the inputs: the forecast CSV, a call-record CSV and a shifts CSV. Every reader takes
//! the text and a name for messages; errors name the line and the column.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveTime, TimeDelta};

use crate::error::SimError;

/// Interval length used when the input does not show one (a single forecast interval, or a
/// history replay), minutes.
pub const DEFAULT_INTERVAL_MIN: u64 = 30;

/// One row of the forecast written by `switchboard forecast`.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastRow {
    /// Start of the interval, Unix milliseconds.
    pub start_ms: u64,
    /// The queue.
    pub queue: String,
    /// Expected calls in the interval.
    pub calls: f64,
    /// Expected handle time (talk + wrap-up), seconds.
    pub aht_s: f64,
}

/// A forecast: rows and the interval length they are for.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// The rows, sorted by start then queue.
    pub rows: Vec<ForecastRow>,
    /// Interval length, milliseconds: the smallest gap between interval starts.
    pub interval_ms: u64,
}

/// Reads a forecast CSV with columns `interval_start,queue,calls,aht_s` (more columns, such as
/// `method`, are ignored). The interval length is the smallest gap between interval starts, or
/// `DEFAULT_INTERVAL_MIN` with a single interval.
pub fn read_forecast(name: &str, text: &str) -> Result<Forecast, SimError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let columns = Columns::new(name, &mut reader, &["interval_start", "queue", "calls", "aht_s"])?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| SimError::input(name, line, "row", e.to_string()))?;
        let start_ms =
            time_ms(name, line, "interval_start", columns.get(&record, "interval_start"))?;
        let queue = columns.get(&record, "queue").to_string();
        if queue.is_empty() {
            return Err(SimError::input(name, line, "queue", "is empty"));
        }
        let calls = number(name, line, "calls", columns.get(&record, "calls"), 0.0)?;
        let aht_s = number(name, line, "aht_s", columns.get(&record, "aht_s"), 0.0)?;
        if calls > 0.0 && aht_s <= 0.0 {
            return Err(SimError::input(
                name,
                line,
                "aht_s",
                "must be > 0 when calls are expected",
            ));
        }
        rows.push(ForecastRow { start_ms, queue, calls, aht_s });
    }
    if rows.is_empty() {
        return Err(SimError::input(name, 1, "rows", "the forecast has no rows"));
    }
    rows.sort_by(|a, b| (a.start_ms, &a.queue).cmp(&(b.start_ms, &b.queue)));
    let mut starts: Vec<u64> = rows.iter().map(|r| r.start_ms).collect();
    starts.dedup();
    let interval_ms =
        starts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(DEFAULT_INTERVAL_MIN * 60_000);
    Ok(Forecast { rows, interval_ms })
}

/// One call of a call-record CSV (`switchboard history export`).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// Arrival, Unix milliseconds.
    pub arrived_ms: u64,
    /// The queue it reached; empty if it never reached one.
    pub queue: String,
    /// How long it waited, seconds, if recorded.
    pub wait_s: Option<f64>,
    /// Talk plus wrap-up, seconds, for answered calls.
    pub handle_s: Option<f64>,
    /// Whether the caller hung up before an answer.
    pub abandoned: bool,
    /// Caller number.
    pub caller: String,
    /// Dialed number.
    pub dialed: String,
}

/// Reads a call-record CSV with at least `arrived_at,queue`; `wait_s`, `handle_s`,
/// `abandoned`, `caller` and `dialed` are used when present. Sorted by arrival.
pub fn read_history(name: &str, text: &str) -> Result<Vec<RecordedCall>, SimError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let columns = Columns::new(name, &mut reader, &["arrived_at", "queue"])?;
    let mut calls = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| SimError::input(name, line, "row", e.to_string()))?;
        let arrived_ms = time_ms(name, line, "arrived_at", columns.get(&record, "arrived_at"))?;
        let optional = |field: &str| -> Result<Option<f64>, SimError> {
            match columns.get(&record, field) {
                "" => Ok(None),
                text => number(name, line, field, text, 0.0).map(Some),
            }
        };
        let abandoned = match columns.get(&record, "abandoned") {
            "" | "false" | "0" => false,
            "true" | "1" => true,
            other => {
                return Err(SimError::input(
                    name,
                    line,
                    "abandoned",
                    format!("{other:?} is not true or false"),
                ))
            }
        };
        calls.push(RecordedCall {
            arrived_ms,
            queue: columns.get(&record, "queue").to_string(),
            wait_s: optional("wait_s")?,
            handle_s: optional("handle_s")?,
            abandoned,
            caller: columns.get(&record, "caller").to_string(),
            dialed: columns.get(&record, "dialed").to_string(),
        });
    }
    if calls.is_empty() {
        return Err(SimError::input(name, 1, "rows", "the call records have no rows"));
    }
    calls.sort_by_key(|c| c.arrived_ms);
    Ok(calls)
}

/// One agent shift: when the agent is logged in, when on break, and optionally their skills.
#[derive(Clone, Debug, PartialEq)]
pub struct Shift {
    /// The agent: a config agent's id (their skills apply) or any name.
    pub agent: String,
    /// Login, Unix milliseconds.
    pub start_ms: u64,
    /// Logout, Unix milliseconds.
    pub end_ms: u64,
    /// Breaks (start, end), Unix milliseconds, inside the shift, sorted.
    pub breaks: Vec<(u64, u64)>,
    /// Skills and levels 1-5 from the `skills` column, if it is there and not empty.
    pub skills: Option<BTreeMap<String, u8>>,
}

/// Reads a shifts CSV. Columns:
///
/// * `start`, `end` (RFC 3339): required;
/// * `agent` (an agent id of the configuration, or any name), else `shift` (the shift number
///   the scheduler writes, giving agents `shift-N`), else the row number;
/// * breaks, either as `break_N_start,break_N_end` pairs (what `switchboard schedule` writes)
///   or as one `breaks` column of `HH:MM-HH:MM` items (local to the shift start's offset, on
///   the shift's days) or `RFC3339/RFC3339` items, separated by `;`;
/// * `skills`: `skill=level` items separated by `;` (e.g. `billing=3;lang:fr=5`).
pub fn read_shifts(name: &str, text: &str) -> Result<Vec<Shift>, SimError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let columns = Columns::new(name, &mut reader, &["start", "end"])?;
    let mut shifts = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| SimError::input(name, line, "row", e.to_string()))?;
        let start = parse_time(name, line, "start", columns.get(&record, "start"))?;
        let end = parse_time(name, line, "end", columns.get(&record, "end"))?;
        if end <= start {
            return Err(SimError::input(name, line, "end", "must be after start"));
        }
        let agent = match (columns.get(&record, "agent"), columns.get(&record, "shift")) {
            ("", "") => format!("shift-{}", line - 1),
            ("", shift) => format!("shift-{shift}"),
            (agent, _) => agent.to_string(),
        };
        let mut breaks = Vec::new();
        for n in 1.. {
            let (s, e) = (format!("break_{n}_start"), format!("break_{n}_end"));
            if !columns.has(&s) {
                break;
            }
            match (columns.get(&record, &s), columns.get(&record, &e)) {
                ("", "") => {}
                (bs, be) => {
                    breaks.push((parse_time(name, line, &s, bs)?, parse_time(name, line, &e, be)?))
                }
            }
        }
        for item in
            columns.get(&record, "breaks").split(';').map(str::trim).filter(|s| !s.is_empty())
        {
            breaks.push(parse_break(name, line, item, start)?);
        }
        let mut breaks_ms = Vec::with_capacity(breaks.len());
        for (bs, be) in breaks {
            if be <= bs || bs < start || be > end {
                return Err(SimError::input(
                    name,
                    line,
                    "breaks",
                    format!(
                        "break {} - {} is not inside the shift",
                        bs.to_rfc3339(),
                        be.to_rfc3339()
                    ),
                ));
            }
            breaks_ms.push((to_ms(name, line, "breaks", bs)?, to_ms(name, line, "breaks", be)?));
        }
        breaks_ms.sort_unstable();
        if breaks_ms.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(SimError::input(name, line, "breaks", "breaks overlap"));
        }
        let skills = match columns.get(&record, "skills") {
            "" => None,
            text => Some(parse_skills(name, line, text)?),
        };
        shifts.push(Shift {
            agent,
            start_ms: to_ms(name, line, "start", start)?,
            end_ms: to_ms(name, line, "end", end)?,
            breaks: breaks_ms,
            skills,
        });
    }
    if shifts.is_empty() {
        return Err(SimError::input(name, 1, "rows", "the shifts file has no rows"));
    }
    Ok(shifts)
}

fn parse_break(
    name: &str,
    line: usize,
    item: &str,
    shift_start: DateTime<FixedOffset>,
) -> Result<(DateTime<FixedOffset>, DateTime<FixedOffset>), SimError> {
    if let Some((a, b)) = item.split_once('/') {
        return Ok((parse_time(name, line, "breaks", a)?, parse_time(name, line, "breaks", b)?));
    }
    let bad = || {
        SimError::input(
            name,
            line,
            "breaks",
            format!("{item:?}: expected HH:MM-HH:MM or RFC3339/RFC3339"),
        )
    };
    let (a, b) = item.split_once('-').ok_or_else(bad)?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
    // On the shift's first day; a break before the shift's start time is on the next day
    // (night shifts), and an end before its start wraps past midnight.
    let local = shift_start.date_naive();
    let offset = *shift_start.offset();
    let at = |t: NaiveTime, day: TimeDelta| {
        (local + day).and_time(t).and_local_timezone(offset).single().ok_or_else(bad)
    };
    let mut start = at(a, TimeDelta::zero())?;
    if start < shift_start {
        start = at(a, TimeDelta::days(1))?;
    }
    let mut end = at(b, start.date_naive() - local)?;
    if end <= start {
        end += TimeDelta::days(1);
    }
    Ok((start, end))
}

fn parse_skills(name: &str, line: usize, text: &str) -> Result<BTreeMap<String, u8>, SimError> {
    let mut skills = BTreeMap::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (skill, level) = item.split_once('=').ok_or_else(|| {
            SimError::input(name, line, "skills", format!("{item:?}: expected skill=level"))
        })?;
        let level: u8 =
            level.trim().parse().ok().filter(|l| (1..=5).contains(l)).ok_or_else(|| {
                SimError::input(name, line, "skills", format!("{item:?}: level must be 1 to 5"))
            })?;
        skills.insert(skill.trim().to_string(), level);
    }
    Ok(skills)
}

/// Header positions of a CSV, with the required columns checked.
struct Columns {
    index: BTreeMap<String, usize>,
}

impl Columns {
    fn new(
        name: &str,
        reader: &mut csv::Reader<&[u8]>,
        required: &[&str],
    ) -> Result<Columns, SimError> {
        let headers =
            reader.headers().map_err(|e| SimError::input(name, 1, "header", e.to_string()))?;
        let index: BTreeMap<String, usize> =
            headers.iter().enumerate().map(|(i, h)| (h.to_string(), i)).collect();
        for column in required {
            if !index.contains_key(*column) {
                return Err(SimError::input(
                    name,
                    1,
                    column,
                    format!("missing column (expected at least {})", required.join(",")),
                ));
            }
        }
        Ok(Columns { index })
    }

    fn has(&self, column: &str) -> bool {
        self.index.contains_key(column)
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.index.get(column).and_then(|&i| record.get(i)).unwrap_or("")
    }
}

fn parse_time(
    name: &str,
    line: usize,
    field: &str,
    text: &str,
) -> Result<DateTime<FixedOffset>, SimError> {
    DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        SimError::input(name, line, field, format!("{text:?} is not an RFC 3339 time: {e}"))
    })
}

fn to_ms(
    name: &str,
    line: usize,
    field: &str,
    time: DateTime<FixedOffset>,
) -> Result<u64, SimError> {
    u64::try_from(time.timestamp_millis())
        .map_err(|_| SimError::input(name, line, field, "is before 1970"))
}

fn time_ms(name: &str, line: usize, field: &str, text: &str) -> Result<u64, SimError> {
    to_ms(name, line, field, parse_time(name, line, field, text)?)
}

fn number(name: &str, line: usize, field: &str, text: &str, min: f64) -> Result<f64, SimError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min => Ok(v),
        _ => Err(SimError::input(name, line, field, format!("{text:?} is not a number >= {min}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecast_rows_and_interval() {
        let text = "interval_start,queue,calls,aht_s,method\n\
            2026-11-23T08:30:00Z,billing,12.5,240,ets\n\
            2026-11-23T08:00:00Z,billing,10,200,ets\n";
        let f = read_forecast("f.csv", text).expect("valid");
        assert_eq!(f.interval_ms, 30 * 60_000);
        assert_eq!(f.rows[0].calls, 10.0);
        assert_eq!(f.rows[1].aht_s, 240.0);
    }

    #[test]
    fn bad_inputs_name_line_and_field() {
        let check = |result: Result<(), SimError>, expect: &str| {
            let message = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(message, expect);
        };
        check(
            read_forecast("f.csv", "interval_start,queue,calls\n").map(|_| ()),
            "f.csv:1: aht_s: missing column (expected at least interval_start,queue,calls,aht_s)",
        );
        check(
            read_forecast(
                "f.csv",
                "interval_start,queue,calls,aht_s\n2026-11-23T08:00:00Z,q,-3,180\n",
            )
            .map(|_| ()),
            "f.csv:2: calls: \"-3\" is not a number >= 0",
        );
        check(
            read_history("h.csv", "arrived_at,queue\nyesterday,q\n").map(|_| ()),
            "h.csv:2: arrived_at: \"yesterday\" is not an RFC 3339 time: premature end of input",
        );
        check(
            read_shifts(
                "s.csv",
                "agent,start,end,breaks\nana,2026-11-23T08:00:00+01:00,2026-11-23T12:00:00+01:00,13:00-13:15\n",
            )
            .map(|_| ()),
            "s.csv:2: breaks: break 2026-11-23T13:00:00+01:00 - 2026-11-23T13:15:00+01:00 is not inside the shift",
        );
        check(
            read_shifts(
                "s.csv",
                "agent,start,end,skills\nana,2026-11-23T08:00:00Z,2026-11-23T12:00:00Z,billing=9\n",
            )
            .map(|_| ()),
            "s.csv:2: skills: \"billing=9\": level must be 1 to 5",
        );
    }

    #[test]
    fn shifts_in_both_break_formats() {
        let ours = "agent,start,end,breaks,skills\n\
            ana,2026-11-23T08:00:00+01:00,2026-11-23T16:00:00+01:00,10:00-10:15;12:00-12:30,billing=4;lang:fr=5\n";
        let shifts = read_shifts("s.csv", ours).expect("valid");
        let t = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_millis() as u64);
        assert_eq!(
            shifts[0].breaks[0],
            (t("2026-11-23T09:00:00Z").unwrap(), t("2026-11-23T09:15:00Z").unwrap())
        );
        assert_eq!(shifts[0].skills.as_ref().map(|s| s["lang:fr"]), Some(5));
        let scheduler = "shift,template,start,end,paid_hours,cost,break_1_name,break_1_start,break_1_end\n\
            1,full,2026-11-23T08:00:00+01:00,2026-11-23T16:00:00+01:00,7.5,7.5,lunch,2026-11-23T12:00:00+01:00,2026-11-23T12:30:00+01:00\n\
            2,part,2026-11-23T12:00:00+01:00,2026-11-23T16:00:00+01:00,4,4,,,\n";
        let shifts = read_shifts("s.csv", scheduler).expect("valid");
        assert_eq!(shifts[0].agent, "shift-1");
        assert_eq!(
            shifts[0].breaks,
            vec![(t("2026-11-23T11:00:00Z").unwrap(), t("2026-11-23T11:30:00Z").unwrap())]
        );
        assert!(shifts[1].breaks.is_empty());
    }
}
