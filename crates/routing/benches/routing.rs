//! Criterion benchmarks of the routing engine's hot paths at several center sizes.
//!
//! * `route_decision`: one call routed to a queue with free agents (the reservation).
//! * `ready_dispatch_waiting`: an agent ends a call and takes the best waiting call across
//!   its queues.
//! * `ready_dispatch_idle`: an agent becomes ready with nothing waiting and is indexed in
//!   all its queues.
//!
//! Run: `cargo bench --bench routing`. Numbers are in BENCHMARKS.md.

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::{Center, BATCH};

const SIZES: [(usize, usize); 6] =
    [(1_000, 50), (1_000, 400), (10_000, 50), (10_000, 400), (50_000, 50), (50_000, 400)];

fn route_decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_decision");
    group.throughput(Throughput::Elements(1));
    for (agents, queues) in SIZES {
        let mut center = Center::new(agents, queues);
        group.bench_function(BenchmarkId::from_parameter(format!("{agents}a_{queues}q")), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = BATCH.min((iters - done) as usize);
                    let calls: Vec<_> = (0..n).map(|_| center.next_call()).collect();
                    let offered: Vec<_> = calls
                        .into_iter()
                        .filter_map(|(queue, call)| {
                            center.route_prepared(queue, call, |t| timed += t)
                        })
                        .collect();
                    for call in &offered {
                        center.complete(call);
                    }
                    done += n as u64;
                }
                timed
            });
        });
    }
    group.finish();
}

fn ready_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("ready_dispatch_idle");
    group.throughput(Throughput::Elements(1));
    for (agents, queues) in SIZES {
        let mut center = Center::new(agents, queues);
        group.bench_function(BenchmarkId::from_parameter(format!("{agents}a_{queues}q")), |b| {
            let mut next = 0usize;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let agent = center.agents[next % center.agents.len()].clone();
                    next += 1;
                    let now = center.now();
                    center.engine.set_not_ready(&agent, "break", now).expect("not ready");
                    let start = Instant::now();
                    center.engine.set_ready(&agent, now).expect("ready");
                    timed += start.elapsed();
                }
                timed
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("ready_dispatch_waiting");
    group.throughput(Throughput::Elements(1));
    for (agents, queues) in SIZES {
        let mut center = Center::new(agents, queues);
        // Busy hour: all agents talking, as many calls again waiting.
        let mut connected = center.saturate(agents);
        let mut next = 0usize;
        group.bench_function(BenchmarkId::from_parameter(format!("{agents}a_{queues}q")), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // An agent ends a call and takes the best waiting call across its queues
                    // (the timed part); the switch answers it and a new caller joins the line.
                    let slot = next % connected.len();
                    next += 1;
                    let call = connected[slot].clone();
                    let agent = center.agent_on(&call).expect("connected");
                    let now = center.now();
                    let start = Instant::now();
                    center.engine.call_ended(&call, now).expect("end");
                    timed += start.elapsed();
                    match center.call_of(&agent) {
                        Some(taken) => {
                            center.engine.call_answered(&taken, now).expect("answer");
                            connected[slot] = taken;
                        }
                        // Its queues were empty: the agent waits, and the next caller of those
                        // queues reaches it at once.
                        None => drop(connected.swap_remove(slot)),
                    }
                    let (queue, call) = center.next_call();
                    let id = call.id.clone();
                    if let switchboard_routing::Routed::Offered(_) =
                        center.engine.route_call(&queue, call, now).expect("routable")
                    {
                        center.engine.call_answered(&id, now).expect("answer");
                        connected.push(id);
                    }
                }
                timed
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = route_decision, ready_dispatch
}
criterion_main!(benches);
