//! The Conversations API (reference §9.4) over real HTTP: a Page's threads and their
//! messages newest first, field selection, and `paging.next` URLs followed as they are.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_domain::clock::graph_time;
use switchboard_domain::Clock;
use switchboard_testkit::{Bot, ManualClock, PersonClient, TestPerson, TestServer};

const FIELDS: &str = "messages,message_echoes";

/// A new person who writes `text` to the bot's Page; answers their client, their
/// record and their PSID on that Page.
async fn writer(server: &TestServer, bot: &Bot, login: &str, text: &str) -> (PersonClient, TestPerson, String) {
    let person = server.person(login).await;
    let client = server.sign_in(&person).await;
    let sent = client.send(&bot.page.username, text).await;
    let mid = sent["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    let psid = event["sender"]["id"].as_str().expect("sender PSID").to_string();
    (client, person, psid)
}

/// A Graph GET with the token in the `Authorization` header and an encoded query.
async fn get(server: &TestServer, token: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = server.http.get(format!("{}{path}", server.graph())).bearer_auth(token).query(query).send().await.expect("the Graph API answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// Fetches a URL exactly as the server gave it (no header, no added parameter).
async fn fetch(server: &TestServer, url: &str) -> (u16, Value) {
    let response = server.http.get(url).send().await.expect("the next URL answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// Follows `paging.next` from `first` to the last page; answers every page. Each
/// page is non-empty and each `next` is a full URL on this server.
async fn walk(server: &TestServer, first: Value) -> Vec<Value> {
    let mut pages = vec![first];
    while let Some(next) = pages.last().and_then(|page| page["paging"]["next"].as_str()).map(str::to_string) {
        assert!(next.starts_with(&format!("{}/", server.url)), "paging.next is a full URL: {next}");
        let (status, page) = fetch(server, &next).await;
        assert_eq!(status, 200, "{next}: {page}");
        assert!(pages.len() < 500, "paging never ends");
        pages.push(page);
    }
    for page in &pages {
        assert!(!page["data"].as_array().expect("data").is_empty(), "no page is empty: {page}");
        assert!(page["paging"]["cursors"]["before"].as_str().is_some_and(|c| !c.is_empty()), "{page}");
        assert!(page["paging"]["cursors"]["after"].as_str().is_some_and(|c| !c.is_empty()), "{page}");
    }
    pages
}

/// The `id`s of every page's items, in order.
fn ids(pages: &[Value]) -> Vec<String> {
    pages.iter().flat_map(|page| page["data"].as_array().cloned().unwrap_or_default()).map(|item| item["id"].as_str().expect("id").to_string()).collect()
}

/// The Graph error envelope, compared exactly (the trace id is opaque).
fn assert_refused(status: u16, body: &Value, want_status: u16, code: u64, subcode: Option<u64>, message: &str, kind: &str) {
    let trace = body["error"]["fbtrace_id"].clone();
    assert!(trace.as_str().is_some_and(|t| t.len() >= 8), "{body}");
    let mut error = json!({"message": message, "type": kind, "code": code, "fbtrace_id": trace});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    assert_eq!((status, body), (want_status, &json!({ "error": error })));
}

/// A refusal with code 100 and no subcode whose message mentions `needle`.
fn assert_bad_param(status: u16, body: &Value, needle: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 100, "{body}");
    assert!(body["error"].get("error_subcode").is_none(), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("(#100) ") && message.contains(needle), "{body}");
}

fn party(name: &str, id: &str) -> Value {
    json!({"name": name, "email": format!("{id}@facebook.com"), "id": id})
}

fn unknown_object(id: &str) -> String {
    format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")
}

#[tokio::test]
async fn conversations_are_listed_newest_first_with_the_fields_asked_for() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let path = format!("/{}/conversations", bot.page.id);
    let (status, empty) = get(&server, &bot.page_token, &path, &[("platform", "messenger")]).await;
    assert_eq!((status, empty), (200, json!({"data": []})), "no thread, no paging");

    let (_ann, _, ann) = writer(&server, &bot, "ann", "hello from ann").await;
    let ann_at = clock.now_ms();
    clock.advance(Duration::from_secs(5));
    let (_bob, _, bob) = writer(&server, &bot, "bob", "hello from bob").await;
    let bob_at = clock.now_ms();

    let (status, list) = get(&server, &bot.page_token, &path, &[("platform", "messenger")]).await;
    assert_eq!(status, 200, "{list}");
    let cursors = list["paging"]["cursors"].clone();
    assert!(cursors["before"].is_string() && cursors["after"].is_string() && cursors["before"] != cursors["after"], "{list}");
    let want = json!({
        "data": [
            {"id": format!("t_{bob}"), "updated_time": graph_time(bob_at)},
            {"id": format!("t_{ann}"), "updated_time": graph_time(ann_at)},
        ],
        "paging": {"cursors": cursors},
    });
    assert_eq!(list, want, "newest first, the default fields, no next on the only page");
    // `me` names the token's Page too, and `platform` may be left out.
    let (status, by_me) = get(&server, &bot.page_token, "/me/conversations", &[]).await;
    assert_eq!((status, by_me), (200, want));

    // The bot answers Ann: her thread moves to the front.
    clock.advance(Duration::from_secs(5));
    let (status, _) = server.send_text(&bot, &ann, "welcome back").await;
    assert_eq!(status, 200);
    let reply_at = clock.now_ms();
    let fields = "id,updated_time,message_count,snippet,participants,senders,can_reply,link";
    let (status, list) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("fields", fields)]).await;
    assert_eq!(status, 200, "{list}");
    let page_party = party("Page shop", &bot.page.id);
    let (ann_party, bob_party) = (party("Ann Tester", &ann), party("Bob Tester", &bob));
    let want = json!([
        {
            "id": format!("t_{ann}"), "updated_time": graph_time(reply_at), "message_count": 2, "snippet": "welcome back",
            "participants": {"data": [ann_party, page_party]}, "senders": {"data": [ann_party, page_party]},
            "can_reply": true, "link": format!("/shop/inbox/t_{ann}"),
        },
        {
            "id": format!("t_{bob}"), "updated_time": graph_time(bob_at), "message_count": 1, "snippet": "hello from bob",
            "participants": {"data": [bob_party, page_party]}, "senders": {"data": [bob_party, page_party]},
            "can_reply": true, "link": format!("/shop/inbox/t_{bob}"),
        },
    ]);
    assert_eq!(list["data"], want);

    // Past the 24-hour window the Page can still reply (with a message tag): only a
    // block stops it.
    clock.advance(Duration::from_secs(25 * 3600));
    let (status, list) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("fields", "can_reply")]).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"], json!([{"id": format!("t_{ann}"), "can_reply": true}, {"id": format!("t_{bob}"), "can_reply": true}]));
    let (status, _) = _bob.call(Method::POST, "/pages/shop/block", None).await;
    assert_eq!(status, 200);
    let (status, list) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("fields", "can_reply")]).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"], json!([{"id": format!("t_{ann}"), "can_reply": true}, {"id": format!("t_{bob}"), "can_reply": false}]));
}

