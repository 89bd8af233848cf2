//! Account linking, both halves as a business has them: the bot offers a button
//! template with an `account_link` button, and answers `messaging_account_linking`;
//! the business's site, here the bot's own `GET /authorize`, is the login page
//! Messenger opens with `account_linking_token` and `redirect_uri`. The page asks the
//! platform whose thread is linking (`GET /me?fields=recipient&account_linking_token=`,
//! server-side, with a Page token) and offers to link, sending the browser back to
//! `redirect_uri` with a fresh `authorization_code`, or without one to cancel.
//!
//! It keeps no accounts: the code is random, and nothing is remembered about it.

use crate::Bot;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The Graph error code for an unknown, spent or expired `account_linking_token`.
const INVALID_LINKING_TOKEN: i64 = 10303;

/// How much of an authorization code the bot repeats (a button template's text is
/// at most 640 characters; a code may be up to 1,000).
const CODE_SHOWN_CHARS: usize = 100;

pub fn routes(bot: Arc<Bot>) -> Router {
    Router::new().route("/authorize", get(authorize)).with_state(bot)
}

/// Where the `account_link` button leads: `ECHO_BOT_LINK_URL`, else the bot's own
/// `/authorize` under `ECHO_BOT_PUBLIC_URL` or the address it listens on. The
/// platform takes plain http only for a loopback host, so a bot listening on every
/// interface names 127.0.0.1.
pub fn link_url(listening: SocketAddr) -> String {
    choose_link_url(std::env::var("ECHO_BOT_LINK_URL").ok(), std::env::var("ECHO_BOT_PUBLIC_URL").ok(), listening)
}

fn choose_link_url(link_url: Option<String>, public_url: Option<String>, listening: SocketAddr) -> String {
    if let Some(url) = link_url {
        return url;
    }
    if let Some(public) = public_url {
        return format!("{}/authorize", public.trim_end_matches('/'));
    }
    let mut local = listening;
    if local.ip().is_unspecified() {
        local.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{local}/authorize")
}

/// The offer to link: a button template whose `account_link` button opens `link_url`.
pub fn offer(link_url: &str) -> Value {
    button_template("Link your account on our site to see your orders.", json!({"type": "account_link", "url": link_url}))
}

/// What the bot says to a `messaging_account_linking` event's `account_linking`.
pub fn answer_to_linking(linking: &Value) -> Option<Value> {
    match linking["status"].as_str()? {
        "linked" => {
            let code: String = linking["authorization_code"].as_str().unwrap_or("none").chars().take(CODE_SHOWN_CHARS).collect();
            // account_unlink buttons take no title: Messenger labels them.
            Some(button_template(&format!("Your account is linked (code {code})."), json!({"type": "account_unlink"})))
        }
        "unlinked" => Some(json!({"text": "Your account is unlinked."})),
        _ => None,
    }
}

fn button_template(text: &str, button: Value) -> Value {
    json!({"attachment": {"type": "template", "payload": {"template_type": "button", "text": text, "buttons": [button]}}})
}

/// `GET /authorize?account_linking_token&redirect_uri`: Messenger opened the site's
/// login page; it names the person and offers to link or cancel.
async fn authorize(State(bot): State<Arc<Bot>>, Query(query): Query<HashMap<String, String>>) -> (StatusCode, Html<String>) {
    let (Some(token), Some(redirect)) = (query.get("account_linking_token"), query.get("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, error_page("Open this page from the button in Messenger."));
    };
    if !is_web_url(redirect) {
        return (StatusCode::BAD_REQUEST, error_page("This is not a way back to Messenger."));
    }
    match bot.linking_psid(token).await {
        Some(psid) => (StatusCode::OK, sign_in_page(&psid, redirect, &random_code())),
        None => (StatusCode::BAD_REQUEST, error_page("This sign-in link has expired or was already used. Tap the button in Messenger again.")),
    }
}

impl Bot {
    /// The PSID linking with `token`, asked with each Page token the bot holds (the
    /// page does not know which Page's thread it came from; another Page's token is
    /// answered 10303 too).
    async fn linking_psid(&self, token: &str) -> Option<String> {
        for page_token in self.all_tokens() {
            match self.linking_recipient(token, &page_token).await {
                Ok(answer) => return answer["recipient"].as_str().map(str::to_string),
                Err(answer) if answer["error"]["code"].as_i64() == Some(INVALID_LINKING_TOKEN) => {}
                Err(answer) => tracing::warn!(%answer, "asking who is linking failed"),
            }
        }
        None
    }

    /// `GET /me?fields=recipient&account_linking_token=`: Graph's answer, or its error.
    async fn linking_recipient(&self, token: &str, page_token: &str) -> Result<Value, Value> {
        let mut url = reqwest::Url::parse(&format!("{}/me", self.graph_url)).map_err(|error| json!(error.to_string()))?;
        url.query_pairs_mut().append_pair("fields", "recipient").append_pair("account_linking_token", token).append_pair("access_token", page_token);
        let response = self.http.get(url).send().await.map_err(|error| json!(error.to_string()))?;
        let success = response.status().is_success();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if success {
            Ok(answer)
        } else {
            Err(answer)
        }
    }
}

fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// `redirect` with `authorization_code` added (Messenger's `redirect_uri` already
/// has a query string, but a site should not count on it).
fn with_code(redirect: &str, code: &str) -> String {
    let separator = if redirect.contains('?') { '&' } else { '?' };
    format!("{redirect}{separator}authorization_code={code}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The login page: the person, and the two ways back to Messenger.
fn sign_in_page(psid: &str, redirect: &str, code: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Sign in to Example Shop</title>\
         <h1 id=\"result\">Sign in to Example Shop</h1>\
         <p id=\"detail\">Link the Messenger account <span id=\"psid\">{}</span> to your Example Shop account?</p>\
         <p><a id=\"link-account\" href=\"{}\">Link account</a> <a id=\"cancel\" href=\"{}\">Cancel</a></p>",
        escape(psid),
        escape(&with_code(redirect, code)),
        escape(redirect),
    ))
}

fn error_page(text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Cannot link your account</title>\
         <h1 id=\"result\">Cannot link your account</h1><p id=\"detail\">{}</p>",
        escape(text)
    ))
}

