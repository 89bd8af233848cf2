//! The entities every face talks about. Plain data: rules that use them live beside
//! them in this crate, storage in `store`.

use crate::{AppId, Millis, Mid, PageId, PersonId, WebhookField};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    /// What the person signs in with; unique.
    pub login: String,
}

impl Person {
    /// The first word of the name, and the rest (what Graph shows as first and last name).
    pub fn first_and_last(&self) -> (&str, &str) {
        self.name.split_once(' ').unwrap_or((&self.name, ""))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub id: PageId,
    pub name: String,
    /// Unique, lowercase; what `m.me`-style links name.
    pub username: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppMode {
    Development,
    Live,
}

impl AppMode {
    pub const ALL: [AppMode; 2] = [Self::Development, Self::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Live => "live",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: AppId,
    pub name: String,
    pub mode: AppMode,
    /// Bumped to reset the secret; the secret itself is derived, never stored.
    pub secret_generation: u32,
    /// When set, every Graph call with this app's tokens must carry `appsecret_proof`.
    pub require_proof: bool,
    /// The permissions App Review approved (Advanced Access); kept with the reviews.
    pub approved: crate::Scopes,
    /// Where the operator's policy enforcement left the app; loaded with it (and so
    /// cached with every token of it), so the Send API checks a block for free.
    #[serde(default)]
    pub policy: PolicyState,
}

/// An app's standing under the Messenger Platform's policies (`messaging_policy_enforcement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyState {
    #[default]
    Clear,
    Warned,
    /// Its messaging writes are refused (10/1893063) until the operator unblocks it.
    Blocked,
}

impl PolicyState {
    pub const ALL: [PolicyState; 3] = [Self::Clear, Self::Warned, Self::Blocked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Warned => "warned",
            Self::Blocked => "blocked",
        }
    }
}

/// What the operator does to an app for policy, by Meta's webhook names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    Warning,
    Block,
    Unblock,
}

impl PolicyAction {
    pub const ALL: [PolicyAction; 3] = [Self::Warning, Self::Block, Self::Unblock];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Block => "block",
            Self::Unblock => "unblock",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The state the action leads to from `from`: a warning leaves a block in place;
    /// blocking a blocked app or unblocking one that is not blocked is refused, so
    /// that every action the app hears of changed something.
    pub fn apply(self, from: PolicyState) -> Result<PolicyState, crate::Refusal> {
        match (self, from) {
            (Self::Warning, PolicyState::Blocked) => Ok(PolicyState::Blocked),
            (Self::Warning, _) => Ok(PolicyState::Warned),
            (Self::Block, PolicyState::Blocked) => Err(crate::Refusal::invalid_param("The app is blocked already")),
            (Self::Block, _) => Ok(PolicyState::Blocked),
            (Self::Unblock, PolicyState::Blocked) => Ok(PolicyState::Clear),
            (Self::Unblock, _) => Err(crate::Refusal::invalid_param("The app is not blocked")),
        }
    }
}

/// The longest reason the operator may give (it travels in every webhook).
pub const MAX_POLICY_REASON: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppRole {
    Administrator,
    Developer,
    Tester,
}

impl AppRole {
    pub const ALL: [AppRole; 3] = [Self::Administrator, Self::Developer, Self::Tester];

    /// A role as the console names it (`admin` too, for administrator).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "administrator" | "admin" => Some(Self::Administrator),
            "developer" => Some(Self::Developer),
            "tester" => Some(Self::Tester),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Developer => "developer",
            Self::Tester => "tester",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageRole {
    /// Changes the Page's settings, its apps and roles; answers in the inbox.
    Admin,
    /// Answers people in the Page's inbox; changes nothing else.
    Agent,
}

impl PageRole {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }
}

