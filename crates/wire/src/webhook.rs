//! Webhook payloads: one `messaging[]` item per event, and the batch envelope.
//!
//! Events are rendered once, at enqueue, with [`crate::to_ascii_json`]; the envelope is
//! assembled around those stored bytes at send time, so a retried event carries the
//! very same bytes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Party {
    pub id: String,
}

/// One item of `entry[].messaging`. Exactly one of the payload fields is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MessagingEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Party>,
    pub recipient: Party,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessagePayload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<Read>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optin: Option<Optin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postback: Option<Postback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// `message_edits`: the person changed the text of a message of theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_edit: Option<MessageEdit>,
    /// `response_feedback`: the person rated a Page message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_feedback: Option<ResponseFeedback>,
    /// `messaging_referrals`: the person came into an existing thread from an entry point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_linking: Option<AccountLinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_thread_control: Option<ThreadControlChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take_thread_control: Option<ThreadControlChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_thread_control: Option<ThreadControlRequest>,
    /// `app_roles`: each app id with the roles it holds on the Page
    /// (`primary_receiver`, `secondary_receiver`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_roles: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// `messaging_policy_enforcement` (no `sender`), under Meta's current key (older
    /// docs spelled it `policy-enforcement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_enforcement: Option<PolicyEnforcement>,
}

/// The operator warned, blocked or unblocked the app; `reason` is absent on unblock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PolicyEnforcement {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `messaging_handovers`: a thread passed to an app (`pass_thread_control`) or taken
/// from one (`take_thread_control`). App ids are strings here, as Meta sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ThreadControlChange {
    /// `null` when the thread was idle.
    pub previous_owner_app_id: Option<String>,
    pub new_owner_app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// `messaging_handovers`: an app asks the owner for the thread. The app id is a
/// number here, as in Meta's examples and SDK fixtures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ThreadControlRequest {
    pub requested_owner_app_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// `messaging_postbacks`: the person tapped a postback button, Get Started, a
/// persistent-menu item or an ice breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Postback {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    pub title: String,
    /// Only the app that sent the button sees it (standby receivers do not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// When Get Started opened a new thread from a link with a ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Referral {
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `SHORTLINK` for `m.me`-style links, `CUSTOMER_CHAT_PLUGIN` for the chat plugin.
    pub source: String,
    /// Always `OPEN_THREAD`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The chat plugin's: the page of the business's site it was opened on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referer_uri: Option<String>,
}

/// `messaging_account_linking`: `linked` (with the site's `authorization_code`) or
/// `unlinked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AccountLinking {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<String>,
}

/// `message_reactions`: the person reacted to (or unreacted from) a Page message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reaction {
    /// Meta's name: `love`, `smile`, `like`... (absent on unreact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// `react` or `unreact`.
    pub action: String,
    pub mid: String,
}

/// `message_edits`: the message's new text, and how many times it was edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MessageEdit {
    pub mid: String,
    pub text: String,
    /// 1 for the first edit (a JSON number, as Meta's reference types it).
    pub num_edit: u32,
}

/// `response_feedback`: `Good response` (thumbs up) or `Bad response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResponseFeedback {
    pub feedback: String,
    pub mid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QuickReplyTap {
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReplyTo {
    pub mid: String,
    /// True when the person replied to their own message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_self_reply: Option<bool>,
}

/// `messaging_optins`: what the person agreed to. Notification opt-ins have a `type`
/// and `payload`; the Send to Messenger and checkbox plugins' have a `ref` (and the
/// checkbox's a `user_ref`) instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Optin {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_notif_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_frequency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expiry_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_token_status: Option<String>,
    /// `STOP_NOTIFICATIONS` or `RESUME_NOTIFICATIONS` when the person changes a topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MessagePayload {
    /// Present (and `true`) only on echoes of the Page's own messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_echo: Option<bool>,
    /// The sending app, a JSON number as in Meta's examples; echoes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub mid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Attachments as Meta shows them (`[{"type":"template","payload":{...}}]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<serde_json::Value>>,
    /// The quick reply the person tapped (`text` is its title).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<QuickReplyTap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mids: Vec<String>,
    /// Epoch milliseconds: every message sent before it has been delivered.
    pub watermark: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Read {
    /// Epoch milliseconds: every message sent before it has been read.
    pub watermark: i64,
}

/// Renders a webhook POST body around already-rendered event bytes, one event per
/// `messaging` (or `standby`) array: SDKs such as bottender read only `messaging[0]`.
pub fn render_envelope<'a>(entries: impl IntoIterator<Item = EnvelopeEntry<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(br#"{"object":"page","entry":["#);
    for (index, entry) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"id":""#);
        out.extend_from_slice(entry.page_id.as_bytes());
        out.extend_from_slice(br#"","time":"#);
        out.extend_from_slice(entry.time_ms.to_string().as_bytes());
        out.extend_from_slice(if entry.standby { br#","standby":["# } else { br#","messaging":["# });
        out.extend_from_slice(entry.event);
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
    out
}

/// The pull API's answer (a Switchboard extension): each update is `(update_id,
/// field, envelope)`, the envelope being the very bytes a webhook POST would carry,
/// embedded as they are.
pub fn render_updates<'a>(updates: impl IntoIterator<Item = (i64, &'a str, &'a [u8])>, next_offset: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"data\":[");
    for (index, (update_id, field, envelope)) in updates.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        // A field is one of Meta's snake_case names: nothing to escape.
        out.extend_from_slice(format!("{{\"update_id\":{update_id},\"field\":\"{field}\",\"envelope\":").as_bytes());
        out.extend_from_slice(envelope);
        out.push(b'}');
    }
    out.extend_from_slice(format!("],\"next_offset\":{next_offset}}}").as_bytes());
    out
}

/// One `entry` of a webhook batch.
pub struct EnvelopeEntry<'a> {
    /// A decimal Page id: digits only, so it needs no escaping.
    pub page_id: &'a str,
    pub time_ms: i64,
    /// The event's stored JSON bytes.
    pub event: &'a [u8],
    /// The event goes under `standby`: another app owns its thread.
    pub standby: bool,
}

/// The envelope as a receiver parses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub object: String,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub time: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messaging: Vec<MessagingEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standby: Vec<MessagingEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_wraps_stored_bytes_one_event_per_entry() {
        let a = br#"{"recipient":{"id":"1"}}"#;
        let b = br#"{"recipient":{"id":"2"}}"#;
        let body = render_envelope([
            EnvelopeEntry { page_id: "1", time_ms: 10, event: a, standby: false },
            EnvelopeEntry { page_id: "2", time_ms: 11, event: b, standby: true },
        ]);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"object":"page","entry":[{"id":"1","time":10,"messaging":[{"recipient":{"id":"1"}}]},{"id":"2","time":11,"standby":[{"recipient":{"id":"2"}}]}]}"#
        );
        let parsed: Envelope = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.entry.len(), 2);
        assert_eq!((parsed.entry[0].messaging.len(), parsed.entry[0].standby.len()), (1, 0));
        assert_eq!((parsed.entry[1].messaging.len(), parsed.entry[1].standby.len()), (0, 1), "never both arrays in one entry");
    }

    #[test]
    fn updates_embed_each_envelope_as_sent() {
        let page = render_updates([(7, "messages", br#"{"object":"page","entry":[]}"#.as_slice())], 8);
        assert_eq!(std::str::from_utf8(&page).unwrap(), r#"{"data":[{"update_id":7,"field":"messages","envelope":{"object":"page","entry":[]}}],"next_offset":8}"#);
        assert_eq!(render_updates([], 3), br#"{"data":[],"next_offset":3}"#.to_vec());
    }
}
