//! Erlang B, C and A: how many agents a load needs, and what a headcount achieves.
//!
//! Erlang C (M/M/n) assumes callers wait for ever; Erlang A (M/M/n+M) lets them abandon after an
//! exponential patience, which is what real callers do, so it needs fewer agents and can even
//! staff below the offered load. Both are computed without factorials: Erlang B by its
//! recursion `B(k) = A·B(k-1) / (k + A·B(k-1))`, which stays in `[0, 1]` and is exact for tens
//! of thousands of Erlangs; Erlang A from the birth-death chain of the queue in log space, and
//! the waiting time of a tagged caller (how many are ahead of it) by uniformization.
//!
//! # Example
//!
//! ```
//! use switchboard_wfm::erlang::{Load, ServiceLevelTarget, Targets};
//!
//! // 100 calls in 30 minutes, 180 s handle time: 10 Erlangs.
//! let load = Load::new(100.0, 1800.0, 180.0)?;
//! let targets = Targets { service_level: Some("80/20s".parse()?), ..Targets::default() };
//! let staffing = load.required_agents(&targets)?;
//! assert_eq!(staffing.agents, 14);
//! assert!((staffing.performance.service_level - 0.888).abs() < 0.001);
//! # Ok::<(), switchboard_wfm::erlang::ErlangError>(())
//! ```

use std::str::FromStr;

use serde::Serialize;

/// Why an Erlang computation cannot be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErlangError {
    /// An input is negative, zero where it must not be, or not a finite number.
    #[error("{field} must be {expected}, got {value}")]
    OutOfRange {
        /// The input's name, as the CLI spells it.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        value: f64,
    },
    /// A service-level target is not of the form `80/20s`.
    #[error("service-level target {0:?} is not of the form PERCENT/SECONDS, e.g. 80/20s")]
    BadTarget(String),
    /// No headcount up to the search limit meets the targets (e.g. an ASA of 0 s).
    #[error("no headcount up to {max_agents} agents meets the targets")]
    Unreachable {
        /// The largest headcount tried.
        max_agents: u32,
    },
}

/// Probabilities smaller than this are treated as zero when truncating the queue-length
/// distribution and the uniformization series.
const NEGLIGIBLE_PROBABILITY: f64 = 1e-14;

/// Erlang B: the probability that an arriving call finds all `agents` busy in a loss system
/// offered `traffic_erlangs`.
pub fn erlang_b(traffic_erlangs: f64, agents: u32) -> f64 {
    let n = f64::from(agents);
    // Near the load (where staffing searches start), sum 1/B from the top instead of running
    // the recursion from 1: 1/B(n) = sum_j n!/((n-j)! A^j), whose terms fall like
    // exp(-j^2 / 2A) once (n-j) < A, so about 40 sqrt(A) terms reach full precision rather than
    // n steps. Far above the load the first terms would grow too large; use the recursion there.
    let excess = n - traffic_erlangs;
    if agents >= 64 && traffic_erlangs > 0.0 && excess * excess.abs() < 1000.0 * traffic_erlangs {
        let per_traffic = 1.0 / traffic_erlangs;
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        for j in 0..agents {
            term *= (n - f64::from(j)) * per_traffic;
            sum += term;
            if term < sum * 1e-17 && n - f64::from(j) < traffic_erlangs {
                break;
            }
        }
        return 1.0 / sum;
    }
    let mut blocking = 1.0;
    for k in 1..=agents {
        blocking = next_erlang_b(traffic_erlangs, k, blocking);
    }
    blocking
}

/// Erlang B by the recursion from one agent: the reference the fast path is tested against.
#[cfg(test)]
fn erlang_b_by_recursion(traffic_erlangs: f64, agents: u32) -> f64 {
    let mut blocking = 1.0;
    for k in 1..=agents {
        blocking = next_erlang_b(traffic_erlangs, k, blocking);
    }
    blocking
}

/// One step of the Erlang B recursion: `B(k)` from `B(k-1)`.
fn next_erlang_b(traffic_erlangs: f64, k: u32, previous: f64) -> f64 {
    let a_b = traffic_erlangs * previous;
    a_b / (f64::from(k) + a_b)
}