/// What a bearer token stands for once it is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenGrant {
    /// A person's user access token for one app (what Facebook Login hands an app).
    User { person: PersonId, app: AppId },
    /// A Page access token: the app acts for the Page, on behalf of the admin who
    /// granted it.
    Page { page: PageId, app: AppId, person: PersonId },
    /// A person's own session in the web messenger, person API and console.
    Session { person: PersonId },
    /// The operator of this Switchboard installation.
    Operator,
}

/// A stored token: only its SHA-256 digest is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub hash: String,
    pub grant: TokenGrant,
    pub issued_at: Millis,
    /// `None` for tokens that do not expire (long-lived Page tokens, sessions).
    pub expires_at: Option<Millis>,
}

/// An app's webhook for `object=page`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSubscription {
    pub app: AppId,
    pub object: String,
    /// Empty when the app has none: its events wait for a listener (`switchboard
    /// listen`) or a poller.
    pub callback_url: String,
    pub verify_token: String,
    pub fields: Vec<WebhookField>,
    /// The Graph version the fields were subscribed with.
    pub version: String,
    pub active: bool,
    pub delivery: DeliveryMode,
}

impl AppSubscription {
    /// Whether a dispatcher POSTs the app's events: only to a callback URL, and only
    /// when the app does not pull them.
    pub fn is_pushed(&self) -> bool {
        self.delivery == DeliveryMode::Webhook && !self.callback_url.is_empty()
    }
}

/// How an app's events reach it (a Switchboard extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// POSTed to the callback URL, or to a listener while one is connected.
    Webhook,
    /// Taken by the app itself through `GET /{app-id}/updates`; never POSTed.
    Pull,
}

impl DeliveryMode {
    pub const ALL: [DeliveryMode; 2] = [Self::Webhook, Self::Pull];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Pull => "pull",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// An app installed on a Page with the fields it wants from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageSubscription {
    pub page: PageId,
    pub app: AppId,
    pub fields: Vec<WebhookField>,
}

/// An app installed on a Page, with its role in the Handover Protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub app: AppId,
    pub role: Option<crate::ReceiverRole>,
}

/// Who controls a thread (the Handover Protocol): an app, or no one (idle); and,
/// while the Page Inbox has it, the person answering there, if one took it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadControlState {
    pub owner: Option<AppId>,
    pub since: Option<Millis>,
    pub agent: Option<PersonId>,
}

/// Who wrote a message in a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The person wrote to the Page.
    Inbound,
    /// The Page (through an app) wrote to the person.
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub mid: Mid,
    pub page: PageId,
    pub person: PersonId,
    pub direction: Direction,
    /// The sending app, for outbound messages.
    pub app: Option<AppId>,
    pub text: Option<String>,
    /// Echo-only metadata given at send time.
    pub metadata: Option<String>,
    /// The attachment, as Meta shows it (`{"type":"template","payload":{...}}`).
    pub attachment: Option<MessageAttachment>,
    /// Quick replies offered with the message (validated).
    pub quick_replies: Vec<QuickReply>,
    /// The message this one replies to.
    pub reply_to: Option<Mid>,
    /// The persona the Page wrote as.
    pub persona: Option<String>,
    /// The emoji the person reacted to this message with.
    pub person_reaction: Option<String>,
    /// The emoji the Page reacted to this message with.
    pub page_reaction: Option<String>,
    /// How many times the person edited this message of theirs (`messages::MAX_EDITS` at most).
    pub edits: u32,
    /// The person's rating of this Page message.
    pub feedback: Option<crate::messages::Feedback>,
    pub created_at: Millis,
    /// When this message opens its thread, the app the thread goes to (the
    /// Handover Protocol's routing; `None`: the thread starts idle). Not stored with
    /// the message: it becomes the thread's owner.
    pub opens_to: Option<AppId>,
}

