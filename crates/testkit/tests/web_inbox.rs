//! The Page inbox in two real browsers (headless Chromium): a person chats with the
//! real example bot in the web messenger and asks to talk to a human; the bot hands
//! the thread to the Page Inbox; a Page agent finds it waiting in the console, takes
//! it over and answers while the bot stays quiet, then hands it back, and the bot
//! echoes again. Each step waits for what a page shows, never sleeps; that the bot
//! stayed quiet is read after later messages of the same thread.

use fantoccini::Client;
use reqwest::Method;
use serde_json::json;
use switchboard_testkit::browser::{messenger_sign_in, write_message, click, click_text, find, find_text, texts, Browser, Screen};
use switchboard_testkit::{EchoBot, TestPerson, TestServer};

/// What the example bot subscribes to here: its own events, and the handover's.
const FIELDS: &str = "messages,messaging_postbacks,messaging_handovers,standby";

/// The Page Inbox's app id, the same on every Page.
const PAGE_INBOX_APP: &str = "263902037430900";

// ---- browser steps ------------------------------------------------------------------

async fn fill(client: &Client, css: &str, text: &str) {
    let input = find(client, css).await;
    input.clear().await.expect("the input clears");
    input.send_keys(text).await.expect("typing");
}

/// Signs a person in to the console.
async fn console_sign_in(client: &Client, server: &TestServer, person: &TestPerson) {
    client.goto(&format!("{}/console", server.url)).await.expect("the console opens");
    fill(client, "#login", &person.login).await;
    fill(client, "#password", &person.password).await;
    click(client, "#sign-in").await;
    find_text(client, "#who", &format!("({})", person.login)).await;
}

/// The inbox's answer: types it and presses Send once Send may be pressed.
async fn answer(client: &Client, text: &str) {
    find(client, "#inbox-send:not([disabled])").await;
    fill(client, "#inbox-text", text).await;
    click(client, "#inbox-send:not([disabled])").await;
}

/// The texts of the Page's messages in the person's messenger, read in one step.
async fn page_bubbles(client: &Client) -> Vec<String> {
    texts(client, ".from-page .bubble").await
}

// ---- the example bot behind a tap ---------------------------------------------------

// ---- the test -----------------------------------------------------------------------

