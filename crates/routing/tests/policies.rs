//! Agent-selection policies: exact expected agents for each.

mod common;

use common::{queue, t, World};
use switchboard_routing::{EngineConfig, SelectionPolicy};

/// A one-queue world with agents ready in the order given (agent i ready at second i).
fn world(policy: SelectionPolicy, agents: &[(&str, u8)]) -> World {
    let w = World::with_config(EngineConfig {
        queues: vec![queue("q", "s", policy, 0)],
        max_consecutive_missed: 3,
        seed: 42,
    });
    for (i, (id, level)) in agents.iter().enumerate() {
        w.agent(id, &[("s", *level)], true, t(i as u64));
    }
    w
}

/// Routes `n` calls at `at` and returns who got each, in order.
fn route(w: &World, n: usize, prefix: &str, at: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}{i}");
            w.call("q", &id, 0, t(at));
            w.agent_of(&id).unwrap_or_else(|| "queued".into())
        })
        .collect()
}

fn finish_all(w: &World, calls: &[&str], at: u64) {
    for c in calls {
        w.finish(c, t(at));
    }
}

#[test]
fn longest_idle_picks_the_agent_available_longest() {
    let w = world(SelectionPolicy::LongestIdle, &[("a", 1), ("b", 1), ("c", 1)]);
    assert_eq!(route(&w, 3, "x", 10), ["a", "b", "c"]);
    // b finishes first, then a: b has now been idle longer.
    finish_all(&w, &["x1"], 20);
    finish_all(&w, &["x0"], 21);
    assert_eq!(route(&w, 3, "y", 30), ["b", "a", "queued"]);
}

#[test]
fn round_robin_cycles_through_members_in_creation_order() {
    // Created a, b, c; made ready in reverse so idle time would say c, b, a.
    let w = world(SelectionPolicy::RoundRobin, &[]);
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        w.engine
            .upsert_agent(
                switchboard_routing::AgentProfile::new(
                    *id,
                    vec![switchboard_routing::SkillLevel::new("s", 1)],
                ),
                t(0),
            )
            .expect("agent");
        let _ = i;
    }
    for (i, id) in ["c", "b", "a"].iter().enumerate() {
        w.engine.login(&(*id).into(), true, t(i as u64)).expect("login");
    }
    let mut got = Vec::new();
    for round in 0..3 {
        let id = format!("r{round}");
        w.call("q", &id, 0, t(10 + round));
        let agent = w.agent_of(&id).expect("offered");
        w.finish(&id, t(10 + round));
        got.push(agent);
    }
    for round in 3..7 {
        let id = format!("r{round}");
        w.call("q", &id, 0, t(10 + round));
        got.push(w.agent_of(&id).expect("offered"));
        w.finish(&id, t(10 + round));
    }
    assert_eq!(got, ["a", "b", "c", "a", "b", "c", "a"]);
}

#[test]
fn fewest_calls_picks_the_agent_with_fewest_answered_calls() {
    let w = world(SelectionPolicy::FewestCalls, &[("a", 1), ("b", 1), ("c", 1)]);
    // a answers two calls, c one, b none (b is not ready meanwhile).
    w.engine.set_not_ready(&"b".into(), "break", t(5)).expect("nr");
    assert_eq!(route(&w, 2, "w", 10), ["a", "c"]);
    finish_all(&w, &["w0", "w1"], 11);
    assert_eq!(route(&w, 1, "v", 12), ["a"]);
    finish_all(&w, &["v0"], 13);
    w.engine.set_ready(&"b".into(), t(14)).expect("ready");
    // Counts: a 2, c 1, b 0. b is idle the shortest but has the fewest calls.
    assert_eq!(route(&w, 3, "x", 20), ["b", "c", "a"]);
}

#[test]
fn least_talk_time_picks_the_agent_with_least_talk() {
    let w = world(SelectionPolicy::LeastTalkTime, &[("a", 1), ("b", 1), ("c", 1)]);
    assert_eq!(route(&w, 3, "x", 10), ["a", "b", "c"]);
    for (call, talk_s) in [("x0", 100), ("x1", 30), ("x2", 60)] {
        w.engine.call_answered(&call.into(), t(10)).expect("answer");
        w.engine.call_ended(&call.into(), t(10 + talk_s)).expect("end");
    }
    assert_eq!(route(&w, 3, "y", 200), ["b", "c", "a"]);
    assert_eq!(w.engine.agent(&"a".into()).expect("a").counters.talk_ms, 100_000);
}

#[test]
fn most_skilled_picks_the_highest_proficiency_then_longest_idle() {
    let w = world(SelectionPolicy::MostSkilled, &[("a", 2), ("b", 5), ("c", 3), ("d", 5)]);
    assert_eq!(route(&w, 5, "x", 10), ["b", "d", "c", "a", "queued"]);
}

#[test]
fn random_is_uniform_and_repeatable_for_a_seed() {
    let run = || {
        let w = world(SelectionPolicy::Random, &[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let mut picks = Vec::new();
        for i in 0..4000u64 {
            let id = format!("x{i}");
            w.call("q", &id, 0, t(10 + i));
            picks.push(w.agent_of(&id).expect("offered"));
            w.finish(&id, t(10 + i));
        }
        picks
    };
    let first = run();
    assert_eq!(first, run(), "same seed, same choices");
    for agent in ["a", "b", "c", "d"] {
        let share = first.iter().filter(|p| *p == agent).count() as f64 / first.len() as f64;
        // 4000 draws at p = 0.25: the standard deviation of the share is 0.0068.
        assert!((share - 0.25).abs() < 0.03, "{agent} got {share:.3}");
    }
}
