//! Counting what happened per interval and queue, and turning replications into means with
//! confidence intervals and Erlang predictions.

use serde::Serialize;
use switchboard_wfm::erlang::Load;

/// What happened to the calls of one interval (by arrival) in one queue, and what the
/// queue's member agents did during that interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Calls of the traffic aimed at this queue (forecast row, recorded queue).
    pub arrived: u64,
    /// Calls that entered the queue (including overflow from another queue).
    pub offered: u64,
    /// Of those, calls that found no free agent and waited.
    pub waited: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls answered within the queue's service-level threshold.
    pub answered_within: u64,
    /// Total wait of answered calls, milliseconds.
    pub answered_wait_ms: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Calls that reached the queue's wait limit and left it (plan overflow).
    pub timed_out: u64,
    /// Calls aimed at the queue that the plan sent elsewhere before any queue (closed,
    /// voicemail, transfer, refused by a full queue).
    pub diverted: u64,
    /// Member agents' busy time (ringing, talking, wrap-up), milliseconds.
    pub busy_ms: u64,
    /// Member agents' staffed time (logged in and not on break), milliseconds.
    pub staffed_ms: u64,
    /// Handle time (talk + wrap-up) of the arrived calls, seconds, for the Erlang input.
    pub handle_s: f64,
    /// Expected calls (forecast) or arrived calls (history), for the Erlang input.
    pub expected_calls: f64,
}

impl Counters {
    pub(crate) fn add(&mut self, o: &Counters) {
        self.arrived += o.arrived;
        self.offered += o.offered;
        self.waited += o.waited;
        self.answered += o.answered;
        self.answered_within += o.answered_within;
        self.answered_wait_ms += o.answered_wait_ms;
        self.abandoned += o.abandoned;
        self.timed_out += o.timed_out;
        self.diverted += o.diverted;
        self.busy_ms += o.busy_ms;
        self.staffed_ms += o.staffed_ms;
        self.handle_s += o.handle_s;
        self.expected_calls += o.expected_calls;
    }

    /// The measures of these counters over `span_ms` of time.
    pub fn metrics(&self, span_ms: u64) -> Metrics {
        let ratio = |a: f64, b: f64| if b > 0.0 { Some(a / b) } else { None };
        Metrics {
            offered: self.offered as f64,
            answered: self.answered as f64,
            abandoned: self.abandoned as f64,
            service_level: ratio(self.answered_within as f64, self.answered as f64),
            asa_s: ratio(self.answered_wait_ms as f64 / 1000.0, self.answered as f64),
            p_wait: ratio(self.waited as f64, self.offered as f64),
            abandon_rate: ratio(self.abandoned as f64, self.offered as f64),
            occupancy: ratio(self.busy_ms as f64, self.staffed_ms as f64),
            agents: self.staffed_ms as f64 / span_ms.max(1) as f64,
        }
    }
}

/// Measures of one replication (or their means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Calls that entered the queue.
    pub offered: f64,
    /// Calls answered.
    pub answered: f64,
    /// Calls abandoned.
    pub abandoned: f64,
    /// Answered within the threshold over answered (the same definition as Erlang's).
    pub service_level: Option<f64>,
    /// Average wait of answered calls, seconds.
    pub asa_s: Option<f64>,
    /// Share of offered calls that waited.
    pub p_wait: Option<f64>,
    /// Abandoned over offered.
    pub abandon_rate: Option<f64>,
    /// Busy over staffed time of member agents.
    pub occupancy: Option<f64>,
    /// Average staffed member agents.
    pub agents: f64,
}

/// A mean over replications with its 95 % confidence interval half-width (Student t);
/// `None` when no replication had a value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over the replications that had a value.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval (0 with a single replication).
    pub ci95: f64,
    /// Replications that had a value.
    pub n: usize,
}

impl Estimate {
    /// From one value per replication.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Estimate> {
        let xs: Vec<f64> = values.into_iter().flatten().collect();
        let n = xs.len();
        if n == 0 {
            return None;
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let ci95 = if n > 1 {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        } else {
            0.0
        };
        Some(Estimate { mean, ci95, n })
    }

