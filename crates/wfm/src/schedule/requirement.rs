//! The per-interval requirement a schedule covers, read from the staffing CSV.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime};

/// Interval lengths a requirement may use, in minutes.
pub const ALLOWED_INTERVAL_MINUTES: [u32; 3] = [15, 30, 60];

/// Agents needed per interval over a contiguous horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Start of the first interval.
    pub start: DateTime<FixedOffset>,
    /// Length of every interval.
    pub interval_minutes: u32,
    /// Agents needed in each interval (fractional values allowed).
    pub agents: Vec<f64>,
    /// UTC offset in force at each interval, for local start windows and output times.
    pub offsets: Vec<FixedOffset>,
}

/// Which column of the staffing CSV a requirement is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequirementColumn {
    /// `scheduled_agents`: the requirement after shrinkage (the default).
    #[default]
    ScheduledAgents,
    /// `required_agents`: the raw Erlang requirement.
    RequiredAgents,
}

impl RequirementColumn {
    /// The CSV header of this column.
    pub fn header(self) -> &'static str {
        match self {
            RequirementColumn::ScheduledAgents => "scheduled_agents",
            RequirementColumn::RequiredAgents => "required_agents",
        }
    }
}

impl std::str::FromStr for RequirementColumn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "scheduled_agents" => Ok(RequirementColumn::ScheduledAgents),
            "required_agents" => Ok(RequirementColumn::RequiredAgents),
            other => Err(format!(
                "unknown column {other:?} (expected scheduled_agents or required_agents)"
            )),
        }
    }
}

/// A problem in the staffing CSV, with the line (1-based, the header is line 1) and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {column}: {message}")]
pub struct RequirementError {
    /// 1-based line; 0 when the problem is with the file as a whole.
    pub line: u64,
    /// The CSV column concerned.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

fn problem(line: u64, column: &str, message: impl Into<String>) -> RequirementError {
    RequirementError { line, column: column.to_string(), message: message.into() }
}

impl Requirement {
    /// A requirement with one UTC offset throughout.
    pub fn new(start: DateTime<FixedOffset>, interval_minutes: u32, agents: Vec<f64>) -> Self {
        let offsets = vec![*start.offset(); agents.len()];
        Requirement { start, interval_minutes, agents, offsets }
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// True when the horizon has no intervals.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// Length of the horizon in minutes.
    pub fn horizon_minutes(&self) -> u32 {
        self.interval_minutes * self.agents.len() as u32
    }

    /// The instant `minute` minutes after the horizon start, in the offset in force then.
    pub fn time_at(&self, minute: u32) -> DateTime<FixedOffset> {
        let utc = self.start + Duration::minutes(i64::from(minute));
        let index =
            ((minute / self.interval_minutes) as usize).min(self.offsets.len().saturating_sub(1));
        let offset = self.offsets.get(index).copied().unwrap_or(*self.start.offset());
        utc.with_timezone(&offset)
    }

    /// Local wall-clock time `minute` minutes after the horizon start.
    pub fn local_at(&self, minute: u32) -> NaiveDateTime {
        self.time_at(minute).naive_local()
    }

    /// Reads the CSV written by `switchboard staff`: sums `column` over queues per interval (or
    /// takes the one `queue`), infers the interval length (15, 30 or 60 minutes) and fills
    /// intervals absent from the file with zero.
    pub fn from_staffing_csv(
        reader: impl std::io::Read,
        column: RequirementColumn,
        queue: Option<&str>,
    ) -> Result<Requirement, RequirementError> {
        let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
        let headers = csv.headers().map_err(|e| problem(1, "header", e.to_string()))?.clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| problem(1, name, "missing column"))
        };
        let start_col = find("interval_start")?;
        let queue_col = find("queue")?;
        let value_col = find(column.header())?;
        let value_name = column.header();

