//! The simulator against queueing theory: Erlang C, Erlang A, priority (Cobham's formula) and
//! overflow. Seeded, so every run gives the same numbers; horizons are sized so each test runs
//! in a few seconds in the test profile while the confidence intervals stay tight enough to
//! tell a wrong model from a right one (a 5 % error in service level falls outside them).

use switchboard_routing::plan::{CustomerStore, RoutingConfig};
use switchboard_sim::{
    read_forecast, simulate, HandleModel, Options, Patience, Report, Scenario, Shape, Staffing,
    SummaryRow, Traffic,
};
use switchboard_wfm::erlang::erlang_c;

/// A forecast of `hours` hours of half-hour intervals with `calls` per interval for each queue.
fn forecast(queues: &[(&str, f64)], hours: u32, aht_s: f64) -> String {
    let mut text = String::from("interval_start,queue,calls,aht_s,method\n");
    for i in 0..hours * 2 {
        let t = chrono::DateTime::from_timestamp(1_795_000_000 + i64::from(i) * 1800, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        for (queue, calls) in queues {
            text.push_str(&format!("{t},{queue},{calls},{aht_s},test\n"));
        }
    }
    text
}

fn run(config: &str, forecast_csv: &str, agents: u32, patience: Patience, reps: u32) -> Report {
    let config = RoutingConfig::from_toml(config).expect("valid configuration");
    let scenario = Scenario {
        config,
        customers: CustomerStore::default(),
        traffic: Traffic::Forecast(read_forecast("forecast.csv", forecast_csv).expect("forecast")),
        staffing: Staffing::Fixed(agents),
        handle: HandleModel::Shape(Shape::Exponential),
        patience,
        interval_ms: None,
    };
    simulate(&scenario, &Options { seed: 2026, replications: reps }, &mut |_| {}).expect("runs")
}

fn row<'a>(report: &'a Report, queue: &str) -> &'a SummaryRow {
    report.summary.iter().find(|r| r.queue == queue).expect("queue in summary")
}

/// Asserts that `expected` lies in the 95 % confidence interval of `name`, and that the
/// interval is narrow enough to mean something.
fn check_within(
    name: &str,
    estimate: Option<switchboard_sim::Estimate>,
    expected: f64,
    max_width: f64,
) {
    let e = estimate.unwrap_or_else(|| panic!("{name}: no estimate"));
    assert!(e.ci95 <= max_width, "{name}: interval ±{:.4} wider than ±{max_width}", e.ci95);
    assert!(
        e.contains(expected),
        "{name}: simulated {:.4} ± {:.4} does not contain the theory's {expected:.4}",
        e.mean,
        e.ci95
    );
}

const ONE_QUEUE: &str = r#"
    [[queues]]
    id = "support"
    skills = { support = 1 }
    service_level_s = 20
    wrap_up_s = 0

    [[entry_points]]
    number = "+18005550100"
    plan = "main"

    [plans.main]
    start = "support"

    [plans.main.nodes.support]
    type = "queue"
    queue = "support"
"#;

#[test]
fn single_queue_matches_erlang_c() {
    // 100 calls per 30 minutes, AHT 180 s, 14 agents: Erlang C says SL(20 s) = 0.888.
    let report =
        run(ONE_QUEUE, &forecast(&[("support", 100.0)], 60, 180.0), 14, Patience::Infinite, 8);
    let support = row(&report, "support");
    let erlang = support.erlang.expect("prediction");
    assert_eq!(erlang.model, "erlang_c");
    assert_eq!(erlang.agents, 14);
    assert!((erlang.service_level - 0.888).abs() < 0.0005, "{}", erlang.service_level);
    let m = &support.metrics;
    check_within("service level", m.service_level, erlang.service_level, 0.02);
    check_within("P(wait)", m.p_wait, erlang.p_wait, 0.03);
    check_within("ASA", m.asa_s, erlang.asa_s, 2.0);
    check_within("occupancy", m.occupancy, erlang.occupancy, 0.02);
    assert_eq!(m.abandoned.map(|e| e.mean), Some(0.0));
    // Every call of the forecast went through the plan into the queue.
    assert_eq!(m.offered.map(|e| e.mean), Some(support.arrived));
}

#[test]
fn exponential_patience_matches_erlang_a() {
    // Fewer agents than Erlang C would want, so abandonment matters: 12 agents, mean
    // patience 120 s.
    let report = run(
        ONE_QUEUE,
        &forecast(&[("support", 100.0)], 60, 180.0),
        12,
        Patience::Mean { shape: Shape::Exponential, mean_s: 120.0 },
        8,
    );
    let support = row(&report, "support");
    let erlang = support.erlang.expect("prediction");
    assert_eq!(erlang.model, "erlang_a");
    let m = &support.metrics;
    check_within("abandon rate", m.abandon_rate, erlang.p_abandon, 0.02);
    check_within("service level", m.service_level, erlang.service_level, 0.03);
    check_within("P(wait)", m.p_wait, erlang.p_wait, 0.03);
    check_within("ASA", m.asa_s, erlang.asa_s, 3.0);
    assert!(m.abandon_rate.map_or(0.0, |e| e.mean) > 0.02, "abandonment should be visible");
}