#[tokio::test]
async fn following_paging_next_visits_every_conversation_once_even_within_one_millisecond() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    // Four threads in one millisecond, then three in the next one.
    let mut older = Vec::new();
    for login in ["ann", "bob", "cat", "dan"] {
        let (_, person, psid) = writer(&server, &bot, login, &format!("hi from {login}")).await;
        older.push((person.id, psid));
    }
    clock.advance(Duration::from_millis(1));
    let mut newer = Vec::new();
    for login in ["eve", "fay", "gus"] {
        let (_, person, psid) = writer(&server, &bot, login, &format!("hi from {login}")).await;
        newer.push((person.id, psid));
    }
    // Newest first; threads of one millisecond by the most recent person first.
    older.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    newer.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    let want: Vec<String> = newer.iter().chain(&older).map(|(_, psid)| format!("t_{psid}")).collect();

    let path = format!("/{}/conversations", bot.page.id);
    let (status, first) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("limit", "2")]).await;
    assert_eq!(status, 200, "{first}");
    let pages = walk(&server, first).await;
    let sizes: Vec<usize> = pages.iter().map(|page| page["data"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![2, 2, 2, 1], "limit and platform carry over into next");
    assert_eq!(ids(&pages), want, "no duplicate, no gap, newest first");
    assert!(pages.iter().all(|page| page["data"].as_array().unwrap().iter().all(|item| item.as_object().unwrap().len() == 2)), "default fields kept");

    // The cursor `after` of a page, given by hand, starts the next one.
    let after = pages[1]["paging"]["cursors"]["after"].as_str().unwrap();
    let (status, third) = get(&server, &bot.page_token, &path, &[("limit", "2"), ("after", after), ("fields", "id")]).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["data"], json!([{"id": want[4]}, {"id": want[5]}]));
}

