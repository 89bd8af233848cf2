//! `switchboard demo`: seeds a demo Page, a person and an app, starts the example
//! echo bot (a separate program that speaks to Switchboard only over HTTP), wires
//! its webhook through the real handshake, and writes `DATA/demo.json` with what a
//! developer needs to try the APIs by hand.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use switchboard_app::{Actor, Caller, Platform};
use switchboard_domain::credentials::random_urlsafe;
use switchboard_domain::{AppId, PageRef};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What `demo.json` holds. It contains secrets: it is written readable by its owner only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoInfo {
    pub graph_url: String,
    pub person_api_url: String,
    pub console_api_url: String,
    pub app_id: String,
    pub app_secret: String,
    pub verify_token: String,
    pub page_id: String,
    pub page_username: String,
    pub page_access_token: String,
    pub person_id: i64,
    pub person_name: String,
    pub person_login: String,
    pub person_password: String,
    /// The demo person's PSID for the demo Page.
    pub person_psid: String,
    pub bot_webhook_url: Option<String>,
}

fn demo_file(data: &Path) -> PathBuf {
    data.join("demo.json")
}

/// Seeds the demo objects, or reuses those of an earlier run of the same data directory.
pub async fn seed(platform: &Platform, data: &Path, base_url: &str) -> anyhow::Result<DemoInfo> {
    if let Ok(text) = std::fs::read_to_string(demo_file(data)) {
        if let Ok(mut info) = serde_json::from_str::<DemoInfo>(&text) {
            if platform.directory.page(&PageRef::parse(&info.page_id)).await.is_ok() {
                set_urls(&mut info, base_url);
                return Ok(info);
            }
        }
    }
    let password = random_urlsafe(12);
    let person = platform.directory.create_person(Actor::Operator, "Dana Demo", "demo", &password).await?;
    let dana = Actor::Person(person.id);
    let page = platform.directory.create_page(dana, "Demo Page", "demo").await?;
    let app = platform.directory.create_app(dana, "Echo Bot").await?;
    let account = platform.directory.grant_page(dana, &page.id, &app.app.id, None).await?;
    let psid = platform.directory.psid(person.id, &page.id).await?;
    let mut info = DemoInfo {
        graph_url: String::new(),
        person_api_url: String::new(),
        console_api_url: String::new(),
        app_id: app.app.id.to_string(),
        app_secret: app.secret,
        verify_token: random_urlsafe(12),
        page_id: page.id.to_string(),
        page_username: page.username,
        page_access_token: account.access_token,
        person_id: person.id.0,
        person_name: person.name,
        person_login: person.login,
        person_password: password,
        person_psid: psid.to_string(),
        bot_webhook_url: None,
    };
    set_urls(&mut info, base_url);
    Ok(info)
}

fn set_urls(info: &mut DemoInfo, base_url: &str) {
    info.graph_url = format!("{base_url}/v21.0");
    info.person_api_url = format!("{base_url}/person/v1");
    info.console_api_url = format!("{base_url}/console/v1");
}

/// Starts the example bot beside this binary, reads the webhook URL it prints, and
/// subscribes it: the app's webhook (with the handshake) and the app on the Page.
pub async fn start_bot(platform: &Platform, info: &mut DemoInfo) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    let bot = exe.with_file_name(format!("echo-bot{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(bot.exists(), "the example bot is not built: run `cargo build --release --bins` (looked for {})", bot.display());
    let mut child = Command::new(&bot)
        .env("ECHO_BOT_GRAPH_URL", &info.graph_url)
        .env("ECHO_BOT_PAGE_TOKEN", &info.page_access_token)
        .env("ECHO_BOT_APP_SECRET", &info.app_secret)
        .env("ECHO_BOT_VERIFY_TOKEN", &info.verify_token)
        .env("ECHO_BOT_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bot.display()))?;
    let stdout = child.stdout.take().context("the bot's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next_line().await?.context("the bot exited before listening")?;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep draining the bot's output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(line)) = lines.next_line().await { println!("[echo-bot] {line}"); } });

    let app = platform.directory.app(&AppId(info.app_id.clone())).await?.context("the demo app")?;
    // With handovers and standby: the bot passes a thread to the Page Inbox on
    // "talk to a human" and stays quiet until it comes back. With the entry points'
    // fields: it names the ref a person came with and links accounts.
    let fields: Vec<String> = crate::BOT_FIELDS.map(String::from).into();
    platform
        .subscriptions
        .subscribe_app(&Caller::App(app.clone()), &info.app_id, "page", &url, &info.verify_token, &fields, switchboard_http::DEFAULT_GRAPH_VERSION)
        .await?;
    let page_ref = PageRef::parse(&info.page_id);
    let page_caller = platform.authenticate(Some(&info.page_access_token), None).await?;
    platform.subscriptions.install_app(&page_caller, &page_ref, None).await?;
    info.bot_webhook_url = Some(url);
    Ok(child)
}

pub fn write_info(data: &Path, info: &DemoInfo) -> anyhow::Result<()> {
    crate::write_private(&demo_file(data), &serde_json::to_string_pretty(info)?)
}

/// What the demo prints for a newcomer.
pub fn banner(info: &DemoInfo, data: &Path) -> String {
    let base = info.graph_url.trim_end_matches("/v21.0");
    format!(
        "\nSwitchboard demo is up at {base}\n\
         \n  Person login: {login} / {password}  ({name}, PSID {psid} on Page '{page}')\
         \n  Demo Page:    {page_id} (@{page})\
         \n  Echo bot:     app {app_id}, webhook {bot}\
         \n  Everything for trying the APIs by hand: {file}\
         \n\nIn a browser, sign in as {login}:\
         \n  the web messenger  {base}/m/{page}?ref=demo\
         \n  the console        {base}/console\
         \n\nOr chat with the bot as the person with curl:\
         \n  TOKEN=$(curl -s -X POST {person}/login -H 'Content-Type: application/json' -d '{{\"login\":\"{login}\",\"password\":\"{password}\"}}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\
         \n  curl -N {person}/events -H \"Authorization: Bearer $TOKEN\" &\
         \n  curl -s -X POST {person}/threads/{page}/messages -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{{\"text\":\"hello\"}}'\
         \n\nStop with Ctrl-C.\n",
        login = info.person_login,
        password = info.person_password,
        name = info.person_name,
        psid = info.person_psid,
        page = info.page_username,
        page_id = info.page_id,
        app_id = info.app_id,
        bot = info.bot_webhook_url.as_deref().unwrap_or("-"),
        file = demo_file(data).display(),
        person = info.person_api_url,
    )
}

