//! The Send API request, parsed and validated (reference §4): which recipient, which
//! `messaging_type`, the options around the message (`notification_type`,
//! `persona_id`, `reply_to`), and either a message (see `content`) or a sender
//! action. Pure: the use case resolves the recipient and stores the result.

use crate::content::{parse_message, OutgoingMessage};
use crate::params::Params;
use crate::policy::MessageTag;
use crate::Refusal;
use serde_json::{Map, Value};

/// Longest `message.text`, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest `user_ref` a site may generate for the checkbox plugin.
pub const MAX_USER_REF_BYTES: usize = 250;
/// Longest `message.metadata`, in characters.
pub const MAX_METADATA_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// `{"id": "<PSID>"}`.
    Psid(String),
    /// `{"phone_number": "+1(212)555-2368", "name": {...}}`, normalized to `+` and
    /// digits (customer matching).
    PhoneNumber(String),
    /// `{"one_time_notif_token": "..."}`: one message the person asked for.
    OneTimeNotifToken(String),
    /// `{"notification_messages_token": "..."}`: a recurring notification.
    NotificationMessagesToken(String),
    /// `{"user_ref": "..."}`: a person who ticked the checkbox plugin, known only by
    /// the ref the business's site generated.
    UserRef(String),
}

/// A phone number as `+` and its digits; `None` unless it has 7 to 15 digits.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let allowed = raw.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (allowed && (7..=15).contains(&digits.len())).then(|| format!("+{digits}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingType {
    Response,
    Update,
    MessageTag,
    Utility,
}

impl MessagingType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "RESPONSE" => Some(Self::Response),
            "UPDATE" => Some(Self::Update),
            "MESSAGE_TAG" => Some(Self::MessageTag),
            "UTILITY" => Some(Self::Utility),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderAction {
    TypingOn,
    TypingOff,
    MarkSeen,
}

impl SenderAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TypingOn => "typing_on",
            Self::TypingOff => "typing_off",
            Self::MarkSeen => "mark_seen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendBody {
    Message(OutgoingMessage),
    Action(SenderAction),
    /// `react` (with an emoji) or `unreact` (`None`) on a message of the thread.
    React { mid: String, emoji: Option<String> },
}

/// Longest `one_time_notif_req` title, in characters.
pub const MAX_OTN_TITLE_CHARS: usize = 65;
/// Longest postback-like payload, in characters.
pub const MAX_PAYLOAD_CHARS: usize = 1000;

/// How the person's device announces the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationType {
    Regular,
    SilentPush,
    NoPush,
}

impl NotificationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "REGULAR",
            Self::SilentPush => "SILENT_PUSH",
            Self::NoPush => "NO_PUSH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCommand {
    pub recipient: Recipient,
    /// A missing `messaging_type` is taken as `RESPONSE`, as SDKs that omit it expect.
    pub messaging_type: MessagingType,
    /// Only with `MESSAGE_TAG` (Meta ignores a tag on other types).
    pub tag: Option<MessageTag>,
    pub notification_type: NotificationType,
    /// Send as this persona of the Page.
    pub persona_id: Option<String>,
    /// Quote this message of the thread.
    pub reply_to: Option<String>,
    pub body: SendBody,
}