impl Message {
    /// A message with nothing in it yet: callers set its text, attachment and the rest.
    pub fn new(mid: Mid, page: PageId, person: PersonId, direction: Direction, app: Option<AppId>, created_at: Millis) -> Self {
        Self {
            mid,
            page,
            person,
            direction,
            app,
            text: None,
            metadata: None,
            attachment: None,
            quick_replies: Vec::new(),
            reply_to: None,
            persona: None,
            person_reaction: None,
            page_reaction: None,
            edits: 0,
            feedback: None,
            created_at,
            opens_to: None,
        }
    }
}

/// What kind of attachment a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentType {
    Image,
    Audio,
    Video,
    File,
    Template,
    /// A sticker of the catalog (`stickers`): `{"url","sticker_id"}`.
    Sticker,
    /// A pin the person shared (Meta's legacy location attachment):
    /// `{"coordinates":{"lat","long"}}`.
    Location,
}

/// A message's attachment once validated and resolved (a media URL served by
/// Switchboard, a template payload as sent), in Meta's shape: the echo, the person's
/// client and the Conversations API all show it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttachment {
    #[serde(rename = "type")]
    pub kind: AttachmentType,
    pub payload: serde_json::Value,
}

impl MessageAttachment {
    pub fn template(payload: serde_json::Value) -> Self {
        Self { kind: AttachmentType::Template, payload }
    }

    /// The template's `template_type`, for a template.
    pub fn template_type(&self) -> Option<&str> {
        (self.kind == AttachmentType::Template).then(|| self.payload.get("template_type").and_then(serde_json::Value::as_str)).flatten()
    }

    /// The postback button at `pointer` in the payload (`/buttons/0`,
    /// `/elements/1/buttons/0`): its title and payload.
    pub fn postback_button(&self, pointer: &str) -> Option<(String, Option<String>)> {
        postback_of(self.payload.pointer(pointer)?)
    }
}

/// A postback button (`{"type":"postback","title","payload"}`) as title and payload.
pub fn postback_of(button: &serde_json::Value) -> Option<(String, Option<String>)> {
    if button.get("type").and_then(serde_json::Value::as_str) != Some("postback") {
        return None;
    }
    let title = button.get("title").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    Some((title, button.get("payload").and_then(serde_json::Value::as_str).map(str::to_string)))
}

/// What a quick reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuickReplyType {
    Text,
    UserEmail,
    UserPhoneNumber,
}

/// A quick reply offered with a message, as validated (reference §4.7). Email and
/// phone-number quick replies have no title or payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    pub content_type: QuickReplyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A thread's receipts and window, as the store keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadState {
    /// The person's last interaction: opens the standard messaging window.
    pub last_person_at: Option<Millis>,
    /// The person has received every Page message sent before this.
    pub delivered_watermark: Millis,
    /// The person has read every Page message sent before this.
    pub read_watermark: Millis,
    /// The Page has seen every message of the person's sent before this (`mark_seen`).
    pub seen_watermark: Millis,
    /// The person blocked the Page: no message either way.
    pub blocked_at: Option<Millis>,
    /// The person deleted the conversation: what came before this is gone for them.
    pub hidden_before: Option<Millis>,
    /// The person last reported the conversation then.
    pub reported_at: Option<Millis>,
}

/// A thread as the person's client lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub page: Page,
    pub last_message: Option<Message>,
    /// Page messages newer than the person's read watermark.
    pub unread: u32,
}

/// Features a Page applies for and the operator approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageFeature {
    /// Messaging persons by verified phone number (`pages_messaging_phone_number`).
    PhoneNumbers,
    /// One-time notifications.
    OneTimeNotif,
}

impl PageFeature {
    pub const ALL: [PageFeature; 2] = [Self::PhoneNumbers, Self::OneTimeNotif];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneNumbers => "phone_numbers",
            Self::OneTimeNotif => "one_time_notif",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Its name in Meta's `messaging_feature_review` (reference §2.3, §9.6).
    pub fn review_name(self) -> &'static str {
        match self {
            Self::PhoneNumbers => "pages_messaging_phone_number",
            Self::OneTimeNotif => "one_time_notification",
        }
    }
}

