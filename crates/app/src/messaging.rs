//! The Send API: an app writes to a person in a Page's thread (text, media,
//! templates, stickers, quick replies, as a persona, as a reply), or shows a sender
//! action.
//! Every stored fact takes its webhook events with it in one store call; the
//! dispatcher and live streams are woken after. The person's side is in `threads`.

use crate::cache::TtlCache;
use crate::core::Core;
use crate::events;
use crate::live::LiveEvent;
use crate::media::{shown_attachment, Upload};
use crate::metrics::RefusalLabels;
use crate::notifications::{Companion, TokenKind};
use crate::timing::timed;
use crate::views::{Author, PersonaView};
use crate::{AppError, AppResult, Caller, Media, Notifications};
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard_domain::content::{Attachment, MediaSource, OutgoingMessage, TemplateType};
use switchboard_domain::params::Params;
use switchboard_domain::policy::{self, Outgoing};
use switchboard_domain::send::{parse_send, Recipient, SendBody, SendCommand, SenderAction};
use switchboard_domain::*;
use switchboard_store::{OptinKind, OptinRequest, Reaction};
use switchboard_wire::send::SendResponse;

/// The Send API.
#[derive(Clone)]
pub struct Messaging {
    core: Arc<Core>,
    media: Media,
    notifications: Notifications,
    /// A thread's last known interaction. Only ever trusted to say the window is
    /// open: a newer interaction elsewhere can only have moved it later.
    interactions: Arc<TtlCache<(PageId, PersonId), Millis>>,
}

/// How long a thread's last interaction is remembered.
const INTERACTIONS_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

impl Messaging {
    pub(crate) fn new(core: Arc<Core>, media: Media, notifications: Notifications) -> Self {
        Self { core, media, notifications, interactions: Arc::new(TtlCache::new(INTERACTIONS_TTL)) }
    }

    /// `POST /{page-id}/messages` (or `/me/messages`) with a Page token; `upload` is
    /// the multipart `filedata` of an upload-and-send. Refusals are counted by code
    /// and subcode.
    pub async fn send(&self, caller: &Caller, page_ref: &PageRef, params: &Params, upload: Option<Upload>) -> AppResult<SendResponse> {
        let result = self.send_unmetered(caller, page_ref, params, upload).await;
        if let Err(AppError::Refused(refusal)) = &result {
            let labels = RefusalLabels { code: refusal.code, subcode: refusal.subcode.unwrap_or(0) };
            self.core.metrics.send_refusals.get_or_create(&labels).inc();
        }
        result
    }

    async fn send_unmetered(&self, caller: &Caller, page_ref: &PageRef, params: &Params, upload: Option<Upload>) -> AppResult<SendResponse> {
        let (page, app) = self.core.own_page_to_message(caller, page_ref)?;
        let command = parse_send(params)?;
        let plain = matches!(
            &command.body,
            SendBody::Message(OutgoingMessage { attachment: None | Some(Attachment::Media { .. } | Attachment::Template { .. } | Attachment::Sticker(_)), .. })
        );
        if !matches!(command.recipient, Recipient::Psid(_)) && !plain {
            return Err(Refusal::invalid_param("Sender actions and opt-in requests need recipient.id").into());
        }
        let (person, psid, companion) = match &command.recipient {
            Recipient::Psid(psid) => (timed("psid", self.core.person_of_psid(&page.id, psid)).await?, Psid(psid.clone()), Companion::Nothing),
            Recipient::PhoneNumber(phone) => {
                // The Page's permission first: a Page without it learns nothing of the number.
                if !self.core.page_feature_approved(&page.id, PageFeature::PhoneNumbers).await? {
                    return Err(Refusal::phone_numbers_not_permitted().into());
                }
                let (person, verified_at) = self.core.store.person_by_phone(phone).await?.ok_or_else(Refusal::no_matching_user)?;
                policy::may_reach_by_phone(verified_at, self.core.now())?;
                (person, self.core.store.psid(person, &page.id).await?, Companion::Nothing)
            }
            Recipient::NotificationMessagesToken(token) => self.notifications.notification_token(&page.id, token, TokenKind::Recurring).await?,
            Recipient::OneTimeNotifToken(token) => self.notifications.notification_token(&page.id, token, TokenKind::OneTime).await?,
            Recipient::UserRef(user_ref) => {
                // One message by a checkbox plugin's user_ref, before it expires.
                let known = self.core.store.user_ref(&page.id, user_ref).await?.filter(|known| known.expires_at > self.core.now());
                let known = known.ok_or_else(Refusal::no_matching_user)?;
                if known.spent_mid.is_some() {
                    return Err(Refusal::user_ref_spent().into());
                }
                (known.person, self.core.psid(known.person, &page.id).await?, Companion::UserRef(user_ref.clone()))
            }
        };
        self.send_to(page, app, person, psid, command, upload, companion).await
    }

