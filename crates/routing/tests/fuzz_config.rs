//! Fuzz targets of the routing crate's parsers: the contact-center TOML
//! ([`RoutingConfig::from_toml`]: queues, agents, calendars and holidays, regions, entry points,
//! plans of every node kind) and the customer CSV ([`CustomerStore::from_csv`]). An input that
//! parses is then driven through a [`Router`]: calls on every entry point at ordinary and absurd
//! times, digits, timers far in the future, so plan graphs (cycles included) are walked too.
//!
//! Properties per case: no panic, no hang, peak heap under the cap (see `fuzz_support`).
//! Long run: `SWITCHBOARD_FUZZ_CASES=100000 cargo test -p switchboard-routing --test
//! fuzz_config --release -- --nocapture`.

mod fuzz_support;

use std::sync::Arc;

use fuzz_support::{check_bounded, config, mutated, PeakLog};
use proptest::prelude::*;
use switchboard_routing::plan::{Action, CustomerStore, IncomingCall, Router, RoutingConfig};
use switchboard_routing::{NoObserver, Timestamp};

/// A plan with every node kind, small enough that mutations hit each part often.
const ALL_NODES: &str = r#"
[center]
name = "fuzz"
time_zone = "America/New_York"
seed = 7

[[queues]]
id = "q1"
skills = { a = 1 }
max_waiting = 3
max_wait_s = 60
wrap_up_s = 5
priority_aging_s = 10

[[queues]]
id = "q2"
skills = { b = 2 }
policy = "random"

[[agents]]
id = "x"
skills = { a = 5, b = 2, "lang:en" = 3 }

[calendars.c]
mon = ["00:00-24:00"]
sun = ["22:00-24:00"]
holidays = { "2026-12-25" = "Christmas" }
special_days = { "2026-12-24" = ["08:00-12:00"] }

[regions]
"+1" = "us"

[[entry_points]]
number = "+1"
plan = "p"

[plans.p]
start = "menu"

[plans.p.nodes.menu]
type = "menu"
prompt = "m"
options = { "1" = "collect", "2" = "split", "3" = "rr", "4" = "agent", "9" = "menu" }
timeout_s = 5
retries = 3
on_failure = "tod"

[plans.p.nodes.collect]
type = "collect"
prompt = "acct"
attribute = "account"
min_digits = 2
max_digits = 4
next = "crm"
on_failure = "menu"

[plans.p.nodes.crm]
type = "crm"
key = "caller"
copy = ["tier"]
next = "prio"
on_missing = "geo"

[plans.p.nodes.prio]
type = "priority"
rules = [{ when = "tier == 'gold'", raise = 10 }, { when = "has(account)", set = 3 }]
next = "last"

[plans.p.nodes.last]
type = "last_agent"
queue = "q1"
lookback_s = 3600
wait_s = 10
next = "queue"

[plans.p.nodes.geo]
type = "geographic"
regions = { us = "queue" }
default = "menu"

[plans.p.nodes.tod]
type = "time_of_day"
calendar = "c"
open = "queue"
closed = "bye"
holiday = "vm"

[plans.p.nodes.split]
type = "percentage"
branches = [{ weight = 1, next = "queue" }, { weight = 99, next = "menu" }]

[plans.p.nodes.rr]
type = "round_robin"
targets = ["queue", "q2"]

[plans.p.nodes.agent]
type = "agent"
agent = "x"
queue = "q1"
wait_s = 5
fallback = "queue"

[plans.p.nodes.queue]
type = "queue"
queue = "q1"
skills = { "lang:${language}" = 3 }
escalation = [{ after_s = 10, skills = { "lang:${language}" = 1 } }, { after_s = 20 }]
overflow = [
    { when = "no_agents_logged_in", to = "vm" },
    { when = "queue_length > 2", to = "xfer" },
    { when = "waited_s > 30", to = "menu" },
    { when = "estimated_wait_s > 900", to = "vm" },
    { when = "no_qualified_agent", to = "q2" },
]

[plans.p.nodes.q2]
type = "queue"
queue = "q2"
overflow = [{ when = "no_agents_logged_in", to = "vm" }]

[plans.p.nodes.xfer]
type = "transfer"
number = "+100"

[plans.p.nodes.vm]
type = "voicemail"
mailbox = "box"

[plans.p.nodes.bye]
type = "hangup"
reason = "closed"
"#;

static CONFIG_SEEDS: &[&[u8]] =
    &[include_bytes!("../../../deploy/examples/contact-center.toml"), ALL_NODES.as_bytes()];

static CUSTOMER_SEEDS: &[&[u8]] = &[
    include_bytes!("../../../deploy/examples/customers.csv"),
    b"customer_id,phone,tier\nC1,+1;+2;+3,gold\nC2,,silver\n\"C3\",\"+4\",\"a,b\"\n",
];

/// Times a call may arrive at: the epoch, now-ish, a holiday, a DST change, the far future.
const CALL_TIMES_MS: &[u64] = &[
    0,
    1_795_000_000_000,
    1_798_200_000_000,
    1_806_000_000_000,
    253_402_300_799_000,
    u64::MAX / 2,
    u64::MAX,
];

