//! Routing plans, one module per node kind, with exact expected decisions and traces, and a
//! property test that every well-formed plan terminates for every input.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use switchboard_routing::plan::{
    Action, CustomerStore, Decision, IncomingCall, Router, RoutingConfig,
};
use switchboard_routing::{CallId, NoObserver, Timestamp};

const QUEUES: &str = r#"
[[queues]]
id = "billing"
skills = { billing = 1 }
wrap_up_s = 0

[[queues]]
id = "technical"
skills = { technical = 1 }
wrap_up_s = 0
"#;

/// Unix milliseconds of an RFC 3339 time.
fn at(rfc3339: &str) -> Timestamp {
    let t = DateTime::parse_from_rfc3339(rfc3339).expect("rfc3339");
    Timestamp::from_millis(t.timestamp_millis() as u64)
}

/// A router for `QUEUES` plus `plan` (a TOML fragment defining `[plans.p]` with entry +100).
fn router_with(plan: &str, customers: &str) -> Router {
    let text = format!("{QUEUES}\n[[entry_points]]\nnumber = \"+100\"\nplan = \"p\"\n{plan}");
    let config = RoutingConfig::from_toml(&text).unwrap_or_else(|e| panic!("{:#?}", e.problems));
    let customers = if customers.is_empty() {
        CustomerStore::default()
    } else {
        CustomerStore::from_csv(customers).expect("customers")
    };
    Router::new(config, customers, Arc::new(NoObserver)).expect("router")
}

fn call(id: &str, caller: &str) -> IncomingCall {
    IncomingCall {
        id: id.into(),
        caller: caller.into(),
        dialed: "+100".into(),
        ..Default::default()
    }
}

fn agent(router: &Router, id: &str, skills: &[(&str, u8)], now: Timestamp) {
    let skills = skills.iter().map(|(s, l)| switchboard_routing::SkillLevel::new(*s, *l)).collect();
    router
        .engine()
        .upsert_agent(switchboard_routing::AgentProfile::new(id, skills), now)
        .expect("agent");
    router.engine().login(&id.into(), true, now).expect("login");
}

/// The decision's action, condensed: `queue billing`, `connect ana`, `collect menu`, ...
fn short(d: &Decision) -> String {
    match &d.action {
        Action::Connect { offer } => format!("connect {}", offer.agent),
        Action::Queued { queue, .. } => format!("queue {queue}"),
        Action::Collect { prompt, .. } => format!("collect {prompt}"),
        Action::Transfer { number } => format!("transfer {number}"),
        Action::Voicemail { mailbox } => format!("voicemail {mailbox}"),
        Action::Announce { prompt } => format!("announce {prompt}"),
        Action::Hangup { reason } => format!("hangup {reason}"),
        Action::Refused { queue, reason } => format!("refused {queue}: {reason}"),
    }
}

fn notes(d: &Decision) -> Vec<String> {
    d.trace.iter().map(|s| format!("{}: {}", s.node, s.note)).collect()
}

const NOON: &str = "2026-12-01T12:00:00+01:00";

mod ivr_menu {
    use super::*;

    const PLAN: &str = r#"
[plans.p]
start = "menu"
[plans.p.nodes.menu]
type = "menu"
prompt = "main"
options = { "1" = "billing", "2" = "account" }
retries = 1
on_failure = "vm"
[plans.p.nodes.account]
type = "collect"
prompt = "enter-account"
attribute = "account"
min_digits = 4
max_digits = 6
retries = 0
next = "billing"
on_failure = "vm"
[plans.p.nodes.billing]
type = "queue"
queue = "billing"
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "main"
"#;

    #[test]
    fn a_valid_key_leads_on() {
        let r = router_with(PLAN, "");
        let d = r.start_call(call("c1", "+1"), at(NOON)).expect("start");
        assert_eq!(short(&d), "collect main");
        let d = r.submit_digits(&"c1".into(), Some("1"), at(NOON)).expect("digits");
        assert_eq!(short(&d), "queue billing");
        assert_eq!(
            notes(&d),
            [
                "menu: waiting for input",
                "menu: pressed 1 -> billing",
                "billing: enter queue billing"
            ]
        );
    }

    #[test]
    fn an_invalid_key_retries_then_exhausts() {
        let r = router_with(PLAN, "");
        r.start_call(call("c1", "+1"), at(NOON)).expect("start");
        let d = r.submit_digits(&"c1".into(), Some("7"), at(NOON)).expect("digits");
        assert_eq!(short(&d), "collect main", "one retry: the prompt plays again");
        let d = r.submit_digits(&"c1".into(), None, at(NOON)).expect("timeout");
        assert_eq!(short(&d), "voicemail main");
        assert_eq!(
            notes(&d),
            [
                "menu: waiting for input",
                "menu: invalid input \"7\", 1 retry left",
                "menu: no input, no retries left -> vm",
                "vm: voicemail main"
            ]
        );
        assert!(
            r.submit_digits(&"c1".into(), Some("1"), at(NOON)).is_err(),
            "the call left the IVR"
        );
    }

    #[test]
    fn digits_are_collected_into_an_attribute() {
        let r = router_with(PLAN, "");
        r.start_call(call("c1", "+1"), at(NOON)).expect("start");
        let d = r.submit_digits(&"c1".into(), Some("2"), at(NOON)).expect("menu");
        assert_eq!(short(&d), "collect enter-account");
        assert!(
            r.submit_digits(&"c1".into(), Some("12a4"), at(NOON)).is_err(),
            "bad characters are refused"
        );
        let d = r.submit_digits(&"c1".into(), Some("123456"), at(NOON)).expect("collect");
        assert_eq!(short(&d), "queue billing");
        assert_eq!(notes(&d)[3], "account: collected account=123456");
    }

