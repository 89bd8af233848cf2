//! Webhook events: rendered once, as Meta serializes them, and fanned out into
//! outbox rows for every app subscribed to the field.

use switchboard_domain::*;
use switchboard_store::{NewOutboxEvent, OptinKind, OptinRequest, WebhookTarget};
use switchboard_wire::webhook::{
    AccountLinking, Delivery, MessageEdit, MessagePayload, MessagingEvent, Optin, Party, PolicyEnforcement, Postback, Reaction, Read, Referral, ResponseFeedback,
    ThreadControlChange, ThreadControlRequest,
};
use switchboard_wire::to_ascii_json;

/// A thread's event for every app subscribed to `field`, all with the same bytes:
/// each app gets it under `messaging`, and, if it takes `standby`, also a `standby`
/// row; the store keeps the one the thread's owner decides when it is written.
pub fn fan_out(targets: &[WebhookTarget], field: WebhookField, page: &PageId, person: PersonId, body: &[u8], at: Millis) -> Vec<NewOutboxEvent> {
    fan_out_with_standby(targets, field, page, person, body, body, at)
}

/// As [`fan_out`], with other bytes for the apps on standby (a postback's payload
/// is only for the app that owns the thread).
pub fn fan_out_with_standby(
    targets: &[WebhookTarget],
    field: WebhookField,
    page: &PageId,
    person: PersonId,
    body: &[u8],
    standby_body: &[u8],
    at: Millis,
) -> Vec<NewOutboxEvent> {
    let row = |app: &AppId, field, body: &[u8]| NewOutboxEvent { app: app.clone(), page: page.clone(), person, field, body: body.to_vec(), created_at: at };
    let mut rows = Vec::with_capacity(targets.len());
    for target in targets.iter().filter(|target| target.fields.contains(&field)) {
        rows.push(row(&target.app, field, body));
        if target.fields.contains(&WebhookField::Standby) {
            rows.push(row(&target.app, WebhookField::Standby, standby_body));
        }
    }
    rows
}

/// A `messaging_handovers` event for one app, if it takes that field (handover
/// events reach their app whoever owns the thread).
pub fn to_app(targets: &[WebhookTarget], app: &AppId, page: &PageId, person: PersonId, body: &[u8], at: Millis) -> Option<NewOutboxEvent> {
    targets.iter().find(|t| &t.app == app && t.fields.contains(&WebhookField::MessagingHandovers)).map(|target| NewOutboxEvent {
        app: target.app.clone(),
        page: page.clone(),
        person,
        field: WebhookField::MessagingHandovers,
        body: body.to_vec(),
        created_at: at,
    })
}

/// `pass_thread_control`: the thread was passed to the new owner.
pub fn pass_thread_control(psid: &Psid, page: &PageId, previous: Option<&AppId>, new: &AppId, metadata: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.pass_thread_control = Some(ThreadControlChange {
        previous_owner_app_id: previous.map(|a| a.to_string()),
        new_owner_app_id: Some(new.to_string()),
        metadata: metadata.map(str::to_string),
    });
    to_ascii_json(&event)
}

/// `take_thread_control`: the thread was taken from its previous owner.
pub fn take_thread_control(psid: &Psid, page: &PageId, previous: &AppId, new: &AppId, metadata: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.take_thread_control = Some(ThreadControlChange {
        previous_owner_app_id: Some(previous.to_string()),
        new_owner_app_id: Some(new.to_string()),
        metadata: metadata.map(str::to_string),
    });
    to_ascii_json(&event)
}

/// `request_thread_control`: an app asks the owner for the thread.
pub fn request_thread_control(psid: &Psid, page: &PageId, requester: &AppId, metadata: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.request_thread_control = Some(ThreadControlRequest {
        requested_owner_app_id: requester.as_str().parse().unwrap_or_default(),
        metadata: metadata.map(str::to_string),
    });
    to_ascii_json(&event)
}

