//! Per-interval staffing requirements from a forecast: Erlang C (or Erlang A with caller
//! patience) per queue and interval, then shrinkage to scheduled agents.
//!
//! The staffing CSV is the scheduler's input; its columns, in order:
//! `interval_start` (RFC 3339 with offset), `queue`, `calls`, `aht_s`, `required_agents` (on the
//! phones), `scheduled_agents` (`ceil(required / (1 - shrinkage))`), `service_level`, `asa_s`,
//! `occupancy`.

use chrono::{DateTime, FixedOffset};

use crate::erlang::{scheduled_agents, ErlangError, Load, Targets};
use crate::error::{Result, WfmError};
use crate::forecast::ForecastRow;

/// Header of the staffing CSV (the contract with the scheduler).
pub const STAFFING_HEADER: &str =
    "interval_start,queue,calls,aht_s,required_agents,scheduled_agents,service_level,asa_s,occupancy";

/// How to staff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaffingOptions {
    /// Targets every interval must meet.
    pub targets: Targets,
    /// Fraction of paid time off the phones, in [0, 1).
    pub shrinkage: f64,
    /// Mean caller patience (Erlang A); `None` for Erlang C.
    pub patience_s: Option<f64>,
    /// Interval length, seconds.
    pub interval_s: f64,
    /// Handle time for rows whose forecast has none.
    pub default_aht_s: Option<f64>,
}

/// Requirements of one queue and interval.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffingRow {
    /// Start of the interval.
    pub interval_start: DateTime<FixedOffset>,
    /// Queue.
    pub queue: String,
    /// Forecast calls.
    pub calls: f64,
    /// Handle time used, seconds.
    pub aht_s: f64,
    /// Agents on the phones that meet the targets.
    pub required_agents: u32,
    /// Agents to schedule after shrinkage.
    pub scheduled_agents: u32,
    /// Service level the required agents achieve.
    pub service_level: f64,
    /// Average speed of answer they achieve, seconds.
    pub asa_s: f64,
    /// Their occupancy.
    pub occupancy: f64,
    /// Share of callers abandoning (0 under Erlang C; not in the CSV).
    pub p_abandon: f64,
}

/// Staffs every forecast row. `rows[i]` is reported as line `i + 2` of its file in errors.
pub fn staff(rows: &[ForecastRow], options: &StaffingOptions) -> Result<Vec<StaffingRow>> {
    let erlang = |line: usize, e: ErlangError| WfmError::BadRow {
        line: line as u64,
        column: "calls".into(),
        message: e.to_string(),
    };
    // Shrinkage is checked once, before any row.
    scheduled_agents(0, options.shrinkage).map_err(|e| WfmError::BadValue(e.to_string()))?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let line = i + 2;
            let aht_s = row.aht_s.or(options.default_aht_s).ok_or_else(|| WfmError::BadRow {
                line: line as u64,
                column: "aht_s".into(),
                message: "empty; give a default handle time (--aht)".into(),
            })?;
            let mut load =
                Load::new(row.calls, options.interval_s, aht_s).map_err(|e| erlang(line, e))?;
            if let Some(patience) = options.patience_s {
                load = load.with_patience(patience).map_err(|e| erlang(line, e))?;
            }
            let staffing = load.required_agents(&options.targets).map_err(|e| erlang(line, e))?;
            let p = staffing.performance;
            Ok(StaffingRow {
                interval_start: row.interval_start,
                queue: row.queue.clone(),
                calls: row.calls,
                aht_s,
                required_agents: staffing.agents,
                scheduled_agents: scheduled_agents(staffing.agents, options.shrinkage)
                    .map_err(|e| WfmError::BadValue(e.to_string()))?,
                service_level: p.service_level,
                asa_s: p.asa_s,
                occupancy: p.occupancy,
                p_abandon: p.p_abandon,
            })
        })
        .collect()
}

/// Writes the staffing CSV ([`STAFFING_HEADER`]).
pub fn write_staffing_csv(rows: &[StaffingRow], out: &mut dyn std::io::Write) -> Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(STAFFING_HEADER.split(','))?;
    for row in rows {
        csv.write_record([
            row.interval_start.to_rfc3339(),
            row.queue.clone(),
            format!("{:.2}", row.calls),
            format!("{:.1}", row.aht_s),
            row.required_agents.to_string(),
            row.scheduled_agents.to_string(),
            format!("{:.4}", row.service_level),
            format!("{:.1}", row.asa_s),
            format!("{:.4}", row.occupancy),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

/// The interval length of forecast rows: the smallest gap between consecutive starts of one
/// queue, which must be 15, 30 or 60 minutes; `None` when no queue has two rows.
pub fn infer_interval_s(rows: &[ForecastRow]) -> Option<f64> {
    let mut by_queue: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for row in rows {
        by_queue.entry(&row.queue).or_default().push(row.interval_start.timestamp());
    }
    by_queue
        .values_mut()
        .filter_map(|starts| {
            starts.sort_unstable();
            starts.windows(2).map(|w| w[1] - w[0]).filter(|gap| *gap > 0).min()
        })
        .min()
        .map(|gap| gap as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erlang::ServiceLevelTarget;

    fn row(calls: f64, aht_s: Option<f64>) -> ForecastRow {
        ForecastRow {
            interval_start: DateTime::parse_from_rfc3339("2026-07-06T09:00:00-04:00").unwrap(),
            queue: "sales".into(),
            calls,
            aht_s,
            method: "test".into(),
        }
    }

    fn options() -> StaffingOptions {
        StaffingOptions {
            targets: Targets {
                service_level: Some(ServiceLevelTarget { fraction: 0.8, threshold_s: 20.0 }),
                ..Targets::default()
            },
            shrinkage: 0.3,
            patience_s: None,
            interval_s: 1800.0,
            default_aht_s: None,
        }
    }

    #[test]
    fn published_example_with_shrinkage() {
        let rows = staff(&[row(100.0, Some(180.0)), row(0.0, Some(180.0))], &options()).unwrap();
        assert_eq!(rows[0].required_agents, 14);
        assert_eq!(rows[0].scheduled_agents, 20);
        assert!((rows[0].service_level - 0.888).abs() < 0.001);
        assert!((rows[0].asa_s - 7.8).abs() < 0.05);
        assert_eq!((rows[1].required_agents, rows[1].scheduled_agents), (0, 0));
        let mut out = Vec::new();
        write_staffing_csv(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(STAFFING_HEADER));
        assert_eq!(
            lines.next(),
            Some("2026-07-06T09:00:00-04:00,sales,100.00,180.0,14,20,0.8884,7.8,0.7143")
        );
    }

    #[test]
    fn missing_handle_time_names_the_line_unless_defaulted() {
        let err = staff(&[row(10.0, Some(200.0)), row(10.0, None)], &options()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: column aht_s: empty; give a default handle time (--aht)"
        );
        let with_default = StaffingOptions { default_aht_s: Some(200.0), ..options() };
        assert_eq!(staff(&[row(10.0, None)], &with_default).unwrap()[0].aht_s, 200.0);
    }

    #[test]
    fn abandonment_needs_fewer_agents() {
        let with_patience = StaffingOptions { patience_s: Some(120.0), ..options() };
        let c = staff(&[row(400.0, Some(300.0))], &options()).unwrap();
        let a = staff(&[row(400.0, Some(300.0))], &with_patience).unwrap();
        assert!(a[0].required_agents < c[0].required_agents, "{a:?} vs {c:?}");
        assert!(a[0].p_abandon > 0.0);
    }
}