    #[test]
    fn too_few_digits_without_retries_fail_over() {
        let r = router_with(PLAN, "");
        r.start_call(call("c1", "+1"), at(NOON)).expect("start");
        r.submit_digits(&"c1".into(), Some("2"), at(NOON)).expect("menu");
        let d = r.submit_digits(&"c1".into(), Some("12"), at(NOON)).expect("collect");
        assert_eq!(short(&d), "voicemail main");
    }
}

mod time_of_day {
    use super::*;

    const PLAN: &str = r#"
[calendars.hours]
time_zone = "Europe/Paris"
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
wed = ["08:00-18:00"]
thu = ["08:00-18:00"]
fri = ["08:00-18:00"]
sun = ["02:00-04:00"]
holidays = { "2026-12-25" = "Christmas" }
special_days = { "2026-12-24" = ["08:00-12:00"] }
[plans.p]
start = "tod"
[plans.p.nodes.tod]
type = "time_of_day"
calendar = "hours"
open = "open"
closed = "closed"
holiday = "holiday"
[plans.p.nodes.open]
type = "announce"
prompt = "open"
[plans.p.nodes.closed]
type = "announce"
prompt = "closed"
[plans.p.nodes.holiday]
type = "announce"
prompt = "holiday"
"#;

    fn check(when: &str, expect: &str) {
        let r = router_with(PLAN, "");
        let d = r.start_call(call("c", "+1"), at(when)).expect("start");
        assert_eq!(short(&d), format!("announce {expect}"), "at {when}: {:?}", notes(&d));
    }

    #[test]
    fn weekly_hours_in_local_time() {
        check("2026-12-01T07:59:00+01:00", "closed");
        check("2026-12-01T08:00:00+01:00", "open");
        check("2026-12-01T17:59:59+01:00", "open");
        check("2026-12-01T18:00:00+01:00", "closed");
        check("2026-12-05T10:00:00+01:00", "closed"); // Saturday
    }

    #[test]
    fn holiday_on_a_weekday_and_special_day() {
        check("2026-12-25T10:00:00+01:00", "holiday"); // a Friday
        check("2026-12-24T11:00:00+01:00", "open");
        check("2026-12-24T13:00:00+01:00", "closed"); // short day
    }

    #[test]
    fn daylight_saving_changes_move_nothing_in_local_time() {
        // Summer: Paris is UTC+2, so 06:30 UTC is 08:30 local.
        check("2026-07-01T06:30:00Z", "open");
        check("2026-07-01T05:30:00Z", "closed");
        // Night of 29 March 2026: 02:00 local jumps to 03:00. 01:30 UTC is 03:30 CEST: open.
        check("2026-03-29T01:30:00Z", "open");
        check("2026-03-29T00:30:00Z", "closed"); // 01:30 CET
                                                 // Night of 25 October 2026: 03:00 CEST falls back to 02:00 CET; both 02:30s are open.
        check("2026-10-25T00:30:00Z", "open"); // 02:30 CEST
        check("2026-10-25T01:30:00Z", "open"); // 02:30 CET
        check("2026-10-25T03:00:00Z", "closed"); // 04:00 CET
    }

    #[test]
    fn the_trace_says_why() {
        let r = router_with(PLAN, "");
        let d = r.start_call(call("c", "+1"), at("2026-12-25T10:00:00+01:00")).expect("start");
        assert_eq!(
            notes(&d)[0],
            "tod: calendar hours: closed (holiday Christmas, 2026-12-25 10:00 CET)"
        );
    }
}

mod geographic {
    use super::*;

    const PLAN: &str = r#"
[regions]
"+33" = "fr"
"+331" = "paris"
"+44" = "uk"
[plans.p]
start = "geo"
[plans.p.nodes.geo]
type = "geographic"
regions = { fr = "fr", paris = "paris", uk = "uk" }
default = "other"
[plans.p.nodes.fr]
type = "transfer"
number = "fr"
[plans.p.nodes.paris]
type = "transfer"
number = "paris"
[plans.p.nodes.uk]
type = "transfer"
number = "uk"
[plans.p.nodes.other]
type = "transfer"
number = "other"
"#;

    #[test]
    fn longest_prefix_wins_and_unknown_regions_take_the_default() {
        let r = router_with(PLAN, "");
        let check = |caller: &str, expect: &str| {
            let d = r.start_call(call(caller, caller), at(NOON)).expect("start");
            assert_eq!(short(&d), format!("transfer {expect}"), "{caller}");
        };
        check("+33612345678", "fr");
        check("+33112345678", "paris");
        check("+447700900123", "uk");
        check("+12025550123", "other");
        check("anonymous", "other");
    }
}

mod percentage {
    use super::*;

    #[test]
    fn ten_thousand_calls_split_within_half_a_percent() {
        let r = router_with(
            r#"
[plans.p]
start = "split"
[plans.p.nodes.split]
type = "percentage"
branches = [{ weight = 70, next = "a" }, { weight = 25, next = "b" }, { weight = 5, next = "c" }]
[plans.p.nodes.a]
type = "transfer"
number = "a"
[plans.p.nodes.b]
type = "transfer"
number = "b"
[plans.p.nodes.c]
type = "transfer"
number = "c"
"#,
            "",
        );
        let mut counts = std::collections::BTreeMap::new();
        for i in 0..10_000 {
            let d = r.start_call(call(&format!("c{i}"), "+1"), at(NOON)).expect("start");
            *counts.entry(short(&d)).or_insert(0) += 1;
        }
        for (branch, weight) in [("transfer a", 70.0), ("transfer b", 25.0), ("transfer c", 5.0)] {
            let share = f64::from(counts[branch]) / 100.0;
            assert!((share - weight).abs() <= 0.5, "{branch}: {share}% for weight {weight}%");
        }
    }