#[tokio::test]
async fn user_id_filters_the_list_to_that_persons_conversation() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "hello from ann").await;
    let (_bob, _, bob) = writer(&server, &bot, "bob", "hello from bob").await;
    let path = format!("/{}/conversations", bot.page.id);
    for psid in [&ann, &bob] {
        let (status, list) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("user_id", psid), ("fields", "id,message_count")]).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["data"], json!([{"id": format!("t_{psid}"), "message_count": 1}]));
        assert!(list["paging"].get("next").is_none(), "{list}");
    }
    // Ann's PSID on another Page, and numbers that are nobody's PSID, are no user here.
    let other = server.bot("other", FIELDS).await;
    let sent = ann_client.send("other", "hello other").await;
    let mid = sent["mid"].clone();
    let on_other = other.receiver.wait_for("Ann's message to the other Page", |e| e["message"]["mid"] == mid).await["sender"]["id"].as_str().unwrap().to_string();
    assert_ne!(on_other, ann);
    for psid in [on_other.as_str(), "123", "not-a-psid"] {
        let (status, refused) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("user_id", psid)]).await;
        assert_refused(status, &refused, 400, 100, Some(2018001), "(#100) No matching user found", "OAuthException");
    }
}

#[tokio::test]
async fn a_conversation_node_shows_its_fields_and_nested_messages() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "one").await;
    let one_at = clock.now_ms();
    let one = ann_client.history("shop").await["messages"][0]["mid"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(1));
    let (status, sent) = server.send_text(&bot, &ann, "two").await;
    assert_eq!(status, 200, "{sent}");
    let two = sent["message_id"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(1));
    let three = ann_client.send("shop", "three").await["mid"].as_str().unwrap().to_string();
    let three_at = clock.now_ms();
    let thread = format!("t_{ann}");

    let (status, node) = get(&server, &bot.page_token, &format!("/{thread}"), &[]).await;
    assert_eq!((status, node), (200, json!({"id": thread, "updated_time": graph_time(three_at)})));

    let fields = "messages.limit(2){message,from},participants";
    let (status, node) = get(&server, &bot.page_token, &format!("/{thread}"), &[("fields", fields)]).await;
    assert_eq!(status, 200, "{node}");
    let (ann_party, page_party) = (party("Ann Tester", &ann), party("Page shop", &bot.page.id));
    let after = node["messages"]["paging"]["cursors"]["after"].as_str().expect("nested cursors").to_string();
    assert!(node["messages"]["paging"]["cursors"]["before"].is_string(), "{node}");
    let mut without_paging = node.clone();
    without_paging["messages"].as_object_mut().unwrap().remove("paging");
    assert_eq!(
        without_paging,
        json!({
            "id": thread,
            "messages": {"data": [
                {"id": three, "message": "three", "from": ann_party},
                {"id": two, "message": "two", "from": page_party},
            ]},
            "participants": {"data": [ann_party, page_party]},
        })
    );
    if let Some(next) = node["messages"]["paging"]["next"].as_str() {
        let (status, rest) = fetch(&server, next).await;
        assert_eq!((status, rest["data"][0]["id"].clone()), (200, json!(one)), "{rest}");
    }
    // The nested cursor continues on the messages edge.
    let (status, rest) = get(&server, &bot.page_token, &format!("/{thread}/messages"), &[("after", &after)]).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["data"], json!([{"id": one, "created_time": graph_time(one_at)}]));
    assert!(rest["paging"].get("next").is_none(), "{rest}");

    // Unknown fields are refused as Graph does, on the node and nested.
    let (status, refused) = get(&server, &bot.page_token, &format!("/{thread}"), &[("fields", "id,bogus")]).await;
    let message = "(#100) Tried accessing nonexisting field (bogus) on node type (Conversation)";
    assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
    let (status, refused) = get(&server, &bot.page_token, &format!("/{}/conversations", bot.page.id), &[("fields", "bogus")]).await;
    assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
    let (status, refused) = get(&server, &bot.page_token, &format!("/{thread}"), &[("fields", "messages{message,nope}")]).await;
    let message = "(#100) Tried accessing nonexisting field (nope) on node type (Message)";
    assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
    let (status, refused) = get(&server, &bot.page_token, &format!("/{thread}/messages"), &[("fields", "nope")]).await;
    assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
}

