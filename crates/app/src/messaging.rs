//! Messages in threads: the Send API for apps, and the person's side (sending,
//! delivery and read receipts, history). Every stored fact takes its webhook events
//! with it in one store call; the dispatcher and live streams are woken after.

use crate::events;
use crate::live::LiveEvent;
use crate::metrics::RefusalLabels;
use crate::{AppError, AppResult, Caller, Platform};
use serde::{Deserialize, Serialize};
use switchboard_domain::params::Params;
use switchboard_domain::policy::{self, Outgoing};
use serde_json::{json, Value};
use switchboard_domain::send::{parse_send, Recipient, SendBody, SendCommand, SenderAction};
use switchboard_domain::*;
use crate::notifications::{Spent, TokenKind};
use switchboard_store::{OptinKind, OptinRequest, Receipt};


use switchboard_wire::send::SendResponse;

/// Longest text a person may send, in characters (Messenger's own client limit).
pub const MAX_PERSON_TEXT_CHARS: usize = 20_000;

/// Who wrote a message, as the person's client labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Person,
    Page,
}

/// A message as the person's client shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub mid: Mid,
    /// `person` for the person's own messages, `page` for the Page's.
    pub from: Author,
    pub text: Option<String>,
    /// A template or attachment, as Meta shows it (`{"type":"template","payload":{...}}`):
    /// the client renders it (a "Notify me" button for `one_time_notif_req`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Value>,
    pub created_at: Millis,
}

