//! The reliability suite, run with `cargo test -p switchboard-testkit --test reliability`
//! (and by `scripts/test`):
//!
//! - an authorization matrix generated from the route tables (`switchboard_testkit::routes`):
//!   every route × no token, a garbage token, the Page's token, another Page's token,
//!   the app's token, another app's token, a user token, the Page admin's session,
//!   another person's session and the operator, each answered as the route's
//!   declared access says (the documented refusal, or not refused);
//! - a bounded fuzz pass: thousands of generated requests (any route, method,
//!   placeholder, query, token and body: nested JSON, forms, multipart, raw bytes)
//!   against a real node, none of which may get a 5xx, a non-JSON error from an API,
//!   or take the node down.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use switchboard_testkit::routes::{self, Route};
use switchboard_testkit::{percent_encode, TestPerson, TestServer};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Nobody,
    Garbage,
    /// Page A's token (app A, through Alice).
    PageA,
    /// Page B's token (app B, through Bob).
    PageB,
    AppA,
    AppB,
    /// Alice's user token for app A.
    UserA,
    /// Alice: admin of Page A, administrator of app A.
    Alice,
    /// Bob: a person with no role on Page A or app A.
    Bob,
    Operator,
}

const EVERYONE: [Who; 10] = [Who::Nobody, Who::Garbage, Who::PageA, Who::PageB, Who::AppA, Who::AppB, Who::UserA, Who::Alice, Who::Bob, Who::Operator];

/// What a route's access is, as README and docs/person-api.md document it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone (sign-in, the handshake-free OAuth endpoint, health, media, the web pages).
    Public,
    /// Graph: the Page's own Page token.
    PageToken,
    /// Graph: the app's own app token.
    AppToken,
    /// Graph: a user access token.
    UserToken,
    /// Graph: any token of an app (Page, app or user).
    AnyAppToken,
    /// Graph: an app token, or the user token of one of the app's developers.
    AppOrDeveloper,
    /// Graph: a test user's own token (no caller of the world has one).
    TestUserToken,
    /// Person API: any person's session.
    Person,
    /// Console: any person's session, or the operator.
    SignedIn,
    Operator,
    /// Console: an admin of the Page, or the operator.
    PageAdmin,
    /// Console: an administrator (or developer) of the app, or the operator.
    AppTeam,
    /// Console: the person the call names (Alice here), or the operator.
    SelfOrOperator,
}

impl Access {
    fn allows(self, who: Who) -> bool {
        use Who::*;
        match self {
            Access::Public => true,
            Access::PageToken => who == PageA,
            Access::AppToken => who == AppA,
            Access::UserToken => who == UserA,
            Access::AnyAppToken => matches!(who, PageA | PageB | AppA | AppB | UserA),
            Access::AppOrDeveloper => matches!(who, AppA | AppB | UserA),
            Access::TestUserToken => false,
            Access::Person => matches!(who, Alice | Bob),
            Access::SignedIn => matches!(who, Alice | Bob | Operator),
            Access::Operator => who == Operator,
            Access::PageAdmin | Access::AppTeam | Access::SelfOrOperator => matches!(who, Alice | Operator),
        }
    }
}