#[tokio::test]
async fn messages_page_newest_first_without_gap_or_duplicate_within_one_millisecond() {
    // The clock stands still: every message of the thread shares one millisecond.
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "m0").await;
    let at = clock.now_ms();
    let mut sent = vec![ann_client.history("shop").await["messages"][0]["mid"].as_str().unwrap().to_string()];
    for n in 1..150 {
        let mid = if n % 2 == 0 {
            ann_client.send("shop", &format!("m{n}")).await["mid"].as_str().unwrap().to_string()
        } else {
            let (status, answer) = server.send_text(&bot, &ann, &format!("m{n}")).await;
            assert_eq!(status, 200, "{answer}");
            answer["message_id"].as_str().unwrap().to_string()
        };
        sent.push(mid);
    }
    assert_eq!(clock.now_ms(), at);
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let path = format!("/t_{ann}/messages");

    // Default page size 25, default fields.
    let (status, first) = get(&server, &bot.page_token, &path, &[]).await;
    assert_eq!(status, 200, "{first}");
    let want: Vec<Value> = newest_first[..25].iter().map(|mid| json!({"id": mid, "created_time": graph_time(at)})).collect();
    assert_eq!(first["data"], Value::Array(want));
    assert!(first["paging"]["next"].is_string(), "{first}");

    // Small pages, followed to the end.
    let (status, first) = get(&server, &bot.page_token, &path, &[("limit", "7"), ("fields", "message")]).await;
    assert_eq!(status, 200, "{first}");
    let pages = walk(&server, first).await;
    assert_eq!(pages.len(), 22, "150 messages in pages of 7");
    assert_eq!(ids(&pages), newest_first, "no duplicate, no gap, newest first");
    let texts: Vec<String> = pages.iter().flat_map(|p| p["data"].as_array().cloned().unwrap()).map(|m| m["message"].as_str().unwrap().to_string()).collect();
    let want_texts: Vec<String> = (0..150).rev().map(|n| format!("m{n}")).collect();
    assert_eq!(texts, want_texts, "fields carry over into next");

    // A limit above 100 is clamped to 100.
    let (status, first) = get(&server, &bot.page_token, &path, &[("limit", "500"), ("fields", "id")]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 100);
    let pages = walk(&server, first).await;
    let sizes: Vec<usize> = pages.iter().map(|page| page["data"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![100, 50]);
    assert_eq!(ids(&pages), newest_first);
}

