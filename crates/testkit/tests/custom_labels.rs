//! Custom labels (reference §9.6) through real HTTP: a Page's labels created (one
//! per name), listed and paged, read and deleted as nodes; persons put under them
//! and taken away, a person's labels; refused for the wrong token, another Page's
//! labels and PSIDs and bad parameters; the console's list with member counts; one
//! call through the batch API.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const FIELDS: &str = "messages";

/// A person who wrote to the bot's Page: their PSID there.
async fn psid_of(server: &TestServer, bot: &Bot, login: &str) -> String {
    let client = server.sign_in(&server.person(login).await).await;
    let mid = client.send(&bot.page.username, "hi").await["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    event["sender"]["id"].as_str().unwrap().to_string()
}

async fn create(server: &TestServer, token: &str, body: Value) -> String {
    let (status, created) = server.graph_call(Method::POST, "/me/custom_labels", Some(token), Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id"], "{created}");
    created["id"].as_str().unwrap().to_string()
}

async fn get(server: &TestServer, token: &str, path: &str) -> Value {
    let (status, answer) = server.graph_call(Method::GET, path, Some(token), None).await;
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

fn names(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect()
}

/// The Graph refusal `code`/`subcode` with status 400 (or 403 for 200).
fn assert_refused(answer: &(u16, Value), code: u64, subcode: Option<u64>) {
    let status = if code == 200 { 403 } else { 400 };
    assert_eq!((answer.0, &answer.1["error"]["code"], answer.1["error"]["error_subcode"].as_u64()), (status, &json!(code), subcode), "{answer:?}");
    assert!(answer.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer:?}");
}

#[tokio::test]
async fn labels_are_created_listed_put_on_persons_and_deleted() {
    // On a virtual clock moved a millisecond between creations: labels list oldest
    // first, and two made in one millisecond would be ordered by id.
    let server = TestServer::start_with(|s| s.virtual_clock = true).await;
    let tick = || server.console(Method::POST, "/clock", json!({"advance_ms": 1}));
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    let (ann, bob) = (psid_of(&server, &bot, "ann").await, psid_of(&server, &bot, "bob").await);
    assert_eq!(get(&server, token, "/me/custom_labels?fields=name").await, json!({"data": []}));

    let vip = create(&server, token, json!({"page_label_name": "vip"})).await;
    tick().await;
    // messaging-apis still sends the older key `name`; form bodies work too.
    let (status, created) = server.graph_call(Method::POST, &format!("/{}/custom_labels?page_label_name=churned", bot.page.id), Some(token), None).await;
    assert_eq!(status, 200, "{created}");
    let churned = created["id"].as_str().unwrap().to_string();
    tick().await;
    let old_key = create(&server, token, json!({"name": "loyal"})).await;
    assert_eq!(create(&server, token, json!({"page_label_name": "vip"})).await, vip, "one label per name: the same id again");

    let list = get(&server, token, "/me/custom_labels?fields=name").await;
    assert_eq!(list["data"], json!([{"name": "vip", "id": vip}, {"name": "churned", "id": churned}, {"name": "loyal", "id": old_key}]), "oldest first");
    assert!(list["paging"]["cursors"]["before"].is_string() && list.get("paging").unwrap().get("next").is_none(), "{list}");
    // Paged: one at a time, following `next` to the end.
    let first = get(&server, token, "/me/custom_labels?fields=name&limit=1").await;
    assert_eq!(names(&first), ["vip"]);
    let next = first["paging"]["next"].as_str().expect("a next page").to_string();
    let second: Value = server.http.get(&next).send().await.unwrap().json().await.unwrap();
    assert_eq!(names(&second), ["churned"]);
    let by_id = get(&server, token, &format!("/{}/custom_labels?fields=name,page_label_name", bot.page.username)).await;
    assert_eq!(by_id["data"][0], json!({"name": "vip", "page_label_name": "vip", "id": vip}), "by username, v12's field too");
    assert_eq!(get(&server, token, "/me/custom_labels?fields=id").await["data"][0], json!({"id": vip}));

    // The label node.
    assert_eq!(get(&server, token, &format!("/{vip}?fields=name")).await, json!({"name": "vip", "id": vip}));
    assert_eq!(get(&server, token, &format!("/{vip}")).await, json!({"name": "vip", "id": vip}));

    // Persons under labels, once however often; a person's labels.
    let label = |method: Method, id: &str, body: Value| {
        let server = &server;
        let path = format!("/{id}/label");
        async move { server.graph_call(method, &path, Some(token), Some(body)).await }
    };
    let success = (200, json!({"success": true}));
    assert_eq!(label(Method::POST, &vip, json!({"user": ann})).await, success);
    assert_eq!(label(Method::POST, &vip, json!({"user": ann})).await, success);
    assert_eq!(label(Method::POST, &churned, json!({"user": ann})).await, success);
    assert_eq!(label(Method::POST, &vip, json!({"user": bob})).await, success);
    assert_eq!(get(&server, token, &format!("/{ann}/custom_labels?fields=name")).await["data"], json!([{"name": "vip", "id": vip}, {"name": "churned", "id": churned}]));
    assert_eq!(names(&get(&server, token, &format!("/{bob}/custom_labels?fields=name")).await), ["vip"]);

    // The console counts who is under each label, for the Page's admins.
    let admin = server.sign_in(&bot.admin).await;
    let (status, listed) = server.console_as(&admin.token, Method::GET, &format!("/pages/{}/labels", bot.page.id), Value::Null).await;
    assert_eq!(status, 200, "{listed}");
    let counts: Vec<(String, u64)> = listed["data"].as_array().unwrap().iter().map(|l| (l["name"].as_str().unwrap().to_string(), l["members"].as_u64().unwrap())).collect();
    assert_eq!(counts, [("churned".into(), 1), ("loyal".into(), 0), ("vip".into(), 2)], "by name");
    assert_eq!(listed["data"][2]["id"], json!(vip));

    // Removed with `user` as the query, then as a JSON body; removing again is no failure.
    let (status, removed) = server.graph_call(Method::DELETE, &format!("/{vip}/label?user={ann}"), Some(token), None).await;
    assert_eq!((status, removed), (200, json!({"success": true})));
    assert_eq!(label(Method::DELETE, &churned, json!({"user": ann})).await, success);
    assert_eq!(label(Method::DELETE, &churned, json!({"user": ann})).await, success);
    assert_eq!(get(&server, token, &format!("/{ann}/custom_labels?fields=name")).await, json!({"data": []}));

    // Deleting a label takes its persons with it.
    let (status, deleted) = server.graph_call(Method::DELETE, &format!("/{vip}"), Some(token), None).await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
    assert_eq!(get(&server, token, &format!("/{bob}/custom_labels?fields=name")).await, json!({"data": []}));
    assert_refused(&server.graph_call(Method::GET, &format!("/{vip}?fields=name"), Some(token), None).await, 100, Some(33));
    assert_refused(&server.graph_call(Method::DELETE, &format!("/{vip}"), Some(token), None).await, 100, Some(33));
    assert_refused(&label(Method::POST, &vip, json!({"user": bob})).await, 100, Some(33));
    assert_eq!(names(&get(&server, token, "/me/custom_labels?fields=name").await), ["churned", "loyal"]);
}

#[tokio::test]
async fn labels_belong_to_their_page_and_refuse_bad_calls() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    let ann = psid_of(&server, &bot, "ann").await;
    let other = server.bot("other", FIELDS).await;
    let elsewhere = psid_of(&server, &other, "bob").await;
    let vip = create(&server, token, json!({"page_label_name": "vip"})).await;
    let theirs = create(&server, &other.page_token, json!({"page_label_name": "vip"})).await;
    assert_ne!(vip, theirs, "names are per Page");
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let user_token = server.console(Method::POST, &format!("/apps/{}/user-tokens", bot.app.id), json!({"person_id": bot.admin.id})).await["access_token"].as_str().unwrap().to_string();
    let call = |method: Method, path: String, token: String, body: Option<Value>| {
        let server = &server;
        async move { server.graph_call(method, &path, Some(&token), body).await }
    };

    // Only a Page token: app and user tokens are refused as on every Page edge.
    for wrong in [&app_token, &user_token] {
        assert_refused(&call(Method::POST, format!("/{}/custom_labels", bot.page.id), wrong.clone(), Some(json!({"page_label_name": "x"}))).await, 190, None);
        assert_refused(&call(Method::GET, format!("/{}/custom_labels", bot.page.id), wrong.clone(), None).await, 190, None);
        assert_refused(&call(Method::GET, format!("/{ann}/custom_labels"), wrong.clone(), None).await, 190, None);
        assert_refused(&call(Method::POST, format!("/{vip}/label"), wrong.clone(), Some(json!({"user": ann}))).await, 190, None);
        assert_refused(&call(Method::DELETE, format!("/{vip}/label"), wrong.clone(), Some(json!({"user": ann}))).await, 190, None);
    }
    assert_refused(&call(Method::DELETE, format!("/{vip}"), app_token.clone(), None).await, 100, Some(33));

    // Another Page's token: the label is no object it knows, the Page not its own.
    let stranger = other.page_token.clone();
    assert_refused(&call(Method::GET, format!("/{vip}?fields=name"), stranger.clone(), None).await, 100, Some(33));
    assert_refused(&call(Method::DELETE, format!("/{vip}"), stranger.clone(), None).await, 100, Some(33));
    assert_refused(&call(Method::POST, format!("/{vip}/label"), stranger.clone(), Some(json!({"user": elsewhere}))).await, 100, Some(33));
    assert_refused(&call(Method::DELETE, format!("/{vip}/label?user={elsewhere}"), stranger.clone(), None).await, 100, Some(33));
    assert_refused(&call(Method::GET, format!("/{}/custom_labels", bot.page.id), stranger.clone(), None).await, 200, None);
    assert_refused(&call(Method::POST, format!("/{}/custom_labels", bot.page.id), stranger.clone(), Some(json!({"page_label_name": "x"}))).await, 200, None);
    assert_refused(&call(Method::GET, format!("/{ann}/custom_labels"), stranger.clone(), None).await, 100, Some(2018001));
    // Another Page's PSID on this Page's label: the Send API's error.
    let (status, answer) = call(Method::POST, format!("/{vip}/label"), token.to_string(), Some(json!({"user": elsewhere}))).await;
    assert_eq!((status, &answer["error"]["message"], &answer["error"]["error_subcode"]), (400, &json!("(#100) No matching user found"), &json!(2018001)), "{answer}");
    assert_refused(&call(Method::GET, format!("/{elsewhere}/custom_labels?fields=name"), token.to_string(), None).await, 100, Some(2018001));
    assert_refused(&call(Method::DELETE, format!("/{vip}/label?user=123"), token.to_string(), None).await, 100, Some(2018001));

    // Bad parameters.
    for body in [json!({}), json!({"page_label_name": ""}), json!({"page_label_name": "x".repeat(101)}), json!({"name": "a\u{0}b"}), json!({"page_label_name": ["vip"]})] {
        assert_refused(&call(Method::POST, "/me/custom_labels".into(), token.to_string(), Some(body)).await, 100, None);
    }
    let longest = create(&server, token, json!({"page_label_name": "é".repeat(100)})).await;
    assert_eq!(get(&server, token, &format!("/{longest}?fields=name")).await["name"], json!("é".repeat(100)), "100 characters is the bound");
    assert_refused(&call(Method::POST, format!("/{vip}/label"), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::POST, format!("/{vip}/label"), token.to_string(), Some(json!({"user": " "}))).await, 100, None);
    assert_refused(&call(Method::GET, "/me/custom_labels?fields=colour".into(), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::GET, format!("/{vip}?fields=colour"), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::GET, "/me/custom_labels?after=garbage".into(), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::GET, "/me/custom_labels?limit=lots".into(), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::GET, "/me/custom_labels?before=x".into(), token.to_string(), None).await, 100, None);
    assert_refused(&call(Method::POST, "/not-a-label/label".into(), token.to_string(), Some(json!({"user": ann}))).await, 100, Some(33));

    // Nothing of that touched either Page's labels.
    assert_eq!(get(&server, token, &format!("/{ann}/custom_labels?fields=name")).await, json!({"data": []}));
    assert_eq!(names(&get(&server, &other.page_token, "/me/custom_labels?fields=name").await), ["vip"]);
    assert_eq!(get(&server, &other.page_token, &format!("/{theirs}?fields=name")).await, json!({"name": "vip", "id": theirs}));

    // The console's list: the Page's admins and the operator only.
    let path = format!("/pages/{}/labels", bot.page.id);
    let outsider = server.sign_in(&other.admin).await;
    let (status, refused) = server.console_as(&outsider.token, Method::GET, &path, Value::Null).await;
    assert_eq!(status, 403, "{refused}");
    let operator = server.console(Method::GET, &path, Value::Null).await;
    assert_eq!(operator["data"].as_array().unwrap().len(), 2, "vip and the longest name");
}

#[tokio::test]
async fn labels_through_the_batch_api() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let ann = psid_of(&server, &bot, "ann").await;
    let vip = create(&server, &bot.page_token, json!({"page_label_name": "vip"})).await;
    let batch = json!([
        {"method": "POST", "relative_url": format!("{vip}/label"), "body": format!("user={ann}")},
        {"method": "GET", "relative_url": format!("{ann}/custom_labels?fields=name")},
        {"method": "POST", "relative_url": "me/custom_labels", "body": "page_label_name=new"},
    ]);
    let response = server.http.post(format!("{}/", server.graph())).json(&json!({"access_token": bot.page_token, "batch": batch})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Value = response.json().await.unwrap();
    let body = |i: usize| serde_json::from_str::<Value>(answers[i]["body"].as_str().unwrap()).unwrap();
    assert_eq!(answers.as_array().unwrap().iter().map(|a| a["code"].clone()).collect::<Vec<_>>(), [json!(200), json!(200), json!(200)], "{answers}");
    assert_eq!(body(0), json!({"success": true}));
    assert_eq!(body(1)["data"], json!([{"name": "vip", "id": vip}]));
    let new = body(2)["id"].as_str().unwrap().to_string();
    assert_eq!(names(&get(&server, &bot.page_token, "/me/custom_labels?fields=name").await), ["vip", "new"]);
    assert_ne!(new, vip);
}