    /// The recipient is resolved; the rules that remain, then the message or action,
    /// stored with its `companion` (the token it spends) in one store call.
    #[allow(clippy::too_many_arguments)]
    async fn send_to(&self, page: &Page, app: &App, person: PersonId, psid: Psid, command: SendCommand, upload: Option<Upload>, mut companion: Companion) -> AppResult<SendResponse> {
        // The app's role holders are reached in any mode; anyone else only by a live
        // app whose review approved pages_messaging (and HUMAN_AGENT, human_agent).
        let human_agent = command.tag == Some(policy::MessageTag::HumanAgent);
        let reviewed = app.mode == AppMode::Live && app.approved.contains(Permission::PagesMessaging);
        if !reviewed || (human_agent && !app.approved.contains(Permission::HumanAgent)) {
            let holds_role = self.core.role_on(&app.id, person).await?.is_some();
            permissions::may_message(app.mode, app.approved, holds_role)?;
            if human_agent && !holds_role {
                return Err(Refusal::feature_not_reviewed(Permission::HumanAgent).into());
            }
        }
        // A matched phone number (a first contact) and a notification token stand
        // outside the window; everything addressed by PSID follows it.
        if let Recipient::Psid(_) = command.recipient {
            let outgoing = match command.body {
                SendBody::Action(_) | SendBody::React { .. } => Outgoing::Action,
                SendBody::Message(_) => Outgoing::Message(command.messaging_type, command.tag),
            };
            timed("window", self.check_window(&page.id, person, outgoing)).await?;
        }
        let persona = match &command.persona_id {
            Some(id) => Some(self.page_persona(&page.id, id).await?),
            None => None,
        };
        let message = match command.body {
            SendBody::Action(action) => {
                // A person who blocked the Page sees nothing of it, typing included.
                if self.core.store.thread_state(&page.id, person).await?.is_some_and(|state| state.blocked_at.is_some()) {
                    return Err(Refusal::person_unavailable().into());
                }
                if action == SenderAction::MarkSeen {
                    self.core.store.mark_seen(&page.id, person, self.core.now()).await?;
                }
                self.publish_action(person, &page.id, action, persona).await;
                return Ok(SendResponse { recipient_id: psid.0, message_id: None, attachment_id: None });
            }
            SendBody::React { mid, emoji } => {
                let mid = Mid(mid);
                let reaction = Reaction { page: page.id.clone(), person, mid: mid.clone(), by: Direction::Outbound, emoji: emoji.clone(), at: self.core.now() };
                if !self.core.store.react(reaction, Vec::new()).await? {
                    return Err(Refusal::invalid_param("Param payload[message_id] is not a message of this thread").into());
                }
                self.core.announce(person, LiveEvent::Reaction { page_id: page.id.clone(), mid: mid.clone(), by: Author::Page, emoji }).await;
                return Ok(SendResponse { recipient_id: psid.0, message_id: Some(mid.0), attachment_id: None });
            }
            SendBody::Message(message) => message,
        };
        let reply_to = match command.reply_to {
            Some(mid) => Some(self.core.message_of_thread(&page.id, person, &mid).await?.mid),
            None => None,
        };
        let now = self.core.now();
        let mid = new_mid();
        let mut saved_attachment = None;
        let attachment = match message.attachment {
            None => None,
            Some(Attachment::Media { kind, source, is_reusable }) => {
                let by_id = matches!(source, MediaSource::AttachmentId(_));
                let record = self.media.store_media(&page.id, kind, &source, upload, is_reusable).await?;
                if is_reusable && !by_id {
                    saved_attachment = Some(record.id.clone());
                }
                Some(shown_attachment(&self.core, &record, false)?)
            }
            Some(Attachment::Template { template_type, mut payload }) => {
                if template_type == TemplateType::Media {
                    self.resolve_media_element(&page.id, &mut payload).await?;
                }
                Some(MessageAttachment::template(payload))
            }
            Some(Attachment::Sticker(sticker)) => Some(self.core.sticker_attachment(sticker)),
            Some(Attachment::OneTimeNotifRequest { title, payload }) => {
                let template = MessageAttachment::template(json!({"template_type": "one_time_notif_req", "title": title, "payload": payload}));
                companion = Companion::OptinRequest(OptinRequest::new(mid.clone(), OptinKind::OneTime, page.id.clone(), person, title, payload, now));
                Some(template)
            }
            Some(Attachment::RecurringOptinRequest { title, payload, frequency, template }) => {
                let mut request = OptinRequest::new(mid.clone(), OptinKind::Recurring(frequency), page.id.clone(), person, title, payload, now);
                request.reoptin = template.payload.get("notification_messages_reoptin").and_then(|v| v.as_str()) == Some("ENABLED");
                companion = Companion::OptinRequest(request);
                Some(template)
            }
        };
        if let Companion::OptinRequest(request) = &companion {
            self.notifications.may_request_optin(request).await?;
        }
        let text = message.text;
        let metadata = message.metadata;
        let targets = timed("targets", self.core.webhook_targets(&page.id)).await?;
        // The echo is rendered only when some app takes echoes; a send by user_ref
        // has none (Meta stopped them in 2018).
        let by_user_ref = matches!(command.recipient, Recipient::UserRef(_));
        let outbox = if !by_user_ref && targets.iter().any(|t| t.fields.contains(&WebhookField::MessageEchoes)) {
            let echo = events::echo(&psid, &page.id, &app.id, &mid, text.as_deref(), attachment.as_ref(), metadata.as_deref(), now);
            events::fan_out(&targets, WebhookField::MessageEchoes, &page.id, person, &echo, now)
        } else {
            Vec::new()
        };
        let message = Message {
            text,
            metadata,
            attachment,
            quick_replies: message.quick_replies,
            reply_to,
            persona: persona.as_ref().map(|p| p.id.clone()),
            // A thread the app opens is the app's (the store refuses a message to a
            // thread another app owns: 10/2018300).
            opens_to: Some(app.id.clone()),
            ..Message::new(mid.clone(), page.id.clone(), person, Direction::Outbound, Some(app.id.clone()), now)
        };
        self.core.commit_message(message, outbox, persona, companion).await?;
        self.core.metrics.messages_sent.inc();
        // A send by user_ref does not reveal the PSID: the person's answer will.
        let recipient_id = if by_user_ref { String::new() } else { psid.0 };
        Ok(SendResponse { recipient_id, message_id: Some(mid.0), attachment_id: saved_attachment })
    }

