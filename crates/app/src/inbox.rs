//! `Inbox`: people with a role on a Page (admins and agents) answer by hand. The
//! Page Inbox is an app of the Handover Protocol: an agent takes a thread (the inbox
//! takes control, the bot is told and goes on standby), answers as the Page within
//! the human-agent window, hands the thread back to the primary receiver, and files
//! it in a folder (Done, Spam, back to the inbox).

use crate::core::Core;
use crate::events;
use crate::handover::Control;
use crate::views::{AgentView, AppRefView, ConversationView, InboxMessageView, InboxPageView, InboxPartiesView, InboxState, InboxThreadView, Listing, MessageView};
use crate::{Actor, AppResult};
use std::sync::Arc;
use switchboard_domain::handover::{is_page_inbox, page_inbox, PAGE_INBOX_NAME};
use switchboard_domain::policy::{self, MessageTag, Outgoing};
use switchboard_domain::send::MessagingType;
use switchboard_domain::*;
use switchboard_store::ControlChange;

/// Threads one inbox page lists, and messages one conversation shows.
const THREADS_SHOWN: u32 = 100;
const MESSAGES_SHOWN: u32 = 100;
/// What an agent may write in one message (Meta's text bound).
const MAX_AGENT_TEXT_CHARS: usize = 2000;

#[derive(Clone)]
pub struct Inbox {
    core: Arc<Core>,
}

