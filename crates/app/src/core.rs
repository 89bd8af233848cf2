//! The shared core every service stands on: the store, the bus, the clock, the
//! master key, the caches in front of the store, and the lookups and checks that
//! several areas make (which app, Page or person a request names; whether the
//! caller may touch it; where a Page's events go). Services hold an `Arc<Core>`;
//! the faces never see it.

use crate::cache::TtlCache;
use crate::live::LiveHub;
use crate::notifications::Companion;
use crate::views::{MessageView, NotificationState, PersonaView};
use crate::timing::timed;
use crate::{Actor, AppResult, Caller, PlatformSettings};
use std::sync::{Arc, OnceLock, Weak};
use switchboard_domain::credentials::{new_access_token, MasterKey};
use switchboard_domain::*;
use switchboard_store::{Bus, NewOutboxEvent, Store, WebhookTarget};
use tokio::sync::Notify;

pub(crate) struct Core {
    /// This core, for the caches' reloads: they run in tasks of their own.
    me: Weak<Core>,
    pub store: Arc<dyn Store>,
    /// Live events and invalidations to and from the other nodes.
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    pub key: MasterKey,
    pub settings: PlatformSettings,
    /// See [`PlatformSettings::public_url`].
    pub public_url: OnceLock<String>,
    /// Wakes the webhook dispatcher when outbox rows were committed.
    pub outbox_wake: Arc<Notify>,
    /// Moves on whenever outbox rows were committed or answered on this node: each
    /// listener and long poll watches it (a `Notify` would wake only one of them).
    pub outbox_changed: tokio::sync::watch::Sender<u64>,
    /// The apps no dispatcher POSTs to (pull mode, no callback, a listener).
    pub held: TtlCache<(), Arc<Vec<AppId>>>,
    pub live: LiveHub,
    pub metrics: crate::metrics::Metrics,
    /// Resolved tokens by digest, with their expiry.
    pub callers: TtlCache<String, (Caller, Option<Millis>)>,
    pub apps: TtlCache<AppId, App>,
    pub pages: TtlCache<PageRef, Page>,
    pub psids: TtlCache<(PageId, String), PersonId>,
    pub targets: TtlCache<PageId, Arc<Vec<WebhookTarget>>>,
    /// A Page's receiver roles and routing rules (cleared with the targets).
    pub receivers: TtlCache<PageId, Arc<crate::handover::PageReceivers>>,
    /// A person's role on an app, for development mode (cleared with the callers).
    pub roles: TtlCache<(AppId, PersonId), Option<AppRole>>,
}

/// A PSID names the same person for good (ids are never reused), so it is kept
/// far longer than the facts that can be revoked. Whatever comes to end a PSID
/// must clear this cache.
const PSID_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

