//! The Page inbox's folders in a real browser (headless Chromium): an agent marks a
//! conversation done, the person writes again and it comes back to the inbox by
//! itself, the agent moves it to spam and back. Each step is checked on the page and
//! in the Conversations API's `folder` filter, which reads the same store. And a
//! person reports a conversation from the web messenger's options, which the Page's
//! insights count. Each step waits for what the page shows, never sleeps.

use reqwest::Method;
use serde_json::{json, Value};
use fantoccini::key::Key;
use switchboard_testkit::browser::{click, console_sign_in, fill, find, find_text, wait_displayed, Browser, Screen};
use switchboard_testkit::{Bot, TestServer};

/// The conversations of one folder, by PSID, as the Graph API lists them.
async fn in_folder(server: &TestServer, bot: &Bot, folder: &str) -> Vec<String> {
    let path = format!("/{}/conversations?folder={folder}&fields=id", bot.page.id);
    let (status, list) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().cloned().unwrap_or_default();
    data.iter().map(|c| c["id"].as_str().unwrap_or_default().trim_start_matches("t_").to_string()).collect()
}

#[tokio::test]
async fn an_agent_files_a_conversation_done_and_in_spam_and_a_new_message_brings_it_back() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("shop", "messages").await;
    let alex = server.person("alex").await;
    server.console(Method::POST, &format!("/pages/{}/roles", bot.page.id), json!({"login": alex.login, "role": "agent"})).await;
    let ann = server.sign_in(&server.person("ann").await).await;
    ann.send("shop", "where is my order?").await;
    let event = bot.receiver.wait_for("Ann's message", |e| e["message"]["text"] == "where is my order?").await;
    let psid = event["sender"]["id"].as_str().expect("the PSID").to_string();
    let row = format!("li.inbox-thread[data-psid='{psid}']");
    let page = bot.page.id.clone();

    browser
        .run("inbox_folders", |agent| async move {
            console_sign_in(&agent, &server, &alex).await;
            agent.goto(&format!("{}/console#/inbox/{page}/{psid}", server.url)).await.expect("the inbox opens");
            find_text(&agent, "#inbox-thread-heading", "Ann Tester").await;
            find_text(&agent, "#inbox-folder", "Inbox").await;
            wait_displayed(&agent, "#inbox-to-inbox", false).await;

            // Done: the pane and the list say so, and so does the Graph API.
            click(&agent, "#inbox-done").await;
            find_text(&agent, "#inbox-folder", "Done").await;
            find_text(&agent, &format!("{row}[data-folder='page_done']"), "Done").await;
            wait_displayed(&agent, "#inbox-done", false).await;
            wait_displayed(&agent, "#inbox-to-inbox", true).await;
            assert_eq!(in_folder(&server, &bot, "page_done").await, vec![psid.clone()]);

            // Ann writes again: the conversation is back in the inbox on its own.
            ann.send("shop", "hello? still waiting").await;
            find_text(&agent, &format!("{row}[data-folder='inbox']"), "hello? still waiting").await;
            find_text(&agent, "#inbox-folder", "Inbox").await;
            assert!(in_folder(&server, &bot, "page_done").await.is_empty());

            // Spam, and back to the inbox by hand.
            click(&agent, "#inbox-spam").await;
            find_text(&agent, "#inbox-folder", "Spam").await;
            find_text(&agent, &format!("{row}[data-folder='spam']"), "Spam").await;
            assert_eq!(in_folder(&server, &bot, "spam").await, vec![psid.clone()]);
            ann.send("shop", "not spam, really").await;
            find_text(&agent, &format!("{row}[data-folder='spam']"), "not spam, really").await;
            assert_eq!(in_folder(&server, &bot, "spam").await, vec![psid.clone()], "a new message leaves spam where it is");
            click(&agent, "#inbox-to-inbox").await;
            find_text(&agent, "#inbox-folder", "Inbox").await;
            find_text(&agent, &format!("{row}[data-folder='inbox']"), "not spam, really").await;
            // Never answered by the Page: in the API's `other` folder, the inbox's message requests.
            assert_eq!(in_folder(&server, &bot, "other").await, vec![psid.clone()]);
            let list: Value = server.console(Method::GET, &format!("/pages/{page}/inbox"), Value::Null).await;
            assert_eq!(list["data"][0]["folder"], "inbox", "{list}");
        })
        .await;
}

#[tokio::test]
async fn a_person_reports_a_conversation_from_its_options_and_the_insights_count_it() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("shop", "messages").await;
    let ann = server.person("ann").await;
    let page = bot.page.id.clone();
    browser
        .run("messenger_report", |person| async move {
            person.goto(&format!("{}/m/shop", server.url)).await.expect("the messenger opens");
            fill(&person, "#login", &ann.login).await;
            fill(&person, "#password", &ann.password).await;
            click(&person, "#sign-in").await;
            find(&person, "body[data-live='on']").await;
            let input = find(&person, "#text").await;
            input.send_keys("this is not ok").await.expect("typing");
            input.send_keys(&Key::Enter).await.expect("pressing Enter");
            bot.receiver.wait_for("Ann's message", |e| e["message"]["text"] == "this is not ok").await;

            click(&person, "#thread-options").await;
            click(&person, "#report-page").await;
            find_text(&person, "#confirm-title", "Report your conversation with Page shop?").await;
            click(&person, "#confirm-ok").await;
            find_text(&person, "#note", "You reported your conversation with Page shop.").await;

            // Yesterday and today together count one report, whichever side of a
            // midnight the report fell on.
            let today = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400 * 86_400;
            let path = format!(
                "/{page}/insights?metric=page_messages_reported_conversations_unique&since={}&until={}",
                today - 86_400,
                today + 86_400
            );
            let (status, answer) = server.graph_call(Method::GET, &path, Some(&bot.page_token), None).await;
            assert_eq!(status, 200, "{answer}");
            let values = answer["data"][0]["values"].as_array().expect("values");
            let reports: u64 = values.iter().map(|v| v["value"].as_u64().expect("a count")).sum();
            assert_eq!(reports, 1, "{answer}");
        })
        .await;
}
