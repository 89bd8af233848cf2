//! Profiles through real HTTP: the Page's Messenger Profile as apps set it and as the
//! person's client shows and taps it (Get Started with a link's referral, the
//! persistent menu, ice breakers), personas, and the User Profile API.

use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::*;

const HOUR_MS: i64 = 3_600_000;
const FIELDS: &str = "messages,messaging_postbacks,message_echoes";

/// A bot and a person who wrote to it; answers the person's client and PSID.
async fn thread(server: &TestServer, page: &str) -> (Bot, PersonClient, String) {
    let bot = server.bot(page, FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send(page, "hi").await;
    let event = bot.receiver.wait_for("ann's message", |e| e["message"]["text"] == "hi").await;
    (bot, ann, event["sender"]["id"].as_str().unwrap().to_string())
}

async fn set_profile(server: &TestServer, token: &str, body: Value) -> (u16, Value) {
    server.graph_call(Method::POST, "/me/messenger_profile", Some(token), Some(body)).await
}

/// Sets the profile; panics unless Meta's exact success answer comes back.
async fn set_ok(server: &TestServer, token: &str, body: Value) {
    let answer = set_profile(server, token, body.clone()).await;
    assert_eq!(answer, (200, json!({"result": "success"})), "setting {body}");
}

async fn get_profile(server: &TestServer, token: &str, fields: &str) -> Value {
    let (status, answer) = server.graph_call(Method::GET, &format!("/me/messenger_profile?fields={fields}"), Some(token), None).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A plain (#100) refusal with a non-empty message.
fn assert_100(answer: &(u16, Value)) {
    assert_eq!((answer.0, &answer.1["error"]["code"]), (400, &json!(100)), "{answer:?}");
    assert!(answer.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer:?}");
}

fn postback(title: &str, payload: &str) -> Value {
    json!({"type": "postback", "title": title, "payload": payload})
}

fn question(question: &str, payload: &str) -> Value {
    json!({"question": question, "payload": payload})
}

/// The `messaging_postbacks` event Meta sends, with the event's own mid and timestamp.
fn expected_postback(event: &Value, psid: &str, page: &str, postback: Value) -> Value {
    let mut postback = postback;
    postback["mid"] = event["postback"]["mid"].clone();
    assert!(postback["mid"].as_str().is_some_and(|m| m.starts_with("m_")), "{event}");
    assert!(event["timestamp"].as_i64().is_some_and(|t| t > 0), "{event}");
    json!({"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": event["timestamp"], "postback": postback})
}

#[tokio::test]
async fn the_profile_is_set_read_and_deleted_one_property_at_a_time() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    assert_eq!(get_profile(&server, token, "get_started,greeting").await, json!({"data": []}), "nothing set yet");

    let greeting = json!([{"locale": "default", "text": "Hello {{user_first_name}}!"}, {"locale": "fr_FR", "text": "Bonjour !"}]);
    set_ok(&server, token, json!({"get_started": {"payload": "GET_STARTED"}, "greeting": greeting})).await;
    // Only the properties present are overwritten; JSON text is accepted as form SDKs send it.
    set_ok(&server, token, json!({"whitelisted_domains": "[\"https://shop.example.com\"]"})).await;
    set_ok(&server, token, json!({"account_linking_url": "https://shop.example.com/authorize"})).await;

    let everything = json!({"data": [{
        "get_started": {"payload": "GET_STARTED"},
        "greeting": greeting,
        "whitelisted_domains": ["https://shop.example.com"],
        "account_linking_url": "https://shop.example.com/authorize",
    }]});
    assert_eq!(get_profile(&server, token, "get_started,greeting,whitelisted_domains,account_linking_url").await, everything);
    assert_eq!(get_profile(&server, token, "get_started").await, json!({"data": [{"get_started": {"payload": "GET_STARTED"}}]}));
    assert_eq!(get_profile(&server, token, "persistent_menu,ice_breakers").await, json!({"data": []}), "asked only for what is not set");
    // Through the Page's id as well as /me.
    let (status, by_id) = server.graph_call(Method::GET, &format!("/{}/messenger_profile?fields=greeting", bot.page.id), Some(token), None).await;
    assert_eq!((status, by_id), (200, json!({"data": [{"greeting": greeting}]})));
    let (status, unknown) = server.graph_call(Method::GET, "/me/messenger_profile?fields=colour", Some(token), None).await;
    assert_100(&(status, unknown));

    // DELETE with `fields` as a JSON body array, a query comma list, and JSON array text.
    let delete = |path: String, body: Option<Value>| {
        let server = &server;
        async move {
            server.graph_call(Method::DELETE, &format!("/me/messenger_profile{path}"), Some(token), body).await
        }
    };
    assert_eq!(delete(String::new(), Some(json!({"fields": ["account_linking_url"]}))).await, (200, json!({"result": "success"})));
    assert_eq!(delete("?fields=whitelisted_domains,greeting".into(), None).await, (200, json!({"result": "success"})));
    assert_eq!(
        get_profile(&server, token, "get_started,greeting,whitelisted_domains,account_linking_url").await,
        json!({"data": [{"get_started": {"payload": "GET_STARTED"}}]})
    );
    assert_eq!(delete("?fields=[\"get_started\"]".into(), None).await, (200, json!({"result": "success"})));
    assert_eq!(get_profile(&server, token, "get_started,greeting,whitelisted_domains,account_linking_url").await, json!({"data": []}));
    assert_100(&delete(String::new(), None).await);
    assert_100(&delete("?fields=home_url".into(), None).await);
    assert_100(&set_profile(&server, token, json!({"home_url": "https://shop.example.com"})).await);
    assert_100(&set_profile(&server, token, json!({"target_audience": {"audience_type": "all"}})).await);
}

#[tokio::test]
async fn the_persistent_menu_needs_a_get_started_button() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();
    let menu = json!([{"locale": "default", "composer_input_disabled": false, "call_to_actions": [postback("Talk to an agent", "CARE_HELP")]}]);

    let (status, answer) = set_profile(&server, token, json!({"persistent_menu": menu})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], 100);
    assert_eq!(answer["error"]["message"], "(#100) You must set a Get Started button if you also wish to use persistent menu.");
    assert_eq!(get_profile(&server, token, "persistent_menu").await, json!({"data": []}), "nothing stored");

    // Both in one call, or the menu after the button.
    set_ok(&server, token, json!({"get_started": {"payload": "GO"}, "persistent_menu": menu})).await;
    set_ok(&server, token, json!({"persistent_menu": menu})).await;
    assert_eq!(get_profile(&server, token, "persistent_menu").await, json!({"data": [{"persistent_menu": menu}]}));
    // The button cannot go while the menu stays; both may go together.
    let (status, answer) = server.graph_call(Method::DELETE, "/me/messenger_profile", Some(token), Some(json!({"fields": ["get_started"]}))).await;
    assert_100(&(status, answer));
    let (status, answer) = server.graph_call(Method::DELETE, "/me/messenger_profile", Some(token), Some(json!({"fields": ["get_started", "persistent_menu"]}))).await;
    assert_eq!((status, answer), (200, json!({"result": "success"})));
    assert_eq!(get_profile(&server, token, "get_started,persistent_menu").await, json!({"data": []}));
}