/// Erlang C from Erlang B for the same headcount: the probability that a call waits. 1 when the
/// agents cannot keep up (`agents <= traffic`).
fn erlang_c_from_b(traffic_erlangs: f64, agents: u32, blocking: f64) -> f64 {
    let n = f64::from(agents);
    if n <= traffic_erlangs {
        return 1.0;
    }
    n * blocking / (n - traffic_erlangs * (1.0 - blocking))
}

/// Erlang C: the probability that a call waits, with `agents` serving `traffic_erlangs` and
/// callers who never hang up. 1 when `agents <= traffic_erlangs` (the queue grows for ever).
pub fn erlang_c(traffic_erlangs: f64, agents: u32) -> f64 {
    erlang_c_from_b(traffic_erlangs, agents, erlang_b(traffic_erlangs, agents))
}

/// Scheduled headcount for `raw` agents on the phones when a `shrinkage` fraction of paid time
/// (breaks, training, absence) is off the phones: `ceil(raw / (1 - shrinkage))`.
pub fn scheduled_agents(raw: u32, shrinkage: f64) -> Result<u32, ErlangError> {
    check(shrinkage, "shrinkage", "in [0, 1)", |s| (0.0..1.0).contains(&s))?;
    // The small tolerance keeps 14 / 0.7 = 20.000000000000004 at 20.
    Ok((f64::from(raw) / (1.0 - shrinkage) - 1e-9).ceil().max(0.0) as u32)
}

/// A service-level target: `fraction` of answered calls within `threshold_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceLevelTarget {
    /// The share of calls answered within the threshold, in (0, 1).
    pub fraction: f64,
    /// The threshold in seconds.
    pub threshold_s: f64,
}

impl FromStr for ServiceLevelTarget {
    type Err = ErlangError;

    /// Parses `80/20s`, `80/20` or `0.8/20s`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ErlangError::BadTarget(text.to_string());
        let (percent, seconds) = text.trim().split_once('/').ok_or_else(bad)?;
        let percent: f64 = percent.trim().trim_end_matches('%').parse().map_err(|_| bad())?;
        let seconds = seconds.trim();
        let seconds: f64 =
            seconds.strip_suffix('s').unwrap_or(seconds).trim().parse().map_err(|_| bad())?;
        let fraction = if percent > 1.0 { percent / 100.0 } else { percent };
        let valid = fraction > 0.0 && fraction < 1.0 && seconds.is_finite() && seconds >= 0.0;
        if !valid {
            return Err(bad());
        }
        Ok(ServiceLevelTarget { fraction, threshold_s: seconds })
    }
}

/// What a headcount must achieve. Every target that is set must hold.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Targets {
    /// Answered within a threshold.
    pub service_level: Option<ServiceLevelTarget>,
    /// Average speed of answer, seconds, at most.
    pub max_asa_s: Option<f64>,
    /// Agent occupancy (busy time over staffed time) at most, in (0, 1].
    pub max_occupancy: Option<f64>,
    /// Share of offered calls that abandon, at most (Erlang A only).
    pub max_abandon: Option<f64>,
}

impl Targets {
    /// The threshold at which service level is reported: the target's, else 20 s.
    pub fn threshold_s(&self) -> f64 {
        self.service_level.map_or(DEFAULT_THRESHOLD_S, |t| t.threshold_s)
    }

    fn validate(&self) -> Result<(), ErlangError> {
        if let Some(asa) = self.max_asa_s {
            check(asa, "max ASA", "a finite number of seconds >= 0", |v| v >= 0.0)?;
        }
        if let Some(occupancy) = self.max_occupancy {
            check(occupancy, "max occupancy", "in (0, 1]", |v| v > 0.0 && v <= 1.0)?;
        }
        if let Some(abandon) = self.max_abandon {
            check(abandon, "max abandon", "in [0, 1]", |v| (0.0..=1.0).contains(&v))?;
        }
        Ok(())
    }

    fn met_by(&self, p: &Performance) -> bool {
        self.service_level.is_none_or(|t| p.service_level >= t.fraction - 1e-12)
            && self.max_asa_s.is_none_or(|asa| p.asa_s <= asa + 1e-12)
            && self.max_occupancy.is_none_or(|occ| p.occupancy <= occ + 1e-12)
            && self.max_abandon.is_none_or(|ab| p.p_abandon <= ab + 1e-12)
    }
}

