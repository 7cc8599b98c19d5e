//! Fuzz targets of the wfm readers: the history CSV ([`read_history`], per-call and interval,
//! with and without a `--tz` zone for local times, with and without skip-bad) followed by the
//! grid it feeds ([`aggregate`] at 15, 30 and 60 minutes), and the shift TOML of the scheduler
//! ([`parse_shift_file`]).
//!
//! Properties per case: no panic, no hang, peak heap under the cap (see `fuzz_support`).
//! Long run: `SWITCHBOARD_FUZZ_CASES=100000 cargo test -p switchboard-wfm --test fuzz_history
//! --release -- --nocapture`.

// The mutation kit and the counting allocator live with the routing crate's fuzz target.
#[path = "../../routing/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::OnceLock;

use chrono::NaiveDate;
use chrono_tz::Tz;
use fuzz_support::{check_bounded, config, mutated, PeakLog};
use proptest::prelude::*;
use switchboard_wfm::generate::{
    generate_calls, generate_intervals, write_calls_csv, write_intervals_csv, GeneratorConfig,
    QueueProfile,
};
use switchboard_wfm::history::{read_history, History, ReadOptions};
use switchboard_wfm::schedule::parse_shift_file;
use switchboard_wfm::series::aggregate;
use switchboard_wfm::units::IntervalLength;

/// A small generated history (what `switchboard history generate` writes), in UTC, with
/// offsets of New York, and in New York local time without offsets (read with `--tz`).
fn history_seeds() -> &'static [&'static [u8]] {
    static SEEDS: OnceLock<Vec<&'static [u8]>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let new_york: Tz = "America/New_York".parse().expect("zone");
        let config = GeneratorConfig {
            start: NaiveDate::from_ymd_opt(2026, 10, 26).expect("date"),
            weeks: 2,
            queues: vec![
                QueueProfile { name: "sales".into(), calls_per_week: 120.0, aht_s: 240.0 },
                QueueProfile { name: "support".into(), calls_per_week: 200.0, aht_s: 380.0 },
            ],
            ..GeneratorConfig::default()
        };
        let calls = generate_calls(&config).calls;
        let intervals = generate_intervals(&config, IntervalLength::MIN60).rows;
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        for tz in [Tz::UTC, new_york] {
            let mut out = Vec::new();
            write_calls_csv(&calls, &tz, &mut out).expect("write");
            seeds.push(out);
            let mut out = Vec::new();
            write_intervals_csv(&intervals, &tz, &mut out).expect("write");
            seeds.push(out);
        }
        // Local times without an offset, as exported by other systems.
        let local: String = String::from_utf8_lossy(&seeds[3])
            .lines()
            .map(|line| match line.find("-05:00").or_else(|| line.find("-04:00")) {
                Some(i) => format!("{}{}\n", &line[..i], &line[i + 6..]),
                None => format!("{line}\n"),
            })
            .collect();
        seeds.push(local.into_bytes());
        seeds.push(
            b"interval_start,calls,aht_s,queue\n2026-11-01 00:00,3,200,a\n2026-11-01 01:00,4,,a\n\
              2026-11-01 01:00,5,180,b\n2026-03-08 03:00,1,1,a\n"
                .to_vec(),
        );
        seeds
            .into_iter()
            .map(|s| {
                let mut s = s;
                s.truncate(fuzz_support::MAX_INPUT_BYTES);
                &*Box::leak(s.into_boxed_slice())
            })
            .collect()
    })
}

static SHIFT_SEEDS: &[&[u8]] = &[
    include_bytes!("../../../deploy/examples/shifts.toml"),
    br#"
[[shift]]
name = "night"
length = "8h"
start = { earliest = "22:00", latest = "02:00", step = "30m" }
days = ["mon", "tue", "sat"]
cost = 1.5
min_count = 0
max_count = 10
skills = ["billing"]

[[shift.break]]
length = "30m"
earliest = "3h"
latest = "5h"
paid = false

[[shift]]
name = "early"
length = "6h"
start = { earliest = "06:00", latest = "07:00" }

[roster]
min_rest = "11h"
min_days_off = 2
forbidden_sequences = [["night", "early"]]
"#,
];

/// Reads with every option combination and aggregates what reads.
fn drive_history(bytes: Vec<u8>) {
    let new_york: Tz = "America/New_York".parse().expect("zone");
    for tz in [Tz::UTC, new_york] {
        for skip_bad in [false, true] {
            let Ok(outcome) = read_history(bytes.as_slice(), &ReadOptions { tz, skip_bad }) else {
                continue;
            };
            if skip_bad {
                continue; // the same rows as without skip-bad, minus the bad ones
            }
            for interval in [IntervalLength::MIN15, IntervalLength::MIN30, IntervalLength::MIN60] {
                let _ = aggregate(&outcome.history, interval, tz);
            }
        }
    }
}

