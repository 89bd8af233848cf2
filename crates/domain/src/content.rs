//! The Send API `message` object, parsed and validated (reference §4.4–4.7): text,
//! media and template attachments, buttons, quick replies, and the one-time and
//! recurring notification opt-in templates. The one home for these rules, so the Send
//! API and the Messenger profile (whose persistent menu holds buttons) judge content
//! alike, and every refusal names the exact field in Meta's bracketed form
//! (`message[attachment][payload][elements][0][title]`). Pure: it must not fetch a
//! URL, look an `attachment_id` up or read the clock; whether an ID exists or a URL
//! answers is the use case's business.

use crate::send::{MAX_METADATA_CHARS, MAX_OTN_TITLE_CHARS, MAX_PAYLOAD_CHARS, MAX_TEXT_CHARS};
use crate::{MessageAttachment, NotificationFrequency, QuickReply, QuickReplyType, Refusal};
use serde_json::{Map, Value};
use std::fmt;

/// Longest URL anywhere in a message, in characters.
pub const MAX_URL_CHARS: usize = 2000;
/// Most quick replies on one message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// Longest button or quick-reply title, in characters.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Longest generic-template element title or subtitle, in characters.
pub const MAX_ELEMENT_TITLE_CHARS: usize = 80;
/// Most elements in a generic template (a carousel).
pub const MAX_GENERIC_ELEMENTS: usize = 10;
/// Longest button-template text, in characters.
pub const MAX_BUTTON_TEMPLATE_TEXT_CHARS: usize = 640;
/// Most buttons on a template or a generic element.
pub const MAX_TEMPLATE_BUTTONS: usize = 3;
/// Most items in a receipt.
pub const MAX_RECEIPT_ELEMENTS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    File,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::File => "file",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Image, Self::Audio, Self::Video, Self::File].into_iter().find(|k| k.as_str() == name)
    }
}

/// Where a media attachment's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// Fetched from this http(s) URL.
    Url(String),
    /// A saved asset of the Page (decimal digits).
    AttachmentId(String),
    /// Neither `url` nor `attachment_id`: the file comes as the multipart `filedata` part.
    Upload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateType {
    Generic,
    Button,
    Media,
    Receipt,
}

impl TemplateType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Button => "button",
            Self::Media => "media",
            Self::Receipt => "receipt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// `is_reusable` is always false with an `attachment_id` (the asset is saved already).
    Media { kind: MediaKind, source: MediaSource, is_reusable: bool },
    /// generic, button, media, receipt; `payload` is the template payload as sent (after validation).
    Template { template_type: TemplateType, payload: Value },
    /// The `one_time_notif_req` template: the person's client shows "Notify me".
    OneTimeNotifRequest { title: String, payload: String },
    /// `message.sticker_id`: a sticker of the catalog.
    Sticker(&'static crate::stickers::Sticker),
    /// The `notification_messages` template: an opt-in to recurring notifications.
    /// `template` is the attachment as sent, for the echo and the person's client.
    RecurringOptinRequest { title: String, payload: String, frequency: NotificationFrequency, template: MessageAttachment },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Exactly one of `text` and `attachment` (a sticker included) is set.
    pub text: Option<String>,
    pub attachment: Option<Attachment>,
    /// Validated quick replies (`content_type` "text" when missing, as botkit
    /// expects); empty when none.
    pub quick_replies: Vec<QuickReply>,
    pub metadata: Option<String>,
}

/// Parses and validates a Send API `message` object. Unknown keys are ignored, as
/// Meta does.
pub fn parse_message(message: &Map<String, Value>) -> Result<OutgoingMessage, Refusal> {
    let metadata = opt_string(message, "metadata", "message", MAX_METADATA_CHARS)?.map(str::to_string);
    let quick_replies = member(message, "quick_replies");
    // A sticker is the message's whole content, like an attachment.
    if let Some(id) = member(message, "sticker_id") {
        if member(message, "text").is_some() || member(message, "attachment").is_some() {
            return Err(Refusal::invalid_param("Only one of text, attachment or sticker_id may be set in message"));
        }
        let sticker = crate::stickers::parse_sticker_id(id, "message[sticker_id]")?;
        let quick_replies = quick_replies.map(parse_quick_replies).transpose()?.unwrap_or_default();
        return Ok(OutgoingMessage { text: None, attachment: Some(Attachment::Sticker(sticker)), quick_replies, metadata });
    }
    let (text, attachment) = match (member(message, "text"), member(message, "attachment")) {
        (Some(_), Some(_)) => return Err(Refusal::invalid_param("Only one of text or attachment may be set in message")),
        (None, None) if quick_replies.is_some() => {
            return Err(invalid("message[quick_replies]", "requires message[text] or message[attachment] alongside"))
        }
        (None, None) => return Err(Refusal::invalid_param("Message must have either text or attachment")),
        (Some(text), None) => (Some(parse_text(text)?), None),
        (None, Some(attachment)) => (None, Some(parse_attachment(attachment)?)),
    };
    let quick_replies = quick_replies.map(parse_quick_replies).transpose()?.unwrap_or_default();
    Ok(OutgoingMessage { text, attachment, quick_replies, metadata })
}

fn parse_text(text: &Value) -> Result<String, Refusal> {
    let text = text.as_str().ok_or_else(|| invalid("message[text]", "must be a string"))?;
    if text.trim().is_empty() {
        return Err(invalid("message[text]", "must be non-empty."));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid("message[text]", format!("must be UTF-8 encoded with a maximum of {MAX_TEXT_CHARS} characters")));
    }
    Ok(text.to_string())
}

fn parse_attachment(attachment: &Value) -> Result<Attachment, Refusal> {
    let path = "message[attachment]";
    let map = object(attachment, path)?;
    let type_path = child(path, "type");
    let kind = required(map, "type", path)?.as_str().ok_or_else(|| invalid(&type_path, "must be a string"))?;
    let payload_path = child(path, "payload");
    if kind == "template" {
        let payload = object(required(map, "payload", path)?, &payload_path)?;
        return parse_template(payload, &payload_path);
    }
    let kind = MediaKind::parse(kind).ok_or_else(|| invalid(&type_path, format!("must be one of {{image, audio, video, file, template}} - got \"{kind}\"")))?;
    let empty = Map::new();
    let payload = match member(map, "payload") {
        Some(payload) => object(payload, &payload_path)?,
        None => &empty,
    };
    let source = match (member(payload, "url"), member(payload, "attachment_id")) {
        (Some(_), Some(_)) => return Err(invalid(&payload_path, "must have either url or attachment_id, not both")),
        (Some(url), None) => MediaSource::Url(validate_url(url, &child(&payload_path, "url"), false)?),
        (None, Some(id)) => MediaSource::AttachmentId(attachment_id(id, &child(&payload_path, "attachment_id"))?),
        (None, None) => MediaSource::Upload,
    };
    let is_reusable = match (&source, member(payload, "is_reusable")) {
        (MediaSource::AttachmentId(_), _) | (_, None) => false,
        (_, Some(value)) => bool_like(value, &child(&payload_path, "is_reusable"))?,
    };
    Ok(Attachment::Media { kind, source, is_reusable })
}