#[tokio::test]
async fn limits_hold_at_the_boundary_and_refuse_one_past_it() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = bot.page_token.as_str();

    // Greeting: 160 characters (not bytes), a `default` locale required.
    let greeting = |text: String| json!({"greeting": [{"locale": "default", "text": text}]});
    set_ok(&server, token, greeting("é".repeat(160))).await;
    assert_100(&set_profile(&server, token, greeting("a".repeat(161))).await);
    assert_100(&set_profile(&server, token, json!({"greeting": [{"locale": "fr_FR", "text": "Bonjour"}]})).await);
    assert_eq!(get_profile(&server, token, "greeting").await["data"][0]["greeting"][0]["text"], "é".repeat(160), "refusals change nothing");

    // Get Started payload: 1000.
    set_ok(&server, token, json!({"get_started": {"payload": "p".repeat(1000)}})).await;
    assert_100(&set_profile(&server, token, json!({"get_started": {"payload": "p".repeat(1001)}})).await);
    assert_100(&set_profile(&server, token, json!({"get_started": {}})).await);

    // Persistent menu: 20 items.
    let menu = |n: usize| json!({"persistent_menu": [{"locale": "default", "call_to_actions": vec![postback("Item", "ITEM"); n]}]});
    set_ok(&server, token, menu(20)).await;
    assert_100(&set_profile(&server, token, menu(21)).await);
    let items = get_profile(&server, token, "persistent_menu").await["data"][0]["persistent_menu"][0]["call_to_actions"].as_array().unwrap().len();
    assert_eq!(items, 20);

    // Ice breakers: 4, in the per-locale form and the older flat form.
    let per_locale = |n: usize| json!({"ice_breakers": [{"locale": "default", "call_to_actions": vec![question("Where are you?", "WHERE"); n]}]});
    let flat = |n: usize| json!({"ice_breakers": vec![question("Where are you?", "WHERE"); n]});
    set_ok(&server, token, per_locale(4)).await;
    assert_100(&set_profile(&server, token, per_locale(5)).await);
    set_ok(&server, token, flat(4)).await;
    assert_100(&set_profile(&server, token, flat(5)).await);
    assert_eq!(get_profile(&server, token, "ice_breakers").await, json!({"data": [{"ice_breakers": flat(4)["ice_breakers"]}]}), "kept as sent");

    // Whitelisted domains: HTTPS only.
    set_ok(&server, token, json!({"whitelisted_domains": ["https://shop.example.com", "https://cdn.example.com"]})).await;
    assert_100(&set_profile(&server, token, json!({"whitelisted_domains": ["http://shop.example.com"]})).await);
    assert_100(&set_profile(&server, token, json!({"whitelisted_domains": ["shop.example.com"]})).await);
    assert_eq!(
        get_profile(&server, token, "whitelisted_domains").await,
        json!({"data": [{"whitelisted_domains": ["https://shop.example.com", "https://cdn.example.com"]}]})
    );
}

