//! A node's memory of the Graph calls it refused, per app, for the app's developers:
//! the error exactly as the caller received it and the body it sent, so that a bot's
//! failure shows why (the console's refused API calls, `switchboard test`'s failing
//! `#bot` step). Only calls whose token authenticated as an app's (app, user or Page
//! token) are kept; a refusal of an unknown token belongs to nobody.
//!
//! Per node and in memory only: each node of a cluster remembers the calls it
//! refused itself, nothing is stored in the database, and a restart forgets them.
//! Bounded: [`MAX_CALLS_PER_APP`] calls per app (the oldest dropped), [`MAX_APPS`]
//! apps (the one least recently refused dropped), each body at most
//! [`MAX_BODY_BYTES`] of JSON text. Must not: keep a secret (a token or proof is
//! dropped from the body kept), touch the store, or cost a successful call
//! anything (the face calls it only with a refusal in hand).

use crate::core::Core;
use crate::{Actor, AppResult};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use switchboard_domain::{AppId, Millis};
use switchboard_wire::GraphErrorBody;

/// Most refused calls remembered per app.
pub const MAX_CALLS_PER_APP: usize = 50;
/// Most apps whose refused calls are remembered.
pub const MAX_APPS: usize = 1_000;
/// Longest body kept, as JSON text; a longer one is kept cut, as text.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// The parameters that carry a credential, wherever a body holds them: never kept.
const SECRET_PARAMS: [&str; 2] = ["access_token", "appsecret_proof"];

/// A Graph call just refused, as the face saw it.
pub struct RefusedRequest<'a> {
    pub method: &'a str,
    /// The path without its query.
    pub path: &'a str,
    /// The Page the path or the token named, if any.
    pub page: Option<String>,
    pub status: u16,
    /// The error as it was answered.
    pub error: &'a GraphErrorBody,
    /// The parameters as the request parser merged them (query, JSON, form).
    pub params: &'a Map<String, Value>,
}

/// One refused call, as developers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedCall {
    /// Increasing on this node.
    pub id: u64,
    /// When it was refused, by the platform's clock.
    pub time: Millis,
    pub method: String,
    pub path: String,
    pub page: Option<String>,
    /// The body's `recipient` (`id`, `user_ref`, `notification_messages_token`,
    /// `phone_number`...), as a string.
    pub recipient: Option<String>,
    pub status: u16,
    pub error: GraphErrorBody,
    /// The parameters sent, without any token or proof; a body longer than
    /// [`MAX_BODY_BYTES`] of JSON is the start of its JSON text, as a string.
    pub body: Value,
    pub body_truncated: bool,
}

/// This node's refused calls of every app.
#[derive(Clone)]
pub struct RefusedCalls {
    core: Arc<Core>,
    memory: Arc<Mutex<Memory>>,
}

#[derive(Default)]
struct Memory {
    next_id: u64,
    /// Each app's calls, oldest first.
    apps: HashMap<AppId, VecDeque<RefusedCall>>,
}

impl Memory {
    fn remember(&mut self, app: &AppId, mut call: RefusedCall) {
        self.next_id += 1;
        call.id = self.next_id;
        if !self.apps.contains_key(app) && self.apps.len() >= MAX_APPS {
            // The app least recently refused: its newest call is the oldest newest call.
            let least_recent = self.apps.iter().min_by_key(|(_, calls)| calls.back().map_or(0, |c| c.id)).map(|(id, _)| id.clone());
            if let Some(least_recent) = least_recent {
                self.apps.remove(&least_recent);
            }
        }
        let calls = self.apps.entry(app.clone()).or_default();
        if calls.len() >= MAX_CALLS_PER_APP {
            calls.pop_front();
        }
        calls.push_back(call);
    }
}

impl RefusedCalls {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core, memory: Arc::new(Mutex::new(Memory::default())) }
    }

    /// Remembers a call refused to a caller of `app`.
    pub fn record(&self, app: &AppId, request: RefusedRequest<'_>) {
        let mut body = Value::Object(request.params.clone());
        without_secrets(&mut body);
        let recipient = recipient_of(request.params);
        let (body, body_truncated) = bounded(body);
        let call = RefusedCall {
            id: 0,
            time: self.core.now(),
            method: request.method.to_string(),
            path: request.path.to_string(),
            page: request.page,
            recipient,
            status: request.status,
            error: request.error.clone(),
            body,
            body_truncated,
        };
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remember(app, call);
    }

    /// The app's latest refused calls on this node, newest first: those after
    /// `since` (an id), at most `limit` ([`MAX_CALLS_PER_APP`]). For the app's
    /// administrators and developers and the operator, as its webhook errors are.
    pub async fn list(&self, actor: Actor, app: &AppId, since: Option<u64>, limit: usize) -> AppResult<Vec<RefusedCall>> {
        self.core.app_for_developer(actor, app).await?;
        let memory = self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(calls) = memory.apps.get(app) else { return Ok(Vec::new()) };
        let since = since.unwrap_or(0);
        Ok(calls.iter().rev().take_while(|call| call.id > since).take(limit.clamp(1, MAX_CALLS_PER_APP)).cloned().collect())
    }
}