        // Sum per instant; keep the first offset seen for each instant.
        let mut sums: BTreeMap<DateTime<FixedOffset>, (f64, u64)> = BTreeMap::new();
        let mut queues_seen = std::collections::BTreeSet::new();
        for record in csv.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                problem(line, "record", e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |index: usize, name: &str| {
                record.get(index).map(str::trim).ok_or_else(|| problem(line, name, "missing field"))
            };
            let queue_name = field(queue_col, "queue")?;
            queues_seen.insert(queue_name.to_string());
            if queue.is_some_and(|q| q != queue_name) {
                continue;
            }
            let start_text = field(start_col, "interval_start")?;
            let start = DateTime::parse_from_rfc3339(start_text).map_err(|e| {
                problem(
                    line,
                    "interval_start",
                    format!("{start_text:?} is not an RFC 3339 time with offset: {e}"),
                )
            })?;
            let value_text = field(value_col, value_name)?;
            let value: f64 = value_text.parse().map_err(|_| {
                problem(line, value_name, format!("{value_text:?} is not a number"))
            })?;
            if !value.is_finite() || value < 0.0 {
                return Err(problem(
                    line,
                    value_name,
                    format!("{value_text:?} must be a non-negative number"),
                ));
            }
            let entry = sums.entry(start).or_insert((0.0, line));
            entry.0 += value;
        }
        if let Some(q) = queue {
            if !queues_seen.contains(q) {
                let known: Vec<_> = queues_seen.into_iter().collect();
                return Err(problem(
                    0,
                    "queue",
                    format!("no rows for queue {q:?} (queues in the file: {})", known.join(", ")),
                ));
            }
        }
        if sums.is_empty() {
            return Err(problem(0, "interval_start", "no intervals in the file"));
        }
        let instants: Vec<_> = sums.keys().copied().collect();
        let interval_minutes = if instants.len() == 1 {
            // One row says nothing about the grid: take the finest allowed interval.
            ALLOWED_INTERVAL_MINUTES[0]
        } else {
            let (step, line) = instants
                .windows(2)
                .map(|w| ((w[1] - w[0]).num_seconds(), sums.get(&w[1]).map_or(0, |v| v.1)))
                .min_by_key(|&(step, _)| step)
                .unwrap_or((0, 0));
            if step % 60 != 0 || !ALLOWED_INTERVAL_MINUTES.contains(&((step / 60) as u32)) {
                return Err(problem(
                    line,
                    "interval_start",
                    format!("intervals are {} s apart; expected 15, 30 or 60 minutes", step),
                ));
            }
            (step / 60) as u32
        };
        let first = instants[0];
        let last = instants[instants.len() - 1];
        let count = ((last - first).num_minutes() / i64::from(interval_minutes) + 1) as usize;
        let mut agents = vec![0.0; count];
        let mut offsets = vec![*first.offset(); count];
        let mut known = vec![false; count];
        for (instant, (value, line)) in &sums {
            let minutes = (*instant - first).num_seconds();
            if minutes % (i64::from(interval_minutes) * 60) != 0 {
                return Err(problem(
                    *line,
                    "interval_start",
                    format!(
                        "{} is not on the {interval_minutes}-minute grid starting at {}",
                        instant.to_rfc3339(),
                        first.to_rfc3339()
                    ),
                ));
            }
            let index = (minutes / 60 / i64::from(interval_minutes)) as usize;
            agents[index] = *value;
            offsets[index] = *instant.offset();
            known[index] = true;
        }
        // Intervals absent from the file keep the offset of the last one present.
        for index in 1..count {
            if !known[index] {
                offsets[index] = offsets[index - 1];
            }
        }
        Ok(Requirement { start: first, interval_minutes, agents, offsets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "interval_start,queue,calls,aht_s,required_agents,scheduled_agents,service_level,asa_s,occupancy\n";

    fn read(
        body: &str,
        column: RequirementColumn,
        queue: Option<&str>,
    ) -> Result<Requirement, RequirementError> {
        Requirement::from_staffing_csv(format!("{HEADER}{body}").as_bytes(), column, queue)
    }

    #[test]
    fn sums_queues_per_interval_and_fills_gaps() {
        let body = "2026-11-23T08:00:00+01:00,sales,10,300,3,4,0.8,10,0.7\n\
                    2026-11-23T08:00:00+01:00,support,10,300,2,3,0.8,10,0.7\n\
                    2026-11-23T08:15:00+01:00,sales,10,300,1,2,0.8,10,0.7\n\
                    2026-11-23T09:00:00+01:00,sales,10,300,5,6,0.8,10,0.7\n";
        let r = read(body, RequirementColumn::ScheduledAgents, None).unwrap();
        assert_eq!(r.interval_minutes, 15);
        assert_eq!(r.agents, vec![7.0, 2.0, 0.0, 0.0, 6.0]);
        let raw = read(body, RequirementColumn::RequiredAgents, Some("sales")).unwrap();
        assert_eq!(raw.agents, vec![3.0, 1.0, 0.0, 0.0, 5.0]);
        assert_eq!(r.local_at(15).format("%H:%M").to_string(), "08:15");
    }

    #[test]
    fn infers_hourly_intervals() {
        let body = "2026-11-23T08:00:00Z,q,1,1,1,1,1,1,1\n2026-11-23T09:00:00Z,q,1,1,1,2,1,1,1\n";
        let r = read(body, RequirementColumn::ScheduledAgents, None).unwrap();
        assert_eq!((r.interval_minutes, r.agents.clone()), (60, vec![1.0, 2.0]));
    }

    #[test]
    fn names_line_and_column_of_bad_input() {
        let check = |body: &str, queue: Option<&str>, expect: &str| {
            let e = read(body, RequirementColumn::ScheduledAgents, queue).unwrap_err();
            assert_eq!(e.to_string(), expect, "{body}");
        };
        check("yesterday,q,1,1,1,1,1,1,1\n", None, "line 2: interval_start: \"yesterday\" is not an RFC 3339 time with offset: premature end of input");
        check(
            "2026-11-23T08:00:00Z,q,1,1,1,-1,1,1,1\n",
            None,
            "line 2: scheduled_agents: \"-1\" must be a non-negative number",
        );
        check(
            "2026-11-23T08:00:00Z,q,1,1,1,many,1,1,1\n",
            None,
            "line 2: scheduled_agents: \"many\" is not a number",
        );
        check(
            "2026-11-23T08:00:00Z,q,1,1,1,1,1,1,1\n2026-11-23T08:20:00Z,q,1,1,1,1,1,1,1\n",
            None,
            "line 3: interval_start: intervals are 1200 s apart; expected 15, 30 or 60 minutes",
        );
        check(
            "2026-11-23T08:00:00Z,q,1,1,1,1,1,1,1\n2026-11-23T08:15:00Z,q,1,1,1,1,1,1,1\n2026-11-23T08:40:00Z,q,1,1,1,1,1,1,1\n",
            None,
            "line 4: interval_start: 2026-11-23T08:40:00+00:00 is not on the 15-minute grid starting at 2026-11-23T08:00:00+00:00",
        );
        check(
            "2026-11-23T08:00:00Z,q,1,1,1,1,1,1,1\n",
            Some("nope"),
            "line 0: queue: no rows for queue \"nope\" (queues in the file: q)",
        );
        check("", None, "line 0: interval_start: no intervals in the file");
    }

    #[test]
    fn missing_column_is_named() {
        let e = Requirement::from_staffing_csv(
            "interval_start,queue\n2026-11-23T08:00:00Z,q\n".as_bytes(),
            RequirementColumn::ScheduledAgents,
            None,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "line 1: scheduled_agents: missing column");
    }
}
