//! End-to-end test of `switchboard plan` on a small generated history: every output exists and
//! the files agree with each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-plan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Hourly shifts: 8-hour full-time with an unpaid half-hour lunch, 4-hour part-time.
const SHIFTS: &str = r#"
[[shift]]
name = "full-time"
length = "8h"
start = { earliest = "07:00", latest = "12:00", step = "1h" }
[[shift.break]]
name = "lunch"
length = "1h"
earliest = "3h"
latest = "5h"
step = "1h"
paid = false

[[shift]]
name = "part-time"
length = "4h"
start = { earliest = "08:00", latest = "16:00", step = "1h" }

[roster]
min_rest = "11h"
min_days_off = 2
"#;

fn agents_csv() -> String {
    let mut csv = String::from("agent,min_hours,max_hours,skills,availability\n");
    for n in 0..14 {
        csv.push_str(&format!("full{n},28,35,,\n"));
    }
    for n in 0..6 {
        csv.push_str(&format!("part{n},8,16,,mon-sat 08:00-20:00\n"));
    }
    csv
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("{column} in {row:?}"))
}

#[test]
fn plan_writes_every_stage_and_the_files_agree() {
    let dir = scratch("demo");
    let history = dir.join("history.csv");
    let out = switchboard(&[
        "history",
        "generate",
        "--out",
        history.to_str().unwrap(),
        "--format",
        "intervals",
        "--interval",
        "60m",
        "--weeks",
        "4",
        "--tz",
        "UTC",
        "--queues",
        "billing:700:300,sales:300:240",
        "--no-holidays",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("shifts.toml"), SHIFTS).unwrap();
    std::fs::write(dir.join("agents.csv"), agents_csv()).unwrap();
    let plan_dir = dir.join("plan");
    let out = switchboard(&[
        "plan",
        "--history",
        history.to_str().unwrap(),
        "--shifts",
        dir.join("shifts.toml").to_str().unwrap(),
        "--agents",
        dir.join("agents.csv").to_str().unwrap(),
        "--target",
        "80/20s",
        "--interval",
        "60m",
        "--out",
        plan_dir.to_str().unwrap(),
        "--time-limit",
        "5s",
        "--roster-time-limit",
        "2s",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // No progress bar when stderr is not a terminal.
    assert!(!text(&out.stderr).contains("1/4"), "{}", text(&out.stderr));
    for name in [
        "forecast.csv",
        "staffing.csv",
        "staffing.svg",
        "shifts.csv",
        "shifts.json",
        "coverage.csv",
        "coverage.svg",
        "roster.csv",
        "roster-problems.csv",
        "summary.txt",
    ] {
        let path = plan_dir.join(name);
        assert!(path.metadata().is_ok_and(|m| m.len() > 0), "{} missing or empty", name);
    }
    let summary = std::fs::read_to_string(plan_dir.join("summary.txt")).unwrap();
    assert_eq!(summary, stdout);
    for key in ["calls forecast:", "required:", "cost:", "gap:", "intervals:", "roster:"] {
        assert!(summary.contains(key), "{key} not in {summary}");
    }

    // Forecast and staffing: one staffing row per forecast row, a week of hourly intervals.
    let forecast = read_csv(&plan_dir.join("forecast.csv"));
    let staffing = read_csv(&plan_dir.join("staffing.csv"));
    assert_eq!(forecast.len(), staffing.len());
    assert!(!forecast.is_empty());
    let calls: f64 = forecast.iter().map(|r| number(r, "calls")).sum();
    assert!(summary.contains(&format!("calls forecast:  {calls:.0}")), "{calls} {summary}");

    // Coverage: the requirement is the staffing's scheduled agents summed over queues, and
    // every interval not reported short is covered.
    let mut required: BTreeMap<String, f64> = BTreeMap::new();
    for row in &staffing {
        let instant = chrono::DateTime::parse_from_rfc3339(&row["interval_start"]).unwrap();
        *required.entry(instant.to_rfc3339()).or_default() += number(row, "scheduled_agents");
    }
    let coverage = read_csv(&plan_dir.join("coverage.csv"));
    let mut short = 0;
    for row in &coverage {
        let instant = chrono::DateTime::parse_from_rfc3339(&row["interval_start"]).unwrap();
        let need = required.get(&instant.to_rfc3339()).copied().unwrap_or(0.0);
        assert!((number(row, "required") - need).abs() < 1e-6, "{row:?} vs {need}");
        if number(row, "scheduled") + 1e-6 < number(row, "required") {
            short += 1;
        }
    }
    assert!(summary.contains(&format!("total, {short} under")), "{short} short: {summary}");

    // Shifts: CSV, JSON and roster list the same shifts.
    let shifts = read_csv(&plan_dir.join("shifts.csv"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan_dir.join("shifts.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(shifts.len()));
    let roster = read_csv(&plan_dir.join("roster.csv"));
    assert_eq!(roster.len(), shifts.len());

    // Roster: hours within the contracts' maximum; every agent below minimum is reported.
    let contracts: BTreeMap<String, (f64, f64)> = agents_csv()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .collect();
    let mut hours: BTreeMap<String, f64> = BTreeMap::new();
    let mut open = 0;
    for row in &roster {
        if row["agent"].is_empty() {
            open += 1;
        } else {
            *hours.entry(row["agent"].clone()).or_default() += number(row, "paid_hours");
        }
    }
    let problems = read_csv(&plan_dir.join("roster-problems.csv"));
    for (agent, (min, max)) in &contracts {
        let worked = hours.get(agent).copied().unwrap_or(0.0);
        assert!(worked <= max + 1e-9, "{agent}: {worked} h > {max} h");
        let reported = problems.iter().any(|p| p["agent"] == *agent && p["rule"] == "min_hours");
        assert_eq!(worked + 1e-9 < *min, reported, "{agent}: {worked} h, min {min} h");
    }
    let reported_open = problems.iter().filter(|p| p["rule"] == "unassigned").count();
    assert_eq!(open, reported_open);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_errors_name_the_file_line_and_field() {
    let dir = scratch("errors");
    let history = dir.join("history.csv");
    std::fs::write(&history, "interval_start,queue,calls\n2026-11-23T08:00:00Z,billing,lots\n")
        .unwrap();
    std::fs::write(dir.join("shifts.toml"), SHIFTS).unwrap();
    std::fs::write(dir.join("agents.csv"), "agent,min_hours,max_hours\nana,many,40\n").unwrap();
    let run = |agents: bool| {
        let mut args = vec![
            "plan".to_string(),
            "--history".into(),
            history.display().to_string(),
            "--shifts".into(),
            dir.join("shifts.toml").display().to_string(),
            "--out".into(),
            dir.join("plan").display().to_string(),
        ];
        if agents {
            args.extend(["--agents".into(), dir.join("agents.csv").display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = switchboard(&args);
        assert!(!out.status.success());
        text(&out.stderr)
    };
    // Inputs are checked before the long stages: the agents file first.
    let error = run(true);
    assert!(error.contains("agents.csv:2: min_hours: \"many\""), "{error}");
    let error = run(false);
    assert!(error.contains("history.csv:2: column calls"), "{error}");
    let bad_length = "[[shift]]\nname = \"x\"\nlength = \"lots\"\nstart = { earliest = \"08:00\", latest = \"09:00\" }\n";
    std::fs::write(dir.join("shifts.toml"), bad_length).unwrap();
    let error = run(false);
    // The line of the `[[shift]]` table the field belongs to.
    assert!(error.contains("shifts.toml:1: shift[0].length: \"lots\""), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