/// How often a recurring-notification token may be used (reference §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationFrequency {
    Daily,
    Weekly,
    Monthly,
}

impl NotificationFrequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "DAILY",
            Self::Weekly => "WEEKLY",
            Self::Monthly => "MONTHLY",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Daily, Self::Weekly, Self::Monthly].into_iter().find(|f| f.as_str() == name)
    }
}

/// The Page inbox folder a thread is filed in. Agents move threads to Done or Spam
/// and back; a new message from the person brings a Done thread back to the inbox
/// (as Meta's inbox does), a Spam thread stays where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Folder {
    Inbox,
    PageDone,
    Spam,
}

impl Folder {
    pub const ALL: [Folder; 3] = [Folder::Inbox, Folder::PageDone, Folder::Spam];

    pub fn as_str(self) -> &'static str {
        match self {
            Folder::Inbox => "inbox",
            Folder::PageDone => "page_done",
            Folder::Spam => "spam",
        }
    }

    /// A folder an agent may move a thread to.
    pub fn parse(name: &str) -> Result<Folder, crate::Refusal> {
        Folder::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| crate::Refusal::invalid_param("Param folder must be one of the following values: inbox, page_done, spam"))
    }
}

/// The Conversations API's `folder` filter. Three are stored folders; `other` is
/// Meta's folder of message requests: here, threads in the inbox that no one on
/// the Page's side (a bot, an agent) has ever answered. `inbox` is then the answered
/// rest of the inbox, so that every thread is in exactly one of the four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderFilter {
    Inbox,
    Other,
    PageDone,
    Spam,
}

impl FolderFilter {
    pub const ALL: [FolderFilter; 4] = [FolderFilter::Inbox, FolderFilter::Other, FolderFilter::PageDone, FolderFilter::Spam];

    pub fn as_str(self) -> &'static str {
        match self {
            FolderFilter::Inbox => "inbox",
            FolderFilter::Other => "other",
            FolderFilter::PageDone => "page_done",
            FolderFilter::Spam => "spam",
        }
    }

    pub fn parse(name: &str) -> Result<FolderFilter, crate::Refusal> {
        let name = name.trim().to_ascii_lowercase();
        FolderFilter::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| crate::Refusal::invalid_param("Param folder must be one of the following values: inbox, other, page_done, spam"))
    }

    /// The stored folder it selects, and whether the Page must have answered
    /// (`None`: either way). The store filters by these.
    pub fn stored(self) -> (Folder, Option<bool>) {
        match self {
            FolderFilter::Inbox => (Folder::Inbox, Some(true)),
            FolderFilter::Other => (Folder::Inbox, Some(false)),
            FolderFilter::PageDone => (Folder::PageDone, None),
            FolderFilter::Spam => (Folder::Spam, None),
        }
    }

    /// Whether a thread in `folder`, answered or not, is in this one.
    pub fn admits(self, folder: Folder, answered: bool) -> bool {
        let (stored, wants) = self.stored();
        stored == folder && wants.is_none_or(|w| w == answered)
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn policy_actions_change_something_or_are_refused() {
        assert_eq!(PolicyAction::Warning.apply(PolicyState::Clear).unwrap(), PolicyState::Warned);
        assert_eq!(PolicyAction::Warning.apply(PolicyState::Blocked).unwrap(), PolicyState::Blocked);
        assert_eq!(PolicyAction::Block.apply(PolicyState::Warned).unwrap(), PolicyState::Blocked);
        assert_eq!(PolicyAction::Unblock.apply(PolicyState::Blocked).unwrap(), PolicyState::Clear);
        assert_eq!(PolicyAction::Block.apply(PolicyState::Blocked).unwrap_err().code, 100);
        assert_eq!(PolicyAction::Unblock.apply(PolicyState::Warned).unwrap_err().code, 100);
        assert_eq!(PolicyAction::parse("block"), Some(PolicyAction::Block));
        assert_eq!(PolicyAction::parse("ban"), None);
    }
}