#[tokio::test]
async fn another_pages_token_cannot_touch_the_profile() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let other = server.bot("other", FIELDS).await;
    set_ok(&server, &bot.page_token, json!({"get_started": {"payload": "SHOP"}})).await;
    let path = format!("/{}/messenger_profile", bot.page.id);

    let forbidden = |answer: (u16, Value)| {
        assert_eq!((answer.0, &answer.1["error"]["code"]), (403, &json!(200)), "{answer:?}");
    };
    forbidden(server.graph_call(Method::GET, &format!("{path}?fields=get_started"), Some(&other.page_token), None).await);
    forbidden(server.graph_call(Method::POST, &path, Some(&other.page_token), Some(json!({"get_started": {"payload": "HIJACKED"}}))).await);
    forbidden(server.graph_call(Method::DELETE, &path, Some(&other.page_token), Some(json!({"fields": ["get_started"]}))).await);
    // An app token is not a Page token.
    let app_token = format!("{}|{}", bot.app.id, bot.app.secret);
    let (status, answer) = server.graph_call(Method::POST, &path, Some(&app_token), Some(json!({"get_started": {"payload": "APP"}}))).await;
    assert_eq!(status, 400, "{answer}");

    assert_eq!(get_profile(&server, &bot.page_token, "get_started").await, json!({"data": [{"get_started": {"payload": "SHOP"}}]}));
    // The other Page's own profile is its own.
    assert_eq!(get_profile(&server, &other.page_token, "get_started").await, json!({"data": []}));
}