impl From<&Message> for MessageView {
    fn from(message: &Message) -> Self {
        Self {
            mid: message.mid.clone(),
            from: match message.direction {
                Direction::Inbound => Author::Person,
                Direction::Outbound => Author::Page,
            },
            text: message.text.clone(),
            attachment: message.attachment.as_deref().and_then(|json| serde_json::from_str(json).ok()),
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
}

impl Platform {
    /// `POST /{page-id}/messages` (or `/me/messages`) with a Page token.
    /// Refusals are counted by code and subcode.
    pub async fn send(&self, caller: &Caller, page_ref: &str, params: &Params) -> AppResult<SendResponse> {
        let result = self.send_unmetered(caller, page_ref, params).await;
        if let Err(AppError::Refused(refusal)) = &result {
            let labels = RefusalLabels { code: refusal.code, subcode: refusal.subcode.unwrap_or(0) };
            self.inner.metrics.send_refusals.get_or_create(&labels).inc();
        }
        result
    }

    async fn send_unmetered(&self, caller: &Caller, page_ref: &str, params: &Params) -> AppResult<SendResponse> {
        let (page, app) = self.own_page(caller, page_ref)?;
        let command = parse_send(params)?;
        if !matches!(command.recipient, Recipient::Psid(_)) && !matches!(command.body, SendBody::Text { .. }) {
            return Err(Refusal::invalid_param("Sender actions and templates need recipient.id").into());
        }
        let (person, psid, spent) = match &command.recipient {
            Recipient::Psid(psid) => (self.person_of_psid(&page.id, psid).await?, Psid(psid.clone()), Spent::Nothing),
            Recipient::PhoneNumber(phone) => {
                // The Page's permission first: a Page without it learns nothing of the number.
                if !self.page_feature_approved(&page.id, PageFeature::PhoneNumbers).await? {
                    return Err(Refusal::phone_numbers_not_permitted().into());
                }
                let (person, verified_at) = self.inner.store.person_by_phone(phone).await?.ok_or_else(Refusal::no_matching_user)?;
                policy::may_reach_by_phone(verified_at, self.now())?;
                (person, self.inner.store.psid(person, &page.id).await?, Spent::Nothing)
            }
            Recipient::NotificationMessagesToken(token) => self.spend_notification_token(&page.id, token, TokenKind::Recurring).await?,
            Recipient::OneTimeNotifToken(token) => self.spend_notification_token(&page.id, token, TokenKind::OneTime).await?,
        };
        let sent = self.send_to(page, app, person, psid, command).await;
        if let (Err(_), Spent::Token { digest, previous }) = (&sent, spent) {
            // Nothing was sent: the person's token is as it was.
            self.inner.store.unspend_optin_token(&digest, previous).await?;
        }
        sent
    }

    /// The recipient is resolved; the rules that remain, then the message or action.
    async fn send_to(&self, page: &Page, app: &App, person: PersonId, psid: Psid, command: SendCommand) -> AppResult<SendResponse> {
        if app.mode == AppMode::Development {
            policy::may_reach(app.mode, self.role_on(&app.id, person).await?)?;
        }
        // A matched phone number (a first contact) and a notification token stand
        // outside the window; everything addressed by PSID follows it.
        if let Recipient::Psid(_) = command.recipient {
            let outgoing = match command.body {
                SendBody::Action(_) => Outgoing::Action,
                _ => Outgoing::Message(command.messaging_type, command.tag),
            };
            let thread = (page.id.clone(), person);
            let now = self.now();
            // A remembered interaction that allows the message is enough: the window
            // only ever moves later. Anything else is read from the store, where an
            // interaction on any node is.
            let allowed_by_memory = self.inner.interactions.get(&thread).is_some_and(|at| policy::may_send(outgoing, Some(at), now).is_ok());
            if !allowed_by_memory {
                let last_interaction = self.inner.store.thread_state(&page.id, person).await?.and_then(|state| state.last_person_at);
                if let Some(at) = last_interaction {
                    self.inner.interactions.put(thread, at);
                }
                policy::may_send(outgoing, last_interaction, now)?;
            }
        }
        let now = self.now();
        let mid = random_mid();
        let (text, attachment, metadata) = match command.body {
            SendBody::Action(action) => {
                self.publish_action(person, &page.id, action).await;
                return Ok(SendResponse { recipient_id: psid.0, message_id: None });
            }
            SendBody::Text { text, metadata } => (Some(text), None, metadata),
            SendBody::OneTimeNotifRequest { title, payload } => {
                let template = json!({"type": "template", "payload": {"template_type": "one_time_notif_req", "title": title, "payload": payload}});
                let request = OptinRequest::new(mid.clone(), OptinKind::OneTime, page.id.clone(), person, title, payload, now);
                self.open_optin_request(request).await?;
                (None, Some(template), None)
            }
            SendBody::RecurringOptinRequest { title, payload, frequency, template } => {
                let request = OptinRequest::new(mid.clone(), OptinKind::Recurring(frequency), page.id.clone(), person, title, payload, now);
                self.open_optin_request(request).await?;
                (None, Some(template), None)
            }
        };
        let echo = events::echo(&psid, &page.id, &app.id, &mid, text.as_deref(), attachment.as_ref(), metadata.as_deref(), now);
        let targets = self.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessageEchoes, &page.id, person, &echo, now);
        let message = Message {
            mid: mid.clone(),
            page: page.id.clone(),
            person,
            direction: Direction::Outbound,
            app: Some(app.id.clone()),
            text,
            metadata,
            attachment: attachment.as_ref().map(Value::to_string),
            created_at: now,
        };
        if let Err(error) = self.commit_message(message, outbox).await {
            if attachment.is_some() {
                // A request goes with its message, or not at all.
                self.inner.store.drop_optin_request(&mid).await?;
            }
            return Err(error);
        }
        self.inner.metrics.messages_sent.inc();
        Ok(SendResponse { recipient_id: psid.0, message_id: Some(mid.0) })
    }

    /// The person's role on the app, through the cache (role changes clear it).
    async fn role_on(&self, app: &AppId, person: PersonId) -> AppResult<Option<AppRole>> {
        let key = (app.clone(), person);
        if let Some(role) = self.inner.roles.get(&key) {
            return Ok(role);
        }
        let role = self.inner.store.app_role(app, person).await?;
        self.inner.roles.put(key, role);
        Ok(role)
    }

    /// The person behind a PSID of this Page; anything else is 100/2018001.
    async fn person_of_psid(&self, page: &PageId, psid: &str) -> AppResult<PersonId> {
        if !is_node_id(psid) {
            return Err(Refusal::no_matching_user().into());
        }
        let key = (page.clone(), psid.to_string());
        if let Some(person) = self.inner.psids.get(&key) {
            return Ok(person);
        }
        let person = self.inner.store.person_by_psid(page, psid).await?.ok_or_else(Refusal::no_matching_user)?;
        self.inner.psids.put(key, person);
        Ok(person)
    }

    async fn publish_action(&self, person: PersonId, page: &PageId, action: SenderAction) {
        let event = match action {
            SenderAction::TypingOn => LiveEvent::Typing { page_id: page.clone(), on: true },
            SenderAction::TypingOff => LiveEvent::Typing { page_id: page.clone(), on: false },
            SenderAction::MarkSeen => LiveEvent::Seen { page_id: page.clone(), watermark: self.now() },
        };
        self.announce(person, event).await;
    }

    async fn commit_message(&self, message: Message, outbox: Vec<switchboard_store::NewOutboxEvent>) -> AppResult<()> {
        let wakes_dispatcher = !outbox.is_empty();
        let person = message.person;
        let view = MessageView::from(&message);
        let page_id = message.page.clone();
        self.inner.store.append_message(message, outbox).await?;
        if wakes_dispatcher {
            self.inner.outbox_wake.notify_one();
        }
        self.announce(person, LiveEvent::Message { page_id, message: view }).await;
        Ok(())
    }

    pub(crate) async fn page_for_person(&self, page_ref: &str) -> AppResult<Page> {
        Ok(self.find_page(page_ref).await?.ok_or_else(|| Refusal::unknown_object(page_ref))?)
    }

    /// The person writes to a Page: a `messages` event for every subscribed app.
    pub async fn person_send(&self, person: PersonId, page_ref: &str, text: &str) -> AppResult<MessageView> {
        let page = self.page_for_person(page_ref).await?;
        if text.trim().is_empty() {
            return Err(Refusal::invalid_param("text must be non-empty").into());
        }
        if text.chars().count() > MAX_PERSON_TEXT_CHARS {
            return Err(Refusal::invalid_param(format!("text must be at most {MAX_PERSON_TEXT_CHARS} characters")).into());
        }
        let psid = self.inner.store.psid(person, &page.id).await?;
        let now = self.now();
        let mid = random_mid();
        let body = events::inbound_message(&psid, &page.id, &mid, text, now);
        let targets = self.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::Messages, &page.id, person, &body, now);
        let message = Message {
            mid,
            page: page.id.clone(),
            person,
            direction: Direction::Inbound,
            app: None,
            text: Some(text.to_string()),
            metadata: None,
            attachment: None,
            created_at: now,
        };
        let view = MessageView::from(&message);
        self.commit_message(message, outbox).await?;
        self.inner.metrics.messages_received.inc();
        Ok(view)
    }

