//! The `switchboard` command: `serve` and `demo` run a node; the other commands are
//! the operator's actions on the store of a data directory, printing JSON.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard::{demo, Node, Settings};
use switchboard_app::views::*;
use switchboard_app::{Actor, Platform, SystemClock};
use switchboard_domain::{AppId, AppMode, AppRole, PageId, PageRole, PersonId, ReceiverRole};

#[derive(Parser)]
#[command(name = "switchboard", version, about = "A self-hostable Messenger Platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: Graph, person and console APIs, webhook delivery.
    Serve(ServeArgs),
    /// Run a node with a demo Page, person and echo bot.
    Demo(ServeArgs),
    /// Apply the store's migrations and exit.
    Migrate(StoreArgs),
    /// Copy a whole installation from SQLite into an empty PostgreSQL database.
    ///
    /// Stop every node of the installation first: rows written after the copy
    /// would stay behind. While it reads, the SQLite file is locked against writes
    /// (a node caught writing for long makes the command refuse).
    /// Both stores are migrated to this build's schema first. Every table is copied
    /// in one PostgreSQL transaction: a run that fails or is interrupted leaves the
    /// target empty, so simply run it again. A target holding any row is refused.
    /// Row counts are verified before commit. Media files are not copied: the
    /// PostgreSQL nodes must use the same `media_dir` and the same master key.
    MigrateData(MigrateDataArgs),
    /// Persons: create.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Pages: create, admins, grants to apps.
    #[command(subcommand)]
    Page(PageCommand),
    /// Apps: create, show, roles, mode, user tokens.
    #[command(subcommand)]
    App(AppCommand),
    /// An app's webhook deliveries: health, recent errors, events, alerts, replay,
    /// delivery mode.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Forward an app's webhooks to a bot on this machine, through an outbound
    /// connection to the server: no public address needed.
    ///
    /// While it runs, the app's events go here instead of its callback URL; each is
    /// POSTed to --forward-to with exactly the body and both signatures the callback
    /// would get, and the bot's answer decides (a 2xx settles it, anything else is
    /// retried by the server). Options also come from the environment
    /// (SWITCHBOARD_SERVER, SWITCHBOARD_APP_ID, SWITCHBOARD_APP_SECRET or
    /// SWITCHBOARD_APP_TOKEN, SWITCHBOARD_FORWARD_TO) or a TOML file (--config, keys
    /// server, app_id, app_secret, app_token, forward_to, events).
    Listen(ListenArgs),
    /// Play conversations written as files (BotiumScript's `*.convo.txt`, with
    /// Switchboard's steps: docs/testing.md) against a bot, and exit non-zero if one
    /// fails (1: a conversation failed; 2: the run could not start).
    ///
    /// By default on an embedded node (a temporary SQLite store, the virtual clock):
    /// a Page, a live app and the bot's webhook are set up through the APIs, and each
    /// conversation is played by a fresh person.
    Test(TestArgs),
}