/// The service-level threshold reported when no target names one, seconds.
pub const DEFAULT_THRESHOLD_S: f64 = 20.0;

/// The largest headcount [`Load::required_agents`] tries before giving up.
pub const MAX_AGENTS: u32 = 1_000_000;

/// What `agents` achieve on a load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Performance {
    /// The headcount on the phones.
    pub agents: u32,
    /// Offered load, Erlangs.
    pub traffic_erlangs: f64,
    /// Probability that a call has to wait (it may then abandon, under Erlang A).
    pub p_wait: f64,
    /// Share of answered calls answered within the threshold.
    pub service_level: f64,
    /// The threshold of `service_level`, seconds.
    pub threshold_s: f64,
    /// Average speed of answer of answered calls, seconds (infinite when the queue grows for
    /// ever under Erlang C).
    pub asa_s: f64,
    /// Busy time over staffed time, in [0, 1].
    pub occupancy: f64,
    /// Share of offered calls that abandon (0 under Erlang C).
    pub p_abandon: f64,
}

/// The result of a staffing search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Staffing {
    /// The fewest agents on the phones that meet every target.
    pub agents: u32,
    /// What they achieve.
    pub performance: Performance,
}

/// The offered load of one interval: calls, handle time and, for Erlang A, caller patience.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Load {
    /// Calls per second.
    arrival_rate: f64,
    /// Average handle time (talk + wrap-up), seconds.
    aht_s: f64,
    /// Average patience of a waiting caller, seconds; `None` for Erlang C.
    patience_s: Option<f64>,
}

impl Load {
    /// `calls` arriving in `interval_s` seconds, each taking `aht_s` seconds to handle.
    pub fn new(calls: f64, interval_s: f64, aht_s: f64) -> Result<Load, ErlangError> {
        check(calls, "calls", "a finite number >= 0", |v| v >= 0.0)?;
        check(interval_s, "interval", "a finite number of seconds > 0", |v| v > 0.0)?;
        check(aht_s, "aht", "a finite number of seconds > 0", |v| v > 0.0)?;
        Ok(Load { arrival_rate: calls / interval_s, aht_s, patience_s: None })
    }

    /// The same load with callers who abandon after an exponential patience of mean
    /// `patience_s` seconds (Erlang A).
    pub fn with_patience(self, patience_s: f64) -> Result<Load, ErlangError> {
        check(patience_s, "patience", "a finite number of seconds > 0", |v| v > 0.0)?;
        Ok(Load { patience_s: Some(patience_s), ..self })
    }

    /// Offered load in Erlangs: arrival rate times handle time.
    pub fn traffic_erlangs(&self) -> f64 {
        self.arrival_rate * self.aht_s
    }

    /// What `agents` achieve, with service level measured at `threshold_s` seconds.
    pub fn evaluate(&self, agents: u32, threshold_s: f64) -> Performance {
        match self.patience_s {
            None => self.erlang_c(agents, erlang_b(self.traffic_erlangs(), agents), threshold_s),
            Some(patience_s) => self.erlang_a(agents, patience_s, threshold_s),
        }
    }