/// A saved asset's ID: decimal digits, as a string or a JSON number.
fn attachment_id(value: &Value, path: &str) -> Result<String, Refusal> {
    match value {
        Value::String(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id.clone()),
        Value::Number(id) if id.is_u64() => Ok(id.to_string()),
        _ => Err(invalid(path, "must be an attachment ID (decimal digits)")),
    }
}

fn parse_template(payload: &Map<String, Value>, path: &str) -> Result<Attachment, Refusal> {
    let type_path = child(path, "template_type");
    let name = required(payload, "template_type", path)?.as_str().ok_or_else(|| invalid(&type_path, "must be a string"))?;
    let template_type = match name {
        "generic" => TemplateType::Generic,
        "button" => TemplateType::Button,
        "media" => TemplateType::Media,
        "receipt" => TemplateType::Receipt,
        "one_time_notif_req" => return parse_one_time_notif(payload, path),
        "notification_messages" => return parse_recurring_optin(payload, path),
        "list" | "open_graph" => {
            return Err(invalid(&type_path, format!("\"{name}\" names a retired template: Meta deprecated the {name} template in 2019; use generic or button")))
        }
        other => {
            return Err(invalid(
                &type_path,
                format!("must be one of {{generic, button, media, receipt, one_time_notif_req, notification_messages}} - got \"{other}\""),
            ))
        }
    };
    match template_type {
        TemplateType::Generic => validate_generic(payload, path)?,
        TemplateType::Button => validate_button_template(payload, path)?,
        TemplateType::Media => validate_media_template(payload, path)?,
        TemplateType::Receipt => validate_receipt(payload, path)?,
    }
    Ok(Attachment::Template { template_type, payload: Value::Object(payload.clone()) })
}

fn validate_generic(payload: &Map<String, Value>, path: &str) -> Result<(), Refusal> {
    one_of(payload, "image_aspect_ratio", path, &["horizontal", "square"])?;
    opt_bool(payload, "sharable", path)?;
    let elements_path = child(path, "elements");
    let elements = array(required(payload, "elements", path)?, &elements_path, 1, MAX_GENERIC_ELEMENTS)?;
    for (i, element) in elements.iter().enumerate() {
        let path = child(&elements_path, i);
        let element = object(element, &path)?;
        req_string(element, "title", &path, MAX_ELEMENT_TITLE_CHARS)?;
        let subtitle = opt_string(element, "subtitle", &path, MAX_ELEMENT_TITLE_CHARS)?.is_some_and(|s| !s.trim().is_empty());
        let image = opt_url(element, "image_url", &path)?.is_some();
        let default_action = match member(element, "default_action") {
            Some(action) => validate_default_action(action, &child(&path, "default_action")).map(|()| true)?,
            None => false,
        };
        let buttons = match member(element, "buttons") {
            Some(buttons) => validate_buttons(buttons, &child(&path, "buttons"), 0, MAX_TEMPLATE_BUTTONS).map(|()| !buttons.as_array().is_some_and(Vec::is_empty))?,
            None => false,
        };
        if !(subtitle || image || default_action || buttons) {
            return Err(invalid(&path, "must have at least one of subtitle, image_url, default_action or buttons besides title"));
        }
    }
    Ok(())
}

/// A generic element's `default_action`: a `web_url` button without a title.
fn validate_default_action(action: &Value, path: &str) -> Result<(), Refusal> {
    let map = object(action, path)?;
    match member(map, "type") {
        None => {}
        Some(Value::String(t)) if t == "web_url" => {}
        Some(_) => return Err(invalid(&child(path, "type"), "must be web_url")),
    }
    if member(map, "title").is_some() {
        return Err(invalid(&child(path, "title"), "is not allowed: a default_action has no title"));
    }
    validate_web_url(map, path, false)
}

fn validate_button_template(payload: &Map<String, Value>, path: &str) -> Result<(), Refusal> {
    req_string(payload, "text", path, MAX_BUTTON_TEMPLATE_TEXT_CHARS)?;
    opt_bool(payload, "sharable", path)?;
    validate_buttons(required(payload, "buttons", path)?, &child(path, "buttons"), 1, MAX_TEMPLATE_BUTTONS)
}

fn validate_media_template(payload: &Map<String, Value>, path: &str) -> Result<(), Refusal> {
    opt_bool(payload, "sharable", path)?;
    let elements_path = child(path, "elements");
    let elements = array(required(payload, "elements", path)?, &elements_path, 1, 1)?;
    let path = child(&elements_path, 0);
    let element = object(&elements[0], &path)?;
    if one_of(element, "media_type", &path, &["image", "video"])?.is_none() {
        return Err(invalid(&child(&path, "media_type"), "is required"));
    }
    match (member(element, "url"), member(element, "attachment_id")) {
        (Some(_), Some(_)) | (None, None) => return Err(invalid(&path, "must have exactly one of url or attachment_id")),
        (Some(url), None) => validate_url(url, &child(&path, "url"), false).map(drop)?,
        (None, Some(id)) => attachment_id(id, &child(&path, "attachment_id")).map(drop)?,
    }
    // Meta documents the media template's buttons but not how many; 3 as on the
    // other templates (unconfirmed).
    match member(element, "buttons") {
        Some(buttons) => validate_buttons(buttons, &child(&path, "buttons"), 0, MAX_TEMPLATE_BUTTONS),
        None => Ok(()),
    }
}

