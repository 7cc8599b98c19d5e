//! Criterion benchmark of a routing decision through a plan: `Router::start_call` on an
//! entry point whose queue node checks every entry overflow condition (no agent logged in, no
//! qualified agent, estimated wait, queue length) and arms a wait limit, at 10,000 agents.
//! Each condition is an O(1) engine accessor, so the plan should cost little more than the
//! engine's own decision (`route_decision` in `benches/routing.rs`).
//!
//! Run: `cargo bench --bench plan_routing`. Numbers are in BENCHMARKS.md.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_routing::plan::{Action, CustomerStore, IncomingCall, Router, RoutingConfig};
use switchboard_routing::{AgentId, NoObserver, Timestamp};

const SIZES: [(usize, usize); 2] = [(10_000, 50), (10_000, 400)];
/// Calls per timed batch, as in `benches/routing.rs`.
const BATCH: usize = 64;

/// A center of `agents` agents with 1-5 random queue skills and one language, `queues` skill
/// queues, and one entry point per queue whose plan raises VIP priority and enters the queue
/// with a language requirement and five overflow conditions.
/// Without `overflow`, the queue node has no overflow conditions: the difference between the
/// two is what the conditions cost.
fn config_text(agents: usize, queues: usize, overflow: bool) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut text = String::new();
    for q in 0..queues {
        let _ = write!(
            text,
            "[[queues]]\nid = \"q{q}\"\nskills = {{ s{q} = 1 }}\nwrap_up_s = 0\nmax_waiting = 1000000\n\n"
        );
    }
    for a in 0..agents {
        let mut skills: Vec<String> = (0..rng.random_range(1..=5))
            .map(|_| format!("s{} = {}", rng.random_range(0..queues), rng.random_range(1..=5)))
            .collect();
        skills.sort();
        skills.dedup_by(|x, y| x.split(' ').next() == y.split(' ').next());
        let language = if rng.random_bool(0.8) { "en" } else { "fr" };
        skills.push(format!("\"lang:{language}\" = {}", rng.random_range(1..=5)));
        let _ = write!(
            text,
            "[[agents]]\nid = \"agent-{a}\"\nskills = {{ {} }}\n\n",
            skills.join(", ")
        );
    }
    let conditions = if overflow {
        r#"overflow = [
    { when = "no_agents_logged_in", to = "vm" },
    { when = "no_qualified_agent", to = "vm" },
    { when = "estimated_wait_s > 600", to = "vm" },
    { when = "queue_length > 50", to = "vm" },
    { when = "waited_s > 300", to = "vm" },
]"#
    } else {
        ""
    };
    for q in 0..queues {
        let voicemail = if overflow {
            format!("[plans.p{q}.nodes.vm]\ntype = \"voicemail\"\nmailbox = \"q{q}\"\n")
        } else {
            String::new()
        };
        let _ = write!(
            text,
            r#"[[entry_points]]
number = "+1{q}"
plan = "p{q}"

[plans.p{q}]
start = "vip"
[plans.p{q}.nodes.vip]
type = "priority"
rules = [{{ when = "tier == 'gold'", raise = 5 }}]
next = "queue"
[plans.p{q}.nodes.queue]
type = "queue"
queue = "q{q}"
skills = {{ "lang:${{language}}" = 1 }}
{conditions}
{voicemail}

"#
        );
    }
    text
}

struct PlanCenter {
    router: Router,
    queues: usize,
    rng: ChaCha8Rng,
    next_call: u64,
    now_ms: u64,
}

impl PlanCenter {
    fn new(agents: usize, queues: usize, overflow: bool) -> PlanCenter {
        let config = RoutingConfig::from_toml(&config_text(agents, queues, overflow))
            .unwrap_or_else(|e| panic!("{:#?}", e.problems));
        let router =
            Router::new(config, CustomerStore::default(), Arc::new(NoObserver)).expect("router");
        let now = Timestamp::from_millis(1);
        for a in 0..agents {
            let id: AgentId = format!("agent-{a}").into();
            router.engine().login(&id, true, now).expect("login");
        }
        PlanCenter { router, queues, rng: ChaCha8Rng::seed_from_u64(7), next_call: 0, now_ms: 2 }
    }

    fn next_call(&mut self) -> IncomingCall {
        self.next_call += 1;
        let mut call = IncomingCall {
            id: format!("call-{}", self.next_call).into(),
            caller: "+33123456789".into(),
            dialed: format!("+1{}", self.rng.random_range(0..self.queues)),
            ..Default::default()
        };
        let language = if self.rng.random_bool(0.8) { "en" } else { "fr" };
        call.attributes.insert("language".into(), language.into());
        if self.rng.random_bool(0.1) {
            call.attributes.insert("tier".into(), "gold".into());
        }
        call
    }

    /// Ends what a decision started, untimed: an offered call is answered and ended (its
    /// agent is free again), a queued one withdrawn, so every timed decision meets the same
    /// center.
    fn settle(&mut self, action: &Action, call: &switchboard_routing::CallId) {
        self.now_ms += 1;
        let now = Timestamp::from_millis(self.now_ms);
        match action {
            Action::Connect { .. } => {
                self.router.engine().call_answered(call, now).expect("answer");
                self.router.engine().call_ended(call, now).expect("end");
            }
            Action::Queued { .. } => {
                self.router.withdraw(call, now).expect("withdraw");
            }
            _ => {}
        }
        self.router.advance(now);
    }
}

fn plan_decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_decision");
    group.throughput(Throughput::Elements(1));
    for ((agents, queues), overflow) in
        SIZES.into_iter().flat_map(|size| [(size, true), (size, false)])
    {
        let mut center = PlanCenter::new(agents, queues, overflow);
        let name = format!(
            "{agents}a_{queues}q_{}",
            if overflow { "overflow_checks" } else { "no_overflow" }
        );
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = BATCH.min((iters - done) as usize);
                    let calls: Vec<_> = (0..n).map(|_| center.next_call()).collect();
                    let now = Timestamp::from_millis(center.now_ms);
                    let mut decisions = Vec::with_capacity(n);
                    for call in calls {
                        let start = Instant::now();
                        let decision = center.router.start_call(call, now).expect("decision");
                        timed += start.elapsed();
                        decisions.push(decision);
                    }
                    for d in &decisions {
                        center.settle(&d.action, &d.call);
                    }
                    done += n as u64;
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
    targets = plan_decision
}
criterion_main!(benches);
