//! The person's side of a thread: writing (text, a reply, a quick-reply tap, an
//! attachment, a sticker), tapping postback buttons, reacting, editing their text,
//! rating the Page's messages, reporting delivery and reading, and the thread and
//! thread list as the client shows them. Each action stores its fact with its
//! webhook events in one store call. Writing, tapping and reacting are interactions
//! (they open the standard messaging window); editing and rating are not, as Meta
//! does not list them among the actions that open it.

use crate::core::Core;
use crate::AppError;
use crate::events;
use crate::live::LiveEvent;
use crate::media::{shown_attachment, Upload};
use crate::notifications::Companion;
use crate::views::{Author, MessageView, ReceiptsView, ThreadSummaryView, ThreadView};
use crate::{AppResult, Media, Profiles};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use switchboard_domain::content::{MediaKind, MediaSource};
use switchboard_domain::entry::{self, ReferralSource};
use switchboard_domain::messages::{self, Feedback};
use switchboard_domain::send::normalize_phone;
use switchboard_domain::*;
use switchboard_store::{Edit, Rating, Reaction, Receipt};
use switchboard_domain::profile::ProfileField;
use switchboard_wire::webhook::{MessagePayload, Postback, QuickReplyTap, Referral, ReplyTo};

pub use switchboard_domain::messages::MAX_PERSON_TEXT_CHARS;

/// What a person writes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonMessage {
    pub text: Option<String>,
    /// A sticker of the catalog instead of text (a number or a string of digits).
    pub sticker_id: Option<Value>,
    /// Quote this message of the thread.
    pub reply_to: Option<String>,
    /// Tap a quick reply: the Page message that offered it, and which one.
    pub quick_reply: Option<QuickReplyChoice>,
    /// Share a location pin instead of text.
    pub location: Option<LocationPin>,
}

/// A location pin the person shares, in degrees (checked by `messages::shared_location`).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct LocationPin {
    pub lat: f64,
    pub long: f64,
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

/// The ref of the entry point that brought the person to a thread: a link's or the
/// chat plugin's (with the page of the site it was on).
#[derive(Debug, Clone)]
pub struct EntryRef {
    pub reference: String,
    pub source: ReferralSource,
    pub referer_uri: Option<String>,
}

/// The person's side of a thread.
#[derive(Clone)]
pub struct Threads {
    pub(crate) core: Arc<Core>,
    pub(crate) media: Media,
    pub(crate) profiles: Profiles,
}

impl Threads {
    /// The person writes to a Page: a `messages` event for every subscribed app.
    pub async fn person_send(&self, person: PersonId, page_ref: &PageRef, input: PersonMessage) -> AppResult<MessageView> {
        let page = self.core.page_for_person(page_ref).await?;
        let mid = new_mid();
        let mut payload = MessagePayload { mid: mid.to_string(), ..Default::default() };
        let mut attachment = None;
        let text = match (&input.quick_reply, &input.sticker_id, input.text, input.location) {
            (Some(choice), None, _, None) => {
                let (title, tapped) = self.quick_reply_tapped(&page.id, person, choice).await?;
                payload.quick_reply = Some(QuickReplyTap { payload: tapped });
                Some(title)
            }
            (None, Some(id), None, None) => {
                // Meta's form since August 2026: a `sticker` attachment, no image twin.
                let sticker = self.core.sticker_attachment(switchboard_domain::stickers::parse_sticker_id(id, "sticker_id")?);
                payload.attachments = Some(vec![serde_json::to_value(&sticker).expect("an attachment is JSON")]);
                attachment = Some(sticker);
                None
            }
            (None, None, None, Some(pin)) => {
                let location = messages::shared_location(pin.lat, pin.long)?;
                payload.attachments = Some(vec![serde_json::to_value(&location).expect("an attachment is JSON")]);
                attachment = Some(location);
                None
            }
            (None, None, Some(text), None) => Some(text),
            (None, None, None, None) => return Err(Refusal::missing_param("text").into()),
            _ => return Err(Refusal::invalid_param("Send one of text, sticker_id, quick_reply or location").into()),
        };
        if let Some(text) = &text {
            messages::person_text(text)?;
        }
        payload.text = text.clone();
        let reply_to = match &input.reply_to {
            Some(mid) => {
                let quoted = self.core.message_of_thread(&page.id, person, mid).await?;
                payload.reply_to = Some(ReplyTo { mid: quoted.mid.to_string(), is_self_reply: Some(quoted.direction == Direction::Inbound) });
                Some(quoted.mid)
            }
            None => None,
        };
        let message = inbound(mid, &page.id, person, text, attachment, reply_to, self.core.now());
        self.deliver_inbound(message, payload).await
    }

