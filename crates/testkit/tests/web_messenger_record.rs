//! "Save as test" in the web messenger (headless Chromium over WebDriver): a person
//! chats with a bot (the test answers as the bot through the Send API), taps Get
//! Started from a link with a ref, a quick reply, a template's postback button and
//! the menu, sends a like, and saves the thread; the downloaded `.convo.txt` is read
//! from the Blob the page made and compared with the BotiumScript conversation
//! expected, whole. After a reload without the remembered taps, the page infers them
//! from what the Page offered. A thread longer than the page holds is fetched through
//! the history API, up to its latest 500 messages.

use fantoccini::key::Key;
use fantoccini::Client;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::browser::{messenger_sign_in, write_message, attribute, click, click_text, find, find_text, Browser, Screen};
use switchboard_testkit::{Bot, TestServer, PNG};

const FIELDS: &str = "messages,messaging_postbacks";

/// The bot sends `message` to the person: its mid.
async fn send(server: &TestServer, bot: &Bot, psid: &str, message: Value) -> String {
    let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message});
    let (status, answer) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["message_id"].as_str().expect("message_id").to_string()
}

/// The browser's date as the page writes it into the conversation's title.
async fn browser_date(client: &Client) -> String {
    let script = "const d = new Date(), two = (n) => String(n).padStart(2, '0'); return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;";
    client.execute(script, vec![]).await.expect("the date").as_str().expect("a string").to_string()
}

/// Presses "Save as test" and answers the download: the file's name and the text of
/// the Blob behind its link. The page is watched from inside: the Blob is kept as the
/// page makes its object URL, and the download itself is stopped (nothing is written
/// to the machine's downloads).
async fn save_as_test(client: &Client, note: &str) -> (String, String) {
    let watch = r#"
        window.savedBlobs = [];
        const create = URL.createObjectURL.bind(URL);
        URL.createObjectURL = (blob) => { const url = create(blob); window.savedBlobs.push({ blob, url }); return url; };
        window.downloads = [];
        document.addEventListener("click", (event) => {
            const link = event.target.closest && event.target.closest("a[download]");
            if (!link) return;
            window.downloads.push({ name: link.download, href: link.href });
            event.preventDefault();
        }, true);
        document.getElementById("note").textContent = "";
    "#;
    client.execute(watch, vec![]).await.expect("watching the download");
    click(client, "#save-test").await;
    find_text(client, "#note", note).await;
    let read = r#"
        if (window.downloads.length !== 1 || window.savedBlobs.length !== 1) return { error: `${window.downloads.length} downloads, ${window.savedBlobs.length} blobs` };
        const [{ blob, url }] = window.savedBlobs;
        const [download] = window.downloads;
        if (download.href !== url) return { error: `the link ${download.href} is not the Blob's ${url}` };
        return blob.text().then((text) => ({ name: download.name, type: blob.type, text }));
    "#;
    let saved = client.execute(read, vec![]).await.expect("reading the Blob");
    assert!(saved["error"].is_null(), "{saved}");
    assert_eq!(saved["type"], "text/plain;charset=utf-8", "{saved}");
    let note_text = find(client, "#note").await.text().await.expect("the note");
    assert_eq!(note_text, note, "the whole note");
    (saved["name"].as_str().expect("name").to_string(), saved["text"].as_str().expect("text").to_string())
}

/// What was saved is `expected` with the date of the save (read before and after it,
/// should the day change in between).
fn assert_saved(text: &str, before: &str, after: &str, expected: impl Fn(&str) -> String) {
    let wanted = expected(before);
    if text != wanted && before != after {
        assert_eq!(text, expected(after));
        return;
    }
    assert_eq!(text, wanted);
}

