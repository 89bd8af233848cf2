//! Entry points and account linking: the plugins a business puts on its site (Send
//! to Messenger, the checkbox, the chat plugin), referrals into existing threads,
//! and linking a thread to the person's account on the business's site. Each action
//! stores its fact with its webhook events in one store call.

use crate::core::Core;
use crate::events;
use crate::{AppResult, Caller, Profiles};
use serde_json::Value;
use std::sync::Arc;
use switchboard_domain::credentials::{random_urlsafe, token_digest};
use switchboard_domain::entry::{self, ReferralSource};
use switchboard_domain::profile::ProfileField;
use switchboard_domain::*;
use switchboard_store::{LinkingOutcome, LinkingToken, NewOutboxEvent, ThreadEvent, UserRef, UserRefAdded, WebhookTarget};
use switchboard_wire::webhook::Referral;

/// Longest `authorization_code` a site may pass back, in characters.
const MAX_AUTHORIZATION_CODE_CHARS: usize = 1000;

/// How an account-linking attempt ended, for the page the person returns to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkingResult {
    Linked(PageId),
    Cancelled(PageId),
    /// The token was spent already, or ran out; `None`: it was never issued.
    Expired(Option<PageId>),
}

#[derive(Clone)]
pub struct EntryPoints {
    pub(crate) core: Arc<Core>,
    pub(crate) profiles: Profiles,
}

impl EntryPoints {
    /// The origins that may embed the Page's plugins (its whitelisted domains').
    pub async fn plugin_origins(&self, page_ref: &PageRef) -> AppResult<Vec<String>> {
        let page = self.core.page_for_person(page_ref).await?;
        self.whitelisted_origins(&page.id).await
    }

    async fn whitelisted_origins(&self, page: &PageId) -> AppResult<Vec<String>> {
        let domains = self.profiles.profile_value(page, ProfileField::WhitelistedDomains).await?;
        let domains = domains.as_ref().and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        Ok(entry::whitelisted_origins(domains.iter().filter_map(Value::as_str)))
    }

    /// Whether a site at `origin` may show a plugin of the app for the Page: both
    /// exist, the app is subscribed to the Page, and the origin is whitelisted.
    pub async fn plugin_check(&self, app_id: &str, page_ref: &PageRef, origin: &str) -> AppResult<(Page, App)> {
        let page = self.core.page_for_person(page_ref).await?;
        let app = self.core.app(&AppId(app_id.to_string())).await?.ok_or_else(|| Refusal::unknown_object(app_id))?;
        if !self.core.webhook_targets(&page.id).await?.iter().any(|target| target.app == app.id) {
            return Err(Refusal::invalid_param(format!("App {} is not subscribed to Page {}: the Page must install it first", app.id, page.id)).into());
        }
        entry::may_embed(&self.whitelisted_origins(&page.id).await?, origin)?;
        Ok((page, app))
    }

    /// [`Self::plugin_check`], and whether this person sees the app's plugins (in
    /// development mode, only its role holders do).
    pub async fn plugin_access(&self, person: PersonId, app_id: &str, page_ref: &PageRef, origin: &str) -> AppResult<(Page, App)> {
        let (page, app) = self.plugin_check(app_id, page_ref, origin).await?;
        let holds_role = self.core.role_on(&app.id, person).await?.is_some();
        entry::plugin_visible(app.mode, holds_role)?;
        Ok((page, app))
    }

    /// The person clicked Send to Messenger: the app gets `messaging_optins` with
    /// the person's PSID and the plugin's ref, the thread opens (an interaction: the
    /// standard window opens with it).
    pub async fn send_to_messenger(&self, person: PersonId, app_id: &str, page_ref: &PageRef, reference: Option<String>, origin: &str) -> AppResult<Page> {
        let (page, app) = self.plugin_access(person, app_id, page_ref, origin).await?;
        if let Some(reference) = &reference {
            entry::validate_ref(reference)?;
        }
        let psid = self.core.psid(person, &page.id).await?;
        let now = self.core.now();
        let body = events::plugin_optin(&psid, &page.id, reference.as_deref(), now);
        let outbox = self.to_plugin_app(&page.id, &app.id, person, &body, now).await?;
        let opens_to = self.core.receivers(&page.id).await?.route(reference.as_deref());
        self.record(ThreadEvent { page: page.id.clone(), person, at: now, interaction: true, opens_to }, outbox).await?;
        Ok(page)
    }