    /// The title and payload of the quick reply the person tapped; an email or phone
    /// quick reply answers with the person's own address or verified number.
    async fn quick_reply_tapped(&self, page: &PageId, person: PersonId, choice: &QuickReplyChoice) -> AppResult<(String, String)> {
        let offered = self.core.message_of_thread(page, person, &choice.mid).await?;
        let reply = offered.quick_replies.get(choice.index);
        let reply = reply.ok_or_else(|| Refusal::invalid_param(format!("{} offers no quick reply {}", choice.mid, choice.index)))?;
        match reply.content_type {
            QuickReplyType::UserEmail => {
                let email = choice.value.as_deref().map(str::trim).filter(|e| is_email(e));
                let email = email.ok_or_else(|| Refusal::invalid_param("value must be the email address to share"))?;
                Ok((email.to_string(), email.to_string()))
            }
            QuickReplyType::UserPhoneNumber => {
                let phone = match &choice.value {
                    Some(value) => normalize_phone(value).ok_or_else(|| Refusal::invalid_param("value must be a phone number"))?,
                    None => self.core.store.phone_of(person).await?.ok_or_else(|| Refusal::invalid_param("There is no verified phone number to share: give value"))?.0,
                };
                Ok((phone.clone(), phone))
            }
            QuickReplyType::Text => Ok((reply.title.clone().unwrap_or_default(), reply.payload.clone().unwrap_or_default())),
        }
    }

    /// The person sends a file (an image, a video, audio, or any file): stored, and
    /// shown to the Page's apps as `attachments[].payload.url` served by Switchboard.
    pub async fn person_send_attachment(&self, person: PersonId, page_ref: &PageRef, upload: Upload) -> AppResult<MessageView> {
        let page = self.core.page_for_person(page_ref).await?;
        let mime = upload.mime.clone().filter(|m| !m.is_empty() && m != "application/octet-stream");
        let mime = mime.or_else(|| switchboard_domain::media::sniff(&upload.bytes).map(str::to_string)).unwrap_or_default();
        let kind = match mime.split('/').next() {
            Some("image") => MediaKind::Image,
            Some("video") => MediaKind::Video,
            Some("audio") => MediaKind::Audio,
            _ => MediaKind::File,
        };
        let record = self.media.store_media_of(&page.id, kind, &MediaSource::Upload, Some(Upload { mime: Some(mime), ..upload }), false, Some(person)).await?;
        let attachment = shown_attachment(&self.core, &record, false)?;
        let mid = new_mid();
        let shown = serde_json::to_value(&attachment).expect("an attachment is JSON");
        let payload = MessagePayload { mid: mid.to_string(), attachments: Some(vec![shown]), ..Default::default() };
        let message = inbound(mid, &page.id, person, None, Some(attachment), None, self.core.now());
        self.deliver_inbound(message, payload).await
    }

    /// The person taps a postback button (of a Page message, the persistent menu, or
    /// an ice breaker): `messaging_postbacks` with its title and payload, and the
    /// title in the thread as the person's message.
    pub async fn person_postback(&self, person: PersonId, page_ref: &PageRef, tap: PostbackTap) -> AppResult<MessageView> {
        let page = self.core.page_for_person(page_ref).await?;
        let button = match (&tap.mid, &tap.button, &tap.menu, tap.ice_breaker) {
            (Some(mid), Some(pointer), None, None) => {
                let message = self.core.message_of_thread(&page.id, person, mid).await?;
                message.attachment.and_then(|attachment| attachment.postback_button(pointer))
            }
            (None, None, Some(pointer), None) => {
                let locale = self.profiles.person_profile(person).await?.locale;
                let menu = self.profiles.persistent_menu(&page.id, person, &locale).await?;
                menu.and_then(|menu| menu.get("call_to_actions").and_then(|c| c.pointer(pointer)).and_then(postback_of))
            }
            (None, None, None, Some(index)) => {
                let locale = self.profiles.person_profile(person).await?.locale;
                self.profiles.ice_breakers(&page.id, &locale).await?.get(index).map(|question| {
                    let text = |key: &str| question.get(key).and_then(Value::as_str).map(str::to_string);
                    (text("question").unwrap_or_default(), text("payload"))
                })
            }
            _ => return Err(Refusal::invalid_param("Name one button: mid and button, or menu, or ice_breaker").into()),
        };
        let (title, payload) = button.ok_or_else(|| Refusal::invalid_param("There is no postback button there"))?;
        self.postback(person, &page, title, payload, None).await
    }