    #[test]
    fn round_robin_split_takes_targets_in_turn() {
        let r = router_with(
            r#"
[plans.p]
start = "rr"
[plans.p.nodes.rr]
type = "round_robin"
targets = ["a", "b", "c"]
[plans.p.nodes.a]
type = "transfer"
number = "a"
[plans.p.nodes.b]
type = "transfer"
number = "b"
[plans.p.nodes.c]
type = "transfer"
number = "c"
"#,
            "",
        );
        let got: Vec<String> = (0..6)
            .map(|i| short(&r.start_call(call(&format!("c{i}"), "+1"), at(NOON)).expect("start")))
            .collect();
        assert_eq!(
            got,
            ["transfer a", "transfer b", "transfer c", "transfer a", "transfer b", "transfer c"]
        );
    }
}

mod priority_and_crm {
    use super::*;

    const PLAN: &str = r#"
[plans.p]
start = "crm"
[plans.p.nodes.crm]
type = "crm"
key = "caller"
copy = ["tier", "language"]
next = "prio"
on_missing = "prio"
[plans.p.nodes.prio]
type = "priority"
rules = [{ when = "tier == 'gold'", raise = 10 }, { when = "tier == 'platinum'", set = 50 }, { when = "language == 'fr'", raise = 1 }]
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
"#;
    const CUSTOMERS: &str =
        "customer_id,phone,tier,language\nC1,+331,gold,fr\nC2,+442,platinum,en\n";

    #[test]
    fn crm_fields_feed_priority_rules() {
        let r = router_with(PLAN, CUSTOMERS);
        let d = r.start_call(call("c1", "+331"), at(NOON)).expect("start");
        assert_eq!(
            notes(&d),
            [
                "crm: customer C1 found by caller \"+331\": tier=gold, language=fr",
                "prio: priority 0 -> 11 (Equals(\"tier\", \"gold\"): raise 10, Equals(\"language\", \"fr\"): raise 1)",
                "q: enter queue billing",
            ]
        );
        let d = r.start_call(call("c2", "+442"), at(NOON)).expect("start");
        assert!(notes(&d)[1].contains("priority 0 -> 50"), "{:?}", notes(&d));
        let d = r.start_call(call("c3", "+999"), at(NOON)).expect("start");
        assert_eq!(
            notes(&d),
            [
                "crm: no customer for caller \"+999\"",
                "prio: no rule matched; priority stays 0",
                "q: enter queue billing"
            ]
        );
        // Priorities order the queue: platinum, gold, then the unknown caller.
        let waiting = r.engine().queue_snapshot(&"billing".into()).expect("q").waiting;
        assert_eq!(waiting, [CallId::from("c2"), "c1".into(), "c3".into()]);
    }
}

mod last_agent {
    use super::*;

    const PLAN: &str = r#"
[plans.p]
start = "last"
[plans.p.nodes.last]
type = "last_agent"
queue = "billing"
lookback_s = 3600
wait_s = 20
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
"#;

    #[test]
    fn the_last_agent_gets_the_call_when_free() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "ana", &[("billing", 1)], t0);
        agent(&r, "ben", &[("billing", 1)], t0.plus(Duration::from_secs(1)));
        r.remember_last_agent("+331", "ben".into(), t0);
        let d = r.start_call(call("c1", "+331"), t0.plus(Duration::from_secs(5))).expect("start");
        assert_eq!(short(&d), "connect ben", "ana is idle longer, but ben served this caller");
    }

    #[test]
    fn busy_last_agent_then_timeout_falls_through() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "ana", &[("billing", 1)], t0);
        agent(&r, "ben", &[("billing", 1)], t0);
        r.remember_last_agent("+331", "ben".into(), t0);
        // Ben is busy on another call.
        r.engine().set_not_ready(&"ben".into(), "lunch", t0).expect("nr");
        let d = r.start_call(call("c1", "+331"), t0).expect("start");
        assert_eq!(short(&d), "queue billing", "waits for ben although ana is free");
        assert!(r.advance(t0.plus(Duration::from_secs(19))).is_empty());
        let resumed = r.advance(t0.plus(Duration::from_secs(20)));
        assert_eq!(resumed.len(), 1);
        assert_eq!(short(&resumed[0]), "connect ana");
        assert_eq!(
            notes(&resumed[0]).first().map(String::as_str),
            Some("last: last agent of +331 is ben; offering first, waiting up to 20 s")
        );
    }

    /// The wait limit passes while the call rings the last agent, who then logs out: the call
    /// moves on at the next timer tick (before the fix it waited for ben for ever).
    #[test]
    fn a_wait_passed_while_ringing_the_last_agent_falls_through_when_the_offer_ends() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        let s = |secs| t0.plus(Duration::from_secs(secs));
        agent(&r, "ana", &[("billing", 1)], t0);
        agent(&r, "ben", &[("billing", 1)], t0);
        r.remember_last_agent("+331", "ben".into(), t0);
        r.engine().set_not_ready(&"ben".into(), "lunch", t0).expect("nr");
        let d = r.start_call(call("c1", "+331"), t0).expect("start");
        assert_eq!(short(&d), "queue billing");
        r.engine().set_ready(&"ben".into(), s(10)).expect("ben back");
        assert_eq!(r.engine().agent(&"ben".into()).expect("ben").state.kind().as_str(), "reserved");
        assert!(r.advance(s(20)).is_empty(), "the limit passes while ben's phone rings");
        r.engine().logout(&"ben".into(), s(25)).expect("ben leaves");
        let resumed = r.advance(s(25));
        assert_eq!(resumed.iter().map(short).collect::<Vec<_>>(), ["connect ana"]);
    }

    #[test]
    fn answered_calls_are_remembered_and_the_lookback_applies() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "ana", &[("billing", 1)], t0);
        agent(&r, "ben", &[("billing", 1)], t0.plus(Duration::from_secs(1)));
        let d = r.start_call(call("c1", "+331"), t0).expect("start");
        assert_eq!(short(&d), "connect ana");
        r.engine().call_answered(&"c1".into(), t0).expect("answer");
        r.engine().call_ended(&"c1".into(), t0.plus(Duration::from_secs(60))).expect("end");
        // Within the hour: ana again, although ben has been idle longer now.
        let d = r.start_call(call("c2", "+331"), t0.plus(Duration::from_secs(120))).expect("start");
        assert_eq!(short(&d), "connect ana");
        r.engine()
            .call_abandoned(&"c2".into(), t0.plus(Duration::from_secs(121)))
            .expect("abandon");
        // After the lookback: ordinary routing (ben, idle longest).
        let d =
            r.start_call(call("c3", "+331"), t0.plus(Duration::from_secs(3601))).expect("start");
        assert_eq!(short(&d), "connect ben");
    }
}