#[tokio::test]
async fn messages_sent_at_once_are_paged_without_gap_or_duplicate() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let bot = std::sync::Arc::new(server.bot("shop", FIELDS).await);
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "start").await;
    let start = bot.receiver.wait_for("the first message", |e| e["message"]["text"] == "start").await["message"]["mid"].clone();
    let ann_client = std::sync::Arc::new(ann_client);
    // Sixty messages from both sides at once: many share a millisecond.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..60 {
        let (server, bot, ann_client, ann) = (server.clone(), bot.clone(), ann_client.clone(), ann.clone());
        tasks.spawn(async move {
            if n % 2 == 0 {
                ann_client.send("shop", &format!("p{n}")).await["mid"].as_str().unwrap().to_string()
            } else {
                let (status, answer) = server.send_text(&bot, &ann, &format!("b{n}")).await;
                assert_eq!(status, 200, "{answer}");
                answer["message_id"].as_str().unwrap().to_string()
            }
        });
    }
    let mut sent = std::collections::BTreeSet::new();
    while let Some(mid) = tasks.join_next().await {
        sent.insert(mid.expect("a send"));
    }
    let path = format!("/t_{ann}/messages");
    let (status, whole) = get(&server, &bot.page_token, &path, &[("limit", "100")]).await;
    assert_eq!(status, 200, "{whole}");
    assert!(whole["paging"].get("next").is_none(), "{whole}");
    let all = ids(std::slice::from_ref(&whole));
    assert_eq!(all.len(), 61);
    assert_eq!(json!(all[60]), start, "the first message is the oldest");
    assert_eq!(all[..60].iter().cloned().collect::<std::collections::BTreeSet<_>>(), sent);

    for limit in ["1", "3", "8"] {
        let (status, first) = get(&server, &bot.page_token, &path, &[("limit", limit)]).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(ids(&walk(&server, first).await), all, "pages of {limit}");
    }
}

#[tokio::test]
async fn a_message_node_shows_its_fields_to_its_page() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "hello shop").await;
    let inbound_at = clock.now_ms();
    let inbound = ann_client.history("shop").await["messages"][0]["mid"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(3));
    let (status, sent) = server.send_text(&bot, &ann, "hello Ann").await;
    assert_eq!(status, 200, "{sent}");
    let outbound = sent["message_id"].as_str().unwrap().to_string();
    let outbound_at = clock.now_ms();
    let (ann_party, page_party) = (party("Ann Tester", &ann), party("Page shop", &bot.page.id));
    let all = [("fields", "id,created_time,from,to,message,attachments")];

    let (status, node) = get(&server, &bot.page_token, &format!("/{inbound}"), &all).await;
    let want = json!({
        "id": inbound, "created_time": graph_time(inbound_at), "from": ann_party, "to": {"data": [page_party]},
        "message": "hello shop", "attachments": {"data": []},
    });
    assert_eq!((status, node), (200, want));
    let (status, node) = get(&server, &bot.page_token, &format!("/{outbound}"), &all).await;
    let want = json!({
        "id": outbound, "created_time": graph_time(outbound_at), "from": page_party, "to": {"data": [ann_party]},
        "message": "hello Ann", "attachments": {"data": []},
    });
    assert_eq!((status, node), (200, want));
    let (status, node) = get(&server, &bot.page_token, &format!("/{outbound}"), &[]).await;
    assert_eq!((status, node), (200, json!({"id": outbound, "created_time": graph_time(outbound_at)})), "default fields");
    let (status, refused) = get(&server, &bot.page_token, &format!("/{outbound}"), &[("fields", "message,bogus")]).await;
    let message = "(#100) Tried accessing nonexisting field (bogus) on node type (Message)";
    assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
    let (status, refused) = get(&server, &bot.page_token, "/m_doesnotexist", &[]).await;
    assert_refused(status, &refused, 400, 100, Some(33), &unknown_object("m_doesnotexist"), "GraphMethodException");
}

