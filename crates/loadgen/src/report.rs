//! The results of a run, as JSON (serde) and as text.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::check::Accounting;
use crate::recorder::{CallTally, Recorded, Rpc};
use crate::scenario::{Arrivals, Plan};

/// Latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: u64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean().round() as u64,
        }
    }
}

/// CPU used during a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuUse {
    /// Server CPU seconds.
    pub server_s: f64,
    /// Generator CPU seconds.
    pub generator_s: f64,
    /// Server CPU per second of wall time (1.0 = one core busy).
    pub server_cores: f64,
    /// Server CPU milliseconds per 1,000 calls started in the phase.
    pub server_ms_per_1000_calls: Option<f64>,
    /// Server CPU microseconds per RPC.
    pub server_us_per_rpc: Option<f64>,
}

/// One phase's results.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    /// Its name.
    pub name: String,
    /// How calls arrived.
    pub arrivals: Arrivals,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Calls.
    pub calls: CallTally,
    /// RPCs finished in the phase.
    pub rpcs: u64,
    /// Per second.
    pub rpcs_per_s: f64,
    /// Failed RPCs.
    pub errors: u64,
    /// Outcomes by `RPC code` (e.g. `RouteCall Ok`).
    pub codes: BTreeMap<String, u64>,
    /// The first error message of each failing `RPC code`.
    pub first_errors: BTreeMap<String, String>,
    /// Latency of every traffic RPC together.
    pub latency: Percentiles,
    /// Latency per RPC.
    pub latency_by_rpc: BTreeMap<String, Percentiles>,
    /// Wait of queued calls for an agent (assignment over the stream).
    pub queued_wait: Option<Percentiles>,
    /// RouteCalls the server refused (shed load), not counted in `errors`.
    pub refused: u64,
    /// Latency of those refusals (not in `latency`).
    pub refusal_latency: Option<Percentiles>,
    /// Latency of what admitted calls and agents sent (digits, call events, agent changes).
    pub admitted_latency: Percentiles,
    /// When the last refusal of the phase came back, ms after the phase started.
    pub last_refusal_ms: Option<u64>,
    /// CPU, where `/proc` tells.
    pub cpu: Option<CpuUse>,
}

impl PhaseReport {
    /// From what a phase recorded.
    pub fn new(
        name: String,
        arrivals: Arrivals,
        seconds: f64,
        recorded: &Recorded,
        cpu: Option<(f64, f64)>,
    ) -> PhaseReport {
        let rpcs = recorded.rpcs();
        let per_s = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        let cpu = cpu.map(|(server_s, generator_s)| CpuUse {
            server_s,
            generator_s,
            server_cores: per_s(server_s),
            server_ms_per_1000_calls: (recorded.calls.started > 0)
                .then(|| server_s * 1e3 * 1e3 / recorded.calls.started as f64),
            server_us_per_rpc: (rpcs > 0).then(|| server_s * 1e6 / rpcs as f64),
        });
        PhaseReport {
            name,
            arrivals,
            seconds,
            calls: recorded.calls,
            rpcs,
            rpcs_per_s: per_s(rpcs as f64),
            errors: recorded.errors(),
            codes: recorded
                .codes
                .iter()
                .map(|((rpc, code), n)| (format!("{} {code}", rpc.name()), *n))
                .collect(),
            first_errors: recorded
                .first_errors
                .iter()
                .map(|((rpc, code), m)| (format!("{} {code}", rpc.name()), m.clone()))
                .collect(),
            latency: Percentiles::of(&recorded.traffic_latency()),
            latency_by_rpc: Rpc::ALL
                .iter()
                .filter_map(|r| {
                    recorded.latency.get(r).map(|h| (r.name().to_string(), Percentiles::of(h)))
                })
                .collect(),
            queued_wait: (!recorded.queued_wait.is_empty())
                .then(|| Percentiles::of(&recorded.queued_wait)),
            refused: recorded.refused(),
            refusal_latency: (!recorded.refusals.is_empty())
                .then(|| Percentiles::of(&recorded.refusals)),
            admitted_latency: Percentiles::of(&recorded.admitted_latency()),
            last_refusal_ms: None,
            cpu,
        }
    }
}

/// A target of the issue and whether this run met it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// What.
    pub target: String,
    /// Measured.
    pub measured: String,
    /// Met or not.
    pub met: bool,
    /// A run that misses it exits non-zero (the overload checks); other targets are reported.
    pub gate: bool,
}

