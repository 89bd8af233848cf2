//! The bot under test, when the runner starts it (`--bot "COMMAND"`): run by `sh -c`
//! with the Page's credentials in its environment, its stdout and stderr appended
//! to a log file, and waited for until its port accepts connections. Killed with
//! the run.

use anyhow::Context;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a bot may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct BotProcess {
    child: Child,
}

/// A free port on the loopback for the bot to listen on.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl BotProcess {
    pub async fn start(command: &str, environment: &[(&'static str, String)], port: u16, log: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(log).with_context(|| format!("cannot write the bot's log {}", log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .envs(environment.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the bot: sh -c {command:?}"))?;
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(Self { child });
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the bot exited ({status}) before listening on port {port}; its output:\n{}", tail(log));
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill().await;
                anyhow::bail!("the bot did not listen on 127.0.0.1:{port} (its $PORT) within {} s; its output:\n{}", START_TIMEOUT.as_secs(), tail(log));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The last lines of a log, to show why a bot did not start.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].iter().map(|line| format!("  | {line}")).collect::<Vec<_>>().join("\n")
}