#[tokio::test]
async fn a_person_saves_a_conversation_with_taps_and_templates_as_a_test() {
    let server = TestServer::start().await;
    let bot = server.bot("shop", FIELDS).await;
    let menu = json!([{"locale": "default", "composer_input_disabled": false,
        "call_to_actions": [{"type": "postback", "title": "Opening hours", "payload": "HOURS"}]}]);
    let profile = json!({"get_started": {"payload": "GO"}, "persistent_menu": menu});
    let (status, answer) = server.graph_call(Method::POST, "/me/messenger_profile", Some(&bot.page_token), Some(profile)).await;
    assert_eq!(status, 200, "{answer}");
    let form = reqwest::multipart::Form::new()
        .text("message", json!({"attachment": {"type": "image", "payload": {"is_reusable": true}}}).to_string())
        .part("filedata", reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("dot.png").mime_str("image/png").unwrap());
    let uploaded: Value = server
        .http
        .post(format!("{}/me/message_attachments", server.graph()))
        .bearer_auth(&bot.page_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attachment_id = uploaded["attachment_id"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_string();
    let ann = server.person("ann").await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };

    browser
        .run("messenger_save_as_test", |client| async move {
            let (server, bot) = (&server, &bot);
            messenger_sign_in(&client, server, "/m/shop?ref=spring-sale", &ann).await;
            click_text(&client, "#get-started", "Get Started").await;
            let started = bot.receiver.wait_for("Get Started", |e| e["postback"]["payload"] == "GO").await;
            assert_eq!(started["postback"]["referral"]["ref"], "spring-sale", "{started}");
            let psid = started["sender"]["id"].as_str().expect("psid").to_string();
            send(server, bot, &psid, json!({"text": "Hi Ann! What are you after?", "quick_replies": [
                {"content_type": "text", "title": "Hats", "payload": "HATS"},
                {"content_type": "text", "title": "Scarves|Gloves", "payload": "WOOL"},
                {"content_type": "user_email"}]}))
            .await;

            // A quick reply: the bot answers with a button template and a picture.
            click_text(&client, ".quick-reply", "Hats").await;
            bot.receiver.wait_for("the quick reply", |e| e["message"]["quick_reply"]["payload"] == "HATS").await;
            send(server, bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "button",
                "text": "!Sale: winter hats.\nAll at 20 €.",
                "buttons": [{"type": "postback", "title": "Buy one", "payload": "BUY"}, {"type": "web_url", "title": "See them", "url": "https://example.com/hats"}]}}}))
            .await;
            let picture = send(server, bot, &psid, json!({"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}})).await;
            let src = attribute(&client, &format!("li.message[data-mid='{picture}'] img"), "src").await.expect("the picture's address");
            let digest = src.rsplit('/').next().expect("a last segment").to_string();

            // The template's postback button, then a typed message.
            click_text(&client, ".template button.postback", "Buy one").await;
            bot.receiver.wait_for("the postback", |e| e["postback"]["payload"] == "BUY").await;
            send(server, bot, &psid, json!({"text": "Which colour?"})).await;
            find_text(&client, ".from-page .bubble", "Which colour?").await;
            let input = find(&client, "#text").await;
            input.send_keys("Red, please").await.expect("typing");
            input.send_keys(&Key::Enter).await.expect("pressing Enter");
            bot.receiver.wait_for("the typed message", |e| e["message"]["text"] == "Red, please").await;
            send(server, bot, &psid, json!({"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [
                {"title": "Red hat", "subtitle": "Bright", "buttons": [{"type": "postback", "title": "Buy the red one", "payload": "RED"}]},
                {"title": "Dark red hat", "subtitle": "Deep"}]}}}))
            .await;
            find_text(&client, ".card .card-title", "Dark red hat").await;

            // A like (an attachment BotiumScript cannot send), and the menu.
            click(&client, "#like").await;
            bot.receiver.wait_for("the like", |e| e["message"]["attachments"][0]["type"] == "sticker").await;
            find(&client, "#menu-button").await.click().await.expect("opening the menu");
            click_text(&client, "#menu .menu-item", "Opening hours").await;
            bot.receiver.wait_for("the menu's postback", |e| e["postback"]["payload"] == "HOURS").await;
            send(server, bot, &psid, json!({"text": "We open at 9."})).await;
            find_text(&client, ".from-page .bubble", "We open at 9.").await;

            let expected = |date: &str, get_started: &str| {
                format!(
                    "Recorded with Page shop on {date}

#me
{get_started}

#bot
Hi Ann! What are you after?
QUICK_REPLIES Hats|Scarves\\|Gloves

#me
BUTTON Hats

#bot
!!Sale: winter hats.
All at 20 €.
BUTTONS Buy one|See them

#bot
MEDIA {digest}

#me
BUTTON Buy one

#bot
Which colour?

#me
Red, please

#bot
CARDS Red hat|Dark red hat

#me
Opening hours

#bot
We open at 9.
"
                )
            };
            let before = browser_date(&client).await;
            let (name, text) = save_as_test(&client, "Saved shop.convo.txt: 1 attachment left out; 1 menu tap saved as text.").await;
            let after = browser_date(&client).await;
            assert_eq!(name, "shop.convo.txt");
            assert_saved(&text, &before, &after, |date| expected(date, "GET_STARTED spring-sale"));

            // Another tab's history (no taps remembered): the taps are inferred from
            // what the Page offered; Get Started's ref and the menu tap are not known.
            client.execute("sessionStorage.removeItem('switchboard.messenger.taps');", vec![]).await.expect("forgetting the taps");
            client.refresh().await.expect("reloading");
            find(&client, "body[data-live='on']").await;
            find_text(&client, ".from-page .bubble", "We open at 9.").await;
            let before = browser_date(&client).await;
            let (_, text) = save_as_test(&client, "Saved shop.convo.txt: 1 attachment left out.").await;
            let after = browser_date(&client).await;
            assert_saved(&text, &before, &after, |date| expected(date, "GET_STARTED"));
        })
        .await;
}