/// Parses a configuration and, if it is valid, routes calls through every entry point.
fn drive_config(bytes: Vec<u8>) {
    let text = String::from_utf8_lossy(&bytes);
    let Ok(config) = RoutingConfig::from_toml(&text) else { return };
    let entry_numbers: Vec<String> = config.entry_points.keys().cloned().collect();
    let agents: Vec<_> = config.agents.iter().map(|a| a.id.clone()).collect();
    let Ok(router) = Router::new(config, CustomerStore::default(), Arc::new(NoObserver)) else {
        return;
    };
    let mut serial = 0;
    for &at_ms in CALL_TIMES_MS {
        let now = Timestamp::from_millis(at_ms);
        for agent in &agents {
            let _ = router.engine().login(agent, true, now);
        }
        for number in &entry_numbers {
            for caller in ["+15551230000", "+33612345678", ""] {
                serial += 1;
                let call = IncomingCall {
                    id: format!("c{serial}").into(),
                    caller: caller.into(),
                    dialed: number.clone(),
                    customer_id: Some("C-1001".into()),
                    attributes: [("tier".into(), "gold".into()), ("language".into(), "en".into())]
                        .into_iter()
                        .collect(),
                };
                let id = call.id.clone();
                let Ok(mut decision) = router.start_call(call, now) else { continue };
                // Answer menus a few times: with each digit, then with silence (timeouts).
                for digits in [Some("1"), Some("2"), Some("12345"), Some("9"), None, None] {
                    if !matches!(decision.action, Action::Collect { .. }) {
                        break;
                    }
                    match router.submit_digits(&id, digits, now) {
                        Ok(next) => decision = next,
                        Err(_) => break,
                    }
                }
            }
        }
        // Fire queue timeouts and escalations, which resume plans.
        let _ = router.advance(now.plus(std::time::Duration::from_secs(3_600)));
    }
    let _ = router.advance(Timestamp::from_millis(u64::MAX));
    assert!(router.engine().audit().is_empty(), "engine audit: {:?}", router.engine().audit());
}

fn drive_customers(bytes: Vec<u8>) {
    let text = String::from_utf8_lossy(&bytes);
    if let Ok(store) = CustomerStore::from_csv(&text) {
        let _ = store.by_phone("+1");
        let _ = store.by_id("C1");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn routing_config_survives_hostile_toml(input in mutated(CONFIG_SEEDS)) {
        thread_local!(static LOG: std::cell::RefCell<PeakLog> =
            std::cell::RefCell::new(PeakLog::new("routing config")));
        let peak = check_bounded("RoutingConfig::from_toml", &input, drive_config)?;
        LOG.with(|log| log.borrow_mut().record(peak));
    }

    #[test]
    fn customer_csv_survives_hostile_input(input in mutated(CUSTOMER_SEEDS)) {
        let _ = check_bounded("CustomerStore::from_csv", &input, drive_customers)?;
    }
}

/// The seeds themselves are valid and exercise the drivers' success paths (so the fuzz targets
/// do not silently test only the error paths).
#[test]
fn seeds_parse_and_route() {
    let _serial = fuzz_support::serial();
    for seed in CONFIG_SEEDS {
        let text = std::str::from_utf8(seed).expect("utf-8 seed");
        let config = RoutingConfig::from_toml(text).unwrap_or_else(|e| panic!("{:#?}", e.problems));
        assert!(!config.plans.is_empty());
        drive_config(seed.to_vec());
    }
    for seed in CUSTOMER_SEEDS {
        let text = std::str::from_utf8(seed).expect("utf-8 seed");
        assert!(!CustomerStore::from_csv(text).expect("customers").is_empty());
    }
}

/// Inputs the fuzz targets found or that guard a bound; each must keep passing all properties.
#[test]
fn regressions() {
    let deep_array = format!("x = {}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_table = format!("x = {}1{}", "{a=".repeat(5_000), "}".repeat(5_000));
    let cases: Vec<String> = vec![
        deep_array,
        deep_table,
        ALL_NODES.replace("timeout_s = 5", "timeout_s = 18446744073709551615"),
        ALL_NODES.replace("retries = 3", "retries = 4294967295"),
        ALL_NODES.replace("lookback_s = 3600", "lookback_s = 9223372036854775807"),
        ALL_NODES.replace("max_wait_s = 60", "max_wait_s = 1e308"),
        ALL_NODES.replace("max_waiting = 3", "max_waiting = 18446744073709551615"),
        ALL_NODES.replace("weight = 99", "weight = 18446744073709551615"),
        ALL_NODES.replace("max_digits = 4", "max_digits = 4294967295"),
        ALL_NODES.replace("after_s = 20", "after_s = 18446744073709551615"),
        ALL_NODES.replace("\"2026-12-25\"", "\"+262143-12-31\""),
        ALL_NODES.replace("\"00:00-24:00\"", "\"00:00-99:99\""),
        // A plan that is one cycle of nodes without input.
        ALL_NODES
            .replace("default = \"menu\"", "default = \"geo\"")
            .replace("open = \"queue\"", "open = \"tod\""),
    ];
    for case in cases {
        let peak = check_bounded("regression", case.as_bytes(), drive_config)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(peak <= fuzz_support::MAX_PEAK_HEAP_BYTES);
    }
}

/// A false alarm of the first full-workspace run, kept: this 64 KiB file (850 repeats of one
/// inline-table line) showed a 218 MB peak because the mutator, generating the next input on
/// another test thread, built 5,000 copies of a 64 KiB line; alone it stays far under the cap.
#[test]
fn repeated_inline_tables_stay_under_the_cap() {
    let input = include_bytes!("fuzz_inputs/repeated-inline-tables.toml");
    check_bounded("repeated inline tables", input, drive_config).unwrap_or_else(|e| panic!("{e}"));
}
