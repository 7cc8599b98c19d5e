//! End-to-end tests of `switchboard schedule`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-schedule-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A staffing CSV as `switchboard staff` writes it: two queues, Monday 08:00-20:00 in 15-minute
/// intervals, a midday peak.
fn staffing(dir: &Path) -> PathBuf {
    let mut csv = String::from(
        "interval_start,queue,calls,aht_s,required_agents,scheduled_agents,service_level,asa_s,occupancy\n",
    );
    for quarter in 0..48u32 {
        let hour = 8 + quarter / 4;
        let minute = (quarter % 4) * 15;
        let peak = if (11..15).contains(&hour) { 3 } else { 1 };
        for (queue, extra) in [("sales", 0), ("support", 1)] {
            let required = peak + extra;
            let _ = writeln!(
                csv,
                "2026-11-23T{hour:02}:{minute:02}:00+01:00,{queue},20,300,{required},{},0.8,15,0.7",
                required + 1
            );
        }
    }
    let path = dir.join("staffing.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

const SHIFTS: &str = r#"
[[shift]]
name = "day"
length = "8h"
start = { earliest = "08:00", latest = "12:00", step = "15m" }
[[shift.break]]
name = "lunch"
length = "30m"
earliest = "3h30m"
latest = "4h30m"
paid = false

[[shift]]
name = "part"
length = "4h"
cost = 5.0
start = { earliest = "08:00", latest = "16:00", step = "15m" }

[roster]
min_rest = "11h"
"#;

fn shifts(dir: &Path) -> PathBuf {
    let path = dir.join("shifts.toml");
    std::fs::write(&path, SHIFTS).unwrap();
    path
}

#[test]
fn schedules_and_writes_shifts_coverage_and_chart() {
    let dir = scratch("ok");
    let (staffing, shifts) = (staffing(&dir), shifts(&dir));
    let out = dir.join("shifts.csv");
    let result = switchboard(&[
        "schedule",
        "--staffing",
        staffing.to_str().unwrap(),
        "--shifts",
        shifts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--time-limit",
        "20s",
    ]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    let stdout = text(&result.stdout);
    for expected in ["cost:", "agent-hours:", "0 under", "LP lower bound:", "gap:"] {
        assert!(stdout.contains(expected), "{expected} missing in {stdout}");
    }
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.starts_with(
            "shift,template,start,end,paid_hours,cost,break_1_name,break_1_start,break_1_end\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("+01:00"), "times keep the input's offset: {csv}");
    let coverage = std::fs::read_to_string(dir.join("shifts-coverage.csv")).unwrap();
    assert_eq!(coverage.lines().count(), 49);
    // Summed over both queues from scheduled_agents: 08:00 needs 1+1 + 2+1 = 5.
    assert!(
        coverage.lines().nth(1).unwrap().starts_with("2026-11-23T08:00:00+01:00,5,"),
        "{coverage}"
    );
    let svg = std::fs::read_to_string(dir.join("shifts-coverage.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("required"));
}

#[test]
fn one_queue_raw_column_as_json() {
    let dir = scratch("json");
    let (staffing, shifts) = (staffing(&dir), shifts(&dir));
    let out = dir.join("shifts.json");
    let coverage = dir.join("cov.csv");
    let result = switchboard(&[
        "schedule",
        "--staffing",
        staffing.to_str().unwrap(),
        "--shifts",
        shifts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--coverage",
        coverage.to_str().unwrap(),
        "--queue",
        "sales",
        "--column",
        "required_agents",
    ]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(!json.as_array().unwrap().is_empty());
    assert!(json[0]["start"].as_str().unwrap().starts_with("2026-11-23T"));
    let coverage = std::fs::read_to_string(&coverage).unwrap();
    assert!(
        coverage.lines().nth(1).unwrap().starts_with("2026-11-23T08:00:00+01:00,1,"),
        "{coverage}"
    );
}

#[test]
fn rosters_agents_and_reports_what_is_left() {
    let dir = scratch("roster");
    let (staffing, shifts) = (staffing(&dir), shifts(&dir));
    let agents = dir.join("agents.csv");
    std::fs::write(
        &agents,
        "agent,min_hours,max_hours,skills,availability\nana,0,40,,\nbea,0,40,,mon 08:00-12:00\n",
    )
    .unwrap();
    let out = dir.join("shifts.csv");
    let result = switchboard(&[
        "schedule",
        "--staffing",
        staffing.to_str().unwrap(),
        "--shifts",
        shifts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--agents",
        agents.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "stderr: {}", text(&result.stderr));
    let stdout = text(&result.stdout);
    assert!(stdout.contains("roster:          2 agents"), "{stdout}");
    assert!(stdout.contains("unassigned"), "two agents cannot work every shift: {stdout}");
    let roster = std::fs::read_to_string(dir.join("shifts-roster.csv")).unwrap();
    assert!(roster.starts_with("shift,agent,template,start,end,paid_hours\n"));
    assert!(roster.contains(",ana,"), "{roster}");
}

#[test]
fn bad_input_names_file_line_and_column() {
    let dir = scratch("bad");
    let shifts = shifts(&dir);
    let staffing = dir.join("staffing.csv");
    std::fs::write(
        &staffing,
        "interval_start,queue,calls,aht_s,required_agents,scheduled_agents,service_level,asa_s,occupancy\n\
         2026-11-23T08:00:00+01:00,sales,1,1,1,1,1,1,1\n\
         2026-11-23T08:15:00+01:00,sales,1,1,1,x,1,1,1\n",
    )
    .unwrap();
    let out = dir.join("shifts.csv");
    let run = |staffing: &Path, shifts: &Path, extra: &[&str]| {
        let mut args = vec![
            "schedule",
            "--staffing",
            staffing.to_str().unwrap(),
            "--shifts",
            shifts.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let result = switchboard(&args);
        assert!(!result.status.success());
        text(&result.stderr)
    };
    let stderr = run(&staffing, &shifts, &[]);
    assert!(
        stderr.contains(&format!(
            "{}:3: scheduled_agents: \"x\" is not a number",
            staffing.display()
        )),
        "{stderr}"
    );
    let good = self::staffing(&dir);
    let stderr = run(&good, &shifts, &["--queue", "billing"]);
    assert!(stderr.contains("no rows for queue \"billing\""), "{stderr}");
    let bad_shifts = dir.join("bad.toml");
    std::fs::write(&bad_shifts, "[[shift]]\nname = \"a\"\nlength = \"4h\"\nstart = { earliest = \"8am\", latest = \"09:00\" }\n").unwrap();
    let stderr = run(&good, &bad_shifts, &[]);
    assert!(
        stderr.contains(&format!("{}:1: shift[0].start.earliest", bad_shifts.display())),
        "{stderr}"
    );
    let stderr = run(&good, &shifts, &["--time-limit", "soon"]);
    assert!(stderr.contains("not a time limit"), "{stderr}");
}

#[test]
fn shipped_examples_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
    let shifts = std::fs::read_to_string(root.join("shifts.toml")).unwrap();
    let file = switchboard_wfm::schedule::parse_shift_file(&shifts).unwrap();
    assert_eq!(file.templates.len(), 2);
    let agents = std::fs::File::open(root.join("agents.csv")).unwrap();
    assert!(!switchboard_wfm::schedule::roster::parse_agents_csv(agents).unwrap().is_empty());
}
