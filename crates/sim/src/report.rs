//! The results of a simulation: per interval and queue, a summary, and their CSV, JSON, text
//! and SVG forms.

use std::fmt::{self, Write as _};

use chrono::DateTime;
use plotters::prelude::*;
use serde::Serialize;

use crate::run::RunOutput;
use crate::scenario::{Scenario, Staffing, Traffic};
use crate::stats::{predict, Counters, MetricEstimates, Metrics, Prediction};
use crate::Options;

/// A queue of the configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueInfo {
    /// Queue id.
    pub id: String,
    /// Service-level threshold, seconds.
    pub threshold_s: f64,
}

/// One interval of one queue: means over replications with 95 % confidence intervals, and
/// the Erlang prediction for the interval's load and staff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntervalRow {
    /// Interval start, RFC 3339 (UTC).
    pub interval_start: String,
    /// Queue id.
    pub queue: String,
    /// Mean calls aimed at the queue.
    pub arrived: f64,
    /// Mean calls that timed out of the queue (plan overflow).
    pub timed_out: f64,
    /// Mean calls the plan sent elsewhere before any queue.
    pub diverted: f64,
    /// The measures.
    pub metrics: MetricEstimates,
    /// Erlang C / A for the same calls, handle time and (rounded) staffed agents.
    pub erlang: Option<Prediction>,
}

/// One queue (or `all`) over the whole horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Queue id, or `all`.
    pub queue: String,
    /// Mean calls aimed at the queue.
    pub arrived: f64,
    /// Mean calls that timed out of the queue.
    pub timed_out: f64,
    /// Mean calls diverted before any queue.
    pub diverted: f64,
    /// The measures.
    pub metrics: MetricEstimates,
    /// Erlang C / A for the whole horizon as one stationary load (`None` for `all`).
    pub erlang: Option<Prediction>,
}

/// Everything a simulation reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The configuration's queues.
    pub queues: Vec<QueueInfo>,
    /// Horizon start, RFC 3339.
    pub start: String,
    /// Horizon end, RFC 3339.
    pub end: String,
    /// Interval length, minutes.
    pub interval_min: f64,
    /// Replications run.
    pub replications: u32,
    /// Seed of the first.
    pub seed: u64,
    /// Calls simulated over all replications.
    pub calls_simulated: u64,
    /// Mean calls still waiting when a replication ran out of agents and events.
    pub stranded: f64,
    /// Mean replayed calls with no recorded queue that the plan ended outside any queue.
    pub diverted_no_queue: f64,
    /// Traffic source.
    pub traffic: String,
    /// Staffing source.
    pub staffing: String,
    /// Handle-time model.
    pub handle: String,
    /// Patience model.
    pub patience: String,
    /// Per interval and queue.
    pub intervals: Vec<IntervalRow>,
    /// Per queue and `all`.
    pub summary: Vec<SummaryRow>,
}