#[tokio::test]
async fn the_welcome_screen_is_personal_and_follows_the_persons_locale() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let menu_default = json!({"locale": "default", "composer_input_disabled": false, "call_to_actions": [postback("Help", "HELP")]});
    let menu_fr = json!({"locale": "fr_FR", "composer_input_disabled": true, "call_to_actions": [postback("Aide", "AIDE")]});
    set_ok(
        &server,
        &bot.page_token,
        json!({
            "get_started": {"payload": "GET_STARTED"},
            "greeting": [
                {"locale": "default", "text": "Hello {{user_first_name}}!"},
                {"locale": "fr_FR", "text": "Bonjour {{user_full_name}} ({{user_last_name}}) !"},
            ],
            "persistent_menu": [menu_default, menu_fr],
            "ice_breakers": [
                {"locale": "default", "call_to_actions": [question("Where are you?", "WHERE")]},
                {"locale": "fr_FR", "call_to_actions": [question("Où êtes-vous ?", "OU")]},
            ],
        }),
    )
    .await;
    let ann = server.sign_in(&server.person("ann").await).await;

    let (status, profile) = ann.call(Method::GET, "/me/profile", None).await;
    assert_eq!((status, profile), (200, json!({"locale": "en_US", "timezone": 0.0, "gender": null})), "the defaults");
    let (status, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(status, 200, "{welcome}");
    assert_eq!(welcome["page"]["id"], bot.page.id);
    let mut shown = welcome.clone();
    shown.as_object_mut().unwrap().remove("page");
    assert_eq!(
        shown,
        json!({"new_thread": true, "greeting": "Hello Ann!", "get_started": true, "persistent_menu": menu_default,
               "ice_breakers": [question("Where are you?", "WHERE")]})
    );

    let (status, set) = ann.call(Method::PUT, "/me/profile", Some(json!({"locale": "fr_FR", "timezone": 1, "gender": "female"}))).await;
    assert_eq!((status, set), (200, json!({"locale": "fr_FR", "timezone": 1.0, "gender": "female"})));
    let (_, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(welcome["greeting"], "Bonjour Ann Tester (Tester) !");
    assert_eq!(welcome["persistent_menu"], menu_fr);
    assert_eq!(welcome["ice_breakers"], json!([question("Où êtes-vous ?", "OU")]));
    // A locale the Page did not write for falls back to `default`.
    ann.call(Method::PUT, "/me/profile", Some(json!({"locale": "de_DE", "timezone": 2, "gender": null}))).await;
    let (_, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!((&welcome["greeting"], &welcome["persistent_menu"]), (&json!("Hello Ann!"), &menu_default));

    for bad in [json!({"locale": "French", "timezone": 0}), json!({"locale": "fr_FR", "timezone": 15}), json!({"locale": "fr_FR", "timezone": 0, "gender": "x"})] {
        let (status, answer) = ann.call(Method::PUT, "/me/profile", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let (_, profile) = ann.call(Method::GET, "/me/profile", None).await;
    assert_eq!(profile, json!({"locale": "de_DE", "timezone": 2.0, "gender": null}), "refusals change nothing");

    // Once the person wrote, the thread is no longer new; a bare Page shows nothing.
    ann.send("shop", "hi").await;
    let (_, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(welcome["new_thread"], false);
    server.bot("bare", FIELDS).await;
    let (status, bare) = ann.call(Method::GET, "/pages/bare/welcome", None).await;
    assert_eq!(status, 200, "{bare}");
    assert_eq!(
        (&bare["new_thread"], &bare["greeting"], &bare["get_started"], &bare["persistent_menu"], &bare["ice_breakers"]),
        (&json!(true), &Value::Null, &json!(false), &Value::Null, &json!([]))
    );
}

#[tokio::test]
async fn get_started_carries_the_links_referral_only_when_it_opens_the_thread() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    set_ok(&server, &bot.page_token, json!({"get_started": {"payload": "GET_STARTED"}})).await;
    let mut ann = server.sign_in(&server.person("ann").await).await;
    ann.listen().await;

    let (status, tapped) = ann.call(Method::POST, "/threads/shop/get-started", Some(json!({"ref": "summer-sale"}))).await;
    assert_eq!(status, 200, "{tapped}");
    let event = bot.receiver.wait_for("the Get Started postback", |e| e["postback"]["title"] == "Get Started").await;
    let psid = event["sender"]["id"].as_str().unwrap().to_string();
    let referral = json!({"ref": "summer-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"});
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "Get Started", "payload": "GET_STARTED", "referral": referral})));
    assert_eq!(event["postback"]["mid"], tapped["mid"]);
    // The tap shows in the person's thread as their message, live and in the history.
    ann.wait_live("the tap, live", |e| e["type"] == "message" && e["message"]["mid"] == tapped["mid"]).await;
    let history = ann.history("shop").await;
    assert_eq!((&history["messages"][0]["text"], &history["messages"][0]["from"]), (&json!("Get Started"), &json!("person")));
    let (_, welcome) = ann.call(Method::GET, "/pages/shop/welcome", None).await;
    assert_eq!(welcome["new_thread"], false);

    // A second tap, even from a link, opens no thread: no referral.
    let (status, again) = ann.call(Method::POST, "/threads/shop/get-started", Some(json!({"ref": "summer-sale"}))).await;
    assert_eq!(status, 200, "{again}");
    let event = bot.receiver.wait_for("the second postback", |e| e["postback"]["mid"] == again["mid"]).await;
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "Get Started", "payload": "GET_STARTED"})));

    // A new thread opened without a link: no referral either.
    let bob = server.sign_in(&server.person("bob").await).await;
    let (status, tapped) = bob.call(Method::POST, "/threads/shop/get-started", Some(json!({}))).await;
    assert_eq!(status, 200, "{tapped}");
    let event = bot.receiver.wait_for("bob's postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    let bob_psid = event["sender"]["id"].as_str().unwrap().to_string();
    assert_ne!(bob_psid, psid);
    assert_eq!(event, expected_postback(&event, &bob_psid, &bot.page.id, json!({"title": "Get Started", "payload": "GET_STARTED"})));

    // A Page without the button has nothing to tap.
    server.bot("bare", FIELDS).await;
    let (status, answer) = ann.call(Method::POST, "/threads/bare/get-started", Some(json!({"ref": "x"}))).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn menu_items_and_ice_breakers_send_postbacks() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop").await;
    let web = json!({"type": "web_url", "title": "Shop now", "url": "https://shop.example.com", "webview_height_ratio": "full"});
    set_ok(
        &server,
        &bot.page_token,
        json!({
            "get_started": {"payload": "GET_STARTED"},
            "persistent_menu": [
                {"locale": "default", "call_to_actions": [postback("Talk to an agent", "CARE_HELP"), web]},
                {"locale": "fr_FR", "call_to_actions": [postback("Parler à quelqu'un", "CARE_FR")]},
            ],
            "ice_breakers": [{"locale": "default", "call_to_actions": [question("Where are you?", "WHERE"), question("When do you open?", "WHEN")]}],
        }),
    )
    .await;
    let tap = |body: Value| ann.call(Method::POST, "/threads/shop/postbacks", Some(body));

    let (status, tapped) = tap(json!({"menu": "/0"})).await;
    assert_eq!(status, 200, "{tapped}");
    let event = bot.receiver.wait_for("the menu postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "Talk to an agent", "payload": "CARE_HELP"})));

    let (status, tapped) = tap(json!({"ice_breaker": 1})).await;
    assert_eq!(status, 200, "{tapped}");
    let event = bot.receiver.wait_for("the ice breaker postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "When do you open?", "payload": "WHEN"})));

    // A web_url item opens a page, not a postback; past the end there is nothing.
    for body in [json!({"menu": "/1"}), json!({"menu": "/7"}), json!({"ice_breaker": 2}), json!({}), json!({"menu": "/0", "ice_breaker": 0})] {
        let (status, answer) = tap(body.clone()).await;
        assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{body}: {answer}");
    }

    // The person's locale picks the menu; the older flat ice breakers work as well.
    ann.call(Method::PUT, "/me/profile", Some(json!({"locale": "fr_FR", "timezone": 1}))).await;
    let (_, tapped) = tap(json!({"menu": "/0"})).await;
    let event = bot.receiver.wait_for("the French menu postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "Parler à quelqu'un", "payload": "CARE_FR"})));
    set_ok(&server, &bot.page_token, json!({"ice_breakers": [question("Any deals?", "DEALS")]})).await;
    let (_, tapped) = tap(json!({"ice_breaker": 0})).await;
    let event = bot.receiver.wait_for("the flat ice breaker postback", |e| e["postback"]["mid"] == tapped["mid"]).await;
    assert_eq!(event, expected_postback(&event, &psid, &bot.page.id, json!({"title": "Any deals?", "payload": "DEALS"})));

    // Refused taps sent nothing: the message and four postbacks, in order.
    let history = ann.history("shop").await;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["hi", "Talk to an agent", "When do you open?", "Parler à quelqu'un", "Any deals?"]);
    let postbacks = bot.receiver.acknowledged_events().into_iter().filter(|e| e.get("postback").is_some()).count();
    assert_eq!(postbacks, 4);
}

#[tokio::test]
async fn personas_are_created_listed_read_and_deleted() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let token = Some(bot.page_token.as_str());
    let (status, created) = server
        .graph_call(Method::POST, "/me/personas", token, Some(json!({"name": "John Mathew", "profile_picture_url": "https://example.com/john.jpg"})))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created, json!({"id": id}));
    let john = json!({"name": "John Mathew", "profile_picture_url": "https://example.com/john.jpg", "id": id});

    let (status, one) = server.graph_call(Method::GET, &format!("/{id}"), token, None).await;
    assert_eq!((status, one), (200, john.clone()));
    let (status, list) = server.graph_call(Method::GET, "/me/personas", token, None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"], json!([john]));
    let (status, by_id) = server.graph_call(Method::GET, &format!("/{}/personas", bot.page.id), token, None).await;
    assert_eq!((status, &by_id["data"]), (200, &json!([john])));

    // Another Page neither sees nor deletes it.
    let other = server.bot("other", FIELDS).await;
    let (_, theirs) = server.graph_call(Method::GET, "/me/personas", Some(&other.page_token), None).await;
    assert_eq!(theirs["data"], json!([]));
    let (status, answer) = server.graph_call(Method::GET, &format!("/{id}"), Some(&other.page_token), None).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    let (status, answer) = server.graph_call(Method::DELETE, &format!("/{id}"), Some(&other.page_token), None).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(100)), "{answer}");
    let (status, answer) = server.graph_call(Method::GET, &format!("/{}/personas", bot.page.id), Some(&other.page_token), None).await;
    assert_eq!((status, &answer["error"]["code"]), (403, &json!(200)), "{answer}");

    let (status, deleted) = server.graph_call(Method::DELETE, &format!("/{id}"), token, None).await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
    let (status, gone) = server.graph_call(Method::GET, &format!("/{id}"), token, None).await;
    assert_eq!((status, &gone["error"]["code"]), (400, &json!(100)), "{gone}");
    let (status, again) = server.graph_call(Method::DELETE, &format!("/{id}"), token, None).await;
    assert_eq!((status, &again["error"]["code"]), (400, &json!(100)), "{again}");
    let (_, list) = server.graph_call(Method::GET, "/me/personas", token, None).await;
    assert_eq!(list["data"], json!([]));

    // Validation: a name of at most 100 characters, an http(s) picture URL.
    let create = |name: Value, url: Value| server.graph_call(Method::POST, "/me/personas", token, Some(json!({"name": name, "profile_picture_url": url})));
    let (status, longest) = create(json!("é".repeat(100)), json!("http://example.com/a.png")).await;
    assert_eq!(status, 200, "{longest}");
    assert_100(&create(json!("a".repeat(101)), json!("https://example.com/a.png")).await);
    assert_100(&create(json!(""), json!("https://example.com/a.png")).await);
    assert_100(&create(json!("Ann"), json!("ftp://example.com/a.png")).await);
    assert_100(&create(json!("Ann"), json!("not a url")).await);
    assert_100(&server.graph_call(Method::POST, "/me/personas", token, Some(json!({"name": "Ann"}))).await);
    let (_, list) = server.graph_call(Method::GET, "/me/personas", token, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "only the valid one: {list}");
}