    /// The person's client reports that it received (or read) the Page's messages up
    /// to `watermark` (default: now). Answers the thread's receipts afterwards.
    pub async fn person_receipt(&self, person: PersonId, page_ref: &str, receipt: Receipt, watermark: Option<Millis>) -> AppResult<ThreadState> {
        let page = self.page_for_person(page_ref).await?;
        let now = self.now();
        let watermark = watermark.unwrap_or(now).min(now);
        let psid = self.inner.store.psid(person, &page.id).await?;
        let (field, body) = match receipt {
            Receipt::Delivered => (WebhookField::MessageDeliveries, events::delivery(&psid, &page.id, watermark, Vec::new(), now)),
            Receipt::Read => (WebhookField::MessageReads, events::read(&psid, &page.id, watermark, now)),
        };
        let targets = self.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, field, &page.id, person, &body, now);
        let wakes_dispatcher = !outbox.is_empty();
        if self.inner.store.advance_receipt(&page.id, person, receipt, watermark, outbox).await? && wakes_dispatcher {
            self.inner.outbox_wake.notify_one();
        }
        Ok(self.inner.store.thread_state(&page.id, person).await?.unwrap_or_default())
    }

    /// The person's thread with a Page: the latest `limit` messages before `before`.
    pub async fn thread(&self, person: PersonId, page_ref: &str, before: Option<Millis>, limit: u32) -> AppResult<ThreadView> {
        let page = self.page_for_person(page_ref).await?;
        let messages = self.inner.store.thread_messages(&page.id, person, before, limit.clamp(1, 200)).await?;
        let state = self.inner.store.thread_state(&page.id, person).await?.unwrap_or_default();
        Ok(ThreadView {
            page,
            messages: messages.iter().map(MessageView::from).collect(),
            delivered_watermark: state.delivered_watermark,
            read_watermark: state.read_watermark,
        })
    }

    /// The person's threads, most recent first.
    pub async fn threads(&self, person: PersonId) -> AppResult<Vec<ThreadSummary>> {
        Ok(self.inner.store.threads_of(person).await?)
    }

    /// The person behind a PSID of this Page, if any: what `GET /{psid}` shows.
    pub async fn psid_owner(&self, page: &PageId, psid: &str) -> AppResult<Option<Person>> {
        match self.person_of_psid(page, psid).await {
            Ok(person) => Ok(self.inner.store.person(person).await?),
            Err(crate::AppError::Refused(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The person's PSID for the Page, created on first contact.
    pub async fn psid(&self, person: PersonId, page: &PageId) -> AppResult<Psid> {
        Ok(self.inner.store.psid(person, page).await?)
    }

    /// A Page as a person finds it (by username or id).
    pub async fn page_for_people(&self, page_ref: &str) -> AppResult<Page> {
        self.page_for_person(page_ref).await
    }
}