impl Core {
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, clock: Arc<dyn Clock>, key: MasterKey, settings: PlatformSettings, metrics: crate::metrics::Metrics) -> Arc<Self> {
        let ttl = settings.cache_ttl;
        let public_url = OnceLock::new();
        if let Some(url) = &settings.public_url {
            let _ = public_url.set(url.trim_end_matches('/').to_string());
        }
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            bus,
            clock,
            key,
            settings,
            public_url,
            outbox_wake: Arc::new(Notify::new()),
            outbox_changed: tokio::sync::watch::Sender::new(0),
            held: TtlCache::new(ttl),
            live: LiveHub::new(),
            metrics,
            callers: TtlCache::new(ttl),
            apps: TtlCache::new(ttl),
            pages: TtlCache::new(ttl),
            psids: TtlCache::new(PSID_TTL),
            targets: TtlCache::new(ttl),
            receivers: TtlCache::new(ttl),
            roles: TtlCache::new(ttl),
        })
    }

    /// An owned handle on this core, for a load that may outlive its caller.
    pub fn handle(&self) -> Arc<Core> {
        self.me.upgrade().expect("the core outlives every call made on it")
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// The base URL of this installation (media URLs start with it).
    pub fn public_url(&self) -> &str {
        self.public_url.get().map(String::as_str).unwrap_or("http://localhost")
    }

    /// Where persons and bots fetch stored bytes.
    pub fn media_url(&self, digest: &str) -> String {
        format!("{}/media/{digest}", self.public_url())
    }

    /// A sticker of the catalog as a message carries it, its image served by this
    /// installation: `{"type":"sticker","payload":{"url","sticker_id"}}`.
    pub fn sticker_attachment(&self, sticker: &switchboard_domain::stickers::Sticker) -> MessageAttachment {
        let url = format!("{}/media/stickers/{}.svg", self.public_url(), sticker.id);
        MessageAttachment { kind: AttachmentType::Sticker, payload: serde_json::json!({"url": url, "sticker_id": sticker.id}) }
    }

    /// A profile picture URL for the PSID, signed so that only who was given it can
    /// fetch it (PSIDs are not secrets).
    pub fn profile_picture_url(&self, page: &PageId, psid: &str) -> String {
        let signature = self.key.sign("profile picture", &format!("{page}\0{psid}"));
        format!("{}/media/profilepic/{page}/{psid}/{signature}", self.public_url())
    }

    /// The app's current secret (derived; never stored).
    pub fn app_secret(&self, app: &App) -> String {
        self.key.app_secret(app.id.as_str(), app.secret_generation)
    }

    /// Outbox rows were committed: the dispatcher looks.
    pub fn wake_dispatcher(&self) {
        self.outbox_wake.notify_one();
        self.outbox_changed.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// The app, through the cache.
    pub async fn app(&self, id: &AppId) -> AppResult<Option<App>> {
        self.apps
            .get_or_load(id, || {
                let (core, id) = (self.handle(), id.clone());
                async move { Ok(core.store.app(&id).await?) }
            })
            .await
    }

    /// A Page by id or username, through the cache (`me` names none here).
    pub async fn find_page(&self, page: &PageRef) -> AppResult<Option<Page>> {
        self.pages
            .get_or_load(page, || {
                let (core, page) = (self.handle(), page.clone());
                async move {
                    Ok(match page {
                        PageRef::Me => None,
                        PageRef::Id(id) => core.store.page(&id).await?,
                        PageRef::Username(username) => core.store.page_by_username(&username).await?,
                    })
                }
            })
            .await
    }

    /// A Page as a person names it, else 100/33.
    pub async fn page_for_person(&self, page: &PageRef) -> AppResult<Page> {
        Ok(self.find_page(page).await?.ok_or_else(|| Refusal::unknown_object(&page.to_string()))?)
    }

    pub async fn person(&self, person: PersonId) -> AppResult<Person> {
        Ok(self.store.person(person).await?.ok_or_else(|| Refusal::unknown_object(&person.to_string()))?)
    }

    /// The Page named in the path, if the caller holds its Page token and the token
    /// may use `needs`.
    pub fn own_page<'c>(&self, caller: &'c Caller, page: &PageRef, needs: Permission) -> Result<(&'c Page, &'c App), Refusal> {
        match caller {
            Caller::Page { page: own, app, scopes, .. } if matches!(page, PageRef::Me) || *page == PageRef::Id(own.id.clone()) => {
                permissions::require(*scopes, needs)?;
                Ok((own, app))
            }
            Caller::Page { .. } => Err(Refusal::permission("The Page access token does not belong to this Page")),
            _ => Err(Refusal::wrong_token_kind("a Page access token")),
        }
    }

    /// The Page named in the path for a messaging write (the Send API, attachment
    /// uploads, thread control): as [`Core::own_page`], and refused while the operator
    /// blocks the app for policy. The app's state comes with the cached caller: no
    /// store round trip on the hot path.
    pub fn own_page_to_message<'c>(&self, caller: &'c Caller, page: &PageRef) -> Result<(&'c Page, &'c App), Refusal> {
        let (page, app) = self.own_page(caller, page, Permission::PagesMessaging)?;
        if app.policy == PolicyState::Blocked {
            return Err(Refusal::app_policy_blocked());
        }
        Ok((page, app))
    }

    /// The app named in the path, if the caller holds its app token.
    pub fn own_app<'c>(&self, caller: &'c Caller, app_id: &str) -> Result<&'c App, Refusal> {
        match caller {
            Caller::App(app) if app.id.as_str() == app_id => Ok(app),
            Caller::App(_) => Err(Refusal::permission("The app token does not belong to this app")),
            _ => Err(Refusal::app_token_required()),
        }
    }

    /// The Page, if the actor is one of its admins (or the operator).
    pub async fn page_for_admin(&self, actor: Actor, page_id: &PageId) -> AppResult<Page> {
        let page = self.store.page(page_id).await?.ok_or_else(|| Refusal::unknown_object(page_id.as_str()))?;
        if let Actor::Person(person) = actor {
            if self.store.page_role(page_id, person).await? != Some(PageRole::Admin) {
                return Err(Refusal::permission("Only an admin of the Page can do this").into());
            }
        }
        Ok(page)
    }

    /// The app, if the actor administers it (or is the operator).
    pub async fn app_for_admin(&self, actor: Actor, app_id: &AppId) -> AppResult<App> {
        let app = self.store.app(app_id).await?.ok_or_else(|| Refusal::unknown_object(app_id.as_str()))?;
        if let Actor::Person(person) = actor {
            if self.store.app_role(app_id, person).await? != Some(AppRole::Administrator) {
                return Err(Refusal::permission("Only an administrator of the app can do this").into());
            }
        }
        Ok(app)
    }

    /// The app, if the actor may look after its webhooks: an administrator or a
    /// developer of it, or the operator.
    pub async fn app_for_developer(&self, actor: Actor, app_id: &AppId) -> AppResult<App> {
        let app = self.store.app(app_id).await?.ok_or_else(|| Refusal::unknown_object(app_id.as_str()))?;
        if let Actor::Person(person) = actor {
            if !matches!(self.store.app_role(app_id, person).await?, Some(AppRole::Administrator | AppRole::Developer)) {
                return Err(Refusal::permission("Only an administrator or a developer of the app can do this").into());
            }
        }
        Ok(app)
    }

    /// The person's role on the app, through the cache (role changes clear it).
    pub async fn role_on(&self, app: &AppId, person: PersonId) -> AppResult<Option<AppRole>> {
        let key = (app.clone(), person);
        let role = self
            .roles
            .get_or_load(&key, || {
                let (core, app) = (self.handle(), app.clone());
                async move { Ok::<_, crate::AppError>(Some(core.store.app_role(&app, person).await?)) }
            })
            .await?;
        Ok(role.flatten())
    }

    /// The person behind a PSID of this Page; anything else is 100/2018001.
    pub async fn person_of_psid(&self, page: &PageId, psid: &str) -> AppResult<PersonId> {
        if !is_node_id(psid) {
            return Err(Refusal::no_matching_user().into());
        }
        let key = (page.clone(), psid.to_string());
        let person = self
            .psids
            .get_or_load(&key, || {
                let (core, (page, psid)) = (self.handle(), key.clone());
                async move { Ok::<_, crate::AppError>(core.store.person_by_psid(&page, &psid).await?) }
            })
            .await?;
        match person {
            Some(person) => Ok(person),
            // A person who deleted their account is unavailable, not unknown.
            None if self.store.psid_erased(page, &switchboard_domain::privacy::erased_psid_digest(page.as_str(), psid)).await? => {
                Err(Refusal::person_unavailable().into())
            }
            None => Err(Refusal::no_matching_user().into()),
        }
    }

    /// The person's PSID for the Page, created on first contact.
    pub async fn psid(&self, person: PersonId, page: &PageId) -> AppResult<Psid> {
        Ok(self.store.psid(person, page).await?)
    }

    /// A message of the (Page, person) thread, else 100.
    pub async fn message_of_thread(&self, page: &PageId, person: PersonId, mid: &str) -> AppResult<Message> {
        let message = self.store.message(&Mid(mid.to_string())).await?;
        Ok(message.filter(|m| &m.page == page && m.person == person).ok_or_else(|| Refusal::invalid_param(format!("{mid} is not a message of this thread")))?)
    }

    /// Whether the message is one of the thread's: a paging cursor must be (the store
    /// would answer nothing for another, which reads as the thread's end).
    pub async fn in_thread(&self, page: &PageId, person: PersonId, mid: &Mid) -> AppResult<bool> {
        Ok(self.store.message(mid).await?.is_some_and(|m| &m.page == page && m.person == person))
    }

    /// Apps receiving this Page's events, through the cache.
    pub async fn webhook_targets(&self, page: &PageId) -> AppResult<Arc<Vec<WebhookTarget>>> {
        let targets = self
            .targets
            .get_or_load(page, || {
                let (core, page) = (self.handle(), page.clone());
                async move { Ok::<_, crate::AppError>(Some(Arc::new(core.store.webhook_targets(&page).await?))) }
            })
            .await?;
        Ok(targets.unwrap_or_default())
    }

    pub async fn page_feature_approved(&self, page_id: &PageId, feature: PageFeature) -> AppResult<bool> {
        Ok(self.store.page_features(page_id).await?.iter().any(|f| f.feature == feature && f.approved))
    }

    /// A new random token for the grant, stored by digest.
    pub async fn issue_token(&self, grant: TokenGrant, ttl_ms: Option<Millis>) -> AppResult<String> {
        let (token, hash) = new_access_token();
        let now = self.now();
        self.store.insert_token(TokenRecord { hash, grant, issued_at: now, expires_at: ttl_ms.map(|ttl| now + ttl) }).await?;
        Ok(token)
    }

    /// Revokes a token at once on this node (other nodes within the cache TTL).
    pub async fn revoke_token(&self, token: &str) -> AppResult<()> {
        let digest = switchboard_domain::credentials::token_digest(token);
        self.store.revoke_token(&digest).await?;
        self.invalidate(crate::Invalidation::Token(digest)).await;
        Ok(())
    }

    /// A stored message as the person's client shows it, with its persona and, for an
    /// opt-in request, what the person did with it.
    pub async fn message_view(&self, message: &Message) -> AppResult<MessageView> {
        let mut view = MessageView::from(message);
        if matches!(message.attachment.as_ref().and_then(|a| a.template_type()), Some("one_time_notif_req" | "notification_messages")) {
            let request = self.store.optin_request(&message.mid).await?;
            view.notification = Some(request.map_or_else(NotificationState::default, |r| NotificationState {
                accepted: r.tapped_at.is_some(),
                stopped: r.stopped_at.is_some(),
            }));
        }
        if let Some(id) = &message.persona {
            // A deleted persona's messages show the Page's own name again.
            view.persona = self.store.persona(id).await?.map(|p| PersonaView { id: p.id, name: p.name, profile_picture_url: p.profile_picture_url });
        }
        Ok(view)
    }

    /// Stores a message with its events and its companion fact (in one store call),
    /// wakes the dispatcher, and shows it live.
    pub async fn commit_message(&self, message: Message, outbox: Vec<NewOutboxEvent>, persona: Option<PersonaView>, companion: Companion) -> AppResult<MessageView> {
        let wakes_dispatcher = !outbox.is_empty();
        let person = message.person;
        let mut view = MessageView::from(&message);
        view.persona = persona;
        let page_id = message.page.clone();
        match companion {
            Companion::Nothing => timed("store", self.store.append_message(message, outbox)).await?,
            Companion::OptinRequest(request) => {
                if !self.store.send_optin_request(request, message, outbox).await? {
                    return Err(Refusal::one_time_notif_same_topic().into());
                }
            }
            Companion::Token { spend, if_spent } => {
                if !self.store.send_with_token(spend, message, outbox).await? {
                    return Err(if_spent.into());
                }
            }
            Companion::UserRef(user_ref) => {
                if !self.store.send_with_user_ref(&user_ref, message, outbox).await? {
                    return Err(Refusal::user_ref_spent().into());
                }
            }
        }
        if wakes_dispatcher {
            self.wake_dispatcher();
        }
        timed("live", self.announce(person, crate::LiveEvent::Message { page_id, message: Box::new(view.clone()) })).await;
        Ok(view)
    }
}
