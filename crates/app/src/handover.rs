//! `Handover`: several apps on one Page (reference §6). The receiver roles a Page
//! admin gives its apps, the Page's routing of new threads, and the thread-control
//! calls apps make (pass, take, request, release, the owner, the secondary
//! receivers). A change of control and the events it causes are one store call,
//! made only if the thread is still as it was read; a lost race is read again.

use crate::core::Core;
use crate::events;
use crate::views::{ReceiverView, ReceiversView, RoutingRuleView};
use crate::{Actor, AppError, AppResult, Caller, Invalidation};
use std::sync::Arc;
use switchboard_domain::handover::{self as rules, is_page_inbox, page_inbox, ControlParams, ThreadControl, PAGE_INBOX_NAME};
use switchboard_domain::params::Params;
use switchboard_domain::*;
use switchboard_store::{ControlChange, RoutingRule};
use switchboard_wire::graph::{OwnerApp, ReceiverNode, ThreadOwner};

/// A Page's receivers and routing rules, as cached by the core.
#[derive(Debug, Clone, Default)]
pub struct PageReceivers {
    pub receivers: Vec<Receiver>,
    pub rules: Vec<RoutingRule>,
}

impl PageReceivers {
    /// The app's role; the Page Inbox is always a secondary receiver.
    pub fn role_of(&self, app: &AppId) -> Option<ReceiverRole> {
        if is_page_inbox(app) {
            return Some(ReceiverRole::Secondary);
        }
        self.receivers.iter().find(|r| &r.app == app).and_then(|r| r.role)
    }

    pub fn primary(&self) -> Option<&AppId> {
        self.receivers.iter().find(|r| r.role == Some(ReceiverRole::Primary)).map(|r| &r.app)
    }

    /// Who a new thread goes to: the app a rule names for the `ref` it was opened
    /// with (while that app is still installed), else the primary receiver.
    pub fn route(&self, reference: Option<&str>) -> Option<AppId> {
        let ruled = reference.and_then(|reference| self.rules.iter().find(|rule| rule.reference == reference));
        match ruled {
            Some(rule) if is_page_inbox(&rule.app) || self.receivers.iter().any(|r| r.app == rule.app) => Some(rule.app.clone()),
            _ => self.primary().cloned(),
        }
    }
}

/// What an app (or the Page Inbox, for an agent) does to a thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control<'a> {
    Pass(&'a AppId),
    Take,
    Request,
    Release,
}

/// How many times a change of control is tried when another change comes first.
const CONTROL_ATTEMPTS: usize = 4;

/// The Handover Protocol.
#[derive(Clone)]
pub struct Handover {
    core: Arc<Core>,
}

impl Handover {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// `POST /me/pass_thread_control`.
    pub async fn pass(&self, caller: &Caller, page: &PageRef, params: &Params) -> AppResult<()> {
        let (page, app, person, params) = self.thread_call(caller, page, params, true).await?;
        let target = params.target.expect("parse_control asks for target_app_id");
        self.core.control(&page, person, &app.id, Control::Pass(&target), params.metadata.as_deref(), None).await
    }

    /// `POST /me/take_thread_control`.
    pub async fn take(&self, caller: &Caller, page: &PageRef, params: &Params) -> AppResult<()> {
        let (page, app, person, params) = self.thread_call(caller, page, params, false).await?;
        self.core.control(&page, person, &app.id, Control::Take, params.metadata.as_deref(), None).await
    }

    /// `POST /me/request_thread_control`.
    pub async fn request(&self, caller: &Caller, page: &PageRef, params: &Params) -> AppResult<()> {
        let (page, app, person, params) = self.thread_call(caller, page, params, false).await?;
        self.core.control(&page, person, &app.id, Control::Request, params.metadata.as_deref(), None).await
    }

    /// `POST /me/release_thread_control`.
    pub async fn release(&self, caller: &Caller, page: &PageRef, params: &Params) -> AppResult<()> {
        let (page, app, person, params) = self.thread_call(caller, page, params, false).await?;
        self.core.control(&page, person, &app.id, Control::Release, params.metadata.as_deref(), None).await
    }

    /// `GET /me/thread_owner?recipient=`: the owner, or nothing while the thread is idle.
    pub async fn thread_owner(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<Vec<ThreadOwner>> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let psid = rules::recipient_psid(params)?;
        let person = self.core.person_of_psid(&page.id, &psid).await?;
        let owner = self.core.thread_owner(&page.id, person).await?;
        Ok(owner.into_iter().map(|app| ThreadOwner { thread_owner: OwnerApp { app_id: app.0 } }).collect())
    }

