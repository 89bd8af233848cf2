//! The Send API request, parsed and validated (reference §4): which recipient, which
//! `messaging_type`, and either a message or a sender action. Pure: the use case
//! resolves the recipient and stores the result.

use crate::params::Params;
use crate::policy::MessageTag;
use crate::NotificationFrequency;
use crate::Refusal;
use serde_json::{Map, Value};

/// Longest `message.text`, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
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
    Text { text: String, metadata: Option<String> },
    /// The `one_time_notif_req` template: the person's client shows "Notify me".
    OneTimeNotifRequest { title: String, payload: String },
    /// The `notification_messages` template: an opt-in to recurring notifications.
    /// `template` is the attachment as sent, for the echo and the person's client.
    RecurringOptinRequest { title: String, payload: String, frequency: NotificationFrequency, template: Value },
    Action(SenderAction),
}

/// Longest `one_time_notif_req` title, in characters.
pub const MAX_OTN_TITLE_CHARS: usize = 65;
/// Longest postback-like payload, in characters.
pub const MAX_PAYLOAD_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCommand {
    pub recipient: Recipient,
    /// A missing `messaging_type` is taken as `RESPONSE`, as SDKs that omit it expect.
    pub messaging_type: MessagingType,
    /// Only with `MESSAGE_TAG` (Meta ignores a tag on other types).
    pub tag: Option<MessageTag>,
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
        (false, Some(action)) => SendBody::Action(parse_action(&action)?),
        (true, None) => {
            let message = params.object("message")?.unwrap_or_default();
            parse_message(&message)?
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
    Ok(SendCommand { recipient, messaging_type, tag, body })
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
    let other = ["user_ref", "notification_messages_token", "comment_id", "post_id", "login_id"]
        .into_iter()
        .find(|key| recipient.contains_key(*key));
    Err(match other {
        Some(form) => Refusal::invalid_param(format!("recipient.{form} is not supported by this server yet; address the person by PSID (recipient.id)")),
        None => Refusal::invalid_param("param recipient must be non-empty."),
    })
}

fn parse_action(action: &str) -> Result<SenderAction, Refusal> {
    match action {
        "typing_on" => Ok(SenderAction::TypingOn),
        "typing_off" => Ok(SenderAction::TypingOff),
        "mark_seen" => Ok(SenderAction::MarkSeen),
        other => Err(Refusal::invalid_param(format!(
            "Param sender_action must be one of {{typing_on, typing_off, mark_seen}} - got \"{other}\""
        ))),
    }
}

fn parse_message(message: &Map<String, Value>) -> Result<SendBody, Refusal> {
    let metadata = match message.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_METADATA_CHARS => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(Refusal::invalid_param(format!("Param message[metadata] must be at most {MAX_METADATA_CHARS} characters")))
        }
        Some(_) => return Err(Refusal::invalid_param("Param message[metadata] must be a string")),
    };
    if message.contains_key("attachment") && message.contains_key("text") {
        return Err(Refusal::invalid_param("Only one of text or attachment may be set in message"));
    }
    if let Some(attachment) = message.get("attachment") {
        return parse_attachment(attachment);
    }
    if message.contains_key("quick_replies") {
        return Err(Refusal::invalid_param("message.quick_replies is not supported by this server yet"));
    }
    let text = match message.get("text") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(Refusal::invalid_param("Param message[text] must be a string")),
        None => return Err(Refusal::invalid_param("Message must have either text or attachment")),
    };
    if text.trim().is_empty() {
        return Err(Refusal::invalid_param("Param message[text] must be non-empty."));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Refusal::invalid_param(format!("Param message[text] must be UTF-8 encoded with a maximum of {MAX_TEXT_CHARS} characters")));
    }
    Ok(SendBody::Text { text: text.clone(), metadata })
}

