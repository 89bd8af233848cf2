//! What a person's client is shown: messages in one shape wherever they appear (a
//! thread, the thread list, the live stream), threads, receipts, the welcome, the
//! person's own details.

use serde::{Deserialize, Serialize};
use switchboard_domain::*;

/// Who wrote a message, as the person's client labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Person,
    Page,
}

impl Author {
    pub fn of(direction: Direction) -> Self {
        match direction {
            Direction::Inbound => Self::Person,
            Direction::Outbound => Self::Page,
        }
    }
}

/// The persona a Page message was written as, as the person sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaView {
    pub id: String,
    pub name: String,
    pub profile_picture_url: String,
}

/// Each side's reaction to a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reactions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

impl Reactions {
    fn is_empty(&self) -> bool {
        self.person.is_none() && self.page.is_none()
    }
}

/// What the person did with a notification opt-in request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationState {
    pub accepted: bool,
    pub stopped: bool,
}

/// A message as the person's client shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub mid: Mid,
    /// `person` for the person's own messages, `page` for the Page's.
    pub from: Author,
    pub text: Option<String>,
    /// A media attachment or a template, as Meta shows it
    /// (`{"type":"image"|"template",...,"payload":{...}}`): the client renders it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<MessageAttachment>,
    /// Quick replies offered with the message; the client shows them while the
    /// message is the thread's latest.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub quick_replies: Vec<QuickReply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Mid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persona: Option<PersonaView>,
    #[serde(skip_serializing_if = "Reactions::is_empty", default)]
    pub reactions: Reactions,
    /// For a notification opt-in request: whether the person accepted it, or stopped it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notification: Option<NotificationState>,
    /// How many times the person edited it (absent: never); the clients mark it edited.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub edits: u32,
    /// The person's rating of a Page message: `good` or `bad`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub feedback: Option<switchboard_domain::messages::Feedback>,
    pub created_at: Millis,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

impl From<&Message> for MessageView {
    /// The view without its persona and opt-in state (those need the store: see
    /// `Core::message_view`).
    fn from(message: &Message) -> Self {
        Self {
            mid: message.mid.clone(),
            from: Author::of(message.direction),
            text: message.text.clone(),
            attachment: message.attachment.clone(),
            quick_replies: message.quick_replies.clone(),
            reply_to: message.reply_to.clone(),
            persona: None,
            reactions: Reactions { person: message.person_reaction.clone(), page: message.page_reaction.clone() },
            notification: None,
            edits: message.edits,
            feedback: message.feedback,
            created_at: message.created_at,
        }
    }
}

/// A thread as the person's client opens it.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadView {
    pub page: Page,
    pub messages: Vec<MessageView>,
    pub delivered_watermark: Millis,
    pub read_watermark: Millis,
    /// The Page has seen the person's messages sent before this.
    pub seen_watermark: Millis,
    /// The person linked their account on the business's site to this thread.
    pub account_linked: bool,
}

/// A thread as the person's thread list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadSummaryView {
    pub page: Page,
    pub last_message: Option<MessageView>,
    /// Page messages newer than the person's read watermark.
    pub unread: u32,
}

impl From<ThreadSummary> for ThreadSummaryView {
    fn from(summary: ThreadSummary) -> Self {
        Self { last_message: summary.last_message.as_ref().map(MessageView::from), page: summary.page, unread: summary.unread }
    }
}

/// A thread's receipts, after the person's client reported one.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptsView {
    pub last_person_at: Option<Millis>,
    pub delivered_watermark: Millis,
    pub read_watermark: Millis,
    pub seen_watermark: Millis,
}

impl From<ThreadState> for ReceiptsView {
    fn from(state: ThreadState) -> Self {
        Self {
            last_person_at: state.last_person_at,
            delivered_watermark: state.delivered_watermark,
            read_watermark: state.read_watermark,
            seen_watermark: state.seen_watermark,
        }
    }
}

/// What the person's client shows on the Page's thread before and around it.
#[derive(Debug, Clone, Serialize)]
pub struct Welcome {
    pub page: Page,
    /// No message yet: the client shows the greeting and the Get Started button.
    pub new_thread: bool,
    /// The greeting for the person's locale, personalized.
    pub greeting: Option<String>,
    /// The Page has a Get Started button.
    pub get_started: bool,
    /// The persistent menu for the person's locale.
    pub persistent_menu: Option<serde_json::Value>,
    /// The ice breakers for the person's locale: `[{"question","payload"}]`.
    pub ice_breakers: Vec<serde_json::Value>,
}

/// What a person tells Pages about themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonDetails {
    pub locale: String,
    pub timezone: f64,
    pub gender: Option<String>,
}

impl From<switchboard_store::PersonProfile> for PersonDetails {
    fn from(profile: switchboard_store::PersonProfile) -> Self {
        Self { locale: profile.locale, timezone: profile.timezone, gender: profile.gender }
    }
}

/// `{"access_token", "person"}`: a person signed in.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub access_token: String,
    pub person: PersonView,
}

/// A person as the APIs show one: `{"id","name","login"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub login: String,
}

impl From<&Person> for PersonView {
    fn from(person: &Person) -> Self {
        Self { id: person.id.0, name: person.name.clone(), login: person.login.clone() }
    }
}

impl From<Person> for PersonView {
    fn from(person: Person) -> Self {
        Self::from(&person)
    }
}

/// The person's verified phone number: `{"phone_number", "verified_at"}`, or
/// `{"phone_number": null}`.
#[derive(Debug, Clone, Serialize)]
pub struct PhoneView {
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Millis>,
}

impl From<Option<(String, Millis)>> for PhoneView {
    fn from(phone: Option<(String, Millis)>) -> Self {
        match phone {
            Some((number, at)) => Self { phone_number: Some(number), verified_at: Some(at) },
            None => Self { phone_number: None, verified_at: None },
        }
    }
}