mod skill_queue_and_overflow {
    use super::*;

    const PLAN: &str = r#"
[plans.p]
start = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
skills = { "lang:${language}" = 3 }
escalation = [{ after_s = 30, skills = { "lang:${language}" = 1 } }, { after_s = 60 }]
overflow = [
    { when = "no_agents_logged_in", to = "vm" },
    { when = "queue_length > 2", to = "partner" },
    { when = "waited_s > 120", to = "vm" },
]
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "billing"
[plans.p.nodes.partner]
type = "transfer"
number = "+44"
"#;

    fn french(id: &str) -> IncomingCall {
        let mut c = call(id, "+33");
        c.attributes.insert("language".into(), "fr".into());
        c
    }

    #[test]
    fn no_agent_logged_in_overflows_at_once() {
        let r = router_with(PLAN, "");
        let d = r.start_call(french("c1"), at(NOON)).expect("start");
        assert_eq!(short(&d), "voicemail billing");
        assert_eq!(notes(&d)[0], "q: overflow (no agent logged in) -> vm");
    }

    #[test]
    fn queue_length_overflow_at_the_exact_threshold() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "busy", &[("billing", 1)], t0);
        r.engine().set_not_ready(&"busy".into(), "break", t0).expect("nr");
        assert_eq!(short(&r.start_call(french("c1"), t0).expect("1")), "queue billing");
        assert_eq!(short(&r.start_call(french("c2"), t0).expect("2")), "queue billing");
        // Two waiting is not more than 2: the third still queues; then three are waiting.
        assert_eq!(short(&r.start_call(french("c3"), t0).expect("3")), "queue billing");
        assert_eq!(short(&r.start_call(french("c4"), t0).expect("4")), "transfer +44");
    }

    #[test]
    fn templated_skills_escalate_then_wait_limit_overflows() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "junior", &[("billing", 1), ("lang:fr", 1)], t0);
        let d = r.start_call(french("c1"), t0).expect("start");
        assert_eq!(short(&d), "queue billing", "needs lang:fr at 3");
        assert!(r.advance(t0.plus(Duration::from_secs(29))).is_empty());
        r.advance(t0.plus(Duration::from_secs(30)));
        assert_eq!(
            r.engine().call_status(&"c1".into()),
            Some(switchboard_routing::CallStatus::Offered {
                queue: "billing".into(),
                agent: "junior".into()
            }),
            "first escalation step lowers the level to 1"
        );
        // A second call waits behind, and nobody answers it: at 120 s it goes to voicemail.
        let d = r.start_call(french("c2"), t0.plus(Duration::from_secs(31))).expect("start");
        assert_eq!(short(&d), "queue billing");
        let resumed = r.advance(t0.plus(Duration::from_secs(151)));
        let c2: Vec<_> = resumed.iter().filter(|d| d.call.as_str() == "c2").collect();
        assert_eq!(c2.len(), 1);
        assert_eq!(short(c2[0]), "voicemail billing");
    }

    #[test]
    fn a_missing_attribute_drops_the_templated_requirement() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        agent(&r, "ana", &[("billing", 1)], t0);
        let d = r.start_call(call("c1", "+1"), t0).expect("start");
        assert_eq!(short(&d), "connect ana");
        assert_eq!(notes(&d), ["q: skill requirement skipped: no language attribute"]);
    }
}

mod terminals_and_agent {
    use super::*;

    #[test]
    fn connect_agent_falls_back_when_not_logged_in() {
        let r = router_with(
            r#"
[plans.p]
start = "op"
[plans.p.nodes.op]
type = "agent"
agent = "ana"
queue = "billing"
wait_s = 10
fallback = "bye"
[plans.p.nodes.bye]
type = "hangup"
reason = "nobody there"
"#,
            "",
        );
        let d = r.start_call(call("c1", "+1"), at(NOON)).expect("start");
        assert_eq!(short(&d), "hangup nobody there");
        agent(&r, "ana", &[("billing", 1)], at(NOON));
        let d = r.start_call(call("c2", "+1"), at(NOON)).expect("start");
        assert_eq!(short(&d), "connect ana");
    }

    #[test]
    fn unknown_entry_points_and_duplicate_calls_are_refused() {
        let r = router_with("[plans.p]\nstart = \"h\"\n[plans.p.nodes.h]\ntype = \"hangup\"\n", "");
        let mut c = call("c1", "+1");
        c.dialed = "+999".into();
        assert_eq!(
            r.start_call(c, at(NOON)).unwrap_err().to_string(),
            "no entry point for dialed number \"+999\""
        );
    }
}

