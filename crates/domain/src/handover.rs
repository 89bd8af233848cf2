//! The Handover Protocol (reference §6): the receiver roles apps hold on a Page, who
//! owns a thread, who may pass, take, request or release it, and which app hears of
//! a thread's events under `messaging` and which under `standby`.

use crate::params::Params;
use crate::{AppId, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `metadata` is passed through unchanged, up to this many characters (Meta's
/// bound for Messenger strings).
pub const MAX_METADATA_CHARS: usize = 1000;

/// The Page Inbox, where people with a role on the Page answer by hand: Meta's fixed
/// app id, the same on every Page. It is always a secondary receiver and never
/// receives webhooks.
pub const PAGE_INBOX_APP: &str = "263902037430900";
pub const PAGE_INBOX_NAME: &str = "Page Inbox";

pub fn page_inbox() -> AppId {
    AppId(PAGE_INBOX_APP.to_string())
}

pub fn is_page_inbox(app: &AppId) -> bool {
    app.as_str() == PAGE_INBOX_APP
}

/// The role an app installed on a Page holds in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReceiverRole {
    /// New threads go to it, and it may take any thread.
    #[serde(rename = "primary_receiver")]
    Primary,
    /// Receives threads passed to it; takes only idle threads.
    #[serde(rename = "secondary_receiver")]
    Secondary,
}

impl ReceiverRole {
    pub const ALL: [ReceiverRole; 2] = [Self::Primary, Self::Secondary];

    /// As Meta names it in `app_roles` events and the console.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary_receiver",
            Self::Secondary => "secondary_receiver",
        }
    }

    /// A role as the console sends it: Meta's name; `none` (or `null`) for no role.
    pub fn parse(s: &str) -> Result<Option<Self>, Refusal> {
        match s {
            "primary_receiver" | "primary" => Ok(Some(Self::Primary)),
            "secondary_receiver" | "secondary" => Ok(Some(Self::Secondary)),
            "none" => Ok(None),
            other => Err(Refusal::invalid_param(format!(
                "Param role must be one of {{primary_receiver, secondary_receiver, none}} - got \"{other}\""
            ))),
        }
    }
}

/// What an app asks of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadControl<'a> {
    /// Give the thread to `target`.
    Pass { target: &'a AppId, target_role: Option<ReceiverRole> },
    /// Take the thread from its owner.
    Take,
    /// Ask the owner to pass the thread.
    Request,
    /// Give the thread back to no one (idle).
    Release,
}

/// Whether `caller`, holding `role` on the Page, may do `control` to a thread owned
/// by `owner` (`None`: idle). The Page Inbox acts with the rights of a secondary
/// receiver that people steer, so it may take threads as a primary may.
pub fn may_control(caller: &AppId, role: Option<ReceiverRole>, owner: Option<&AppId>, control: ThreadControl) -> Result<(), Refusal> {
    let role = if is_page_inbox(caller) { Some(ReceiverRole::Primary) } else { role };
    let Some(role) = role else { return Err(Refusal::not_a_receiver()) };
    let owns_or_idle = owner.is_none_or(|owner| owner == caller);
    match control {
        ThreadControl::Pass { target, target_role } => {
            if target == caller || !(is_page_inbox(target) || target_role.is_some()) {
                return Err(Refusal::incorrect_app_id());
            }
            if !owns_or_idle {
                return Err(Refusal::not_thread_owner());
            }
        }
        ThreadControl::Take => {
            // Taking a thread one owns changes nothing, and is not an error.
            if !owns_or_idle && role != ReceiverRole::Primary {
                return Err(Refusal::not_thread_owner());
            }
        }
        ThreadControl::Request => match owner {
            None => return Err(Refusal::invalid_param("No app controls this thread: take it instead")),
            Some(owner) if owner == caller => return Err(Refusal::invalid_param("The app already controls this thread")),
            Some(_) => {}
        },
        ThreadControl::Release => {
            if owner != Some(caller) {
                return Err(Refusal::not_thread_owner());
            }
        }
    }
    Ok(())
}

/// Whether `app` may send to a thread owned by `owner`: the owner may, and anyone
/// while the thread is idle.
pub fn may_send(app: &AppId, owner: Option<&AppId>) -> Result<(), Refusal> {
    match owner {
        Some(owner) if owner != app => Err(Refusal::thread_owned_by_another_app()),
        _ => Ok(()),
    }
}

/// A thread-control call's parameters: the person (`recipient.id`), the app to pass
/// the thread to (`target_app_id`, a JSON number or string), and `metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlParams {
    pub psid: String,
    pub target: Option<AppId>,
    pub metadata: Option<String>,
}

pub fn parse_control(params: &Params, needs_target: bool) -> Result<ControlParams, Refusal> {
    let psid = recipient_psid(params)?;
    let target = match params.str("target_app_id")? {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Some(AppId(id)),
        Some(_) => return Err(Refusal::incorrect_app_id()),
        None if needs_target => return Err(Refusal::missing_param("target_app_id")),
        None => None,
    };
    let metadata = params.str("metadata")?;
    if metadata.as_ref().is_some_and(|m| m.chars().count() > MAX_METADATA_CHARS) {
        return Err(Refusal::invalid_param(format!("Param metadata must be at most {MAX_METADATA_CHARS} characters long")));
    }
    Ok(ControlParams { psid, target, metadata })
}

