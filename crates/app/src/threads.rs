//! The person's side of a thread: writing (text, a reply, a quick-reply tap, an
//! attachment), tapping postback buttons, reacting, reporting delivery and reading,
//! and the thread and thread list as the client shows them. Each action stores its
//! fact with its webhook events in one store call; an action of the person's is an
//! interaction, so it opens the standard messaging window.

use crate::events;
use crate::live::LiveEvent;
use crate::media::{attachment_json, Upload};
use crate::messaging::{Author, MessageView};
use crate::notifications::Companion;
use crate::{AppResult, Platform};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::content::{MediaKind, MediaSource};
use switchboard_domain::send::normalize_phone;
use switchboard_domain::*;
use switchboard_store::Receipt;
use switchboard_wire::webhook::{MessagePayload, Postback, QuickReplyTap, Referral, ReplyTo};

/// Longest text a person may send, in characters (Messenger's own client limit).
pub const MAX_PERSON_TEXT_CHARS: usize = 20_000;

/// What a person writes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonMessage {
    pub text: Option<String>,
    /// Quote this message of the thread.
    pub reply_to: Option<String>,
    /// Tap a quick reply: the Page message that offered it, and which one.
    pub quick_reply: Option<QuickReplyChoice>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QuickReplyChoice {
    pub mid: String,
    pub index: usize,
    /// For an email or phone-number quick reply: what the person chose to share (a
    /// phone number defaults to their verified one).
    pub value: Option<String>,
}

/// Which postback button the person tapped.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PostbackTap {
    /// A button of a Page message: the message, and a JSON pointer to the button in its
    /// attachment's payload (`/buttons/0`, `/elements/1/buttons/0`).
    pub mid: Option<String>,
    pub button: Option<String>,
    /// An item of the persistent menu: a JSON pointer into the locale's
    /// `call_to_actions` (`/2`).
    pub menu: Option<String>,
    /// One of the ice breakers, by index.
    pub ice_breaker: Option<usize>,
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
}

impl Platform {
    pub(crate) async fn page_for_person(&self, page_ref: &str) -> AppResult<Page> {
        Ok(self.find_page(page_ref).await?.ok_or_else(|| Refusal::unknown_object(page_ref))?)
    }

    /// The person writes to a Page: a `messages` event for every subscribed app.
    pub async fn person_send(&self, person: PersonId, page_ref: &str, input: PersonMessage) -> AppResult<MessageView> {
        let page = self.page_for_person(page_ref).await?;
        let mid = random_mid();
        let mut payload = MessagePayload { mid: mid.to_string(), ..Default::default() };
        let text = match (&input.quick_reply, input.text) {
            (Some(choice), _) => {
                let (title, tapped) = self.quick_reply_tapped(&page.id, person, choice).await?;
                payload.quick_reply = Some(QuickReplyTap { payload: tapped });
                title
            }
            (None, Some(text)) => text,
            (None, None) => return Err(Refusal::missing_param("text").into()),
        };
        if text.trim().is_empty() {
            return Err(Refusal::invalid_param("text must be non-empty").into());
        }
        if text.chars().count() > MAX_PERSON_TEXT_CHARS {
            return Err(Refusal::invalid_param(format!("text must be at most {MAX_PERSON_TEXT_CHARS} characters")).into());
        }
        payload.text = Some(text.clone());
        let reply_to = match &input.reply_to {
            Some(mid) => {
                let quoted = self.message_of_thread(&page.id, person, mid).await?;
                payload.reply_to = Some(ReplyTo { mid: quoted.mid.to_string(), is_self_reply: Some(quoted.direction == Direction::Inbound) });
                Some(quoted.mid)
            }
            None => None,
        };
        let message = inbound(mid, &page.id, person, Some(text), None, reply_to, self.now());
        self.deliver_inbound(message, payload).await
    }

