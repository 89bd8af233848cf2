//! Privacy through HTTP, on both engines: a person deletes their account and no row
//! of any table holds their id, login, name, text, PSIDs or files any more (the
//! audit record aside); every app that knew them receives a data deletion request
//! signed with its secret and its answer shows in the console; pending webhook events
//! about them are never delivered; their PSIDs answer 551/1545041. A blocked Page's
//! sends fail the same way until unblocked; a deleted conversation is gone for the
//! person only; a Page removing an app calls its deauthorize callback and ends its
//! tokens and webhooks; the export holds what the person sent; retention under write
//! load deletes only what is older than the limit.

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Json, Router};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_domain::privacy::parse_signed_request;
use switchboard_testkit::*;

const FIELDS: &str = "messages,message_echoes";
const DAY_MS: i64 = 86_400_000;

/// An app's privacy callbacks: records each `signed_request` by path, answers as Meta
/// asks a data deletion callback to.
#[derive(Clone, Default)]
struct Callbacks(Arc<Mutex<Vec<(String, String)>>>);

impl Callbacks {
    async fn start(&self) -> String {
        async fn record(State(seen): State<Callbacks>, uri: axum::http::Uri, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
            let signed = form.get("signed_request").cloned().unwrap_or_default();
            seen.0.lock().unwrap().push((uri.path().to_string(), signed));
            Json(json!({"url": "https://example.test/deletion/status/7", "confirmation_code": "del-7"}))
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().route("/deletion", post(record)).route("/deauthorize", post(record)).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the callbacks serve") });
        url
    }

    /// The payloads POSTed to `path`, each checked against the app secret.
    fn payloads(&self, path: &str, secret: &str) -> Vec<Value> {
        let seen = self.0.lock().unwrap();
        seen.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, signed)| parse_signed_request(secret, signed).expect("signed with the app secret"))
            .collect()
    }
}

async fn with_callbacks(server: &TestServer, bot: &Bot) -> Callbacks {
    let callbacks = Callbacks::default();
    let base = callbacks.start().await;
    let urls = json!({"data_deletion_url": format!("{base}/deletion"), "deauthorize_callback_url": format!("{base}/deauthorize")});
    let set = server.console(Method::PATCH, &format!("/apps/{}/privacy", bot.app.id), urls).await;
    assert!(set["data_deletion_url"].as_str().unwrap().ends_with("/deletion"), "{set}");
    callbacks
}

fn refused(answer: &(u16, Value), code: i64, subcode: Option<i64>) {
    assert_eq!(answer.1["error"]["code"], code, "{answer:?}");
    assert_eq!(answer.1["error"]["error_subcode"].as_i64(), subcode, "{answer:?}");
}

/// Every table's rows that mention one of `needles` (as text) or hold the person's
/// id in a column naming a person, but for the audit trail.
async fn traces(server: &TestServer, person: i64, needles: &[String]) -> Vec<String> {
    const PERSON_COLUMNS: [&str; 5] = ["person_id", "granted_by", "admin_id", "agent_id", "sent_by"];
    let mut found = Vec::new();
    match &server.settings.database_url {
        None => {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            let db = rusqlite::Connection::open_with_flags(server.settings.data.join("switchboard.db"), flags).expect("the store file");
            let tables: Vec<String> = db
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(tables.iter().any(|t| t == "messages"), "the store's tables: {tables:?}");
            for table in tables.into_iter().filter(|t| t != "privacy_audit") {
                let mut rows = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let columns: Vec<String> = rows.column_names().iter().map(|c| c.to_string()).collect();
                let mut cursor = rows.query([]).unwrap();
                while let Some(row) = cursor.next().unwrap() {
                    for (i, column) in columns.iter().enumerate() {
                        let text = match row.get_ref(i).unwrap() {
                            rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => String::from_utf8_lossy(t).to_string(),
                            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                            _ => continue,
                        };
                        let names_person = (PERSON_COLUMNS.contains(&column.as_str()) || (table == "persons" && column == "id")) && text == person.to_string();
                        if names_person || needles.iter().any(|n| text.contains(n.as_str())) {
                            found.push(format!("{table}.{column}: {}", text.chars().take(120).collect::<String>()));
                        }
                    }
                }
            }
        }
        Some(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("the test PostgreSQL");
            tokio::spawn(connection);
            let tables = client
                .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'", &[])
                .await
                .unwrap();
            assert!(tables.len() > 20, "the store's tables");
            for table in tables.iter().map(|r| r.get::<_, String>(0)).filter(|t| t != "privacy_audit") {
                for needle in needles {
                    let sql = format!("SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%'");
                    if client.query_one(&sql, &[needle]).await.unwrap().get::<_, i64>(0) > 0 {
                        found.push(format!("{table}: {needle}"));
                    }
                }
                let columns = client
                    .query("SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1", &[&table])
                    .await
                    .unwrap();
                for column in columns.iter().map(|r| r.get::<_, String>(0)) {
                    if PERSON_COLUMNS.contains(&column.as_str()) || (table == "persons" && column == "id") {
                        let sql = format!("SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::bigint = $1");
                        if client.query_one(&sql, &[&person]).await.unwrap().get::<_, i64>(0) > 0 {
                            found.push(format!("{table}.{column} = {person}"));
                        }
                    }
                }
            }
        }
    }
    found
}