mod config_check {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match RoutingConfig::from_toml(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_shipped_example_is_valid_and_uses_every_node_kind() {
        let text = include_str!("../../../deploy/examples/contact-center.toml");
        let config = RoutingConfig::from_toml(text).unwrap_or_else(|e| panic!("{:#?}", e.problems));
        let kinds: std::collections::BTreeSet<&str> =
            config.plans.iter().flat_map(|p| p.nodes.iter().map(|n| n.kind.type_name())).collect();
        let all = [
            "agent",
            "announce",
            "collect",
            "crm",
            "geographic",
            "hangup",
            "last_agent",
            "menu",
            "percentage",
            "priority",
            "queue",
            "round_robin",
            "time_of_day",
            "transfer",
            "voicemail",
        ];
        assert_eq!(kinds, all.into_iter().collect());
    }

    #[test]
    fn every_problem_is_listed_with_line_and_path() {
        let text = r#"[center]
time_zone = "Mars/Olympus"

[[queues]]
id = "q"
skills = { s = 9 }

[calendars.c]
mon = ["08:00-12:00", "11:00-14:00"]

[[entry_points]]
number = "+1"
plan = "nope"

[plans.p]
start = "a"

[plans.p.nodes.a]
type = "percentage"
branches = [{ weight = 60, next = "b" }, { weight = 30, next = "ghost" }]

[plans.p.nodes.b]
type = "time_of_day"
calendar = "c"
open = "a"
closed = "d"

[plans.p.nodes.d]
type = "queue"
queue = "missing"

[plans.p.nodes.lonely]
type = "hangup"

[plans.p.nodes.x]
type = "teleport"
"#;
        let got = problems(text);
        let expect = [
            "line 2: center.time_zone: \"Mars/Olympus\" is not an IANA time zone (e.g. Europe/Paris)",
            "line 4: queues[0].skills.s: level 9 is outside 1..=5",
            "line 8: calendars.c.mon: hours overlap: 08:00-12:00 and 11:00-14:00",
            "line 13: entry_points[0].plan: unknown plan \"nope\"",
            "line 18: plans.p.nodes.a.branches: weights sum to 90, not 100",
            "line 18: plans.p.nodes.a: cycle without caller input: a -> b -> a",
            "line 20: plans.p.nodes.a.branches[1].next: unknown node \"ghost\"",
            "line 30: plans.p.nodes.d.queue: unknown queue \"missing\"",
            "line 32: plans.p.nodes.lonely: unreachable from the plan's start",
            "line 35: plans.p.nodes.x.type: unknown node type \"teleport\" (one of menu, collect, time_of_day, geographic, percentage, round_robin, priority, crm, last_agent, queue, agent, transfer, voicemail, announce, hangup)",
            "line 35: plans.p.nodes.x: unreachable from the plan's start",
        ];
        assert_eq!(got, expect);
    }

    #[test]
    fn weights_that_would_wrap_a_u32_do_not_sum_to_100() {
        let text = r#"[plans.p]
start = "a"
[plans.p.nodes.a]
type = "percentage"
branches = [{ weight = 4294967295, next = "b" }, { weight = 101, next = "b" }]
[plans.p.nodes.b]
type = "hangup"
"#;
        assert_eq!(
            problems(text),
            ["line 3: plans.p.nodes.a.branches: weights sum to 4294967396, not 100"]
        );
    }

    #[test]
    fn a_cycle_through_a_hundred_thousand_nodes_is_found_without_deep_recursion() {
        const NODES: usize = 100_000;
        let mut text = String::from("[plans.p]\nstart = \"n0\"\n");
        for i in 0..NODES {
            let next = (i + 1) % NODES;
            text += &format!(
                "[plans.p.nodes.n{i}]\ntype = \"priority\"\nrules = []\nnext = \"n{next}\"\n"
            );
        }
        let got = problems(&text);
        assert_eq!(
            got.len(),
            1,
            "{:?}",
            got.iter().map(|p| &p[..80.min(p.len())]).collect::<Vec<_>>()
        );
        assert!(
            got[0].starts_with(
                "line 3: plans.p.nodes.n0: cycle without caller input: n0 -> n1 -> n2 -> "
            ),
            "{}",
            &got[0][..200]
        );
        assert!(got[0].ends_with(" -> n99999 -> n0"));
        // The same chain ending in a hang-up is valid.
        let text = text.replace("next = \"n0\"", "next = \"end\"")
            + "[plans.p.nodes.end]\ntype = \"hangup\"\n";
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn syntax_errors_and_unknown_fields_name_the_line() {
        let got = problems("[[queues]]\nid = \"q\"\nwrap_up = 3\n");
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("line 3: (file): unknown field `wrap_up`, expected one of `id`"),
            "{got:?}"
        );
        let got = problems("[plans.p]\nstart = \"a\"\n[plans.p.nodes.a]\ntype = \"menu\"\nprompt = \"x\"\nnext = \"a\"\n");
        assert_eq!(
            got,
            [
                "line 3: plans.p.nodes.a.options: a menu node needs options",
                "line 3: plans.p.nodes.a.on_failure: a menu node needs on_failure",
                "line 3: plans.p.nodes.a.next: next does not apply to a menu node",
            ]
        );
    }
}

mod termination {
    use super::*;
    use proptest::prelude::*;

    /// Node kinds the generator draws from: every kind a plan may hold.
    const KINDS: u8 = 15;

    /// What every generated plan may refer to: a calendar, a region, an agent (logged out).
    const WORLD: &str = r#"
[calendars.cal]
time_zone = "Europe/Paris"
mon = ["08:00-12:00"]
tue = ["08:00-12:00"]

[regions]
"+1" = "us"

[[agents]]
id = "ana"
skills = { billing = 1 }
"#;

