//! The Handover Protocol and the Page inbox as the console shows them: a Page's
//! receivers and routing rules, the Pages a person works in, the inbox's threads with
//! who controls each, and one conversation with what an agent may do in it.

use super::MessageView;
use serde::Serialize;
use switchboard_domain::{AppId, Folder, Millis, PageId, PersonId};

/// One app of a Page with its role (`primary_receiver`, `secondary_receiver` or
/// `null`); the Page Inbox is listed too.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiverView {
    pub id: AppId,
    pub name: String,
    pub role: Option<&'static str>,
    /// The Page Inbox (its role cannot change).
    pub inbox: bool,
}

/// Threads opened by a link with `ref` go to `app_id`.
#[derive(Debug, Clone, Serialize)]
pub struct RoutingRuleView {
    #[serde(rename = "ref")]
    pub reference: String,
    pub app_id: AppId,
}

/// `GET /console/v1/pages/{page}/receivers`.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiversView {
    pub data: Vec<ReceiverView>,
    pub routing: Vec<RoutingRuleView>,
}

/// A Page a person works in, with the threads waiting for an agent.
#[derive(Debug, Clone, Serialize)]
pub struct InboxPageView {
    pub id: PageId,
    pub name: String,
    pub username: String,
    /// `admin`, `agent`, or `null` for the operator.
    pub role: Option<&'static str>,
    pub waiting: u64,
}

/// An app, by id and name.
#[derive(Debug, Clone, Serialize)]
pub struct AppRefView {
    pub id: AppId,
    pub name: String,
}

/// A person answering in the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: PersonId,
    pub name: String,
}

/// Where a thread stands for the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxState {
    /// An app (a bot) controls it.
    Bot,
    /// The Page Inbox controls it and no agent has taken it.
    Waiting,
    /// An agent has taken it.
    Agent,
    /// No one controls it.
    Idle,
}

/// Who a thread is with and who controls it: what the inbox's list and a
/// conversation both show.
#[derive(Debug, Clone, Serialize)]
pub struct InboxPartiesView {
    pub psid: String,
    pub name: String,
    pub profile_pic: Option<String>,
    pub owner: Option<AppRefView>,
    pub state: InboxState,
    pub agent: Option<AgentView>,
    /// `inbox`, `page_done` or `spam`.
    pub folder: Folder,
}

/// One thread of a Page's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxThreadView {
    #[serde(flatten)]
    pub parties: InboxPartiesView,
    pub unread: u64,
    pub last_message_at: Millis,
    pub last_text: Option<String>,
}

/// A message of the conversation, with the app that sent a Page message.
#[derive(Debug, Clone, Serialize)]
pub struct InboxMessageView {
    #[serde(flatten)]
    pub message: MessageView,
    pub app: Option<AppRefView>,
}

/// One conversation, as an agent sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    #[serde(flatten)]
    pub parties: InboxPartiesView,
    pub can_send: bool,
    /// Why an agent cannot answer now.
    pub cannot_send_reason: Option<String>,
    pub messages: Vec<InboxMessageView>,
}