    /// The fewest agents that meet every target, and what they achieve.
    pub fn required_agents(&self, targets: &Targets) -> Result<Staffing, ErlangError> {
        targets.validate()?;
        let threshold_s = targets.threshold_s();
        let traffic = self.traffic_erlangs();
        if self.arrival_rate == 0.0 {
            let performance = self.evaluate(0, threshold_s);
            return Ok(Staffing { agents: 0, performance });
        }
        // Erlang C first: walk up from the stability limit carrying Erlang B forward, so the
        // whole search costs one pass of the recursion.
        let first_stable = (traffic.floor() as u64 + 1).min(u64::from(MAX_AGENTS)) as u32;
        let mut blocking = erlang_b(traffic, first_stable);
        let mut agents = first_stable;
        let erlang_c_staffing = loop {
            let performance = self.erlang_c(agents, blocking, threshold_s);
            if targets.met_by(&performance) {
                break Staffing { agents, performance };
            }
            if agents >= MAX_AGENTS {
                return Err(ErlangError::Unreachable { max_agents: MAX_AGENTS });
            }
            agents += 1;
            blocking = next_erlang_b(traffic, agents, blocking);
        };
        let Some(patience_s) = self.patience_s else { return Ok(erlang_c_staffing) };
        // Abandonment only ever helps, so Erlang C's answer bounds Erlang A's from above;
        // bisect below it (every measure improves with each agent added).
        let (mut low, mut high) = (0u32, erlang_c_staffing.agents);
        let mut best = self.erlang_a(high, patience_s, threshold_s);
        if !targets.met_by(&best) {
            // Erlang A's service level counts answered calls only and may differ slightly from
            // Erlang C's at the same headcount; walk up until it holds.
            while !targets.met_by(&best) {
                if high >= MAX_AGENTS {
                    return Err(ErlangError::Unreachable { max_agents: MAX_AGENTS });
                }
                high += 1;
                best = self.erlang_a(high, patience_s, threshold_s);
            }
            return Ok(Staffing { agents: high, performance: best });
        }
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let performance = self.erlang_a(middle, patience_s, threshold_s);
            if targets.met_by(&performance) {
                (high, best) = (middle, performance);
            } else {
                low = middle;
            }
        }
        Ok(Staffing { agents: high, performance: best })
    }

    fn erlang_c(&self, agents: u32, blocking: f64, threshold_s: f64) -> Performance {
        let traffic = self.traffic_erlangs();
        let n = f64::from(agents);
        if traffic == 0.0 {
            return idle(agents, threshold_s);
        }
        if n <= traffic {
            return Performance {
                agents,
                traffic_erlangs: traffic,
                p_wait: 1.0,
                service_level: 0.0,
                threshold_s,
                asa_s: f64::INFINITY,
                occupancy: 1.0,
                p_abandon: 0.0,
            };
        }
        let p_wait = erlang_c_from_b(traffic, agents, blocking);
        let surplus = n - traffic;
        Performance {
            agents,
            traffic_erlangs: traffic,
            p_wait,
            service_level: 1.0 - p_wait * (-surplus * threshold_s / self.aht_s).exp(),
            threshold_s,
            asa_s: p_wait * self.aht_s / surplus,
            occupancy: traffic / n,
            p_abandon: 0.0,
        }
    }

    /// Erlang A (M/M/n+M). The stationary distribution of the number in system, seen by an
    /// arriving call (PASTA), gives how many callers are ahead of it; a caller with `m` ahead
    /// reaches an agent after the phases `m, m-1, ..., 0`, phase `k` ending at rate
    /// `n·mu + k·theta` (the head is served or someone ahead gives up), and gives up itself at
    /// rate `theta` throughout.
    fn erlang_a(&self, agents: u32, patience_s: f64, threshold_s: f64) -> Performance {
        let traffic = self.traffic_erlangs();
        if traffic == 0.0 {
            return idle(agents, threshold_s);
        }
        let lambda = self.arrival_rate;
        let mu = 1.0 / self.aht_s;
        let theta = 1.0 / patience_s;
        let n = f64::from(agents);
        let service_rate = n * mu;
        // Weights relative to the state "all agents busy, nobody waiting" (pi_n = 1), in log
        // space: states below n sum to 1/B(n); state n + j has prod lambda / (n mu + i theta).
        let blocking = erlang_b(traffic, agents);
        let log_below = if agents == 0 { f64::NEG_INFINITY } else { (1.0 / blocking - 1.0).ln() };
        let mode = ((lambda - service_rate) / theta).max(0.0);
        let mut log_ahead = vec![0.0f64]; // m = 0 callers ahead: the state pi_n itself
        let mut log_weight = 0.0;
        let mut max_log = 0.0f64;
        loop {
            let j = log_ahead.len() as f64;
            log_weight += (lambda / (service_rate + j * theta)).ln();
            if j > mode && log_weight - max_log < NEGLIGIBLE_PROBABILITY.ln() {
                break;
            }
            max_log = max_log.max(log_weight);
            log_ahead.push(log_weight);
        }
        if log_below.is_finite() {
            max_log = max_log.max(log_below);
        }
        let below = if log_below.is_finite() { (log_below - max_log).exp() } else { 0.0 };
        let mut ahead: Vec<f64> = log_ahead.iter().map(|l| (l - max_log).exp()).collect();
        let total = below + ahead.iter().sum::<f64>();
        let p_no_wait = below / total;
        ahead.iter_mut().for_each(|w| *w /= total);

        // Per start state m: P(served) = prod_k r_k / (r_k + theta), and
        // E[wait; served] = P(served) * sum_k 1 / (r_k + theta).
        let mut served = p_no_wait;
        let mut wait_of_served = 0.0;
        let (mut p_served_m, mut harmonic_m) = (1.0, 0.0);
        for (m, weight) in ahead.iter().enumerate() {
            let rate = service_rate + m as f64 * theta;
            p_served_m *= rate / (rate + theta);
            harmonic_m += 1.0 / (rate + theta);
            served += weight * p_served_m;
            wait_of_served += weight * p_served_m * harmonic_m;
        }
        let answered_within = p_no_wait + served_within(&ahead, service_rate, theta, threshold_s);
        Performance {
            agents,
            traffic_erlangs: traffic,
            p_wait: 1.0 - p_no_wait,
            service_level: if served > 0.0 { (answered_within / served).min(1.0) } else { 0.0 },
            threshold_s,
            asa_s: if served > 0.0 { wait_of_served / served } else { f64::INFINITY },
            occupancy: if agents == 0 { 1.0 } else { (traffic * served / n).min(1.0) },
            p_abandon: (1.0 - served).max(0.0),
        }
    }
}

