//! The Send API: an app writes to a person in a Page's thread (text, media,
//! templates, quick replies, as a persona, as a reply), or shows a sender action.
//! Every stored fact takes its webhook events with it in one store call; the
//! dispatcher and live streams are woken after. The person's side is in `threads`.

use crate::events;
use crate::live::LiveEvent;
use crate::media::{attachment_json, Upload};
use crate::metrics::RefusalLabels;
use crate::notifications::{Companion, TokenKind};
use crate::{AppError, AppResult, Caller, Platform};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_domain::content::{Attachment, MediaSource, OutgoingMessage, TemplateType};
use switchboard_domain::params::Params;
use switchboard_domain::policy::{self, Outgoing};
use switchboard_domain::send::{parse_send, Recipient, SendBody, SendCommand, SenderAction};
use switchboard_domain::*;
use switchboard_store::{OptinKind, OptinRequest};
use switchboard_wire::send::SendResponse;

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
    pub attachment: Option<Value>,
    /// Quick replies offered with the message; the client shows them while the
    /// message is the thread's latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Mid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persona: Option<PersonaView>,
    #[serde(skip_serializing_if = "Reactions::is_empty", default)]
    pub reactions: Reactions,
    /// For a notification opt-in request: whether the person accepted it, or stopped it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notification: Option<NotificationState>,
    pub created_at: Millis,
}

/// What the person did with a notification opt-in request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationState {
    pub accepted: bool,
    pub stopped: bool,
}

impl From<&Message> for MessageView {
    /// The view without its persona (that needs the store: see `Platform::view`).
    fn from(message: &Message) -> Self {
        Self {
            mid: message.mid.clone(),
            from: Author::of(message.direction),
            text: message.text.clone(),
            attachment: message.attachment.as_deref().and_then(|json| serde_json::from_str(json).ok()),
            quick_replies: message.quick_replies.as_deref().and_then(|json| serde_json::from_str(json).ok()),
            reply_to: message.reply_to.clone(),
            persona: None,
            reactions: Reactions { person: message.person_reaction.clone(), page: message.page_reaction.clone() },
            notification: None,
            created_at: message.created_at,
        }
    }
}

impl Platform {
    /// `POST /{page-id}/messages` (or `/me/messages`) with a Page token; `upload` is
    /// the multipart `filedata` of an upload-and-send. Refusals are counted by code
    /// and subcode.
    pub async fn send(&self, caller: &Caller, page_ref: &str, params: &Params, upload: Option<Upload>) -> AppResult<SendResponse> {
        let result = self.send_unmetered(caller, page_ref, params, upload).await;
        if let Err(AppError::Refused(refusal)) = &result {
            let labels = RefusalLabels { code: refusal.code, subcode: refusal.subcode.unwrap_or(0) };
            self.inner.metrics.send_refusals.get_or_create(&labels).inc();
        }
        result
    }

    async fn send_unmetered(&self, caller: &Caller, page_ref: &str, params: &Params, upload: Option<Upload>) -> AppResult<SendResponse> {
        let (page, app) = self.own_page(caller, page_ref)?;
        let command = parse_send(params)?;
        let plain = matches!(&command.body, SendBody::Message(OutgoingMessage { attachment: None | Some(Attachment::Media { .. } | Attachment::Template { .. }), .. }));
        if !matches!(command.recipient, Recipient::Psid(_)) && !plain {
            return Err(Refusal::invalid_param("Sender actions and opt-in requests need recipient.id").into());
        }
        let (person, psid, companion) = match &command.recipient {
            Recipient::Psid(psid) => (self.person_of_psid(&page.id, psid).await?, Psid(psid.clone()), Companion::Nothing),
            Recipient::PhoneNumber(phone) => {
                // The Page's permission first: a Page without it learns nothing of the number.
                if !self.page_feature_approved(&page.id, PageFeature::PhoneNumbers).await? {
                    return Err(Refusal::phone_numbers_not_permitted().into());
                }
                let (person, verified_at) = self.inner.store.person_by_phone(phone).await?.ok_or_else(Refusal::no_matching_user)?;
                policy::may_reach_by_phone(verified_at, self.now())?;
                (person, self.inner.store.psid(person, &page.id).await?, Companion::Nothing)
            }
            Recipient::NotificationMessagesToken(token) => self.notification_token(&page.id, token, TokenKind::Recurring).await?,
            Recipient::OneTimeNotifToken(token) => self.notification_token(&page.id, token, TokenKind::OneTime).await?,
        };
        self.send_to(page, app, person, psid, command, upload, companion).await
    }

