//! End-to-end tests of the planning commands: `history generate`, `forecast`, `erlang`, `staff`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-wfm-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ok(out: &Output) {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn generate_forecast_and_staff_a_week() {
    let dir = scratch("pipeline");
    let (calls, holidays, forecast, staffing, chart) = (
        dir.join("calls.csv"),
        dir.join("holidays.txt"),
        dir.join("forecast.csv"),
        dir.join("staffing.csv"),
        dir.join("staffing.svg"),
    );
    let p = |path: &PathBuf| path.to_str().unwrap().to_string();
    ok(&switchboard(&[
        "history",
        "generate",
        "--out",
        &p(&calls),
        "--weeks",
        "5",
        "--start",
        "2026-01-05",
        "--queues",
        "sales:1500:240,support:2500:380",
        "--holidays-out",
        &p(&holidays),
    ]));
    let history = std::fs::read_to_string(&calls).unwrap();
    assert!(
        history.starts_with("arrived_at,queue,wait_s,handle_s,abandoned,"),
        "{}",
        &history[..80]
    );
    // Martin Luther King Jr. Day falls in the generated weeks and is closed.
    assert_eq!(std::fs::read_to_string(&holidays).unwrap(), "2026-01-19\n");
    assert!(!history.contains("\n2026-01-19T"));

    let out = switchboard(&[
        "forecast",
        "--history",
        &p(&calls),
        "--tz",
        "America/New_York",
        "--interval",
        "30m",
        "--horizon",
        "7d",
        "--holidays-file",
        &p(&holidays),
        "--backtest",
        "--out",
        &p(&forecast),
    ]);
    ok(&out);
    let report = text(&out.stdout);
    assert!(report.contains("WAPE") && report.contains("MASE"), "{report}");
    assert!(report.contains("sales: ") && report.contains("backtest mean WAPE"), "{report}");
    let rows = std::fs::read_to_string(&forecast).unwrap();
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("interval_start,queue,calls,aht_s,method"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    // The history ends on Saturday 2026-02-07; Sunday is closed, so Monday 08:00 opens the week.
    assert_eq!(first[0], "2026-02-09T08:00:00-05:00");
    assert!(first[2].parse::<f64>().unwrap() > 0.0 && first[3].parse::<f64>().unwrap() > 100.0);
    // Six open days of 24 (Saturday 16) half-hours, two queues.
    assert_eq!(rows.lines().count() - 1, 2 * (5 * 24 + 16));

    let out = switchboard(&[
        "staff",
        "--forecast",
        &p(&forecast),
        "--target",
        "80/20s",
        "--shrinkage",
        "0.3",
        "--max-occupancy",
        "0.85",
        "--out",
        &p(&staffing),
        "--chart",
        &p(&chart),
    ]);
    ok(&out);
    let rows = std::fs::read_to_string(&staffing).unwrap();
    let mut lines = rows.lines();
    assert_eq!(
        lines.next(),
        Some("interval_start,queue,calls,aht_s,required_agents,scheduled_agents,service_level,asa_s,occupancy")
    );
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let required: u32 = f[4].parse().unwrap();
        let scheduled: u32 = f[5].parse().unwrap();
        assert_eq!(scheduled, (f64::from(required) / 0.7 - 1e-9).ceil() as u32, "{line}");
        assert!(f[6].parse::<f64>().unwrap() >= 0.8, "{line}");
        assert!(f[8].parse::<f64>().unwrap() <= 0.85, "{line}");
    }
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("required agents"), "{}", &svg[..100]);
}

#[test]
fn interval_history_is_read_too() {
    let dir = scratch("intervals");
    let history = dir.join("intervals.csv");
    let forecast = dir.join("forecast.csv");
    ok(&switchboard(&[
        "history",
        "generate",
        "--format",
        "intervals",
        "--interval",
        "60m",
        "--weeks",
        "3",
        "--queues",
        "billing:2000:300",
        "--out",
        history.to_str().unwrap(),
    ]));
    let out = switchboard(&[
        "forecast",
        "--history",
        history.to_str().unwrap(),
        "--tz",
        "America/New_York",
        "--interval",
        "60m",
        "--method",
        "holt-winters",
        "--out",
        forecast.to_str().unwrap(),
    ]);
    ok(&out);
    let rows = std::fs::read_to_string(&forecast).unwrap();
    assert!(rows.lines().nth(1).unwrap().ends_with(",holt-winters"), "{rows}");
    // Hourly history cannot fill a 30-minute grid.
    let out = switchboard(&[
        "forecast",
        "--history",
        history.to_str().unwrap(),
        "--tz",
        "America/New_York",
        "--interval",
        "30m",
        "--out",
        forecast.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("60 minutes apart"), "{}", text(&out.stderr));
}

#[test]
fn bad_history_rows_name_file_line_and_column_or_are_skipped() {
    let dir = scratch("bad");
    let history = dir.join("calls.csv");
    let mut csv = String::from("arrived_at,queue,wait_s,handle_s,abandoned\n");
    for day in 5..=30 {
        csv.push_str(&format!("2026-01-{day:02}T10:00:00-05:00,sales,3,200,false\n"));
    }
    csv.push_str("2026-01-31T10:00:00-05:00,sales,3,two hundred,false\n");
    std::fs::write(&history, csv).unwrap();
    let out_path = dir.join("forecast.csv");
    let args = |skip: bool| {
        let mut args = vec![
            "forecast".to_string(),
            "--history".into(),
            history.to_str().unwrap().into(),
            "--out".into(),
            out_path.to_str().unwrap().into(),
        ];
        if skip {
            args.push("--skip-bad".into());
        }
        args
    };
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args(false)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:28: column handle_s: \"two hundred\"", history.display())),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args(true)).output().unwrap();
    ok(&out);
    assert!(text(&out.stderr).contains("skipped 1 bad row(s)"), "{}", text(&out.stderr));
}

#[test]
fn erlang_prints_the_published_example() {
    let out = switchboard(&[
        "erlang",
        "--calls",
        "100",
        "--interval",
        "30m",
        "--aht",
        "180s",
        "--target",
        "80/20s",
        "--max-occupancy",
        "0.85",
        "--shrinkage",
        "0.3",
    ]);
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("required agents: 14 on the phones, 20 scheduled"), "{stdout}");
    assert!(stdout.contains("service level: 88.8 %"), "{stdout}");
    assert!(stdout.contains("ASA: 7.8 s") && stdout.contains("P(wait): 0.174"), "{stdout}");

    let out = switchboard(&[
        "erlang",
        "--calls",
        "100",
        "--interval",
        "30m",
        "--aht",
        "180s",
        "--agents",
        "13",
        "--json",
    ]);
    ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["agents"], 13);
    assert_eq!(json["meets_targets"], false);
    assert!((json["service_level"].as_f64().unwrap() - 0.796).abs() < 0.001, "{json}");

    let out = switchboard(&[
        "erlang",
        "--calls",
        "100",
        "--interval",
        "30m",
        "--aht",
        "180s",
        "--patience",
        "300s",
        "--json",
    ]);
    ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"], "erlang-a");
    assert!(json["agents"].as_u64().unwrap() <= 14);
    assert!(json["p_abandon"].as_f64().unwrap() > 0.0);

    let out = switchboard(&["erlang", "--calls", "100", "--aht", "3 minutes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--aht"), "{}", text(&out.stderr));
}