fn validate_receipt(payload: &Map<String, Value>, path: &str) -> Result<(), Refusal> {
    for key in ["recipient_name", "order_number", "payment_method"] {
        req_string(payload, key, path, usize::MAX)?;
    }
    if currency(payload, "currency", path)?.is_none() {
        return Err(invalid(&child(path, "currency"), "is required"));
    }
    opt_string(payload, "merchant_name", path, usize::MAX)?;
    opt_bool(payload, "sharable", path)?;
    opt_url(payload, "order_url", path)?;
    if let Some(timestamp) = member(payload, "timestamp").filter(|t| !t.is_string() && !t.is_number()) {
        return Err(invalid(&child(path, "timestamp"), format!("must be a string or a number - got {timestamp}")));
    }
    if let Some(address) = member(payload, "address") {
        let path = child(path, "address");
        let address = object(address, &path)?;
        for key in ["street_1", "city", "postal_code", "state", "country"] {
            req_string(address, key, &path, usize::MAX)?;
        }
        opt_string(address, "street_2", &path, usize::MAX)?;
    }
    let summary_path = child(path, "summary");
    let summary = object(required(payload, "summary", path)?, &summary_path)?;
    number(required(summary, "total_cost", &summary_path)?, &child(&summary_path, "total_cost"))?;
    for key in ["subtotal", "shipping_cost", "total_tax"] {
        opt_number(summary, key, &summary_path)?;
    }
    if let Some(adjustments) = member(payload, "adjustments") {
        let adjustments_path = child(path, "adjustments");
        for (i, adjustment) in array(adjustments, &adjustments_path, 0, usize::MAX)?.iter().enumerate() {
            let path = child(&adjustments_path, i);
            let adjustment = object(adjustment, &path)?;
            req_string(adjustment, "name", &path, usize::MAX)?;
            number(required(adjustment, "amount", &path)?, &child(&path, "amount"))?;
        }
    }
    if let Some(elements) = member(payload, "elements") {
        let elements_path = child(path, "elements");
        for (i, element) in array(elements, &elements_path, 0, MAX_RECEIPT_ELEMENTS)?.iter().enumerate() {
            let path = child(&elements_path, i);
            let element = object(element, &path)?;
            req_string(element, "title", &path, usize::MAX)?;
            opt_string(element, "subtitle", &path, usize::MAX)?;
            number(required(element, "price", &path)?, &child(&path, "price"))?;
            if let Some(quantity) = member(element, "quantity") {
                let whole = quantity.is_i64() || quantity.as_str().is_some_and(|q| q.trim().parse::<i64>().is_ok());
                if !whole {
                    return Err(invalid(&child(&path, "quantity"), "must be an integer"));
                }
            }
            currency(element, "currency", &path)?;
            opt_url(element, "image_url", &path)?;
        }
    }
    Ok(())
}

/// An ISO 4217 code: three upper-case letters.
fn currency<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, Refusal> {
    match opt_string(map, key, path, usize::MAX)? {
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => Ok(Some(code)),
        Some(code) => Err(invalid(&child(path, key), format!("must be a currency code of three upper-case letters - got \"{code}\""))),
        None => Ok(None),
    }
}

fn parse_one_time_notif(payload: &Map<String, Value>, path: &str) -> Result<Attachment, Refusal> {
    let title = payload.get("title").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let title = title.ok_or_else(|| invalid(&child(path, "title"), "is required"))?;
    if title.chars().count() > MAX_OTN_TITLE_CHARS {
        return Err(invalid(&child(path, "title"), format!("must be at most {MAX_OTN_TITLE_CHARS} characters")));
    }
    let data = payload.get("payload").and_then(Value::as_str).filter(|p| !p.is_empty());
    let data = data.ok_or_else(|| invalid(&child(path, "payload"), "is required"))?;
    if data.chars().count() > MAX_PAYLOAD_CHARS {
        return Err(invalid(&child(path, "payload"), format!("must be at most {MAX_PAYLOAD_CHARS} characters")));
    }
    Ok(Attachment::OneTimeNotifRequest { title: title.to_string(), payload: data.to_string() })
}

fn parse_recurring_optin(payload: &Map<String, Value>, path: &str) -> Result<Attachment, Refusal> {
    let title = payload.get("title").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let title = title.ok_or_else(|| invalid(&child(path, "title"), "is required"))?;
    if title.chars().count() > MAX_OTN_TITLE_CHARS {
        return Err(invalid(&child(path, "title"), format!("must be at most {MAX_OTN_TITLE_CHARS} characters")));
    }
    let data = payload.get("payload").and_then(Value::as_str).filter(|p| !p.is_empty() && p.chars().count() <= MAX_PAYLOAD_CHARS);
    let data = data.ok_or_else(|| invalid(&child(path, "payload"), format!("is required, at most {MAX_PAYLOAD_CHARS} characters")))?;
    let frequency = payload.get("notification_messages_frequency").and_then(Value::as_str).and_then(NotificationFrequency::parse);
    let frequency = frequency.ok_or_else(|| invalid(&child(path, "notification_messages_frequency"), "must be one of {DAILY, WEEKLY, MONTHLY}"))?;
    one_of(payload, "notification_messages_cta_text", path, &["GET", "SIGN_UP", "ALLOW", "OPT_IN", "FREQUENCY"])?;
    one_of(payload, "notification_messages_reoptin", path, &["ENABLED", "DISABLED"])?;
    one_of(payload, "image_aspect_ratio", path, &["HORIZONTAL", "SQUARE"])?;
    opt_url(payload, "image_url", path)?;
    let template = MessageAttachment::template(Value::Object(payload.clone()));
    Ok(Attachment::RecurringOptinRequest { title: title.to_string(), payload: data.to_string(), frequency, template })
}

/// Validates a list of buttons (template buttons, persistent-menu call_to_actions); `path` names the param in errors, e.g. "message[attachment][payload][buttons]".
pub fn validate_buttons(buttons: &Value, path: &str, min: usize, max: usize) -> Result<(), Refusal> {
    array(buttons, path, min, max)?.iter().enumerate().try_for_each(|(i, button)| validate_button(button, &child(path, i)))
}