impl Inbox {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The Pages the signed-in person works in (every Page for the operator).
    pub async fn pages(&self, actor: Actor) -> AppResult<Listing<InboxPageView>> {
        let person = match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        };
        let pages = self.core.store.inbox_pages(person).await?;
        Ok(Listing {
            data: pages
                .into_iter()
                .map(|p| InboxPageView { id: p.page.id, name: p.page.name, username: p.page.username, role: p.role.map(PageRole::as_str), waiting: p.waiting })
                .collect(),
        })
    }

    /// The Page's threads, most recent first, with who controls each.
    pub async fn threads(&self, actor: Actor, page_id: &PageId) -> AppResult<Listing<InboxThreadView>> {
        let page = self.page_for_agent(actor, page_id).await?;
        let threads = self.core.store.inbox_threads(&page.id, None, THREADS_SHOWN).await?;
        let mut data = Vec::with_capacity(threads.len());
        for thread in threads {
            let psid = self.core.psid(thread.person, &page.id).await?;
            data.push(InboxThreadView {
                parties: self.parties(&page.id, thread.person, &psid.0, &thread.control, thread.folder).await?,
                unread: thread.unread,
                last_message_at: thread.last_message_at,
                last_text: thread.last_message.and_then(|m| m.text),
            });
        }
        Ok(Listing { data })
    }

    /// One conversation; opening it marks the person's messages seen by the Page.
    pub async fn conversation(&self, actor: Actor, page_id: &PageId, psid: &str) -> AppResult<ConversationView> {
        let page = self.page_for_agent(actor, page_id).await?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        self.core.store.mark_seen(&page.id, person, self.core.now()).await?;
        self.view(&page, person, psid).await
    }

    /// An agent takes the thread: the Page Inbox takes control from the bot (told
    /// with `take_thread_control`), or the agent takes a thread waiting in the inbox.
    pub async fn take(&self, actor: Actor, page_id: &PageId, psid: &str) -> AppResult<ConversationView> {
        let page = self.page_for_agent(actor, page_id).await?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        let agent = match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        };
        let inbox = page_inbox();
        let state = self.core.thread_control(&page.id, person).await?;
        let claimed = if state.owner.as_ref().is_some_and(is_page_inbox) {
            let change = ControlChange { page: page.id.clone(), person, from: state.owner.clone(), to: state.owner, agent, at: self.core.now() };
            self.core.store.change_control(change, Vec::new()).await?
        } else {
            false
        };
        if !claimed {
            self.core.control(&page, person, &inbox, Control::Take, Some("taken by a person in the Page Inbox"), agent).await?;
        }
        self.view(&page, person, psid).await
    }

    /// The agent answers as the Page. Allowed while the Page Inbox controls the
    /// thread (or no one does), up to seven days after the person's last message.
    pub async fn send(&self, actor: Actor, page_id: &PageId, psid: &str, text: &str) -> AppResult<MessageView> {
        let page = self.page_for_agent(actor, page_id).await?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_AGENT_TEXT_CHARS {
            return Err(Refusal::invalid_param(format!("text must be 1 to {MAX_AGENT_TEXT_CHARS} characters")).into());
        }
        let control = self.core.thread_control(&page.id, person).await?;
        if let Some(reason) = self.cannot_send(&page.id, person, &control).await? {
            return Err(Refusal::not_permitted(reason).into());
        }
        let inbox = page_inbox();
        let now = self.core.now();
        let mid = new_mid();
        let targets = self.core.webhook_targets(&page.id).await?;
        let echo = events::echo(&Psid(psid.to_string()), &page.id, &inbox, &mid, Some(text), None, None, now);
        let outbox = events::fan_out(&targets, WebhookField::MessageEchoes, &page.id, person, &echo, now);
        let message = Message {
            text: Some(text.to_string()),
            opens_to: Some(inbox.clone()),
            ..Message::new(mid, page.id.clone(), person, Direction::Outbound, Some(inbox), now)
        };
        let view = self.core.commit_message(message, outbox, None, crate::notifications::Companion::Nothing).await?;
        self.core.metrics.messages_sent.inc();
        Ok(view)
    }

    /// The agent hands the thread back to the primary receiver (told with
    /// `pass_thread_control`), or, with none, leaves it idle.
    pub async fn hand_back(&self, actor: Actor, page_id: &PageId, psid: &str) -> AppResult<ConversationView> {
        let page = self.page_for_agent(actor, page_id).await?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        let inbox = page_inbox();
        let primary = self.core.receivers(&page.id).await?.primary().cloned();
        let control = match &primary {
            Some(primary) => Control::Pass(primary),
            None => Control::Release,
        };
        self.core.control(&page, person, &inbox, control, Some("handed back by a person in the Page Inbox"), None).await?;
        self.view(&page, person, psid).await
    }

    /// An agent files the thread in a folder (`inbox`, `page_done`, `spam`). Who asks
    /// is checked before what they ask.
    pub async fn set_folder(&self, actor: Actor, page_id: &PageId, psid: &str, folder: Option<&str>) -> AppResult<ConversationView> {
        let page = self.page_for_agent(actor, page_id).await?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        let folder = Folder::parse(folder.unwrap_or_default())?;
        if !self.core.store.set_folder(&page.id, person, folder).await? {
            return Err(Refusal::unknown_object(psid).into());
        }
        self.view(&page, person, psid).await
    }

    /// The Page, if the actor holds a role on it (admin or agent) or is the operator.
    async fn page_for_agent(&self, actor: Actor, page_id: &PageId) -> AppResult<Page> {
        let page = self.core.store.page(page_id).await?.ok_or_else(|| Refusal::unknown_object(page_id.as_str()))?;
        if let Actor::Person(person) = actor {
            if self.core.store.page_role(page_id, person).await?.is_none() {
                return Err(Refusal::permission("Only the Page's admins and agents can use its inbox").into());
            }
        }
        Ok(page)
    }

    /// Why an agent cannot answer now, if they cannot.
    async fn cannot_send(&self, page: &PageId, person: PersonId, control: &ThreadControlState) -> AppResult<Option<String>> {
        if let Some(owner) = control.owner.as_ref().filter(|owner| !is_page_inbox(owner)) {
            let name = self.app_ref(Some(owner)).await?.map_or_else(|| owner.to_string(), |app| app.name);
            return Ok(Some(format!("{name} controls this conversation: take it over to answer")));
        }
        let last_person_at = self.core.store.thread_state(page, person).await?.and_then(|state| state.last_person_at);
        let human_agent = Outgoing::Message(MessagingType::MessageTag, Some(MessageTag::HumanAgent));
        if policy::may_send(human_agent, last_person_at, self.core.now()).is_err() {
            return Ok(Some(
                "The person's last message is more than 7 days old: Messenger's human agent policy allows answers up to 7 days after it".into(),
            ));
        }
        Ok(None)
    }

    async fn view(&self, page: &Page, person: PersonId, psid: &str) -> AppResult<ConversationView> {
        let control = self.core.thread_control(&page.id, person).await?;
        let folder = self.core.store.page_thread(&page.id, person).await?.map_or(Folder::Inbox, |t| t.folder);
        let stored = self.core.store.thread_messages(&page.id, person, None, MESSAGES_SHOWN).await?;
        let mut messages = Vec::with_capacity(stored.len());
        for message in &stored {
            messages.push(InboxMessageView { message: self.core.message_view(message).await?, app: self.app_ref(message.app.as_ref()).await? });
        }
        let cannot_send_reason = self.cannot_send(&page.id, person, &control).await?;
        Ok(ConversationView {
            parties: self.parties(&page.id, person, psid, &control, folder).await?,
            can_send: cannot_send_reason.is_none(),
            cannot_send_reason,
            messages,
        })
    }

    async fn parties(&self, page: &PageId, person: PersonId, psid: &str, control: &ThreadControlState, folder: Folder) -> AppResult<InboxPartiesView> {
        Ok(InboxPartiesView {
            psid: psid.to_string(),
            name: self.core.person(person).await?.name,
            profile_pic: Some(self.core.profile_picture_url(page, psid)),
            owner: self.app_ref(control.owner.as_ref()).await?,
            state: state_of(control),
            agent: self.agent(control.agent).await?,
            folder,
        })
    }

    async fn app_ref(&self, app: Option<&AppId>) -> AppResult<Option<AppRefView>> {
        Ok(match app {
            None => None,
            Some(app) if is_page_inbox(app) => Some(AppRefView { id: app.clone(), name: PAGE_INBOX_NAME.into() }),
            Some(app) => Some(AppRefView { id: app.clone(), name: self.core.app(app).await?.map(|a| a.name).unwrap_or_else(|| app.to_string()) }),
        })
    }

    async fn agent(&self, agent: Option<PersonId>) -> AppResult<Option<AgentView>> {
        Ok(match agent {
            Some(id) => Some(AgentView { id, name: self.core.person(id).await?.name }),
            None => None,
        })
    }
}

fn state_of(control: &ThreadControlState) -> InboxState {
    match &control.owner {
        None => InboxState::Idle,
        Some(owner) if is_page_inbox(owner) && control.agent.is_some() => InboxState::Agent,
        Some(owner) if is_page_inbox(owner) => InboxState::Waiting,
        Some(_) => InboxState::Bot,
    }
}
