//! `switchboard migrate-data` through the real binary: an installation built over
//! HTTP on a SQLite node moves to PostgreSQL and is served from there (tokens, the
//! operator credential, history, a webhook left pending); a copy killed half-way
//! leaves the target empty and simply runs again; a target with rows is refused.
//!
//! Needs SWITCHBOARD_TEST_POSTGRES_URL (scripts/test sets it up) and the built
//! binaries (cargo build --workspace --bins).

use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use switchboard_testkit::{eventually, fresh_database, switchboard_binary, Listening, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A `switchboard serve` process on a data directory, on SQLite or on `database_url`.
struct Serve {
    child: Child,
    url: String,
    /// Printed by the first node of an installation only.
    operator: Option<String>,
}

impl Serve {
    async fn start(data: &Path, database_url: Option<&str>) -> Self {
        let mut command = Command::new(switchboard_binary());
        command.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(data);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command
            .env("SWITCHBOARD_LOG", "warn")
            // The tests' receivers listen on loopback.
            .env("SWITCHBOARD_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true")
            .env("SWITCHBOARD_WEBHOOKS__TIMEOUT_SECS", "2")
            .env("SWITCHBOARD_WEBHOOKS__RETRY_INITIAL_MS", "100")
            .env("SWITCHBOARD_WEBHOOKS__RETRY_MAX_MS", "300");
        let Listening { child, url, operator } = Listening::spawn(command).await;
        Self { child, url, operator }
    }

    /// SIGTERM, and a clean exit: the way an operator stops a node before moving it.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await.expect("the node stops").expect("wait");
        assert!(exit.success(), "a clean stop: {exit:?}");
    }
}

fn migrate_command(data: &Path, to: &str, schema: Option<&str>) -> Command {
    let mut command = Command::new(switchboard_binary());
    command.args(["migrate-data", "--from"]).arg(data).args(["--to", to]);
    if let Some(schema) = schema {
        command.args(["--schema", schema]);
    }
    command.env("SWITCHBOARD_LOG", "warn").kill_on_drop(true);
    command
}

async fn migrate(data: &Path, to: &str, schema: Option<&str>) -> Output {
    tokio::time::timeout(Duration::from_secs(120), migrate_command(data, to, schema).output()).await.expect("migrate-data ends").expect("migrate-data runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The per-table counts migrate-data printed.
fn summary(stdout: &str) -> BTreeMap<String, i64> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("table "))
        .skip(1)
        .take_while(|line| !line.starts_with("total "))
        .map(|line| {
            let (table, rows) = line.split_once(' ').expect("table and rows");
            (table.to_string(), rows.trim().parse().expect("a count"))
        })
        .collect()
}

/// The test server, as for the other PostgreSQL tests; missing, the test fails.
fn postgres_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .expect("SWITCHBOARD_TEST_POSTGRES_URL names the test PostgreSQL (scripts/postgres-up prints one)")
}

fn fresh_schema(label: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("sb_migrate_{label}_{}_{nanos}", std::process::id())
}

/// A client on `url`, in `schema` when given.
async fn postgres(url: &str, schema: Option<&str>) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    if let Some(schema) = schema {
        config.options(format!("-c search_path={schema}"));
    }
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    client
}

/// Rows per table of the target's schema (the migrations' own table left out).
async fn target_counts(client: &tokio_postgres::Client) -> BTreeMap<String, i64> {
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name::text <> 'schema_migrations'",
            &[],
        )
        .await
        .expect("tables");
    let mut counts = BTreeMap::new();
    for row in tables {
        let table: String = row.get(0);
        let count: i64 = client.query_one(&format!("SELECT count(*) FROM \"{table}\""), &[]).await.expect("count").get(0);
        counts.insert(table, count);
    }
    counts
}

