//! `switchboard test` through the real binary, with the example echo bot as a
//! separate process: the example suite passes; a failing suite shows the exact diff
//! and the refused call's Graph error; JUnit XML parses; `--jobs 1` and `--jobs 8`
//! agree; a suite in Botium's own format runs unchanged; a Botium feature we cannot
//! run is refused with its line; and the same suite runs against a served node.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace")
}

fn echo_bot() -> String {
    let bot = Path::new(BIN).with_file_name(format!("echo-bot{}", std::env::consts::EXE_SUFFIX));
    assert!(bot.exists(), "build the binaries first: cargo build --workspace --bins ({} is missing)", bot.display());
    bot.display().to_string()
}

fn examples() -> PathBuf {
    workspace().join("examples/echo-bot/convos")
}

fn suite(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convos").join(name)
}

fn switchboard_test(args: &[&str]) -> Output {
    std::process::Command::new(BIN).arg("test").args(args).stdin(Stdio::null()).output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!("--- stdout\n{}\n--- stderr\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Each test case of a JUnit file: its name, and whether it holds a failure.
fn junit_cases(path: &Path) -> BTreeMap<String, bool> {
    let xml = std::fs::read_to_string(path).expect("the JUnit file");
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("JUnit XML that parses ({e}):\n{xml}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    document
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .map(|case| (case.attribute("name").expect("a name").to_string(), case.children().any(|c| c.has_tag_name("failure"))))
        .collect()
}

/// Removes the bot's log a run named (it outlives the run).
fn remove_bot_log(report: &str) {
    if let Some(log) = report.lines().find_map(|line| line.strip_prefix("The bot's output: ")) {
        let _ = std::fs::remove_file(log);
    }
}

/// The directory a failed run kept, from its report.
fn kept_directory(stdout: &str) -> PathBuf {
    let line = stdout.lines().find(|line| line.starts_with("The run's store is kept in ")).unwrap_or_else(|| panic!("no kept store in:\n{stdout}"));
    PathBuf::from(line.trim_start_matches("The run's store is kept in ").trim_end_matches(": open it with"))
}

#[test]
fn the_echo_bots_example_conversations_pass_with_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let output = switchboard_test(&[examples().to_str().unwrap(), "--bot", &echo_bot(), "--junit", junit.to_str().unwrap()]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("8 conversations: 8 passed, 0 failed"), "{report}");
    let cases = junit_cases(&junit);
    assert_eq!(cases.len(), 8, "{cases:?}");
    assert!(cases.values().all(|failed| !failed), "{cases:?}");
    assert!(cases.contains_key("A reminder after the 24-hour window is refused"), "{cases:?}");
    assert!(!report.contains("kept in"), "a passing run removes its store: {report}");
    let log = report.lines().find_map(|line| line.strip_prefix("The bot's output: ")).unwrap_or_else(|| panic!("no bot log in {report}"));
    assert!(std::fs::read_to_string(log).unwrap().contains("listening on"), "the bot's stdout is in its log");
    std::fs::remove_file(log).unwrap();
}

#[test]
fn a_failing_suite_shows_the_diff_and_the_refused_call() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let output = switchboard_test(&[suite("failing").to_str().unwrap(), "--bot", &echo_bot(), "--jobs", "1", "--timeout", "3s", "--junit", junit.to_str().unwrap()]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("3 conversations: 1 passed, 2 failed"), "{report}");
    // The step, then expected and arrived side by side.
    let wrong = suite("failing").join("wrong_echo.convo.txt");
    assert!(report.contains(&format!("#bot at {}:6: the bot's message is not the one expected", wrong.display())), "{report}");
    let diff = report.lines().find(|line| line.contains("echo: goodbye")).unwrap_or_else(|| panic!("no diff line in {report}"));
    assert!(diff.trim_start().starts_with('≠') && diff.trim_end().ends_with("| echo: hello"), "{diff}");
    // The refused carousel: the Graph error the bot received and the body it sent.
    assert!(report.contains("the bot tried to answer, and the platform refused its call"), "{report}");
    let refusal = report.lines().find(|line| line.contains("the platform refused the bot's POST")).unwrap_or_else(|| panic!("no refusal in {report}"));
    assert!(refusal.contains("HTTP 400") && refusal.contains("\"code\":100") && refusal.contains("[elements][10]"), "{refusal}");
    let sent = report.lines().find(|line| line.contains("the bot sent:")).unwrap_or_else(|| panic!("no body in {report}"));
    assert!(sent.contains("\"Card 11\"") && !sent.contains("access_token"), "{sent}");
    let cases = junit_cases(&junit);
    assert_eq!(cases.values().filter(|failed| **failed).count(), 2, "{cases:?}");
    assert_eq!(cases.get("The one that passes"), Some(&false), "{cases:?}");
    // The failed run keeps its store and the bot's log, to open the conversation.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let kept = kept_directory(&stdout);
    assert!(kept.join("data").is_dir(), "{}", kept.display());
    let log = stdout.lines().find_map(|line| line.strip_prefix("The bot's output: ")).unwrap_or_else(|| panic!("no bot log in {stdout}"));
    assert!(std::fs::read_to_string(log).unwrap().contains("the Graph API refused"), "the bot logged its refused call");
    std::fs::remove_file(log).unwrap();
    assert!(stdout.contains("sign in as sbtest-"), "{stdout}");
    std::fs::remove_dir_all(kept).unwrap();
}

#[test]
fn a_bot_that_refuses_the_signature_shows_the_webhook_failures() {
    // The bot is started with another app secret: it answers every webhook 401.
    let bot = format!("APP_SECRET=not-the-secret exec {}", echo_bot());
    let output = switchboard_test(&[suite("failing").join("passes.convo.txt").to_str().unwrap(), "--bot", &bot, "--timeout", "3s"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("no answer from the bot within 3 s"), "{report}");
    assert!(report.contains("webhook deliveries to the bot failed: HTTP 401") || report.contains("a webhook delivery to the bot failed: HTTP 401"), "{report}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::remove_dir_all(kept_directory(&stdout)).unwrap();
    remove_bot_log(&stdout);
}

#[test]
fn one_job_and_eight_jobs_give_the_same_verdicts() {
    let verdicts = |jobs: &str| -> BTreeMap<String, String> {
        let output = switchboard_test(&[examples().to_str().unwrap(), suite("failing").to_str().unwrap(), "--bot", &echo_bot(), "--jobs", jobs, "--timeout", "3s", "--json"]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&output)));
        if let Some(kept) = report["kept"].as_str().and_then(|k| k.lines().next()).and_then(|l| l.strip_prefix("The run's store is kept in ")) {
            let _ = std::fs::remove_dir_all(kept.trim_end_matches(": open it with"));
        }
        let _ = std::fs::remove_file(report["bot_log"].as_str().expect("the bot's log"));
        report["conversations"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string())).collect()
    };
    let one = verdicts("1");
    assert_eq!(one.len(), 11, "{one:?}");
    assert_eq!(one.values().filter(|v| *v == "failed").count(), 2, "{one:?}");
    assert_eq!(verdicts("8"), one);
}