/// Every route's declared access and a body that parses, so that a refusal is
/// the access check's and not the body's. A route without an entry fails the suite.
fn declared(route: &Route) -> Option<(Access, Value)> {
    use Access::*;
    let none = Value::Null;
    let entry = match (route.method.as_str(), route.path.as_str()) {
        // Graph.
        ("GET", "/v21.0/oauth/access_token") | ("POST", "/v21.0/") => (Public, none),
        ("GET", "/v21.0/me/accounts") | ("DELETE", "/v21.0/{user}/permissions") => (UserToken, none),
        ("GET", "/v21.0/{user}/permissions") | ("DELETE", "/v21.0/{user}/permissions/{permission}") => (UserToken, none),
        ("GET", "/v21.0/debug_token") => (AppOrDeveloper, none),
        ("GET" | "POST", "/v21.0/{app}/accounts/test-users") => (AppToken, json!({"installed": false})),
        ("POST", "/v21.0/{_user}/accounts") => (TestUserToken, json!({"name": "Matrix test Page"})),
        ("GET", "/v21.0/{id}/ids_for_pages" | "/v21.0/{id}/ids_for_apps") => (AnyAppToken, none),
        ("GET", "/v21.0/{node}") => (AnyAppToken, none),
        ("POST" | "GET" | "DELETE", "/v21.0/{app}/subscriptions") => (AppToken, json!({"object": "page", "fields": "messages"})),
        ("GET", "/v21.0/{app}/updates" | "/v21.0/{app}/listen") => (AppToken, none),
        ("POST", "/v21.0/{app}/listen") => (AppToken, json!({"events": ["1"], "status": 200})),
        ("POST" | "DELETE", "/v21.0/{label}/label") => (PageToken, json!({"user": "{psid}"})),
        ("POST", "/v21.0/{node}/messages") => (PageToken, json!({"recipient": {"id": "{psid}"}, "message": {"text": "matrix"}})),
        (_, p) if p.starts_with("/v21.0/{page}/") || p == "/v21.0/{node}" || p == "/v21.0/{conversation}/messages" => (PageToken, json!({"fields": ["greeting"]})),
        // The person API.
        ("POST", "/person/v1/login") => (Public, json!({"login": "nobody-at-all", "password": "not a password"})),
        ("POST", "/person/v1/logout") => (Person, none),
        (_, p) if p.starts_with("/person/v1/") => (Person, json!({"text": "matrix", "emoji": "👍", "phone_number": "+15550100"})),
        // The console.
        ("POST", "/console/v1/login") => (Public, json!({"login": "nobody-at-all", "password": "not a password"})),
        ("POST", "/console/v1/logout") => (Person, none),
        ("GET", "/console/v1/me" | "/console/v1/apps" | "/console/v1/pages" | "/console/v1/clock" | "/console/v1/inbox") => (SignedIn, none),
        ("POST", "/console/v1/apps") => (SignedIn, json!({"name": "Matrix app"})),
        ("POST", "/console/v1/pages") => (SignedIn, json!({"name": "Matrix", "username": "matrix-page"})),
        ("POST", "/console/v1/persons") => (Operator, json!({"name": "New", "login": "new-person", "password": "new password"})),
        ("POST", "/console/v1/clock") => (Operator, json!({"advance_ms": 1})),
        ("POST", "/console/v1/pages/{page}/features/{feature}/approve") => (Operator, none),
        ("POST", "/console/v1/apps/{app}/review/{permission}") => (Operator, json!({"approve": false, "reason": "matrix"})),
        ("GET", "/console/v1/reviews") => (Operator, none),
        ("GET", "/console/v1/privacy/audit") | ("POST", "/console/v1/privacy/retention/run") => (Operator, none),
        ("PUT", "/console/v1/pages/{page}/retention") => (PageAdmin, json!({"retention_days": 30})),
        ("GET", "/console/v1/businesses") => (SignedIn, none),
        ("POST", "/console/v1/businesses") => (SignedIn, json!({"name": "Matrix business"})),
        ("PUT", "/console/v1/businesses/{business}/apps/{app}" | "/console/v1/businesses/{business}/pages/{page}") => (SignedIn, none),
        ("POST", "/console/v1/pages/{page}/roles") => (PageAdmin, json!({"login": "bob", "role": "admin"})),
        ("POST", "/console/v1/pages/{page}/apps") => (PageAdmin, json!({"app_id": "{app}"})),
        ("POST", "/console/v1/pages/{page}/features/{feature}") => (PageAdmin, json!({"accept_terms": true})),
        ("POST", "/console/v1/pages/{page}/receivers/{app}") => (PageAdmin, json!({"role": "primary_receiver"})),
        ("POST", "/console/v1/pages/{page}/routing") => (PageAdmin, json!({"ref": "matrix", "app_id": null})),
        ("POST", "/console/v1/pages/{page}/inbox/{psid}/messages") => (PageAdmin, json!({"text": "matrix"})),
        ("POST", "/console/v1/pages/{page}/inbox/{psid}/folder") => (PageAdmin, json!({"folder": "page_done"})),
        (_, p) if p.starts_with("/console/v1/pages/{page}") => (PageAdmin, none),
        ("POST", "/console/v1/apps/{app}/user-tokens") => (SelfOrOperator, json!({"person_id": "{alice}"})),
        ("POST", "/console/v1/apps/{app}/roles") => (AppTeam, json!({"login": "bob", "role": "tester"})),
        ("POST", "/console/v1/apps/{app}/webhook/replay") => (AppTeam, json!({"from": 0, "to": 1})),
        ("POST", "/console/v1/apps/{app}/policy") => (Operator, json!({"action": "warning", "reason": "matrix"})),
        ("POST", "/console/v1/apps/{app}/review") => (AppTeam, json!({"permissions": ["pages_messaging"], "note": "matrix"})),
        ("PUT", "/console/v1/apps/{app}/redirect-uris") => (AppTeam, json!({"redirect_uris": ["https://bot.example/callback"]})),
        ("GET", "/console/v1/apps/{app}/api-errors") => (AppTeam, none),
        (_, p) if p.starts_with("/console/v1/apps/{app}") => (AppTeam, json!({})),
        // Operations, media, the web interfaces.
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/" | "/console" | "/console/" | "/m/{page}") => (Public, none),
        ("GET", "/dialog/oauth" | "/{version}/dialog/oauth") => (Public, none),
        ("GET", "/media/{digest}" | "/media/profilepic/{page}/{psid}/{signature}" | "/media/stickers/{file}") => (Public, none),
        // A business's site: the script, the plugins' check and frames, the linking return.
        ("GET", "/sdk.js" | "/en_US/sdk.js" | "/plugins/v1/check" | "/plugins/send_to_messenger" | "/plugins/checkbox" | "/plugins/customerchat") => {
            (Public, none)
        }
        ("GET", "/messenger_platform/account_linking" | "/messenger_platform/account_linking/") => (Public, none),
        _ => return None,
    };
    Some(entry)
}