    /// Refuses a message the window (or a tag) does not allow.
    async fn check_window(&self, page: &PageId, person: PersonId, outgoing: Outgoing) -> AppResult<()> {
        let thread = (page.clone(), person);
        let now = self.core.now();
        // A remembered interaction that allows the message is enough: the window
        // only ever moves later. Anything else is read from the store, where an
        // interaction on any node is.
        let allowed_by_memory = self.interactions.get(&thread).is_some_and(|at| policy::may_send(outgoing, Some(at), now).is_ok());
        if !allowed_by_memory {
            let last_interaction = self.core.store.thread_state(page, person).await?.and_then(|state| state.last_person_at);
            if let Some(at) = last_interaction {
                self.interactions.put(thread, at);
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
        let record = self.core.store.attachment(&id).await?;
        let record = record
            .filter(|r| &r.page == page && r.reusable && switchboard_domain::media::attachment_id_usable(r.created_at, self.core.now()))
            .ok_or_else(Refusal::attachment_not_owned)?;
        let wanted = element.get("media_type").and_then(Value::as_str).unwrap_or("");
        if record.kind != wanted {
            return Err(Refusal::attachment_upload_failed(format!("Attachment {id} is a {} attachment, not a {wanted}.", record.kind)).into());
        }
        element["url"] = Value::String(self.core.media_url(&record.digest));
        Ok(())
    }

    /// A live persona of this Page.
    async fn page_persona(&self, page: &PageId, id: &str) -> AppResult<PersonaView> {
        let persona = self.core.store.persona(id).await?.filter(|p| &p.page == page);
        let persona = persona.ok_or_else(|| Refusal::invalid_param(format!("Param persona_id: {id} is not a persona of this Page")))?;
        Ok(PersonaView { id: persona.id, name: persona.name, profile_picture_url: persona.profile_picture_url })
    }

    async fn publish_action(&self, person: PersonId, page: &PageId, action: SenderAction, persona: Option<PersonaView>) {
        let event = match action {
            SenderAction::TypingOn => LiveEvent::Typing { page_id: page.clone(), on: true, persona },
            SenderAction::TypingOff => LiveEvent::Typing { page_id: page.clone(), on: false, persona },
            SenderAction::MarkSeen => LiveEvent::Seen { page_id: page.clone(), watermark: self.core.now() },
        };
        self.core.announce(person, event).await;
    }
}