    /// The title and payload of the quick reply the person tapped; an email or phone
    /// quick reply answers with the person's own address or verified number.
    async fn quick_reply_tapped(&self, page: &PageId, person: PersonId, choice: &QuickReplyChoice) -> AppResult<(String, String)> {
        let offered = self.message_of_thread(page, person, &choice.mid).await?;
        let replies: Value = offered.quick_replies.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or(Value::Null);
        let reply = replies.get(choice.index).ok_or_else(|| Refusal::invalid_param(format!("{} offers no quick reply {}", choice.mid, choice.index)))?;
        let field = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        match reply.get("content_type").and_then(Value::as_str) {
            Some("user_email") => {
                let email = choice.value.as_deref().map(str::trim).filter(|e| is_email(e));
                let email = email.ok_or_else(|| Refusal::invalid_param("value must be the email address to share"))?;
                Ok((email.to_string(), email.to_string()))
            }
            Some("user_phone_number") => {
                let phone = match &choice.value {
                    Some(value) => normalize_phone(value).ok_or_else(|| Refusal::invalid_param("value must be a phone number"))?,
                    None => self.phone(person).await?.ok_or_else(|| Refusal::invalid_param("There is no verified phone number to share: give value"))?.0,
                };
                Ok((phone.clone(), phone))
            }
            _ => Ok((field("title"), field("payload"))),
        }
    }

    /// The person sends a file (an image, a video, audio, or any file): stored, and
    /// shown to the Page's apps as `attachments[].payload.url` served by Switchboard.
    pub async fn person_send_attachment(&self, person: PersonId, page_ref: &str, upload: Upload) -> AppResult<MessageView> {
        let page = self.page_for_person(page_ref).await?;
        let mime = upload.mime.clone().filter(|m| !m.is_empty() && m != "application/octet-stream");
        let mime = mime.or_else(|| switchboard_domain::media::sniff(&upload.bytes).map(str::to_string)).unwrap_or_default();
        let kind = match mime.split('/').next() {
            Some("image") => MediaKind::Image,
            Some("video") => MediaKind::Video,
            Some("audio") => MediaKind::Audio,
            _ => MediaKind::File,
        };
        let record = self.store_media(&page.id, kind, &MediaSource::Upload, Some(Upload { mime: Some(mime), ..upload }), false).await?;
        let attachment = attachment_json(self, &record, false);
        let mid = random_mid();
        let payload = MessagePayload { mid: mid.to_string(), attachments: Some(vec![attachment.clone()]), ..Default::default() };
        let message = inbound(mid, &page.id, person, None, Some(attachment.to_string()), None, self.now());
        self.deliver_inbound(message, payload).await
    }

    /// The person taps a postback button (of a Page message, the persistent menu, or
    /// an ice breaker): `messaging_postbacks` with its title and payload, and the
    /// title in the thread as the person's message.
    pub async fn person_postback(&self, person: PersonId, page_ref: &str, tap: PostbackTap) -> AppResult<MessageView> {
        let page = self.page_for_person(page_ref).await?;
        let button = match (&tap.mid, &tap.button, &tap.menu, tap.ice_breaker) {
            (Some(mid), Some(pointer), None, None) => {
                let message = self.message_of_thread(&page.id, person, mid).await?;
                let attachment: Value = message.attachment.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or(Value::Null);
                attachment.get("payload").and_then(|p| p.pointer(pointer)).cloned()
            }
            (None, None, Some(pointer), None) => {
                let locale = self.person_profile(person).await?.locale;
                self.persistent_menu(&page.id, &locale).await?.and_then(|menu| menu.get("call_to_actions").and_then(|c| c.pointer(pointer)).cloned())
            }
            (None, None, None, Some(index)) => {
                let locale = self.person_profile(person).await?.locale;
                self.ice_breakers(&page.id, &locale).await?.get(index).map(|question| {
                    serde_json::json!({"type": "postback", "title": question["question"], "payload": question["payload"]})
                })
            }
            _ => return Err(Refusal::invalid_param("Name one button: mid and button, or menu, or ice_breaker").into()),
        };
        let button = button.filter(|b| b.get("type").and_then(Value::as_str) == Some("postback"));
        let button = button.ok_or_else(|| Refusal::invalid_param("There is no postback button there"))?;
        let title = button.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
        let payload = button.get("payload").and_then(Value::as_str).map(str::to_string);
        self.postback(person, &page, title, payload, None).await
    }

