//! Page Insights for messaging (`GET /{page-id}/insights`, reference §9.6) over real
//! HTTP, on a server with the virtual clock: each UTC day counted as the console
//! moves the clock, Graph's shape, and the refusals of bad metrics, periods and
//! ranges and of other tokens.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_domain::clock::graph_time;
use switchboard_testkit::*;

const DAY_MS: i64 = 86_400_000;
const ALL: &str = "page_messages_total_messaging_connections,page_messages_new_conversations_unique,\
page_messages_blocked_conversations_unique,page_messages_reported_conversations_unique";

async fn get(server: &TestServer, token: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = server.http.get(format!("{}{path}", server.graph())).bearer_auth(token).query(query).send().await.expect("the Graph API answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// A person who writes to the bot's Page and is seen by the bot.
async fn writer(server: &TestServer, bot: &Bot, login: &str) -> PersonClient {
    let client = server.sign_in(&server.person(login).await).await;
    let sent = client.send(&bot.page.username, &format!("hello from {login}")).await;
    let mid = sent["mid"].clone();
    bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    client
}

fn metric(page: &str, name: &str, title: &str, description: &str, values: &[(u64, i64)]) -> Value {
    json!({
        "name": name, "period": "day",
        "values": values.iter().map(|(value, end)| json!({"value": value, "end_time": graph_time(*end)})).collect::<Vec<_>>(),
        "title": title, "description": description, "id": format!("{page}/insights/{name}/day"),
    })
}

fn error_of(status: u16, body: &Value) -> (u16, Value, Value, Value) {
    (status, body["error"]["code"].clone(), body["error"].get("error_subcode").cloned().unwrap_or(Value::Null), body["error"]["message"].clone())
}

#[tokio::test]
async fn each_day_is_counted_as_the_platform_clock_moves() {
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let bot = server.bot("shop", "messages,message_echoes").await;
    let now = server.console(Method::GET, "/clock", Value::Null).await["now"].as_i64().unwrap();
    // Day 0 begins at a midnight ahead; the clock moves to an hour past it.
    let day0 = (now.div_euclid(DAY_MS) + 1) * DAY_MS;
    server.console(Method::POST, "/clock", json!({"to": day0 + 3_600_000})).await;
    let ann = writer(&server, &bot, "ann").await;
    let bob = writer(&server, &bot, "bob").await;
    server.console(Method::POST, "/clock", json!({"advance_ms": DAY_MS})).await;
    let _cara = writer(&server, &bot, "cara").await;
    assert_eq!(ann.call(Method::POST, "/pages/shop/block", None).await.0, 200);
    assert_eq!(bob.call(Method::POST, "/pages/shop/report", None).await.0, 200);
    assert_eq!(bob.call(Method::POST, "/pages/shop/report", None).await.0, 200, "reporting again counts once");
    // The person's export holds the report's time (the day's date, the clock's hour).
    let (status, export) = bob.call(Method::GET, "/me/export", None).await;
    assert_eq!(status, 200, "{export}");
    let reported = export["threads"][0]["reported_time"].as_str().unwrap_or_default().to_string();
    assert!(reported.starts_with(&graph_time(day0 + DAY_MS + 3_600_000)[..13]), "{export}");
    server.console(Method::POST, "/clock", json!({"advance_ms": DAY_MS})).await;

    let page = bot.page.id.as_str();
    let (day1, day2) = (day0 + DAY_MS, day0 + 2 * DAY_MS);
    let want = json!([
        metric(page, "page_messages_total_messaging_connections", "Daily: Total Messaging Connections",
            "Daily: The number of people the Page has a conversation with, minus those who blocked it (Unique Users)", &[(2, day1), (2, day2)]),
        metric(page, "page_messages_new_conversations_unique", "Daily: New Messaging Conversations",
            "Daily: The number of messaging conversations on the Page started by people (Unique Users)", &[(2, day1), (1, day2)]),
        metric(page, "page_messages_blocked_conversations_unique", "Daily: Blocked Messaging Conversations",
            "Daily: The number of conversations with the Page that have been blocked (Unique Users)", &[(0, day1), (1, day2)]),
        metric(page, "page_messages_reported_conversations_unique", "Daily: Reported Messaging Conversations",
            "Daily: The number of conversations with the Page that have been reported by people (Unique Users)", &[(0, day1), (1, day2)]),
    ]);
    let (since, until) = ((day0 / 1000).to_string(), (day2 / 1000).to_string());
    let path = format!("/{page}/insights");
    let (status, answer) = get(&server, &bot.page_token, &path, &[("metric", ALL), ("period", "day"), ("since", &since), ("until", &until)]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], want);
    let (previous, next) = (answer["paging"]["previous"].as_str().unwrap(), answer["paging"]["next"].as_str().unwrap());
    let range = |since: i64, until: i64| format!("since={}&until={}", since / 1000, until / 1000);
    assert!(previous.starts_with(&format!("{}/", server.url)) && previous.ends_with(&range(day0 - 2 * DAY_MS, day0)), "{previous}");
    assert!(next.ends_with(&range(day2, day2 + 2 * DAY_MS)), "{next}");
    // The URL is the same request over the next range: followed as given, it answers.
    let followed: Value = server.http.get(next).send().await.unwrap().json().await.unwrap();
    assert_eq!(followed["data"][0]["values"], json!([{"value": 2, "end_time": graph_time(day2 + DAY_MS)}, {"value": 2, "end_time": graph_time(day2 + 2 * DAY_MS)}]));

    // Without a range: the last two whole days, which are these; `me` names the Page.
    let (status, answer) = get(&server, &bot.page_token, "/me/insights", &[("metric", ALL)]).await;
    assert_eq!((status, &answer["data"]), (200, &want));
    // A day that is not over yet counts so far; one metric, asked twice, answers once.
    let today = ((day2 + 1000) / 1000).to_string();
    let (status, answer) =
        get(&server, &bot.page_token, &path, &[("metric", "page_messages_new_conversations_unique,page_messages_new_conversations_unique"), ("since", &until), ("until", &today)]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().unwrap().len(), 1);
    assert_eq!(answer["data"][0]["values"], json!([{"value": 0, "end_time": graph_time(day2 + DAY_MS)}]));

    // Through a batch too.
    let batch = json!([{"method": "GET", "relative_url": format!("{page}/insights?metric=page_messages_blocked_conversations_unique&since={since}&until={until}")}]);
    let body = json!({"access_token": bot.page_token, "batch": batch});
    let answers: Value = server.http.post(format!("{}/", server.graph())).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answers[0]["code"], 200, "{answers}");
    let batched: Value = serde_json::from_str(answers[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(batched["data"], json!([want[2]]));
}

#[tokio::test]
async fn bad_metrics_periods_ranges_and_tokens_are_refused() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", "messages").await;
    let path = format!("/{}/insights", bot.page.id);
    let m = ("metric", "page_messages_new_conversations_unique");
    let bad_param = |message: &str| (400, json!(100), Value::Null, json!(message));
    let (status, body) = get(&server, &bot.page_token, &path, &[("metric", "page_fans")]).await;
    assert_eq!(error_of(status, &body), bad_param("(#100) The value must be a valid insights metric"));
    let (status, body) = get(&server, &bot.page_token, &path, &[("metric", "page_messages_new_conversations_unique,page_fans")]).await;
    assert_eq!(error_of(status, &body), bad_param("(#100) The value must be a valid insights metric"));
    let (status, body) = get(&server, &bot.page_token, &path, &[]).await;
    let none = "No metric was specified to be fetched. Please specify one or more metrics to be fetched and try again.";
    assert_eq!(error_of(status, &body), (400, json!(3001), json!(1504028), json!(none)));
    for period in ["week", "days_28", "lifetime", "total_over_range"] {
        let (status, body) = get(&server, &bot.page_token, &path, &[m, ("period", period)]).await;
        assert_eq!(error_of(status, &body), bad_param("(#100) Param period must be one of the following values: day"), "{period}");
    }
    let (status, body) = get(&server, &bot.page_token, &path, &[m, ("since", "1700000000"), ("until", "1700000000")]).await;
    assert_eq!(error_of(status, &body), bad_param("(#100) Param since must be earlier than until"));
    // 2023-11-14T00:00:00Z, then ninety days and a second.
    let (status, body) = get(&server, &bot.page_token, &path, &[m, ("since", "1699920000"), ("until", "1707696001")]).await;
    assert_eq!(error_of(status, &body), bad_param("(#100) There cannot be more than 90 days (7776000 s) between since and until"));
    let (status, body) = get(&server, &bot.page_token, &path, &[m, ("since", "1699920000"), ("until", "1707696000")]).await;
    assert_eq!(status, 200, "ninety days exactly: {body}");
    assert_eq!(body["data"][0]["values"].as_array().unwrap().len(), 90);
    assert_eq!(body["data"][0]["values"][0]["end_time"], "2023-11-15T00:00:00+0000");
    // A range that starts and ends inside days covers both days.
    let (status, body) = get(&server, &bot.page_token, &path, &[m, ("since", "1699930000"), ("until", "1700010000")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["values"], json!([{"value": 0, "end_time": "2023-11-15T00:00:00+0000"}, {"value": 0, "end_time": "2023-11-16T00:00:00+0000"}]));
    for since in ["yesterday", "-1", "99999999999999999999999"] {
        let (status, body) = get(&server, &bot.page_token, &path, &[m, ("since", since), ("until", "1700000000")]).await;
        assert_eq!(error_of(status, &body), bad_param("(#100) Param since must be a UNIX timestamp in seconds"), "{since}");
    }
    // Only this Page's own token.
    let other = server.bot("other", "messages").await;
    let (status, body) = get(&server, &other.page_token, &path, &[m]).await;
    assert_eq!(error_of(status, &body), (403, json!(200), Value::Null, json!("(#200) The Page access token does not belong to this Page")));
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, body) = get(&server, &app_token, &path, &[m]).await;
    assert_eq!(error_of(status, &body), (400, json!(190), Value::Null, json!("Invalid OAuth access token: this call requires a Page access token.")));
    let (status, body) = get(&server, "not-a-token", &path, &[m]).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!(190)), "{body}");
}
