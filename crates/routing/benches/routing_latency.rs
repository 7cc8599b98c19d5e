//! Latency distribution (p50, p99, p99.9) and single-core throughput of route decisions and
//! ready dispatch, recorded per operation in an HDR histogram. Criterion reports means; a
//! contact center cares about the tail.
//!
//! Run: `cargo bench --bench routing_latency` (optionally `-- 10000 50` for one size).

mod support;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use support::{Center, BATCH};

const DECISIONS: usize = 200_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let sizes: Vec<(usize, usize)> = match (args.first(), args.get(1)) {
        (Some(a), Some(q)) => vec![(a.parse().expect("agents"), q.parse().expect("queues"))],
        _ => vec![
            (1_000, 50),
            (1_000, 400),
            (10_000, 50),
            (10_000, 400),
            (50_000, 50),
            (50_000, 400),
        ],
    };
    println!(
        "{:>7} {:>6} | {:>24} | {:>10} {:>10} {:>10} {:>12}",
        "agents", "queues", "operation", "p50", "p99", "p99.9", "ops/s"
    );
    for (agents, queues) in sizes {
        let mut center = Center::new(agents, queues);
        let (route, route_total) = measure_routes(&mut center);
        report(agents, queues, "route decision", &route, route_total);
        let (ready, ready_total) = measure_ready(&mut center);
        report(agents, queues, "ready (nothing waiting)", &ready, ready_total);
    }
}

fn measure_routes(center: &mut Center) -> (Histogram<u64>, Duration) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("histogram");
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < DECISIONS {
        let mut offered = Vec::with_capacity(BATCH);
        let calls: Vec<_> = (0..BATCH).map(|_| center.next_call()).collect();
        for (queue, call) in calls {
            let call = center.route_prepared(queue, call, |took| {
                total += took;
                // A pause past the histogram's 10 ms top (the OS descheduled the thread) counts as 10 ms.
                hist.saturating_record(took.as_nanos().max(1) as u64);
            });
            offered.extend(call);
        }
        for call in &offered {
            center.complete(call);
        }
        done += BATCH;
    }
    (hist, total)
}

fn measure_ready(center: &mut Center) -> (Histogram<u64>, Duration) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("histogram");
    let mut total = Duration::ZERO;
    for i in 0..DECISIONS {
        let agent = center.agents[i % center.agents.len()].clone();
        let now = center.now();
        center.engine.set_not_ready(&agent, "break", now).expect("not ready");
        let start = Instant::now();
        center.engine.set_ready(&agent, now).expect("ready");
        let took = start.elapsed();
        total += took;
        // A pause past the histogram's 10 ms top (the OS descheduled the thread) counts as 10 ms.
        hist.saturating_record(took.as_nanos().max(1) as u64);
    }
    (hist, total)
}

fn report(agents: usize, queues: usize, what: &str, hist: &Histogram<u64>, total: Duration) {
    let us = |q: f64| format!("{:.2} us", hist.value_at_quantile(q) as f64 / 1_000.0);
    let per_sec = hist.len() as f64 / total.as_secs_f64();
    println!(
        "{agents:>7} {queues:>6} | {what:>24} | {:>10} {:>10} {:>10} {:>12.0}",
        us(0.50),
        us(0.99),
        us(0.999),
        per_sec
    );
}