    /// The recipient is resolved; the rules that remain, then the message or action,
    /// stored with its `companion` (the token it spends) in one store call.
    #[allow(clippy::too_many_arguments)]
    async fn send_to(&self, page: &Page, app: &App, person: PersonId, psid: Psid, command: SendCommand, upload: Option<Upload>, mut companion: Companion) -> AppResult<SendResponse> {
        if app.mode == AppMode::Development {
            policy::may_reach(app.mode, self.role_on(&app.id, person).await?)?;
        }
        // A matched phone number (a first contact) and a notification token stand
        // outside the window; everything addressed by PSID follows it.
        if let Recipient::Psid(_) = command.recipient {
            let outgoing = match command.body {
                SendBody::Action(_) | SendBody::React { .. } => Outgoing::Action,
                SendBody::Message(_) => Outgoing::Message(command.messaging_type, command.tag),
            };
            self.check_window(&page.id, person, outgoing).await?;
        }
        let persona = match &command.persona_id {
            Some(id) => Some(self.page_persona(&page.id, id).await?),
            None => None,
        };
        let message = match command.body {
            SendBody::Action(action) => {
                if action == SenderAction::MarkSeen {
                    self.inner.store.mark_seen(&page.id, person, self.now()).await?;
                }
                self.publish_action(person, &page.id, action, persona).await;
                return Ok(SendResponse { recipient_id: psid.0, message_id: None, attachment_id: None });
            }
            SendBody::React { mid, emoji } => {
                let mid = Mid(mid);
                if !self.inner.store.react(&page.id, person, &mid, Direction::Outbound, emoji.clone(), self.now(), Vec::new()).await? {
                    return Err(Refusal::invalid_param("Param payload[message_id] is not a message of this thread").into());
                }
                self.announce(person, LiveEvent::Reaction { page_id: page.id.clone(), mid: mid.clone(), by: Author::Page, emoji }).await;
                return Ok(SendResponse { recipient_id: psid.0, message_id: Some(mid.0), attachment_id: None });
            }
            SendBody::Message(message) => message,
        };
        let reply_to = match command.reply_to {
            Some(mid) => Some(self.message_of_thread(&page.id, person, &mid).await?.mid),
            None => None,
        };
        let now = self.now();
        let mid = random_mid();
        let mut saved_attachment = None;
        let attachment = match message.attachment {
            None => None,
            Some(Attachment::Media { kind, source, is_reusable }) => {
                let by_id = matches!(source, MediaSource::AttachmentId(_));
                let record = self.store_media(&page.id, kind, &source, upload, is_reusable).await?;
                if is_reusable && !by_id {
                    saved_attachment = Some(record.id.clone());
                }
                Some(attachment_json(self, &record, false))
            }
            Some(Attachment::Template { template_type, mut payload }) => {
                if template_type == TemplateType::Media {
                    self.resolve_media_element(&page.id, &mut payload).await?;
                }
                Some(json!({"type": "template", "payload": payload}))
            }
            Some(Attachment::OneTimeNotifRequest { title, payload }) => {
                let template = json!({"type": "template", "payload": {"template_type": "one_time_notif_req", "title": title, "payload": payload}});
                companion = Companion::OptinRequest(OptinRequest::new(mid.clone(), OptinKind::OneTime, page.id.clone(), person, title, payload, now));
                Some(template)
            }
            Some(Attachment::RecurringOptinRequest { title, payload, frequency, template }) => {
                companion = Companion::OptinRequest(OptinRequest::new(mid.clone(), OptinKind::Recurring(frequency), page.id.clone(), person, title, payload, now));
                Some(template)
            }
        };
        if let Companion::OptinRequest(request) = &companion {
            self.may_request_optin(request).await?;
        }
        let text = message.text;
        let metadata = message.metadata;
        let targets = self.webhook_targets(&page.id).await?;
        // The echo is rendered only when some app takes echoes.
        let outbox = if targets.iter().any(|t| t.fields.contains(&WebhookField::MessageEchoes)) {
            let echo = events::echo(&psid, &page.id, &app.id, &mid, text.as_deref(), attachment.as_ref(), metadata.as_deref(), now);
            events::fan_out(&targets, WebhookField::MessageEchoes, &page.id, person, &echo, now)
        } else {
            Vec::new()
        };
        let quick_replies = (!message.quick_replies.is_empty()).then(|| Value::Array(message.quick_replies).to_string());
        let message = Message {
            text,
            metadata,
            attachment: attachment.as_ref().map(Value::to_string),
            quick_replies,
            reply_to,
            persona: persona.as_ref().map(|p| p.id.clone()),
            ..Message::new(mid.clone(), page.id.clone(), person, Direction::Outbound, Some(app.id.clone()), now)
        };
        self.commit_message(message, outbox, persona, companion).await?;
        self.inner.metrics.messages_sent.inc();
        Ok(SendResponse { recipient_id: psid.0, message_id: Some(mid.0), attachment_id: saved_attachment })
    }

    /// Refuses a message the window (or a tag) does not allow.
    async fn check_window(&self, page: &PageId, person: PersonId, outgoing: Outgoing) -> AppResult<()> {
        let thread = (page.clone(), person);
        let now = self.now();
        // A remembered interaction that allows the message is enough: the window
        // only ever moves later. Anything else is read from the store, where an
        // interaction on any node is.
        let allowed_by_memory = self.inner.interactions.get(&thread).is_some_and(|at| policy::may_send(outgoing, Some(at), now).is_ok());
        if !allowed_by_memory {
            let last_interaction = self.inner.store.thread_state(page, person).await?.and_then(|state| state.last_person_at);
            if let Some(at) = last_interaction {
                self.inner.interactions.put(thread, at);
            }
            policy::may_send(outgoing, last_interaction, now)?;
        }
        Ok(())
    }