    /// `GET /me/secondary_receivers?fields=id,name`: for the primary receiver only.
    pub async fn secondary_receivers(&self, caller: &Caller, page_ref: &PageRef, fields: &[String]) -> AppResult<Vec<ReceiverNode>> {
        let (page, app) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let receivers = self.core.receivers(&page.id).await?;
        match receivers.role_of(&app.id) {
            Some(ReceiverRole::Primary) => {}
            Some(ReceiverRole::Secondary) => return Err(Refusal::secondary_receivers_for_primary_only().into()),
            None => return Err(Refusal::not_a_receiver().into()),
        }
        let wants = |field: &str| fields.is_empty() || fields.iter().any(|f| f == field);
        let mut nodes = Vec::new();
        for receiver in receivers.receivers.iter().filter(|r| r.role == Some(ReceiverRole::Secondary)) {
            let name = self.core.app(&receiver.app).await?.map(|a| a.name).unwrap_or_default();
            nodes.push(ReceiverNode { id: wants("id").then(|| receiver.app.to_string()), name: wants("name").then_some(name) });
        }
        nodes.push(ReceiverNode { id: wants("id").then(|| page_inbox().0), name: wants("name").then(|| PAGE_INBOX_NAME.to_string()) });
        Ok(nodes)
    }

    /// The Page, the calling app, the person and the parameters of a thread-control call.
    async fn thread_call<'c>(&self, caller: &'c Caller, page: &PageRef, params: &Params, needs_target: bool) -> AppResult<(Page, &'c App, PersonId, ControlParams)> {
        let (page, app) = self.core.own_page_to_message(caller, page)?;
        let params = rules::parse_control(params, needs_target)?;
        let person = self.core.person_of_psid(&page.id, &params.psid).await?;
        Ok((page.clone(), app, person, params))
    }

    /// The console: the Page's apps with their roles, and the Page Inbox.
    pub async fn receivers_view(&self, actor: Actor, page_id: &PageId) -> AppResult<ReceiversView> {
        let page = self.core.page_for_admin(actor, page_id).await?;
        self.view(&page).await
    }

    async fn view(&self, page: &Page) -> AppResult<ReceiversView> {
        let receivers = self.core.store.receivers(&page.id).await?;
        let rules = self.core.store.routing_rules(&page.id).await?;
        let mut data = Vec::with_capacity(receivers.len() + 1);
        for receiver in receivers {
            let name = self.core.app(&receiver.app).await?.map(|a| a.name).unwrap_or_default();
            data.push(ReceiverView { id: receiver.app, name, role: receiver.role.map(ReceiverRole::as_str), inbox: false });
        }
        data.push(ReceiverView { id: page_inbox(), name: PAGE_INBOX_NAME.into(), role: Some(ReceiverRole::Secondary.as_str()), inbox: true });
        let routing = rules.into_iter().map(|rule| RoutingRuleView { reference: rule.reference, app_id: rule.app }).collect();
        Ok(ReceiversView { data, routing })
    }

    /// A Page admin gives an installed app a role (`None`: none). The apps whose
    /// role changes are told with `app_roles`.
    pub async fn set_role(&self, actor: Actor, page_id: &PageId, app: &AppId, role: Option<ReceiverRole>) -> AppResult<ReceiversView> {
        let page = self.core.page_for_admin(actor, page_id).await?;
        if is_page_inbox(app) {
            return Err(Refusal::invalid_param("The Page Inbox is always a secondary receiver").into());
        }
        let before = self.core.store.receivers(&page.id).await?;
        let mut changed: Vec<(AppId, Option<ReceiverRole>)> = Vec::new();
        for receiver in &before {
            let after = if &receiver.app == app {
                role
            } else if role == Some(ReceiverRole::Primary) && receiver.role == Some(ReceiverRole::Primary) {
                Some(ReceiverRole::Secondary)
            } else {
                receiver.role
            };
            if after != receiver.role {
                changed.push((receiver.app.clone(), after));
            }
        }
        let now = self.core.now();
        let targets = self.core.webhook_targets(&page.id).await?;
        let events = changed
            .iter()
            .filter_map(|(app, role)| events::to_app(&targets, app, &page.id, PersonId(0), &events::app_roles(&page.id, app, *role, now), now))
            .collect::<Vec<_>>();
        let wakes = !events.is_empty();
        if !self.core.store.set_receiver_role(&page.id, app, role, events).await? {
            return Err(Refusal::invalid_param(format!("App {app} is not installed on this Page")).into());
        }
        self.core.invalidate(Invalidation::Targets(Some(page.id.clone()))).await;
        if wakes {
            self.core.wake_dispatcher();
        }
        self.view(&page).await
    }

    /// A Page admin routes threads opened by a link with `ref` to an app (`None`:
    /// back to the primary receiver).
    pub async fn set_routing(&self, actor: Actor, page_id: &PageId, reference: &str, app: Option<AppId>) -> AppResult<ReceiversView> {
        let page = self.core.page_for_admin(actor, page_id).await?;
        if reference.is_empty() || reference.chars().count() > 250 {
            return Err(Refusal::invalid_param("ref must be 1 to 250 characters").into());
        }
        match app {
            Some(app) => {
                let receivers = self.core.store.receivers(&page.id).await?;
                if !is_page_inbox(&app) && !receivers.iter().any(|r| r.app == app) {
                    return Err(Refusal::invalid_param(format!("App {app} is not installed on this Page")).into());
                }
                self.core.store.put_routing_rule(RoutingRule { page: page.id.clone(), reference: reference.to_string(), app }).await?;
            }
            None => {
                self.core.store.delete_routing_rule(&page.id, reference).await?;
            }
        }
        self.core.invalidate(Invalidation::Targets(Some(page.id.clone()))).await;
        self.view(&page).await
    }
}