/// Two Pages, two apps, their people and every kind of token.
struct World {
    server: TestServer,
    alice: TestPerson,
    tokens: BTreeMap<Who, String>,
    /// Placeholder values.
    values: BTreeMap<&'static str, String>,
}

impl World {
    async fn new(adjust: impl FnOnce(&mut switchboard::Settings)) -> World {
        let server = TestServer::start_with(adjust).await;
        let alice = server.person("alice").await;
        let bob = server.person("bob").await;
        let alice_session = server.sign_in(&alice).await.token.clone();
        let bob_session = server.sign_in(&bob).await.token.clone();
        let as_alice = |method, path: String, body| {
            let server = &server;
            let token = alice_session.clone();
            async move {
                let (status, body) = server.console_as(&token, method, &path, body).await;
                assert!(status.is_success(), "{path}: {body}");
                body
            }
        };
        let page_a = as_alice(Method::POST, "/pages".into(), json!({"name": "Page A", "username": "page-a"})).await;
        let app_a = as_alice(Method::POST, "/apps".into(), json!({"name": "App A"})).await;
        let (page_a, app_a_id, app_a_secret) =
            (page_a["id"].as_str().unwrap().to_string(), app_a["id"].as_str().unwrap().to_string(), app_a["secret"].as_str().unwrap().to_string());
        let granted = as_alice(Method::POST, format!("/pages/{page_a}/apps"), json!({"app_id": app_a_id})).await;
        let user = as_alice(Method::POST, format!("/apps/{app_a_id}/user-tokens"), json!({"person_id": alice.id})).await;

        let page_b = server.console_as(&bob_session, Method::POST, "/pages", json!({"name": "Page B", "username": "page-b"})).await.1;
        let app_b = server.console_as(&bob_session, Method::POST, "/apps", json!({"name": "App B"})).await.1;
        let (page_b, app_b_id, app_b_secret) =
            (page_b["id"].as_str().unwrap().to_string(), app_b["id"].as_str().unwrap().to_string(), app_b["secret"].as_str().unwrap().to_string());
        let granted_b = server.console_as(&bob_session, Method::POST, &format!("/pages/{page_b}/apps"), json!({"app_id": app_b_id})).await.1;

        // Alice writes to Page A, so that it has a conversation, a message and her PSID.
        let alice_client = server.sign_in(&alice).await;
        let sent = alice_client.send("page-a", "hello").await;
        let page_a_token = granted["access_token"].as_str().unwrap().to_string();
        // App A is installed on Page A: its primary receiver, for the thread-control calls.
        let (status, installed) = server.graph_call(Method::POST, &format!("/{page_a}/subscribed_apps"), Some(&page_a_token), Some(json!({"subscribed_fields": "messages"}))).await;
        assert_eq!(status, 200, "{installed}");
        let (_, conversations) = server.graph_call(Method::GET, "/me/conversations", Some(&page_a_token), None).await;
        let conversation = conversations["data"][0]["id"].as_str().unwrap().to_string();

        let tokens = BTreeMap::from([
            (Who::Garbage, "EAAnot-a-token-at-all".to_string()),
            (Who::PageA, page_a_token),
            (Who::PageB, granted_b["access_token"].as_str().unwrap().to_string()),
            (Who::AppA, format!("{app_a_id}|{app_a_secret}")),
            (Who::AppB, format!("{app_b_id}|{app_b_secret}")),
            (Who::UserA, user["access_token"].as_str().unwrap().to_string()),
            (Who::Alice, alice_session.clone()),
            (Who::Bob, bob_session),
            (Who::Operator, server.operator.clone()),
        ]);
        let values = BTreeMap::from([
            ("page", page_a.clone()),
            ("node", page_a),
            ("app", app_a_id),
            ("user", "me".to_string()),
            ("conversation", conversation.clone()),
            ("psid", conversation.trim_start_matches("t_").to_string()),
            ("mid", sent["mid"].as_str().unwrap().to_string()),
            ("feature", "phone_numbers".to_string()),
            ("event", "1".to_string()),
            ("digest", "0".repeat(64)),
            ("signature", "nope".to_string()),
            ("file", "369239263222822.svg".to_string()),
            ("alice", alice.id.to_string()),
            ("permission", "pages_read_engagement".to_string()),
            ("_user", "me".to_string()),
            ("id", conversation.trim_start_matches("t_").to_string()),
            ("business", "1".to_string()),
            // No label: a Page token is answered 100/33, another token refused first.
            ("label", "1".to_string()),
            ("version", "v21.0".to_string()),
        ]);
        World { server, alice, tokens, values }
    }