fn rfc3339(ms: u64) -> String {
    DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

impl Report {
    pub(crate) fn build(
        scenario: &Scenario,
        options: &Options,
        horizon: (u64, u64),
        patience_s: Option<f64>,
        outputs: &[RunOutput],
    ) -> Report {
        let queues: Vec<QueueInfo> = scenario
            .config
            .queues
            .iter()
            .map(|q| QueueInfo {
                id: q.id.to_string(),
                threshold_s: q.service_level_threshold.as_secs_f64(),
            })
            .collect();
        let interval_ms = scenario.interval_ms();
        let intervals = outputs.first().map_or(0, |o| o.counters.len());
        let row = |counters: &[Counters], span_ms: u64, threshold_s: f64, erlang: bool| {
            let reps: Vec<Metrics> = counters.iter().map(|c| c.metrics(span_ms)).collect();
            let metrics = MetricEstimates::of(&reps);
            let first = counters.first().copied().unwrap_or_default();
            let agents = mean(reps.iter().map(|m| m.agents));
            let prediction = if erlang && first.expected_calls > 0.0 {
                predict(
                    first.expected_calls,
                    first.handle_s / first.expected_calls,
                    span_ms as f64 / 1000.0,
                    agents,
                    patience_s,
                    threshold_s,
                )
            } else {
                None
            };
            (
                mean(counters.iter().map(|c| c.arrived as f64)),
                mean(counters.iter().map(|c| c.timed_out as f64)),
                mean(counters.iter().map(|c| c.diverted as f64)),
                metrics,
                prediction,
            )
        };
        let mut rows = Vec::new();
        for i in 0..intervals {
            for (q, info) in queues.iter().enumerate() {
                let counters: Vec<Counters> = outputs.iter().map(|o| o.counters[i][q]).collect();
                if counters.iter().all(|c| *c == Counters::default()) {
                    continue;
                }
                let (arrived, timed_out, diverted, metrics, erlang) =
                    row(&counters, interval_ms, info.threshold_s, true);
                rows.push(IntervalRow {
                    interval_start: rfc3339(horizon.0 + i as u64 * interval_ms),
                    queue: info.id.clone(),
                    arrived,
                    timed_out,
                    diverted,
                    metrics,
                    erlang,
                });
            }
        }
        let span = horizon.1 - horizon.0;
        let mut summary = Vec::new();
        let totals: Vec<Vec<Counters>> = outputs
            .iter()
            .map(|o| {
                (0..queues.len())
                    .map(|q| {
                        let mut total = Counters::default();
                        for interval in &o.counters {
                            total.add(&interval[q]);
                        }
                        total
                    })
                    .collect()
            })
            .collect();
        for (q, info) in queues.iter().enumerate() {
            let counters: Vec<Counters> = totals.iter().map(|t| t[q]).collect();
            if counters.iter().all(|c| c.arrived == 0 && c.offered == 0) {
                continue;
            }
            let (arrived, timed_out, diverted, metrics, erlang) =
                row(&counters, span, info.threshold_s, true);
            summary.push(SummaryRow {
                queue: info.id.clone(),
                arrived,
                timed_out,
                diverted,
                metrics,
                erlang,
            });
        }
        if summary.len() > 1 {
            let counters: Vec<Counters> = totals
                .iter()
                .map(|t| {
                    let mut all = Counters::default();
                    t.iter().for_each(|c| all.add(c));
                    all
                })
                .collect();
            let (arrived, timed_out, diverted, mut metrics, _) = row(&counters, span, 0.0, false);
            // Agents in several queues are counted once per queue; a total headcount would
            // mislead.
            metrics.agents = None;
            summary.push(SummaryRow {
                queue: "all".into(),
                arrived,
                timed_out,
                diverted,
                metrics,
                erlang: None,
            });
        }
        let traffic = match &scenario.traffic {
            Traffic::Forecast(f) => format!("forecast, {} rows", f.rows.len()),
            Traffic::History(calls) => format!("call records, {} calls", calls.len()),
        };
        let staffing = match &scenario.staffing {
            Staffing::Fixed(n) => format!("{n} agents qualified for every queue, all day"),
            Staffing::Shifts(shifts) => format!("{} shifts", shifts.len()),
        };
        Report {
            queues,
            start: rfc3339(horizon.0),
            end: rfc3339(horizon.1),
            interval_min: interval_ms as f64 / 60_000.0,
            replications: options.replications,
            seed: options.seed,
            calls_simulated: outputs.iter().map(|o| o.calls).sum(),
            stranded: mean(outputs.iter().map(|o| o.stranded as f64)),
            diverted_no_queue: mean(outputs.iter().map(|o| o.diverted_unknown as f64)),
            traffic,
            staffing,
            handle: scenario.handle.to_string(),
            patience: scenario.patience.to_string(),
            intervals: rows,
            summary,
        }
    }

    /// Per interval and queue as CSV: means, 95 % half-widths and the Erlang prediction.
    pub fn intervals_csv(&self) -> String {
        let mut out = String::from(
            "interval_start,queue,arrived,offered,answered,abandoned,timed_out,diverted,\
             service_level,service_level_ci95,asa_s,asa_s_ci95,p_wait,abandon_rate,occupancy,agents,\
             erlang_model,erlang_agents,erlang_service_level,erlang_asa_s,erlang_p_wait,\
             erlang_p_abandon,erlang_occupancy\n",
        );
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
        for r in &self.intervals {
            let m = &r.metrics;
            let e = r.erlang;
            let _ = writeln!(
                out,
                "{},{},{:.2},{},{},{},{:.2},{:.2},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.interval_start,
                r.queue,
                r.arrived,
                f(m.offered.map(|e| e.mean)),
                f(m.answered.map(|e| e.mean)),
                f(m.abandoned.map(|e| e.mean)),
                r.timed_out,
                r.diverted,
                f(m.service_level.map(|e| e.mean)),
                f(m.service_level.map(|e| e.ci95)),
                f(m.asa_s.map(|e| e.mean)),
                f(m.asa_s.map(|e| e.ci95)),
                f(m.p_wait.map(|e| e.mean)),
                f(m.abandon_rate.map(|e| e.mean)),
                f(m.occupancy.map(|e| e.mean)),
                f(m.agents.map(|e| e.mean)),
                e.map_or("", |e| e.model),
                e.map_or(String::new(), |e| e.agents.to_string()),
                f(e.map(|e| e.service_level)),
                f(e.map(|e| e.asa_s).filter(|v| v.is_finite())),
                f(e.map(|e| e.p_wait)),
                f(e.map(|e| e.p_abandon)),
                f(e.map(|e| e.occupancy)),
            );
        }
        out
    }

    /// The whole report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A chart of simulated and Erlang service level per interval and queue, with the calls
    /// offered below, as an SVG document.
    pub fn chart_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1000, 640)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (top, bottom) = root.split_vertically(400);
            let starts: Vec<&str> = {
                let mut s: Vec<&str> =
                    self.intervals.iter().map(|r| r.interval_start.as_str()).collect();
                s.dedup();
                s
            };
            let n = starts.len().max(1);
            let index = |start: &str| starts.iter().position(|s| *s == start).unwrap_or(0);
            let label = |x: &usize| -> String {
                starts
                    .get(*x)
                    .map(|s| s.get(5..16).unwrap_or(s).replace('T', " "))
                    .unwrap_or_default()
            };
            let mut chart = ChartBuilder::on(&top)
                .caption(
                    "Service level per interval: simulated (solid) and Erlang (dashed)",
                    ("sans-serif", 18),
                )
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(0..n, 0.0..1.0f64)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_label_formatter(&label)
                .y_desc("answered within threshold / answered")
                .draw()
                .map_err(|e| e.to_string())?;
            for (qi, q) in self.queues.iter().enumerate() {
                let color = Palette99::pick(qi).to_rgba();
                let points: Vec<(usize, f64)> = self
                    .intervals
                    .iter()
                    .filter(|r| r.queue == q.id)
                    .filter_map(|r| Some((index(&r.interval_start), r.metrics.service_level?.mean)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(q.id.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                let erlang: Vec<(usize, f64)> = self
                    .intervals
                    .iter()
                    .filter(|r| r.queue == q.id)
                    .filter_map(|r| Some((index(&r.interval_start), r.erlang?.service_level)))
                    .collect();
                chart
                    .draw_series(DashedLineSeries::new(erlang, 6, 4, color.stroke_width(1)))
                    .map_err(|e| e.to_string())?;
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(|e| e.to_string())?;
            let max_offered = self
                .intervals
                .iter()
                .filter_map(|r| r.metrics.offered.map(|e| e.mean))
                .fold(1.0f64, f64::max);
            let mut calls = ChartBuilder::on(&bottom)
                .caption(
                    "Calls offered (solid) and abandoned (dotted) per interval",
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(50)
                .build_cartesian_2d(0..n, 0.0..max_offered * 1.1)
                .map_err(|e| e.to_string())?;
            calls.configure_mesh().x_label_formatter(&label).draw().map_err(|e| e.to_string())?;
            for (qi, q) in self.queues.iter().enumerate() {
                let color = Palette99::pick(qi).to_rgba();
                let series = |f: fn(&IntervalRow) -> Option<f64>| -> Vec<(usize, f64)> {
                    self.intervals
                        .iter()
                        .filter(|r| r.queue == q.id)
                        .filter_map(|r| Some((index(&r.interval_start), f(r)?)))
                        .collect()
                };
                calls
                    .draw_series(LineSeries::new(
                        series(|r| r.metrics.offered.map(|e| e.mean)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?;
                calls
                    .draw_series(DashedLineSeries::new(
                        series(|r| r.metrics.abandoned.map(|e| e.mean)),
                        2,
                        3,
                        color.stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
            }
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulated {} to {} in {}-minute intervals: {} replication(s), seed {}, {} calls",
            self.start,
            self.end,
            self.interval_min,
            self.replications,
            self.seed,
            self.calls_simulated
        )?;
        writeln!(f, "traffic: {}; staffing: {}", self.traffic, self.staffing)?;
        writeln!(
            f,
            "talk time: {} (plus each queue's wrap-up); patience: {}",
            self.handle, self.patience
        )?;
        writeln!(
            f,
            "service level = answered within the queue's threshold / answered (as Erlang's); \
             mean ± 95 % confidence half-width over replications; Erlang uses the average staffed \
             member agents, rounded"
        )?;
        writeln!(
            f,
            "{:<12} {:>9} {:>9} {:>9} {:>17} {:>15} {:>15} {:>15} {:>15}",
            "queue",
            "offered",
            "answered",
            "abandoned",
            "service level",
            "ASA s",
            "P(wait)",
            "abandon rate",
            "occupancy"
        )?;
        let est = |e: Option<crate::stats::Estimate>, digits: usize| {
            e.map_or("-".to_string(), |e| format!("{:.d$} ± {:.d$}", e.mean, e.ci95, d = digits))
        };
        for row in &self.summary {
            let m = &row.metrics;
            writeln!(
                f,
                "{:<12} {:>9.1} {:>9.1} {:>9.1} {:>17} {:>15} {:>15} {:>15} {:>15}",
                row.queue,
                m.offered.map_or(0.0, |e| e.mean),
                m.answered.map_or(0.0, |e| e.mean),
                m.abandoned.map_or(0.0, |e| e.mean),
                est(m.service_level, 3),
                est(m.asa_s, 1),
                est(m.p_wait, 3),
                est(m.abandon_rate, 3),
                est(m.occupancy, 3),
            )?;
            if let Some(e) = row.erlang {
                let asa =
                    if e.asa_s.is_finite() { format!("{:.1}", e.asa_s) } else { "inf".into() };
                writeln!(
                    f,
                    "{:<12} {:>9} {:>9} {:>9} {:>17.3} {:>15} {:>15.3} {:>15.3} {:>15.3}",
                    format!(
                        "  {} ({})",
                        if e.model == "erlang_a" { "Erlang A" } else { "Erlang C" },
                        e.agents
                    ),
                    "",
                    "",
                    "",
                    e.service_level,
                    asa,
                    e.p_wait,
                    e.p_abandon,
                    e.occupancy,
                )?;
            }
            if row.timed_out > 0.0 || row.diverted > 0.0 {
                writeln!(
                    f,
                    "{:<12} timed out of the queue {:.1}, diverted before it {:.1}",
                    "", row.timed_out, row.diverted
                )?;
            }
        }
        if self.stranded > 0.0 {
            writeln!(f, "warning: {:.1} calls per replication were still waiting at the end (no agent left)", self.stranded)?;
        }
        Ok(())
    }
}