    /// The person taps Get Started: the Page's postback, with the ref of the link
    /// (or the chat plugin) that brought them as a referral when the tap starts a
    /// new thread.
    pub async fn get_started(&self, person: PersonId, page_ref: &PageRef, entry: Option<EntryRef>) -> AppResult<MessageView> {
        let page = self.core.page_for_person(page_ref).await?;
        let started = self.profiles.profile_value(&page.id, ProfileField::GetStarted).await?;
        let payload = started.as_ref().and_then(|s| s.get("payload")).and_then(Value::as_str).map(str::to_string);
        let payload = payload.ok_or_else(|| Refusal::invalid_param("This Page has no Get Started button"))?;
        if let Some(entry) = &entry {
            entry::validate_ref(&entry.reference)?;
        }
        let referer_uri = entry.as_ref().and_then(|e| e.referer_uri.as_deref()).map(entry::validate_referer_uri).transpose()?;
        let new_thread = self.core.store.thread_messages(&page.id, person, None, 1).await?.is_empty();
        let referral = entry.filter(|_| new_thread).map(|entry| Referral {
            reference: Some(entry.reference),
            source: entry.source.as_str().into(),
            kind: "OPEN_THREAD".into(),
            referer_uri,
        });
        self.postback(person, &page, "Get Started".into(), Some(payload), referral).await
    }

    /// Stores a postback tap as the person's message and its `messaging_postbacks` events.
    pub(crate) async fn postback(&self, person: PersonId, page: &Page, title: String, payload: Option<String>, referral: Option<Referral>) -> AppResult<MessageView> {
        let psid = self.core.store.psid(person, &page.id).await?;
        let now = self.core.now();
        let mid = new_mid();
        // A thread opened from a link goes where the Page routes that link's `ref`.
        let opens_to = self.core.receivers(&page.id).await?.route(referral.as_ref().and_then(|r| r.reference.as_deref()));
        let postback = Postback { mid: Some(mid.to_string()), title: title.clone(), payload, referral };
        let body = events::postback(&psid, &page.id, postback.clone(), now);
        // Apps on standby see the tap without its payload (the button was the owner's).
        let standby = events::postback(&psid, &page.id, Postback { payload: None, ..postback }, now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out_with_standby(&targets, WebhookField::MessagingPostbacks, &page.id, person, &body, &standby, now);
        let message = Message { opens_to, ..inbound(mid, &page.id, person, Some(title), None, None, now) };
        let view = self.core.commit_message(message, outbox, None, Companion::Nothing).await.map_err(blocked_by_person)?;
        self.core.metrics.messages_received.inc();
        Ok(view)
    }

    async fn deliver_inbound(&self, mut message: Message, payload: MessagePayload) -> AppResult<MessageView> {
        let psid = self.core.store.psid(message.person, &message.page).await?;
        let body = events::inbound_message(&psid, &message.page, payload, message.created_at);
        let targets = self.core.webhook_targets(&message.page).await?;
        let outbox = events::fan_out(&targets, WebhookField::Messages, &message.page, message.person, &body, message.created_at);
        message.opens_to = self.core.receivers(&message.page).await?.route(None);
        let view = self.core.commit_message(message, outbox, None, Companion::Nothing).await.map_err(blocked_by_person)?;
        self.core.metrics.messages_received.inc();
        Ok(view)
    }

    /// The person reacts to a Page message (`emoji` `None`: takes the reaction back).
    pub async fn person_react(&self, person: PersonId, page_ref: &PageRef, mid: &str, emoji: Option<String>) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        if let Some(emoji) = &emoji {
            if emoji.trim().is_empty() || emoji.chars().count() > 8 {
                return Err(Refusal::invalid_param("emoji must be one emoji").into());
            }
        }
        let message = self.core.message_of_thread(&page.id, person, mid).await?;
        if message.direction != Direction::Outbound {
            return Err(Refusal::invalid_param("Only the Page's messages can be reacted to").into());
        }
        if self.core.store.thread_state(&page.id, person).await?.is_some_and(|state| state.blocked_at.is_some()) {
            return Err(blocked_page());
        }
        let psid = self.core.store.psid(person, &page.id).await?;
        let now = self.core.now();
        let body = events::reaction(&psid, &page.id, &message.mid, emoji.as_deref(), now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessageReactions, &page.id, person, &body, now);
        let wakes = !outbox.is_empty();
        let reaction = Reaction { page: page.id.clone(), person, mid: message.mid.clone(), by: Direction::Inbound, emoji: emoji.clone(), at: now };
        self.core.store.react(reaction, outbox).await?;
        if wakes {
            self.core.wake_dispatcher();
        }
        self.core.announce(person, LiveEvent::Reaction { page_id: page.id, mid: message.mid, by: Author::Person, emoji }).await;
        Ok(())
    }

