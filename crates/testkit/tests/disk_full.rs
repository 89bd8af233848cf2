//! A full disk under a SQLite node (a tmpfs of its own) while bots and a person
//! write: every write is refused as a temporary failure that names the cause, never
//! acknowledged unstored; reads go on; the node stores again once space returns,
//! without a restart, and every acknowledged write is in the file and delivered. A
//! restart on the full disk corrupts nothing. The same for the media directory: an
//! upload is refused, leaves no partial file, and works again with space.

use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_testkit::{eventually, is_storage_full_refusal, Bot, NodeProcess, NodeStore, PersonClient, SmallDisk, TestServer, ALL_CORE_FIELDS};

/// How long the load may take to find a disk full: the WAL reuses the room of
/// frames already checkpointed before it needs more.
const FILLING: Duration = Duration::from_secs(30);

/// A `switchboard serve` process on SQLite in `data`, its media in `media`, with
/// leases of 6 s: a delivery whose record the full disk refused goes again soon.
async fn start_node(data: &Path, media: &Path) -> NodeProcess {
    let media = media.to_str().expect("a UTF-8 path");
    NodeProcess::start_on("disk", &NodeStore::Sqlite(data.to_path_buf()), 2, &[("SWITCHBOARD_MEDIA_DIR", media)]).await
}

/// What the load saw: texts acknowledged, refusals of a full disk, anything else.
#[derive(Default)]
struct Ledger {
    bot_sent: Vec<String>,
    person_sent: Vec<String>,
    refused: usize,
    unexpected: Vec<String>,
}

/// Bots' Send API calls and a person's messages, from a few tasks, until stopped.
struct Load {
    ledger: Arc<Mutex<Ledger>>,
    running: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(server: &Arc<TestServer>, bot: &Arc<Bot>, person: &Arc<PersonClient>, psid: &str, label: &str) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let running = Arc::new(AtomicBool::new(true));
        let tasks = (0..3)
            .map(|task| {
                let (server, bot, person, psid) = (server.clone(), bot.clone(), person.clone(), psid.to_string());
                let (ledger, running, label) = (ledger.clone(), running.clone(), label.to_string());
                tokio::spawn(async move {
                    let mut n = 0;
                    while running.load(Ordering::Relaxed) {
                        n += 1;
                        let text = format!("{label}-bot-{task}-{n}");
                        let (status, body) = server.send_text(&bot, &psid, &text).await;
                        ledger.lock().unwrap().record(status, &body, text, true);
                        let text = format!("{label}-person-{task}-{n}");
                        let (status, body) = person.call(Method::POST, &format!("/threads/{}/messages", bot.page.id), Some(json!({"text": text}))).await;
                        ledger.lock().unwrap().record(status, &body, text, false);
                    }
                })
            })
            .collect();
        Self { ledger, running, tasks }
    }

    fn refused(&self) -> usize {
        self.ledger.lock().unwrap().refused
    }

    async fn stop(self) -> Ledger {
        self.running.store(false, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a load task");
        }
        Arc::try_unwrap(self.ledger).ok().expect("the tasks are done").into_inner().unwrap()
    }
}

impl Ledger {
    fn record(&mut self, status: u16, body: &Value, text: String, by_bot: bool) {
        match status {
            200 if by_bot => self.bot_sent.push(text),
            200 => self.person_sent.push(text),
            _ if is_storage_full_refusal(status, body) => self.refused += 1,
            _ => self.unexpected.push(format!("{text}: {status} {body}")),
        }
    }

    fn acknowledged(&self) -> usize {
        self.bot_sent.len() + self.person_sent.len()
    }
}