    /// A random plan of `n` nodes whose edges only point forward, except through menus (the
    /// caller may go back), so it is well formed; every walk must end in a decision.
    fn plan_text(kinds: &[u8], edges: &[usize]) -> String {
        let n = kinds.len();
        let target = |i: usize, k: usize| -> String {
            let forward = i + 1 + edges[(i + k) % edges.len()] % (n - i);
            if forward >= n {
                "end".into()
            } else {
                format!("n{forward}")
            }
        };
        let mut out =
            String::from("[plans.p]\nstart = \"n0\"\n[plans.p.nodes.end]\ntype = \"hangup\"\n");
        for (i, kind) in kinds.iter().enumerate() {
            let (a, b, c) = (target(i, 0), target(i, 1), target(i, 2));
            out += &format!("[plans.p.nodes.n{i}]\n");
            out += &match kind % KINDS {
                0 => format!("type = \"menu\"\nprompt = \"m\"\noptions = {{ \"1\" = \"{a}\", \"2\" = \"n0\" }}\nretries = 1\non_failure = \"{b}\"\n"),
                1 => format!("type = \"collect\"\nprompt = \"c\"\nattribute = \"account\"\nmax_digits = 3\nretries = 1\nnext = \"{a}\"\non_failure = \"{b}\"\n"),
                2 => format!("type = \"time_of_day\"\ncalendar = \"cal\"\nopen = \"{a}\"\nclosed = \"{b}\"\nholiday = \"{c}\"\n"),
                3 => format!("type = \"geographic\"\nregions = {{ us = \"{a}\" }}\ndefault = \"{b}\"\n"),
                4 => format!("type = \"percentage\"\nbranches = [{{ weight = 50, next = \"{a}\" }}, {{ weight = 50, next = \"{b}\" }}]\n"),
                5 => format!("type = \"round_robin\"\ntargets = [\"{a}\", \"{b}\"]\n"),
                6 => format!("type = \"priority\"\nrules = [{{ when = \"*\", raise = 1 }}]\nnext = \"{a}\"\n"),
                7 => format!("type = \"crm\"\nkey = \"attribute:account\"\ncopy = [\"tier\"]\nnext = \"{a}\"\non_missing = \"{b}\"\n"),
                8 => format!("type = \"last_agent\"\nqueue = \"billing\"\nlookback_s = 60\nwait_s = 5\nnext = \"{a}\"\n"),
                // Queues overflow after a wait, so a queued call comes back to the plan.
                9 => format!("type = \"queue\"\nqueue = \"billing\"\noverflow = [{{ when = \"queue_length > 3\", to = \"{a}\" }}, {{ when = \"waited_s > 10\", to = \"{b}\" }}]\n"),
                10 => format!("type = \"agent\"\nagent = \"ana\"\nqueue = \"billing\"\nwait_s = 5\nfallback = \"{a}\"\n"),
                11 => "type = \"transfer\"\nnumber = \"+44\"\n".to_string(),
                12 => "type = \"voicemail\"\nmailbox = \"m\"\n".to_string(),
                13 => "type = \"announce\"\nprompt = \"bye\"\n".to_string(),
                _ => "type = \"hangup\"\n".to_string(),
            };
        }
        out
    }

    /// Most steps (prompts answered or timed out, queue waits expired) a call may take: each
    /// caller input may lead back once, and without input every prompt times out through its
    /// retries to its failure branch, which points forward.
    const MAX_STEPS: usize = 30 + 12 * 2 + 12;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn every_well_formed_plan_terminates_for_every_input(
            kinds in prop::collection::vec(0..KINDS, 1..12),
            edges in prop::collection::vec(0usize..12, 1..12),
            inputs in prop::collection::vec(prop::option::of("[0-9]{0,3}"), 0..30),
            caller in prop::sample::select(vec!["+1555", "+3312"]),
            hour in 0u32..48,
        ) {
            let text = format!(
                "{QUEUES}\n[[entry_points]]\nnumber = \"+100\"\nplan = \"p\"\n{WORLD}\n{}",
                plan_text(&kinds, &edges)
            );
            let config = match RoutingConfig::from_toml(&text) {
                Ok(c) => c,
                // Unreachable nodes are rejected; those plans are not well formed.
                Err(e) => {
                    prop_assert!(e.problems.iter().all(|p| p.message.contains("unreachable")), "{:?}", e.problems);
                    return Ok(());
                }
            };
            let r = Router::new(config, CustomerStore::default(), Arc::new(NoObserver)).expect("router");
            let mut now = at("2026-11-30T00:00:00+01:00").plus(Duration::from_secs(u64::from(hour) * 1800));
            let mut d = r.start_call(call("c", caller), now).expect("start");
            let mut inputs = inputs.into_iter();
            let mut steps = 0;
            // Caller input while it lasts, then nothing but timeouts: the walk must end.
            loop {
                match d.action {
                    Action::Collect { .. } => {
                        let input = inputs.next().flatten();
                        d = r.submit_digits(&"c".into(), input.as_deref(), now).expect("digits");
                    }
                    Action::Queued { .. } => {
                        now = now.plus(Duration::from_secs(60));
                        let mut resumed = r.advance(now);
                        match resumed.pop() {
                            Some(next) => d = next,
                            // No wait limit: the call waits for an agent, which is an end.
                            None => break,
                        }
                    }
                    _ => break,
                }
                steps += 1;
                prop_assert!(steps <= MAX_STEPS, "no end after {} steps: {:?}", MAX_STEPS, d);
            }
            let looped = matches!(&d.action, Action::Hangup { reason } if reason.contains("without an end"));
            prop_assert!(!looped, "the walk hit the step limit");
        }
    }
}

mod reload {
    use super::*;