#[tokio::test]
async fn another_pages_token_sees_none_of_this_pages_conversations() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "hello shop").await;
    let mid = ann_client.history("shop").await["messages"][0]["mid"].as_str().unwrap().to_string();
    // The other Page knows Ann too, under another PSID.
    let other = server.bot("other", FIELDS).await;
    let sent = ann_client.send("other", "hello other").await;
    let other_mid = sent["mid"].clone();
    other.receiver.wait_for("Ann's message to the other Page", |e| e["message"]["mid"] == other_mid).await;

    let thread = format!("t_{ann}");
    for id in [thread.clone(), mid.clone()] {
        let (status, refused) = get(&server, &other.page_token, &format!("/{id}"), &[]).await;
        assert_refused(status, &refused, 400, 100, Some(33), &unknown_object(&id), "GraphMethodException");
    }
    let (status, refused) = get(&server, &other.page_token, &format!("/{thread}/messages"), &[]).await;
    assert_refused(status, &refused, 400, 100, Some(33), &unknown_object(&thread), "GraphMethodException");
    let (status, refused) = get(&server, &other.page_token, &format!("/{}/conversations", bot.page.id), &[("platform", "messenger")]).await;
    assert_eq!((status, refused["error"]["code"].clone()), (403, json!(200)), "{refused}");
    // Its own list holds only its own thread with Ann.
    let (status, list) = get(&server, &other.page_token, &format!("/{}/conversations", other.page.id), &[("platform", "messenger")]).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_ne!(list["data"][0]["id"], json!(thread));
    // A thread id that is nobody's on this Page.
    let (status, refused) = get(&server, &bot.page_token, "/t_123", &[]).await;
    assert_refused(status, &refused, 400, 100, Some(33), &unknown_object("t_123"), "GraphMethodException");
    // An app token is no Page token.
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, refused) = server.graph_call(Method::GET, &format!("/{thread}"), Some(&app_token), None).await;
    assert_eq!((status, refused["error"]["code"].clone(), refused["error"]["error_subcode"].clone()), (400, json!(100), json!(33)), "{refused}");
}

#[tokio::test]
async fn unsupported_parameters_are_refused_clearly() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let (_ann, _, ann) = writer(&server, &bot, "ann", "hello shop").await;
    let path = format!("/{}/conversations", bot.page.id);
    let (status, refused) = get(&server, &bot.page_token, &path, &[("platform", "instagram")]).await;
    assert_bad_param(status, &refused, "platform");
    let (status, first) = get(&server, &bot.page_token, &path, &[("platform", "messenger")]).await;
    assert_eq!(status, 200, "{first}");
    let before = first["paging"]["cursors"]["before"].as_str().unwrap();
    let (status, refused) = get(&server, &bot.page_token, &path, &[("platform", "messenger"), ("before", before)]).await;
    assert_bad_param(status, &refused, "before");
    let (status, refused) = get(&server, &bot.page_token, &path, &[("after", "not a cursor")]).await;
    assert_bad_param(status, &refused, "after");
    let (status, refused) = get(&server, &bot.page_token, &path, &[("limit", "many")]).await;
    assert_bad_param(status, &refused, "limit");
    let messages = format!("/t_{ann}/messages");
    let (status, refused) = get(&server, &bot.page_token, &messages, &[("after", "bm90IGEgY3Vyc29y")]).await;
    assert_bad_param(status, &refused, "after");
    let (status, first) = get(&server, &bot.page_token, &messages, &[]).await;
    assert_eq!(status, 200, "{first}");
    let before = first["paging"]["cursors"]["before"].as_str().unwrap();
    let (status, refused) = get(&server, &bot.page_token, &messages, &[("before", before)]).await;
    assert_bad_param(status, &refused, "before");
    let (status, refused) = get(&server, &bot.page_token, &format!("/t_{ann}"), &[("fields", "messages{message")]).await;
    assert_bad_param(status, &refused, "fields");
}

/// The operator files a thread in the Page inbox's folder.
async fn file(server: &TestServer, bot: &Bot, psid: &str, folder: &str) -> Value {
    server.console(Method::POST, &format!("/pages/{}/inbox/{psid}/folder", bot.page.id), json!({"folder": folder})).await
}

