//! The Graph API's answers outside the Send API, as Meta shapes them: lists
//! (`{"data": [...]}`), `{"success": true}`, tokens, subscriptions, installed apps,
//! Pages with their tokens, personas, the usage headers, batch answers. Nodes whose
//! fields the caller selects (`?fields=`) are built field by field instead.

use serde::Serialize;

/// `{"data": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Data<T> {
    pub data: Vec<T>,
}

/// `{"success": true}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Success {
    pub success: bool,
}

pub const SUCCESS: Success = Success { success: true };

/// `{"result": "success"}`: the Messenger Profile API's answer to a change.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ResultSuccess {
    pub result: &'static str,
}

pub const RESULT_SUCCESS: ResultSuccess = ResultSuccess { result: "success" };

/// `{"id"}`: a node created.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: String,
}

/// `{"attachment_id"}`: the Attachment Upload API's answer.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentId {
    pub attachment_id: String,
}

/// `GET /oauth/access_token`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds, for a long-lived user token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

/// One subscription of `GET /{app-id}/subscriptions`.
#[derive(Debug, Clone, Serialize)]
pub struct AppSubscription {
    pub object: String,
    pub callback_url: String,
    pub active: bool,
    pub fields: Vec<SubscribedField>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscribedField {
    pub name: &'static str,
    pub version: String,
}

/// One app of `GET /{page-id}/subscribed_apps`.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledApp {
    pub category: &'static str,
    pub link: &'static str,
    pub name: String,
    pub id: String,
    pub subscribed_fields: Vec<&'static str>,
}

/// One Page of `GET /me/accounts`, with its Page token.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub access_token: String,
    pub category: &'static str,
    pub category_list: Vec<Category>,
    pub name: String,
    pub id: String,
    pub tasks: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: &'static str,
    pub name: &'static str,
}

/// A persona node (`GET /{persona-id}`, `GET /{page-id}/personas`).
#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    pub name: String,
    pub profile_picture_url: String,
    pub id: String,
}

/// `X-App-Usage` and `X-Page-Usage` (percentages of the limits).
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub call_count: u64,
    pub total_cputime: u64,
    pub total_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_time_to_regain_access: Option<u64>,
}

/// One entry of `X-Business-Use-Case-Usage`, per Page.
#[derive(Debug, Clone, Serialize)]
pub struct BusinessUseCase {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub call_count: u64,
    pub total_cputime: u64,
    pub total_time: u64,
    pub estimated_time_to_regain_access: u64,
}

/// One item's answer in a batch: the body as JSON text, as Meta sends it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchAnswer {
    pub code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<Header>>,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// The fields of a Page node, to select from.
#[derive(Debug, Clone, Serialize)]
pub struct PageNode {
    pub id: String,
    pub name: String,
    pub username: String,
}

/// The fields of an Application node, to select from.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationNode {
    pub id: String,
    pub name: String,
}

/// The fields of a User node seen through a user token (`/me`, by app-scoped id), to
/// select from.
#[derive(Debug, Clone, Serialize)]
pub struct UserNode {
    pub id: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
}

/// One page of an edge, with the cursors around it (`paging.next` when more follow).
#[derive(Debug, Clone, Serialize)]
pub struct Paged<T> {
    pub data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paging {
    pub cursors: Cursors,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cursors {
    pub before: String,
    pub after: String,
}

/// An item of `GET /{page-id}/notification_message_tokens`: a recurring-notification
/// token and where it stands. Times are epoch milliseconds, as in the opt-in webhook.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationMessageToken {
    pub notification_messages_token: String,
    pub recipient_id: String,
    pub topic_title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_frequency: Option<&'static str>,
    pub notification_messages_reoptin: String,
    pub notification_messages_timezone: &'static str,
    pub creation_timestamp: i64,
    pub token_expiry_timestamp: i64,
    pub next_eligible_time: i64,
    /// `REFRESHED` or `NOT_REFRESHED`.
    pub user_token_status: &'static str,
}

/// An item of `GET /{page-id}/messaging_feature_review`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureReview {
    pub feature: &'static str,
    /// `pending`, `rejected`, `approved` or `limited`.
    pub status: &'static str,
}

/// One metric of Page Insights (`GET /{page-id}/insights`), Graph's shape.
#[derive(Debug, Clone, Serialize)]
pub struct InsightsMetric {
    pub name: String,
    pub period: String,
    pub values: Vec<InsightsValue>,
    pub title: String,
    pub description: String,
    /// `{page-id}/insights/{metric}/{period}`.
    pub id: String,
}

/// A metric's value for the period ending at `end_time` (Graph time).
#[derive(Debug, Clone, Serialize)]
pub struct InsightsValue {
    pub value: u64,
    pub end_time: String,
}

/// The insights answer: metrics, and the ranges before and after this one.
#[derive(Debug, Clone, Serialize)]
pub struct InsightsAnswer {
    pub data: Vec<InsightsMetric>,
    pub paging: InsightsPaging,
}

#[derive(Debug, Clone, Serialize)]
pub struct InsightsPaging {
    pub previous: String,
    pub next: String,
}

/// A participant of a conversation (the person by PSID, or the Page).
#[derive(Debug, Clone, Serialize)]
pub struct Participant {
    pub name: String,
    pub email: String,
    pub id: String,
}

/// A media attachment of a message node.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageAttachment {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_data: Option<MediaData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_data: Option<MediaData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaData {
    pub url: String,
    pub preview_url: String,
}

/// One item of `GET /me/thread_owner`: `{"thread_owner": {"app_id": "..."}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadOwner {
    pub thread_owner: OwnerApp,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnerApp {
    pub app_id: String,
}

/// One app of `GET /me/secondary_receivers`, with the fields asked for (`id`,
/// `name`).
#[derive(Debug, Clone, Serialize)]
pub struct ReceiverNode {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