    const MENU: &str = r#"
[plans.p]
start = "menu"
[plans.p.nodes.menu]
type = "menu"
prompt = "main"
options = { "1" = "billing" }
on_failure = "vm"
[plans.p.nodes.billing]
type = "queue"
queue = "billing"
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "main"
"#;

    const DIRECT: &str = r#"
[plans.p]
start = "tech"
[plans.p.nodes.tech]
type = "queue"
queue = "technical"
"#;

    fn config(plan: &str) -> RoutingConfig {
        let text = format!("{QUEUES}\n[[entry_points]]\nnumber = \"+100\"\nplan = \"p\"\n{plan}");
        RoutingConfig::from_toml(&text).unwrap_or_else(|e| panic!("{:#?}", e.problems))
    }

    #[test]
    fn calls_in_a_plan_finish_in_it_and_new_calls_take_the_new_one() {
        let old = router_with(MENU, "");
        let now = at(NOON);
        agent(&old, "ana", &[("billing", 3)], now);
        assert_eq!(short(&old.start_call(call("in-ivr", "+1"), now).unwrap()), "collect main");
        assert_eq!(short(&old.start_call(call("queued", "+2"), now).unwrap()), "collect main");
        assert_eq!(
            short(&old.submit_digits(&"queued".into(), Some("1"), now).unwrap()),
            "connect ana"
        );

        let new = old.reload(config(DIRECT), CustomerStore::default(), now).expect("reload");
        // The caller in the menu keeps the menu they heard.
        assert_eq!(
            short(&new.submit_digits(&"in-ivr".into(), Some("1"), now).unwrap()),
            "queue billing"
        );
        // The connected call is still there, and Ana is still on it.
        new.engine().call_answered(&"queued".into(), now).expect("answer after reload");
        // New calls walk the new plan.
        assert_eq!(short(&new.start_call(call("new", "+3"), now).unwrap()), "queue technical");
    }

    #[test]
    fn changing_or_adding_queues_is_refused_and_changes_nothing() {
        let old = router_with(MENU, "");
        let changed = config(MENU);
        let mut slower = changed.clone();
        slower.queues[0].wrap_up = Duration::from_secs(99);
        let err = old.reload(slower, CustomerStore::default(), at(NOON)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid queues[0]: queue billing changed; changing queues needs a restart"
        );
        let mut fewer = changed;
        fewer.queues.pop();
        let err = old.reload(fewer, CustomerStore::default(), at(NOON)).unwrap_err();
        assert!(err.to_string().contains("queue technical is missing"), "{err}");
        // The old router still routes with its plan.
        assert_eq!(short(&old.start_call(call("c", "+1"), at(NOON)).unwrap()), "collect main");
    }
}

/// Overflow conditions at, below and above their thresholds; the plan's own queue is `sales`
/// (180 s handle time, no wrap-up).
mod overflow_conditions {
    use super::*;

    fn router(condition: &str) -> Router {
        router_with(
            &format!(
                r#"
[[queues]]
id = "sales"
skills = {{ sales = 1 }}
wrap_up_s = 0
default_handle_time_s = 180

[plans.p]
start = "q"
[plans.p.nodes.q]
type = "queue"
queue = "sales"
skills = {{ "lang:${{language}}" = 3 }}
overflow = [{{ when = "{condition}", to = "vm" }}]
[plans.p.nodes.vm]
type = "voicemail"
mailbox = "sales"
"#
            ),
            "",
        )
    }

    fn french(id: &str) -> IncomingCall {
        let mut c = call(id, "+33");
        c.attributes.insert("language".into(), "fr".into());
        c
    }

    #[test]
    fn no_qualified_agent_at_below_and_above_the_level() {
        // check(French level of the only logged-in agent, ready, expected decision)
        let check = |level: Option<u8>, ready: bool, expect: &str| {
            let r = router("no_qualified_agent");
            let t0 = at(NOON);
            let mut skills = vec![("sales", 1)];
            if let Some(level) = level {
                skills.push(("lang:fr", level));
            }
            agent(&r, "ana", &skills, t0);
            if !ready {
                r.engine().set_not_ready(&"ana".into(), "break", t0).expect("nr");
            }
            let d = r.start_call(french("c1"), t0).expect("start");
            assert_eq!(short(&d), expect, "level {level:?}, ready {ready}");
        };
        check(None, true, "voicemail sales");
        check(Some(2), true, "voicemail sales");
        check(Some(3), true, "connect ana");
        check(Some(4), true, "connect ana");
        // Logged in but busy still counts: the call waits for them.
        check(Some(3), false, "queue sales");
        check(Some(2), false, "voicemail sales");
        let r = router("no_qualified_agent");
        let d = r.start_call(french("c1"), at(NOON)).expect("start");
        assert_eq!(
            notes(&d),
            ["q: overflow (no qualified agent logged in) -> vm", "vm: voicemail sales"]
        );
    }

    #[test]
    fn estimated_wait_at_below_and_above_the_threshold() {
        // One logged-in agent, busy; 180 s a call: the n-th caller in line waits n * 180 s.
        let r = router("estimated_wait_s > 360");
        let t0 = at(NOON);
        agent(&r, "ana", &[("sales", 1), ("lang:fr", 5)], t0);
        r.engine().set_not_ready(&"ana".into(), "break", t0).expect("nr");
        let d = r.start_call(french("c1"), t0).expect("start");
        assert_eq!(
            d.action,
            Action::Queued { queue: "sales".into(), position: 1, estimated_wait_s: Some(180) }
        );
        let d = r.start_call(french("c2"), t0).expect("start");
        assert_eq!(
            d.action,
            Action::Queued { queue: "sales".into(), position: 2, estimated_wait_s: Some(360) },
            "360 s is not over 360 s"
        );
        let d = r.start_call(french("c3"), t0).expect("start");
        assert_eq!(short(&d), "voicemail sales", "540 s is");
        assert_eq!(
            notes(&d),
            ["q: overflow (estimated wait 540 s > 360 s) -> vm", "vm: voicemail sales"]
        );
        // Ben logs in and takes c1; c4 is second behind c2, with two agents: 2 * 180 / 2.
        agent(&r, "ben", &[("sales", 1), ("lang:fr", 3)], t0);
        let d = r.start_call(french("c4"), t0).expect("start");
        assert_eq!(
            d.action,
            Action::Queued { queue: "sales".into(), position: 2, estimated_wait_s: Some(180) }
        );
    }