/// A SQLite installation with a bot, a person's thread and the bot's answer, built
/// over HTTP; the node is stopped. Answers the operator credential.
async fn sqlite_installation(data: &Path) -> String {
    let node = Serve::start(data, None).await;
    let operator = node.operator.clone().expect("a new installation prints its operator credential");
    let server = TestServer::external(&node.url, &operator);
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "hello").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hello").await["sender"]["id"].as_str().unwrap().to_string();
    let (status, answer) = server.send_text(&bot, &psid, "hi ann").await;
    assert_eq!(status, 200, "{answer}");
    node.stop().await;
    operator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_postgres_and_is_served_from_there() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let sqlite = Serve::start(data.path(), None).await;
    let operator = sqlite.operator.clone().expect("the operator credential");
    let server = TestServer::external(&sqlite.url, &operator);
    let bot = server.bot("shop", "messages").await;
    let ann_person = server.person("ann").await;
    let ann = server.sign_in(&ann_person).await;
    ann.send("shop", "before the move").await;
    let psid = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "before the move").await["sender"]["id"].as_str().unwrap().to_string();
    let (status, answer) = server.send_text(&bot, &psid, "answered on SQLite").await;
    assert_eq!(status, 200, "{answer}");
    sqlite.stop().await;

    let database = fresh_database("migrate_served").await;
    let started = std::time::Instant::now();
    let output = migrate(data.path(), &database, None).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "migrate-data failed: {stdout}\n{}", text(&output.stderr));
    eprintln!("migrated in {:?}:\n{stdout}", started.elapsed());
    assert!(stdout.contains("row counts verified"), "{stdout}");
    assert!(stdout.contains("master key") && stdout.contains("media_dir"), "the reminder: {stdout}");
    let counts = summary(&stdout);
    assert_eq!(counts.len(), 44, "every table but the migrations' own: {counts:?}");
    assert!(!counts.contains_key("schema_migrations"));
    assert_eq!(counts["messages"], 2);
    assert_eq!(counts["persons"], 2, "the bot's admin and ann");
    assert_eq!(target_counts(&postgres(&database, None).await).await, counts, "PostgreSQL holds what was printed");

    // The same data directory: the same master key and media_dir.
    let pg = Serve::start(data.path(), Some(&database)).await;
    assert!(pg.operator.is_none(), "the operator credential moved with the installation");
    let server = TestServer::external(&pg.url, &operator);
    // The Page token issued on SQLite works for the Send API.
    let (status, answer) = server.send_text(&bot, &psid, "answered on PostgreSQL").await;
    assert_eq!(status, 200, "{answer}");
    // Ann signs in with her password; the old messages are listed.
    let ann = server.sign_in(&ann_person).await;
    let history = ann.history("shop").await.to_string();
    for text in ["before the move", "answered on SQLite", "answered on PostgreSQL"] {
        assert!(history.contains(text), "{text:?} in {history}");
    }
    // The Page sees the thread through the Graph API too.
    let (status, conversations) = server.graph_call(Method::GET, "/me/conversations?fields=messages%7Bmessage%7D", Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{conversations}");
    assert!(conversations.to_string().contains("before the move"), "{conversations}");
    // Webhooks flow, and new rows take ids after the copied ones.
    ann.send("shop", "after the move").await;
    bot.receiver.wait_for("a message written on PostgreSQL", |e| e["message"]["text"] == "after the move").await;
    let bob = server.person("bob").await;
    assert!(bob.id > ann_person.id, "a new person's id {} follows the copied ones ({})", bob.id, ann_person.id);
    let apps = server.console(Method::GET, "/apps", Value::Null).await;
    assert!(apps.to_string().contains(&bot.app.id), "{apps}");
    pg.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_pending_before_the_move_is_delivered_after_it() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let sqlite = Serve::start(data.path(), None).await;
    let server = TestServer::external(&sqlite.url, &sqlite.operator.clone().unwrap());
    let bot = server.bot("shop", "messages").await;
    let ann = server.sign_in(&server.person("ann").await).await;
    bot.receiver.fail_with(500);
    let mid = ann.send("shop", "while the bot is down").await["mid"].as_str().unwrap().to_string();
    eventually("a failed attempt", || {
        let failed = bot.receiver.posts().iter().filter(|p| p.answered == 500).count() >= 2;
        async move { failed.then_some(()) }
    })
    .await;
    sqlite.stop().await;
    assert!(bot.receiver.acknowledged_events().is_empty(), "nothing acknowledged before the move");

    let database = fresh_database("migrate_pending").await;
    let output = migrate(data.path(), &database, None).await;
    assert!(output.status.success(), "migrate-data failed: {}\n{}", text(&output.stdout), text(&output.stderr));
    let counts = summary(&text(&output.stdout));
    assert!(counts["outbox"] >= 1 && counts["delivery_attempts"] >= 1, "the event and its failed attempts moved: {counts:?}");

    bot.receiver.fail_with(0);
    let pg = Serve::start(data.path(), Some(&database)).await;
    let event = bot.receiver.wait_for("the pending event, delivered from PostgreSQL", |e| e["message"]["mid"] == mid.as_str()).await;
    assert_eq!(event["message"]["text"], "while the bot is down");
    pg.stop().await;
    let delivered = bot.receiver.acknowledged_events().iter().filter(|e| e["message"]["mid"] == mid.as_str()).count();
    assert_eq!(delivered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_half_way_leaves_the_target_empty_and_runs_again() {
    let data = tempfile::tempdir().expect("a temporary directory");
    sqlite_installation(data.path()).await;
    let url = postgres_url();
    let schema = fresh_schema("crash");

    // Killed with SIGKILL after `messages` was copied, its transaction open.
    let mut command = migrate_command(data.path(), &url, Some(&schema));
    command.args(["--stall-after", "messages"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().expect("migrate-data runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if line.starts_with("stalling after messages") {
                return;
            }
        }
        panic!("migrate-data ended without reaching messages");
    })
    .await
    .expect("the copy reaches messages");
    let client = postgres(&url, Some(&schema)).await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let counts = target_counts(&client).await;
    assert_eq!(counts.len(), 44, "{counts:?}");
    assert!(counts.values().all(|n| *n == 0), "nothing of the killed copy stays: {counts:?}");

    // Run again, from scratch.
    let output = migrate(data.path(), &url, Some(&schema)).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "the second run failed: {stdout}\n{}", text(&output.stderr));
    let printed = summary(&stdout);
    assert!(printed["messages"] == 2 && printed["outbox"] >= 1, "{printed:?}");
    assert_eq!(target_counts(&client).await, printed);

    // A third run finds the rows of the second.
    let output = migrate(data.path(), &url, Some(&schema)).await;
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("is not empty"), "{}", text(&output.stderr));
    assert_eq!(target_counts(&client).await, printed, "a refused run changes nothing");
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_rows_is_refused() {
    let data = tempfile::tempdir().expect("a temporary directory");
    sqlite_installation(data.path()).await;
    // A node ran on the target already: it holds its own operator credential.
    let database = fresh_database("migrate_refused").await;
    let other = tempfile::tempdir().expect("a temporary directory");
    let node = Serve::start(other.path(), Some(&database)).await;
    assert!(node.operator.is_some());
    let server = TestServer::external(&node.url, node.operator.as_deref().unwrap());
    server.person("zoe").await;
    node.stop().await;
    let client = postgres(&database, None).await;
    let before = target_counts(&client).await;

    let output = migrate(data.path(), &database, None).await;
    assert_eq!(output.status.code(), Some(1), "refused with a failure status");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("the target database is not empty"), "a clear message: {stderr}");
    assert!(stderr.contains("operators") && stderr.contains("persons"), "it names the tables with rows: {stderr}");
    assert!(!text(&output.stdout).contains("Copied"), "{}", text(&output.stdout));
    assert_eq!(target_counts(&client).await, before, "nothing was written");
    assert_eq!(before["persons"], 1);
}