#[derive(Args)]
struct TestArgs {
    /// Conversation files or directories (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Start the bot with this command (`sh -c`), with PAGE_ACCESS_TOKEN, APP_SECRET,
    /// APP_ID, PAGE_ID, VERIFY_TOKEN (and their MESSENGER_ names), GRAPH_API_URL,
    /// GRAPH_API_ORIGIN and PORT in its environment.
    #[arg(long)]
    bot: Option<String>,
    /// The bot's webhook URL: the started bot's (default http://127.0.0.1:$PORT/webhook),
    /// or, without --bot, a bot started by other means, which takes this run's
    /// credentials from --env-file and is waited for (2 minutes) until it answers
    /// the webhook handshake.
    #[arg(long)]
    webhook: Option<String>,
    /// Write the bot's environment here as NAME=value lines (a .env file).
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// An existing installation instead of an embedded node, e.g. http://127.0.0.1:8080.
    #[arg(long, requires = "operator_token")]
    server: Option<String>,
    /// The installation's operator credential (with --server).
    #[arg(long, env = "SWITCHBOARD_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Conversations played at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// How long a #bot step waits for the bot: `10s`, `500ms` (default: botium.json's
    /// WAITFORBOTTIMEOUT, else 10 s).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// How #bot text is compared: wildcardIgnoreCase (default), wildcard,
    /// wildcardExact, wildcardExactIgnoreCase, include, includeIgnoreCase,
    /// includeLowerCase, equals, equalsIgnoreCase, regexp, regexpIgnoreCase.
    #[arg(long, value_parser = parse_matching_mode)]
    matching_mode: Option<switchboard_convo::MatchingMode>,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Print one JSON document instead of the text report.
    #[arg(long)]
    json: bool,
    /// Keep the run's store and logs even when every conversation passed.
    #[arg(long)]
    keep: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

fn parse_matching_mode(text: &str) -> Result<switchboard_convo::MatchingMode, String> {
    text.parse()
}

#[derive(Args)]
struct ListenArgs {
    /// The bot's webhook URL on this machine, e.g. http://localhost:3000/webhook.
    #[arg(long, env = "SWITCHBOARD_FORWARD_TO")]
    forward_to: Option<String>,
    /// The Switchboard server (default http://127.0.0.1:8080).
    #[arg(long, env = "SWITCHBOARD_SERVER")]
    server: Option<String>,
    /// The app's id.
    #[arg(long = "app", env = "SWITCHBOARD_APP_ID")]
    app_id: Option<String>,
    /// The app's secret (or give --app-token).
    #[arg(long, env = "SWITCHBOARD_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// The app's access token.
    #[arg(long, env = "SWITCHBOARD_APP_TOKEN", hide_env_values = true)]
    app_token: Option<String>,
    /// Only these webhook fields (comma-separated); the others are settled unsent.
    #[arg(long, value_delimiter = ',')]
    events: Vec<String>,
    /// Print each delivery's body.
    #[arg(long)]
    print_json: bool,
    /// A TOML file with the same options.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How long the bot may take to answer, in seconds (a callback's 20).
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
    /// Accept a self-signed certificate on an https server.
    #[arg(long)]
    accept_invalid_certs: bool,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Pending and dead events, the failing spell, last error and last success.
    Health {
        #[arg(long)]
        app: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The latest failed attempts, newest first.
    Errors {
        #[arg(long)]
        app: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One event with its attempts.
    Event {
        #[arg(long)]
        app: String,
        #[arg(long)]
        event: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Alerts, newest first.
    Alerts {
        #[arg(long)]
        app: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// How the app's events reach it: `webhook` (its callback URL, or a listener
    /// while one is connected) or `pull` (GET /{app-id}/updates). Without --mode,
    /// shows it with the listeners connected.
    Delivery {
        #[arg(long)]
        app: String,
        #[arg(long, value_parser = ["webhook", "pull"])]
        mode: Option<String>,
        /// The webhook's fields (comma-separated), for an app that has no webhook yet.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Send again one event (--event) or every dead event created in [--from, --to]
    /// (epoch milliseconds). Prints the ids queued.
    Replay {
        #[arg(long)]
        app: String,
        #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
        event: Option<i64>,
        #[arg(long, requires = "to")]
        from: Option<i64>,
        #[arg(long, requires = "from")]
        to: Option<i64>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Flags that override settings; only those given are applied.
#[derive(Args, Serialize, Default)]
struct StoreArgs {
    /// A TOML settings file.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// The data directory (SQLite file, master key, demo.json).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<PathBuf>,
    /// A database URL instead of the data directory's file (`sqlite:///path/file.db`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
}

#[derive(Args)]
struct MigrateDataArgs {
    /// The SQLite installation: its data directory, or `sqlite:///path/file.db`.
    #[arg(long, value_name = "DATA_DIR_OR_SQLITE_URL")]
    from: String,
    /// The PostgreSQL database to fill: `postgres://user:password@host:5432/db`.
    #[arg(long, value_name = "POSTGRES_URL")]
    to: String,
    /// A schema to create and fill instead of the connection's default (`public`).
    #[arg(long)]
    schema: Option<String>,
    /// For the crash test: after copying this table, wait to be killed.
    #[arg(long, hide = true)]
    stall_after: Option<String>,
}

#[derive(Args, Default)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// TLS certificate (PEM); with --tls-key.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Serve https with a generated self-signed certificate.
    #[arg(long)]
    tls_self_signed: bool,
    /// With `serve`: also seed and run the demo.
    #[arg(long)]
    demo: bool,
    /// Run on a virtual clock the operator moves forward (`POST /console/v1/clock`).
    #[arg(long)]
    virtual_clock: bool,
}

#[derive(Subcommand)]
enum PersonCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        login: String,
        #[arg(long, env = "SWITCHBOARD_PERSON_PASSWORD")]
        password: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum PageCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        username: String,
        /// A person to make admin of the new Page.
        #[arg(long)]
        admin: Option<i64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a person admin of a Page (or remove them with --remove).
    Admin {
        #[arg(long)]
        page: String,
        #[arg(long)]
        person: i64,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a person an agent of a Page, who answers in its inbox and changes nothing
    /// else (or remove them with --remove).
    Agent {
        #[arg(long)]
        page: String,
        #[arg(long)]
        person: i64,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an app installed on a Page its Handover Protocol role: primary_receiver,
    /// secondary_receiver or none; prints the Page's receivers.
    Receiver {
        #[arg(long)]
        page: String,
        #[arg(long)]
        app: String,
        #[arg(long)]
        role: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Let an app act for a Page on behalf of one of its admins; prints the Page token.
    Grant {
        #[arg(long)]
        page: String,
        #[arg(long)]
        app: String,
        #[arg(long)]
        person: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an app from a Page: its Page tokens stop working, its webhooks stop.
    Revoke {
        #[arg(long)]
        page: String,
        #[arg(long)]
        app: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    Create {
        #[arg(long)]
        name: String,
        /// A person to make administrator of the new app.
        #[arg(long)]
        admin: Option<i64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    Show {
        #[arg(long)]
        app: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give a person a role on the app (administrator, developer, tester) or remove it (none).
    Role {
        #[arg(long)]
        app: String,
        #[arg(long)]
        person: i64,
        #[arg(long)]
        role: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Switch the app between development and live mode.
    Mode {
        #[arg(long)]
        app: String,
        #[arg(long)]
        mode: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Act on the app for policy (warning, block, unblock): the app hears of it on its
    /// Pages (`messaging_policy_enforcement`); a blocked app cannot send.
    Policy {
        #[arg(long)]
        app: String,
        #[arg(long)]
        action: String,
        /// Why (required to warn or block; shown to the app).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// A user access token of a person for the app (what login hands an app).
    Token {
        #[arg(long)]
        app: String,
        #[arg(long)]
        person: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Serialize)]
struct ServeOverrides<'a> {
    #[serde(flatten)]
    store: &'a StoreArgs,
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<&'a String>,
    tls: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    virtual_clock: bool,
}

fn load_settings(args: &ServeArgs) -> anyhow::Result<Settings> {
    let mut tls = serde_json::Map::new();
    if let Some(cert) = &args.tls_cert {
        tls.insert("cert".into(), json!(cert));
    }
    if let Some(key) = &args.tls_key {
        tls.insert("key".into(), json!(key));
    }
    if args.tls_self_signed {
        tls.insert("self_signed".into(), json!(true));
    }
    let overrides = ServeOverrides { store: &args.store, listen: args.listen.as_ref(), tls, virtual_clock: args.virtual_clock };
    Ok(Settings::load(args.store.config.as_deref(), overrides)?)
}

fn init_logs(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| "info,tower_http=warn,tokio_postgres=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Ctrl-C or SIGTERM, listened for from the call on (not from the first poll): a
/// node takes them before it announces itself, so that a signal right after the
/// announcement drains it instead of killing it.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut interrupt, mut term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).expect("SIGINT handler"), signal(SignalKind::terminate()).expect("SIGTERM handler"))
    };
    async move {
        #[cfg(unix)]
        tokio::select! { _ = interrupt.recv() => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(args: ServeArgs, with_demo: bool) -> anyhow::Result<()> {
    let mut settings = load_settings(&args)?;
    if with_demo {
        // The demo's bot listens on this machine's loopback.
        settings.outbound.allow_private_addresses = true;
    }
    init_logs(&settings);
    let stop = stop_signal();
    let node = Node::start(&settings).await?;
    if let Some(token) = node.platform.directory.init_operator().await? {
        println!("Operator credential (shown once; keep it safe): {token}");
    }
    let mut bot = None;
    if with_demo {
        let mut info = demo::seed(&node.platform, &settings.data, &node.url()).await?;
        bot = Some(demo::start_bot(&node.platform, &mut info).await?);
        demo::write_info(&settings.data, &info)?;
        println!("{}", demo::banner(&info, &settings.data));
    } else {
        println!("Switchboard is listening on {}", node.url());
    }
    stop.await;
    tracing::info!("shutting down");
    if let Some(mut bot) = bot {
        let _ = bot.kill().await;
    }
    node.shutdown().await;
    Ok(())
}

/// A platform on the settings' store, for the operator's commands. Its changes reach
/// running nodes through the bus (PostgreSQL) or within their cache TTL.
async fn offline_platform(store_args: &StoreArgs) -> anyhow::Result<Platform> {
    let settings = Settings::load(store_args.config.as_deref(), store_args)?;
    let (store, bus) = switchboard::open_store(&settings).await?;
    let key = switchboard::master_key(&settings)?;
    let delivery = switchboard::delivery_settings(&settings);
    Ok(switchboard::platform(&settings, store, bus, Arc::new(SystemClock), key, &delivery).0)
}

/// Prints a view as the console API would answer it.
fn print(view: impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(&view).expect("views serialize to JSON"));
}

/// glibc raises its mmap threshold each time a large block is freed, and from then
/// on serves large blocks from arenas that it never hands back: a node that once
/// buffered many uploads would keep that memory for good. With a fixed threshold,
/// every block of 1 MiB or more is mapped on its own and returned when freed.
fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before the
    // node allocates anything large.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    return_large_blocks();
    let cli = Cli::parse();
    let operator = Actor::Operator;
    match cli.command {
        Command::Serve(args) => {
            let demo = args.demo;
            serve(args, demo).await
        }
        Command::Demo(args) => serve(args, true).await,
        Command::Migrate(store) => {
            let settings = Settings::load(store.config.as_deref(), &store)?;
            switchboard::open_store(&settings).await?;
            let (engine, version) = match settings.engine().map_err(anyhow::Error::msg)? {
                switchboard::settings::Database::Sqlite(_) => ("sqlite", switchboard_store_sqlite::SCHEMA_VERSION),
                switchboard::settings::Database::Postgres(_) => ("postgres", switchboard_store_postgres::SCHEMA_VERSION),
            };
            #[derive(serde::Serialize)]
            struct Migrated {
                migrated: bool,
                engine: &'static str,
                schema_version: i64,
            }
            print(Migrated { migrated: true, engine, schema_version: version });
            Ok(())
        }
        Command::MigrateData(args) => migrate_data(args).await,
        Command::Person(PersonCommand::Create { name, login, password, store }) => {
            let platform = offline_platform(&store).await?;
            print(PersonView::from(platform.directory.create_person(operator, &name, &login, &password).await.map_err(report)?));
            Ok(())
        }
        Command::Page(command) => page_command(command).await,
        Command::App(command) => app_command(command).await,
        Command::Webhook(command) => webhook_command(command).await,
        Command::Listen(args) => listen(args).await,
        Command::Test(args) => test(args).await,
    }
}

async fn test(args: TestArgs) -> anyhow::Result<()> {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let options = switchboard::testing::Options {
        paths: args.paths,
        bot: args.bot,
        webhook: args.webhook,
        server: args.server.zip(args.operator_token),
        jobs,
        timeout: args.timeout,
        matching: args.matching_mode,
        junit: args.junit,
        json: args.json,
        keep: args.keep,
        env_file: args.env_file,
    };
    match switchboard::testing::run(options).await {
        Ok(outcome) => std::process::exit(if outcome.failed == 0 { 0 } else { 1 }),
        Err(error) => {
            eprintln!("switchboard test: {error:#}");
            std::process::exit(2)
        }
    }
}

async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => switchboard::listen::ListenFile::read(path)?,
        None => switchboard::listen::ListenFile::default(),
    };
    let app_id = args.app_id.or(file.app_id).context("give the app's id: --app or SWITCHBOARD_APP_ID")?;
    let token = match (args.app_token.or(file.app_token), args.app_secret.or(file.app_secret)) {
        (Some(token), _) => token,
        (None, Some(secret)) => format!("{app_id}|{secret}"),
        (None, None) => anyhow::bail!("give the app's secret or token: --app-secret, --app-token, SWITCHBOARD_APP_SECRET or SWITCHBOARD_APP_TOKEN"),
    };
    let events = if args.events.is_empty() { file.events.unwrap_or_default() } else { args.events };
    let options = switchboard::listen::ListenOptions {
        server: args.server.or(file.server).unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        app_id,
        token,
        forward_to: args.forward_to.or(file.forward_to).context("give the bot's URL: --forward-to or SWITCHBOARD_FORWARD_TO")?,
        events: events.into_iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect(),
        print_json: args.print_json,
        timeout: std::time::Duration::from_secs(args.timeout_secs.clamp(1, 300)),
        accept_invalid_certs: args.accept_invalid_certs,
    };
    switchboard::listen::run(options).await
}

async fn migrate_data(args: MigrateDataArgs) -> anyhow::Result<()> {
    // The same spelling of a source as `--data` and `--database-url` take.
    let mut settings = Settings::default();
    let from_dir = !args.from.contains("://");
    if from_dir {
        settings.data = PathBuf::from(&args.from);
    } else {
        settings.database_url = Some(args.from.clone());
    }
    let source = match settings.engine().map_err(anyhow::Error::msg)? {
        switchboard::settings::Database::Sqlite(path) => path,
        switchboard::settings::Database::Postgres(_) => anyhow::bail!("--from names the SQLite installation: a data directory or sqlite:///path/file.db"),
    };
    anyhow::ensure!(
        args.to.starts_with("postgres://") || args.to.starts_with("postgresql://"),
        "--to names the PostgreSQL database: postgres://user:password@host:5432/db"
    );
    let options = switchboard::migrate_data::Options {
        source: source.clone(),
        target: args.to,
        schema: args.schema,
        connect_timeout: std::time::Duration::from_secs(10),
        stall_after: args.stall_after,
    };
    let report = switchboard::migrate_data::run(&options).await?;
    let width = report.tables.iter().map(|(table, _)| table.len()).max().unwrap_or(5).max(5);
    println!("{:<width$}  {:>12}", "table", "rows");
    for (table, rows) in &report.tables {
        println!("{table:<width$}  {rows:>12}");
    }
    let total: u64 = report.tables.iter().map(|(_, rows)| rows).sum();
    println!("{:<width$}  {total:>12}", "total");
    for (column, value) in &report.sequences {
        println!("sequence of {column} set to {value}");
    }
    println!(
        "Copied {} tables ({total} rows, schema version {}) from {} in {:.2} s; row counts verified on both sides.",
        report.tables.len(),
        report.schema_version,
        source.display(),
        report.elapsed.as_secs_f64()
    );
    let (key, media) = if from_dir {
        let (data, key_file) = (&settings.data, settings.data.join("master.key"));
        let key = if key_file.is_file() {
            format!("{} (unless the node set master_key)", key_file.display())
        } else {
            format!("the master_key the node was given (there is no {})", key_file.display())
        };
        (key, format!("{} (unless media_dir was set)", data.join("media").display()))
    } else {
        ("the old node's master_key or DATA/master.key".to_string(), "the old node's media_dir".to_string())
    };
    println!("Media files were not copied: every PostgreSQL node must use the same media_dir, {media}.");
    println!("Every PostgreSQL node must use the same master key, {key}: Page tokens and app secrets derive from it.");
    Ok(())
}

async fn webhook_command(command: WebhookCommand) -> anyhow::Result<()> {
    let operator = Actor::Operator;
    match command {
        WebhookCommand::Health { app, store } => {
            let platform = offline_platform(&store).await?;
            let (url, health) = platform.deliveries.webhook_health(operator, &AppId(app)).await.map_err(report)?;
            print(HealthView::at(url, health, platform.now()));
        }
        WebhookCommand::Errors { app, limit, store } => {
            let platform = offline_platform(&store).await?;
            let attempts = platform.deliveries.recent_failures(operator, &AppId(app), limit).await.map_err(report)?;
            print(Listing { data: attempts.iter().map(AttemptView::from).collect::<Vec<_>>() });
        }
        WebhookCommand::Event { app, event, store } => {
            let platform = offline_platform(&store).await?;
            print(EventView::from(platform.deliveries.event_history(operator, &AppId(app), event).await.map_err(report)?));
        }
        WebhookCommand::Alerts { app, limit, store } => {
            let platform = offline_platform(&store).await?;
            let alerts = platform.deliveries.webhook_alerts(operator, &AppId(app), limit).await.map_err(report)?;
            print(Listing { data: alerts.iter().map(AlertView::from).collect::<Vec<_>>() });
        }
        WebhookCommand::Delivery { app, mode, fields, store } => {
            let platform = offline_platform(&store).await?;
            let state = match mode.as_deref() {
                Some(mode) => {
                    let fields = (!fields.is_empty()).then_some(fields.as_slice());
                    platform.pickups.set_delivery(operator, &AppId(app), Some(mode), fields).await.map_err(report)?
                }
                None => platform.pickups.delivery(operator, &AppId(app)).await.map_err(report)?,
            };
            print(DeliveryView::from(&state));
        }
        WebhookCommand::Replay { app, event, from, to, store } => {
            let platform = offline_platform(&store).await?;
            let selection = match (event, from, to) {
                (Some(id), _, _) => switchboard_store::ReplaySelection::One(id),
                (None, Some(from), Some(to)) => switchboard_store::ReplaySelection::DeadBetween { from, to },
                _ => anyhow::bail!("give --event, or --from and --to"),
            };
            let queued = platform.deliveries.replay(operator, &AppId(app), selection).await.map_err(report)?;
            // Running nodes find the queued events at their next claim (within a second).
            print(QueuedView { queued });
        }
    }
    Ok(())
}

async fn page_command(command: PageCommand) -> anyhow::Result<()> {
    let operator = Actor::Operator;
    match command {
        PageCommand::Create { name, username, admin, store } => {
            let platform = offline_platform(&store).await?;
            let page = platform.directory.create_page(operator, &name, &username).await.map_err(report)?;
            if let Some(admin) = admin {
                platform.directory.set_page_role(operator, &page.id, PersonId(admin), Some(PageRole::Admin)).await.map_err(report)?;
            }
            print(page);
        }
        PageCommand::Admin { page, person, remove, store } => {
            let platform = offline_platform(&store).await?;
            let role = (!remove).then_some(PageRole::Admin);
            platform.directory.set_page_role(operator, &PageId(page), PersonId(person), role).await.map_err(report)?;
            print(SUCCESS);
        }
        PageCommand::Agent { page, person, remove, store } => {
            let platform = offline_platform(&store).await?;
            let role = (!remove).then_some(PageRole::Agent);
            platform.directory.set_page_role(operator, &PageId(page), PersonId(person), role).await.map_err(report)?;
            print(SUCCESS);
        }
        PageCommand::Receiver { page, app, role, store } => {
            let platform = offline_platform(&store).await?;
            let role = ReceiverRole::parse(&role).map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
            print(platform.handover.set_role(operator, &PageId(page), &AppId(app), role).await.map_err(report)?);
        }
        PageCommand::Grant { page, app, person, store } => {
            let platform = offline_platform(&store).await?;
            print(PageAccountView::from(platform.directory.grant_page(operator, &PageId(page), &AppId(app), Some(PersonId(person))).await.map_err(report)?));
        }
        PageCommand::Revoke { page, app, store } => {
            let platform = offline_platform(&store).await?;
            platform.directory.revoke_page_grant(operator, &PageId(page), &AppId(app)).await.map_err(report)?;
            print(SUCCESS);
        }
    }
    Ok(())
}

async fn app_command(command: AppCommand) -> anyhow::Result<()> {
    let operator = Actor::Operator;
    match command {
        AppCommand::Create { name, admin, store } => {
            let platform = offline_platform(&store).await?;
            let created = platform.directory.create_app(operator, &name).await.map_err(report)?;
            if let Some(admin) = admin {
                platform.directory.set_app_role(operator, &created.app.id, PersonId(admin), Some(AppRole::Administrator)).await.map_err(report)?;
            }
            print(AppView::from(created));
        }
        AppCommand::Show { app, store } => {
            let platform = offline_platform(&store).await?;
            print(AppView::from(platform.directory.app_credentials(operator, &AppId(app)).await.map_err(report)?));
        }
        AppCommand::Role { app, person, role, store } => {
            let platform = offline_platform(&store).await?;
            let role = match role.as_str() {
                "none" => None,
                name => Some(AppRole::parse(name).context("role must be administrator, developer, tester or none")?),
            };
            platform.directory.set_app_role(operator, &AppId(app), PersonId(person), role).await.map_err(report)?;
            print(SUCCESS);
        }
        AppCommand::Mode { app, mode, store } => {
            let platform = offline_platform(&store).await?;
            let mode = match mode.as_str() {
                "development" => AppMode::Development,
                "live" => AppMode::Live,
                _ => anyhow::bail!("mode must be development or live"),
            };
            let updated = platform.directory.update_app(operator, &AppId(app), Some(mode), None, false).await.map_err(report)?;
            print(AppView::from(updated));
        }
        AppCommand::Policy { app, action, reason, store } => {
            let platform = offline_platform(&store).await?;
            let app = platform.directory.enforce_policy(operator, &AppId(app), Some(&action), reason.as_deref()).await.map_err(report)?;
            print(PolicyView::from(app));
        }
        AppCommand::Token { app, person, store } => {
            let platform = offline_platform(&store).await?;
            print(TokenView::bearer(platform.directory.user_token(operator, &AppId(app), PersonId(person)).await.map_err(report)?));
        }
    }
    Ok(())
}

/// Turns a refused or failed use case into the CLI's error message.
fn report(error: switchboard_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}