async fn erasing_a_person_leaves_no_trace(server: TestServer) {
    let bot = server.bot("erasure", FIELDS).await;
    let callbacks = with_callbacks(&server, &bot).await;
    // A login no random id or error message can contain by chance.
    let ann_person = server.person("annzq").await;
    let ann = server.sign_in(&ann_person).await;
    let bob = server.sign_in(&server.person("bob").await).await;

    ann.send("erasure", "my secret is QZX-4471").await;
    let first = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "my secret is QZX-4471").await;
    let psid = first["sender"]["id"].as_str().unwrap().to_string();
    assert_eq!(server.send_text(&bot, &psid, "noted QZX-reply").await.0, 200);
    // A file she sent, stored once by its digest.
    let part = reqwest::multipart::Part::bytes(b"%PDF-1.4 ann's own file 5521".to_vec()).file_name("annzq.pdf").mime_str("application/pdf").unwrap();
    let sent = server
        .http
        .post(format!("{}/person/v1/threads/erasure/attachments", server.url))
        .bearer_auth(&ann.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let media_files = || walk(&server.settings.media_dir());
    eventually("ann's file is delivered", || async { bot.receiver.acknowledged_events().iter().any(|e| e["message"]["attachments"].is_array()).then_some(()) }).await;
    assert_eq!(media_files().len(), 1);

    // The receiver fails: what ann writes now stays pending.
    bot.receiver.fail_with(500);
    ann.send("erasure", "pending PND-9902").await;

    let (status, wrong) = ann.call(Method::DELETE, "/me", Some(json!({"password": "not hers"}))).await;
    assert_eq!(status, 400, "{wrong}");
    let (status, deleted) = ann.call(Method::DELETE, "/me", Some(json!({"password": ann_person.password}))).await;
    assert_eq!((status, &deleted), (200, &json!({"success": true})));

    // Her session ended and she cannot sign in; her PSID is unavailable, not unknown.
    let ended = ann.call(Method::GET, "/threads", None).await;
    assert_eq!(ended.1["error"]["code"], 190, "{ended:?}");
    let signed_in = server.http.post(format!("{}/person/v1/login", server.url)).json(&json!({"login": "annzq", "password": ann_person.password})).send().await.unwrap();
    assert_eq!(signed_in.status(), 400);
    refused(&server.send_text(&bot, &psid, "still there?").await, 551, Some(1545041));

    // The app was asked to delete her data, signed with its secret, and answered.
    let requests = eventually("the data deletion request", || async { Some(callbacks.payloads("/deletion", &bot.app.secret)).filter(|p| !p.is_empty()) }).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["algorithm"], "HMAC-SHA256");
    assert!(requests[0]["user_id"].as_str().is_some_and(|id| !id.is_empty()) && requests[0]["issued_at"].is_i64(), "{requests:?}");
    assert_eq!(requests[0]["psids"], json!([{"page_id": bot.page.id, "psid": psid}]));
    let shown = eventually("the answer in the console", || async {
        let listed = server.console(Method::GET, &format!("/apps/{}/privacy-callbacks", bot.app.id), Value::Null).await;
        Some(listed["data"][0].clone()).filter(|c| c["state"] == "answered")
    })
    .await;
    assert_eq!((shown["kind"].as_str(), shown["confirmation_code"].as_str()), (Some("data_deletion"), Some("del-7")), "{shown}");
    assert_eq!(shown["status_url"], "https://example.test/deletion/status/7");

    // Pending events about her are never delivered: the receiver answers again, and
    // bob's later message arrives alone.
    bot.receiver.fail_with(200);
    bob.send("erasure", "bob's marker").await;
    bot.receiver.wait_for("bob's marker", |e| e["message"]["text"] == "bob's marker").await;
    assert!(!bot.receiver.acknowledged_events().iter().any(|e| e["message"]["text"] == "pending PND-9902"), "a pending event of an erased person was delivered");

    // No row holds her any more, and her file is gone; the audit says what happened, not what was said.
    let needles = ["annzq".to_string(), "Annzq Tester".into(), "QZX-4471".into(), "QZX-reply".into(), "PND-9902".into(), psid.clone()];
    let left = traces(&server, ann_person.id, &needles).await;
    assert!(left.is_empty(), "traces of the erased person: {left:#?}");
    assert!(media_files().is_empty(), "her file is still on disk");
    let audit = server.console(Method::GET, "/privacy/audit", Value::Null).await;
    let record = audit["data"].as_array().unwrap().iter().find(|r| r["action"] == "account_deleted").expect("an audit record").clone();
    assert_eq!(record["subject"], format!("person:{}", ann_person.id));
    assert!(!record.to_string().contains("QZX"), "{record}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

#[tokio::test]
async fn erasing_a_person_leaves_no_trace_on_sqlite() {
    erasing_a_person_leaves_no_trace(TestServer::start().await).await;
}

#[tokio::test]
async fn erasing_a_person_leaves_no_trace_on_postgres() {
    let database = fresh_database("privacy_erase").await;
    erasing_a_person_leaves_no_trace(TestServer::start_with(|s| s.database_url = Some(database)).await).await;
}

#[tokio::test]
async fn a_blocked_page_cannot_write_and_a_deleted_conversation_is_gone_for_the_person() {
    let server = TestServer::start().await;
    let bot = server.bot("blockable", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("blockable", "old message").await;
    let psid = bot.receiver.wait_for("ann", |e| e["message"]["text"] == "old message").await["sender"]["id"].as_str().unwrap().to_string();

    assert_eq!(ann.call(Method::POST, "/pages/blockable/block", None).await, (200, json!({"success": true})));
    refused(&server.send_text(&bot, &psid, "are you there?").await, 551, Some(1545041));
    let typing = json!({"recipient": {"id": psid}, "sender_action": "typing_on"});
    refused(&server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(typing)).await, 551, Some(1545041));
    let (status, mine) = ann.call(Method::POST, "/threads/blockable/messages", Some(json!({"text": "hello?"}))).await;
    assert!(status == 400 && mine["error"]["message"].as_str().unwrap().contains("unblock"), "{mine}");
    let (_, threads) = ann.call(Method::GET, "/threads", None).await;
    assert_eq!(threads["data"], json!([]), "a blocked Page's thread is hidden");
    let (_, blocks) = ann.call(Method::GET, "/blocks", None).await;
    assert_eq!(blocks["data"][0]["page"]["username"], "blockable", "{blocks}");

    assert_eq!(ann.call(Method::DELETE, "/pages/blockable/block", None).await.0, 200);
    assert_eq!(server.send_text(&bot, &psid, "welcome back").await.0, 200);

    // Deleting the conversation hides it from the person; the Page keeps its copy.
    assert_eq!(ann.call(Method::DELETE, "/threads/blockable", None).await, (200, json!({"success": true})));
    let (_, threads) = ann.call(Method::GET, "/threads", None).await;
    assert_eq!(threads["data"], json!([]));
    assert_eq!(ann.history("blockable").await["messages"], json!([]));
    let (_, page_side) = server.graph_call(Method::GET, "/me/conversations?fields=messages{message}", Some(&bot.page_token), None).await;
    assert!(page_side.to_string().contains("old message"), "{page_side}");
    ann.send("blockable", "starting over").await;
    let texts: Vec<Value> = ann.history("blockable").await["messages"].as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [json!("starting over")]);
    assert_eq!(ann.call(Method::DELETE, "/threads/nobody-here", None).await.0, 400);
}

