//! The web messenger in a real browser (headless Chromium over WebDriver): a person
//! signs in, opens a Page by a link with a ref, taps Get Started and chats with the
//! real example bot (a separate process); every template renders; reactions, replies,
//! attachments, typing and receipts work from the page; a phone-size screen shows the
//! thread list and the thread as separate views. Each test waits for what the page
//! shows, never sleeps. With `SWITCHBOARD_SCREENSHOTS` set, the tests also save
//! `docs/screenshots/messenger-thread.png` and `messenger-phone.png`.

use fantoccini::key::Key;
use fantoccini::Locator;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use switchboard_testkit::browser::{messenger_sign_in, write_message, click_text, find, find_text, screenshot, wait_displayed, Browser, Screen};
use switchboard_testkit::{eventually, Bot, EchoBot, MediaFile, MediaServer, TestPerson, TestServer, PNG};

const FIELDS: &str = "messages,message_echoes,messaging_postbacks,message_reactions,message_reads,messaging_optins";

// ---- browser steps ------------------------------------------------------------------

/// The CSS selector of a message by mid.
fn message(mid: &str) -> String {
    format!("li.message[data-mid='{mid}']")
}

fn screenshots_wanted() -> Option<PathBuf> {
    std::env::var_os("SWITCHBOARD_SCREENSHOTS")?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("docs/screenshots");
    Some(dir)
}

// ---- fixtures -----------------------------------------------------------------------

/// A bot and a person who wrote "hi" to it: the person and their PSID.
async fn thread(server: &TestServer, username: &str, login: &str) -> (Bot, TestPerson, String) {
    let bot = server.bot(username, FIELDS).await;
    let person = server.person(login).await;
    server.sign_in(&person).await.send(username, "hi").await;
    let event = bot.receiver.wait_for("the first message", |e| e["message"]["text"] == "hi").await;
    (bot, person, event["sender"]["id"].as_str().expect("psid").to_string())
}

async fn send(server: &TestServer, bot: &Bot, psid: &str, message: Value) -> String {
    let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["message_id"].as_str().expect("message_id").to_string()
}

async fn sender_action(server: &TestServer, bot: &Bot, psid: &str, action: &str, extra: Value) {
    let mut body = json!({"recipient": {"id": psid}, "sender_action": action});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{action}: {answer}");
}

/// The example bot on a new Page, as `switchboard demo` starts it.
async fn start_echo_bot(server: &TestServer, username: &str) -> EchoBot {
    EchoBot::start(server, username, "messages,messaging_postbacks").await
}

// ---- tests --------------------------------------------------------------------------