#[tokio::test]
async fn a_message_sent_as_a_persona_shows_the_persona_to_the_person() {
    let server = TestServer::start().await;
    let (bot, mut ann, psid) = thread(&server, "shop").await;
    ann.listen().await;
    let token = Some(bot.page_token.as_str());
    let (_, created) = server
        .graph_call(Method::POST, "/me/personas", token, Some(json!({"name": "John Mathew", "profile_picture_url": "https://example.com/john.jpg"})))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let persona = json!({"id": id, "name": "John Mathew", "profile_picture_url": "https://example.com/john.jpg"});

    let as_persona = |persona_id: &str, text: &str| {
        json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}, "persona_id": persona_id})
    };
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", token, Some(as_persona(&id, "John here"))).await;
    assert_eq!(status, 200, "{sent}");
    let mid = sent["message_id"].as_str().unwrap().to_string();
    let live = ann.wait_live("the persona's message, live", |e| e["type"] == "message" && e["message"]["mid"] == mid.as_str()).await;
    assert_eq!(live["message"]["persona"], persona);
    let history = ann.history("shop").await;
    let shown = history["messages"].as_array().unwrap().iter().find(|m| m["mid"] == mid.as_str()).unwrap().clone();
    assert_eq!((&shown["text"], &shown["from"], &shown["persona"]), (&json!("John here"), &json!("page"), &persona));
    // The echo is an ordinary echo.
    let echo = bot.receiver.wait_for("the echo", |e| e["message"]["mid"] == mid.as_str()).await;
    assert_eq!(echo["message"]["is_echo"], true);

    // Another Page's persona, an unknown one, or garbage: code 100, nothing sent.
    let other = server.bot("other", FIELDS).await;
    let (_, theirs) = server
        .graph_call(Method::POST, "/me/personas", Some(&other.page_token), Some(json!({"name": "Eve", "profile_picture_url": "https://example.com/eve.jpg"})))
        .await;
    for persona_id in [theirs["id"].as_str().unwrap(), "123456789012345", "not-an-id"] {
        assert_100(&server.graph_call(Method::POST, "/me/messages", token, Some(as_persona(persona_id, "who?"))).await);
    }
    // A message without persona shows none; a deleted persona's messages show the Page again.
    server.send_text(&bot, &psid, "the Page itself").await;
    server.graph_call(Method::DELETE, &format!("/{id}"), token, None).await;
    let history = ann.history("shop").await;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["hi", "John here", "the Page itself"]);
    assert!(history["messages"].as_array().unwrap().iter().all(|m| m.get("persona").is_none()), "{history}");
    let (status, _) = server.graph_call(Method::POST, "/me/messages", token, Some(as_persona(&id, "ghost"))).await;
    assert_eq!(status, 400, "a deleted persona sends nothing");
}

