//! The plugins on a business's website, in a real browser (headless Chromium over
//! WebDriver). The test serves a small website of its own on another loopback port
//! (another origin than Switchboard's), whose pages load `{switchboard}/sdk.js` and
//! place XFBML tags: Send to Messenger with a ref reaches the bot; the checkbox,
//! confirmed by the site, lets the bot send by `user_ref` into the person's web
//! messenger; the chat plugin chats with the real example bot and reports its ref;
//! a plugin renders nothing on an origin the Page did not whitelist, nor for a person
//! without a role on a development-mode app; account linking goes through the
//! site's login page and back; and a link with a ref on a thread that has messages
//! tells the Page. Each test waits for what the pages show, never sleeps.

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_testkit::browser::{attribute, click, find, find_text, Browser, Screen};
use switchboard_testkit::{eventually, Bot, EchoBot, TestPage, TestPerson, TestServer, WebhookReceiver};

const FIELDS: &str = "messages,messaging_postbacks,messaging_optins,messaging_referrals,messaging_account_linking";

// ---- the business's website ----------------------------------------------------------

/// The website: pages the test puts by path, and `/authorize`, its login page for
/// account linking, which asks Switchboard who is linking (server-side, with the Page
/// token) and remembers the answer.
#[derive(Clone, Default)]
struct SiteState {
    pages: Arc<Mutex<HashMap<String, String>>>,
    /// The Graph API base and the Page token `/authorize` asks with.
    linking: Arc<Mutex<Option<(String, String)>>>,
    /// What `GET /me?fields=recipient&account_linking_token=` answered.
    learned: Arc<Mutex<Vec<Value>>>,
}

struct Site {
    /// `http://127.0.0.1:PORT`: another origin than Switchboard's (another port).
    origin: String,
    state: SiteState,
}

/// The authorization code the site hands back when the person logs in.
const CODE: &str = "code-ann-42";

impl Site {
    async fn start() -> Self {
        let state = SiteState::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().route("/authorize", get(authorize)).fallback(serve).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the site serves") });
        Self { origin, state }
    }