    /// The route's path with its placeholders filled; the person API names Pages by
    /// username.
    fn path(&self, route: &Route) -> String {
        let mut path = route.path.clone();
        if path.starts_with("/person/v1/") || path.starts_with("/m/") {
            path = path.replace("{page}", "page-a");
        }
        for (name, value) in &self.values {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path
    }

    fn body(&self, body: &Value) -> Value {
        let mut text = body.to_string();
        for (name, value) in &self.values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        let mut body: Value = serde_json::from_str(&text).unwrap();
        if let Some(id) = body.get("person_id").and_then(Value::as_str).and_then(|s| s.parse::<i64>().ok()) {
            body["person_id"] = json!(id);
        }
        body
    }

    async fn call(&self, route: &Route, who: Who, body: &Value) -> (u16, Value) {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let mut request = self.server.http.request(method.clone(), format!("{}{}", self.server.url, self.path(route)));
        if let Some(token) = self.tokens.get(&who) {
            request = request.bearer_auth(token);
        }
        if !body.is_null() && method != Method::GET {
            request = request.json(&self.body(body));
        }
        let response = request.timeout(Duration::from_secs(20)).send().await.unwrap_or_else(|e| panic!("{route:?} as {who:?}: {e}"));
        let status = response.status().as_u16();
        if status == 200 && is_stream(&response) {
            return (status, Value::Null); // a live stream or a listener's: it never ends
        }
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// A server-sent event stream (the person's live events, a listener's deliveries).
fn is_stream(response: &reqwest::Response) -> bool {
    response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Codes of the documented refusals: no token, an invalid token, a token of the
/// wrong kind or for something else, a person without the right.
fn is_documented_refusal(who: Who, status: u16, body: &Value) -> bool {
    let code = body["error"]["code"].as_u64().unwrap_or(0);
    let subcode = body["error"]["error_subcode"].as_u64();
    let client_error = (400..=403).contains(&status);
    client_error
        && match who {
            Who::Nobody => matches!(code, 104 | 2500),
            Who::Garbage => code == 190,
            _ => matches!(code, 190 | 15 | 200 | 10) || (code == 100 && subcode == Some(33)),
        }
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_documented() {
    let routes = routes::all();
    let undeclared: Vec<&Route> = routes.iter().filter(|r| declared(r).is_none()).collect();
    assert!(undeclared.is_empty(), "routes without a declared access (add them to `declared`): {undeclared:#?}");

    // Refusals first, on one world: a refused call changes nothing.
    let world = World::new(|_| {}).await;
    let mut wrong = Vec::new();
    for route in &routes {
        let (access, body) = declared(route).unwrap();
        for who in EVERYONE.into_iter().filter(|who| !access.allows(*who)) {
            let (status, answer) = world.call(route, who, &body).await;
            if !is_documented_refusal(who, status, &answer) {
                wrong.push(format!("{} {} as {who:?} ({access:?}): {status} {answer}", route.method, route.path));
            }
        }
    }
    assert!(wrong.is_empty(), "{} calls were not refused as documented:\n{}", wrong.len(), wrong.join("\n"));

    // Then the callers allowed: not refused, no failure. A call that changes
    // something gets a world of its own.
    for route in &routes {
        let (access, body) = declared(route).unwrap();
        let fresh;
        let world = if route.method == "GET" {
            &world
        } else {
            fresh = World::new(|_| {}).await;
            &fresh
        };
        for who in EVERYONE.into_iter().filter(|who| access.allows(*who) && access != Access::Public) {
            let (status, answer) = world.call(route, who, &body).await;
            let refused_for_access = is_documented_refusal(who, status, &answer) && !(answer["error"]["code"] == 100);
            if status >= 500 || refused_for_access {
                wrong.push(format!("{} {} as {who:?} ({access:?}) should pass: {status} {answer}", route.method, route.path));
            }
        }
    }
    assert!(wrong.is_empty(), "{} allowed calls failed:\n{}", wrong.len(), wrong.join("\n"));
    let _ = &world.alice;
}

// ---- the fuzz pass ---------------------------------------------------------------

/// Strings that parsers trip on: empty, huge, unicode, control characters, numbers
/// at their limits, paths that climb, selection and JSON syntax, injection shapes.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(any::<char>(), 0..24).prop_map(|chars| chars.into_iter().collect()),
        1 => Just(String::new()),
        1 => (1usize..200_000).prop_map(|n| "a".repeat(n)),
        1 => Just("../../../../etc/passwd".to_string()),
        1 => Just("%00%ff%c0%af".to_string()),
        1 => Just("9223372036854775808".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("me".to_string()),
        1 => Just("t_".to_string()),
        1 => Just("m_".to_string()),
        1 => Just("{}".to_string()),
        1 => Just("'; DROP TABLE persons; --".to_string()),
        1 => Just("http://127.0.0.1:1/x".to_string()),
        1 => (1usize..3000).prop_map(|n| "[".repeat(n)),
        1 => field_selection(),
    ]
}

/// Graph field selections, valid or not, nested and wide.
fn field_selection() -> impl Strategy<Value = String> {
    let name = prop_oneof![Just("id"), Just("messages"), Just("message"), Just("from"), Just("participants"), Just("updated_time"), Just("x y"), Just("")];
    let leaf = (name, proptest::option::of(0u32..200)).prop_map(|(n, limit)| match limit {
        Some(limit) => format!("{n}.limit({limit})"),
        None => n.to_string(),
    });
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..8).prop_map(|items| items.join(",")),
            inner.clone().prop_map(|nested| format!("messages{{{nested}}}")),
            inner.prop_map(|nested| format!("{nested}}}{{")),
        ]
    })
}