impl Core {
    /// The Page's receivers and routing rules, through the cache (cleared with the
    /// webhook targets).
    pub async fn receivers(&self, page: &PageId) -> AppResult<Arc<PageReceivers>> {
        let receivers = self
            .receivers
            .get_or_load(page, || {
                let (core, page) = (self.handle(), page.clone());
                async move {
                    let (receivers, rules) = (core.store.receivers(&page).await?, core.store.routing_rules(&page).await?);
                    Ok::<_, crate::AppError>(Some(Arc::new(PageReceivers { receivers, rules })))
                }
            })
            .await?;
        Ok(receivers.unwrap_or_default())
    }

    /// Who owns the thread now; a thread not opened yet would go where the Page
    /// routes new threads.
    pub async fn thread_owner(&self, page: &PageId, person: PersonId) -> AppResult<Option<AppId>> {
        Ok(self.thread_control(page, person).await?.owner)
    }

    /// Who controls the thread now, as [`Core::thread_owner`].
    pub async fn thread_control(&self, page: &PageId, person: PersonId) -> AppResult<ThreadControlState> {
        Ok(match self.store.thread_control(page, person).await? {
            Some(control) => control,
            None => ThreadControlState { owner: self.receivers(page).await?.route(None), ..Default::default() },
        })
    }

    /// Applies `control` by `app` to the (Page, person) thread with the handover
    /// events it causes, read again and retried when another change came first.
    /// `agent` is the person answering in the Page Inbox when it takes control.
    pub(crate) async fn control(&self, page: &Page, person: PersonId, app: &AppId, control: Control<'_>, metadata: Option<&str>, agent: Option<PersonId>) -> AppResult<()> {
        let receivers = self.receivers(&page.id).await?;
        let psid = self.store.psid(person, &page.id).await?;
        for _ in 0..CONTROL_ATTEMPTS {
            let state = self.thread_control(&page.id, person).await?;
            let owner = state.owner;
            let asked = match control {
                Control::Pass(target) => ThreadControl::Pass { target, target_role: receivers.role_of(target) },
                Control::Take => ThreadControl::Take,
                Control::Request => ThreadControl::Request,
                Control::Release => ThreadControl::Release,
            };
            rules::may_control(app, receivers.role_of(app), owner.as_ref(), asked)?;
            if matches!(control, Control::Take) && owner.as_ref() == Some(app) && agent.is_none() {
                return Ok(());
            }
            let now = self.now();
            let targets = self.webhook_targets(&page.id).await?;
            let (to, event) = match control {
                Control::Pass(target) => {
                    let body = events::pass_thread_control(&psid, &page.id, owner.as_ref(), target, metadata, now);
                    (Some(target.clone()), events::to_app(&targets, target, &page.id, person, &body, now))
                }
                Control::Take => {
                    let event = owner.as_ref().and_then(|previous| {
                        let body = events::take_thread_control(&psid, &page.id, previous, app, metadata, now);
                        events::to_app(&targets, previous, &page.id, person, &body, now)
                    });
                    (Some(app.clone()), event)
                }
                Control::Request => {
                    let owner = owner.as_ref().expect("may_control refuses a request for an idle thread");
                    let body = events::request_thread_control(&psid, &page.id, app, metadata, now);
                    (Some(owner.clone()), events::to_app(&targets, owner, &page.id, person, &body, now))
                }
                Control::Release => (None, None),
            };
            // The agent stays while the Page Inbox keeps the thread (a request
            // changes nothing), and goes with it.
            let agent = match control {
                Control::Request => state.agent,
                _ => agent.filter(|_| to.as_ref().is_some_and(is_page_inbox)),
            };
            let change = ControlChange { page: page.id.clone(), person, from: owner, to, agent, at: now };
            let wakes = event.is_some();
            if self.store.change_control(change, event.into_iter().collect()).await? {
                if wakes {
                    self.wake_dispatcher();
                }
                return Ok(());
            }
        }
        // Busy: the thread keeps changing hands. The caller may try again.
        Err(AppError::Refused(Refusal::unavailable()))
    }
}
