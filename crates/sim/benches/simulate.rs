//! Simulator throughput on an M/M/c model through the real routing plans and engine:
//! `cargo bench -p switchboard-sim --bench simulate`.
//!
//! One queue behind a one-node plan, Poisson arrivals at 1,000 calls per 30 minutes,
//! exponential talk time of mean 180 s, no wrap-up, 110 agents (100 Erlangs, occupancy 0.91),
//! callers never hang up. `mmc/1m_calls` is the issue's target: a million calls in under 5 s
//! on one core. The same model runs in `benches/python/mmc_simpy.py` for comparison.

use criterion::{criterion_group, criterion_main, Criterion};
use switchboard_routing::plan::{CustomerStore, RoutingConfig};
use switchboard_sim::{
    read_forecast, simulate, HandleModel, Options, Patience, Scenario, Shape, Staffing, Traffic,
};

const CALLS_PER_INTERVAL: u32 = 1_000;
const AGENTS: u32 = 110;

fn scenario(calls: u32) -> Scenario {
    let config = RoutingConfig::from_toml(
        r#"
        [[queues]]
        id = "support"
        skills = { support = 1 }
        service_level_s = 20
        wrap_up_s = 0
        max_waiting = 100000

        [[entry_points]]
        number = "+18005550100"
        plan = "main"

        [plans.main]
        start = "support"

        [plans.main.nodes.support]
        type = "queue"
        queue = "support"
        "#,
    )
    .expect("valid configuration");
    let mut text = String::from("interval_start,queue,calls,aht_s\n");
    for i in 0..calls.div_ceil(CALLS_PER_INTERVAL) {
        let t = chrono::DateTime::from_timestamp(
            1_795_000_000 - 1_795_000_000 % 1800 + i64::from(i) * 1800,
            0,
        )
        .expect("time");
        text.push_str(&format!("{},support,{CALLS_PER_INTERVAL},180\n", t.to_rfc3339()));
    }
    Scenario {
        config,
        customers: CustomerStore::default(),
        traffic: Traffic::Forecast(read_forecast("bench.csv", &text).expect("forecast")),
        staffing: Staffing::Fixed(AGENTS),
        handle: HandleModel::Shape(Shape::Exponential),
        patience: Patience::Infinite,
        interval_ms: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mmc");
    group.sample_size(10);
    for (name, calls) in [("100k_calls", 100_000), ("1m_calls", 1_000_000)] {
        let scenario = scenario(calls);
        group.bench_function(name, |b| {
            b.iter(|| {
                let report =
                    simulate(&scenario, &Options { seed: 1, replications: 1 }, &mut |_| {})
                        .expect("runs");
                assert!(report.calls_simulated > u64::from(calls) * 9 / 10);
                report.calls_simulated
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