    /// Whether `value` lies inside the interval.
    pub fn contains(&self, value: f64) -> bool {
        (value - self.mean).abs() <= self.ci95
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Means and confidence intervals of the measures over replications.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricEstimates {
    /// Calls offered.
    pub offered: Option<Estimate>,
    /// Calls answered.
    pub answered: Option<Estimate>,
    /// Calls abandoned.
    pub abandoned: Option<Estimate>,
    /// Service level (answered within threshold / answered).
    pub service_level: Option<Estimate>,
    /// Average speed of answer, seconds.
    pub asa_s: Option<Estimate>,
    /// P(wait).
    pub p_wait: Option<Estimate>,
    /// Abandoned / offered.
    pub abandon_rate: Option<Estimate>,
    /// Occupancy of member agents.
    pub occupancy: Option<Estimate>,
    /// Staffed member agents.
    pub agents: Option<Estimate>,
}

impl MetricEstimates {
    /// From one set of measures per replication.
    pub fn of(reps: &[Metrics]) -> MetricEstimates {
        let e = |f: fn(&Metrics) -> Option<f64>| Estimate::of(reps.iter().map(f));
        MetricEstimates {
            offered: e(|m| Some(m.offered)),
            answered: e(|m| Some(m.answered)),
            abandoned: e(|m| Some(m.abandoned)),
            service_level: e(|m| m.service_level),
            asa_s: e(|m| m.asa_s),
            p_wait: e(|m| m.p_wait),
            abandon_rate: e(|m| m.abandon_rate),
            occupancy: e(|m| m.occupancy),
            agents: e(|m| Some(m.agents)),
        }
    }
}

/// What Erlang C (or Erlang A with exponential patience) predicts for the same load and
/// staff.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// `"erlang_c"` or `"erlang_a"`.
    pub model: &'static str,
    /// Agents used: the average staffed member agents, rounded to the nearest whole agent.
    pub agents: u32,
    /// Offered load, Erlangs.
    pub traffic_erlangs: f64,
    /// P(wait).
    pub p_wait: f64,
    /// Service level (answered within threshold / answered).
    pub service_level: f64,
    /// Average speed of answer of answered calls, seconds.
    pub asa_s: f64,
    /// Occupancy.
    pub occupancy: f64,
    /// Abandoned / offered.
    pub p_abandon: f64,
}

/// The Erlang prediction for `calls` with `aht_s` over `span_s` seconds served by `agents`.
pub fn predict(
    calls: f64,
    aht_s: f64,
    span_s: f64,
    agents: f64,
    patience_s: Option<f64>,
    threshold_s: f64,
) -> Option<Prediction> {
    if calls <= 0.0 || aht_s <= 0.0 || span_s <= 0.0 {
        return None;
    }
    let load = Load::new(calls, span_s, aht_s).ok()?;
    let (load, model) = match patience_s {
        Some(p) => (load.with_patience(p).ok()?, "erlang_a"),
        None => (load, "erlang_c"),
    };
    let agents = agents.round().max(0.0) as u32;
    let p = load.evaluate(agents, threshold_s);
    Some(Prediction {
        model,
        agents,
        traffic_erlangs: p.traffic_erlangs,
        p_wait: p.p_wait,
        service_level: p.service_level,
        asa_s: p.asa_s,
        occupancy: p.occupancy,
        p_abandon: p.p_abandon,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_known_values() {
        let e = Estimate::of([Some(1.0), Some(2.0), Some(3.0), None]).expect("values");
        assert_eq!(e.n, 3);
        assert!((e.mean - 2.0).abs() < 1e-12);
        // s = 1, t(2) = 4.303, half-width 4.303 / sqrt(3).
        assert!((e.ci95 - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert!(Estimate::of([None]).is_none());
    }

    #[test]
    fn metrics_from_counters() {
        let c = Counters {
            offered: 10,
            waited: 4,
            answered: 8,
            answered_within: 6,
            answered_wait_ms: 16_000,
            abandoned: 2,
            busy_ms: 30,
            staffed_ms: 60,
            ..Default::default()
        };
        let m = c.metrics(30);
        assert_eq!(m.service_level, Some(0.75));
        assert_eq!(m.asa_s, Some(2.0));
        assert_eq!(m.p_wait, Some(0.4));
        assert_eq!(m.abandon_rate, Some(0.2));
        assert_eq!(m.occupancy, Some(0.5));
        assert_eq!(m.agents, 2.0);
    }
}