fn idle(agents: u32, threshold_s: f64) -> Performance {
    Performance {
        agents,
        traffic_erlangs: 0.0,
        p_wait: 0.0,
        service_level: 1.0,
        threshold_s,
        asa_s: 0.0,
        occupancy: 0.0,
        p_abandon: 0.0,
    }
}

/// Probability mass of callers who wait and reach an agent within `threshold_s`, from the
/// distribution `ahead[m]` of how many are ahead on arrival. Uniformization of the tagged
/// caller's chain (m ahead → m - 1 at rate `service_rate + m·theta`, → served from 0 at
/// `service_rate`, → abandoned at `theta`): a Poisson number of steps of one discrete chain, so
/// the series is a sum of non-negative terms and stays accurate.
fn served_within(ahead: &[f64], service_rate: f64, theta: f64, threshold_s: f64) -> f64 {
    if service_rate == 0.0 || ahead.is_empty() {
        return 0.0;
    }
    let top = (ahead.len() - 1) as f64;
    let uniform_rate = service_rate + top * theta + theta;
    let mean_steps = uniform_rate * threshold_s;
    let mut state = ahead.to_vec();
    let mut served = 0.0;
    let mut result = 0.0;
    // Poisson(k; mean_steps) weights in log space: e^-x underflows past x = 745.
    let mut log_poisson = -mean_steps;
    let max_steps = (mean_steps + 10.0 * mean_steps.sqrt() + 30.0) as usize;
    let mut remaining_poisson = 1.0;
    for step in 0..=max_steps {
        let poisson = log_poisson.exp();
        result += poisson * served;
        remaining_poisson -= poisson;
        let transient: f64 = state.iter().sum();
        // Later terms add at most the still-transient mass times the remaining Poisson weight.
        if transient * remaining_poisson.max(0.0) < NEGLIGIBLE_PROBABILITY || step == max_steps {
            result += remaining_poisson.max(0.0) * served;
            break;
        }
        served += state[0] * service_rate / uniform_rate;
        for m in 0..state.len() {
            let rate = service_rate + m as f64 * theta;
            let stay = 1.0 - (rate + theta) / uniform_rate;
            let moved = if m + 1 < state.len() {
                state[m + 1] * (service_rate + (m + 1) as f64 * theta) / uniform_rate
            } else {
                0.0
            };
            state[m] = state[m] * stay + moved;
        }
        log_poisson += mean_steps.ln() - ((step + 1) as f64).ln();
    }
    result
}