#[tokio::test]
async fn a_person_opens_a_link_taps_get_started_and_chats_with_the_example_bot() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = start_echo_bot(&server, "echo").await;
    let tap = &bot.tap;
    let ann = server.person("ann").await;
    browser
        .run("messenger_echo_bot", |client| async move {
            messenger_sign_in(&client, &server, "/m/echo?ref=from-test", &ann).await;
            find_text(&client, "#thread-title", "Page echo").await;
            find_text(&client, "#greeting", "Hello Ann! Tap Get Started to chat with the echo bot.").await;
            find_text(&client, ".ice-breaker", "What can you do?").await;
            find_text(&client, ".ice-breaker", "Show me a card").await;
            find(&client, "#menu-button:not([hidden])").await;

            click_text(&client, "#get-started", "Get Started").await;
            find_text(&client, ".from-person .bubble", "Get Started").await;
            find_text(&client, ".from-page .bubble", "Hi! I echo whatever you write. Want to see a card?").await;
            wait_displayed(&client, "#welcome", false).await;
            let postback = eventually("the Get Started postback at the bot", || {
                let found = tap.events().into_iter().find(|e| e["postback"]["payload"] == "GET_STARTED");
                async move { found }
            })
            .await;
            assert_eq!(postback["postback"]["referral"]["ref"], "from-test", "{postback}");
            assert_eq!(postback["postback"]["referral"]["source"], "SHORTLINK", "{postback}");

            // A quick reply, then the card's postback button.
            find_text(&client, ".quick-reply", "Just chat").await;
            click_text(&client, ".quick-reply", "Show a card").await;
            find_text(&client, ".from-person .bubble", "Show a card").await;
            find_text(&client, ".card .card-title", "Switchboard").await;
            find_text(&client, ".card .card-subtitle", "A Messenger Platform of your own").await;
            let docs = find_text(&client, ".card a.web-url", "Messenger docs").await;
            assert_eq!(docs.attr("target").await.unwrap().as_deref(), Some("_blank"));
            assert!(docs.attr("rel").await.unwrap().unwrap_or_default().contains("noopener"));
            assert!(client.find_all(Locator::Css(".quick-reply")).await.unwrap().is_empty(), "quick replies belong to the latest message");
            click_text(&client, ".card button.postback", "Say hi").await;
            find_text(&client, ".from-page .bubble", "Hi! You tapped \"Say hi\".").await;
            let tapped = eventually("the Say hi postback at the bot", || {
                let found = tap.events().into_iter().find(|e| e["postback"]["payload"] == "SAY_HI");
                async move { found }
            })
            .await;
            assert_eq!(tapped["postback"]["title"], "Say hi");

            // Writing: Enter sends, and the bot echoes.
            write_message(&client, "hello bot").await;
            find_text(&client, ".from-person .bubble", "hello bot").await;
            find_text(&client, ".from-page .bubble", "echo: hello bot").await;
            assert!(tap.events().iter().any(|e| e["message"]["quick_reply"]["payload"] == "CARD"), "the quick reply reached the bot");

            // The persistent menu sends its postback.
            find(&client, "#menu-button").await.click().await.unwrap();
            click_text(&client, "#menu .menu-item", "Help").await;
            find_text(&client, ".from-person .bubble", "Help").await;
            eventually("the menu's Help postback at the bot", || {
                let count = tap.events().iter().filter(|e| e["postback"]["payload"] == "HELP").count();
                async move { (count == 1).then_some(()) }
            })
            .await;
            find_text(&client, ".quick-reply", "Show a card").await;

            // The thread list shows the conversation with its latest message.
            find_text(&client, "#thread-list .thread-name", "Page echo").await;
        })
        .await;
}

/// An SVG card picture, served by the test's media server.
fn picture(color: &str, label: &str) -> MediaFile {
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="382" height="200" viewBox="0 0 382 200"><rect width="382" height="200" fill="{color}"/><text x="191" y="115" font-family="sans-serif" font-size="40" fill="#fff" text-anchor="middle">{label}</text></svg>"##
    );
    MediaFile::ok("image/svg+xml", svg.into_bytes())
}

