//! End-to-end tests of `switchboard simulate`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/contact-center.toml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

const ONE_QUEUE: &str = r#"
[[queues]]
id = "support"
skills = { support = 1 }
service_level_s = 20
wrap_up_s = 10

[[entry_points]]
number = "+18005550100"
plan = "main"

[plans.main]
start = "support"

[plans.main.nodes.support]
type = "queue"
queue = "support"
"#;

fn forecast_csv(intervals: u32) -> String {
    let mut text = String::from("interval_start,queue,calls,aht_s,method\n");
    for i in 0..intervals {
        let minutes = 30 * i;
        text.push_str(&format!(
            "2026-11-23T{:02}:{:02}:00Z,support,{},190,ets\n",
            8 + minutes / 60,
            minutes % 60,
            60 + 10 * i
        ));
    }
    text
}

#[test]
fn forecast_with_fixed_agents_writes_csv_json_and_chart() {
    let dir = scratch("forecast");
    std::fs::write(dir.join("center.toml"), ONE_QUEUE).unwrap();
    std::fs::write(dir.join("forecast.csv"), forecast_csv(8)).unwrap();
    let run = |out: &str| {
        switchboard(&[
            "simulate",
            "--config",
            dir.join("center.toml").to_str().unwrap(),
            "--forecast",
            dir.join("forecast.csv").to_str().unwrap(),
            "--agents",
            "12",
            "--seed",
            "5",
            "--replications",
            "3",
            "--out",
            dir.join(out).to_str().unwrap(),
        ])
    };
    let out = run("a");
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("service level = answered within the queue's threshold / answered"),
        "{stdout}"
    );
    assert!(stdout.contains("Erlang A (12)"), "{stdout}");
    let csv = std::fs::read_to_string(dir.join("a/intervals.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("interval_start,queue,arrived,offered,answered,abandoned"));
    assert_eq!(lines.len(), 1 + 8, "{csv}");
    assert!(lines[1].starts_with("2026-11-23T08:00:00Z,support,"), "{csv}");
    assert!(lines[1].contains(",erlang_a,12,"), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("a/summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["replications"], 3);
    assert_eq!(json["summary"][0]["queue"], "support");
    let sl = json["summary"][0]["metrics"]["service_level"]["mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&sl));
    let svg = std::fs::read_to_string(dir.join("a/chart.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);

    // Same seed, same numbers.
    let again = run("b");
    assert!(again.status.success());
    assert_eq!(csv, std::fs::read_to_string(dir.join("b/intervals.csv")).unwrap());
}

#[test]
fn history_replay_with_shifts_runs_the_example_plans() {
    let dir = scratch("history");
    // Monday 2026-11-23, 10:00-11:00 in Paris: the support line is open. Callers from France
    // (menu: billing or technical) and from the UK (sent to the partner by region).
    let mut history = String::from(
        "arrived_at,queue,wait_s,handle_s,abandoned,call_id,outcome,agent,caller,dialed\n",
    );
    for i in 0..60u32 {
        let (queue, abandoned, handle) = match i % 4 {
            0 | 1 => ("billing", false, "150.0"),
            2 => ("technical", false, "240.0"),
            _ => ("billing", true, ""),
        };
        // Unknown UK numbers go to the partner; a known platinum customer (CRM) goes through
        // the priority and last-agent nodes to the menu.
        let caller = match i % 10 {
            9 => "+447700900999".to_string(),
            4 => "+447700900123".to_string(),
            _ => format!("+3361234{i:04}"),
        };
        history.push_str(&format!(
            "2026-11-23T09:{:02}:{:02}.000Z,{queue},12.0,{handle},{abandoned},c{i},x,,{caller},+18005550100\n",
            i,
            0
        ));
    }
    std::fs::write(dir.join("calls.csv"), history).unwrap();
    std::fs::write(
        dir.join("shifts.csv"),
        "agent,start,end,breaks\n\
         ana,2026-11-23T09:00:00Z,2026-11-23T13:00:00Z,09:30-09:45\n\
         ben,2026-11-23T09:00:00Z,2026-11-23T13:00:00Z,\n\
         chloe,2026-11-23T09:00:00Z,2026-11-23T13:00:00Z,10:00-10:10\n\
         extra,2026-11-23T09:15:00Z,2026-11-23T13:00:00Z,\n",
    )
    .unwrap();
    let out = switchboard(&[
        "simulate",
        "--config",
        example().to_str().unwrap(),
        "--history",
        dir.join("calls.csv").to_str().unwrap(),
        "--schedule",
        dir.join("shifts.csv").to_str().unwrap(),
        "--replications",
        "2",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    let row = |queue: &str| {
        json["summary"].as_array().unwrap().iter().find(|r| r["queue"] == queue).cloned()
    };
    let billing = row("billing").unwrap_or_else(|| panic!("{stdout}"));
    // The menu took French callers to billing (the UK tenth went to the partner by region).
    assert_eq!(billing["arrived"], 45.0, "{stdout}");
    assert_eq!(billing["diverted"], 6.0, "{stdout}");
    assert!(billing["metrics"]["answered"]["mean"].as_f64().unwrap() > 20.0, "{stdout}");
    let technical = row("technical").unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(technical["metrics"]["offered"]["mean"], 15.0, "{stdout}");
}

#[test]
fn bad_input_names_file_line_and_field() {
    let dir = scratch("bad");
    std::fs::write(dir.join("center.toml"), ONE_QUEUE).unwrap();
    std::fs::write(
        dir.join("forecast.csv"),
        "interval_start,queue,calls,aht_s\n2026-11-23T08:00:00Z,support,10,180\n2026-11-23T08:30:00Z,support,lots,180\n",
    )
    .unwrap();
    let forecast = dir.join("forecast.csv");
    let out = switchboard(&[
        "simulate",
        "--config",
        dir.join("center.toml").to_str().unwrap(),
        "--forecast",
        forecast.to_str().unwrap(),
        "--agents",
        "3",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3: calls: \"lots\" is not a number >= 0", forecast.display())),
        "{stderr}"
    );

    std::fs::write(
        dir.join("other.csv"),
        "interval_start,queue,calls,aht_s\n2026-11-23T08:00:00Z,sales,10,180\n",
    )
    .unwrap();
    let out = switchboard(&[
        "simulate",
        "--config",
        dir.join("center.toml").to_str().unwrap(),
        "--forecast",
        dir.join("other.csv").to_str().unwrap(),
        "--agents",
        "3",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("forecast queue \"sales\" is not a queue of the configuration")
    );

    // Traffic and staff are both required.
    let out = switchboard(&["simulate", "--config", "x.toml", "--out", "o"]);
    assert_eq!(out.status.code(), Some(2));
}
