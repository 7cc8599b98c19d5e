//! End-to-end tests of the `switchboard` binary's offline commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).output().expect("run switchboard")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/contact-center.toml")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_check_accepts_the_shipped_example() {
    let out = switchboard(&["config", "check", example().to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(": ok (4 queues, 4 agents"), "{stdout}");
}

#[test]
fn config_check_names_file_line_and_field_of_each_problem() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[[queues]]\nid = \"sales\"\nskills = { sales = 1 }\npolicy = \"sideways\"\n",
    )
    .unwrap();
    let out = switchboard(&["config", "check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected_prefix = format!("{}:4:", path.display());
    assert!(stderr.contains(&expected_prefix), "{stderr}");
    assert!(stderr.contains("sideways"), "{stderr}");
}

#[test]
fn config_check_reports_a_missing_file_by_name() {
    let out = switchboard(&["config", "check", "/nonexistent/switchboard.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/switchboard.toml"));
}

#[test]
fn route_dry_run_walks_the_menu_and_connects_an_agent() {
    let config = example();
    let out = switchboard(&[
        "route",
        "--config",
        config.to_str().unwrap(),
        "--to",
        "+18005550100",
        "--from",
        "+14155550123",
        "--digits",
        "1,1234567",
        "--at",
        "2026-11-23T15:00:00Z",
        "--json",
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["action"], "connect");
    assert_eq!(decision["offer"]["agent"], "ana");
    assert_eq!(decision["offer"]["queue"], "billing");
    let notes: Vec<&str> =
        decision["trace"].as_array().unwrap().iter().map(|s| s["note"].as_str().unwrap()).collect();
    assert!(notes.contains(&"collected account=1234567"), "{notes:?}");
}

#[test]
fn route_rejects_an_unknown_dialed_number() {
    let config = example();
    let out = switchboard(&[
        "route",
        "--config",
        config.to_str().unwrap(),
        "--to",
        "+10000000000",
        "--from",
        "+14155550123",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("+10000000000"), "{}", text(&out.stderr));
}
