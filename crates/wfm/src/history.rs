//! Reading call history: the per-call CSV that `switchboard history export` writes (or any CSV
//! with the same columns) and a planner's interval CSV.
//!
//! The kind is told by the header: `arrived_at` means per-call rows, `interval_start` interval
//! rows. Times are RFC 3339 with an offset, or local wall-clock times read in the given zone.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Result, WfmError};

/// Queue name used when the CSV has no `queue` column or the field is empty.
pub const DEFAULT_QUEUE: &str = "all";

/// One offered call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// When the call arrived.
    pub arrived_at: DateTime<Utc>,
    /// Queue (skill group) the call was offered to.
    pub queue: String,
    /// Seconds in queue, when known.
    pub wait_s: Option<f64>,
    /// Talk plus wrap-up seconds of an answered call.
    pub handle_s: Option<f64>,
    /// The caller hung up before an agent answered.
    pub abandoned: bool,
}

/// One interval of aggregate history.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRecord {
    /// Start of the interval.
    pub start: DateTime<Utc>,
    /// Queue (skill group).
    pub queue: String,
    /// Calls offered in the interval.
    pub calls: f64,
    /// Average handle time of the interval's answered calls, when known.
    pub aht_s: Option<f64>,
}

/// History as read from one CSV.
#[derive(Debug, Clone, PartialEq)]
pub enum History {
    /// Per-call rows.
    Calls(Vec<CallRecord>),
    /// Interval rows.
    Intervals(Vec<IntervalRecord>),
}

/// How to read a history CSV.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Zone of times written without an offset.
    pub tz: Tz,
    /// Skip malformed rows (they are counted and returned) instead of failing on the first.
    pub skip_bad: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { tz: Tz::UTC, skip_bad: false }
    }
}

/// What [`read_history`] returns: the rows and the bad rows it skipped (only with `skip_bad`).
#[derive(Debug)]
pub struct ReadOutcome {
    /// The rows read.
    pub history: History,
    /// One error per skipped row, in file order.
    pub skipped: Vec<WfmError>,
}

struct Columns {
    index: Vec<(String, usize)>,
}

impl Columns {
    fn find(&self, name: &str) -> Option<usize> {
        self.index.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }
}

/// Reads a per-call or interval CSV. Errors name the line (1-based, the header is line 1) and the
/// column.
pub fn read_history(reader: impl std::io::Read, options: &ReadOptions) -> Result<ReadOutcome> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
    let header = csv.headers()?.clone();
    let columns = Columns {
        index: header.iter().enumerate().map(|(i, h)| (h.to_ascii_lowercase(), i)).collect(),
    };
    let mut skipped = Vec::new();
    let mut record = csv::StringRecord::new();
    let handle = |result: Result<()>, skipped: &mut Vec<WfmError>| -> Result<()> {
        match result {
            Ok(()) => Ok(()),
            Err(e @ WfmError::BadRow { .. }) if options.skip_bad => {
                skipped.push(e);
                Ok(())
            }
            Err(e) => Err(e),
        }
    };
    if let Some(arrived) = columns.find("arrived_at") {
        let queue = columns.find("queue");
        let wait = columns.find("wait_s");
        let handle_col = columns.find("handle_s");
        let abandoned = columns.find("abandoned");
        let mut calls = Vec::new();
        while csv.read_record(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            let row = Row { record: &record, line, header: &header };
            let result = (|| {
                let call = CallRecord {
                    arrived_at: row.time(arrived, &options.tz)?,
                    queue: row.queue(queue),
                    wait_s: row.seconds(wait)?,
                    handle_s: row.seconds(handle_col)?,
                    abandoned: row.boolean(abandoned)?,
                };
                calls.push(call);
                Ok(())
            })();
            handle(result, &mut skipped)?;
        }
        Ok(ReadOutcome { history: History::Calls(calls), skipped })
    } else if let Some(start) = columns.find("interval_start") {
        let Some(calls_col) = columns.find("calls") else {
            return Err(WfmError::BadHeader(
                "interval history needs a `calls` column next to `interval_start`".into(),
            ));
        };
        let queue = columns.find("queue");
        let aht = columns.find("aht_s");
        let mut rows = Vec::new();
        while csv.read_record(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            let row = Row { record: &record, line, header: &header };
            let result = (|| {
                let calls = row
                    .seconds(Some(calls_col))?
                    .ok_or_else(|| row.error(calls_col, "empty; write 0 for no calls"))?;
                rows.push(IntervalRecord {
                    start: row.time(start, &options.tz)?,
                    queue: row.queue(queue),
                    calls,
                    aht_s: row.seconds(aht)?,
                });
                Ok(())
            })();
            handle(result, &mut skipped)?;
        }
        Ok(ReadOutcome { history: History::Intervals(rows), skipped })
    } else {
        Err(WfmError::BadHeader(
            "history CSV needs an `arrived_at` column (one row per call) or an `interval_start` \
             column (one row per interval)"
                .into(),
        ))
    }
}