/// `app_roles`: the app's roles on the Page now (no sender: it is about the Page).
pub fn app_roles(page: &PageId, app: &AppId, role: Option<ReceiverRole>, at: Millis) -> Vec<u8> {
    let event = MessagingEvent {
        recipient: Party { id: page.to_string() },
        timestamp: Some(at),
        app_roles: Some([(app.to_string(), role.map(|r| r.as_str().to_string()).into_iter().collect())].into_iter().collect()),
        ..Default::default()
    };
    to_ascii_json(&event)
}

/// `messaging_policy_enforcement`: the operator acted on the app; no `sender`, and no
/// `reason` on unblock.
pub fn policy_enforcement(page: &PageId, action: PolicyAction, reason: Option<&str>, at: Millis) -> Vec<u8> {
    let reason = reason.filter(|_| action != PolicyAction::Unblock).map(str::to_string);
    let event = MessagingEvent {
        recipient: Party { id: page.to_string() },
        timestamp: Some(at),
        policy_enforcement: Some(PolicyEnforcement { action: action.as_str().to_string(), reason }),
        ..Default::default()
    };
    to_ascii_json(&event)
}

fn person_to_page(psid: &Psid, page: &PageId, at: Millis) -> MessagingEvent {
    MessagingEvent {
        sender: Some(Party { id: psid.to_string() }),
        recipient: Party { id: page.to_string() },
        timestamp: Some(at),
        ..Default::default()
    }
}

/// `messages`: the person wrote to the Page (text, an attachment, a quick-reply tap,
/// a reply).
pub fn inbound_message(psid: &Psid, page: &PageId, message: MessagePayload, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.message = Some(message);
    to_ascii_json(&event)
}

/// `messaging_postbacks`: the person tapped a postback button, Get Started, a menu
/// item or an ice breaker.
pub fn postback(psid: &Psid, page: &PageId, postback: Postback, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.postback = Some(postback);
    to_ascii_json(&event)
}

/// `message_reactions`: the person reacted to a Page message (`emoji` `None`: unreacted).
pub fn reaction(psid: &Psid, page: &PageId, mid: &Mid, emoji: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.reaction = Some(Reaction {
        reaction: emoji.map(|e| switchboard_domain::content::reaction_name(e).to_string()),
        emoji: emoji.map(str::to_string),
        action: if emoji.is_some() { "react" } else { "unreact" }.to_string(),
        mid: mid.to_string(),
    });
    to_ascii_json(&event)
}

/// `message_edits`: the person changed the text of a message of theirs.
pub fn message_edit(psid: &Psid, page: &PageId, mid: &Mid, text: &str, num_edit: u32, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.message_edit = Some(MessageEdit { mid: mid.to_string(), text: text.to_string(), num_edit });
    to_ascii_json(&event)
}

/// `response_feedback`: the person rated a Page message.
pub fn response_feedback(psid: &Psid, page: &PageId, mid: &Mid, feedback: switchboard_domain::messages::Feedback, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.response_feedback = Some(ResponseFeedback { feedback: feedback.meta_text().to_string(), mid: mid.to_string() });
    to_ascii_json(&event)
}