fn drive_shifts(bytes: Vec<u8>) {
    let text = String::from_utf8_lossy(&bytes);
    if let Ok(file) = parse_shift_file(&text) {
        for template in &file.templates {
            // The parser refuses on the count; it must agree with the listing.
            assert_eq!(
                template.break_placement_count(),
                template.break_placements().len(),
                "break placements of {}",
                template.name
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn history_reader_survives_hostile_csv(input in mutated(history_seeds())) {
        thread_local!(static LOG: std::cell::RefCell<PeakLog> =
            std::cell::RefCell::new(PeakLog::new("history csv")));
        let peak = check_bounded("read_history + aggregate", &input, drive_history)?;
        LOG.with(|log| log.borrow_mut().record(peak));
    }

    #[test]
    fn shift_file_parser_survives_hostile_toml(input in mutated(SHIFT_SEEDS)) {
        let _ = check_bounded("parse_shift_file", &input, drive_shifts)?;
    }
}

/// The seeds are valid and reach the aggregation (the targets do not only test error paths).
#[test]
fn seeds_read_and_aggregate() {
    let _serial = fuzz_support::serial();
    let new_york: Tz = "America/New_York".parse().expect("zone");
    for (n, seed) in history_seeds().iter().enumerate() {
        let outcome = read_history(*seed, &ReadOptions { tz: new_york, skip_bad: false })
            .unwrap_or_else(|e| panic!("seed {n}: {e}"));
        let rows = match &outcome.history {
            History::Calls(c) => c.len(),
            History::Intervals(r) => r.len(),
        };
        assert!(rows > 3, "seed {n} has {rows} rows");
        aggregate(&outcome.history, IntervalLength::MIN60, new_york)
            .unwrap_or_else(|e| panic!("seed {n}: {e}"));
    }
    for seed in SHIFT_SEEDS {
        parse_shift_file(std::str::from_utf8(seed).expect("utf-8")).expect("shift seed");
    }
}

/// Inputs the fuzz target found or that guard a bound; each must keep passing all properties.
#[test]
fn regressions() {
    let mut many_queues = String::from("arrived_at,queue\n");
    for q in 0..2_000 {
        many_queues.push_str(&format!("2026-01-05T09:00:00Z,q{q}\n"));
    }
    many_queues.push_str("2035-12-31T09:00:00Z,q0\n");
    let cases: Vec<String> = vec![
        // Found by the fuzz target: a far-future row made the grid gigabytes.
        "arrived_at,queue\n2026-11-02T09:00:00Z,a\n+262143-12-31T23:59:59Z,a\n".into(),
        "interval_start,calls\n1970-01-01T00:00:00Z,1\n9999-12-31T00:00:00Z,1\n".into(),
        // Many queues over a long span: the grid is per queue.
        many_queues,
        "interval_start,calls,aht_s\n2026-11-02T09:00:00Z,1e308,1e308\n\
         2026-11-02T10:00:00Z,NaN,inf\n2026-11-02T11:00:00Z,-1,-1\n"
            .into(),
        "arrived_at,wait_s,handle_s\n2026-11-02T09:00:00Z,18446744073709551616,1e309\n".into(),
    ];
    for case in cases {
        check_bounded("regression", case.as_bytes(), drive_history)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Shift files that guard the parser's bounds; each must keep passing all properties.
#[test]
fn shift_regressions() {
    let one_minute_breaks = "[[shift]]\nname = \"long\"\nlength = \"24h\"\n\
        start = { earliest = \"00:00\", latest = \"00:00\" }\n"
        .to_string()
        + &"[[shift.break]]\nlength = \"1m\"\nearliest = \"0m\"\nlatest = \"23h\"\nstep = \"1m\"\n"
            .repeat(6);
    let cases = [
        // Every break anywhere in a day: 10^16 placements, enumerated before being counted.
        one_minute_breaks,
        // Break bounds that overflow when added.
        "[[shift]]\nname = \"x\"\nlength = \"9h\"\nstart = { earliest = \"00:00\", latest = \"00:00\" }\n\
         [[shift.break]]\nlength = \"4000000000m\"\nearliest = \"0m\"\nlatest = \"4000000000m\"\n"
            .to_string(),
    ];
    for case in cases {
        check_bounded("shift regression", case.as_bytes(), drive_shifts)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
