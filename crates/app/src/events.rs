//! Webhook events: rendered once, as Meta serializes them, and fanned out into
//! outbox rows for every app subscribed to the field.

use switchboard_domain::*;
use switchboard_store::{NewOutboxEvent, OptinKind, OptinRequest, WebhookTarget};
use switchboard_wire::webhook::{Delivery, MessagePayload, MessagingEvent, Optin, Party, Postback, Reaction, Read};
use switchboard_wire::to_ascii_json;

/// One outbox row per target subscribed to `field`, all with the same bytes.
pub fn fan_out(
    targets: &[WebhookTarget],
    field: WebhookField,
    page: &PageId,
    person: PersonId,
    body: &[u8],
    at: Millis,
) -> Vec<NewOutboxEvent> {
    targets
        .iter()
        .filter(|target| target.fields.contains(&field))
        .map(|target| NewOutboxEvent {
            app: target.app.clone(),
            page: page.clone(),
            person,
            field,
            body: body.to_vec(),
            created_at: at,
        })
        .collect()
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
        kind: "one_time_notif_req".into(),
        payload: payload.to_string(),
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
        kind: "notification_messages".into(),
        payload: request.payload.clone(),
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
    fn fan_out_only_to_subscribers_of_the_field() {
        let targets = vec![
            WebhookTarget { app: AppId("1".into()), fields: vec![WebhookField::Messages] },
            WebhookTarget { app: AppId("2".into()), fields: vec![WebhookField::MessageEchoes] },
        ];
        let rows = fan_out(&targets, WebhookField::MessageEchoes, &PageId("9".into()), PersonId(3), b"{}", 4);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].app, AppId("2".into()));
    }
}