/// Everything about one run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What ran.
    pub plan: Plan,
    /// Where the server ran.
    pub server: String,
    /// The server's journal: `off`, `batch` or `always` (in process), `unknown` (a target).
    pub journal: String,
    /// Agents and skill queues of the center.
    pub agents: usize,
    /// Skill queues (plus the hot queue).
    pub queues: usize,
    /// Agents logged in for the run, and the seconds it took.
    pub setup_logins: u64,
    /// Seconds the logins took.
    pub setup_seconds: f64,
    /// Each phase.
    pub phases: Vec<PhaseReport>,
    /// Calls finished after arrivals stopped (fast-forwarded: no more pauses).
    pub drain: PhaseReport,
    /// Stats snapshots the supervisors' streams received.
    pub stats_snapshots: u64,
    /// Times the assignment stream had to reconnect (it lagged).
    pub assignment_reconnects: u64,
    /// Server counters against the generator's.
    pub accounting: Accounting,
    /// The targets this scenario speaks to.
    pub verdicts: Vec<Verdict>,
}

fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} us")
    }
}

fn percentiles_row(out: &mut String, name: &str, p: &Percentiles) {
    let _ = writeln!(
        out,
        "    {name:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        p.count,
        us(p.p50_us),
        us(p.p90_us),
        us(p.p99_us),
        us(p.p999_us),
        us(p.max_us)
    );
}

impl PhaseReport {
    fn text(&self, out: &mut String) {
        let c = &self.calls;
        let _ = writeln!(
            out,
            "  {}: {:.1} s, {} calls ({} via menu, {} queued, {} answered, {} abandoned, {} breaks, {} refused, {} failed)",
            self.name, self.seconds, c.started, c.via_menu, c.queued, c.answered, c.abandoned, c.breaks, c.refused, c.failed
        );
        let _ = writeln!(
            out,
            "    {} RPCs, {:.0} RPCs/s, {} errors",
            self.rpcs, self.rpcs_per_s, self.errors
        );
        for (code, n) in self.codes.iter().filter(|(k, _)| !k.ends_with(" Ok")) {
            let why = self.first_errors.get(code).map(String::as_str).unwrap_or("");
            let kind = if code == "RouteCall ResourceExhausted" || code == "RouteCall Unavailable" {
                "refused"
            } else {
                "error"
            };
            let _ = writeln!(out, "      {kind} {code}: {n} (first: {why})");
        }
        if let Some(last) = self.last_refusal_ms {
            let _ = writeln!(out, "    last refusal {last} ms after the phase started");
        }
        if let Some(cpu) = &self.cpu {
            let _ = write!(
                out,
                "    cpu: server {:.2} s ({:.2} cores), generator {:.2} s",
                cpu.server_s, cpu.server_cores, cpu.generator_s
            );
            if let Some(per) = cpu.server_ms_per_1000_calls {
                let _ = write!(out, "; server {per:.0} ms per 1,000 calls");
            }
            if let Some(per) = cpu.server_us_per_rpc {
                let _ = write!(out, ", {per:.1} us per RPC");
            }
            let _ = writeln!(out);
        }
        if self.latency.count > 0 {
            let _ = writeln!(
                out,
                "    {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "latency", "count", "p50", "p90", "p99", "p99.9", "max"
            );
            percentiles_row(out, "all", &self.latency);
            for (rpc, p) in &self.latency_by_rpc {
                percentiles_row(out, rpc, p);
            }
            if self.admitted_latency.count > 0 {
                percentiles_row(out, "admitted calls", &self.admitted_latency);
            }
            if let Some(q) = &self.queued_wait {
                percentiles_row(out, "queued wait", q);
            }
        }
        if let Some(r) = &self.refusal_latency {
            percentiles_row(out, "refusals", r);
        }
    }
}

impl Report {
    /// Human-readable summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} against {} (journal {}; {} agents, {} queues); {} agents logged in in {:.1} s",
            self.plan.scenario.name(),
            self.server,
            self.journal,
            self.agents,
            self.queues,
            self.setup_logins,
            self.setup_seconds
        );
        for phase in &self.phases {
            phase.text(&mut out);
        }
        let _ = writeln!(out, "  drain (calls in flight finished without pauses):");
        self.drain.text(&mut out);
        let _ = writeln!(
            out,
            "  supervisors received {} stats snapshots; assignment stream reconnects: {}",
            self.stats_snapshots, self.assignment_reconnects
        );
        let a = &self.accounting;
        if a.ok() {
            let _ = writeln!(
                out,
                "  accounting: OK: {} queues, {} calls offered, agree with the server's statistics{} (settled in {} ms)",
                a.queues_checked,
                a.server_offered,
                if a.rpcs_checked { " and RPC counters" } else { "" },
                a.settle_ms
            );
        } else {
            let _ = writeln!(out, "  accounting: MISMATCH");
            for m in &a.mismatches {
                let _ = writeln!(out, "    {m}");
            }
        }
        for v in &self.verdicts {
            let _ = writeln!(
                out,
                "  target {}: {} ({})",
                v.target,
                if v.met { "met" } else { "NOT met" },
                v.measured
            );
        }
        out
    }
}
