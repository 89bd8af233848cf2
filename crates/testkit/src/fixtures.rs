//! Fixture builders. They go through the console and Graph APIs over HTTP, so a
//! fixture is set up exactly as a developer would set it up.

use crate::{PersonClient, TestServer, WebhookReceiver};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct TestPerson {
    pub id: i64,
    pub login: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct TestPage {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone)]
pub struct TestApp {
    pub id: String,
    pub secret: String,
}

/// A bot wired to a Page: an app granted the Page, its webhook pointing at a
/// receiver (through the real handshake), installed on the Page for `fields`.
pub struct Bot {
    pub app: TestApp,
    pub page: TestPage,
    pub admin: TestPerson,
    pub page_token: String,
    pub receiver: WebhookReceiver,
}

/// The permissions [`TestServer::go_live`] has App Review approve.
pub const REVIEWED_PERMISSIONS: [&str; 5] = ["pages_messaging", "pages_show_list", "pages_manage_metadata", "pages_read_engagement", "human_agent"];

/// Every field the core produces, for bots that want to see everything.
pub const ALL_CORE_FIELDS: &str = "messages,message_echoes,message_deliveries,message_reads";

impl TestServer {
    pub async fn person(&self, login: &str) -> TestPerson {
        let password = format!("{login}-password");
        let created = self
            .console(Method::POST, "/persons", json!({"name": format!("{} Tester", capitalize(login)), "login": login, "password": password}))
            .await;
        TestPerson { id: created["id"].as_i64().expect("person id"), login: login.into(), password }
    }

    /// Signs the person in to the person API.
    pub async fn sign_in(&self, person: &TestPerson) -> PersonClient {
        PersonClient::sign_in(self, &person.login, &person.password).await
    }

    /// A Page whose admin is `admin`.
    pub async fn page(&self, admin: &TestPerson, username: &str) -> TestPage {
        let page = self.console(Method::POST, "/pages", json!({"name": format!("Page {username}"), "username": username})).await;
        let id = page["id"].as_str().expect("page id").to_string();
        self.console(Method::POST, &format!("/pages/{id}/roles"), json!({"person_id": admin.id, "role": "admin"})).await;
        TestPage { id, username: username.into() }
    }

    pub async fn app(&self, name: &str) -> TestApp {
        let app = self.console(Method::POST, "/apps", json!({"name": name})).await;
        TestApp { id: app["id"].as_str().expect("app id").into(), secret: app["secret"].as_str().expect("secret").into() }
    }

    /// Takes the app live as its developer would: every permission a Messenger bot
    /// uses submitted for App Review, approved by the operator, then the mode.
    pub async fn go_live(&self, app: &TestApp) {
        let permissions = REVIEWED_PERMISSIONS;
        self.console(Method::POST, &format!("/apps/{}/review", app.id), json!({"permissions": permissions, "note": "A test bot that answers everyone"})).await;
        for permission in permissions {
            self.console(Method::POST, &format!("/apps/{}/review/{permission}", app.id), json!({"approve": true})).await;
        }
        self.console(Method::PATCH, &format!("/apps/{}", app.id), json!({"mode": "live"})).await;
    }

    /// Grants the app the Page on behalf of `admin`; answers the Page token.
    pub async fn grant(&self, page: &TestPage, app: &TestApp, admin: &TestPerson) -> String {
        let granted = self.console(Method::POST, &format!("/pages/{}/apps", page.id), json!({"app_id": app.id, "person_id": admin.id})).await;
        granted["access_token"].as_str().expect("page token").into()
    }

    /// A Graph call; answers status and JSON.
    pub async fn graph_call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.graph()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the Graph API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Subscribes the app's webhook (app token, handshake) for `fields`.
    pub async fn subscribe(&self, app: &TestApp, receiver: &WebhookReceiver, fields: &str) {
        self.subscribe_to(app, &receiver.url, &receiver.verify_token, fields).await;
    }

    /// Subscribes the app's webhook to any callback URL that answers the handshake.
    pub async fn subscribe_to(&self, app: &TestApp, callback_url: &str, verify_token: &str, fields: &str) {
        let app_token = format!("{}|{}", app.id, app.secret);
        let body = json!({"object": "page", "callback_url": callback_url, "verify_token": verify_token, "fields": fields});
        let (status, answer) = self.graph_call(Method::POST, &format!("/{}/subscriptions", app.id), Some(&app_token), Some(body)).await;
        assert_eq!((status, &answer), (200, &json!({"success": true})), "subscribing the webhook");
    }

    /// Installs the token's app on its Page for `fields`.
    pub async fn install(&self, page_token: &str, page: &TestPage, fields: &str) {
        let (status, answer) =
            self.graph_call(Method::POST, &format!("/{}/subscribed_apps", page.id), Some(page_token), Some(json!({"subscribed_fields": fields}))).await;
        assert_eq!((status, &answer), (200, &json!({"success": true})), "installing the app on the Page");
    }

    /// A complete bot on a new Page named `username`, receiving `fields`; its app is
    /// live and reviewed, so it may message anyone who writes to the Page.
    pub async fn bot(&self, username: &str, fields: &str) -> Bot {
        let admin = self.person(&format!("{username}-admin")).await;
        let page = self.page(&admin, username).await;
        let app = self.app(&format!("{username} bot")).await;
        self.go_live(&app).await;
        let page_token = self.grant(&page, &app, &admin).await;
        let receiver = WebhookReceiver::start(&app.secret).await;
        self.subscribe(&app, &receiver, fields).await;
        self.install(&page_token, &page, fields).await;
        Bot { app, page, admin, page_token, receiver }
    }

    /// Another app on the bot's Page (live, granted by the Page's admin, its webhook
    /// subscribed and installed for `fields`): the Page's second receiver.
    pub async fn join(&self, bot: &Bot, name: &str, fields: &str) -> Bot {
        let app = self.app(name).await;
        self.go_live(&app).await;
        let page_token = self.grant(&bot.page, &app, &bot.admin).await;
        let receiver = WebhookReceiver::start(&app.secret).await;
        self.subscribe(&app, &receiver, fields).await;
        self.install(&page_token, &bot.page, fields).await;
        Bot { app, page: bot.page.clone(), admin: bot.admin.clone(), page_token, receiver }
    }

    /// Sends a text with the Send API as the bot; answers status and JSON.
    pub async fn send_text(&self, bot: &Bot, psid: &str, text: &str) -> (u16, Value) {
        self.graph_call(
            Method::POST,
            "/me/messages",
            Some(&bot.page_token),
            Some(json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}})),
        )
        .await
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