/// JSON a client might send: Meta's own keys, nested, with any leaves.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        8 => prop_oneof![
            Just("recipient"), Just("message"), Just("id"), Just("text"), Just("attachment"), Just("payload"), Just("type"),
            Just("template_type"), Just("elements"), Just("buttons"), Just("quick_replies"), Just("url"), Just("title"),
            Just("messaging_type"), Just("tag"), Just("sender_action"), Just("fields"), Just("greeting"), Just("persistent_menu"),
            Just("get_started"), Just("ice_breakers"), Just("batch"), Just("method"), Just("relative_url"), Just("body"),
            Just("login"), Just("password"), Just("name"), Just("username"), Just("app_id"), Just("person_id"), Just("role"),
            Just("mode"), Just("reset_secret"), Just("advance_ms"), Just("to"), Just("from"), Just("emoji"), Just("quick_reply"),
            Just("mid"), Just("button"), Just("menu"), Just("ice_breaker"), Just("ref"), Just("watermark"), Just("phone_number"),
            Just("locale"), Just("timezone"), Just("gender"), Just("callback_url"), Just("verify_token"), Just("object"),
            Just("subscribed_fields"), Just("reply_to"), Just("persona_id"), Just("metadata"), Just("one_time_notif_token"),
            Just("notification_messages_token"), Just("content_type"), Just("is_reusable"), Just("filedata"), Just("psid"),
            Just("sticker_id"), Just("feedback"),
        ].prop_map(str::to_string),
        1 => nasty_string(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        nasty_string().prop_map(Value::from),
        prop_oneof![Just("RESPONSE"), Just("MESSAGE_TAG"), Just("template"), Just("generic"), Just("button"), Just("postback"), Just("image"), Just("{psid}")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(8, 128, 10, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..10).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    /// `key=<JSON text>` pairs, as form-encoding SDKs send objects.
    Form(Vec<(String, Value)>),
    /// Parts with text values, and a file part.
    Multipart(Vec<(String, String)>, Vec<u8>),
    Raw(String, Vec<u8>),
    /// JSON nested far deeper than any bound.
    Deep(usize),
}

#[derive(Debug, Clone)]
struct Fuzzed {
    route: usize,
    method: Option<&'static str>,
    /// For each placeholder: the world's value, or something else.
    junk_placeholders: Vec<Option<String>>,
    query: Vec<(String, String)>,
    body: Body,
    who: usize,
    /// Call as one of the route's allowed callers (else as anyone), to reach past
    /// the token checks.
    as_allowed: bool,
}

fn fuzzed(routes: usize) -> impl Strategy<Value = Fuzzed> {
    let method = proptest::option::weighted(0.1, prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE")]);
    let query_key = prop_oneof![
        Just("fields"), Just("limit"), Just("after"), Just("before"), Just("q"), Just("access_token"), Just("appsecret_proof"), Just("psid"),
        Just("platform"), Just("from"), Just("to"), Just("bucket_ms"), Just("state"), Just("user_id"), Just("hub.mode"), Just("grant_type"),
        Just("client_id"), Just("client_secret"), Just("fb_exchange_token"), Just("include_headers"), Just("batch"), Just("message"),
    ]
    .prop_map(str::to_string);
    let query = proptest::collection::vec((prop_oneof![4 => query_key, 1 => nasty_string()], nasty_string()), 0..5);
    let body = prop_oneof![
        2 => Just(Body::None),
        6 => json_value().prop_map(Body::Json),
        3 => proptest::collection::vec((nasty_string(), json_value()), 0..5).prop_map(Body::Form),
        1 => (proptest::collection::vec((nasty_string(), nasty_string()), 0..4), proptest::collection::vec(any::<u8>(), 0..2000)).prop_map(|(parts, file)| Body::Multipart(parts, file)),
        1 => (prop_oneof![Just("application/json"), Just("text/plain"), Just("multipart/form-data"), Just("application/x-www-form-urlencoded"), Just("")], proptest::collection::vec(any::<u8>(), 0..3000))
            .prop_map(|(content_type, bytes)| Body::Raw(content_type.to_string(), bytes)),
        1 => (200usize..200_000).prop_map(Body::Deep),
    ];
    let junk = proptest::collection::vec(proptest::option::weighted(0.3, nasty_string()), 4);
    (0..routes, method, junk, query, body, 0..EVERYONE.len(), proptest::bool::weighted(0.75)).prop_map(
        |(route, method, junk_placeholders, query, body, who, as_allowed)| Fuzzed { route, method, junk_placeholders, query, body, who, as_allowed },
    )
}

/// A URL holds at most 64 KiB: long strings go in bodies, a piece of them in URLs.
fn url_sized(text: &str) -> String {
    text.chars().take(1500).collect()
}


/// Requests sent in the fuzz pass. Each takes a millisecond or two; the pass is
/// deterministic (a fixed seed), so a failure names a case that fails again.
const FUZZED_REQUESTS: usize = 3_000;

/// Fuzzed requests sign out, reset secrets and remove apps: after this many, the
/// pass goes on in a new world, so that most requests get past the token checks.
const REQUESTS_PER_WORLD: usize = 250;

async fn fuzzing_world() -> World {
    World::new(|settings| {
        // Nothing the fuzzer names is fetched from elsewhere, and quickly refused.
        settings.outbound.allow_private_addresses = false;
        settings.media_fetch_timeout_ms = 500;
        settings.media_video_fetch_timeout_ms = 500;
        settings.sign_in.hashing_queue = 8;
    })
    .await
}

#[tokio::test]
async fn fuzzed_requests_never_fail_the_node() {
    let mut world = fuzzing_world().await;
    // Signing out (or leaving: an erased account, a blocked Page) would end the
    // fuzzer's own sessions or conversation at once; the matrix covers those routes.
    let signs_out = |route: &Route| {
        route.path.ends_with("/logout") || route.path.ends_with("/permissions") || route.path.ends_with("/block") || route.path == "/person/v1/me"
    };
    let routes: Vec<Route> = routes::all().into_iter().filter(|route| !signs_out(route)).collect();
    let strategy = fuzzed(routes.len());
    let mut runner = TestRunner::deterministic();
    let mut failures = Vec::new();
    for case in 0..FUZZED_REQUESTS {
        if case > 0 && case % REQUESTS_PER_WORLD == 0 {
            still_serving(&world).await;
            let used = std::mem::replace(&mut world, fuzzing_world().await);
            used.server.stop().await;
        }
        let request = strategy.new_tree(&mut runner).expect("a case").current();
        let route = &routes[request.route];
        let method = request.method.unwrap_or(route.method.as_str());
        // Each placeholder gets the world's value, or (sometimes) junk.
        let mut template = route.path.clone();
        for (n, junk) in request.junk_placeholders.iter().enumerate() {
            let (Some(junk), Some(open)) = (junk, template.find('{')) else { continue };
            let Some(close) = template[open..].find('}') else { break };
            template.replace_range(open..open + close + 1, &percent_encode(&url_sized(junk)));
            let _ = n;
        }
        let path = world.path(&Route { method: route.method.clone(), path: template });
        let query: Vec<String> = request.query.iter().map(|(k, v)| format!("{}={}", percent_encode(&url_sized(k)), percent_encode(&url_sized(v)))).collect();
        let url = if query.is_empty() { format!("{}{path}", world.server.url) } else { format!("{}{path}?{}", world.server.url, query.join("&")) };
        let mut builder = world.server.http.request(Method::from_bytes(method.as_bytes()).unwrap(), &url).timeout(Duration::from_secs(30));
        let allowed: Vec<Who> = EVERYONE.into_iter().filter(|who| declared(route).is_some_and(|(access, _)| access.allows(*who))).collect();
        let who = if request.as_allowed && !allowed.is_empty() { allowed[request.who % allowed.len()] } else { EVERYONE[request.who] };
        if let Some(token) = world.tokens.get(&who) {
            builder = builder.bearer_auth(token);
        }
        builder = match &request.body {
            Body::None => builder,
            Body::Json(value) => builder.json(&world.body(value)),
            Body::Form(pairs) => builder
                .header("content-type", "application/x-www-form-urlencoded")
                .body(pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(&v.to_string()))).collect::<Vec<_>>().join("&")),
            Body::Multipart(parts, file) => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in parts {
                    form = form.text(name.clone(), value.clone());
                }
                form = form.part("filedata", reqwest::multipart::Part::bytes(file.clone()).file_name("f.bin"));
                builder.multipart(form)
            }
            Body::Raw(content_type, bytes) => builder.header("content-type", content_type.as_str()).body(bytes.clone()),
            Body::Deep(depth) => builder.header("content-type", "application/json").body(format!("{{\"message\":{}1{}}}", "[".repeat(*depth), "]".repeat(*depth))),
        };
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                failures.push(format!("case {case}: {method} {url:.300}: no answer ({error})"));
                break;
            }
        };
        let status = response.status().as_u16();
        let is_api = path.starts_with("/v21.0") || path.starts_with("/person/") || path.starts_with("/console/v1");
        if status == 200 && is_stream(&response) {
            continue; // a live stream or a listener's
        }
        let text = response.text().await.unwrap_or_default();
        let enveloped = serde_json::from_str::<Value>(&text).is_ok_and(|body| body["error"]["code"].is_u64());
        if status >= 500 || (is_api && status >= 400 && !enveloped) {
            failures.push(format!("case {case}: {method} {url:.300} with {:.300}: {status} {text:.300}", format!("{:?}", request.body)));
        }
    }
    assert!(failures.is_empty(), "{} fuzzed requests failed:\n{}", failures.len(), failures.join("\n"));
    still_serving(&world).await;
}

/// The node still serves, and still takes what a person writes.
async fn still_serving(world: &World) {
    let health = world.server.http.get(format!("{}/healthz", world.server.url)).send().await.expect("the node is alive");
    assert_eq!(health.status(), 200);
    let client = world.server.sign_in(&world.alice).await;
    client.send("page-a", "still here").await;
}