#[tokio::test]
async fn removing_an_app_from_a_page_calls_its_deauthorize_callback_and_ends_it() {
    let server = TestServer::start().await;
    let bot = server.bot("removal", FIELDS).await;
    let callbacks = with_callbacks(&server, &bot).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("removal", "hello bot").await;
    bot.receiver.wait_for("ann", |e| e["message"]["text"] == "hello bot").await;
    eventually("her message settles", || async { (server.store().outbox_pending().await.unwrap() == 0).then_some(()) }).await;

    // The Page's admin removes the app in the console.
    let admin = server.sign_in(&bot.admin).await;
    let (status, removed) = server.console_as(&admin.token, Method::DELETE, &format!("/pages/{}/apps/{}", bot.page.id, bot.app.id), Value::Null).await;
    assert_eq!(status, 200, "{removed}");
    let payloads = eventually("the deauthorize callback", || async { Some(callbacks.payloads("/deauthorize", &bot.app.secret)).filter(|p| !p.is_empty()) }).await;
    assert_eq!(payloads[0]["profile_id"], bot.page.id);
    assert!(payloads[0]["user_id"].is_string(), "{payloads:?}");
    refused(&server.graph_call(Method::GET, "/me", Some(&bot.page_token), None).await, 190, None);
    // Webhooks stopped: a message now makes no event for it at all.
    ann.send("removal", "after removal").await;
    assert_eq!(server.store().outbox_pending().await.unwrap(), 0, "an event was made for the removed app");

    // The export holds what she sent; exporting is audited.
    let export = server.http.get(format!("{}/person/v1/me/export", server.url)).bearer_auth(&ann.token).send().await.unwrap();
    assert!(export.headers()["content-disposition"].to_str().unwrap().contains("switchboard-export.json"));
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["person"]["login"], "ann");
    assert!(export["threads"][0]["messages"].as_array().unwrap().iter().any(|m| m["text"] == "hello bot"), "{export}");
    let audit = server.console(Method::GET, "/privacy/audit", Value::Null).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"app_removed") && actions.contains(&"data_exported"), "{actions:?}");
    let (status, _) = server.console_as(&ann.token, Method::GET, "/privacy/audit", Value::Null).await;
    assert_eq!(status, 403, "only the operator reads the audit");
}