    fn put(&self, path: &str, html: String) {
        self.state.pages.lock().unwrap().insert(path.to_string(), html);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

async fn serve(State(site): State<SiteState>, uri: Uri) -> Response {
    match site.pages.lock().unwrap().get(uri.path()).cloned() {
        Some(html) => Html(html).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The site's login page: Messenger opened it with `account_linking_token` and
/// `redirect_uri`. It learns the PSID server-side, then offers to log in, which sends
/// the browser back to `redirect_uri` with the authorization code, or to cancel,
/// which sends it back without one.
async fn authorize(State(site): State<SiteState>, Query(query): Query<HashMap<String, String>>) -> Html<String> {
    let token = query.get("account_linking_token").cloned().unwrap_or_default();
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    let (graph, page_token) = site.linking.lock().unwrap().clone().expect("the test set up linking");
    let answer: Value = reqwest::Client::new()
        .get(format!("{graph}/me"))
        .query(&[("fields", "recipient"), ("account_linking_token", token.as_str()), ("access_token", page_token.as_str())])
        .send()
        .await
        .expect("Switchboard answers")
        .json()
        .await
        .unwrap_or(Value::Null);
    site.learned.lock().unwrap().push(answer.clone());
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let back = format!("{redirect}{separator}authorization_code={CODE}");
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Bank login</title></head><body>
<h1>Log in to the bank</h1><p>Linking Messenger account <span id="recipient">{}</span></p>
<a id="log-in" href="{}">Log in</a> <a id="cancel" href="{}">Cancel</a></body></html>"#,
        escape(answer["recipient"].as_str().unwrap_or("(unknown)")),
        escape(&back),
        escape(&redirect)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page of the site: Switchboard's sdk.js, `FB.init` with `app_id` (none: the SDK
/// parses the tags on its own), the tags in `body`. `window.events` collects the
/// plugins' `FB.Event`s and `window.warnings` the console's warnings.
fn site_page(server: &TestServer, app_id: Option<&str>, body: &str) -> String {
    let init = match app_id {
        Some(app) => format!(r#"FB.init({{appId: "{app}", xfbml: true, version: "v21.0"}});"#),
        None => String::new(),
    };
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Hat shop</title>
<script>
window.events = [];
window.warnings = [];
const warn = console.warn.bind(console);
console.warn = (...args) => {{ window.warnings.push(args.join(" ")); warn(...args); }};
window.fbAsyncInit = function () {{
  {init}
  for (const name of ["send_to_messenger", "messenger_checkbox"]) {{
    FB.Event.subscribe(name, (event) => window.events.push(Object.assign({{name}}, event)));
  }}
}};
</script>
<script async src="{}/sdk.js"></script>
</head><body><h1>Hat shop</h1>
{body}
</body></html>"#,
        server.url
    )
}

fn send_to_messenger_tag(app_id: &str, page: &TestPage, reference: &str) -> String {
    format!(r#"<div class="fb-send-to-messenger" messenger_app_id="{app_id}" page_id="{}" data-ref="{reference}" color="blue" size="large"></div>"#, page.id)
}

/// Whitelists `origins` for the Page of `page_token` (its Messenger Profile).
async fn whitelist(server: &TestServer, page_token: &str, origins: &[&str]) {
    let (status, answer) =
        server.graph_call(Method::POST, "/me/messenger_profile", Some(page_token), Some(json!({"whitelisted_domains": origins}))).await;
    assert_eq!(status, 200, "whitelisting {origins:?}: {answer}");
}

// ---- browser steps ----------------------------------------------------------------------

/// Switches into the iframe matching `css` (waiting for it).
async fn enter(client: &Client, css: &str) {
    find(client, css).await.enter_frame().await.unwrap_or_else(|e| panic!("cannot enter {css}: {e}"));
}

/// Back to the top-level page.
async fn top(client: &Client) {
    client.enter_frame(None).await.expect("back to the page");
}

/// Signs in on a plugin's compact form (inside its frame).
async fn plugin_sign_in(client: &Client, person: &TestPerson) {
    find(client, "#plugin-sign-in-form:not([hidden])").await;
    find(client, "#plugin-login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#plugin-password").await.send_keys(&person.password).await.expect("typing the password");
    click(client, "#plugin-sign-in").await;
}

/// Signs in on the web messenger's form (the page or the chat plugin's frame) and
/// waits until the live stream is connected.
async fn messenger_sign_in(client: &Client, person: &TestPerson) {
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    click(client, "#sign-in").await;
    find(client, "body[data-live='on']").await;
}

/// Waits for an `FB.Event` the site page received (it must be the current frame).
async fn site_event(client: &Client, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let matches = &matches;
    eventually(what, || {
        let client = client.clone();
        async move {
            let events = client.execute("return window.events || []", vec![]).await.ok()?;
            events.as_array()?.iter().find(|e| matches(e)).cloned()
        }
    })
    .await
}

/// What the site page's console warned (it must be the current frame).
async fn warnings(client: &Client) -> Vec<String> {
    let value = client.execute("return window.warnings || []", vec![]).await.expect("the warnings");
    serde_json::from_value(value).expect("strings")
}

/// The person's PSID for the bot's Page, after they wrote "hi".
async fn psid_of(server: &TestServer, bot: &Bot, person: &TestPerson) -> String {
    server.sign_in(person).await.send(&bot.page.username, "hi").await;
    let event = bot.receiver.wait_for("the first message", |e| e["message"]["text"] == "hi").await;
    event["sender"]["id"].as_str().expect("psid").to_string()
}

/// A Send API body: a button template with one button.
fn button_template(psid: &str, text: &str, button: Value) -> Value {
    json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"attachment": {"type": "template",
        "payload": {"template_type": "button", "text": text, "buttons": [button]}}}})
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn send_to_messenger_with_a_ref_reaches_the_bot() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("hats", FIELDS).await;
    let ann = server.person("ann").await;
    let site = Site::start().await;
    whitelist(&server, &bot.page_token, &[&site.origin]).await;
    site.put("/", site_page(&server, Some(&bot.app.id), &send_to_messenger_tag(&bot.app.id, &bot.page, "spring-sale")));

    browser
        .run("plugins_send_to_messenger", |client| async move {
            client.goto(&site.url("/")).await.expect("the site opens");
            enter(&client, ".fb-send-to-messenger[data-switchboard-status='rendered'] iframe").await;
            plugin_sign_in(&client, &ann).await;
            find_text(&client, "#send-as", "as Ann Tester").await;
            click(&client, "#send-to-messenger").await;
            find_text(&client, "#sent", "Sent to Messenger").await;
            let thread = attribute(&client, "#open-thread", "href").await;
            assert_eq!(thread, Some(format!("{}/m/hats", server.url)), "the link opens the thread in the web messenger");
            top(&client).await;

            let optin = bot.receiver.wait_for("the opt-in", |e| e["optin"]["ref"] == "spring-sale").await;
            let psid = optin["sender"]["id"].as_str().filter(|id| !id.is_empty()).unwrap_or_else(|| panic!("a PSID: {optin}")).to_string();
            assert_eq!(optin["recipient"]["id"], bot.page.id.as_str(), "{optin}");
            for event in ["rendered", "clicked", "opt_in"] {
                let seen = site_event(&client, event, |e| e["name"] == "send_to_messenger" && e["event"] == event).await;
                assert_eq!(seen["ref"], "spring-sale", "{seen}");
            }

            // The thread exists: the person lists it, and the bot may write to the PSID.
            let (status, threads) = server.sign_in(&ann).await.call(Method::GET, "/threads", None).await;
            assert_eq!(status, 200, "{threads}");
            assert_eq!(threads["data"][0]["page"]["username"], "hats", "{threads}");
            let (status, sent) = server.send_text(&bot, &psid, "Thanks! Spring hats are 20% off.").await;
            assert_eq!(status, 200, "{sent}");
        })
        .await;
}

#[tokio::test]
async fn the_checkbox_confirmed_by_the_site_lets_the_bot_write_by_user_ref() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("hats", FIELDS).await;
    let ann = server.person("ann").await;
    let site = Site::start().await;
    whitelist(&server, &bot.page_token, &[&site.origin]).await;
    let user_ref = "checkout-5f1c9a2e";
    let (app, page) = (&bot.app.id, &bot.page.id);
    let body = format!(
        r#"<div class="fb-messenger-checkbox" origin="{origin}" page_id="{page}" messenger_app_id="{app}" user_ref="{user_ref}" prechecked="false" allow_login="true" size="large"></div>
<button id="place-order" type="button">Place order</button>
<script>
document.getElementById("place-order").addEventListener("click", () => {{
  FB.AppEvents.logEvent("MessengerCheckboxUserConfirmation", null, {{app_id: "{app}", page_id: "{page}", ref: "order-42", user_ref: "{user_ref}"}});
}});
</script>"#,
        origin = site.origin
    );
    site.put("/checkout", site_page(&server, Some(app), &body));

    browser
        .run("plugins_checkbox", |client| async move {
            client.goto(&site.url("/checkout")).await.expect("the site opens");
            let frame = ".fb-messenger-checkbox[data-switchboard-status='rendered'] iframe";
            enter(&client, frame).await;
            plugin_sign_in(&client, &ann).await;
            find_text(&client, "#checkbox-view", "Send to Messenger as Ann Tester").await;
            let checkbox = find(&client, "#messenger-checkbox").await;
            assert_eq!(checkbox.prop("checked").await.unwrap().as_deref(), Some("false"), "not prechecked");
            click(&client, "#messenger-checkbox").await;
            top(&client).await;
            site_event(&client, "the ticked checkbox", |e| {
                e["name"] == "messenger_checkbox" && e["event"] == "checkbox" && e["state"] == "checked" && e["user_ref"] == user_ref
            })
            .await;

            click(&client, "#place-order").await;
            enter(&client, frame).await;
            find_text(&client, "#checkbox-confirmed", "Confirmed").await;
            top(&client).await;

            let optin = bot.receiver.wait_for("the checkbox opt-in", |e| e["optin"]["user_ref"] == user_ref).await;
            assert_eq!(optin["optin"]["ref"], "order-42", "{optin}");
            assert!(optin.get("sender").is_none(), "no sender before the person answers: {optin}");
            assert_eq!(optin["recipient"]["id"], bot.page.id.as_str(), "{optin}");

            let body = json!({"recipient": {"user_ref": user_ref}, "messaging_type": "RESPONSE", "message": {"text": "Your order 42 is confirmed."}});
            let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(body)).await;
            assert_eq!(status, 200, "{sent}");
            assert!(sent["message_id"].as_str().is_some_and(|mid| !mid.is_empty()), "{sent}");
            assert!(sent.get("recipient_id").is_none(), "no recipient_id for a user_ref: {sent}");

            client.goto(&format!("{}/m/hats", server.url)).await.expect("the messenger opens");
            messenger_sign_in(&client, &ann).await;
            find_text(&client, ".from-page .bubble", "Your order 42 is confirmed.").await;
        })
        .await;
}

#[tokio::test]
async fn the_chat_plugin_chats_with_the_example_bot_and_reports_its_ref() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = EchoBot::start(&server, "echo", "messages,messaging_postbacks,messaging_referrals").await;
    let tap = &bot.tap;
    let ann = server.person("ann").await;
    // The Page's admin (as the echo bot's fixture made them) whitelists the site.
    let admin_login = "echo-admin";
    let admin_id = server.sign_in(&TestPerson { id: 0, login: admin_login.into(), password: format!("{admin_login}-password") }).await.person_id;
    let admin = TestPerson { id: admin_id, login: admin_login.into(), password: format!("{admin_login}-password") };
    let page_token = server.grant(&bot.page, &bot.app, &admin).await;
    let site = Site::start().await;
    whitelist(&server, &page_token, &[&site.origin]).await;
    let chat = |reference: &str| format!(r#"<div class="fb-customerchat" page_id="{}" ref="{reference}"></div>"#, bot.page.id);
    site.put("/", site_page(&server, Some(&bot.app.id), &chat("chat-home")));
    site.put("/sale", site_page(&server, Some(&bot.app.id), &chat("chat-sale")));
    let frame = ".switchboard-chat-panel iframe";

    browser
        .run("plugins_customerchat", |client| async move {
            client.goto(&site.url("/")).await.expect("the site opens");
            click(&client, ".fb-customerchat[data-switchboard-status='rendered'] .switchboard-chat-button").await;
            enter(&client, frame).await;
            messenger_sign_in(&client, &ann).await;
            find(&client, "body[data-embedded='on']").await;
            find_text(&client, "#thread-title", "Page echo").await;
            click(&client, "#get-started").await;
            find_text(&client, ".from-page .bubble", "Hi! I echo whatever you write.").await;
            let started = tap.wait_for("the Get Started postback", "messaging", |e| e["postback"]["payload"] == "GET_STARTED").await;
            let referral = &started["postback"]["referral"];
            assert_eq!((&referral["ref"], &referral["source"]), (&json!("chat-home"), &json!("CUSTOMER_CHAT_PLUGIN")), "{started}");
            assert_eq!(referral["referer_uri"], site.url("/"), "{started}");

            let input = find(&client, "#text").await;
            input.send_keys("hello from the shop").await.expect("typing");
            input.send_keys(&Key::Enter).await.expect("pressing Enter");
            find_text(&client, ".from-page .bubble", "echo: hello from the shop").await;
            top(&client).await;

            // Another page of the site, another ref, on a thread that has messages.
            client.goto(&site.url("/sale")).await.expect("the sale page opens");
            click(&client, ".fb-customerchat[data-switchboard-status='rendered'] .switchboard-chat-button").await;
            enter(&client, frame).await;
            let host = site.origin.trim_start_matches("http://").to_string();
            find_text(&client, ".system-line", &format!("You opened this conversation from {host}; Page echo was told.")).await;
            let referred = tap.wait_for("the referral", "messaging", |e| e["referral"]["ref"] == "chat-sale").await;
            assert_eq!(referred["referral"]["source"], "CUSTOMER_CHAT_PLUGIN", "{referred}");
            assert_eq!(referred["referral"]["type"], "OPEN_THREAD", "{referred}");
            assert_eq!(referred["referral"]["referer_uri"], site.url("/sale"), "{referred}");
            assert_eq!(referred["sender"]["id"], started["sender"]["id"], "the same person: {referred}");
            top(&client).await;
        })
        .await;
}

#[tokio::test]
async fn plugins_render_nothing_off_the_whitelist_or_for_strangers_to_a_development_app() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("hats", FIELDS).await;
    let site = Site::start().await;
    let elsewhere = Site::start().await;
    whitelist(&server, &bot.page_token, &[&site.origin]).await;
    // Without FB.init: the SDK parses the tags on its own.
    let tags = format!(r#"{}<div class="fb-customerchat" messenger_app_id="{}" page_id="{}"></div>"#, send_to_messenger_tag(&bot.app.id, &bot.page, "nope"), bot.app.id, bot.page.id);
    elsewhere.put("/", site_page(&server, None, &tags));

    // The plugin pages may be framed only by the whitelisted origin.
    let plugin = format!("{}/plugins/send_to_messenger?app_id={}&page_id={}&origin={}", server.url, bot.app.id, bot.page.id, site.origin);
    let response = server.http.get(&plugin).send().await.expect("the plugin page answers");
    let policy = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(policy.contains(&format!("frame-ancestors {}", site.origin)), "{policy}");
    assert!(!policy.contains(&elsewhere.origin), "{policy}");

    // A Page whose only app is in development mode; Tess tests it, Bea does not.
    let lab_admin = server.person("lab-admin").await;
    let lab = server.page(&lab_admin, "hatlab").await;
    let lab_app = server.app("lab bot").await;
    let lab_token = server.grant(&lab, &lab_app, &lab_admin).await;
    let lab_receiver = WebhookReceiver::start(&lab_app.secret).await;
    server.subscribe(&lab_app, &lab_receiver, FIELDS).await;
    server.install(&lab_token, &lab, FIELDS).await;
    whitelist(&server, &lab_token, &[&site.origin]).await;
    let tess = server.person("tess").await;
    server.console(Method::POST, &format!("/apps/{}/roles", lab_app.id), json!({"person_id": tess.id, "role": "tester"})).await;
    let bea = server.person("bea").await;
    site.put("/lab", site_page(&server, Some(&lab_app.id), &send_to_messenger_tag(&lab_app.id, &lab, "lab")));

    browser
        .run("plugins_refused", |client| async move {
            client.goto(&elsewhere.url("/")).await.expect("the other site opens");
            for tag in [".fb-send-to-messenger", ".fb-customerchat"] {
                let refused = format!("{tag}[data-switchboard-status='refused']");
                find(&client, &refused).await;
                let reason = attribute(&client, &refused, "data-switchboard-reason").await.unwrap_or_default();
                assert!(reason.contains("whitelisted_domains"), "{tag} says why: {reason}");
            }
            assert!(client.find_all(Locator::Css("iframe")).await.unwrap().is_empty(), "no iframe on a foreign origin");
            assert!(client.find_all(Locator::Css(".switchboard-chat-button")).await.unwrap().is_empty(), "no chat button");
            let warned = warnings(&client).await;
            assert_eq!(warned.iter().filter(|w| w.starts_with("Switchboard plugin not rendered: ")).count(), 2, "{warned:?}");

            // Development mode: the tester sees the button...
            client.goto(&site.url("/lab")).await.expect("the lab page opens");
            let frame = ".fb-send-to-messenger[data-switchboard-status='rendered'] iframe";
            enter(&client, frame).await;
            plugin_sign_in(&client, &tess).await;
            find_text(&client, "#send-to-messenger", "Send to Messenger").await;
            client.execute("localStorage.removeItem('switchboard.plugin.session')", vec![]).await.expect("forgetting Tess");
            top(&client).await;

            // ...a person without a role on the app sees nothing once signed in.
            client.goto(&site.url("/lab")).await.expect("the lab page opens again");
            enter(&client, frame).await;
            plugin_sign_in(&client, &bea).await;
            top(&client).await;
            let refused = ".fb-send-to-messenger[data-switchboard-status='refused']";
            find(&client, refused).await;
            let reason = attribute(&client, refused, "data-switchboard-reason").await.unwrap_or_default();
            assert!(reason.contains("development mode"), "the tag says why: {reason}");
            assert!(client.find_all(Locator::Css("iframe")).await.unwrap().is_empty(), "the plugin is gone");
            let warned = warnings(&client).await;
            assert!(warned.iter().any(|w| w == &format!("Switchboard plugin not rendered: {reason}")), "{warned:?}");
        })
        .await;
}

#[tokio::test]
async fn account_linking_goes_through_the_sites_login_and_back() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("bank", FIELDS).await;
    let ann = server.person("ann").await;
    let psid = psid_of(&server, &bot, &ann).await;
    let site = Site::start().await;
    *site.state.linking.lock().unwrap() = Some((server.graph(), bot.page_token.clone()));
    let link = button_template(&psid, "Link your bank account", json!({"type": "account_link", "url": site.url("/authorize")}));
    let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(link)).await;
    assert_eq!(status, 200, "{sent}");

    browser
        .run("plugins_account_linking", |client| async move {
            client.goto(&format!("{}/m/bank", server.url)).await.expect("the messenger opens");
            messenger_sign_in(&client, &ann).await;
            find_text(&client, ".button-template .template-text", "Link your bank account").await;
            find(&client, "#account-linked[hidden]").await;

            // The person changes their mind on the site's login page.
            click(&client, ".button-template button.account-link").await;
            find_text(&client, "#recipient", &psid).await;
            click(&client, "#cancel").await;
            find_text(&client, "#note", "Linking was cancelled.").await;
            find(&client, "#account-linked[hidden]").await;

            // Again: the site's login page learns the PSID from the new token.
            click(&client, ".button-template button.account-link").await;
            find_text(&client, "#recipient", &psid).await;
            let learned = json!({"id": bot.page.id, "recipient": psid});
            assert_eq!(site.state.learned.lock().unwrap().clone(), vec![learned.clone(), learned]);
            click(&client, "#log-in").await;

            // Back in the messenger, linked.
            find_text(&client, "#note", "Your account is linked.").await;
            find_text(&client, "#account-linked:not([hidden])", "Account linked").await;
            let linked = bot.receiver.wait_for("linked", |e| e["account_linking"]["status"] == "linked").await;
            assert_eq!(linked["account_linking"]["authorization_code"], CODE, "{linked}");
            assert_eq!(linked["sender"]["id"], psid.as_str(), "{linked}");
            let url = client.current_url().await.expect("the address");
            assert_eq!(url.path(), format!("/m/{}", bot.page.id), "Switchboard sends the person back to the thread");
            eventually("the address drops account_linking", || {
                let client = client.clone();
                async move { (!client.current_url().await.ok()?.as_str().contains("account_linking")).then_some(()) }
            })
            .await;

            // The Page offers to unlink; the person taps it.
            let unlink = button_template(&psid, "Done banking?", json!({"type": "account_unlink"}));
            let (status, sent) = server.graph_call(Method::POST, "/me/messages", Some(&bot.page_token), Some(unlink)).await;
            assert_eq!(status, 200, "{sent}");
            click(&client, ".button-template button.account-unlink").await;
            find_text(&client, "#note", "Your account is unlinked.").await;
            find(&client, "#account-linked[hidden]").await;
            bot.receiver.wait_for("unlinked", |e| e["account_linking"]["status"] == "unlinked").await;

            // A reload shows what the server remembers.
            client.goto(&format!("{}/m/bank", server.url)).await.expect("the messenger opens again");
            find_text(&client, "#thread-title", "Page bank").await;
            find(&client, "#account-linked[hidden]").await;
        })
        .await;
}

#[tokio::test]
async fn a_link_with_a_ref_on_a_thread_with_messages_tells_the_page() {
    let server = TestServer::start().await;
    let Some(browser) = Browser::start(Screen::Desktop).await else { return };
    let bot = server.bot("hats", FIELDS).await;
    let ann = server.person("ann").await;
    psid_of(&server, &bot, &ann).await;

    browser
        .run("entry_link_referral", |client| async move {
            client.goto(&format!("{}/m/hats?ref=winter-sale", server.url)).await.expect("the messenger opens");
            messenger_sign_in(&client, &ann).await;
            find_text(&client, ".from-person .bubble", "hi").await;
            find_text(&client, ".system-line", "You opened this conversation from a link; Page hats was told.").await;
            let referred = bot.receiver.wait_for("the referral", |e| e["referral"]["ref"] == "winter-sale").await;
            assert_eq!((&referred["referral"]["source"], &referred["referral"]["type"]), (&json!("SHORTLINK"), &json!("OPEN_THREAD")), "{referred}");
            let url = client.current_url().await.expect("the address");
            assert_eq!((url.path(), url.query()), ("/m/hats", None), "the ref is used: the address drops it");
        })
        .await;
}