    /// Stores a postback tap as the person's message and its `messaging_postbacks` events.
    pub(crate) async fn postback(&self, person: PersonId, page: &Page, title: String, payload: Option<String>, referral: Option<Referral>) -> AppResult<MessageView> {
        let psid = self.inner.store.psid(person, &page.id).await?;
        let now = self.now();
        let mid = random_mid();
        let postback = Postback { mid: Some(mid.to_string()), title: title.clone(), payload, referral };
        let body = events::postback(&psid, &page.id, postback, now);
        let targets = self.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessagingPostbacks, &page.id, person, &body, now);
        let message = inbound(mid, &page.id, person, Some(title), None, None, now);
        let view = self.commit_message(message, outbox, None, Companion::Nothing).await?;
        self.inner.metrics.messages_received.inc();
        Ok(view)
    }

    async fn deliver_inbound(&self, message: Message, payload: MessagePayload) -> AppResult<MessageView> {
        let psid = self.inner.store.psid(message.person, &message.page).await?;
        let body = events::inbound_message(&psid, &message.page, payload, message.created_at);
        let targets = self.webhook_targets(&message.page).await?;
        let outbox = events::fan_out(&targets, WebhookField::Messages, &message.page, message.person, &body, message.created_at);
        let view = self.commit_message(message, outbox, None, Companion::Nothing).await?;
        self.inner.metrics.messages_received.inc();
        Ok(view)
    }

    /// The person reacts to a Page message (`emoji` `None`: takes the reaction back).
    pub async fn person_react(&self, person: PersonId, page_ref: &str, mid: &str, emoji: Option<String>) -> AppResult<()> {
        let page = self.page_for_person(page_ref).await?;
        if let Some(emoji) = &emoji {
            if emoji.trim().is_empty() || emoji.chars().count() > 8 {
                return Err(Refusal::invalid_param("emoji must be one emoji").into());
            }
        }
        let message = self.message_of_thread(&page.id, person, mid).await?;
        if message.direction != Direction::Outbound {
            return Err(Refusal::invalid_param("Only the Page's messages can be reacted to").into());
        }
        let psid = self.inner.store.psid(person, &page.id).await?;
        let now = self.now();
        let body = events::reaction(&psid, &page.id, &message.mid, emoji.as_deref(), now);
        let targets = self.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessageReactions, &page.id, person, &body, now);
        let wakes = !outbox.is_empty();
        self.inner.store.react(&page.id, person, &message.mid, Direction::Inbound, emoji.clone(), now, outbox).await?;
        if wakes {
            self.inner.outbox_wake.notify_one();
        }
        self.announce(person, LiveEvent::Reaction { page_id: page.id, mid: message.mid, by: Author::Person, emoji }).await;
        Ok(())
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

    /// The person's thread with a Page: the latest `limit` messages before the message
    /// `before` (a `mid` of the thread, the oldest the client holds).
    pub async fn thread(&self, person: PersonId, page_ref: &str, before: Option<Mid>, limit: u32) -> AppResult<ThreadView> {
        let page = self.page_for_person(page_ref).await?;
        if let Some(mid) = &before {
            if !self.in_thread(&page.id, person, mid).await? {
                return Err(Refusal::invalid_param("Param before must be the mid of a message of this thread").into());
            }
        }
        let messages = self.inner.store.thread_messages(&page.id, person, before.as_ref(), limit.clamp(1, 200)).await?;
        let state = self.inner.store.thread_state(&page.id, person).await?.unwrap_or_default();
        let mut views = Vec::with_capacity(messages.len());
        for message in &messages {
            views.push(self.view(message).await?);
        }
        Ok(ThreadView {
            page,
            messages: views,
            delivered_watermark: state.delivered_watermark,
            read_watermark: state.read_watermark,
            seen_watermark: state.seen_watermark,
        })
    }

    /// Whether the message is one of the thread's: a paging cursor must be (the store
    /// would answer nothing for another, which reads as the thread's end).
    pub(crate) async fn in_thread(&self, page: &PageId, person: PersonId, mid: &Mid) -> AppResult<bool> {
        Ok(self.inner.store.message(mid).await?.is_some_and(|m| &m.page == page && m.person == person))
    }

    /// The person's threads, most recent first.
    pub async fn threads(&self, person: PersonId) -> AppResult<Vec<ThreadSummary>> {
        Ok(self.inner.store.threads_of(person).await?)
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

/// Plausibly an email address: something, `@`, a dotted domain, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && text.len() <= 254 && !text.contains(char::is_whitespace)
}

/// A message the person wrote.
fn inbound(mid: Mid, page: &PageId, person: PersonId, text: Option<String>, attachment: Option<String>, reply_to: Option<Mid>, at: Millis) -> Message {
    Message { text, attachment, reply_to, ..Message::new(mid, page.clone(), person, Direction::Inbound, None, at) }
}