#[tokio::test]
async fn every_template_renders_and_its_buttons_work() {
    let server = TestServer::start_with(|s| s.auto_approve_page_features = true).await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let admin = server.sign_in(&bot.admin).await;
    let (status, answer) =
        server.console_as(&admin.token, Method::POST, &format!("/pages/{}/features/one_time_notif", bot.page.id), json!({"accept_terms": true})).await;
    assert!(status.is_success(), "{answer}");
    let media = MediaServer::start().await;
    let hat = media.put("hat.svg", picture("#0a58ca", "Hats"));
    let scarf = media.put("scarf.svg", picture("#b3261e", "Scarves"));
    let form = reqwest::multipart::Form::new()
        .text("message", json!({"attachment": {"type": "image", "payload": {"is_reusable": true}}}).to_string())
        .part("filedata", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("dot.png").mime_str("image/png").unwrap());
    let uploaded: Value =
        server.http.post(format!("{}/me/message_attachments", server.graph())).bearer_auth(&bot.page_token).multipart(form).send().await.unwrap().json().await.unwrap();
    let attachment_id = uploaded["attachment_id"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_string();
    let shots = screenshots_wanted();

    browser
        .run("messenger_templates", |client| async move {
            messenger_sign_in(&client, &server, "/m/shop", &ann).await;
            find_text(&client, ".from-person .bubble", "hi").await;

            send(&server, &bot, &psid, json!({"text": "Hi Ann! Here is what is new this week."})).await;
            // A carousel with quick replies under it (the desktop screenshot).
            let carousel = send(&server, &bot, &psid, json!({
                "attachment": {"type": "template", "payload": {"template_type": "generic", "image_aspect_ratio": "horizontal", "elements": [
                    {"title": "Winter hats", "subtitle": "Warm, and in every colour", "image_url": hat,
                     "default_action": {"type": "web_url", "url": "https://example.com/hats"},
                     "buttons": [{"type": "postback", "title": "Show hats", "payload": "HATS"}, {"type": "web_url", "url": "https://example.com/hats", "title": "Open the shop"}]},
                    {"title": "Scarves", "subtitle": "Long ones", "image_url": scarf,
                     "buttons": [{"type": "postback", "title": "Show scarves", "payload": "SCARVES"}]}]}},
                "quick_replies": [
                    {"content_type": "text", "title": "Hats", "payload": "QR_HATS"},
                    {"content_type": "text", "title": "Scarves", "payload": "QR_SCARVES"},
                    {"content_type": "user_email"}]})).await;
            let cards = format!("{} .carousel .card", message(&carousel));
            find_text(&client, &cards, "Winter hats").await;
            find_text(&client, &cards, "Scarves").await;
            assert_eq!(client.find_all(Locator::Css(&cards)).await.unwrap().len(), 2);
            let link = find(&client, &format!("{cards} a.card-link")).await;
            assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("https://example.com/hats"));
            find_text(&client, ".quick-reply", "Hats").await;
            find_text(&client, ".quick-reply", "Share my email").await;
            eventually("the card pictures load", || {
                let client = client.clone();
                async move {
                    let loaded = client.execute("return [...document.querySelectorAll('.card-image')].every(i => i.complete && i.naturalWidth > 0)", vec![]).await.ok()?;
                    (loaded == json!(true)).then_some(())
                }
            })
            .await;
            if let Some(dir) = &shots {
                client.execute("document.activeElement?.blur()", vec![]).await.unwrap();
                screenshot(&client, &dir.join("messenger-thread.png")).await;
            }

            click_text(&client, ".carousel button.postback", "Show scarves").await;
            let event = bot.receiver.wait_for("the card's postback", |e| e["postback"]["payload"] == "SCARVES").await;
            assert_eq!(event["postback"]["title"], "Show scarves");

            send(&server, &bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "button",
                "text": "What do you want to do next?", "buttons": [
                    {"type": "web_url", "url": "https://example.com/shop", "title": "Visit the shop"},
                    {"type": "phone_number", "title": "Call us", "payload": "+15105551234"},
                    {"type": "postback", "title": "Talk to a human", "payload": "HUMAN"}]}}})).await;
            find_text(&client, ".button-template .template-text", "What do you want to do next?").await;
            let call = find_text(&client, ".button-template a.phone", "Call us").await;
            assert_eq!(call.attr("href").await.unwrap().as_deref(), Some("tel:+15105551234"));
            let visit = find_text(&client, ".button-template a.web-url", "Visit the shop").await;
            assert_eq!(visit.attr("href").await.unwrap().as_deref(), Some("https://example.com/shop"));
            assert_eq!(visit.attr("target").await.unwrap().as_deref(), Some("_blank"));
            click_text(&client, ".button-template button.postback", "Talk to a human").await;
            let event = bot.receiver.wait_for("the postback", |e| e["postback"]["payload"] == "HUMAN").await;
            assert_eq!(event["postback"]["title"], "Talk to a human");

            let receipt = serde_json::from_str::<Value>(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/send/receipt_template.json")).unwrap()).unwrap();
            send(&server, &bot, &psid, receipt["request"]["message"].clone()).await;
            find_text(&client, ".receipt .total", "56.14").await;
            find_text(&client, ".receipt .order-number", "12345678902").await;
            find_text(&client, ".receipt", "Stephane Crozatier").await;
            find_text(&client, ".receipt .receipt-item", "Classic White T-Shirt").await;
            find_text(&client, ".receipt-address", "Menlo Park").await;

            send(&server, &bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [
                {"media_type": "image", "attachment_id": attachment_id, "buttons": [{"type": "web_url", "url": "https://example.com", "title": "View"}]}]}}})).await;
            let image = find(&client, ".media-template .media img").await;
            assert!(image.attr("src").await.unwrap().unwrap_or_default().starts_with("http"), "the media template's picture");
            find_text(&client, ".media-template a.web-url", "View").await;

            send(&server, &bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "one_time_notif_req", "title": "Back in stock?", "payload": "SKU_RED"}}})).await;
            find_text(&client, ".optin .optin-title", "Back in stock?").await;
            click_text(&client, ".optin button.notify-me", "Notify me").await;
            bot.receiver.wait_for("the one-time opt-in", |e| e["optin"]["type"] == "one_time_notif_req").await;
            find_text(&client, ".optin button.notify-me", "You'll be notified").await;

            send(&server, &bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "notification_messages",
                "title": "Daily deals", "payload": "DEALS", "notification_messages_frequency": "DAILY", "notification_messages_cta_text": "ALLOW"}}})).await;
            find_text(&client, ".optin .optin-title", "Daily deals").await;
            click_text(&client, ".optin button.notifications-accept", "Allow messages").await;
            bot.receiver.wait_for("the recurring opt-in", |e| e["optin"]["type"] == "notification_messages").await;
            click_text(&client, ".optin button.notifications-stop", "Stop messages").await;
            bot.receiver.wait_for("the stop", |e| e["optin"]["notification_messages_status"] == "STOP_NOTIFICATIONS").await;
            click_text(&client, ".optin button.notifications-resume", "Resume messages").await;
            bot.receiver.wait_for("the resume", |e| e["optin"]["notification_messages_status"] == "RESUME_NOTIFICATIONS").await;

            // Bot text is text, never markup.
            send(&server, &bot, &psid, json!({"text": "<img src=x id=injected> <b>bold?</b>"})).await;
            find_text(&client, ".from-page .bubble", "<img src=x id=injected> <b>bold?</b>").await;
            assert!(client.find_all(Locator::Css("#injected")).await.unwrap().is_empty(), "no element from a bot's text");

            // Media attachments.
            let png = media.put("photo.png", MediaFile::ok("image/png", PNG));
            send(&server, &bot, &psid, json!({"attachment": {"type": "image", "payload": {"url": png}}})).await;
            find(&client, ".from-page .media img").await;

            // The email quick reply asks first, then shares what the person typed.
            send(&server, &bot, &psid, json!({"text": "Your email?", "quick_replies": [{"content_type": "user_email"}]})).await;
            click_text(&client, ".quick-reply", "Share my email").await;
            find(&client, "#share-value").await.send_keys("ann@example.com").await.unwrap();
            click_text(&client, "#share-form button", "Share").await;
            let event = bot.receiver.wait_for("the email", |e| e["message"]["quick_reply"]["payload"] == "ann@example.com").await;
            assert_eq!(event["message"]["text"], "ann@example.com");
            find_text(&client, ".from-person .bubble", "ann@example.com").await;

            // Without a verified number, the phone quick reply asks for one.
            send(&server, &bot, &psid, json!({"text": "Your phone?", "quick_replies": [{"content_type": "user_phone_number"}]})).await;
            click_text(&client, ".quick-reply", "Share my phone number").await;
            find_text(&client, "#share-label", "Your phone number").await;
            find(&client, "#share-value").await.send_keys("+1 (212) 555-2368").await.unwrap();
            click_text(&client, "#share-form button", "Share").await;
            bot.receiver.wait_for("the phone number", |e| e["message"]["quick_reply"]["payload"] == "+12125552368").await;
            wait_displayed(&client, "#share-form", false).await;
        })
        .await;
}