#[tokio::test]
async fn a_long_thread_is_saved_from_the_history_up_to_its_latest_500_messages() {
    let server = TestServer::start().await;
    let bot = server.bot("news", FIELDS).await;
    let ann = server.person("ann").await;
    let mid = server.sign_in(&ann).await.send("news", "hi").await["mid"].clone();
    let event = bot.receiver.wait_for("the person's message", |e| e["message"]["mid"] == mid).await;
    let psid = event["sender"]["id"].as_str().expect("psid").to_string();
    // 511 messages in all: the page shows the latest 50, the file holds the latest 500.
    for n in 1..=510 {
        send(&server, &bot, &psid, json!({"text": format!("news {n}")})).await;
    }
    let Some(browser) = Browser::start(Screen::Phone).await else { return };

    browser
        .run("messenger_save_long_thread", |client| async move {
            messenger_sign_in(&client, &server, "/m/news", &ann).await;
            find_text(&client, ".from-page .bubble", "news 510").await;
            find(&client, "#older:not([hidden])").await;
            let before = browser_date(&client).await;
            let (name, text) = save_as_test(&client, "Saved news.convo.txt: only the latest 500 messages.").await;
            let after = browser_date(&client).await;
            assert_eq!(name, "news.convo.txt");
            assert_saved(&text, &before, &after, |date| {
                let steps: Vec<String> = (11..=510).map(|n| format!("#bot\nnews {n}\n")).collect();
                let steps = steps.join("\n");
                format!("Recorded with Page news on {date}\n\n{steps}")
            });
        })
        .await;
}

#[tokio::test]
async fn a_conversation_with_the_echo_bot_saved_as_a_test_replays_with_switchboard_test() {
    let server = TestServer::start().await;
    let _bot = switchboard_testkit::EchoBot::start(&server, "echoes", "messages,messaging_postbacks").await;
    let bea = server.person("bea").await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let saved = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = saved.clone();
    browser
        .run("messenger_recorded_replays", |client| async move {
            let server = &server;
            messenger_sign_in(&client, server, "/m/echoes", &bea).await;
            click_text(&client, "#get-started", "Get Started").await;
            click_text(&client, ".quick-reply", "Show a card").await;
            click_text(&client, ".card button.postback", "Say hi").await;
            find_text(&client, "li.message", "You tapped \"Say hi\"").await;
            write_message(&client, "hello").await;
            find_text(&client, "li.message", "echo: hello").await;
            *keep.lock().unwrap() = Some(save_as_test(&client, "Saved echoes.convo.txt.").await);
        })
        .await;
    let (name, text) = saved.lock().unwrap().take().expect("the conversation was saved");
    assert_eq!(name, "echoes.convo.txt");
    for step in ["#me\nGET_STARTED\n", "#me\nBUTTON Show a card\n", "CARDS Switchboard\n", "#me\nBUTTON Say hi\n", "#me\nhello\n\n#bot\necho: hello\n"] {
        assert!(text.contains(step), "{step:?} in\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(&name);
    std::fs::write(&file, &text).unwrap();
    // Replayed on a platform of its own, by a new person, with the same bot.
    let echo_bot = switchboard_testkit::switchboard_binary().with_file_name("echo-bot");
    let output = std::process::Command::new(switchboard_testkit::switchboard_binary())
        .arg("test")
        .arg(&file)
        .arg("--bot")
        .arg(&echo_bot)
        .output()
        .expect("switchboard test runs");
    let report = format!("{}{}\n--- the file:\n{text}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("1 conversation: 1 passed, 0 failed"), "{report}");
    if let Some(log) = report.lines().find_map(|line| line.strip_prefix("The bot's output: ")) {
        let _ = std::fs::remove_file(log);
    }
}