/// The conversations of one folder (with more parameters), by id.
async fn in_folder(server: &TestServer, bot: &Bot, folder: &str, more: &[(&str, &str)]) -> Vec<String> {
    let mut query = vec![("folder", folder), ("fields", "id")];
    query.extend_from_slice(more);
    let (status, list) = get(server, &bot.page_token, &format!("/{}/conversations", bot.page.id), &query).await;
    assert_eq!(status, 200, "{list}");
    if list["data"] == json!([]) {
        return Vec::new();
    }
    ids(&walk(server, list).await)
}

#[tokio::test]
async fn conversations_show_unread_counts_and_are_filtered_by_folder() {
    let clock = ManualClock::new();
    let server = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let bot = server.bot("shop", FIELDS).await;
    let (ann_client, _, ann) = writer(&server, &bot, "ann", "one").await;
    clock.advance(Duration::from_secs(1));
    let (bob_client, _, bob) = writer(&server, &bot, "bob", "hi").await;
    clock.advance(Duration::from_secs(1));
    assert_eq!(server.send_text(&bot, &bob, "hello bob").await.0, 200);
    clock.advance(Duration::from_secs(1));
    ann_client.send("shop", "two").await;
    let ann_at = clock.now_ms();
    bot.receiver.wait_for("Ann's second message", |e| e["message"]["text"] == "two").await;

    let path = format!("/{}/conversations", bot.page.id);
    let fields = "id,unread_count,can_reply,updated_time,participants";
    let (status, list) = get(&server, &bot.page_token, &path, &[("fields", fields)]).await;
    assert_eq!(status, 200, "{list}");
    let page_party = party("Page shop", &bot.page.id);
    assert_eq!(
        list["data"][0],
        json!({"id": format!("t_{ann}"), "unread_count": 2, "can_reply": true, "updated_time": graph_time(ann_at),
               "participants": {"data": [party("Ann Tester", &ann), page_party]}})
    );
    assert_eq!(list["data"][1]["unread_count"], 1, "the Page's own messages are not unread: {list}");

    // Ann was never answered: a message request (`other`); Bob was (`inbox`).
    assert_eq!(in_folder(&server, &bot, "other", &[]).await, vec![format!("t_{ann}")]);
    assert_eq!(in_folder(&server, &bot, "inbox", &[]).await, vec![format!("t_{bob}")]);
    assert!(in_folder(&server, &bot, "page_done", &[]).await.is_empty());
    assert!(in_folder(&server, &bot, "spam", &[]).await.is_empty());
    for bad in ["archive", "", "INBOXES"] {
        let (status, refused) = get(&server, &bot.page_token, &path, &[("folder", bad)]).await;
        let message = "(#100) Param folder must be one of the following values: inbox, other, page_done, spam";
        assert_refused(status, &refused, 400, 100, None, message, "OAuthException");
    }

    // Done, then back to the inbox when Bob writes again.
    let filed = file(&server, &bot, &bob, "page_done").await;
    assert_eq!((filed["psid"].as_str(), filed["folder"].as_str()), (Some(bob.as_str()), Some("page_done")), "{filed}");
    assert_eq!(in_folder(&server, &bot, "page_done", &[]).await, vec![format!("t_{bob}")]);
    assert_eq!(in_folder(&server, &bot, "page_done", &[("user_id", &bob)]).await, vec![format!("t_{bob}")]);
    assert!(in_folder(&server, &bot, "inbox", &[("user_id", &bob)]).await.is_empty(), "user_id and folder compose");
    assert!(in_folder(&server, &bot, "page_done", &[("user_id", &ann)]).await.is_empty());
    clock.advance(Duration::from_secs(1));
    bob_client.send("shop", "me again").await;
    bot.receiver.wait_for("Bob's new message", |e| e["message"]["text"] == "me again").await;
    assert_eq!(in_folder(&server, &bot, "inbox", &[]).await, vec![format!("t_{bob}")], "a new message brings a Done thread back");

    // Spam stays spam; two in one folder page through with limit 1.
    file(&server, &bot, &ann, "spam").await;
    file(&server, &bot, &bob, "spam").await;
    clock.advance(Duration::from_secs(1));
    ann_client.send("shop", "three").await;
    bot.receiver.wait_for("Ann's third message", |e| e["message"]["text"] == "three").await;
    assert_eq!(in_folder(&server, &bot, "spam", &[("limit", "1")]).await, vec![format!("t_{ann}"), format!("t_{bob}")]);
    assert!(in_folder(&server, &bot, "inbox", &[]).await.is_empty());

    // Opening the thread in the Page inbox marks it seen.
    server.console(Method::GET, &format!("/pages/{}/inbox/{ann}", bot.page.id), Value::Null).await;
    let (status, node) = get(&server, &bot.page_token, &format!("/t_{ann}"), &[("fields", "unread_count,can_reply")]).await;
    assert_eq!((status, node), (200, json!({"id": format!("t_{ann}"), "unread_count": 0, "can_reply": true})));
    let (status, _) = ann_client.call(Method::POST, "/pages/shop/block", None).await;
    assert_eq!(status, 200);
    let (status, node) = get(&server, &bot.page_token, &format!("/t_{ann}"), &[("fields", "can_reply")]).await;
    assert_eq!((status, node), (200, json!({"id": format!("t_{ann}"), "can_reply": false})), "a block stops replies");

    // Through a batch too.
    let batch = json!([{"method": "GET", "relative_url": format!("{}/conversations?folder=spam&fields=id", bot.page.id)}]);
    let body = json!({"access_token": bot.page_token, "batch": batch});
    let answers: Value = server.http.post(format!("{}/", server.graph())).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answers[0]["code"], 200, "{answers}");
    let listed: Value = serde_json::from_str(answers[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(ids(&[listed]), vec![format!("t_{ann}"), format!("t_{bob}")]);
}

#[tokio::test]
async fn only_the_pages_admins_and_agents_file_its_threads() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let (_ann, _, ann) = writer(&server, &bot, "ann", "hello").await;
    let folder_path = format!("/pages/{}/inbox/{ann}/folder", bot.page.id);
    // A signed-in stranger is refused before the body is read.
    let eve = server.person("eve").await;
    let eve = server.sign_in(&eve).await;
    for body in [json!({"folder": "spam"}), json!({"folder": "archive"}), json!({})] {
        let (status, refused) = server.console_as(&eve.token, Method::POST, &folder_path, body).await;
        assert_eq!((status.as_u16(), refused["error"]["code"].clone()), (403, json!(200)), "{refused}");
    }
    for body in [json!({"folder": "archive"}), json!({}), json!({"folder": "other"})] {
        let (status, refused) = server.console_as(&server.operator.clone(), Method::POST, &folder_path, body).await;
        assert_eq!(status.as_u16(), 400, "{refused}");
        assert_eq!(refused["error"]["message"], "(#100) Param folder must be one of the following values: inbox, page_done, spam");
    }
    let (status, refused) = server.console_as(&server.operator.clone(), Method::POST, &format!("/pages/{}/inbox/123/folder", bot.page.id), json!({"folder": "spam"})).await;
    assert_eq!((status.as_u16(), refused["error"]["code"].clone()), (400, json!(100)), "{refused}");
    // A Page token cannot list another Page's folders, nor an app token any.
    let other = server.bot("other", FIELDS).await;
    let path = format!("/{}/conversations", bot.page.id);
    let (status, refused) = get(&server, &other.page_token, &path, &[("folder", "inbox")]).await;
    assert_refused(status, &refused, 403, 200, None, "(#200) The Page access token does not belong to this Page", "OAuthException");
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, refused) = get(&server, &app_token, &path, &[("folder", "inbox")]).await;
    assert_eq!((status, refused["error"]["code"].clone()), (400, json!(190)), "{refused}");
}