fn check(
    value: f64,
    field: &'static str,
    expected: &'static str,
    ok: impl Fn(f64) -> bool,
) -> Result<(), ErlangError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(ErlangError::OutOfRange { field, expected, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sl(fraction: f64, threshold_s: f64) -> Targets {
        Targets {
            service_level: Some(ServiceLevelTarget { fraction, threshold_s }),
            ..Targets::default()
        }
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected} ± {tolerance}, got {actual}"
        );
    }

    #[test]
    fn published_erlang_c_values() {
        // 100 calls in 30 min, AHT 180 s: 10 Erlangs.
        let load = Load::new(100.0, 1800.0, 180.0).unwrap();
        close(load.traffic_erlangs(), 10.0, 1e-12);
        let fourteen = load.evaluate(14, 20.0);
        close(fourteen.service_level, 0.888, 0.0005);
        close(fourteen.p_wait, 0.174, 0.0005);
        close(fourteen.asa_s, 7.8, 0.05);
        close(fourteen.occupancy, 10.0 / 14.0, 1e-12);
        close(load.evaluate(13, 20.0).service_level, 0.796, 0.0005);
        assert_eq!(load.required_agents(&sl(0.8, 20.0)).unwrap().agents, 14);
        // A = 1.5 Erlangs on 2 agents: P(wait) = 9/14.
        close(erlang_c(1.5, 2), 9.0 / 14.0, 1e-12);
    }

    #[test]
    fn erlang_b_series_agrees_with_the_recursion() {
        for traffic in [50.0, 63.5, 100.0, 999.9, 1000.0, 10_000.0, 25_000.0] {
            let lo = (traffic * 0.5) as u32;
            let hi = (traffic * 1.5) as u32 + 80;
            for agents in (lo..hi).step_by(((hi - lo) / 97).max(1) as usize) {
                let fast = erlang_b(traffic, agents);
                let reference = erlang_b_by_recursion(traffic, agents);
                let tolerance = 1e-11 * reference.max(1e-300);
                assert!(
                    (fast - reference).abs() <= tolerance,
                    "A={traffic} n={agents}: {fast} vs {reference}"
                );
            }
        }
    }

    #[test]
    fn erlang_b_matches_the_closed_form_on_small_cases() {
        // B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2
        close(erlang_b(1.0, 2), 0.2, 1e-15);
        close(erlang_b(3.0, 0), 1.0, 0.0);
    }

    #[test]
    fn unstable_headcount_waits_for_ever() {
        let load = Load::new(100.0, 1800.0, 180.0).unwrap();
        let p = load.evaluate(10, 20.0);
        assert_eq!((p.p_wait, p.service_level, p.asa_s), (1.0, 0.0, f64::INFINITY));
    }

    #[test]
    fn huge_loads_are_exact_and_finite() {
        // 20,000 Erlangs: no overflow, and the answer sits a few square roots above the load.
        let load = Load::new(200_000.0, 1800.0, 180.0).unwrap();
        let staffing = load.required_agents(&sl(0.8, 20.0)).unwrap();
        assert!(staffing.agents > 20_000 && staffing.agents < 20_200, "{staffing:?}");
        let one_fewer = load.evaluate(staffing.agents - 1, 20.0);
        assert!(one_fewer.service_level < 0.8 && staffing.performance.service_level >= 0.8);
    }

    #[test]
    fn every_target_must_hold() {
        let load = Load::new(100.0, 1800.0, 180.0).unwrap();
        let occupancy = Targets { max_occupancy: Some(0.6), ..sl(0.8, 20.0) };
        // 10 / 17 = 0.588 is the first occupancy under 0.6.
        assert_eq!(load.required_agents(&occupancy).unwrap().agents, 17);
        let asa = Targets { max_asa_s: Some(2.0), ..Targets::default() };
        let staffing = load.required_agents(&asa).unwrap();
        assert!(staffing.performance.asa_s <= 2.0);
        assert!(load.evaluate(staffing.agents - 1, 20.0).asa_s > 2.0);
    }

    #[test]
    fn shrinkage_rounds_up_but_not_past_exact_values() {
        assert_eq!(scheduled_agents(14, 0.3).unwrap(), 20);
        assert_eq!(scheduled_agents(15, 0.3).unwrap(), 22);
        assert_eq!(scheduled_agents(0, 0.5).unwrap(), 0);
        assert!(scheduled_agents(10, 1.0).is_err());
    }

    #[test]
    fn targets_parse() {
        let t: ServiceLevelTarget = "80/20s".parse().unwrap();
        assert_eq!((t.fraction, t.threshold_s), (0.8, 20.0));
        let t: ServiceLevelTarget = "90%/15".parse().unwrap();
        assert_eq!((t.fraction, t.threshold_s), (0.9, 15.0));
        for bad in ["80", "80/x", "150/20s", "0/20s", "80/-1s", ""] {
            assert!(bad.parse::<ServiceLevelTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let e = Load::new(-1.0, 1800.0, 180.0).unwrap_err();
        assert_eq!(e.to_string(), "calls must be a finite number >= 0, got -1");
        assert!(Load::new(1.0, 0.0, 180.0).is_err());
        assert!(Load::new(1.0, 1800.0, f64::NAN).is_err());
        assert!(Load::new(1.0, 1800.0, 180.0).unwrap().with_patience(0.0).is_err());
    }

    #[test]
    fn erlang_a_approaches_erlang_c_as_patience_grows() {
        let load = Load::new(100.0, 1800.0, 180.0).unwrap();
        let c = load.evaluate(14, 20.0);
        let a = load.with_patience(1e9).unwrap().evaluate(14, 20.0);
        close(a.p_wait, c.p_wait, 1e-5);
        close(a.service_level, c.service_level, 1e-5);
        close(a.asa_s, c.asa_s, 1e-3);
        close(a.p_abandon, 0.0, 1e-5);
    }

    #[test]
    fn erlang_a_abandonment_agrees_with_littles_law() {
        // P(abandon) = theta * E[queue length] / lambda, computed here from the stationary
        // distribution directly, independently of the tagged-caller analysis.
        let (calls, interval_s, aht_s, patience_s, agents) = (120.0, 1800.0, 180.0, 120.0, 11u32);
        let load = Load::new(calls, interval_s, aht_s).unwrap().with_patience(patience_s).unwrap();
        let p = load.evaluate(agents, 20.0);
        let (lambda, mu, theta) = (calls / interval_s, 1.0 / aht_s, 1.0 / patience_s);
        let mut weights = vec![1.0f64];
        for k in 1..=agents {
            weights.push(weights[k as usize - 1] * lambda / (f64::from(k) * mu));
        }
        for j in 1..2000 {
            let last = weights[weights.len() - 1];
            weights.push(last * lambda / (f64::from(agents) * mu + f64::from(j) * theta));
        }
        let total: f64 = weights.iter().sum();
        let queue_length: f64 = weights
            .iter()
            .enumerate()
            .skip(agents as usize)
            .map(|(state, w)| (state - agents as usize) as f64 * w / total)
            .sum();
        close(p.p_abandon, theta * queue_length / lambda, 1e-9);
        let p_wait: f64 = weights.iter().skip(agents as usize).sum::<f64>() / total;
        close(p.p_wait, p_wait, 1e-9);
    }

    #[test]
    fn erlang_a_staffs_below_the_load_when_abandonment_allows() {
        // 12 Erlangs, impatient callers, a loose target: fewer than 12 agents suffice.
        let load = Load::new(240.0, 3600.0, 180.0).unwrap().with_patience(30.0).unwrap();
        let targets = sl(0.2, 20.0);
        let staffing = load.required_agents(&targets).unwrap();
        assert!(staffing.agents < 12, "{staffing:?}");
        assert!(staffing.performance.p_abandon > 0.0);
        // The bisection finds the same answer as a linear walk.
        let linear = (0..100).find(|&n| targets.met_by(&load.evaluate(n, 20.0))).unwrap();
        assert_eq!(staffing.agents, linear);
    }

    #[test]
    fn erlang_a_service_level_is_a_probability_that_rises_with_agents() {
        let load = Load::new(300.0, 1800.0, 240.0).unwrap().with_patience(180.0).unwrap();
        let mut previous = -1.0;
        for agents in 0..80 {
            let p = load.evaluate(agents, 20.0);
            assert!((0.0..=1.0).contains(&p.service_level), "{p:?}");
            assert!(p.service_level >= previous - 1e-12, "{agents}: {p:?}");
            assert!((0.0..=1.0).contains(&p.p_abandon) && (0.0..=1.0).contains(&p.occupancy));
            previous = p.service_level;
        }
        assert!(previous > 0.999);
    }
}