    /// The person edits the text of a message of theirs (`messages::may_edit`): the
    /// new text in the thread, marked edited, and `message_edits` for every
    /// subscribed app.
    pub async fn person_edit(&self, person: PersonId, page_ref: &PageRef, mid: &str, text: String) -> AppResult<MessageView> {
        let page = self.core.page_for_person(page_ref).await?;
        let message = self.core.message_of_thread(&page.id, person, mid).await?;
        let now = self.core.now();
        let num_edit = messages::may_edit(&message, &text, now)?;
        if self.core.store.thread_state(&page.id, person).await?.is_some_and(|state| state.blocked_at.is_some()) {
            return Err(blocked_page());
        }
        let psid = self.core.store.psid(person, &page.id).await?;
        let body = events::message_edit(&psid, &page.id, &message.mid, &text, num_edit, now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessageEdits, &page.id, person, &body, now);
        let wakes = !outbox.is_empty();
        let edit = Edit { page: page.id.clone(), person, mid: message.mid.clone(), text: text.clone(), num_edit };
        if !self.core.store.edit_message(edit, outbox).await? {
            return Err(Refusal::invalid_param("The message was edited meanwhile: load it again to edit it").into());
        }
        if wakes {
            self.core.wake_dispatcher();
        }
        self.core.announce(person, LiveEvent::Edit { page_id: page.id, mid: message.mid.clone(), text: text.clone(), edits: num_edit }).await;
        Ok(MessageView::from(&Message { text: Some(text), edits: num_edit, ..message }))
    }