/// Parses and validates a Send API call. Unknown top-level keys are ignored, as Meta
/// does (SDKs send `message_type`, `sticker_id`...).
pub fn parse_send(params: &Params) -> Result<SendCommand, Refusal> {
    let recipient = parse_recipient(params.object("recipient")?)?;
    let has_message = params.contains("message") && !params.0["message"].is_null();
    let action = params.str("sender_action")?;
    let body = match (has_message, action) {
        (true, Some(_)) => return Err(Refusal::message_and_action()),
        (false, None) => return Err(Refusal::invalid_param("Must send either message or state")),
        (false, Some(action)) => parse_action(&action, params)?,
        (true, None) => {
            let message = params.object("message")?.unwrap_or_default();
            SendBody::Message(parse_message(&message)?)
        }
    };
    let messaging_type = match params.str("messaging_type")? {
        None => MessagingType::Response,
        Some(name) => MessagingType::parse(&name).ok_or_else(|| {
            Refusal::invalid_param(format!(
                "Param messaging_type must be one of {{RESPONSE, UPDATE, MESSAGE_TAG, UTILITY}} - got \"{name}\""
            ))
        })?,
    };
    let tag = match (messaging_type, params.str("tag")?) {
        (MessagingType::MessageTag, None) => return Err(Refusal::invalid_param("Param tag is required when messaging_type is MESSAGE_TAG")),
        (MessagingType::MessageTag, Some(name)) => Some(MessageTag::parse(&name)?),
        (_, _) => None,
    };
    let notification_type = match params.str("notification_type")?.as_deref() {
        None | Some("REGULAR") => NotificationType::Regular,
        Some("SILENT_PUSH") => NotificationType::SilentPush,
        Some("NO_PUSH") => NotificationType::NoPush,
        Some(other) => {
            return Err(Refusal::invalid_param(format!(
                "Param notification_type must be one of {{REGULAR, SILENT_PUSH, NO_PUSH}} - got \"{other}\""
            )))
        }
    };
    let persona_id = match params.str("persona_id")? {
        Some(id) if crate::is_node_id(&id) => Some(id),
        Some(_) => return Err(Refusal::invalid_param("Param persona_id must be a valid ID")),
        None => None,
    };
    let reply_to = match params.object("reply_to")? {
        Some(reply) => match reply.get("mid") {
            Some(Value::String(mid)) if !mid.is_empty() => Some(mid.clone()),
            _ => return Err(Refusal::invalid_param("Param reply_to[mid] must be a message id")),
        },
        None => None,
    };
    if reply_to.is_some() && !matches!(body, SendBody::Message(_)) {
        return Err(Refusal::invalid_param("Param reply_to goes only with a message"));
    }
    Ok(SendCommand { recipient, messaging_type, tag, notification_type, persona_id, reply_to, body })
}

fn parse_recipient(recipient: Option<Map<String, Value>>) -> Result<Recipient, Refusal> {
    let recipient = recipient.ok_or_else(|| Refusal::missing_param("recipient"))?;
    match recipient.get("id") {
        Some(Value::String(id)) if !id.is_empty() => return Ok(Recipient::Psid(id.clone())),
        Some(Value::Number(n)) => return Ok(Recipient::Psid(n.to_string())),
        Some(_) => return Err(Refusal::invalid_param("Invalid recipient id")),
        None => {}
    }
    if let Some(token) = recipient.get("notification_messages_token") {
        return match token.as_str() {
            Some(token) if !token.is_empty() => Ok(Recipient::NotificationMessagesToken(token.to_string())),
            _ => Err(Refusal::invalid_param("notification_messages_token is invalid")),
        };
    }
    if let Some(token) = recipient.get("one_time_notif_token") {
        return match token.as_str() {
            Some(token) if !token.is_empty() => Ok(Recipient::OneTimeNotifToken(token.to_string())),
            _ => Err(Refusal::invalid_param("Invalid one_time_notif_token")),
        };
    }
    if let Some(phone) = recipient.get("phone_number") {
        let phone = phone.as_str().and_then(normalize_phone);
        return phone.map(Recipient::PhoneNumber).ok_or_else(|| Refusal::invalid_param("Invalid phone_number"));
    }
    if let Some(user_ref) = recipient.get("user_ref") {
        return match user_ref.as_str() {
            Some(user_ref) if !user_ref.is_empty() && user_ref.len() <= MAX_USER_REF_BYTES => Ok(Recipient::UserRef(user_ref.to_string())),
            _ => Err(Refusal::invalid_param("Invalid user_ref")),
        };
    }
    let other = ["comment_id", "post_id", "login_id"].into_iter().find(|key| recipient.contains_key(*key));
    Err(match other {
        Some(form) => Refusal::invalid_param(format!("recipient.{form} is not supported by this server yet; address the person by PSID (recipient.id)")),
        None => Refusal::invalid_param("param recipient must be non-empty."),
    })
}