#[test]
fn a_suite_in_botiums_own_format_runs_unchanged() {
    let output = switchboard_test(&[suite("botium").to_str().unwrap(), "--bot", &echo_bot()]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("3 conversations: 3 passed, 0 failed"), "{report}");
    remove_bot_log(&report);
}

#[test]
fn a_botium_feature_that_needs_a_service_is_refused_with_its_line() {
    let output = switchboard_test(&[suite("unsupported").to_str().unwrap(), "--bot", &echo_bot()]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(2), "{report}");
    let file = suite("unsupported").join("intent.convo.txt");
    assert!(report.contains(&format!("{}:7", file.display())) && report.contains("INTENT"), "{report}");
}

#[tokio::test]
async fn the_suite_runs_against_a_served_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--virtual-clock", "--data"])
        .arg(dir.path())
        // The bot listens on this machine's loopback.
        .env("SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let (mut operator, mut url) = (None, None);
    tokio::time::timeout(Duration::from_secs(30), async {
        while url.is_none() {
            let line = lines.next_line().await.unwrap().expect("the node prints its address");
            if let Some(token) = line.strip_prefix("Operator credential (shown once; keep it safe): ") {
                operator = Some(token.trim().to_string());
            }
            if let Some(address) = line.strip_prefix("Switchboard is listening on ") {
                url = Some(address.trim().to_string());
            }
        }
    })
    .await
    .expect("the node starts");
    let (operator, url) = (operator.expect("the operator credential"), url.unwrap());
    let examples = examples();
    let convos = [examples.join("get_started.convo.txt"), examples.join("window.convo.txt")];
    let output = tokio::process::Command::new(BIN)
        .arg("test")
        .args(&convos)
        .args(["--server", &url, "--operator-token", &operator, "--bot", &echo_bot()])
        .output()
        .await
        .unwrap();
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("2 conversations: 2 passed, 0 failed"), "{report}");
    remove_bot_log(&report);
    let _ = node.kill().await;
}

#[tokio::test]
async fn a_bot_started_by_other_means_takes_the_runs_environment_file() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("bot.env");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let webhook = format!("http://127.0.0.1:{port}/webhook");
    let runner = tokio::process::Command::new(BIN)
        .arg("test")
        .arg(examples().join("from_a_link.convo.txt"))
        .args(["--webhook", &webhook, "--env-file"])
        .arg(&env_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The developer starts the bot once the run has written its credentials.
    let environment = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&env_file) {
                if text.contains("PORT=") {
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the run writes the bot's environment");
    let mut bot = tokio::process::Command::new(echo_bot());
    for line in environment.lines() {
        let (name, value) = line.split_once('=').expect("NAME=value");
        bot.env(name, value);
    }
    assert!(environment.contains(&format!("PORT={port}\n")), "{environment}");
    let _bot = bot.stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true).spawn().unwrap();
    let output = tokio::time::timeout(Duration::from_secs(60), runner.wait_with_output()).await.expect("the run ends").unwrap();
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("1 conversation: 1 passed, 0 failed"), "{report}");
}
