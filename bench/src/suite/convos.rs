//! `switchboard test` as a bot developer's CI runs it: `CONVERSATIONS` generated
//! conversations of ten steps each (five messages and five answers) against the
//! example echo bot, timed from the command's start to its exit (node start-up, the
//! bot's start, the setup and every conversation), once with `--jobs 1` and once
//! with the default (the number of cores).

use super::nodes;
use anyhow::Context;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Steps per generated conversation: five `#me`, five `#bot`.
const STEPS: usize = 10;

/// The target: the 200 conversations in under 10 s, start-up included.
pub const TARGET_SECONDS: f64 = 10.0;

/// Writes the conversations and times both runs.
pub async fn measure(work: &Path, conversations: usize) -> anyhow::Result<Value> {
    let dir = work.join("convos");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for n in 0..conversations {
        let mut text = format!("Generated conversation {n}\n");
        for step in 0..STEPS / 2 {
            let _ = write!(text, "\n#me\nmessage {step} of conversation {n}\n\n#bot\necho: message {step} of conversation {n}\n");
        }
        std::fs::write(dir.join(format!("c{n:04}.convo.txt")), text)?;
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut runs = Vec::new();
    for jobs in [1, cores] {
        eprintln!("  {conversations} conversations of {STEPS} steps, --jobs {jobs}");
        let started = Instant::now();
        let output = tokio::process::Command::new(nodes::bin_dir().join("switchboard"))
            .arg("test")
            .arg(&dir)
            .arg("--bot")
            .arg(nodes::bin_dir().join("echo-bot"))
            .args(["--jobs", &jobs.to_string()])
            .output()
            .await
            .context("running switchboard test")?;
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(output.status.success(), "switchboard test failed:\n{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        runs.push(json!({"jobs": jobs, "seconds": seconds, "conversations_per_second": conversations as f64 / seconds}));
    }
    Ok(json!({"conversations": conversations, "steps": STEPS, "runs": runs, "target_seconds": TARGET_SECONDS}))
}

/// The report's section.
pub fn section(md: &mut String, measured: &Value) {
    let Some(runs) = measured["runs"].as_array() else { return };
    let _ = writeln!(
        md,
        "## Conversation tests (`switchboard test`)\n\n{} generated conversations of {} steps each against the example echo bot, timed from the command's start to its exit: the embedded node's start-up, the bot's, the Page and webhook setup, a fresh person per conversation and every step.\n\n| jobs | seconds | conversations/s |\n|---|---|---|",
        measured["conversations"], measured["steps"]
    );
    for run in runs {
        let _ = writeln!(md, "| {} | {:.2} | {:.1} |", run["jobs"], run["seconds"].as_f64().unwrap_or(0.0), run["conversations_per_second"].as_f64().unwrap_or(0.0));
    }
    md.push('\n');
}

/// The target's verdict: the default run's time.
pub fn outcome(measured: &Value) -> Option<(String, bool)> {
    let runs = measured["runs"].as_array()?;
    let default = runs.last()?;
    let seconds = default["seconds"].as_f64()?;
    Some((format!("{} conversations in {seconds:.2} s with --jobs {}", measured["conversations"], default["jobs"]), seconds < TARGET_SECONDS))
}