struct Row<'a> {
    record: &'a csv::StringRecord,
    line: u64,
    header: &'a csv::StringRecord,
}

impl Row<'_> {
    fn error(&self, column: usize, message: impl Into<String>) -> WfmError {
        WfmError::BadRow {
            line: self.line,
            column: self.header.get(column).unwrap_or("?").to_string(),
            message: message.into(),
        }
    }

    fn field(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    fn time(&self, column: usize, tz: &Tz) -> Result<DateTime<Utc>> {
        parse_time(self.field(column), tz).map_err(|m| self.error(column, m))
    }

    fn queue(&self, column: Option<usize>) -> String {
        match column.map(|c| self.field(c)) {
            Some(q) if !q.is_empty() => q.to_string(),
            _ => DEFAULT_QUEUE.to_string(),
        }
    }

    /// A non-negative number, or `None` when the column is absent or the field empty.
    fn seconds(&self, column: Option<usize>) -> Result<Option<f64>> {
        let Some(column) = column else { return Ok(None) };
        let text = self.field(column);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
            _ => Err(self.error(column, format!("{text:?} is not a non-negative number"))),
        }
    }

    fn boolean(&self, column: Option<usize>) -> Result<bool> {
        let Some(column) = column else { return Ok(false) };
        match self.field(column).to_ascii_lowercase().as_str() {
            "" | "false" | "0" | "no" | "n" => Ok(false),
            "true" | "1" | "yes" | "y" => Ok(true),
            other => Err(self.error(column, format!("{other:?} is not true or false"))),
        }
    }
}

/// Parses RFC 3339 (`2026-11-18T11:06:40Z`, `...+01:00`) or a local time without offset
/// (`2026-11-18 11:06:40`, `2026-11-18T11:06`) in `tz`. A local time in the hour repeated when
/// clocks go back is read as the first of the two; one in the skipped hour is an error.
pub fn parse_time(text: &str, tz: &Tz) -> std::result::Result<DateTime<Utc>, String> {
    if text.is_empty() {
        return Err("empty; a time is required".into());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    const LOCAL_FORMATS: [&str; 4] =
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"];
    for format in LOCAL_FORMATS {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
                chrono::LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
                chrono::LocalResult::None => {
                    Err(format!("{text:?} does not exist in {tz} (clocks skip it)"))
                }
            };
        }
    }
    Err(format!(
        "{text:?} is not a time like 2026-11-18T11:06:40Z, 2026-11-18T11:06:40-05:00 or \
         2026-11-18 11:06:40 (local, see --tz)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, skip_bad: bool) -> Result<ReadOutcome> {
        let tz: Tz = "America/New_York".parse().unwrap();
        read_history(text.as_bytes(), &ReadOptions { tz, skip_bad })
    }

    #[test]
    fn reads_the_export_format() {
        let text =
            "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed\n\
            2026-11-18T11:06:40.000Z,billing,12.500,90.000,false,c1,answered,ana,+331,+1800\n\
            2026-11-18T11:07:00.000Z,billing,30.000,,true,\"c,2\",abandoned,,+331,+1800\n";
        let History::Calls(calls) = read(text, false).unwrap().history else { panic!() };
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].handle_s, Some(90.0));
        assert!(calls[1].abandoned);
        assert_eq!(calls[1].handle_s, None);
    }

    #[test]
    fn local_times_are_read_in_the_zone() {
        let text = "arrived_at\n2026-07-01 09:00:00\n";
        let History::Calls(calls) = read(text, false).unwrap().history else { panic!() };
        assert_eq!(calls[0].arrived_at.to_rfc3339(), "2026-07-01T13:00:00+00:00");
        assert_eq!(calls[0].queue, DEFAULT_QUEUE);
        // 02:30 on the spring-forward Sunday does not exist in New York.
        let err = read("arrived_at\n2026-03-08 02:30\n", false).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn bad_rows_name_line_and_column_or_are_skipped() {
        let text = "interval_start,queue,calls,aht_s\n\
            2026-07-01T09:00:00-04:00,sales,10,200\n\
            2026-07-01T09:30:00-04:00,sales,ten,200\n\
            2026-07-01T10:00:00-04:00,sales,12,\n";
        let err = read(text, false).unwrap_err();
        assert_eq!(err.to_string(), "line 3: column calls: \"ten\" is not a non-negative number");
        let outcome = read(text, true).unwrap();
        assert_eq!(outcome.skipped.len(), 1);
        let History::Intervals(rows) = outcome.history else { panic!() };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].aht_s, None);
    }

    #[test]
    fn unknown_header_is_refused() {
        let err = read("when,count\n", false).unwrap_err();
        assert!(err.to_string().contains("arrived_at"), "{err}");
        let err = read("interval_start,queue\n", false).unwrap_err();
        assert!(err.to_string().contains("calls"), "{err}");
    }
}