    /// A media template names its image or video by `attachment_id` (this Page's,
    /// reusable) or by `url`; the person's client is given a URL either way.
    async fn resolve_media_element(&self, page: &PageId, payload: &mut Value) -> AppResult<()> {
        let Some(element) = payload.pointer_mut("/elements/0") else { return Ok(()) };
        let Some(id) = element.get("attachment_id").and_then(|id| id.as_str().map(str::to_string).or_else(|| id.as_u64().map(|n| n.to_string()))) else {
            return Ok(());
        };
        let record = self.inner.store.attachment(&id).await?;
        let record = record
            .filter(|r| &r.page == page && r.reusable && switchboard_domain::media::attachment_id_usable(r.created_at, self.now()))
            .ok_or_else(Refusal::attachment_not_owned)?;
        let wanted = element.get("media_type").and_then(Value::as_str).unwrap_or("");
        if record.kind != wanted {
            return Err(Refusal::attachment_upload_failed(format!("Attachment {id} is a {} attachment, not a {wanted}.", record.kind)).into());
        }
        element["url"] = Value::String(self.media_url(&record.digest));
        Ok(())
    }

    /// A live persona of this Page.
    async fn page_persona(&self, page: &PageId, id: &str) -> AppResult<PersonaView> {
        let persona = self.inner.store.persona(id).await?.filter(|p| &p.page == page);
        let persona = persona.ok_or_else(|| Refusal::invalid_param(format!("Param persona_id: {id} is not a persona of this Page")))?;
        Ok(PersonaView { id: persona.id, name: persona.name, profile_picture_url: persona.profile_picture_url })
    }

    /// A message of the (Page, person) thread, else 100.
    pub(crate) async fn message_of_thread(&self, page: &PageId, person: PersonId, mid: &str) -> AppResult<Message> {
        let message = self.inner.store.message(&Mid(mid.to_string())).await?;
        Ok(message.filter(|m| &m.page == page && m.person == person).ok_or_else(|| Refusal::invalid_param(format!("{mid} is not a message of this thread")))?)
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
    pub(crate) async fn person_of_psid(&self, page: &PageId, psid: &str) -> AppResult<PersonId> {
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

    async fn publish_action(&self, person: PersonId, page: &PageId, action: SenderAction, persona: Option<PersonaView>) {
        let event = match action {
            SenderAction::TypingOn => LiveEvent::Typing { page_id: page.clone(), on: true, persona },
            SenderAction::TypingOff => LiveEvent::Typing { page_id: page.clone(), on: false, persona },
            SenderAction::MarkSeen => LiveEvent::Seen { page_id: page.clone(), watermark: self.now() },
        };
        self.announce(person, event).await;
    }

    /// Stores the message with its events and its companion fact (in one store call),
    /// wakes the dispatcher, and shows it live.
    pub(crate) async fn commit_message(
        &self,
        message: Message,
        outbox: Vec<switchboard_store::NewOutboxEvent>,
        persona: Option<PersonaView>,
        companion: Companion,
    ) -> AppResult<MessageView> {
        let wakes_dispatcher = !outbox.is_empty();
        let person = message.person;
        let mut view = MessageView::from(&message);
        view.persona = persona;
        let page_id = message.page.clone();
        let store = &self.inner.store;
        match companion {
            Companion::Nothing => store.append_message(message, outbox).await?,
            Companion::OptinRequest(request) => {
                if !store.send_optin_request(request, message, outbox).await? {
                    return Err(Refusal::one_time_notif_same_topic().into());
                }
            }
            Companion::Token { spend, if_spent } => {
                if !store.send_with_token(spend, message, outbox).await? {
                    return Err(if_spent.into());
                }
            }
        }
        if wakes_dispatcher {
            self.inner.outbox_wake.notify_one();
        }
        self.announce(person, LiveEvent::Message { page_id, message: Box::new(view.clone()) }).await;
        Ok(view)
    }

    /// A stored message as the person's client shows it, with its persona and, for an
    /// opt-in request, what the person did with it.
    pub(crate) async fn view(&self, message: &Message) -> AppResult<MessageView> {
        let mut view = MessageView::from(message);
        let template = view.attachment.as_ref().and_then(|a| a.pointer("/payload/template_type")).and_then(Value::as_str);
        if matches!(template, Some("one_time_notif_req" | "notification_messages")) {
            let request = self.inner.store.optin_request(&message.mid).await?;
            view.notification = Some(request.map_or_else(NotificationState::default, |r| NotificationState {
                accepted: r.tapped_at.is_some(),
                stopped: r.stopped_at.is_some(),
            }));
        }
        if let Some(id) = &message.persona {
            // A deleted persona's messages show the Page's own name again.
            view.persona = self.inner.store.persona(id).await?.map(|p| PersonaView { id: p.id, name: p.name, profile_picture_url: p.profile_picture_url });
        }
        Ok(view)
    }
}