    /// The site confirmed a ticked checkbox: the app gets `messaging_optins` with the
    /// site's `user_ref` (and no sender), and may send one message by it.
    pub async fn checkbox(&self, person: PersonId, app_id: &str, page_ref: &PageRef, user_ref: String, reference: Option<String>, origin: &str) -> AppResult<()> {
        let (page, app) = self.plugin_access(person, app_id, page_ref, origin).await?;
        entry::validate_user_ref(&user_ref)?;
        if let Some(reference) = &reference {
            entry::validate_ref(reference)?;
        }
        let now = self.core.now();
        let body = events::checkbox_optin(&page.id, &user_ref, reference.as_deref(), now);
        let outbox = self.to_plugin_app(&page.id, &app.id, person, &body, now).await?;
        let wakes = !outbox.is_empty();
        let record = UserRef { page: page.id, user_ref, app: app.id, person, reference, created_at: now, expires_at: now + entry::USER_REF_TTL_MS, spent_mid: None };
        match self.core.store.add_user_ref(record, entry::MAX_LIVE_USER_REFS, outbox).await? {
            UserRefAdded::Added => {}
            UserRefAdded::AlreadyKnown => {
                return Err(Refusal::invalid_param("This user_ref was confirmed already: the site generates a new one for each form").into());
            }
            UserRefAdded::TooMany => {
                return Err(Refusal::too_many_optin_requests().into());
            }
        }
        if wakes {
            self.core.wake_dispatcher();
        }
        Ok(())
    }

    /// A plugin's `messaging_optins` go to the app whose plugin it is.
    async fn to_plugin_app(&self, page: &PageId, app: &AppId, person: PersonId, body: &[u8], at: Millis) -> AppResult<Vec<NewOutboxEvent>> {
        let targets: Vec<WebhookTarget> = self.core.webhook_targets(page).await?.iter().filter(|t| &t.app == app).cloned().collect();
        Ok(events::fan_out(&targets, WebhookField::MessagingOptins, page, person, body, at))
    }

