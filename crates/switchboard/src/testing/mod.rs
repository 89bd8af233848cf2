//! `switchboard test`: conversations written as files (docs/testing.md), played
//! against a bot on a whole platform. It is a client of the platform's faces, not a
//! way around them: it starts a node (this binary's own, on a temporary store and
//! the virtual clock) or uses an existing installation, sets the Page and the app up
//! through the console and Graph APIs, and plays each conversation as a fresh
//! person through the person API. It never reads a store.
//!
//! Conversations run `jobs` at a time; one that moves the virtual clock (`#wait`)
//! runs alone, after the others, since the clock is the whole platform's.

mod bot;
mod person;
mod play;
mod report;
mod world;

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_convo::Conversation;
use tokio::sync::Semaphore;

/// What `switchboard test` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// A command that starts the bot (run by `sh -c`).
    pub bot: Option<String>,
    /// The bot's webhook URL (a running bot's, or the started one's).
    pub webhook: Option<String>,
    /// An existing installation and its operator credential, instead of an embedded node.
    pub server: Option<(String, String)>,
    pub jobs: usize,
    /// How long a `#bot` step waits, unless `botium.json` or the step says otherwise.
    pub timeout: Option<Duration>,
    pub matching: Option<switchboard_convo::MatchingMode>,
    pub junit: Option<PathBuf>,
    pub json: bool,
    /// Keep the run's directory (store, logs) even when everything passed.
    pub keep: bool,
    /// Where to write the bot's environment (`NAME=value` lines), for a bot started
    /// by other means (`--webhook` without `--bot`).
    pub env_file: Option<PathBuf>,
}

/// How the steps are checked.
pub(crate) struct PlayRules {
    pub timeout: Duration,
    pub matching: switchboard_convo::Settings,
}

/// What a run came to.
pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
}