#[tokio::test]
async fn reactions_replies_typing_and_receipts_from_the_page() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let offer = send(&server, &bot, &psid, json!({"text": "Our offer: two hats for one"})).await;
    let history = server.sign_in(&ann).await.history("shop").await;
    let first = history["messages"][0]["mid"].as_str().unwrap().to_string();

    browser
        .run("messenger_reactions", |client| async move {
            messenger_sign_in(&client, &server, "/", &ann).await;
            click_text(&client, "#thread-list .thread-name", "Page shop").await;
            find_text(&client, ".from-page .bubble", "Our offer").await;
            bot.receiver.wait_for("the read receipt", |e| e["read"]["watermark"].as_i64().is_some()).await;

            // React from the picker, then take it back by tapping it again.
            let offered = message(&offer);
            find(&client, &format!("{offered} .react-button")).await.click().await.unwrap();
            click_text(&client, &format!("{offered} .picker button"), "❤️").await;
            let event = bot.receiver.wait_for("the reaction", |e| e["reaction"]["action"] == "react").await;
            assert_eq!((&event["reaction"]["emoji"], &event["reaction"]["mid"]), (&json!("❤️"), &json!(offer)));
            find_text(&client, &format!("{offered} .reactions .by-person"), "❤️").await;
            find(&client, &format!("{offered} .react-button")).await.click().await.unwrap();
            let chosen = find(&client, &format!("{offered} .picker button.chosen")).await;
            assert_eq!(chosen.attr("aria-pressed").await.unwrap().as_deref(), Some("true"));
            chosen.click().await.unwrap();
            bot.receiver.wait_for("the unreaction", |e| e["reaction"]["action"] == "unreact").await;
            wait_displayed(&client, &format!("{offered} .reactions"), false).await;

            // The Page's reaction to the person's message shows live.
            sender_action(&server, &bot, &psid, "react", json!({"payload": {"message_id": first, "reaction": "👍"}})).await;
            find_text(&client, &format!("{} .reactions .by-page", message(&first)), "👍").await;

            // Reply to the Page's message.
            find(&client, &format!("{offered} .reply-button")).await.click().await.unwrap();
            find_text(&client, "#replying-text", "Our offer").await;
            write_message(&client, "Is it for any colour?").await;
            let event = bot.receiver.wait_for("the reply", |e| e["message"]["text"] == "Is it for any colour?").await;
            assert_eq!(event["message"]["reply_to"]["mid"], offer.as_str());
            find_text(&client, ".from-person .quote .quote-text", "Our offer").await;
            wait_displayed(&client, "#replying", false).await;

            // Shift+Enter is a new line, not a send.
            let input = find(&client, "#text").await;
            input.send_keys(&(Key::Shift + &Key::Enter + &Key::Null + "two")).await.unwrap();
            assert_eq!(input.prop("value").await.unwrap().as_deref(), Some("\ntwo"), "a new line, nothing sent");

            // Typing, then a persona's message, then the Page sees ours.
            sender_action(&server, &bot, &psid, "typing_on", json!({})).await;
            find_text(&client, "#typing", "Page shop is typing").await;
            let (_, persona) =
                server.graph_call(Method::POST, "/me/personas", Some(&bot.page_token), Some(json!({"name": "Agent Kim", "profile_picture_url": "https://example.com/kim.png"}))).await;
            let body = json!({"recipient": {"id": psid}, "message": {"text": "Any colour, yes."}, "persona_id": persona["id"]});
            let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
            assert_eq!(status, 200, "{answer}");
            find_text(&client, ".from-page .persona-name", "Agent Kim").await;
            wait_displayed(&client, "#typing", false).await;
            sender_action(&server, &bot, &psid, "mark_seen", json!({})).await;
            find_text(&client, ".from-person .status", "Seen").await;
        })
        .await;
}

