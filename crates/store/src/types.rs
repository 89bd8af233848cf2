//! Values the store takes and gives that are not domain entities themselves.

use switchboard_domain::*;

#[derive(Debug, Clone, PartialEq)]
pub struct NewPerson {
    pub name: String,
    pub login: String,
    /// A PHC-format password hash; the store never sees a password.
    pub password_hash: String,
    pub created_at: Millis,
}

/// An app that receives a Page's events, with the fields both subscription levels
/// agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub app: AppId,
    pub fields: Vec<WebhookField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

/// A webhook event to store with the fact that caused it. `body` is the rendered
/// `messaging[]` item: it is sent as is on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEvent {
    pub app: AppId,
    pub page: PageId,
    /// The thread's person: events of one (app, Page, person) are delivered in order.
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
}

/// A leased outbox event, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    pub app: AppId,
    pub page: PageId,
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
    /// Failed attempts so far.
    pub failures: u32,
    /// When the first attempt failed, for how long the endpoint has been failing.
    pub first_failure_at: Option<Millis>,
}