    /// The person rates a Page message thumbs up or down (a new rating replaces the
    /// last): `response_feedback` for every subscribed app.
    pub async fn person_rate(&self, person: PersonId, page_ref: &PageRef, mid: &str, feedback: Feedback) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        let message = self.core.message_of_thread(&page.id, person, mid).await?;
        messages::may_rate(&message)?;
        if self.core.store.thread_state(&page.id, person).await?.is_some_and(|state| state.blocked_at.is_some()) {
            return Err(blocked_page());
        }
        let psid = self.core.store.psid(person, &page.id).await?;
        let now = self.core.now();
        let body = events::response_feedback(&psid, &page.id, &message.mid, feedback, now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::ResponseFeedback, &page.id, person, &body, now);
        let wakes = !outbox.is_empty();
        if !self.core.store.rate_message(Rating { page: page.id.clone(), person, mid: message.mid.clone(), feedback }, outbox).await? {
            return Err(Refusal::invalid_param(format!("{mid} is not a message of this thread")).into());
        }
        if wakes {
            self.core.wake_dispatcher();
        }
        self.core.announce(person, LiveEvent::Feedback { page_id: page.id, mid: message.mid, feedback }).await;
        Ok(())
    }

    /// The person's client reports that it received (or read) the Page's messages up
    /// to `watermark` (default: now). Answers the thread's receipts afterwards.
    pub async fn person_receipt(&self, person: PersonId, page_ref: &PageRef, receipt: Receipt, watermark: Option<Millis>) -> AppResult<ReceiptsView> {
        let page = self.core.page_for_person(page_ref).await?;
        let now = self.core.now();
        let watermark = watermark.unwrap_or(now).min(now);
        let psid = self.core.store.psid(person, &page.id).await?;
        let (field, body) = match receipt {
            Receipt::Delivered => (WebhookField::MessageDeliveries, events::delivery(&psid, &page.id, watermark, Vec::new(), now)),
            Receipt::Read => (WebhookField::MessageReads, events::read(&psid, &page.id, watermark, now)),
        };
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, field, &page.id, person, &body, now);
        let wakes_dispatcher = !outbox.is_empty();
        if self.core.store.advance_receipt(&page.id, person, receipt, watermark, outbox).await? && wakes_dispatcher {
            self.core.wake_dispatcher();
        }
        Ok(self.core.store.thread_state(&page.id, person).await?.unwrap_or_default().into())
    }

    /// The person's thread with a Page: the latest `limit` messages before the message
    /// `before` (a `mid` of the thread, the oldest the client holds).
    pub async fn thread(&self, person: PersonId, page_ref: &PageRef, before: Option<Mid>, limit: u32) -> AppResult<ThreadView> {
        let page = self.core.page_for_person(page_ref).await?;
        if let Some(mid) = &before {
            if !self.core.in_thread(&page.id, person, mid).await? {
                return Err(Refusal::invalid_param("Param before must be the mid of a message of this thread").into());
            }
        }
        let mut messages = self.core.store.thread_messages(&page.id, person, before.as_ref(), limit.clamp(1, 200)).await?;
        let state = self.core.store.thread_state(&page.id, person).await?.unwrap_or_default();
        // A conversation the person deleted starts again after that moment (for them).
        if let Some(hidden_before) = state.hidden_before {
            messages.retain(|m| m.created_at > hidden_before);
        }
        let mut views = Vec::with_capacity(messages.len());
        for message in &messages {
            views.push(self.core.message_view(message).await?);
        }
        let account_linked = self.core.store.account_linked(&page.id, person).await?;
        Ok(ThreadView {
            page,
            messages: views,
            account_linked,
            delivered_watermark: state.delivered_watermark,
            read_watermark: state.read_watermark,
            seen_watermark: state.seen_watermark,
        })
    }

    /// The person's threads, most recent first.
    pub async fn threads(&self, person: PersonId) -> AppResult<Vec<ThreadSummaryView>> {
        let mut views = Vec::new();
        for summary in self.core.store.threads_of(person).await? {
            let last_message = match &summary.last_message {
                Some(message) => Some(self.core.message_view(message).await?),
                None => None,
            };
            views.push(ThreadSummaryView { page: summary.page, last_message, unread: summary.unread });
        }
        Ok(views)
    }

    /// The person's live events on this node (server-sent events): what a Page sends,
    /// typing, receipts.
    pub fn live_events(&self, person: PersonId) -> tokio::sync::broadcast::Receiver<LiveEvent> {
        self.core.live.subscribe(person)
    }
}

/// The person blocked the Page: they unblock it before writing to it.
fn blocked_page() -> AppError {
    Refusal::invalid_param("You blocked this Page: unblock it to write to it").into()
}

/// The store refused the person's message because they blocked the Page (the Send
/// API says 551 for the same refusal; the person is told what to do).
fn blocked_by_person(error: AppError) -> AppError {
    match error {
        AppError::Refused(refusal) if refusal.code == 551 => blocked_page(),
        other => other,
    }
}

/// Plausibly an email address: something, `@`, a dotted domain, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && text.len() <= 254 && !text.contains(char::is_whitespace)
}

/// A message the person wrote.
fn inbound(mid: Mid, page: &PageId, person: PersonId, text: Option<String>, attachment: Option<MessageAttachment>, reply_to: Option<Mid>, at: Millis) -> Message {
    Message { text, attachment, reply_to, ..Message::new(mid, page.clone(), person, Direction::Inbound, None, at) }
}