/// Validates one button (reference §4.6); `path` names it, e.g. "...[buttons][0]".
pub fn validate_button(button: &Value, path: &str) -> Result<(), Refusal> {
    let map = object(button, path)?;
    let type_path = child(path, "type");
    let kind = required(map, "type", path)?.as_str().ok_or_else(|| invalid(&type_path, "must be a string"))?;
    match kind {
        "web_url" => validate_web_url(map, path, true),
        "postback" => {
            req_string(map, "title", path, MAX_BUTTON_TITLE_CHARS)?;
            req_payload(map, "payload", path).map(drop)
        }
        "phone_number" => {
            req_string(map, "title", path, MAX_BUTTON_TITLE_CHARS)?;
            let number = member(map, "payload").and_then(Value::as_str).unwrap_or_default();
            let digits = number.strip_prefix('+').filter(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
            match digits {
                Some(_) => Ok(()),
                None => Err(invalid(&child(path, "payload"), "must be a phone number: + and 7 to 15 digits, e.g. +15105551234")),
            }
        }
        "account_link" => {
            if member(map, "title").is_some() {
                return Err(invalid(&child(path, "title"), "is not allowed on an account_link button"));
            }
            validate_url(required(map, "url", path)?, &child(path, "url"), true).map(drop)
        }
        "account_unlink" => Ok(()),
        "game_play" => {
            req_string(map, "title", path, MAX_BUTTON_TITLE_CHARS)?;
            opt_string(map, "payload", path, MAX_PAYLOAD_CHARS)?;
            match member(map, "game_metadata") {
                Some(metadata) => object(metadata, &child(path, "game_metadata")).map(drop),
                None => Ok(()),
            }
        }
        "element_share" | "payment" | "nested" => Err(invalid(&type_path, format!("\"{kind}\" names a retired button type"))),
        other => Err(invalid(
            &type_path,
            format!("must be one of {{web_url, postback, phone_number, account_link, account_unlink, game_play}} - got \"{other}\""),
        )),
    }
}

fn validate_web_url(map: &Map<String, Value>, path: &str, with_title: bool) -> Result<(), Refusal> {
    validate_url(required(map, "url", path)?, &child(path, "url"), false)?;
    if with_title {
        req_string(map, "title", path, MAX_BUTTON_TITLE_CHARS)?;
    }
    one_of(map, "webview_height_ratio", path, &["compact", "tall", "full"])?;
    opt_bool(map, "messenger_extensions", path)?;
    opt_url(map, "fallback_url", path)?;
    one_of(map, "webview_share_button", path, &["hide"]).map(drop)
}

/// http(s) URL check used everywhere; `https_only` for account_link and whitelisted
/// domains, where plain http is still allowed on a loopback host, as browsers treat
/// those as secure (a business's site under development).
pub fn validate_url(value: &Value, path: &str, https_only: bool) -> Result<String, Refusal> {
    let wanted = if https_only { "an https URL" } else { "an http or https URL" };
    let url = value.as_str().ok_or_else(|| invalid(path, format!("must be {wanted}")))?;
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let (rest, plain_http) = if lower.starts_with("https://") {
        (&url[8..], false)
    } else if lower.starts_with("http://") {
        (&url[7..], true)
    } else {
        return Err(invalid(path, format!("must be {wanted} - got \"{url}\"")));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if plain_http && https_only && !is_loopback_authority(host) {
        return Err(invalid(path, format!("must be {wanted} - got \"{url}\"")));
    }
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(invalid(path, format!("must be {wanted} - got \"{url}\"")));
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid(path, format!("must be at most {MAX_URL_CHARS} characters")));
    }
    Ok(url.to_string())
}

/// `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "::1")
}

fn parse_quick_replies(value: &Value) -> Result<Vec<QuickReply>, Refusal> {
    let path = "message[quick_replies]";
    let items = array(value, path, 0, MAX_QUICK_REPLIES)?;
    items.iter().enumerate().map(|(i, item)| quick_reply(item, &child(path, i))).collect()
}

fn quick_reply(item: &Value, path: &str) -> Result<QuickReply, Refusal> {
    let map = object(item, path)?;
    let type_path = child(path, "content_type");
    let content_type = match member(map, "content_type") {
        None => "text",
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(invalid(&type_path, "must be a string")),
    };
    match content_type {
        "text" => {
            req_string(map, "title", path, MAX_BUTTON_TITLE_CHARS)?;
            req_payload(map, "payload", path)?;
            opt_url(map, "image_url", path)?;
        }
        // These take no title or payload; Meta ignores any sent, and so do we.
        "user_email" | "user_phone_number" => {}
        "location" => return Err(invalid(&type_path, "\"location\" names a retired quick reply: Meta removed location quick replies")),
        other => return Err(invalid(&type_path, format!("must be one of {{text, user_email, user_phone_number}} - got \"{other}\""))),
    }
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(match content_type {
        "user_email" => QuickReply { content_type: QuickReplyType::UserEmail, title: None, payload: None, image_url: None },
        "user_phone_number" => QuickReply { content_type: QuickReplyType::UserPhoneNumber, title: None, payload: None, image_url: None },
        _ => QuickReply { content_type: QuickReplyType::Text, title: text("title"), payload: text("payload"), image_url: text("image_url") },
    })
}

/// Meta's name for a reaction emoji (the `reaction.reaction` of a webhook); variation
/// selectors and skin tones are ignored.
pub fn reaction_name(emoji: &str) -> &'static str {
    let base: String = emoji.trim().chars().filter(|c| *c != '\u{FE0F}' && !('\u{1F3FB}'..='\u{1F3FF}').contains(c)).collect();
    match base.as_str() {
        "\u{2764}" => "love",
        "😆" | "😄" | "😊" | "🙂" | "😀" => "smile",
        "😠" | "😡" => "angry",
        "😢" | "😭" => "sad",
        "😮" | "😯" => "wow",
        "👍" => "like",
        "👎" => "dislike",
        _ => "other",
    }
}

// Readers shared with the Messenger profile: each refusal names the field by path.

/// `(#100) Param <path> <problem>`.
pub(crate) fn invalid(path: &str, problem: impl fmt::Display) -> Refusal {
    Refusal::invalid_param(format!("Param {path} {problem}"))
}

/// `path[key]`, Meta's way of naming a nested param.
pub(crate) fn child(path: &str, key: impl fmt::Display) -> String {
    format!("{path}[{key}]")
}

pub(crate) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Refusal> {
    value.as_object().ok_or_else(|| invalid(path, "must be an object"))
}

/// A member that is present and not null (SDKs send `null` for "unset").
pub(crate) fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

pub(crate) fn required<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, Refusal> {
    member(map, key).ok_or_else(|| invalid(&child(path, key), "is required"))
}

/// An array of `min..=max` items. Past `max`, the refusal names the first item too many.
pub(crate) fn array<'a>(value: &'a Value, path: &str, min: usize, max: usize) -> Result<&'a [Value], Refusal> {
    let items = value.as_array().ok_or_else(|| invalid(path, "must be an array"))?;
    if items.len() > max {
        return Err(invalid(&child(path, max), format!("is one too many: {path} takes at most {max} items, got {}", items.len())));
    }
    if items.len() < min {
        return Err(invalid(path, format!("must have at least {min} item(s)")));
    }
    Ok(items)
}

/// An optional string of at most `max` characters.
pub(crate) fn opt_string<'a>(map: &'a Map<String, Value>, key: &str, path: &str, max: usize) -> Result<Option<&'a str>, Refusal> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s)),
        Some(Value::String(_)) => Err(invalid(&child(path, key), format!("must be at most {max} characters"))),
        Some(_) => Err(invalid(&child(path, key), "must be a string")),
    }
}

/// A required, non-blank string of at most `max` characters.
pub(crate) fn req_string<'a>(map: &'a Map<String, Value>, key: &str, path: &str, max: usize) -> Result<&'a str, Refusal> {
    match opt_string(map, key, path, max)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(invalid(&child(path, key), "must be non-empty")),
        None => Err(invalid(&child(path, key), "is required")),
    }
}

/// A required postback-like payload: a non-empty string of at most 1000 characters.
pub(crate) fn req_payload<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, Refusal> {
    match opt_string(map, key, path, MAX_PAYLOAD_CHARS)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(&child(path, key), format!("is required: a non-empty string of at most {MAX_PAYLOAD_CHARS} characters"))),
    }
}