#[tokio::test]
async fn the_user_profile_api_shows_what_the_person_shared() {
    let server = TestServer::start().await;
    let (bot, ann, psid) = thread(&server, "shop").await;
    let token = Some(bot.page_token.as_str());
    let profile = |fields: &'static str| {
        let (server, path) = (&server, format!("/{psid}?fields={fields}"));
        async move { server.graph_call(Method::GET, &path, token, None).await }
    };

    let (status, user) = profile("first_name,last_name,profile_pic,locale,timezone").await;
    assert_eq!(status, 200, "{user}");
    let picture = user["profile_pic"].as_str().unwrap().to_string();
    assert_eq!(user, json!({"first_name": "Ann", "last_name": "Tester", "profile_pic": picture, "locale": "en_US", "timezone": 0, "id": psid}));
    let (status, user) = profile("name,id").await;
    assert_eq!((status, user), (200, json!({"name": "Ann Tester", "id": psid})));
    let svg = server.http.get(&picture).send().await.unwrap();
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"), "an SVG");

    // What the person tells about themselves, gender only once they said it; half hours stay decimal.
    let sdk_fields = "first_name,last_name,profile_pic,locale,timezone,gender";
    let (status, _) = ann.call(Method::PUT, "/me/profile", Some(json!({"locale": "pt_BR", "timezone": -3, "gender": "female"}))).await;
    assert_eq!(status, 200);
    let (status, user) = profile(sdk_fields).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user,
        json!({"first_name": "Ann", "last_name": "Tester", "profile_pic": picture, "locale": "pt_BR", "timezone": -3, "gender": "female", "id": psid})
    );
    ann.call(Method::PUT, "/me/profile", Some(json!({"locale": "hi_IN", "timezone": 5.5, "gender": null}))).await;
    let (status, user) = profile("locale,timezone").await;
    assert_eq!((status, user), (200, json!({"locale": "hi_IN", "timezone": 5.5, "id": psid})));
}