/// Texts of the messages stored in the SQLite file, read directly.
fn stored_texts(database: &Path) -> std::collections::HashSet<String> {
    let conn = rusqlite::Connection::open(database).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok", "the database is consistent");
    let mut statement = conn.prepare("SELECT text FROM messages WHERE text IS NOT NULL").unwrap();
    let texts = statement.query_map([], |row| row.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
    texts
}

/// Every text the receiver acknowledged, as a person's message or a bot's echo.
fn delivered_texts(bot: &Bot) -> std::collections::HashSet<String> {
    bot.receiver.acknowledged_events().iter().filter_map(|event| event.pointer("/message/text").and_then(Value::as_str).map(str::to_string)).collect()
}

/// Runs load, fills the disk under it, and goes on until the node refuses writes
/// for the full disk; answers the ledger.
async fn load_until_refused(disk: &SmallDisk, server: &Arc<TestServer>, bot: &Arc<Bot>, person: &Arc<PersonClient>, psid: &str, label: &str) -> Ledger {
    let load = Load::start(server, bot, person, psid, label);
    eventually("writes acknowledged before the disk fills", || {
        let acknowledged = load.ledger.lock().unwrap().acknowledged();
        async move { (acknowledged >= 20).then_some(()) }
    })
    .await;
    disk.fill(0);
    let deadline = tokio::time::Instant::now() + FILLING;
    while load.refused() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little more load against the full disk.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ledger = load.stop().await;
    assert!(ledger.refused > 0, "the full disk refused no write within {FILLING:?} ({} acknowledged)", ledger.acknowledged());
    assert!(ledger.unexpected.is_empty(), "every failure is the refusal of a full disk: {:?}", &ledger.unexpected[..ledger.unexpected.len().min(5)]);
    eprintln!("{label}: {} writes acknowledged, {} refused for a full disk", ledger.acknowledged(), ledger.refused);
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_serves_reads_and_recovers_without_loss() {
    let Some(disk) = SmallDisk::mount(24).await else {
        return;
    };
    let media = tempfile::tempdir().unwrap();
    let node = start_node(disk.path(), media.path()).await;
    let server = Arc::new(TestServer::external(&node.url, node.operator.as_deref().expect("the first start prints the credential")));
    let bot = Arc::new(server.bot("fullbot", ALL_CORE_FIELDS).await);
    let ann = server.person("ann").await;
    let person = Arc::new(server.sign_in(&ann).await);
    person.send(&bot.page.id, "before the disk filled").await;
    let psid = bot.receiver.wait_for("ann's first message", |e| e.pointer("/message/text") == Some(&json!("before the disk filled"))).await["sender"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut ledger = load_until_refused(&disk, &server, &bot, &person, &psid, "full").await;

    // Reads go on: the token's Page, the thread, the Page's conversations.
    let (status, me) = server.graph_call(Method::GET, "/me", Some(&bot.page_token), None).await;
    assert_eq!((status, me["id"].as_str()), (200, Some(bot.page.id.as_str())), "{me}");
    let history = person.history(&bot.page.id).await;
    let shown: Vec<&str> = history["messages"].as_array().unwrap().iter().filter_map(|message| message["text"].as_str()).collect();
    assert!(shown.iter().any(|text| ledger.person_sent.iter().chain(&ledger.bot_sent).any(|sent| sent == text)), "the thread shows what was acknowledged: {shown:?}");
    let (status, conversations) =
        server.graph_call(Method::GET, &format!("/{}/conversations?platform=messenger", bot.page.id), Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{conversations}");

    // Space returns: writes are stored again by the same process.
    disk.free_space();
    eventually("a write stored again", || async { (server.send_text(&bot, &psid, "after space returned").await.0 == 200).then_some(()) }).await;
    ledger.bot_sent.push("after space returned".into());
    let after = Load::start(&server, &bot, &person, &psid, "after");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = after.stop().await;
    assert!(after.unexpected.is_empty() && after.refused == 0, "{:?}", after.unexpected);
    assert!(after.acknowledged() > 0);

    // Every acknowledged write reaches the bot, the dispatcher having carried on.
    let acknowledged: Vec<String> = [&ledger.bot_sent, &ledger.person_sent, &after.bot_sent, &after.person_sent].into_iter().flatten().cloned().collect();
    eventually("every acknowledged message delivered", || {
        let delivered = delivered_texts(&bot);
        let all = acknowledged.iter().all(|text| delivered.contains(text));
        async move { all.then_some(()) }
    })
    .await;

    // The disk fills again and the node restarts on it: nothing is corrupted.
    let full_again = load_until_refused(&disk, &server, &bot, &person, &psid, "again").await;
    node.stop().await;
    let restarted = start_node(disk.path(), media.path()).await;
    let again = TestServer::external(&restarted.url, "");
    let (status, _) = again.graph_call(Method::GET, "/me", Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "the restarted node serves reads on the full disk");
    let (status, body) = again.send_text(&bot, &psid, "sent to the restarted node").await;
    assert!(status == 200 || is_storage_full_refusal(status, &body), "a write on the restarted node: {status} {body}");
    let mut after_restart = vec![];
    if status == 200 {
        after_restart.push("sent to the restarted node".to_string());
    }
    disk.free_space();
    restarted.stop().await;

    let stored = stored_texts(&disk.path().join("switchboard.db"));
    let lost: Vec<&String> =
        acknowledged.iter().chain(&full_again.bot_sent).chain(&full_again.person_sent).chain(&after_restart).filter(|text| !stored.contains(*text)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(stored.contains("before the disk filled"));
}

/// A MiB of bytes of their own for each `seed`, so each upload is a new file.
fn file_bytes(seed: u8) -> Vec<u8> {
    (0..1 << 20).map(|n: u32| (n % 251) as u8 ^ seed).collect()
}

/// The Attachment Upload API with the file as `filedata`.
async fn bot_upload(server: &TestServer, bot: &Bot, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("report.bin").mime_str("application/octet-stream").unwrap();
    let message = json!({"attachment": {"type": "file", "payload": {"is_reusable": true}}}).to_string();
    let form = reqwest::multipart::Form::new().text("message", message).part("filedata", part);
    let response = server.http.post(format!("{}/me/message_attachments", server.graph())).bearer_auth(&bot.page_token).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// A person's file sent to the Page.
async fn person_upload(server: &TestServer, person: &PersonClient, page: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("photo.bin").mime_str("application/octet-stream").unwrap();
    let url = format!("{}/person/v1/threads/{page}/attachments", server.url);
    let response = server.http.post(url).bearer_auth(&person.token).multipart(reqwest::multipart::Form::new().part("file", part)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// The media files under `dir` (the filler aside), each checked whole: named by the
/// SHA-256 of its bytes, with no temporary file among them.
fn whole_media_files(dir: &Path) -> usize {
    use sha2::Digest;
    let mut count = 0;
    for folder in std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).filter(|path| path.is_dir()) {
        for file in std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path()) {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            assert_eq!(name, hex::encode(sha2::Sha256::digest(std::fs::read(&file).unwrap())), "{} is whole and named by its digest", file.display());
            count += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_media_disk_refuses_uploads_leaves_no_partial_file_and_recovers() {
    let Some(disk) = SmallDisk::mount(8).await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let node = start_node(data.path(), disk.path()).await;
    let server = TestServer::external(&node.url, node.operator.as_deref().expect("the first start prints the credential"));
    let bot = server.bot("mediabot", ALL_CORE_FIELDS).await;
    let ann = server.person("ann").await;
    let person = server.sign_in(&ann).await;
    person.send(&bot.page.id, "hello").await;
    let (status, uploaded) = bot_upload(&server, &bot, file_bytes(1)).await;
    assert_eq!(status, 200, "{uploaded}");

    // Room for part of a file only: each upload fails half-way through its write.
    disk.fill(256 * 1024);
    let (status, refused) = bot_upload(&server, &bot, file_bytes(2)).await;
    assert!(is_storage_full_refusal(status, &refused), "the Attachment Upload API on a full disk: {status} {refused}");
    let (status, refused) = person_upload(&server, &person, &bot.page.id, file_bytes(3)).await;
    assert!(is_storage_full_refusal(status, &refused), "a person's file on a full disk: {status} {refused}");
    assert_eq!(whole_media_files(disk.path()), 1, "no partial file is left behind");
    let (status, _) = bot_upload(&server, &bot, file_bytes(1)).await;
    assert_eq!(status, 200, "bytes stored already need no room");

    disk.free_space();
    let (status, uploaded) = bot_upload(&server, &bot, file_bytes(2)).await;
    assert_eq!(status, 200, "uploads work again once space returns: {uploaded}");
    let (status, sent) = person_upload(&server, &person, &bot.page.id, file_bytes(3)).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(whole_media_files(disk.path()), 3);
    node.stop().await;
}