/// An optional string from a closed set.
pub(crate) fn one_of<'a>(map: &'a Map<String, Value>, key: &str, path: &str, allowed: &[&str]) -> Result<Option<&'a str>, Refusal> {
    match member(map, key) {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s)),
        Some(other) => Err(invalid(&child(path, key), format!("must be one of {{{}}} - got {other}", allowed.join(", ")))),
    }
}

/// A boolean as SDKs send it: `true`/`false`, `"true"`/`"false"`, `1`/`0`.
pub(crate) fn bool_like(value: &Value, path: &str) -> Result<bool, Refusal> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_u64().filter(|n| *n <= 1).map(|n| n == 1),
        Value::String(s) => match s.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| invalid(path, "must be a boolean"))
}

pub(crate) fn opt_bool(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, Refusal> {
    member(map, key).map(|value| bool_like(value, &child(path, key))).transpose()
}

fn opt_url(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, Refusal> {
    member(map, key).map(|url| validate_url(url, &child(path, key), false)).transpose()
}

/// A JSON number, or a string holding one (form-encoding SDKs send amounts as text).
fn number(value: &Value, path: &str) -> Result<f64, Refusal> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
    .ok_or_else(|| invalid(path, "must be a number"))
}

fn opt_number(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, Refusal> {
    member(map, key).map(|value| number(value, &child(path, key))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(message: Value) -> Result<OutgoingMessage, Refusal> {
        parse_message(message.as_object().unwrap())
    }

    /// The refusal's message, asserting it is a plain 100.
    fn refused(message: Value) -> String {
        let refusal = parse(message).unwrap_err();
        assert_eq!((refusal.code, refusal.subcode, refusal.status), (100, None, 400), "{refusal:?}");
        refusal.message
    }

    fn attachment(message: Value) -> Attachment {
        parse(message).unwrap().attachment.unwrap()
    }

    fn template(payload: Value) -> Value {
        json!({"attachment": {"type": "template", "payload": payload}})
    }

    fn generic(elements: Value) -> Value {
        template(json!({"template_type": "generic", "elements": elements}))
    }

    fn button_template(buttons: Value) -> Value {
        template(json!({"template_type": "button", "text": "Next?", "buttons": buttons}))
    }

    fn postback(title: &str) -> Value {
        json!({"type": "postback", "title": title, "payload": "P"})
    }

    fn button(value: Value) -> Result<(), Refusal> {
        validate_button(&value, "b")
    }

    #[test]
    fn text_limits_and_metadata() {
        let message = parse(json!({"text": "é".repeat(MAX_TEXT_CHARS), "metadata": "m".repeat(MAX_METADATA_CHARS)})).unwrap();
        assert_eq!(message.text.unwrap().chars().count(), MAX_TEXT_CHARS, "characters, not bytes");
        assert_eq!(message.metadata.unwrap().len(), MAX_METADATA_CHARS);
        assert!(message.attachment.is_none() && message.quick_replies.is_empty());
        assert!(refused(json!({"text": "a".repeat(MAX_TEXT_CHARS + 1)})).contains("message[text]"));
        assert!(refused(json!({"text": "x", "metadata": "m".repeat(MAX_METADATA_CHARS + 1)})).contains("message[metadata]"));
        refused(json!({"text": " \n "}));
        refused(json!({"text": 5}));
        refused(json!({"metadata": "m"}));
        refused(json!({}));
    }

    #[test]
    fn text_and_attachment_are_exclusive() {
        let both = json!({"text": "x", "attachment": {"type": "image", "payload": {"url": "https://e.com/a.png"}}});
        assert!(refused(both).contains("Only one of text or attachment"));
        assert!(parse(json!({"text": "x", "attachment": null})).is_ok(), "null is absent");
    }

    #[test]
    fn a_sticker_is_the_whole_message() {
        let like = crate::stickers::sticker(crate::stickers::LIKE).unwrap();
        assert_eq!(attachment(json!({"sticker_id": 369239263222822u64})), Attachment::Sticker(like));
        assert_eq!(attachment(json!({"sticker_id": "369239263222822", "quick_replies": [{"title": "A", "payload": "A"}]})), Attachment::Sticker(like));
        assert!(refused(json!({"sticker_id": 369239263222822u64, "text": "x"})).contains("Only one of text, attachment or sticker_id"));
        assert!(refused(json!({"sticker_id": 369239263222822u64, "attachment": {"type": "image"}})).contains("sticker_id"));
        assert_eq!(parse(json!({"sticker_id": 42})).unwrap_err().code, 100);
        assert!(refused(json!({"sticker_id": "like"})).contains("message[sticker_id]"));
        assert!(parse(json!({"text": "x", "sticker_id": null})).is_ok(), "null is absent");
    }

    #[test]
    fn media_attachments() {
        let media = |payload: Value| json!({"attachment": {"type": "video", "payload": payload}});
        assert_eq!(
            attachment(media(json!({"url": "https://e.com/v.mp4", "is_reusable": "true"}))),
            Attachment::Media { kind: MediaKind::Video, source: MediaSource::Url("https://e.com/v.mp4".into()), is_reusable: true }
        );
        assert_eq!(
            attachment(media(json!({"attachment_id": 1857777774821032u64, "is_reusable": true}))),
            Attachment::Media { kind: MediaKind::Video, source: MediaSource::AttachmentId("1857777774821032".into()), is_reusable: false },
            "a number becomes a string; is_reusable is ignored with an attachment_id"
        );
        assert_eq!(attachment(media(json!({"is_reusable": 1}))), Attachment::Media { kind: MediaKind::Video, source: MediaSource::Upload, is_reusable: true });
        assert_eq!(attachment(media(json!({"is_reusable": 0}))), Attachment::Media { kind: MediaKind::Video, source: MediaSource::Upload, is_reusable: false });
        assert!(refused(media(json!({"url": "https://e.com/v", "attachment_id": "1"}))).contains("not both"));
        assert!(refused(media(json!({"attachment_id": "12ab"}))).contains("message[attachment][payload][attachment_id]"));
        assert!(refused(media(json!({"url": "ftp://e.com/v"}))).contains("message[attachment][payload][url]"));
        refused(media(json!({"is_reusable": "yes"})));
        let url_at_limit = format!("http://e.com/{}", "a".repeat(MAX_URL_CHARS - 13));
        assert!(parse(media(json!({"url": url_at_limit}))).is_ok());
        assert!(refused(media(json!({"url": format!("{url_at_limit}a")}))).contains("at most 2000"));
        for kind in ["image", "audio", "video", "file"] {
            assert_eq!(MediaKind::parse(kind).unwrap().as_str(), kind);
        }
        assert!(refused(json!({"attachment": {"type": "sticker", "payload": {}}})).contains("message[attachment][type]"));
    }

    #[test]
    fn urls() {
        let ok = |url: &str, https_only| validate_url(&json!(url), "u", https_only);
        assert_eq!(ok("HTTPS://example.com/x?y#z", true).unwrap(), "HTTPS://example.com/x?y#z");
        assert!(ok("http://example.com", false).is_ok());
        assert!(ok("http://example.com", true).is_err());
        for loopback in ["http://localhost:3000/authorize", "http://127.0.0.1:8080", "http://[::1]:9/x"] {
            assert!(ok(loopback, true).is_ok(), "{loopback}: a site under development may use plain http");
        }
        assert!(ok("http://127.0.0.1.example.com", true).is_err());
        for bad in ["https://", "https:///path", "example.com", "https://ex ample.com", "javascript:alert(1)"] {
            assert!(ok(bad, false).is_err(), "{bad}");
        }
        assert!(validate_url(&json!(5), "u", false).is_err());
    }

    #[test]
    fn generic_template() {
        let element = json!({"title": "Welcome!", "subtitle": "Hats", "image_url": "https://e.com/hat.jpg",
            "default_action": {"type": "web_url", "url": "https://e.com", "webview_height_ratio": "tall"},
            "buttons": [{"type": "web_url", "url": "https://e.com", "title": "View Website"}, postback("Start Chatting")]});
        let message = template(json!({"template_type": "generic", "image_aspect_ratio": "square", "sharable": false, "elements": [element.clone()]}));
        match attachment(message.clone()) {
            Attachment::Template { template_type, payload } => {
                assert_eq!(template_type.as_str(), "generic");
                assert_eq!(payload, message["attachment"]["payload"], "payload as sent");
            }
            other => panic!("{other:?}"),
        }
        let elements = |n: usize| Value::Array(vec![element.clone(); n]);
        assert!(parse(generic(elements(MAX_GENERIC_ELEMENTS))).is_ok());
        assert!(refused(generic(elements(MAX_GENERIC_ELEMENTS + 1))).contains("Param message[attachment][payload][elements][10] "));
        assert!(refused(generic(elements(0))).contains("message[attachment][payload][elements]"));
        let with = |key: &str, value: Value| {
            let mut element = element.clone();
            element[key] = value;
            generic(json!([element]))
        };
        assert!(parse(with("title", json!("t".repeat(MAX_ELEMENT_TITLE_CHARS)))).is_ok());
        assert!(refused(with("title", json!("t".repeat(MAX_ELEMENT_TITLE_CHARS + 1)))).contains("[elements][0][title]"));
        assert!(refused(with("title", json!(" "))).contains("[elements][0][title]"));
        assert!(parse(with("subtitle", json!("s".repeat(MAX_ELEMENT_TITLE_CHARS)))).is_ok());
        assert!(refused(with("subtitle", json!("s".repeat(MAX_ELEMENT_TITLE_CHARS + 1)))).contains("[elements][0][subtitle]"));
        assert!(refused(with("image_url", json!("nope"))).contains("[elements][0][image_url]"));
        assert!(parse(with("buttons", json!([postback("a"), postback("b"), postback("c")]))).is_ok());
        assert!(refused(with("buttons", json!([postback("a"), postback("b"), postback("c"), postback("d")]))).contains("[elements][0][buttons][3]"));
        assert!(refused(with("buttons", json!([postback(&"t".repeat(21))]))).contains("[elements][0][buttons][0][title]"));
        let titled = json!({"type": "web_url", "url": "https://e.com", "title": "Go"});
        assert!(refused(with("default_action", titled)).contains("[default_action][title]"));
        assert!(refused(with("default_action", json!({"type": "postback", "url": "https://e.com"}))).contains("[default_action][type]"));
        assert!(refused(generic(json!([{"title": "Only a title"}]))).contains("besides title"));
        assert!(parse(generic(json!([{"title": "T", "default_action": {"type": "web_url", "url": "https://e.com"}}]))).is_ok());
        let payload = |key: &str, value: Value| template(json!({"template_type": "generic", "elements": [element.clone()], key: value}));
        assert!(parse(payload("image_aspect_ratio", json!("horizontal"))).is_ok());
        assert!(refused(payload("image_aspect_ratio", json!("round"))).contains("[image_aspect_ratio]"));
        assert!(refused(payload("sharable", json!("maybe"))).contains("[sharable]"));
    }

    #[test]
    fn button_template_limits() {
        let with_text = |text: String| template(json!({"template_type": "button", "text": text, "buttons": [postback("Go")]}));
        assert!(parse(with_text("t".repeat(MAX_BUTTON_TEMPLATE_TEXT_CHARS))).is_ok());
        assert!(refused(with_text("t".repeat(MAX_BUTTON_TEMPLATE_TEXT_CHARS + 1))).contains("message[attachment][payload][text]"));
        assert!(refused(template(json!({"template_type": "button", "buttons": [postback("Go")]}))).contains("[payload][text] is required"));
        assert!(parse(button_template(json!([postback("a"), postback("b"), postback("c")]))).is_ok());
        assert!(refused(button_template(json!([postback("a"), postback("b"), postback("c"), postback("d")]))).contains("[payload][buttons][3]"));
        assert!(refused(button_template(json!([]))).contains("at least 1"));
    }

    #[test]
    fn media_template() {
        let media = |element: Value| template(json!({"template_type": "media", "elements": [element]}));
        assert!(parse(media(json!({"media_type": "image", "attachment_id": "1857777774821032"}))).is_ok());
        assert!(parse(media(json!({"media_type": "video", "url": "https://www.facebook.com/x/videos/1"}))).is_ok());
        let buttons = |n: usize| media(json!({"media_type": "image", "attachment_id": "1", "buttons": vec![postback("b"); n]}));
        assert!(parse(buttons(3)).is_ok());
        assert!(refused(buttons(4)).contains("[elements][0][buttons][3]"));
        assert!(refused(media(json!({"media_type": "audio", "attachment_id": "1"}))).contains("[elements][0][media_type]"));
        assert!(refused(media(json!({"attachment_id": "1"}))).contains("[elements][0][media_type] is required"));
        refused(media(json!({"media_type": "image"})));
        refused(media(json!({"media_type": "image", "attachment_id": "1", "url": "https://e.com"})));
        let element = json!({"media_type": "image", "attachment_id": "1"});
        assert!(refused(template(json!({"template_type": "media", "elements": [element.clone(), element]}))).contains("[elements][1]"));
    }

    #[test]
    fn receipt_template() {
        let receipt = json!({"template_type": "receipt", "recipient_name": "Stephane Crozatier", "order_number": "12345678902",
            "currency": "USD", "payment_method": "Visa 2345", "order_url": "https://example.com/o/1", "timestamp": "1428444852",
            "address": {"street_1": "1 Hacker Way", "street_2": "", "city": "Menlo Park", "postal_code": "94025", "state": "CA", "country": "US"},
            "summary": {"subtotal": 75.00, "shipping_cost": 4.95, "total_tax": 6.19, "total_cost": 56.14},
            "adjustments": [{"name": "New Customer Discount", "amount": 20}],
            "elements": [{"title": "Classic White T-Shirt", "quantity": 2, "price": 50, "currency": "USD", "image_url": "https://e.com/s.png"}]});
        assert!(parse(template(receipt.clone())).is_ok());
        let with = |pointer: &str, value: Option<Value>| {
            let mut receipt = receipt.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = receipt.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match value {
                Some(value) => parent.insert(key.into(), value),
                None => parent.remove(key),
            };
            template(receipt)
        };
        for key in ["recipient_name", "order_number", "currency", "payment_method", "summary"] {
            assert!(refused(with(&format!("/{key}"), None)).contains(&format!("[payload][{key}] is required")));
        }
        assert!(refused(with("/summary/total_cost", None)).contains("[summary][total_cost] is required"));
        assert!(refused(with("/summary/total_cost", Some(json!("lots")))).contains("[summary][total_cost] must be a number"));
        assert!(parse(with("/summary/total_cost", Some(json!("56.14")))).is_ok(), "numbers as text");
        assert!(refused(with("/currency", Some(json!("usd")))).contains("[currency]"));
        refused(with("/currency", Some(json!("USDT"))));
        assert!(refused(with("/order_url", Some(json!("nope")))).contains("[order_url]"));
        assert!(parse(with("/timestamp", Some(json!(1428444852)))).is_ok());
        refused(with("/timestamp", Some(json!({}))));
        for key in ["street_1", "city", "postal_code", "state", "country"] {
            assert!(refused(with(&format!("/address/{key}"), None)).contains(&format!("[address][{key}]")));
        }
        assert!(parse(with("/address", None)).is_ok(), "address is optional");
        assert!(refused(with("/adjustments/0/amount", Some(json!("a lot")))).contains("[adjustments][0][amount]"));
        assert!(refused(with("/adjustments/0/name", None)).contains("[adjustments][0][name]"));
        assert!(refused(with("/elements/0/title", None)).contains("[elements][0][title]"));
        assert!(refused(with("/elements/0/price", None)).contains("[elements][0][price]"));
        assert!(refused(with("/elements/0/quantity", Some(json!(1.5)))).contains("[elements][0][quantity]"));
        assert!(refused(with("/elements/0/currency", Some(json!("EU")))).contains("[elements][0][currency]"));
        let item = json!({"title": "T", "price": 1});
        assert!(parse(with("/elements", Some(Value::Array(vec![item.clone(); MAX_RECEIPT_ELEMENTS])))).is_ok());
        assert!(refused(with("/elements", Some(Value::Array(vec![item; MAX_RECEIPT_ELEMENTS + 1])))).contains("[elements][100]"));
    }

    #[test]
    fn retired_and_unknown_templates() {
        assert!(refused(template(json!({"template_type": "list", "elements": []}))).contains("retired"));
        assert!(refused(template(json!({"template_type": "open_graph"}))).contains("2019"));
        let unknown = refused(template(json!({"template_type": "airline_boardingpass"})));
        assert!(unknown.contains("generic, button, media, receipt") && unknown.contains("[template_type]"), "{unknown}");
        assert!(refused(json!({"attachment": {"type": "template", "payload": {}}})).contains("[template_type] is required"));
    }

    #[test]
    fn one_time_notification_requests() {
        let otn = |title: &str, payload: &str| template(json!({"template_type": "one_time_notif_req", "title": title, "payload": payload}));
        assert_eq!(attachment(otn("Back in stock?", "SKU_42")), Attachment::OneTimeNotifRequest { title: "Back in stock?".into(), payload: "SKU_42".into() });
        assert!(parse(otn(&"t".repeat(MAX_OTN_TITLE_CHARS), &"p".repeat(MAX_PAYLOAD_CHARS))).is_ok());
        assert!(refused(otn(&"t".repeat(MAX_OTN_TITLE_CHARS + 1), "x")).contains("[payload][title]"));
        assert!(refused(otn("ok", &"p".repeat(MAX_PAYLOAD_CHARS + 1))).contains("[payload][payload]"));
        refused(otn("ok", ""));
        refused(otn(" ", "x"));
    }

    #[test]
    fn recurring_notification_opt_ins() {
        let optin = |extra: Value| {
            let mut payload = json!({"template_type": "notification_messages", "title": "Daily deals", "payload": "DEALS",
                "notification_messages_frequency": "WEEKLY"});
            payload.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            template(payload)
        };
        let message = optin(json!({"notification_messages_cta_text": "ALLOW", "image_url": "https://e.com/d.png"}));
        match attachment(message.clone()) {
            Attachment::RecurringOptinRequest { frequency, title, payload, template } => {
                assert_eq!((frequency, title.as_str(), payload.as_str()), (NotificationFrequency::Weekly, "Daily deals", "DEALS"));
                assert_eq!(serde_json::to_value(&template).unwrap(), message["attachment"], "the attachment as sent");
            }
            other => panic!("{other:?}"),
        }
        refused(optin(json!({"notification_messages_frequency": "HOURLY"})));
        refused(optin(json!({"notification_messages_cta_text": "PLEASE"})));
        refused(optin(json!({"notification_messages_reoptin": "MAYBE"})));
        refused(optin(json!({"image_aspect_ratio": "horizontal"})));
        refused(optin(json!({"image_url": "ftp://x"})));
        refused(optin(json!({"title": "t".repeat(MAX_OTN_TITLE_CHARS + 1)})));
        assert!(parse(optin(json!({"title": "t".repeat(MAX_OTN_TITLE_CHARS)}))).is_ok());
    }

    #[test]
    fn web_url_buttons() {
        let web = |extra: Value| {
            let mut b = json!({"type": "web_url", "url": "https://e.com", "title": "Go"});
            b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            button(b)
        };
        assert!(web(json!({"webview_height_ratio": "full", "messenger_extensions": "true", "fallback_url": "https://e.com/f", "webview_share_button": "hide"})).is_ok());
        assert!(web(json!({"title": "t".repeat(MAX_BUTTON_TITLE_CHARS)})).is_ok());
        assert!(web(json!({"title": "t".repeat(MAX_BUTTON_TITLE_CHARS + 1)})).unwrap_err().message.contains("Param b[title]"));
        assert!(web(json!({"webview_height_ratio": "huge"})).unwrap_err().message.contains("b[webview_height_ratio]"));
        assert!(web(json!({"messenger_extensions": "sure"})).unwrap_err().message.contains("b[messenger_extensions]"));
        assert!(web(json!({"fallback_url": "e.com"})).unwrap_err().message.contains("b[fallback_url]"));
        assert!(web(json!({"webview_share_button": "show"})).unwrap_err().message.contains("b[webview_share_button]"));
        assert!(button(json!({"type": "web_url", "title": "Go"})).unwrap_err().message.contains("b[url] is required"));
        assert!(button(json!({"type": "web_url", "url": "https://e.com"})).unwrap_err().message.contains("b[title] is required"));
    }

    #[test]
    fn other_buttons() {
        assert!(button(json!({"type": "postback", "title": "t".repeat(20), "payload": "p".repeat(MAX_PAYLOAD_CHARS)})).is_ok());
        assert!(button(json!({"type": "postback", "title": "t", "payload": "p".repeat(MAX_PAYLOAD_CHARS + 1)})).unwrap_err().message.contains("b[payload]"));
        assert!(button(json!({"type": "postback", "title": "t"})).unwrap_err().message.contains("b[payload]"));
        assert!(button(json!({"type": "postback", "payload": "p"})).unwrap_err().message.contains("b[title]"));
        let phone = |number: &str| button(json!({"type": "phone_number", "title": "Call", "payload": number}));
        assert!(phone("+1234567").is_ok() && phone("+123456789012345").is_ok());
        for bad in ["+123456", "+1234567890123456", "15105551234", "+1 510 555 1234"] {
            assert!(phone(bad).unwrap_err().message.contains("b[payload]"), "{bad}");
        }
        assert!(button(json!({"type": "phone_number", "payload": "+15105551234"})).is_err(), "a title is required");
        assert!(button(json!({"type": "account_link", "url": "https://bank.example.com/authorize"})).is_ok());
        assert!(button(json!({"type": "account_link", "url": "http://bank.example.com/authorize"})).unwrap_err().message.contains("b[url]"));
        assert!(button(json!({"type": "account_link", "url": "https://b.com", "title": "Log in"})).unwrap_err().message.contains("b[title]"));
        assert!(button(json!({"type": "account_unlink"})).is_ok());
        assert!(button(json!({"type": "game_play", "title": "Play", "payload": "{}", "game_metadata": {"player_id": "1"}})).is_ok());
        assert!(button(json!({"type": "game_play", "title": "Play"})).is_ok(), "the payload is optional");
        assert!(button(json!({"type": "game_play", "title": "Play", "payload": "p".repeat(MAX_PAYLOAD_CHARS + 1)})).is_err());
        assert!(button(json!({"type": "game_play", "title": "Play", "game_metadata": "x"})).unwrap_err().message.contains("b[game_metadata]"));
        for retired in ["element_share", "payment", "nested"] {
            assert!(button(json!({"type": retired})).unwrap_err().message.contains("retired"), "{retired}");
        }
        assert!(button(json!({"type": "share"})).unwrap_err().message.contains("b[type] must be one of"));
        assert!(button(json!({"title": "x"})).unwrap_err().message.contains("b[type] is required"));
        assert!(button(json!("postback")).is_err());
        assert!(validate_buttons(&json!({}), "bs", 0, 3).is_err(), "an array");
    }

    #[test]
    fn quick_replies() {
        let text_reply = |title: &str| json!({"content_type": "text", "title": title, "payload": "P"});
        let with = |replies: Value| json!({"text": "Pick a color:", "quick_replies": replies});
        let message = parse(with(json!([{"title": "Red", "payload": "PICK_RED", "image_url": "http://e.com/red.png"}, {"content_type": "user_email"}, {"content_type": "user_phone_number"}]))).unwrap();
        assert_eq!(serde_json::to_value(&message.quick_replies[0]).unwrap(), json!({"content_type": "text", "title": "Red", "payload": "PICK_RED", "image_url": "http://e.com/red.png"}));
        assert_eq!(serde_json::to_value(&message.quick_replies[1]).unwrap(), json!({"content_type": "user_email"}));
        assert!(parse(with(Value::Array(vec![text_reply("r"); MAX_QUICK_REPLIES]))).is_ok());
        assert!(refused(with(Value::Array(vec![text_reply("r"); MAX_QUICK_REPLIES + 1]))).contains("Param message[quick_replies][13] "));
        assert!(parse(with(json!([text_reply(&"t".repeat(MAX_BUTTON_TITLE_CHARS))]))).is_ok());
        assert!(refused(with(json!([text_reply(&"t".repeat(MAX_BUTTON_TITLE_CHARS + 1))]))).contains("Param message[quick_replies][0][title]"));
        assert!(refused(with(json!([text_reply(" ")]))).contains("message[quick_replies][0][title]"));
        assert!(parse(with(json!([{"title": "t", "payload": "p".repeat(MAX_PAYLOAD_CHARS)}]))).is_ok());
        assert!(refused(with(json!([{"title": "t", "payload": "p".repeat(MAX_PAYLOAD_CHARS + 1)}]))).contains("[quick_replies][0][payload]"));
        assert!(refused(with(json!([{"title": "t", "payload": ""}]))).contains("[quick_replies][0][payload]"));
        assert!(refused(with(json!([{"title": "t"}]))).contains("[quick_replies][0][payload]"));
        assert!(refused(with(json!([{"title": "t", "payload": "p", "image_url": "x"}]))).contains("[quick_replies][0][image_url]"));
        assert!(refused(with(json!([text_reply("a"), {"content_type": "location"}]))).contains("[quick_replies][1][content_type]"));
        assert!(refused(with(json!([{"content_type": "location"}]))).contains("retired"));
        assert!(refused(with(json!([{"content_type": "emoji"}]))).contains("must be one of"));
        assert!(refused(json!({"quick_replies": [text_reply("a")]})).contains("requires message[text] or message[attachment]"));
        let with_attachment = json!({"attachment": {"type": "image", "payload": {"attachment_id": "1"}}, "quick_replies": [text_reply("a")]});
        assert_eq!(parse(with_attachment).unwrap().quick_replies.len(), 1);
        assert!(parse(with(json!([]))).unwrap().quick_replies.is_empty());
    }

    #[test]
    fn reactions_have_meta_names() {
        assert_eq!(reaction_name("❤"), "love");
        assert_eq!(reaction_name("❤️"), "love");
        for smile in ["😆", "😄", "😊", "🙂", "😀"] {
            assert_eq!(reaction_name(smile), "smile");
        }
        assert_eq!(reaction_name("😠"), "angry");
        assert_eq!(reaction_name("😡"), "angry");
        assert_eq!(reaction_name("😢"), "sad");
        assert_eq!(reaction_name("😭"), "sad");
        assert_eq!(reaction_name("😮"), "wow");
        assert_eq!(reaction_name("😯"), "wow");
        assert_eq!(reaction_name("👍"), "like");
        assert_eq!(reaction_name("👍🏽"), "like", "skin tones are ignored");
        assert_eq!(reaction_name("👎"), "dislike");
        assert_eq!(reaction_name("🎉"), "other");
        assert_eq!(reaction_name(""), "other");
    }
}
