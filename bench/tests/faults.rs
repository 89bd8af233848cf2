//! The fault suite at its small size, as CI runs it: the real `faultsuite` binary
//! against real `switchboard` processes (SQLite, and two nodes on the test
//! PostgreSQL), a few faults of each kind. Its seed is printed, so a failure here
//! is repeated with `faultsuite --seed N`.

use serde_json::Value;
use std::process::Command;

#[test]
fn the_platform_keeps_its_promise_through_a_few_faults_of_each_kind() {
    let postgres = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    let engines = match (&postgres, std::env::var("SWITCHBOARD_TEST_SKIP_POSTGRES").ok().filter(|reason| !reason.trim().is_empty())) {
        (Some(_), _) => "sqlite,postgres",
        (None, Some(reason)) => {
            eprintln!("the fault suite's PostgreSQL runs SKIPPED: {reason} (SWITCHBOARD_TEST_SKIP_POSTGRES)");
            "sqlite"
        }
        (None, None) => panic!("the fault suite needs SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets one up), or SWITCHBOARD_TEST_SKIP_POSTGRES with the reason to skip"),
    };
    let out = tempfile::tempdir().expect("a temporary directory");
    let status = Command::new(env!("CARGO_BIN_EXE_faultsuite"))
        .args(["--size", "small", "--engines", engines])
        .arg("--out")
        .arg(out.path())
        .status()
        .expect("faultsuite runs (cargo build --workspace --bins builds the switchboard binary it starts)");
    let report = std::fs::read_to_string(out.path().join("FAULTS.md")).unwrap_or_default();
    assert!(status.success(), "the fault suite found the promise broken:\n{report}");
    let results: Value = serde_json::from_slice(&std::fs::read(out.path().join("faults.json")).expect("faults.json")).expect("JSON");
    let runs = results["runs"].as_array().expect("runs");
    // kill, pause, receivers and clock on each engine; the database on PostgreSQL;
    // the disk on SQLite.
    let expected_runs = if engines.contains("postgres") { 10 } else { 5 };
    assert_eq!(runs.len(), expected_runs, "every fault kind ran on every engine:\n{report}");
    for run in runs {
        let counts = &run["counts"];
        assert!(run["injected"].as_u64() > Some(0), "faults were injected: {run}");
        assert!(counts["acknowledged"].as_u64() > Some(0), "the load ran: {run}");
        assert_eq!(counts["lost"], 0, "nothing acknowledged was lost: {run}");
        assert_eq!(counts["out_of_order"], 0, "every thread kept its order: {run}");
        assert_eq!(counts["delivered"], counts["acknowledged"], "every acknowledged write reached its bot: {run}");
    }
}
