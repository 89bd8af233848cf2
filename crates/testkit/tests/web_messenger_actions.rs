//! The web messenger's actions on sent messages, in a real browser (headless
//! Chromium over WebDriver): a person edits a message of theirs from the composer
//! (the bot hears `message_edits`, the thread and the Page inbox mark it edited, an
//! edit from another device shows live), sends the like sticker with the 👍 button
//! and sees the bot's sticker as an image, and rates the Page's answers thumbs up or
//! down. Each step waits for what the page shows, never sleeps.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::browser::{attribute, click, click_text, console_go, console_sign_in, fill, find, find_text, texts, wait_displayed, Browser, Screen};
use switchboard_testkit::{Bot, TestPerson, TestServer};

const FIELDS: &str = "messages,message_echoes,message_edits,response_feedback,message_reads";
const LIKE: u64 = 369239263222822;
const LIKE_LARGE: u64 = 369239383222810;

/// Opens the web messenger, signs in, and opens the Page's thread from the list.
async fn open_thread(client: &Client, server: &TestServer, person: &TestPerson, page: &str) {
    client.goto(&format!("{}/", server.url)).await.expect("the page opens");
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    find(client, "#sign-in").await.click().await.expect("signing in");
    find(client, "body[data-live='on']").await;
    click_text(client, "#thread-list .thread-name", &format!("Page {page}")).await;
    find_text(client, "#thread-title", &format!("Page {page}")).await;
}

fn message(mid: &str) -> String {
    format!("li.message[data-mid='{mid}']")
}

/// A bot and a person who wrote `first` to it: the person, their PSID and the mid.
async fn thread(server: &TestServer, first: &str) -> (Bot, TestPerson, String, String) {
    let bot = server.bot("shop", FIELDS).await;
    let person = server.person("ann").await;
    let sent = server.sign_in(&person).await.send("shop", first).await;
    let mid = sent["mid"].as_str().expect("mid").to_string();
    let event = bot.receiver.wait_for("the first message", |e| e["message"]["mid"] == mid.as_str()).await;
    (bot, person, event["sender"]["id"].as_str().expect("psid").to_string(), mid)
}

async fn send(server: &TestServer, bot: &Bot, psid: &str, message: Value) -> String {
    let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["message_id"].as_str().expect("message_id").to_string()
}

/// Whether the image matching `css` loaded (it has a width of its own).
async fn image_loaded(client: &Client, css: &str) -> bool {
    let script = "const img = document.querySelector(arguments[0]); return Boolean(img && img.complete && img.naturalWidth > 0);";
    client.execute(script, vec![json!(css)]).await.expect("the script runs") == json!(true)
}

#[tokio::test]
async fn a_person_edits_a_message_and_the_thread_and_inbox_mark_it_edited() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid, mid) = thread(&server, "See you at 5").await;
    let offer = send(&server, &bot, &psid, json!({"text": "Noted"})).await;

    browser
        .run("messenger_edit", |client| async move {
            open_thread(&client, &server, &ann, "shop").await;
            let mine = message(&mid);
            find_text(&client, &format!("{mine} .bubble"), "See you at 5").await;
            find_text(&client, &format!("{} .bubble", message(&offer)), "Noted").await;
            assert!(client.find_all(Locator::Css(&format!("{} .edit-button", message(&offer)))).await.unwrap().is_empty(), "the Page's message has no Edit");

            // Edit from the composer: it takes the text, Save stores the new one.
            click(&client, &format!("{mine} .edit-button")).await;
            find_text(&client, "#editing-text", "See you at 5").await;
            find_text(&client, "#send", "Save").await;
            assert_eq!(find(&client, "#text").await.prop("value").await.unwrap().as_deref(), Some("See you at 5"));
            fill(&client, "#text", "See you at 6").await;
            find(&client, "#text").await.send_keys(&Key::Enter).await.expect("pressing Enter");
            let event = bot.receiver.wait_for("the edit", |e| e.get("message_edit").is_some()).await;
            assert_eq!(event["message_edit"], json!({"mid": mid, "text": "See you at 6", "num_edit": 1}));
            find_text(&client, &format!("{mine} .bubble"), "See you at 6").await;
            find_text(&client, &format!("{mine} .edited"), "Edited").await;
            wait_displayed(&client, "#editing", false).await;
            find_text(&client, "#send", "Send").await;
            assert_eq!(find(&client, "#text").await.prop("value").await.unwrap().as_deref(), Some(""));

            // An edit cancelled with Escape changes nothing and sends nothing.
            click(&client, &format!("{mine} .edit-button")).await;
            find_text(&client, "#editing-text", "See you at 6").await;
            find(&client, "#text").await.send_keys(&Key::Escape).await.expect("pressing Escape");
            wait_displayed(&client, "#editing", false).await;

            // An edit from the person's phone shows live.
            let phone = server.sign_in(&ann).await;
            let (status, answer) = phone.call(Method::PUT, &format!("/threads/shop/messages/{mid}"), Some(json!({"text": "See you at 7"}))).await;
            assert_eq!(status, 200, "{answer}");
            find_text(&client, &format!("{mine} .bubble"), "See you at 7").await;
            assert_eq!(attribute(&client, &format!("{mine} .edited"), "title").await.as_deref(), Some("Edited 2 times"));
            // The phone's edit was the second: the cancelled one stored and sent nothing.
            bot.receiver.wait_for("the second edit", |e| e["message_edit"]["num_edit"] == 2).await;
            let edits: Vec<Value> = bot.receiver.acknowledged_events().into_iter().filter_map(|e| e.get("message_edit").cloned()).collect();
            assert_eq!(edits, vec![json!({"mid": mid, "text": "See you at 6", "num_edit": 1}), json!({"mid": mid, "text": "See you at 7", "num_edit": 2})]);

            // The Page inbox shows the new text, marked edited.
            console_sign_in(&client, &server, &bot.admin).await;
            console_go(&client, &server, &format!("/inbox/{}/{psid}", bot.page.id)).await;
            let row = format!(".inbox-message[data-mid='{mid}']");
            find_text(&client, &row, "See you at 7").await;
            find_text(&client, &format!("{row} .inbox-edited"), "Edited").await;
        })
        .await;
}