/// Attachments this server sends so far: the `one_time_notif_req` template.
fn parse_attachment(attachment: &Value) -> Result<SendBody, Refusal> {
    let payload = &attachment["payload"];
    match (attachment["type"].as_str(), payload["template_type"].as_str()) {
        (Some("template"), Some("one_time_notif_req")) => {
            let title = payload["title"].as_str().map(str::trim).filter(|t| !t.is_empty());
            let title = title.ok_or_else(|| Refusal::invalid_param("Param message[attachment][payload][title] is required"))?;
            if title.chars().count() > MAX_OTN_TITLE_CHARS {
                return Err(Refusal::invalid_param(format!("Param message[attachment][payload][title] must be at most {MAX_OTN_TITLE_CHARS} characters")));
            }
            let data = payload["payload"].as_str().filter(|p| !p.is_empty());
            let data = data.ok_or_else(|| Refusal::invalid_param("Param message[attachment][payload][payload] is required"))?;
            if data.chars().count() > MAX_PAYLOAD_CHARS {
                return Err(Refusal::invalid_param(format!("Param message[attachment][payload][payload] must be at most {MAX_PAYLOAD_CHARS} characters")));
            }
            Ok(SendBody::OneTimeNotifRequest { title: title.to_string(), payload: data.to_string() })
        }
        (Some("template"), Some("notification_messages")) => parse_recurring_optin(attachment),
        _ => Err(Refusal::invalid_param(
            "message.attachment is not supported by this server yet, except the one_time_notif_req and notification_messages templates",
        )),
    }
}

fn parse_recurring_optin(attachment: &Value) -> Result<SendBody, Refusal> {
    let payload = &attachment["payload"];
    let field = |name: &str| format!("message[attachment][payload][{name}]");
    let title = payload["title"].as_str().map(str::trim).filter(|t| !t.is_empty());
    let title = title.ok_or_else(|| Refusal::invalid_param(format!("Param {} is required", field("title"))))?;
    if title.chars().count() > MAX_OTN_TITLE_CHARS {
        return Err(Refusal::invalid_param(format!("Param {} must be at most {MAX_OTN_TITLE_CHARS} characters", field("title"))));
    }
    let data = payload["payload"].as_str().filter(|p| !p.is_empty() && p.chars().count() <= MAX_PAYLOAD_CHARS);
    let data = data.ok_or_else(|| Refusal::invalid_param(format!("Param {} is required, at most {MAX_PAYLOAD_CHARS} characters", field("payload"))))?;
    let frequency = payload["notification_messages_frequency"].as_str().and_then(NotificationFrequency::parse).ok_or_else(|| {
        Refusal::invalid_param(format!("Param {} must be one of {{DAILY, WEEKLY, MONTHLY}}", field("notification_messages_frequency")))
    })?;
    let one_of = |name: &str, allowed: &[&str]| match payload.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => Ok(()),
        Some(_) => Err(Refusal::invalid_param(format!("Param {} must be one of {{{}}}", field(name), allowed.join(", ")))),
    };
    one_of("notification_messages_cta_text", &["GET", "SIGN_UP", "ALLOW", "OPT_IN", "FREQUENCY"])?;
    one_of("notification_messages_reoptin", &["ENABLED", "DISABLED"])?;
    one_of("image_aspect_ratio", &["HORIZONTAL", "SQUARE"])?;
    if let Some(url) = payload.get("image_url").filter(|u| !u.is_null()) {
        let valid = url.as_str().is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"));
        if !valid {
            return Err(Refusal::invalid_param(format!("Param {} must be an http or https URL", field("image_url"))));
        }
    }
    Ok(SendBody::RecurringOptinRequest { title: title.to_string(), payload: data.to_string(), frequency, template: attachment.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn send(value: Value) -> Result<SendCommand, Refusal> {
        parse_send(&Params(value.as_object().unwrap().clone()))
    }

    #[test]
    fn text_message_with_defaulted_messaging_type() {
        let command = send(json!({"recipient": {"id": "123"}, "message": {"text": "hi", "metadata": "m"}})).unwrap();
        assert_eq!(command.recipient, Recipient::Psid("123".into()));
        assert_eq!(command.messaging_type, MessagingType::Response);
        assert_eq!(command.body, SendBody::Text { text: "hi".into(), metadata: Some("m".into()) });
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
        assert_eq!(command.body, SendBody::OneTimeNotifRequest { title: "Back in stock?".into(), payload: "SKU_42".into() });
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
            SendBody::RecurringOptinRequest { frequency, title, .. } => assert_eq!((frequency, title.as_str()), (NotificationFrequency::Weekly, "Daily deals")),
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
    }
}