#[tokio::test]
async fn a_person_asks_for_a_human_an_agent_answers_in_the_inbox_and_hands_back_to_the_bot() {
    let server = TestServer::start().await;
    // The server installs the process's TLS provider, which the WebDriver client needs.
    let Some(person_browser) = Browser::start(Screen::Desktop).await else { return };
    let Some(agent_browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = EchoBot::start(&server, "echo", FIELDS).await;
    let ann = server.person("ann").await;
    let alex = server.person("alex").await;
    let (page, app) = (bot.page.id.clone(), bot.app.id.clone());

    // The first app installed answers the Page's conversations; the Page Inbox is passed threads.
    let receivers = server.console(Method::GET, &format!("/pages/{page}/receivers"), json!({})).await;
    let role_of = |id: &str| receivers["data"].as_array().and_then(|apps| apps.iter().find(|a| a["id"] == id)).map(|a| a["role"].clone());
    assert_eq!(role_of(&app), Some(json!("primary_receiver")), "{receivers}");
    assert_eq!(role_of(PAGE_INBOX_APP), Some(json!("secondary_receiver")), "{receivers}");
    // Alex answers for the Page in its inbox, and may do nothing else there.
    server.console(Method::POST, &format!("/pages/{page}/roles"), json!({"login": alex.login, "role": "agent"})).await;

    person_browser
        .run("inbox_person", |person| async move {
            agent_browser
                .run("inbox_agent", |agent| async move {
                    // Ann chats with the bot, then asks for a human.
                    messenger_sign_in(&person, &server, "/m/echo", &ann).await;
                    write_message(&person, "hello bot").await;
                    find_text(&person, ".from-page .bubble", "echo: hello bot").await;
                    write_message(&person, "Please, I want to TALK TO A HUMAN").await;
                    find_text(&person, ".from-page .bubble", "Connecting you with a person from our team.").await;
                    let asked = bot.tap.wait_for("the request for a human at the bot", "messaging", |e| e["message"]["text"] == "Please, I want to TALK TO A HUMAN").await;
                    let psid = asked["sender"]["id"].as_str().expect("the PSID").to_string();
                    let row = format!("li.inbox-thread[data-psid='{psid}']");

                    // Alex finds the thread waiting in the Page's inbox.
                    console_sign_in(&agent, &server, &alex).await;
                    click(&agent, "#nav-inbox").await;
                    find_text(&agent, &format!("#inbox-pages tr[data-page='{page}']"), "1 waiting").await;
                    click_text(&agent, "#inbox-pages a", "Page echo").await;
                    find_text(&agent, &format!("{row}.waiting"), "Waiting for an agent").await;
                    find_text(&agent, &row, "Ann Tester").await;
                    click(&agent, &format!("{row} a")).await;
                    find_text(&agent, "#inbox-thread-heading", "Ann Tester").await;
                    find_text(&agent, "#inbox-state", "Waiting for an agent").await;
                    find_text(&agent, ".inbox-message[data-from='person']", "hello bot").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "echo: hello bot").await;
                    find_text(&agent, ".inbox-message[data-from='page'] .inbox-sender", "Echo Bot").await;

                    // Alex takes over and answers; Ann sees it.
                    click(&agent, "#inbox-take").await;
                    find_text(&agent, "#inbox-state", "With you").await;
                    find_text(&agent, &row, "With you").await;
                    answer(&agent, "Hi Ann, I'm Alex from the team. How can I help?").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "I'm Alex from the team").await;
                    find_text(&agent, ".inbox-message[data-from='page'] .inbox-sender", "Agent").await;
                    find_text(&person, ".from-page .bubble", "Hi Ann, I'm Alex from the team. How can I help?").await;

                    // Ann writes: Alex reads it in the inbox; the bot only watches (standby).
                    write_message(&person, "My order is late").await;
                    find_text(&agent, ".inbox-message[data-from='person']", "My order is late").await;
                    let watched = bot.tap.wait_for("Ann's message on standby at the bot", "standby", |e| e["message"]["text"] == "My order is late").await;
                    assert_eq!(watched["sender"]["id"], psid.as_str(), "{watched}");
                    answer(&agent, "Let me check that for you.").await;
                    find_text(&person, ".from-page .bubble", "Let me check that for you.").await;
                    let bubbles = page_bubbles(&person).await;
                    assert!(!bubbles.iter().any(|b| b.contains("echo: My order is late")), "the bot stays quiet while an agent answers: {bubbles:?}");
                    assert!(
                        !bot.tap.events().iter().any(|e| e["message"]["text"] == "My order is late"),
                        "the bot's app gets the agent's thread only on standby"
                    );

                    // Alex hands the thread back; the bot says so and echoes again.
                    click(&agent, "#inbox-hand-back").await;
                    find_text(&agent, "#inbox-state", "Echo Bot").await;
                    find_text(&agent, &row, "Bot").await;
                    bot.tap.wait_for("the thread passed back to the bot", "messaging", |e| e["pass_thread_control"].is_object()).await;
                    find_text(&person, ".from-page .bubble", "I'm back! Say anything and I'll echo it.").await;
                    write_message(&person, "hello again").await;
                    find_text(&person, ".from-page .bubble", "echo: hello again").await;
                    find_text(&agent, ".inbox-message[data-from='page']", "echo: hello again").await;
                    // The bot answers a thread's events in order: no echo of what Alex answered.
                    let bubbles = page_bubbles(&person).await;
                    assert!(!bubbles.iter().any(|b| b.contains("echo: My order is late")), "no late echo: {bubbles:?}");
                })
                .await;
        })
        .await;
}