#[tokio::test]
async fn a_person_sends_the_like_sticker_and_sees_the_bots_sticker() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid, _) = thread(&server, "hi").await;

    browser
        .run("messenger_sticker", |client| async move {
            open_thread(&client, &server, &ann, "shop").await;
            click(&client, "#like").await;
            let event = bot.receiver.wait_for("the like", |e| e["message"]["attachments"][0]["type"] == "sticker").await;
            let url = format!("{}/media/stickers/{LIKE}.svg", server.url);
            assert_eq!(event["message"]["attachments"], json!([{"type": "sticker", "payload": {"url": url, "sticker_id": LIKE}}]));
            let mine = format!(".from-person img.sticker[data-sticker='{LIKE}']");
            find(&client, &mine).await;
            assert_eq!(attribute(&client, &mine, "alt").await.as_deref(), Some("Like sticker"));
            assert_eq!(attribute(&client, &mine, "src").await.as_deref(), Some(url.as_str()));
            wait_loaded(&client, &mine).await;

            // The bot's large like arrives live and shows as an image too.
            let sent = send(&server, &bot, &psid, json!({"sticker_id": LIKE_LARGE})).await;
            let theirs = format!("{} img.sticker[data-sticker='{LIKE_LARGE}']", message(&sent));
            find(&client, &theirs).await;
            wait_loaded(&client, &theirs).await;
            find_text(&client, ".thread-item[aria-current] .thread-preview", "Sticker").await;
            assert!(texts(&client, ".from-page .bubble.unsupported").await.is_empty(), "nothing shown as unsupported");
        })
        .await;
}

/// Waits until the image matching `css` loaded.
async fn wait_loaded(client: &Client, css: &str) {
    switchboard_testkit::eventually(&format!("{css} loads"), || async {
        image_loaded(client, css).await.then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_person_rates_the_pages_answers_up_or_down() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid, mine) = thread(&server, "Which hat?").await;
    let answer = send(&server, &bot, &psid, json!({"text": "The red one"})).await;

    browser
        .run("messenger_rating", |client| async move {
            open_thread(&client, &server, &ann, "shop").await;
            let theirs = message(&answer);
            find_text(&client, &format!("{theirs} .bubble"), "The red one").await;
            assert!(client.find_all(Locator::Css(&format!("{} .rate", message(&mine)))).await.unwrap().is_empty(), "one's own message has no rating");

            click(&client, &format!("{theirs} .rate-good")).await;
            let event = bot.receiver.wait_for("the thumbs up", |e| e["response_feedback"]["feedback"] == "Good response").await;
            assert_eq!(event["response_feedback"], json!({"feedback": "Good response", "mid": answer}));
            find(&client, &format!("{theirs} .rate-good.chosen[aria-pressed='true']")).await;

            // Changed to thumbs down; after a reload the page still shows it.
            click(&client, &format!("{theirs} .rate-bad")).await;
            bot.receiver.wait_for("the thumbs down", |e| e["response_feedback"]["feedback"] == "Bad response").await;
            find(&client, &format!("{theirs} .rate-bad.chosen")).await;
            assert_eq!(attribute(&client, &format!("{theirs} .rate-good"), "aria-pressed").await.as_deref(), Some("false"));
            client.refresh().await.expect("the page reloads");
            find(&client, "body[data-live='on']").await;
            click_text(&client, "#thread-list .thread-name", "Page shop").await;
            find(&client, &format!("{theirs} .rate-bad.chosen[aria-pressed='true']")).await;
        })
        .await;
}
