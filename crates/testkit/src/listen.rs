//! `switchboard listen` as a real process: started from the built binary against a
//! server's URL, forwarding to a local receiver; its printed lines kept for the
//! test to read; killed with SIGKILL when the test says or when dropped. And a long
//! poll of the pull API in the background.

use crate::{switchboard_binary, TestApp};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ListenProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ListenProcess {
    /// Starts `switchboard listen --server <server> --app <app> --forward-to <url>`
    /// (with `extra` arguments; the secret through the environment) and waits until
    /// it is ready.
    pub async fn start(server: &str, app: &TestApp, forward_to: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(switchboard_binary());
        command
            .args(["listen", "--server", server, "--app", &app.id, "--forward-to", forward_to])
            .args(extra)
            .env("SWITCHBOARD_APP_SECRET", &app.secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("switchboard listen starts");
        let mut output = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let lines = Arc::new(Mutex::new(Vec::new()));
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let line = output.next_line().await.expect("the listener's output").expect("the listener exited before it was ready");
                let ready = line.starts_with("Ready!");
                lines.lock().unwrap().push(line);
                if ready {
                    return;
                }
            }
        })
        .await
        .expect("the listener is ready within 30 s");
        let kept = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = output.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGKILL: nothing is answered or closed cleanly.
    pub async fn kill_hard(mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }
}

/// `GET {graph}/{app}/updates?{query}` with the app token, in the background:
/// answers the JSON and how long the poll took.
pub fn long_poll(graph: &str, app: &TestApp, query: &str) -> tokio::task::JoinHandle<(serde_json::Value, Duration)> {
    let (url, token) = (format!("{graph}/{}/updates?{query}", app.id), format!("{}|{}", app.id, app.secret));
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let answer = reqwest::Client::new().get(url).bearer_auth(token).send().await.expect("the poll is answered").json().await.expect("JSON");
        (answer, started.elapsed())
    })
}