/// `message_echoes`: the Page (through `app`) wrote to the person.
#[allow(clippy::too_many_arguments)]
pub fn echo(
    psid: &Psid,
    page: &PageId,
    app: &AppId,
    mid: &Mid,
    text: Option<&str>,
    attachment: Option<&MessageAttachment>,
    metadata: Option<&str>,
    at: Millis,
) -> Vec<u8> {
    let event = MessagingEvent {
        sender: Some(Party { id: page.to_string() }),
        recipient: Party { id: psid.to_string() },
        timestamp: Some(at),
        message: Some(MessagePayload {
            is_echo: Some(true),
            app_id: app.as_str().parse().ok(),
            metadata: metadata.map(str::to_string),
            mid: mid.to_string(),
            text: text.map(str::to_string),
            attachments: attachment.map(|a| vec![serde_json::to_value(a).expect("an attachment is JSON")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    to_ascii_json(&event)
}

/// `messaging_optins`: the person tapped "Notify me" on a one-time notification request.
pub fn one_time_optin(psid: &Psid, page: &PageId, payload: &str, token: &str, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.optin = Some(Optin {
        kind: Some("one_time_notif_req".into()),
        payload: Some(payload.to_string()),
        one_time_notif_token: Some(token.to_string()),
        ..Default::default()
    });
    to_ascii_json(&event)
}

/// `messaging_optins` for recurring notifications: the person accepted the opt-in
/// (`status` `None`), or stopped or resumed the topic.
pub fn recurring_optin(psid: &Psid, page: &PageId, request: &OptinRequest, token: &str, status: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    let accepted = status.is_none();
    let frequency = match request.kind {
        OptinKind::Recurring(frequency) => Some(frequency.as_str().to_string()),
        OptinKind::OneTime => None,
    };
    event.optin = Some(Optin {
        kind: Some("notification_messages".into()),
        payload: Some(request.payload.clone()),
        notification_messages_token: Some(token.to_string()),
        notification_messages_frequency: frequency.filter(|_| accepted),
        notification_messages_timezone: accepted.then(|| "UTC".to_string()),
        token_expiry_timestamp: if accepted { request.token_expires_at } else { None },
        user_token_status: accepted.then(|| "NOT_REFRESHED".to_string()),
        notification_messages_status: status.map(str::to_string),
        title: Some(request.title.clone()),
        ..Default::default()
    });
    to_ascii_json(&event)
}

/// `messaging_optins` from the Send to Messenger plugin: the person, by PSID, and the
/// plugin's `data-ref`.
pub fn plugin_optin(psid: &Psid, page: &PageId, reference: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.optin = Some(Optin { reference: reference.map(str::to_string), ..Default::default() });
    to_ascii_json(&event)
}

/// `messaging_optins` from the checkbox plugin: no `sender` (the person has no PSID
/// for the app yet), the site's `user_ref` and the plugin's `ref`.
pub fn checkbox_optin(page: &PageId, user_ref: &str, reference: Option<&str>, at: Millis) -> Vec<u8> {
    let event = MessagingEvent {
        recipient: Party { id: page.to_string() },
        timestamp: Some(at),
        optin: Some(Optin { reference: reference.map(str::to_string), user_ref: Some(user_ref.to_string()), ..Default::default() }),
        ..Default::default()
    };
    to_ascii_json(&event)
}

/// `messaging_referrals`: the person came into an existing thread from an entry point.
pub fn referral(psid: &Psid, page: &PageId, referral: Referral, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.referral = Some(referral);
    to_ascii_json(&event)
}

/// `messaging_account_linking`: `linked` with the site's authorization code, or `unlinked`.
pub fn account_linking(psid: &Psid, page: &PageId, authorization_code: Option<&str>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    let status = if authorization_code.is_some() { "linked" } else { "unlinked" };
    event.account_linking = Some(AccountLinking { status: status.into(), authorization_code: authorization_code.map(str::to_string) });
    to_ascii_json(&event)
}

/// `message_deliveries`: the person's client received Page messages up to `watermark`.
pub fn delivery(psid: &Psid, page: &PageId, watermark: Millis, mids: Vec<String>, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.delivery = Some(Delivery { mids, watermark });
    to_ascii_json(&event)
}

/// `message_reads`: the person read Page messages up to `watermark`.
pub fn read(psid: &Psid, page: &PageId, watermark: Millis, at: Millis) -> Vec<u8> {
    let mut event = person_to_page(psid, page, at);
    event.read = Some(Read { watermark });
    to_ascii_json(&event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_enforcement_matches_meta_shape() {
        let page = PageId("1".into());
        assert_eq!(
            String::from_utf8(policy_enforcement(&page, PolicyAction::Block, Some("spam"), 5)).unwrap(),
            r#"{"recipient":{"id":"1"},"timestamp":5,"policy_enforcement":{"action":"block","reason":"spam"}}"#
        );
        assert_eq!(
            String::from_utf8(policy_enforcement(&page, PolicyAction::Unblock, Some("kept for the audit"), 6)).unwrap(),
            r#"{"recipient":{"id":"1"},"timestamp":6,"policy_enforcement":{"action":"unblock"}}"#
        );
    }

    #[test]
    fn echo_matches_meta_shape() {
        let bytes = echo(&Psid("7".into()), &PageId("1".into()), &AppId("42".into()), &Mid("m_x".into()), Some("héllo"), None, Some("t"), 5);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"sender":{"id":"1"},"recipient":{"id":"7"},"timestamp":5,"message":{"is_echo":true,"app_id":42,"metadata":"t","mid":"m_x","text":"h\u00e9llo"}}"#
        );
    }

    #[test]
    fn person_events_match_meta_shapes() {
        let (psid, page, mid) = (Psid("7".into()), PageId("1".into()), Mid("m_x".into()));
        let tap = MessagePayload {
            mid: "m_y".into(),
            text: Some("Red".into()),
            quick_reply: Some(switchboard_wire::webhook::QuickReplyTap { payload: "PICK_RED".into() }),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(inbound_message(&psid, &page, tap, 5)).unwrap(),
            r#"{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":5,"message":{"mid":"m_y","text":"Red","quick_reply":{"payload":"PICK_RED"}}}"#
        );
        assert_eq!(
            String::from_utf8(reaction(&psid, &page, &mid, Some("\u{2764}\u{fe0f}"), 6)).unwrap(),
            r#"{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":6,"reaction":{"reaction":"love","emoji":"\u2764\ufe0f","action":"react","mid":"m_x"}}"#
        );
        assert_eq!(
            String::from_utf8(reaction(&psid, &page, &mid, None, 7)).unwrap(),
            r#"{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":7,"reaction":{"action":"unreact","mid":"m_x"}}"#
        );
    }

    #[test]
    fn edits_and_ratings_match_meta_shapes() {
        let (psid, page, mid) = (Psid("7".into()), PageId("1".into()), Mid("m_x".into()));
        assert_eq!(
            String::from_utf8(message_edit(&psid, &page, &mid, "h\u{e9}llo", 2, 8)).unwrap(),
            r#"{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":8,"message_edit":{"mid":"m_x","text":"h\u00e9llo","num_edit":2}}"#
        );
        assert_eq!(
            String::from_utf8(response_feedback(&psid, &page, &mid, switchboard_domain::messages::Feedback::Bad, 9)).unwrap(),
            r#"{"sender":{"id":"7"},"recipient":{"id":"1"},"timestamp":9,"response_feedback":{"feedback":"Bad response","mid":"m_x"}}"#
        );
    }

    #[test]
    fn fan_out_only_to_subscribers_of_the_field() {
        let targets = vec![
            WebhookTarget { app: AppId("1".into()), fields: vec![WebhookField::Messages] },
            WebhookTarget { app: AppId("2".into()), fields: vec![WebhookField::MessageEchoes] },
        ];
        let rows = fan_out(&targets, WebhookField::MessageEchoes, &PageId("9".into()), PersonId(3), b"{}", 4);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].app, AppId("2".into()));
    }

    #[test]
    fn standby_rows_for_apps_that_take_standby_and_the_owner_decides() {
        let targets = vec![
            WebhookTarget { app: AppId("1".into()), fields: vec![WebhookField::Messages, WebhookField::Standby] },
            WebhookTarget { app: AppId("2".into()), fields: vec![WebhookField::Messages, WebhookField::Standby] },
        ];
        let rows = fan_out_with_standby(&targets, WebhookField::MessagingPostbacks, &PageId("9".into()), PersonId(3), b"a", b"b", 4);
        assert!(rows.is_empty(), "no one takes postbacks");
        let rows = fan_out(&targets, WebhookField::Messages, &PageId("9".into()), PersonId(3), b"{}", 4);
        assert_eq!(rows.len(), 4);
        let owner = AppId("1".into());
        let kept: Vec<_> = rows.iter().filter(|r| r.reaches(Some(&owner))).map(|r| (r.app.as_str(), r.field)).collect();
        assert_eq!(kept, vec![("1", WebhookField::Messages), ("2", WebhookField::Standby)]);
        let idle: Vec<_> = rows.iter().filter(|r| r.reaches(None)).map(|r| (r.app.as_str(), r.field)).collect();
        assert_eq!(idle, vec![("1", WebhookField::Messages), ("2", WebhookField::Messages)]);
    }
}
