//! The processes a benchmark talks to: the bare baseline server and Switchboard
//! nodes (release builds beside this program), each started on a free loopback port,
//! and `switchboard listen` processes forwarding an app's webhooks to the bots; each
//! stopped when dropped. Also reads a process's memory from /proc, and resets its
//! peak so that each phase of the suite has a peak of its own.

use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The master key every node of one run shares (app secrets derive from it).
pub const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub struct Process {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// The operator credential a fresh Switchboard node printed.
    pub operator: Option<String>,
    /// The peak was reset when the last phase ended (or no phase ended yet).
    peak_is_phase_own: bool,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: a graceful stop, so the store is closed cleanly.
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// The directory of this program's binaries (target/release).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("target/release"))
}

async fn read_until(child: &mut Child, marker: &str, operator: &mut Option<String>) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(token) = line.strip_prefix("Operator credential (shown once; keep it safe): ") {
                *operator = Some(token.trim().to_string());
            }
            if let Some(rest) = line.split(marker).nth(1) {
                return Ok::<_, anyhow::Error>(rest.trim().to_string());
            }
        }
        anyhow::bail!("the process ended before saying {marker:?}")
    })
    .await
    .context("the process did not start in time")??;
    // Keep draining its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(found)
}

pub async fn start_baseline() -> anyhow::Result<Process> {
    let mut child = Command::new(bin_dir().join("baseline"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the baseline server (cargo build --release -p switchboard-bench)")?;
    let addr = read_until(&mut child, "listening on ", &mut None).await?;
    Ok(Process { child, url: format!("http://{addr}"), operator: None, peak_is_phase_own: true })
}

/// A `switchboard serve` node on `data` (SQLite there unless `database_url`). Its
/// log (warnings and errors; slow requests with their steps when the suite runs
/// with `SWITCHBOARD_HTTP__SLOW_REQUEST_MS`) goes to `node.log` there.
pub async fn start_switchboard(data: &Path, database_url: Option<&str>) -> anyhow::Result<Process> {
    std::fs::create_dir_all(data)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data.join("node.log")).context("opening the node's log")?;
    let mut command = Command::new(bin_dir().join("switchboard"));
    command.arg("serve").arg("--data").arg(data).arg("--listen").arg("127.0.0.1:0");
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    let mut child = command
        .env("SWITCHBOARD_MASTER_KEY", MASTER_KEY)
        .env("SWITCHBOARD_LOG", "warn")
        // The bots' webhook receivers listen on loopback.
        .env("SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting switchboard (cargo build --release --workspace --bins)")?;
    let mut operator = None;
    let url = read_until(&mut child, "Switchboard is listening on ", &mut operator).await?;
    Ok(Process { child, url, operator, peak_is_phase_own: true })
}

/// A `switchboard listen` process: one app's webhooks, forwarded to a bot's URL.
pub struct Listener {
    pub process: Process,
    /// Event lines it printed since it was ready (one per event forwarded), and those
    /// of them the bot did not answer with a 2xx.
    pub forwarded: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
}

/// Starts `switchboard listen` for `app` against the node at `server`, forwarding
/// to `forward_to` (the secret through the environment), and waits for its Ready
/// line; its output is drained (and its event lines counted) from then on.
pub async fn start_listener(server: &str, app: &str, secret: &str, forward_to: &str) -> anyhow::Result<Listener> {
    let mut child = Command::new(bin_dir().join("switchboard"))
        .args(["listen", "--server", server, "--app", app, "--forward-to", forward_to])
        .env("SWITCHBOARD_APP_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting switchboard listen (cargo build --release -p switchboard)")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("Ready!") {
                return Ok(());
            }
        }
        anyhow::bail!("switchboard listen ended before it was ready")
    })
    .await
    .context("switchboard listen was not ready within 30 s")??;
    let (forwarded, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (f, x) = (forwarded.clone(), failed.clone());
    // One line per event: `… → <status> <latency> ms  [event <id>]`.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((_, outcome)) = line.rsplit_once("[event ").and_then(|(head, _)| head.rsplit_once(" → ")) {
                f.fetch_add(1, Ordering::Relaxed);
                if !outcome.starts_with('2') {
                    x.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    Ok(Listener { process: Process { child, url: server.to_string(), operator: None, peak_is_phase_own: true }, forwarded, failed })
}

/// Resident and peak resident memory of a process, in MiB.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A node's memory at the end of one phase of the suite.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseMemory {
    pub node: String,
    pub phase: String,
    /// Peak resident (`VmHWM`) since the node's previous phase ended or it started.
    pub peak_mib: f64,
    pub resident_mib: f64,
    /// False where the peak could not be reset: then `peak_mib` is since the start.
    pub phase_own_peak: bool,
}

/// Records the peak of the phase that just ended on `process`, and starts the next.
pub fn end_phase(process: &mut Process, node: &str, phase: &str) -> PhaseMemory {
    let (resident_mib, peak_mib) = memory_mib(process.pid());
    let row = PhaseMemory { node: node.into(), phase: phase.into(), peak_mib, resident_mib, phase_own_peak: process.peak_is_phase_own };
    process.peak_is_phase_own = reset_peak(process.pid());
    row
}

/// Starts a new peak (`VmHWM`) for the process (Linux: 5 into `clear_refs`), so
/// that the next `memory_mib` reports the peak since now; false where refused.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The size of a SQLite store: the database file and its write-ahead log, in MiB.
pub fn store_mib(data: &Path) -> f64 {
    ["switchboard.db", "switchboard.db-wal"].iter().filter_map(|f| std::fs::metadata(data.join(f)).ok()).map(|m| m.len() as f64).sum::<f64>() / 1048576.0
}
