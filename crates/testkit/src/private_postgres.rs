//! A PostgreSQL server of the test's own (Debian's `initdb` and `pg_ctl` on a
//! temporary directory and a free port), so that a fault test can stop, kill and
//! restart it under load without touching the server other tests share. Missing
//! binaries fail loudly: a fault test that cannot inject its fault proves nothing.
//! With it, what a fault test checks afterwards: which acknowledged messages the
//! database lacks, and whether an answer is the transient error that says to retry.

use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// How PostgreSQL is shut down (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Open sessions are ended with `57P01 admin_shutdown`, a checkpoint is written.
    Fast,
    /// Every process is killed at once; the next start runs crash recovery.
    Immediate,
}

impl Shutdown {
    fn mode(self) -> &'static str {
        match self {
            Shutdown::Fast => "fast",
            Shutdown::Immediate => "immediate",
        }
    }
}

/// The database the nodes use on the private server.
const DATABASE: &str = "switchboard";

/// A running PostgreSQL server in a temporary directory, stopped (immediately) and
/// removed when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    /// Holds `data/` (the cluster, also its socket directory) and `server.log`;
    /// owned by `postgres` when the test runs as root (PostgreSQL refuses root).
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Initializes a cluster (trust authentication on 127.0.0.1, small buffers, fsync
    /// on), starts it on a free port and creates the `switchboard` database.
    pub async fn start() -> Self {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new().prefix("sb-private-pg-").tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        if is_root() {
            // The postgres user must own the directory and be able to reach it.
            run_checked(Command::new("chown").args(["postgres:postgres"]).arg(dir.path()), "chown the directory to postgres").await;
            run_checked(Command::new("chmod").arg("700").arg(dir.path()), "chmod the directory").await;
        }
        let this = Self { bin, port: free_port(), dir };
        let mut initdb = this.as_owner("initdb");
        initdb.args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"]).arg(&data);
        run_checked(&mut initdb, "initdb").await;
        let settings = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket}'\n\
             shared_buffers = 16MB\nfsync = on\nmax_connections = 100\nlogging_collector = off\n",
            port = this.port,
            socket = data.display(),
        );
        append(&data.join("postgresql.conf"), &settings);
        this.start_again().await;
        let (client, connection) = tokio_postgres::connect(&this.admin_url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("the private PostgreSQL answers: {e}\n{}", this.log()));
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await.expect("CREATE DATABASE on the private PostgreSQL");
        this
    }

    /// The URL of its `switchboard` database.
    pub fn url(&self) -> String {
        self.admin_url(DATABASE)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (`pg_ctl stop -m fast|immediate`) and waits until it is
    /// down; it stays down until [`start_again`](Self::start_again).
    pub async fn stop(&self, mode: Shutdown) {
        let mut stop = self.pg_ctl();
        stop.args(["stop", "-w", "-t", "60", "-m", mode.mode()]);
        run_checked(&mut stop, &format!("pg_ctl stop -m {}", mode.mode())).await;
    }

    /// Starts the stopped server again (running crash recovery after an immediate
    /// shutdown) and waits until it accepts connections.
    pub async fn start_again(&self) {
        let mut start = self.pg_ctl();
        start.args(["start", "-w", "-t", "60", "-l"]).arg(self.dir.path().join("server.log"));
        let output = run(&mut start).await;
        assert!(output.status.success(), "pg_ctl start failed: {}\n{}", describe(&output), self.log());
    }

    /// Stops the server with `mode` and starts it again at once.
    pub async fn restart(&self, mode: Shutdown) {
        self.stop(mode).await;
        self.start_again().await;
    }

    /// The server's log so far, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn admin_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self) -> Command {
        let mut pg_ctl = self.as_owner("pg_ctl");
        pg_ctl.arg("-D").arg(self.dir.path().join("data"));
        pg_ctl
    }

    /// A PostgreSQL program, run as `postgres` when the test runs as root.
    fn as_owner(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        // The server pg_ctl starts writes to its log file; nothing reads the test's input.
        command.stdin(std::process::Stdio::null());
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Synchronous: Drop cannot await, and the directory goes right after.
        let mut stop = std::process::Command::new(if is_root() { "runuser".into() } else { self.bin.join("pg_ctl") });
        if is_root() {
            stop.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
        }
        let _ = stop.arg("-D").arg(self.dir.path().join("data")).args(["stop", "-w", "-m", "immediate"]).output();
    }
}

/// Which of `mids` the `messages` table of the database at `url` does not hold: an
/// acknowledged message in this list was lost.
pub async fn missing_messages(url: &str, mids: &[String]) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("the database answers");
    tokio::spawn(connection);
    let rows = client.query("SELECT mid FROM messages WHERE mid = ANY($1)", &[&mids]).await.expect("the messages table");
    let stored: std::collections::HashSet<String> = rows.iter().map(|row| row.get(0)).collect();
    mids.iter().filter(|mid| !stored.contains(*mid)).cloned().collect()
}

/// Whether an answer is the refusal a client should retry: HTTP 503 with the Graph
/// envelope's code 2, `is_transient: true`, and a message that says to retry.
pub fn is_retry_later(status: u16, answer: &serde_json::Value) -> bool {
    let error = &answer["error"];
    status == 503
        && error["code"] == 2
        && error["is_transient"] == true
        && error["message"].as_str().is_some_and(|message| message.to_lowercase().contains("retry"))
}

/// The newest of Debian's PostgreSQL versions under `/usr/lib/postgresql`.
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("a private PostgreSQL needs Debian's server binaries (/usr/lib/postgresql/<version>/bin/initdb): apt-get install postgresql")
    })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A port free now on 127.0.0.1 (the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).expect("postgresql.conf is writable");
    file.write_all(text.as_bytes()).expect("postgresql.conf written");
}

async fn run(command: &mut Command) -> Output {
    command.output().await.unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

async fn run_checked(command: &mut Command, what: &str) {
    let output = run(command).await;
    assert!(output.status.success(), "{what} failed: {}", describe(&output));
}

fn describe(output: &Output) -> String {
    format!("{}\n{}{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
