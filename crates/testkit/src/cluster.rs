//! Several Switchboard nodes as real processes on one PostgreSQL database, for the
//! multi-node tests: started from the built `switchboard` binary, stopped with
//! SIGTERM or killed with SIGKILL.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The test database server's URL, from `SWITCHBOARD_TEST_POSTGRES_URL`. In CI a
/// missing server is a failure; elsewhere the caller decides.
pub fn postgres_url() -> Option<String> {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// Creates an empty database on the test server for one test; answers its URL.
pub async fn fresh_database(label: &str) -> String {
    let url = postgres_url().expect("SWITCHBOARD_TEST_POSTGRES_URL names the test PostgreSQL (scripts/postgres-up prints one)");
    fresh_database_on(&url, label).await
}

/// Creates an empty database beside the one `server` names (a URL ending in a
/// database); answers its URL. Named `sb_node_…`, which `scripts/postgres-up` drops
/// when it next runs.
pub async fn fresh_database_on(server: &str, label: &str) -> String {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls).await.expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    let name = format!("sb_node_{label}_{}_{}", std::process::id(), rand::random::<u32>());
    client.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.expect("CREATE DATABASE");
    let (base, _) = server.rsplit_once('/').expect("a database URL ends in /name");
    format!("{base}/{name}")
}

/// The `switchboard` binary built beside the caller (`cargo build --workspace
/// --bins`): a test runs from `target/<profile>/deps`, a program such as the fault
/// runner from `target/<profile>` itself.
pub fn switchboard_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the program's path");
    let name = format!("switchboard{}", std::env::consts::EXE_SUFFIX);
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(|dir| dir.join(&name)).collect();
    let found = candidates.iter().find(|binary| binary.exists());
    found.cloned().unwrap_or_else(|| panic!("build the binaries first: cargo build --workspace --bins ({} is missing)", candidates[0].display()))
}

/// A `switchboard serve` process once it has printed its address (and, as the
/// first node of an installation, its operator credential).
pub struct Listening {
    pub child: Child,
    pub url: String,
    pub operator: Option<String>,
}

impl Listening {
    /// Spawns `command` (a `switchboard serve`), killed when dropped, and reads its
    /// standard output until it listens; the rest of its output is drained.
    pub async fn spawn(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true).spawn().expect("the node starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut operator = None;
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let line = lines.next_line().await.expect("stdout").expect("the node printed its address");
                if let Some(token) = line.strip_prefix("Operator credential (shown once; keep it safe): ") {
                    operator = Some(token.trim().to_string());
                }
                if let Some(url) = line.strip_prefix("Switchboard is listening on ") {
                    return url.trim().to_string();
                }
            }
        })
        .await
        .expect("the node listens within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url, operator }
    }
}

/// A node process.
pub struct NodeProcess {
    child: Child,
    pub url: String,
    /// The operator credential, printed by the first node of a database only.
    pub operator: Option<String>,
    pub name: String,
}

/// A fixed master key shared by the nodes of one test installation.
pub const TEST_MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// What a node stores its data in.
#[derive(Debug, Clone)]
pub enum NodeStore {
    /// SQLite in this data directory (kept across restarts).
    Sqlite(PathBuf),
    /// The PostgreSQL database at this URL.
    Postgres(String),
}

impl NodeProcess {
    /// Starts `switchboard serve` on `database_url`, on a free port, with quick
    /// webhook timeouts (`timeout_secs`, lease = 3 x timeout) and retries.
    pub async fn start(name: &str, database_url: &str, timeout_secs: u64) -> Self {
        Self::start_on(name, &NodeStore::Postgres(database_url.to_string()), timeout_secs, &[]).await
    }

    /// Starts `switchboard serve` on `store` (a node restarted on the same store
    /// carries on where it stopped), with `env` added to the quick test settings.
    pub async fn start_on(name: &str, store: &NodeStore, timeout_secs: u64, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(switchboard_binary());
        command.args(["serve", "--listen", "127.0.0.1:0", "--data"]);
        match store {
            NodeStore::Sqlite(data) => {
                command.arg(data);
            }
            NodeStore::Postgres(url) => {
                let data = tempfile::tempdir().expect("temporary directory").keep();
                command.arg(data).args(["--database-url", url]);
            }
        }
        command
            .env("SWITCHBOARD_MASTER_KEY", TEST_MASTER_KEY)
            .env("SWITCHBOARD_NODE_ID", name)
            .env("SWITCHBOARD_LOG", "warn")
            // The tests' receivers listen on loopback.
            .env("SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true")
            .env("SWITCHBOARD_WEBHOOKS__TIMEOUT_SECS", timeout_secs.to_string())
            .env("SWITCHBOARD_WEBHOOKS__RETRY_INITIAL_MS", "100")
            .env("SWITCHBOARD_WEBHOOKS__RETRY_MAX_MS", "500")
            .env("SWITCHBOARD_DATABASE__CONNECT_TIMEOUT_MS", "1000");
        command.envs(env.iter().copied());
        let Listening { child, url, operator } = Listening::spawn(command).await;
        Self { child, url, operator, name: name.to_string() }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGSTOP: the node is frozen where it is, its connections open, its leases
    /// running out; [`NodeProcess::resume`] lets it carry on.
    pub async fn pause(&self) {
        self.signal("-STOP").await;
    }

    /// SIGCONT after [`NodeProcess::pause`].
    pub async fn resume(&self) {
        self.signal("-CONT").await;
    }

    async fn signal(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let status = Command::new("kill").arg(signal).arg(pid.to_string()).status().await.expect("kill runs");
            assert!(status.success(), "kill {signal} {pid}");
        }
    }

    /// SIGTERM, and the exit awaited (20 s at most): a graceful stop.
    pub async fn stop(mut self) {
        self.signal("-TERM").await;
        tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("the node stops within 20 s").expect("wait");
    }

    /// SIGKILL: no shutdown, leases left behind.
    pub async fn kill_hard(mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }
}

/// A TCP proxy the test can cut: to take the database away from a node and give it
/// back, without touching the database server other tests share.
pub struct TcpProxy {
    pub port: u16,
    gate: tokio::sync::watch::Sender<Gate>,
}

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    /// New connections are closed at once, as a server that is down refuses them.
    Refusing,
    /// New connections are accepted and never answered, as a host that is
    /// unreachable leaves them waiting (until the gate changes).
    Stalling,
}

impl TcpProxy {
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (gate, _) = tokio::sync::watch::channel(Gate::Open);
        let watching = gate.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut gate_state = watching.subscribe();
                let target = target.clone();
                let gate = *gate_state.borrow_and_update();
                match gate {
                    Gate::Refusing => continue, // dropped: refused
                    Gate::Stalling => {
                        tokio::spawn(async move {
                            let _held = inbound;
                            let _ = gate_state.changed().await;
                        });
                        continue;
                    }
                    Gate::Open => {}
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = gate_state.wait_for(|gate| *gate != Gate::Open) => {}
                    }
                });
            }
        });
        Self { port, gate }
    }

    /// Cuts every connection and refuses new ones (`false`), or lets them through.
    pub fn set_open(&self, open: bool) {
        self.gate.send_replace(if open { Gate::Open } else { Gate::Refusing });
    }

    /// Cuts every connection and leaves new ones unanswered, until [`set_open`](Self::set_open).
    pub fn stall(&self) {
        self.gate.send_replace(Gate::Stalling);
    }
}