/// Botium's default wait for the bot (`WAITFORBOTTIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the conversations, sets the platform and the bot up, plays everything, and
/// reports. An error is a run that could not start (a malformed file, a bot that
/// did not listen); failed conversations are an [`Outcome`].
pub async fn run(options: Options) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let overrides = switchboard_convo::Options { matching: options.matching, expansion: None };
    let suite = switchboard_convo::load(&options.paths, &overrides)?;
    anyhow::ensure!(!suite.conversations.is_empty(), "no conversations (*.convo.txt) under {}", list(&options.paths));
    anyhow::ensure!(options.bot.is_some() || options.webhook.is_some(), "give the bot: --bot \"COMMAND\" to start it, or --webhook URL of a bot already running");
    let rules = PlayRules { timeout: options.timeout.or(suite.settings.bot_timeout).unwrap_or(DEFAULT_TIMEOUT), matching: suite.settings.clone() };

    let dir = run_directory()?;
    let (node, api) = match &options.server {
        Some((url, operator)) => (None, world::Api::new(url, operator)?),
        None => {
            let (node, operator) = world::start_node(&dir.join("data")).await.context("starting the embedded node")?;
            let api = world::Api::new(&node.url(), &operator)?;
            (Some(node), api)
        }
    };
    let fixture = world::Fixture::set_up(&api).await?;
    let mut bot = None;
    match &options.bot {
        Some(command) => {
            let port = bot::free_port()?;
            let environment = fixture.bot_environment(&api, port);
            write_environment(options.env_file.as_deref(), &environment)?;
            bot = Some(bot::BotProcess::start(command, &environment, port, &bot_log(&dir)).await?);
            let webhook = options.webhook.clone().unwrap_or_else(|| format!("http://127.0.0.1:{port}/webhook"));
            fixture.subscribe(&api, &webhook).await?;
        }
        None => {
            // A bot started by other means takes this run's credentials from the
            // environment file, and answers the handshake once it has them.
            let webhook = options.webhook.clone().expect("checked above");
            let port = reqwest::Url::parse(&webhook).ok().and_then(|url| url.port_or_known_default()).unwrap_or(80);
            write_environment(options.env_file.as_deref(), &fixture.bot_environment(&api, port))?;
            subscribe_when_ready(&api, &fixture, &webhook, options.env_file.as_deref()).await?;
        }
    }

    let played = play_all(&api, &fixture, &rules, &suite.conversations, options.jobs.max(1), !options.json).await;
    let elapsed = started.elapsed();
    let failed = played.iter().filter(|p| p.failure.is_some()).count();
    if let Some(bot) = bot.take() {
        bot.stop().await;
    }
    if let Some(node) = node {
        node.shutdown().await;
    }
    let keep = failed > 0 || options.keep;
    let kept = keep.then(|| opening_hint(&dir, &fixture, &played, options.server.is_some()));
    let bot_log = options.bot.as_ref().map(|_| bot_log(&dir).display().to_string());
    let summary = report::Summary { played: &played, elapsed, bot_log, kept };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&summary.json())?);
    } else {
        print!("{}", summary.text());
    }
    if let Some(path) = &options.junit {
        std::fs::write(path, summary.junit()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(Outcome { passed: played.len() - failed, failed })
}

/// How long a bot started by other means may take to answer the handshake.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(120);

/// The bot's environment as `NAME=value` lines (readable by its owner only: it
/// holds the Page token and the app secret).
fn write_environment(path: Option<&Path>, environment: &[(&'static str, String)]) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let lines: String = environment.iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    crate::write_private(path, &lines).with_context(|| format!("cannot write {}", path.display()))
}

/// Subscribes the webhook of a bot that is already running, trying again until it
/// answers the handshake with this run's verify token.
async fn subscribe_when_ready(api: &world::Api, fixture: &world::Fixture, webhook: &str, env_file: Option<&Path>) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut told = false;
    loop {
        match fixture.subscribe(api, webhook).await {
            Ok(()) => return Ok(()),
            Err(error) if started.elapsed() >= HANDSHAKE_WAIT => return Err(error),
            Err(_) => {
                if !told {
                    let from = env_file.map(|f| format!(" (its environment is in {})", f.display())).unwrap_or_default();
                    eprintln!("Waiting for the bot at {webhook} to answer the webhook handshake with this run's verify token{from}...");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Persons being created at once: a node checks two passwords at a time.
const JOINING: usize = 2;

/// Plays the conversations, `jobs` at a time, those that move the clock alone and
/// last; answers in the files' order. With `print`, a line per conversation as it
/// ends. Persons are created ahead (Argon2 makes that the slowest part of a short
/// conversation), at most `jobs` waiting, so that they join while others play.
async fn play_all(api: &world::Api, fixture: &world::Fixture, rules: &PlayRules, conversations: &[Conversation], jobs: usize, print: bool) -> Vec<play::Played> {
    use futures_util::StreamExt;
    let player = play::Player { api, fixture, rules };
    let (ready, waiting) = tokio::sync::mpsc::channel::<anyhow::Result<person::Person>>(jobs);
    let waiting = tokio::sync::Mutex::new(waiting);
    let joining = async move {
        let mut joined = futures_util::stream::iter(0..conversations.len()).map(|n| person::Person::join(api, fixture, n + 1)).buffer_unordered(JOINING);
        while let Some(person) = joined.next().await {
            if ready.send(person).await.is_err() {
                break;
            }
        }
    };
    let playing = async {
        let mut results: Vec<Option<play::Played>> = vec![None; conversations.len()];
        let (alone, together): (Vec<usize>, Vec<usize>) = (0..conversations.len()).partition(|&i| conversations[i].moves_clock());
        for (batch, jobs) in [(together, jobs), (alone, 1)] {
            let slots = Arc::new(Semaphore::new(jobs));
            let mut running = futures_util::stream::FuturesUnordered::new();
            for i in batch {
                let (slots, player, waiting) = (slots.clone(), &player, &waiting);
                running.push(async move {
                    let _slot = slots.acquire_owned().await.expect("the semaphore is never closed");
                    let person = waiting.lock().await.recv().await.unwrap_or_else(|| Err(anyhow::anyhow!("no person joined")));
                    (i, player.play(&conversations[i], person).await)
                });
            }
            while let Some((i, played)) = running.next().await {
                if print {
                    print!("{}", report::conversation(&played));
                }
                results[i] = Some(played);
            }
        }
        results.into_iter().map(|played| played.expect("every conversation is played")).collect()
    };
    tokio::join!(joining, playing).1
}

/// Where a run keeps its store and the bot's log.
fn run_directory() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-test-{}", switchboard_domain::credentials::random_urlsafe(6).replace(['-', '_'], "x")));
    crate::create_private_dir(&dir)?;
    Ok(dir)
}

/// The bot's output: beside the run's directory, so that it outlives a run that
/// passed (whose store is removed).
fn bot_log(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push("-bot.log");
    dir.with_file_name(name)
}

/// How to open a kept run's conversations in the web messenger.
fn opening_hint(dir: &Path, fixture: &world::Fixture, played: &[play::Played], remote: bool) -> String {
    let failed: Vec<&play::Played> = played.iter().filter(|p| p.failure.is_some()).collect();
    let mut out = if remote {
        format!("The conversations stay on the server, on Page @{}.", fixture.page_username)
    } else {
        format!(
            "The run's store is kept in {dir}: open it with\n  switchboard serve --data {data} --virtual-clock --listen 127.0.0.1:8080\nthen http://127.0.0.1:8080/m/{page}",
            dir = dir.display(),
            data = dir.join("data").display(),
            page = fixture.page_username
        )
    };
    for played in failed {
        if let Some((login, password)) = &played.login {
            out.push_str(&format!("\n  \"{}\": sign in as {login} / {password}", played.name));
        }
    }
    out
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