    #[test]
    fn an_available_agent_without_the_callers_skills_does_not_make_the_wait_zero() {
        let r = router("estimated_wait_s > 60");
        let t0 = at(NOON);
        agent(&r, "ana", &[("sales", 1), ("lang:fr", 5)], t0);
        r.engine().set_not_ready(&"ana".into(), "break", t0).expect("nr");
        // Ben is free but speaks no French: the French caller is first in line, 180 s over the
        // two logged-in members, 90 s, not zero.
        agent(&r, "ben", &[("sales", 1)], t0);
        let d = r.start_call(french("c1"), t0).expect("start");
        assert_eq!(short(&d), "voicemail sales");
        assert_eq!(
            notes(&d),
            ["q: overflow (estimated wait 90 s > 60 s) -> vm", "vm: voicemail sales"]
        );
    }

    #[test]
    fn waited_overflows_at_the_limit_and_not_a_second_before() {
        let r = router("waited_s > 60");
        let t0 = at(NOON);
        agent(&r, "ana", &[("sales", 1), ("lang:fr", 5)], t0);
        r.engine().set_not_ready(&"ana".into(), "break", t0).expect("nr");
        let entered = t0.plus(Duration::from_secs(5));
        assert_eq!(short(&r.start_call(french("c1"), entered).expect("start")), "queue sales");
        assert!(r.advance(entered.plus(Duration::from_secs(59))).is_empty(), "59 s");
        let resumed = r.advance(entered.plus(Duration::from_millis(60_000)));
        assert_eq!(resumed.iter().map(short).collect::<Vec<_>>(), ["voicemail sales"], "60 s");
        assert_eq!(r.engine().call_count(), 0);
    }

    #[test]
    fn a_queued_call_is_estimated_from_its_own_place_in_line() {
        let r = router_with(
            r#"
[plans.p]
start = "prio"
[plans.p.nodes.prio]
type = "priority"
rules = [{ when = "tier == 'gold'", set = 10 }]
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
"#,
            "",
        );
        let t0 = at(NOON);
        agent(&r, "ana", &[("billing", 1)], t0);
        r.engine().set_not_ready(&"ana".into(), "break", t0).expect("nr");
        for id in ["c1", "c2"] {
            r.start_call(call(id, "+1"), t0).expect("start");
        }
        let mut gold = call("vip", "+2");
        gold.attributes.insert("tier".into(), "gold".into());
        let d = r.start_call(gold, t0).expect("start");
        let Action::Queued { position, estimated_wait_s, .. } = d.action else { panic!("{d:?}") };
        // First in line (ahead of c1 and c2): one handle time, not three.
        let handle_s = r.engine().estimated_wait_at(&"billing".into(), 1).expect("q");
        assert_eq!((position, estimated_wait_s), (1, handle_s.map(|d| d.as_secs())));
        assert!(estimated_wait_s.is_some_and(|s| s > 0));
    }
}

mod sessions {
    use super::*;

    const PLAN: &str = r#"
[plans.p]
start = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
"#;

    #[test]
    fn a_withdrawn_call_leaves_its_plan_and_its_id_can_be_used_again() {
        let r = router_with(PLAN, "");
        let t0 = at(NOON);
        assert_eq!(short(&r.start_call(call("c1", "+1"), t0).expect("start")), "queue billing");
        assert!(r.trace(&"c1".into()).is_some());
        let back = r.withdraw(&"c1".into(), t0.plus(Duration::from_secs(5))).expect("withdraw");
        assert_eq!(back.queued_since, Some(t0));
        assert!(r.trace(&"c1".into()).is_none(), "the session is gone");
        assert_eq!(r.engine().call_count(), 0);
        // The switch may reuse the id (a new leg after the transfer).
        let d = r.start_call(call("c1", "+1"), t0.plus(Duration::from_secs(6))).expect("again");
        assert_eq!(short(&d), "queue billing");
        // Only waiting calls can be withdrawn; a refusal keeps the session.
        agent(&r, "ana", &[("billing", 1)], t0.plus(Duration::from_secs(7)));
        assert!(r.withdraw(&"c1".into(), t0.plus(Duration::from_secs(8))).is_err());
        assert!(r.trace(&"c1".into()).is_some());
    }

    #[test]
    fn a_last_agent_outside_the_queue_is_skipped_at_once() {
        let r = router_with(
            r#"
[plans.p]
start = "last"
[plans.p.nodes.last]
type = "last_agent"
queue = "billing"
lookback_s = 3600
wait_s = 20
next = "q"
[plans.p.nodes.q]
type = "queue"
queue = "billing"
"#,
            "",
        );
        let t0 = at(NOON);
        agent(&r, "tech", &[("technical", 1)], t0);
        agent(&r, "ana", &[("billing", 1)], t0);
        r.remember_last_agent("+331", "tech".into(), t0);
        let d = r.start_call(call("c1", "+331"), t0).expect("start");
        assert_eq!(short(&d), "connect ana", "no 20 s wait for an agent who cannot take it");
        assert_eq!(
            notes(&d)[0],
            "last: last agent of +331 is tech, who is not a member of queue billing"
        );
    }
}