/// `recipient`: `{"id": PSID}` (as an object or JSON text), or the PSID itself, as
/// `GET /me/thread_owner?recipient=` takes it.
pub fn recipient_psid(params: &Params) -> Result<String, Refusal> {
    if let Ok(Some(recipient)) = params.object("recipient") {
        return match recipient.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(Refusal::invalid_param("Invalid recipient id")),
        };
    }
    match params.str("recipient")? {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        Some(_) => Err(Refusal::invalid_param("Invalid recipient id")),
        None => Err(Refusal::missing_param("recipient")),
    }
}

/// How a thread's events reach the Page's apps: the owner (or, while the thread is
/// idle, every app) under `messaging`; the others, if they take `standby`, under
/// `entry[].standby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Messaging,
    Standby,
}

pub fn channel_for(app: &AppId, owner: Option<&AppId>) -> Channel {
    match owner {
        Some(owner) if owner != app => Channel::Standby,
        _ => Channel::Messaging,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str) -> AppId {
        AppId(id.into())
    }

    #[test]
    fn only_the_owner_or_anyone_on_an_idle_thread_sends() {
        assert!(may_send(&app("1"), None).is_ok());
        assert!(may_send(&app("1"), Some(&app("1"))).is_ok());
        assert_eq!(may_send(&app("2"), Some(&app("1"))).unwrap_err().subcode, Some(2018300));
    }

    #[test]
    fn pass_needs_ownership_and_a_receiver_as_target() {
        let (bot, crm) = (app("1"), app("2"));
        let pass = |target_role| ThreadControl::Pass { target: &crm, target_role };
        let secondary = Some(ReceiverRole::Secondary);
        assert!(may_control(&bot, Some(ReceiverRole::Primary), Some(&bot), pass(secondary)).is_ok());
        assert!(may_control(&bot, Some(ReceiverRole::Primary), None, pass(secondary)).is_ok(), "idle");
        assert_eq!(may_control(&bot, Some(ReceiverRole::Primary), Some(&bot), pass(None)).unwrap_err().subcode, Some(2018164));
        assert_eq!(may_control(&bot, None, Some(&bot), pass(secondary)).unwrap_err().subcode, Some(2018171));
        let inbox = page_inbox();
        assert!(may_control(&bot, Some(ReceiverRole::Primary), Some(&bot), ThreadControl::Pass { target: &inbox, target_role: None }).is_ok());
        assert_eq!(may_control(&crm, secondary, Some(&bot), ThreadControl::Pass { target: &inbox, target_role: None }).unwrap_err().subcode, Some(2534037));
    }

    #[test]
    fn take_is_for_the_primary_or_an_idle_thread() {
        let (bot, crm) = (app("1"), app("2"));
        assert!(may_control(&bot, Some(ReceiverRole::Primary), Some(&crm), ThreadControl::Take).is_ok());
        assert!(may_control(&crm, Some(ReceiverRole::Secondary), None, ThreadControl::Take).is_ok());
        assert!(may_control(&crm, Some(ReceiverRole::Secondary), Some(&bot), ThreadControl::Take).is_err());
        assert!(may_control(&page_inbox(), None, Some(&bot), ThreadControl::Take).is_ok(), "people take threads from bots");
    }

    #[test]
    fn control_params_as_sdks_send_them() {
        let params = |value: Value| Params(value.as_object().unwrap().clone());
        let parsed = parse_control(&params(serde_json::json!({"recipient": {"id": "7"}, "target_app_id": 263902037430900u64, "metadata": "m"})), true).unwrap();
        assert_eq!(parsed, ControlParams { psid: "7".into(), target: Some(page_inbox()), metadata: Some("m".into()) });
        let parsed = parse_control(&params(serde_json::json!({"recipient": "{\"id\":\"7\"}", "target_app_id": "12"})), true).unwrap();
        assert_eq!(parsed.target, Some(app("12")));
        assert_eq!(recipient_psid(&params(serde_json::json!({"recipient": "7"}))).unwrap(), "7");
        assert_eq!(parse_control(&params(serde_json::json!({"recipient": {"id": "7"}})), true).unwrap_err().code, 100);
        assert_eq!(parse_control(&params(serde_json::json!({"recipient": {"id": "7"}, "target_app_id": "x"})), true).unwrap_err().subcode, Some(2018164));
        let long = "x".repeat(MAX_METADATA_CHARS + 1);
        assert!(parse_control(&params(serde_json::json!({"recipient": {"id": "7"}, "metadata": long})), false).is_err());
    }

    #[test]
    fn standby_is_for_apps_that_do_not_own_the_thread() {
        let (bot, crm) = (app("1"), app("2"));
        assert_eq!(channel_for(&crm, Some(&bot)), Channel::Standby);
        assert_eq!(channel_for(&bot, Some(&bot)), Channel::Messaging);
        assert_eq!(channel_for(&crm, None), Channel::Messaging);
    }
}