#[tokio::test]
async fn an_attachment_sent_from_the_page_reaches_the_bot() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, _psid) = thread(&server, "shop", "ann").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dot.png");
    std::fs::write(&path, PNG).unwrap();

    browser
        .run("messenger_attachment", |client| async move {
            // Found by searching, then opened.
            messenger_sign_in(&client, &server, "/", &ann).await;
            find(&client, "#search").await.send_keys("shop").await.unwrap();
            click_text(&client, "#search-results .thread-name", "Page shop").await;
            find_text(&client, ".from-person .bubble", "hi").await;
            assert!(client.current_url().await.unwrap().path().ends_with("/m/shop"), "the address names the thread");
            find(&client, "#file").await.send_keys(path.to_str().unwrap()).await.expect("choosing the file");
            let event = bot.receiver.wait_for("the attachment", |e| e["message"]["attachments"][0]["type"] == "image").await;
            let url = event["message"]["attachments"][0]["payload"]["url"].as_str().unwrap().to_string();
            let served = server.http.get(&url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(served.as_ref(), PNG, "the same bytes");
            let image = find(&client, ".from-person .media img").await;
            assert_eq!(image.attr("src").await.unwrap().as_deref(), Some(url.as_str()));
        })
        .await;
}

#[tokio::test]
async fn a_phone_screen_shows_the_list_and_the_thread_in_turn() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Phone).await else { return };
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    send(&server, &bot, &psid, json!({"text": "Hello Ann! What are you looking for today?", "quick_replies": [
        {"content_type": "text", "title": "Hats", "payload": "HATS"}, {"content_type": "text", "title": "Scarves", "payload": "SCARVES"}]})).await;
    let shots = screenshots_wanted();

    browser
        .run("messenger_phone", |client| async move {
            messenger_sign_in(&client, &server, "/", &ann).await;
            find_text(&client, "#thread-list .thread-preview", "What are you looking for").await;
            find(&client, "#thread-list .unread-dot").await;
            wait_displayed(&client, "#thread-view", false).await;
            click_text(&client, "#thread-list .thread-name", "Page shop").await;
            find_text(&client, ".from-page .bubble", "What are you looking for today?").await;
            wait_displayed(&client, "#sidebar", false).await;
            wait_displayed(&client, "#back", true).await;
            let widths = client.execute("return [window.innerWidth, document.documentElement.scrollWidth]", vec![]).await.unwrap();
            assert_eq!(widths, json!([390, 390]), "a 390 px screen, nothing wider");
            click_text(&client, ".quick-reply", "Hats").await;
            bot.receiver.wait_for("the quick reply", |e| e["message"]["quick_reply"]["payload"] == "HATS").await;
            send(&server, &bot, &psid, json!({"text": "Here are our hats.", "quick_replies": [{"content_type": "text", "title": "Thanks!", "payload": "THANKS"}]})).await;
            find_text(&client, ".quick-reply", "Thanks!").await;
            if let Some(dir) = &shots {
                screenshot(&client, &dir.join("messenger-phone.png")).await;
            }
            find(&client, "#back").await.click().await.unwrap();
            wait_displayed(&client, "#sidebar", true).await;
            wait_displayed(&client, "#thread-view", false).await;
            find_text(&client, "#thread-list .thread-preview", "Here are our hats.").await;
            // Read while open: no unread marker once the list has caught up.
            wait_displayed(&client, "#thread-list .unread-dot", false).await;

            find(&client, "#sign-out").await.click().await.unwrap();
            wait_displayed(&client, "#login-view", true).await;
            let token = client.execute("return sessionStorage.length", vec![]).await.unwrap();
            assert_eq!(token, json!(0), "signing out forgets the session");
        })
        .await;
}

#[tokio::test]
async fn a_reload_shows_what_the_server_remembers_seen_and_opt_in_choices() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let (bot, ann, psid) = thread(&server, "shop", "ann").await;
    let optin = send(&server, &bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "notification_messages",
        "title": "Weekly deals", "payload": "DEALS", "notification_messages_frequency": "WEEKLY"}}})).await;
    // Ann accepts in another client; the Page marks her messages seen.
    let other = server.sign_in(&ann).await;
    let (status, _) = other.call(Method::POST, &format!("/threads/shop/messages/{optin}/notifications"), None).await;
    assert_eq!(status, 200);
    sender_action(&server, &bot, &psid, "mark_seen", json!({})).await;

    browser
        .run("messenger_reload", |client| async move {
            messenger_sign_in(&client, &server, "/m/shop", &ann).await;
            find_text(&client, ".optin button.notifications-stop", "Stop messages").await;
            find_text(&client, ".from-person .status", "Seen").await;
        })
        .await;
}