/// The `recipient` a Send API body names, whichever way it names it: the object
/// (or its JSON text, as form-encoding SDKs send it) by its first known field.
fn recipient_of(params: &Map<String, Value>) -> Option<String> {
    let parsed;
    let recipient = match params.get("recipient")? {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        value => value,
    };
    let fields = ["id", "user_ref", "notification_messages_token", "phone_number", "post_id", "comment_id"];
    let named = fields.iter().find_map(|field| recipient.get(field))?;
    Some(match named {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

/// Drops every token and proof a body carries: as a parameter at any depth, in a
/// string of JSON (a batch sent form-encoded), or in a query string (a batch item's
/// `relative_url` or `body`).
fn without_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !SECRET_PARAMS.contains(&key.as_str()));
            map.values_mut().for_each(without_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(without_secrets),
        Value::String(text) if SECRET_PARAMS.iter().any(|name| text.contains(name)) => {
            *text = match serde_json::from_str::<Value>(text) {
                Ok(mut json @ (Value::Object(_) | Value::Array(_))) => {
                    without_secrets(&mut json);
                    json.to_string()
                }
                _ => without_secret_pairs(text),
            };
        }
        _ => {}
    }
}

/// Text with the value of every `access_token=` and `appsecret_proof=` cut out, up
/// to the end of its query pair.
fn without_secret_pairs(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, name)) = SECRET_PARAMS.iter().filter_map(|name| rest.find(&format!("{name}=")).map(|at| (at, name))).min() {
        let value_starts = at + name.len() + 1;
        kept.push_str(&rest[..value_starts]);
        let value_len = rest[value_starts..].find(['&', '"', '\'', ' ', '#', '\n']).unwrap_or(rest.len() - value_starts);
        rest = &rest[value_starts + value_len..];
    }
    kept.push_str(rest);
    kept
}

/// The body as kept: whole, or the start of its JSON text when longer than
/// [`MAX_BODY_BYTES`] (cut on a character's boundary), flagged.
fn bounded(body: Value) -> (Value, bool) {
    let text = body.to_string();
    if text.len() <= MAX_BODY_BYTES {
        return (body, false);
    }
    let mut end = MAX_BODY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (Value::String(text[..end].to_string()), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: u64) -> RefusedCall {
        let error =
            GraphErrorBody { message: "m".into(), kind: "OAuthException".into(), code: 100, error_subcode: None, is_transient: None, fbtrace_id: "t".into() };
        RefusedCall {
            id,
            time: 0,
            method: "POST".into(),
            path: "/".into(),
            page: None,
            recipient: None,
            status: 400,
            error,
            body: json!({}),
            body_truncated: false,
        }
    }

    #[test]
    fn each_app_keeps_its_latest_calls_and_the_least_recently_refused_app_goes_first() {
        let mut memory = Memory::default();
        for _ in 0..MAX_CALLS_PER_APP + 3 {
            memory.remember(&AppId("1".into()), call(0));
        }
        let kept: Vec<u64> = memory.apps[&AppId("1".into())].iter().map(|c| c.id).collect();
        assert_eq!(kept, (4..=MAX_CALLS_PER_APP as u64 + 3).collect::<Vec<_>>());
        for app in 2..=MAX_APPS {
            memory.remember(&AppId(app.to_string()), call(0));
        }
        // App 1 is refused again: app 2 is now the least recently refused.
        memory.remember(&AppId("1".into()), call(0));
        memory.remember(&AppId("new".into()), call(0));
        assert_eq!(memory.apps.len(), MAX_APPS);
        assert!(memory.apps.contains_key(&AppId("1".into())) && memory.apps.contains_key(&AppId("new".into())));
        assert!(!memory.apps.contains_key(&AppId("2".into())));
    }

    #[test]
    fn no_token_or_proof_is_kept_wherever_the_body_holds_one() {
        let mut body = json!({
            "access_token": "EAAB", "appsecret_proof": "p",
            "nested": {"access_token": "x", "kept": 1},
            "batch": "[{\"method\":\"GET\",\"relative_url\":\"me?access_token=SECRET&fields=id\",\"access_token\":\"SECRET\"}]",
            "query": "a=1&appsecret_proof=SECRET&b=2",
        });
        without_secrets(&mut body);
        assert!(!body.to_string().contains("SECRET") && !body.to_string().contains("EAAB"), "{body}");
        assert_eq!(body["nested"], json!({"kept": 1}));
        assert_eq!(body["query"], "a=1&appsecret_proof=&b=2");
        assert_eq!(without_secret_pairs("access_token=abc"), "access_token=");
    }

    #[test]
    fn the_recipient_is_read_however_the_body_names_it() {
        let params = |value: Value| json!({"recipient": value}).as_object().cloned().unwrap();
        assert_eq!(recipient_of(&params(json!({"id": "123"}))), Some("123".into()));
        assert_eq!(recipient_of(&params(json!({"id": 123}))), Some("123".into()));
        assert_eq!(recipient_of(&params(json!("{\"user_ref\":\"ref-1\"}"))), Some("ref-1".into()));
        assert_eq!(recipient_of(&params(json!({"notification_messages_token": "tok"}))), Some("tok".into()));
        assert_eq!(recipient_of(&params(json!("not json"))), None);
        assert_eq!(recipient_of(&Map::new()), None);
    }

    #[test]
    fn a_long_body_is_cut_on_a_character_and_flagged() {
        let (body, cut) = bounded(json!({"text": "é".repeat(MAX_BODY_BYTES)}));
        assert!(cut);
        let text = body.as_str().unwrap();
        assert!(text.len() <= MAX_BODY_BYTES && text.len() > MAX_BODY_BYTES - 2 && text.starts_with("{\"text\":\"é"));
        assert_eq!(bounded(json!({"a": 1})), (json!({"a": 1}), false));
    }
}