#[tokio::test]
async fn retention_under_write_load_deletes_only_what_is_older_than_the_limit() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("keeper", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    for n in 0..30 {
        ann.send("keeper", &format!("OLDMSG {n}")).await;
    }
    bot.receiver.wait_for("the last old message", |e| e["message"]["text"] == "OLDMSG 29").await;
    eventually("the old messages' events settle", || async { (server.store().outbox_pending().await.unwrap() == 0).then_some(()) }).await;
    let stored = traces(&server, -1, &["OLDMSG".to_string()]).await;
    assert!(stored.iter().any(|t| t.starts_with("outbox.")) && stored.iter().any(|t| t.starts_with("messages.")), "{stored:#?}");
    let set = server.console(Method::PUT, &format!("/pages/{}/retention", bot.page.id), json!({"retention_days": 1})).await;
    assert_eq!(set["effective_retention_days"], 1, "{set}");
    let (status, refused_days) = server.console_as(&server.operator, Method::PUT, &format!("/pages/{}/retention", bot.page.id), json!({"retention_days": 0})).await;
    assert_eq!(status, 400, "{refused_days}");
    server.console(Method::POST, "/clock", json!({"advance_ms": 2 * DAY_MS})).await;

    // Persons keep writing while retention runs, several passes over.
    let writer = {
        let ann = server.sign_in(&TestPerson { id: 0, login: "ann".into(), password: "ann-password".into() }).await;
        tokio::spawn(async move {
            for n in 0..60 {
                ann.send("keeper", &format!("new {n}")).await;
            }
        })
    };
    let mut pruned = 0;
    while !writer.is_finished() {
        pruned += server.console(Method::POST, "/privacy/retention/run", Value::Null).await["messages"].as_u64().unwrap();
    }
    writer.await.unwrap();
    pruned += server.console(Method::POST, "/privacy/retention/run", Value::Null).await["messages"].as_u64().unwrap();
    assert_eq!(pruned, 30, "exactly the old messages went");
    let (_, thread) = ann.call(Method::GET, "/threads/keeper/messages?limit=200", None).await;
    let texts: Vec<String> = thread["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(texts, (0..60).map(|n| format!("new {n}")).collect::<Vec<_>>());
    let left = traces(&server, -1, &["OLDMSG".to_string()]).await;
    assert!(left.is_empty(), "old messages left in the store (their webhook events too): {left:#?}");
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_retention_pruned_messages_total 30"), "{metrics}");
}
