//! What a person may do with a message once it is sent: edit the text of one of
//! their own (within 15 minutes, at most five times, as Messenger's clients allow),
//! and rate one of the Page's (thumbs up or down: `response_feedback`). The limit of
//! a person's text lives here too, since writing and editing share it, and so does
//! what a location pin the person shares may hold.

use crate::{AttachmentType, Direction, Message, MessageAttachment, Millis, Refusal};
use serde::{Deserialize, Serialize};

/// Longest text a person may send, in characters (Messenger's own client limit).
pub const MAX_PERSON_TEXT_CHARS: usize = 20_000;
/// How long after sending a message its author may still edit it.
pub const EDIT_WINDOW_MS: Millis = 15 * 60 * 1000;
/// How many times one message may be edited.
pub const MAX_EDITS: u32 = 5;

/// A person's text: not blank, and within [`MAX_PERSON_TEXT_CHARS`].
pub fn person_text(text: &str) -> Result<(), Refusal> {
    if text.trim().is_empty() {
        return Err(Refusal::invalid_param("text must be non-empty"));
    }
    if text.chars().count() > MAX_PERSON_TEXT_CHARS {
        return Err(Refusal::invalid_param(format!("text must be at most {MAX_PERSON_TEXT_CHARS} characters")));
    }
    Ok(())
}

/// A location pin the person shares: `lat` in [-90, 90] and `long` in [-180, 180],
/// both finite. Answers the attachment in Meta's legacy shape (reference §
/// attachments): `{"type":"location","payload":{"coordinates":{"lat","long"}}}`.
pub fn shared_location(lat: f64, long: f64) -> Result<MessageAttachment, Refusal> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Refusal::invalid_param("location.lat must be a number from -90 to 90"));
    }
    if !long.is_finite() || !(-180.0..=180.0).contains(&long) {
        return Err(Refusal::invalid_param("location.long must be a number from -180 to 180"));
    }
    let payload = serde_json::json!({"coordinates": {"lat": lat, "long": long}});
    Ok(MessageAttachment { kind: AttachmentType::Location, payload })
}

/// Whether the person may change `message` (a message of their thread) to `text`
/// at `now`: only their own text messages, within [`EDIT_WINDOW_MS`] of sending,
/// at most [`MAX_EDITS`] times. Answers the edit's number (`num_edit`).
pub fn may_edit(message: &Message, text: &str, now: Millis) -> Result<u32, Refusal> {
    if message.direction != Direction::Inbound {
        return Err(Refusal::invalid_param("Only your own messages can be edited"));
    }
    if message.text.is_none() || message.attachment.is_some() {
        return Err(Refusal::invalid_param("Only text messages can be edited"));
    }
    if now.saturating_sub(message.created_at) > EDIT_WINDOW_MS {
        return Err(Refusal::invalid_param("A message can be edited only within 15 minutes of sending it"));
    }
    if message.edits >= MAX_EDITS {
        return Err(Refusal::invalid_param(format!("A message can be edited at most {MAX_EDITS} times")));
    }
    person_text(text)?;
    Ok(message.edits + 1)
}

/// A person's rating of a Page's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feedback {
    /// Thumbs up.
    Good,
    /// Thumbs down.
    Bad,
}

impl Feedback {
    pub const ALL: [Feedback; 2] = [Self::Good, Self::Bad];

    /// As the person API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Bad => "bad",
        }
    }

    /// `good` or `bad`, or Meta's own words.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        match text {
            "good" | "Good response" => Ok(Self::Good),
            "bad" | "Bad response" => Ok(Self::Bad),
            _ => Err(Refusal::invalid_param("feedback must be \"good\" or \"bad\"")),
        }
    }

    /// The webhook's `response_feedback.feedback`.
    pub fn meta_text(self) -> &'static str {
        match self {
            Self::Good => "Good response",
            Self::Bad => "Bad response",
        }
    }
}

/// Whether the person may rate `message` (a message of their thread): only the
/// Page's messages; a new rating replaces the last.
pub fn may_rate(message: &Message) -> Result<(), Refusal> {
    if message.direction != Direction::Outbound {
        return Err(Refusal::invalid_param("Only the Page's messages can be rated"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageAttachment, Mid, PageId, PersonId};

    fn sent(direction: Direction, at: Millis) -> Message {
        Message { text: Some("hi".into()), ..Message::new(Mid("m_1".into()), PageId("1".into()), PersonId(2), direction, None, at) }
    }

    #[test]
    fn the_person_edits_their_own_text_five_times_within_fifteen_minutes() {
        let mut message = sent(Direction::Inbound, 1_000);
        assert_eq!(may_edit(&message, "hello", 1_000 + EDIT_WINDOW_MS), Ok(1));
        assert!(may_edit(&message, "hello", 1_001 + EDIT_WINDOW_MS).unwrap_err().message.contains("15 minutes"));
        message.edits = 4;
        assert_eq!(may_edit(&message, "hello", 2_000), Ok(5));
        message.edits = 5;
        assert!(may_edit(&message, "hello", 2_000).unwrap_err().message.contains("at most 5"));
    }

    #[test]
    fn edits_are_refused_for_pages_messages_attachments_and_bad_text() {
        assert!(may_edit(&sent(Direction::Outbound, 0), "x", 1).unwrap_err().message.contains("own messages"));
        let picture = Message { text: None, attachment: Some(MessageAttachment::template(serde_json::json!({}))), ..sent(Direction::Inbound, 0) };
        assert!(may_edit(&picture, "x", 1).unwrap_err().message.contains("text messages"));
        assert!(may_edit(&sent(Direction::Inbound, 0), "  ", 1).unwrap_err().message.contains("non-empty"));
        assert!(may_edit(&sent(Direction::Inbound, 0), &"a".repeat(MAX_PERSON_TEXT_CHARS + 1), 1).is_err());
        assert_eq!(may_edit(&sent(Direction::Inbound, 0), &"é".repeat(MAX_PERSON_TEXT_CHARS), 1), Ok(1));
    }

    #[test]
    fn a_location_pin_is_finite_and_on_the_globe() {
        let pin = shared_location(-33.8568, 151.2153).unwrap();
        assert_eq!(serde_json::to_value(&pin).unwrap(), serde_json::json!({"type": "location", "payload": {"coordinates": {"lat": -33.8568, "long": 151.2153}}}));
        assert!(shared_location(90.0, -180.0).is_ok());
        assert!(shared_location(90.5, 0.0).unwrap_err().message.contains("location.lat"));
        assert!(shared_location(f64::NAN, 0.0).unwrap_err().message.contains("location.lat"));
        assert!(shared_location(0.0, 180.01).unwrap_err().message.contains("location.long"));
        assert_eq!(shared_location(0.0, f64::INFINITY).unwrap_err().code, 100);
    }

    #[test]
    fn only_pages_messages_are_rated_in_metas_words() {
        assert!(may_rate(&sent(Direction::Outbound, 0)).is_ok());
        assert_eq!(may_rate(&sent(Direction::Inbound, 0)).unwrap_err().code, 100);
        assert_eq!(Feedback::parse("good").unwrap().meta_text(), "Good response");
        assert_eq!(Feedback::parse("Bad response").unwrap().meta_text(), "Bad response");
        assert!(Feedback::parse("meh").is_err());
    }
}