fn parse_action(action: &str, params: &Params) -> Result<SendBody, Refusal> {
    let reaction_target = || -> Result<(String, Map<String, Value>), Refusal> {
        let payload = params.object("payload")?.ok_or_else(|| Refusal::missing_param("payload"))?;
        match payload.get("message_id") {
            Some(Value::String(mid)) if !mid.is_empty() => Ok((mid.clone(), payload)),
            _ => Err(Refusal::invalid_param("Param payload[message_id] is required")),
        }
    };
    match action {
        "typing_on" => Ok(SendBody::Action(SenderAction::TypingOn)),
        "typing_off" => Ok(SendBody::Action(SenderAction::TypingOff)),
        "mark_seen" => Ok(SendBody::Action(SenderAction::MarkSeen)),
        "react" => {
            let (mid, payload) = reaction_target()?;
            match payload.get("reaction") {
                Some(Value::String(emoji)) if !emoji.trim().is_empty() && emoji.chars().count() <= 8 => Ok(SendBody::React { mid, emoji: Some(emoji.clone()) }),
                _ => Err(Refusal::invalid_param("Param payload[reaction] must be an emoji")),
            }
        }
        "unreact" => Ok(SendBody::React { mid: reaction_target()?.0, emoji: None }),
        other => Err(Refusal::invalid_param(format!(
            "Param sender_action must be one of {{typing_on, typing_off, mark_seen, react, unreact}} - got \"{other}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Attachment;
    use crate::NotificationFrequency;
    use serde_json::json;

    fn send(value: Value) -> Result<SendCommand, Refusal> {
        parse_send(&Params(value.as_object().unwrap().clone()))
    }

    #[test]
    fn text_message_with_defaulted_messaging_type() {
        let command = send(json!({"recipient": {"id": "123"}, "message": {"text": "hi", "metadata": "m"}})).unwrap();
        assert_eq!(command.recipient, Recipient::Psid("123".into()));
        assert_eq!(command.messaging_type, MessagingType::Response);
        let expected = OutgoingMessage { text: Some("hi".into()), attachment: None, quick_replies: vec![], metadata: Some("m".into()) };
        assert_eq!(command.body, SendBody::Message(expected));
        assert_eq!(command.notification_type, NotificationType::Regular);
    }

    #[test]
    fn recipient_and_message_may_be_json_strings_and_ids_numbers() {
        let command = send(json!({"recipient": "{\"id\":123}", "message": "{\"text\":\"x\"}", "messaging_type": "UPDATE"})).unwrap();
        assert_eq!(command.recipient, Recipient::Psid("123".into()));
        assert_eq!(command.messaging_type, MessagingType::Update);
    }

    #[test]
    fn message_and_sender_action_together_is_2018014() {
        let refusal = send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "sender_action": "typing_on"})).unwrap_err();
        assert_eq!((refusal.code, refusal.subcode), (100, Some(2018014)));
    }

    #[test]
    fn text_limits() {
        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        assert!(send(json!({"recipient": {"id": "1"}, "message": {"text": at_limit}})).is_ok());
        let over = "a".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "message": {"text": over}})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "message": {"text": "  "}})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "message": {"text": 5}})).unwrap_err().code, 100);
    }

    #[test]
    fn missing_pieces_are_code_100() {
        assert_eq!(send(json!({"message": {"text": "x"}})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {}, "message": {"text": "x"}})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "sender_action": "dance"})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "messaging_type": "NOPE"})).unwrap_err().code, 100);
        assert_eq!(send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "messaging_type": "MESSAGE_TAG"})).unwrap_err().code, 100);
    }

    #[test]
    fn tags_are_read_only_with_message_tag() {
        let tagged = send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"})).unwrap();
        assert_eq!(tagged.tag, Some(MessageTag::AccountUpdate));
        let ignored = send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "messaging_type": "RESPONSE", "tag": "NOPE"})).unwrap();
        assert_eq!(ignored.tag, None);
        let retired = json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "messaging_type": "MESSAGE_TAG", "tag": "PAYMENT_UPDATE"});
        assert_eq!(send(retired).unwrap_err().code, 100);
    }

    #[test]
    fn phone_number_recipients_are_normalized() {
        let command = send(json!({"recipient": {"phone_number": "+1(212)555-2368", "name": {"first_name": "J"}}, "message": {"text": "x"}})).unwrap();
        assert_eq!(command.recipient, Recipient::PhoneNumber("+12125552368".into()));
        assert_eq!(normalize_phone("212 555 2368"), Some("+2125552368".into()));
        assert_eq!(normalize_phone("12345"), None, "too short");
        assert_eq!(normalize_phone("+1 212 CALL NOW"), None);
        assert_eq!(send(json!({"recipient": {"phone_number": "nope"}, "message": {"text": "x"}})).unwrap_err().code, 100);
    }

    #[test]
    fn one_time_notification_requests_and_tokens() {
        let template = |title: &str, payload: &str| {
            json!({"recipient": {"id": "1"}, "message": {"attachment": {"type": "template",
                "payload": {"template_type": "one_time_notif_req", "title": title, "payload": payload}}}})
        };
        let command = send(template("Back in stock?", "SKU_42")).unwrap();
        let expected = Attachment::OneTimeNotifRequest { title: "Back in stock?".into(), payload: "SKU_42".into() };
        assert!(matches!(command.body, SendBody::Message(OutgoingMessage { attachment: Some(ref a), .. }) if *a == expected));
        assert!(send(template(&"t".repeat(66), "x")).is_err(), "titles up to 65 characters");
        assert!(send(template("ok", "")).is_err(), "a payload is required");
        let by_token = send(json!({"recipient": {"one_time_notif_token": "abc"}, "message": {"text": "it is back"}})).unwrap();
        assert_eq!(by_token.recipient, Recipient::OneTimeNotifToken("abc".into()));
    }

    #[test]
    fn recurring_notification_opt_ins_and_tokens() {
        let template = |extra: Value| {
            let mut payload = json!({"template_type": "notification_messages", "title": "Daily deals", "payload": "DEALS",
                "notification_messages_frequency": "WEEKLY"});
            payload.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({"recipient": {"id": "1"}, "message": {"attachment": {"type": "template", "payload": payload}}})
        };
        match send(template(json!({"notification_messages_cta_text": "ALLOW"}))).unwrap().body {
            SendBody::Message(OutgoingMessage { attachment: Some(Attachment::RecurringOptinRequest { frequency, title, .. }), .. }) => {
                assert_eq!((frequency, title.as_str()), (NotificationFrequency::Weekly, "Daily deals"))
            }
            other => panic!("{other:?}"),
        }
        assert!(send(template(json!({"notification_messages_frequency": "HOURLY"}))).is_err());
        assert!(send(template(json!({"notification_messages_cta_text": "PLEASE"}))).is_err());
        assert!(send(template(json!({"image_url": "ftp://x"}))).is_err());
        let by_token = send(json!({"recipient": {"notification_messages_token": "t"}, "message": {"text": "deal"}})).unwrap();
        assert_eq!(by_token.recipient, Recipient::NotificationMessagesToken("t".into()));
    }

    #[test]
    fn sender_actions() {
        let command = send(json!({"recipient": {"id": "1"}, "sender_action": "mark_seen"})).unwrap();
        assert_eq!(command.body, SendBody::Action(SenderAction::MarkSeen));
        let react = send(json!({"recipient": {"id": "1"}, "sender_action": "react", "payload": {"message_id": "m_1", "reaction": "\u{1F60A}"}})).unwrap();
        assert_eq!(react.body, SendBody::React { mid: "m_1".into(), emoji: Some("\u{1F60A}".into()) });
        let unreact = send(json!({"recipient": {"id": "1"}, "sender_action": "unreact", "payload": "{\"message_id\":\"m_1\"}"})).unwrap();
        assert_eq!(unreact.body, SendBody::React { mid: "m_1".into(), emoji: None });
        assert!(send(json!({"recipient": {"id": "1"}, "sender_action": "react", "payload": {"message_id": "m_1"}})).is_err(), "react needs an emoji");
        assert!(send(json!({"recipient": {"id": "1"}, "sender_action": "unreact"})).is_err(), "which message?");
    }

    #[test]
    fn options_around_the_message() {
        let command = send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "notification_type": "NO_PUSH",
            "persona_id": 42, "reply_to": {"mid": "m_9"}})).unwrap();
        assert_eq!((command.notification_type, command.persona_id.as_deref(), command.reply_to.as_deref()), (NotificationType::NoPush, Some("42"), Some("m_9")));
        assert!(send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "notification_type": "LOUD"})).is_err());
        assert!(send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "persona_id": "bob"})).is_err());
        assert!(send(json!({"recipient": {"id": "1"}, "message": {"text": "x"}, "reply_to": {"id": "m"}})).is_err());
        assert!(send(json!({"recipient": {"id": "1"}, "sender_action": "typing_on", "reply_to": {"mid": "m"}})).is_err());
    }
}