#[tokio::test]
async fn the_sdks_default_fields_work_before_the_person_states_a_gender() {
    let server = TestServer::start().await;
    let (bot, _ann, psid) = thread(&server, "shop").await;
    // messenger4j and fbmessenger ask for these by default, gender included.
    let path = format!("/{psid}?fields=first_name,last_name,profile_pic,locale,timezone,gender");
    let (status, user) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user,
        json!({"first_name": "Ann", "last_name": "Tester", "profile_pic": user["profile_pic"], "locale": "en_US", "timezone": 0, "id": psid})
    );
}

#[tokio::test]
async fn a_psid_reached_only_by_phone_number_has_no_profile_until_the_person_writes() {
    let server = TestServer::start_with(|s| {
        s.virtual_clock = true;
        s.auto_approve_page_features = true;
    })
    .await;
    let bot = server.bot("shop", FIELDS).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    let (status, _) = ann.call(Method::PUT, "/me/phone", Some(json!({"phone_number": "+12125552368"}))).await;
    assert_eq!(status, 200);
    let admin = server.sign_in(&bot.admin).await;
    let features = format!("/pages/{}/features/phone_numbers", bot.page.id);
    let (status, applied) = server.console_as(&admin.token, Method::POST, &features, json!({"accept_terms": true})).await;
    assert_eq!((status.as_u16(), &applied["data"][0]["status"]), (200, &json!("approved")), "{applied}");
    server.console(Method::POST, "/clock", json!({"advance_ms": 24 * HOUR_MS})).await;
    let by_phone = json!({"recipient": {"phone_number": "+12125552368"}, "message": {"text": "we matched you"}});
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(by_phone)).await;
    assert_eq!(status, 200, "{sent}");
    let psid = sent["recipient_id"].as_str().unwrap().to_string();

    let path = format!("/{psid}?fields=first_name,last_name,profile_pic");
    let (status, answer) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!((status, &answer["error"]["code"], &answer["error"]["error_subcode"]), (400, &json!(100), &json!(2018218)), "{answer}");
    assert_eq!(answer["error"]["message"], "(#100) No profile available for this user.");

    ann.send("shop", "who is this?").await;
    let (status, user) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!((&user["first_name"], &user["id"]), (&json!("Ann"), &json!(psid)));
}