#[test]
fn priority_queue_is_served_first_as_cobham_predicts() {
    // Two queues on the same agents; the plan raises the VIP queue's calls to priority 10
    // (no aging: strict non-preemptive priority). Cobham's formula for M/M/c with classes:
    // W_k = C(c, a) / (c mu - lambda) * (1 - rho) / ((1 - sigma_{k-1}) (1 - sigma_k)).
    let config = r#"
        [[queues]]
        id = "vip"
        skills = { support = 1 }
        service_level_s = 20
        wrap_up_s = 0

        [[queues]]
        id = "standard"
        skills = { support = 1 }
        service_level_s = 20
        wrap_up_s = 0

        [[entry_points]]
        number = "+18005550101"
        plan = "vip"

        [[entry_points]]
        number = "+18005550102"
        plan = "standard"

        [plans.vip]
        start = "q"

        [plans.vip.nodes.q]
        type = "queue"
        queue = "vip"
        priority = 10

        [plans.standard]
        start = "q"

        [plans.standard.nodes.q]
        type = "queue"
        queue = "standard"
    "#;
    let (vip, standard, aht, agents) = (30.0, 70.0, 180.0, 14u32);
    let report = run(
        config,
        &forecast(&[("vip", vip), ("standard", standard)], 60, aht),
        agents,
        Patience::Infinite,
        8,
    );
    let lambda = (vip + standard) / 1800.0;
    let mu = 1.0 / aht;
    let a = lambda / mu;
    let c = f64::from(agents);
    let rho = a / c;
    let wait_all = erlang_c(a, agents) / (c * mu - lambda);
    let sigma_vip = vip / 1800.0 / mu / c;
    let w_vip = wait_all * (1.0 - rho) / (1.0 - sigma_vip);
    let w_standard = wait_all * (1.0 - rho) / ((1.0 - sigma_vip) * (1.0 - rho));
    let vip_row = row(&report, "vip");
    let standard_row = row(&report, "standard");
    check_within("VIP ASA", vip_row.metrics.asa_s, w_vip, 1.0);
    check_within("standard ASA", standard_row.metrics.asa_s, w_standard, 3.0);
    // And the ordering a supervisor expects.
    // And the ordering a supervisor expects: VIP callers still wait when every agent is busy
    // (non-preemptive), but only for the next agent to free up.
    let sl = |r: &SummaryRow| r.metrics.service_level.map_or(0.0, |e| e.mean);
    let asa = |r: &SummaryRow| r.metrics.asa_s.map_or(0.0, |e| e.mean);
    assert!(sl(vip_row) > sl(standard_row) + 0.03, "{report}");
    assert!(asa(vip_row) * 2.0 < asa(standard_row), "{report}");
}

#[test]
fn overflow_after_a_wait_limit_moves_calls_to_the_backup_queue() {
    // Primary agents are too few; after 60 s a call leaves for the backup team. Every call
    // answered in primary waited at most 60 s, and every call that timed out entered backup.
    let config = r#"
        [[queues]]
        id = "primary"
        skills = { primary = 1 }
        service_level_s = 60
        wrap_up_s = 0

        [[queues]]
        id = "backup"
        skills = { backup = 1 }
        service_level_s = 20
        wrap_up_s = 0

        [[agents]]
        id = "p1"
        skills = { primary = 1 }

        [[entry_points]]
        number = "+18005550100"
        plan = "main"

        [plans.main]
        start = "primary"

        [plans.main.nodes.primary]
        type = "queue"
        queue = "primary"
        overflow = [{ when = "waited_s > 60", to = "backup" }]

        [plans.main.nodes.backup]
        type = "queue"
        queue = "backup"
    "#;
    let routing = RoutingConfig::from_toml(config).expect("valid configuration");
    let mut shifts = String::from("agent,start,end,skills\n");
    let start = "2026-11-17T08:00:00Z";
    let end = "2026-11-17T20:00:00Z";
    for i in 0..8 {
        shifts.push_str(&format!("p{i},{start},{end},primary=1\n"));
    }
    for i in 0..6 {
        shifts.push_str(&format!("b{i},{start},{end},backup=1\n"));
    }
    let mut text = String::from("interval_start,queue,calls,aht_s\n");
    for i in 0..24 {
        let t = chrono::DateTime::parse_from_rfc3339(start).expect("time")
            + chrono::TimeDelta::minutes(30 * i);
        text.push_str(&format!("{},primary,100,180\n", t.to_rfc3339()));
    }
    let scenario = Scenario {
        config: routing,
        customers: CustomerStore::default(),
        traffic: Traffic::Forecast(read_forecast("forecast.csv", &text).expect("forecast")),
        staffing: Staffing::Shifts(
            switchboard_sim::read_shifts("shifts.csv", &shifts).expect("shifts"),
        ),
        handle: HandleModel::Shape(Shape::Exponential),
        patience: Patience::Infinite,
        interval_ms: None,
    };
    let report =
        simulate(&scenario, &Options { seed: 9, replications: 4 }, &mut |_| {}).expect("runs");
    let primary = row(&report, "primary");
    let backup = row(&report, "backup");
    // 10 Erlangs on 8 agents: the queue would grow for ever without the overflow.
    assert!(primary.timed_out > 100.0, "timed out {}", primary.timed_out);
    assert_eq!(primary.metrics.service_level.map(|e| e.mean), Some(1.0));
    assert_eq!(backup.metrics.offered.map(|e| e.mean), Some(primary.timed_out));
    let answered = primary.metrics.answered.map_or(0.0, |e| e.mean)
        + backup.metrics.answered.map_or(0.0, |e| e.mean);
    // Every call is answered by one team or the other, except those still waiting when the
    // shifts end at 20:00.
    assert_eq!(answered + report.stranded, primary.arrived, "{report}");
    assert!(report.stranded < 5.0, "{report}");
    assert!(primary.metrics.occupancy.map_or(0.0, |e| e.mean) > 0.9, "{report}");
}