/// A hard-to-guess code from the standard library's randomly keyed hasher.
fn random_code() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let high = hasher.finish();
    let low = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{high:016x}{low:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_is_an_account_link_button_to_the_site() {
        let offer = offer("http://127.0.0.1:3000/authorize");
        let payload = &offer["attachment"]["payload"];
        assert_eq!(payload["template_type"], "button");
        assert_eq!(payload["text"], "Link your account on our site to see your orders.");
        assert_eq!(payload["buttons"], json!([{"type": "account_link", "url": "http://127.0.0.1:3000/authorize"}]));
    }

    #[test]
    fn linked_names_the_code_and_offers_to_unlink() {
        let answer = answer_to_linking(&json!({"status": "linked", "authorization_code": "C-42"})).expect("an answer");
        let payload = &answer["attachment"]["payload"];
        assert_eq!(payload["text"], "Your account is linked (code C-42).");
        assert_eq!(payload["buttons"], json!([{"type": "account_unlink"}]));
    }

    #[test]
    fn unlinked_says_so_and_other_statuses_are_not_answered() {
        assert_eq!(answer_to_linking(&json!({"status": "unlinked"})), Some(json!({"text": "Your account is unlinked."})));
        assert_eq!(answer_to_linking(&json!({"status": "pending"})), None);
        assert_eq!(answer_to_linking(&json!({})), None);
    }

    #[test]
    fn a_long_code_is_cut_to_fit_the_template() {
        let answer = answer_to_linking(&json!({"status": "linked", "authorization_code": "x".repeat(1000)})).expect("an answer");
        assert!(answer["attachment"]["payload"]["text"].as_str().is_some_and(|text| text.chars().count() < 640));
    }

    #[test]
    fn the_sign_in_page_links_back_with_a_code_or_without_to_cancel() {
        let Html(page) = sign_in_page("psid-1", "http://sb.test/messenger_platform/account_linking/?account_linking_token=T", "abc");
        assert!(page.contains("Sign in to Example Shop"), "{page}");
        assert!(page.contains("<span id=\"psid\">psid-1</span>"), "{page}");
        assert!(page.contains("href=\"http://sb.test/messenger_platform/account_linking/?account_linking_token=T&amp;authorization_code=abc\">Link account"), "{page}");
        assert!(page.contains("href=\"http://sb.test/messenger_platform/account_linking/?account_linking_token=T\">Cancel"), "{page}");
    }

    #[test]
    fn the_sign_in_page_escapes_what_it_was_given() {
        let Html(page) = sign_in_page("<b>", "https://x.test/?a=\"><script>", "c");
        assert!(!page.contains("<b>") && !page.contains("<script>"), "{page}");
    }

    #[test]
    fn only_web_urls_are_ways_back() {
        assert!(is_web_url("https://sb.test/back?x=1") && is_web_url("HTTP://127.0.0.1:8080/back"));
        assert!(!is_web_url("javascript:alert(1)") && !is_web_url(""));
    }

    #[test]
    fn the_link_url_is_the_one_given_else_the_bots_own_page() {
        let listening: SocketAddr = "127.0.0.1:3000".parse().expect("an address");
        assert_eq!(choose_link_url(Some("https://shop.test/login".into()), Some("https://bot.test".into()), listening), "https://shop.test/login");
        assert_eq!(choose_link_url(None, Some("https://bot.test/".into()), listening), "https://bot.test/authorize");
        assert_eq!(choose_link_url(None, None, listening), "http://127.0.0.1:3000/authorize");
        assert_eq!(choose_link_url(None, None, "0.0.0.0:3000".parse().expect("an address")), "http://127.0.0.1:3000/authorize");
        assert_eq!(choose_link_url(None, None, "[::1]:3000".parse().expect("an address")), "http://[::1]:3000/authorize");
    }

    #[test]
    fn codes_differ() {
        assert_ne!(random_code(), random_code());
    }
}