    /// The person came into a thread that has messages from a link or the chat
    /// plugin with a ref: `messaging_referrals` for the Page's apps, and the window
    /// reopens. A new thread carries its ref on Get Started instead.
    pub async fn referral(&self, person: PersonId, page_ref: &PageRef, reference: &str, source: ReferralSource, referer_uri: Option<String>) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        entry::validate_ref(reference)?;
        let referer_uri = referer_uri.as_deref().map(entry::validate_referer_uri).transpose()?;
        if self.core.store.thread_messages(&page.id, person, None, 1).await?.is_empty() {
            return Err(Refusal::invalid_param("This thread has no messages yet: a new thread carries its ref on Get Started").into());
        }
        let psid = self.core.psid(person, &page.id).await?;
        let now = self.core.now();
        let referral = Referral { reference: Some(reference.to_string()), source: source.as_str().into(), kind: "OPEN_THREAD".into(), referer_uri };
        let body = events::referral(&psid, &page.id, referral, now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessagingReferrals, &page.id, person, &body, now);
        self.record(ThreadEvent { page: page.id, person, at: now, interaction: true, opens_to: None }, outbox).await
    }

    async fn record(&self, event: ThreadEvent, outbox: Vec<NewOutboxEvent>) -> AppResult<()> {
        let wakes = !outbox.is_empty();
        self.core.store.record_thread_event(event, outbox).await?;
        if wakes {
            self.core.wake_dispatcher();
        }
        Ok(())
    }

    /// The person tapped an `account_link` button: a short-lived token, and the
    /// button's URL with `account_linking_token` and `redirect_uri` added, for the
    /// person's browser to open.
    pub async fn start_account_linking(&self, person: PersonId, page_ref: &PageRef, mid: &str, pointer: &str) -> AppResult<String> {
        let page = self.core.page_for_person(page_ref).await?;
        let button = self.button(&page.id, person, mid, pointer, "account_link").await?;
        let site = button.get("url").and_then(Value::as_str).ok_or_else(|| Refusal::invalid_param("The account_link button has no url"))?;
        let mut site = url::Url::parse(site).map_err(|_| Refusal::invalid_param("The account_link button's url is not a URL"))?;
        let token = random_urlsafe(32);
        let now = self.core.now();
        let record = LinkingToken { digest: token_digest(&token), page: page.id, person, expires_at: now + entry::LINKING_TOKEN_TTL_MS, spent_at: None };
        self.core.store.add_linking_token(record).await?;
        let mut redirect = url::Url::parse(&format!("{}/messenger_platform/account_linking/", self.core.public_url()))
            .map_err(|_| Refusal::invalid_param("The installation's public URL is not a URL"))?;
        redirect.query_pairs_mut().append_pair("account_linking_token", &token);
        site.query_pairs_mut().append_pair("account_linking_token", &token).append_pair("redirect_uri", redirect.as_str());
        Ok(site.into())
    }

    /// The site sent the person back to the `redirect_uri`: with an
    /// `authorization_code` the thread is linked and the Page's apps get
    /// `messaging_account_linking` `linked`; without one nothing changes. A token
    /// ends once.
    pub async fn finish_account_linking(&self, token: &str, authorization_code: Option<String>) -> AppResult<LinkingResult> {
        let digest = token_digest(token);
        let Some(known) = self.core.store.linking_token(&digest).await? else {
            return Ok(LinkingResult::Expired(None));
        };
        let now = self.core.now();
        if known.spent_at.is_some() || known.expires_at <= now {
            return Ok(LinkingResult::Expired(Some(known.page)));
        }
        let code = authorization_code.filter(|code| !code.is_empty());
        if code.as_ref().is_some_and(|code| code.chars().count() > MAX_AUTHORIZATION_CODE_CHARS) {
            return Err(Refusal::invalid_param(format!("authorization_code must be at most {MAX_AUTHORIZATION_CODE_CHARS} characters")).into());
        }
        let (outcome, outbox) = match &code {
            Some(code) => {
                let psid = self.core.psid(known.person, &known.page).await?;
                let body = events::account_linking(&psid, &known.page, Some(code), now);
                let targets = self.core.webhook_targets(&known.page).await?;
                (LinkingOutcome::Linked, events::fan_out(&targets, WebhookField::MessagingAccountLinking, &known.page, known.person, &body, now))
            }
            None => (LinkingOutcome::Cancelled, Vec::new()),
        };
        let wakes = !outbox.is_empty();
        let Some(finished) = self.core.store.finish_linking(&digest, outcome, now, outbox).await? else {
            return Ok(LinkingResult::Expired(Some(known.page)));
        };
        if wakes {
            self.core.wake_dispatcher();
        }
        Ok(match outcome {
            LinkingOutcome::Linked => LinkingResult::Linked(finished.page),
            LinkingOutcome::Cancelled => LinkingResult::Cancelled(finished.page),
        })
    }

    /// `GET|POST /me?fields=recipient&account_linking_token=`: the PSID of the person
    /// linking, for the site, while the token is live (10303 otherwise).
    pub async fn linking_recipient(&self, caller: &Caller, page_ref: &PageRef, token: Option<&str>) -> AppResult<(PageId, Psid)> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let token = token.ok_or_else(|| Refusal::missing_param("account_linking_token"))?;
        let now = self.core.now();
        let known = self.core.store.linking_token(&token_digest(token)).await?;
        let known = known.filter(|t| t.page == page.id && t.spent_at.is_none() && t.expires_at > now).ok_or_else(Refusal::invalid_account_linking_token)?;
        Ok((page.id.clone(), self.core.psid(known.person, &page.id).await?))
    }

    /// `POST /me/unlink_accounts` `{"psid"}`: the app ends the link; `unlinked` for
    /// the Page's apps if there was one.
    pub async fn unlink_accounts(&self, caller: &Caller, page_ref: &PageRef, psid: Option<&str>) -> AppResult<()> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let psid = psid.ok_or_else(|| Refusal::missing_param("psid"))?;
        let person = self.core.person_of_psid(&page.id, psid).await?;
        self.unlink(&page.id, person).await?;
        Ok(())
    }

    /// The person tapped an `account_unlink` button.
    pub async fn unlink_by_button(&self, person: PersonId, page_ref: &PageRef, mid: &str, pointer: &str) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        self.button(&page.id, person, mid, pointer, "account_unlink").await?;
        if !self.unlink(&page.id, person).await? {
            return Err(Refusal::invalid_param("Your account is not linked with this Page").into());
        }
        Ok(())
    }

    async fn unlink(&self, page: &PageId, person: PersonId) -> AppResult<bool> {
        let psid = self.core.psid(person, page).await?;
        let now = self.core.now();
        let body = events::account_linking(&psid, page, None, now);
        let targets = self.core.webhook_targets(page).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessagingAccountLinking, page, person, &body, now);
        let wakes = !outbox.is_empty();
        let unlinked = self.core.store.unlink_account(page, person, outbox).await?;
        if unlinked && wakes {
            self.core.wake_dispatcher();
        }
        Ok(unlinked)
    }

    /// Whether the person linked their account with the Page's business.
    pub async fn account_linked(&self, page: &PageId, person: PersonId) -> AppResult<bool> {
        Ok(self.core.store.account_linked(page, person).await?)
    }

    /// The button of type `kind` at `pointer` in a Page message of the thread.
    async fn button(&self, page: &PageId, person: PersonId, mid: &str, pointer: &str, kind: &str) -> AppResult<Value> {
        let message = self.core.message_of_thread(page, person, mid).await?;
        let button = message.attachment.as_ref().and_then(|a| a.payload.pointer(pointer)).filter(|b| b.get("type").and_then(Value::as_str) == Some(kind));
        Ok(button.cloned().ok_or_else(|| Refusal::invalid_param(format!("There is no {kind} button there")))?)
    }
}
