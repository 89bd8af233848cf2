//! Privacy: a person leaves (their account erased, every app that knew them told by
//! its data deletion callback), deletes a conversation, blocks a Page, downloads what
//! is held about them; a Page or person removing an app tells it by its deauthorize
//! callback; retention prunes what is older than a Page keeps. Each of these leaves an
//! audit record without the content. Callbacks are stored with the change, then sent
//! by [`Privacy::run`] through the [`CallbackPoster`] port, retried like webhooks.

use crate::core::Core;
use crate::{Actor, AppResult, Invalidation, MediaFiles, Sessions};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::media::ATTACHMENT_ID_LIFETIME_MS;
use switchboard_domain::privacy::{self, CallbackKind, CALLBACK_RETRY};
use switchboard_domain::*;
use switchboard_store::{CallbackAttempt, Erased, Erasure, NewPrivacyCallback, PrivacyCallback, PrivacyRecord, PrivacyTrail, PrivacyUrls};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How a callback POST is made: implemented by the node over real HTTP, under the
/// outbound rules of webhooks.
#[async_trait]
pub trait CallbackPoster: Send + Sync + 'static {
    /// POSTs the form; answers the status and up to `max_bytes` of the body, or why
    /// nothing was answered.
    async fn post_form(&self, url: &str, form: &[(&str, &str)], timeout: Duration, max_bytes: usize) -> Result<(u16, Vec<u8>), String>;
}

/// Messages deleted per retention transaction: short, so writes never wait long.
const PRUNE_BATCH: u32 = 500;
/// Callbacks sent per round, and how long one is leased to this node.
const CALLBACKS_PER_ROUND: u32 = 16;
const CALLBACK_LEASE_MS: Millis = 2 * privacy::CALLBACK_TIMEOUT_MS;
/// The most messages one export carries (the newest first per thread, beyond is cut
/// and said so): an export is built in memory.
pub const MAX_EXPORTED_MESSAGES: usize = 50_000;

/// Privacy.
#[derive(Clone)]
pub struct Privacy {
    pub(crate) core: Arc<Core>,
    pub(crate) sessions: Sessions,
    pub(crate) files: Arc<MediaFiles>,
    /// Wakes the callback sender when callbacks were stored.
    pub(crate) wake: Arc<Notify>,
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub messages: u64,
    pub attachments: u64,
    pub files: u64,
}

/// A privacy callback as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackView {
    pub id: String,
    pub kind: CallbackKind,
    /// `pending`, `answered` or `given_up`.
    pub state: &'static str,
    pub url: Option<String>,
    pub created_time: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub status_url: Option<String>,
    pub confirmation_code: Option<String>,
    pub settled_time: Option<String>,
}

impl From<PrivacyCallback> for CallbackView {
    fn from(c: PrivacyCallback) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind,
            state: c.outcome.map_or("pending", |o| o.as_str()),
            url: c.url,
            created_time: clock::graph_time(c.created_at),
            attempts: c.attempts,
            last_error: c.last_error,
            status_url: c.status_url,
            confirmation_code: c.confirmation_code,
            settled_time: c.settled_at.map(clock::graph_time),
        }
    }
}

/// An audit record as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

fn actor_name(actor: Actor) -> String {
    match actor {
        Actor::Operator => "operator".into(),
        Actor::Person(person) => format!("person:{person}"),
    }
}

impl Privacy {
    fn record(&self, actor: String, action: &str, subject: String, detail: String) -> PrivacyRecord {
        PrivacyRecord { at: self.core.now(), actor, action: action.into(), subject, detail }
    }

    /// A callback owed to the app, at the URL it registered for that kind (none: the
    /// sender records that the app could not be told).
    async fn callback(&self, app: &AppId, kind: CallbackKind, payload: Value) -> AppResult<NewPrivacyCallback> {
        let urls = self.core.store.privacy_urls(app).await?;
        let url = match kind {
            CallbackKind::DataDeletion => urls.data_deletion_url,
            CallbackKind::Deauthorize => urls.deauthorize_callback_url,
        };
        Ok(NewPrivacyCallback { app: app.clone(), kind, url, payload: payload.to_string(), created_at: self.core.now() })
    }

    /// The person deletes their account, confirmed by their password: everything of
    /// theirs is erased in one transaction, with a data deletion request owed to every
    /// app that knew them. Their sessions end, and their PSIDs answer 551 on every node.
    pub async fn delete_account(&self, person: PersonId, password: &str) -> AppResult<()> {
        let who = self.core.person(person).await?;
        self.sessions.confirm_password(&who, password).await?;
        let mut callbacks = Vec::new();
        for known in self.core.store.apps_knowing(person).await? {
            // Meta's `user_id` is the app-scoped id; an app that knew the person only
            // on its Pages gets one too, with the PSIDs it knew (Switchboard's addition).
            let asid = match known.asid {
                Some(asid) => asid,
                None => self.core.store.asid(person, &known.app).await?,
            };
            let psids: Vec<Value> = known.psids.iter().map(|(page, psid)| json!({"page_id": page, "psid": psid})).collect();
            callbacks.push(self.callback(&known.app, CallbackKind::DataDeletion, json!({"user_id": asid, "psids": psids})).await?);
        }
        let record = self.record(actor_name(Actor::Person(person)), "account_deleted", format!("person:{person}"), format!("apps told: {}", callbacks.len()));
        let erased = self.core.store.erase_person(Erasure { person, callbacks, record }).await?;
        self.remove_files(&erased).await;
        self.core.invalidate(Invalidation::Person(person)).await;
        self.core.metrics.accounts_deleted.inc();
        self.wake.notify_one();
        tracing::info!(%person, messages = erased.messages, attachments = erased.attachments, "a person deleted their account");
        Ok(())
    }

    async fn remove_files(&self, erased: &Erased) {
        for digest in &erased.files {
            if let Err(error) = self.files.remove(digest).await {
                // The record is gone, so the file is unreachable; it is only space.
                tracing::warn!(%error, "cannot delete a media file no record names");
            }
        }
    }

    /// The person deletes their conversation with the Page: it is gone for them.
    pub async fn delete_conversation(&self, person: PersonId, page_ref: &PageRef) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        let record = self.record(actor_name(Actor::Person(person)), "conversation_deleted", format!("page:{}", page.id), format!("person:{person}"));
        if !self.core.store.hide_thread(&page.id, person, self.core.now(), record).await? {
            return Err(Refusal::invalid_param("You have no conversation with this Page").into());
        }
        Ok(())
    }

    /// The person blocks (or unblocks) the Page: while blocked, its messages are
    /// refused with 551 and the person's side sends nothing to its apps.
    pub async fn set_blocked(&self, person: PersonId, page_ref: &PageRef, blocked: bool) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        let action = if blocked { "page_blocked" } else { "page_unblocked" };
        let record = self.record(actor_name(Actor::Person(person)), action, format!("page:{}", page.id), format!("person:{person}"));
        let at = blocked.then(|| self.core.now());
        if !self.core.store.set_blocked(&page.id, person, at, record).await? {
            let state = self.core.store.thread_state(&page.id, person).await?;
            if state.is_none() {
                return Err(Refusal::invalid_param("You have no conversation with this Page").into());
            }
        }
        Ok(())
    }

    /// The person reports their conversation with the Page (the time is kept for the
    /// Page's insights; nothing else changes: blocking is its own step).
    pub async fn report_conversation(&self, person: PersonId, page_ref: &PageRef) -> AppResult<()> {
        let page = self.core.page_for_person(page_ref).await?;
        let record = self.record(actor_name(Actor::Person(person)), "conversation_reported", format!("page:{}", page.id), format!("person:{person}"));
        if !self.core.store.report_thread(&page.id, person, self.core.now(), record).await? {
            return Err(Refusal::invalid_param("You have no conversation with this Page").into());
        }
        Ok(())
    }

    pub async fn blocked_pages(&self, person: PersonId) -> AppResult<Vec<Value>> {
        let blocked = self.core.store.blocked_pages(person).await?;
        Ok(blocked.into_iter().map(|b| json!({"page": b.page, "blocked_at": b.blocked_at, "blocked_time": clock::graph_time(b.blocked_at)})).collect())
    }

    /// Everything held about the person, as one JSON document.
    pub async fn export(&self, person: PersonId) -> AppResult<Value> {
        let store = &self.core.store;
        let who = self.core.person(person).await?;
        let profile = store.person_profile(person).await?.unwrap_or_default();
        let phone = store.phone_of(person).await?;
        let mut threads = Vec::new();
        let mut exported = 0usize;
        let mut truncated = false;
        for page_id in store.thread_pages_of(person).await? {
            let Some(page) = store.page(&page_id).await? else { continue };
            let state = store.thread_state(&page_id, person).await?.unwrap_or_default();
            let mut messages: Vec<Message> = Vec::new();
            let mut before: Option<Mid> = None;
            loop {
                let batch = store.thread_messages(&page_id, person, before.as_ref(), 200).await?;
                let done = batch.len() < 200;
                before = batch.first().map(|m| m.mid.clone());
                messages.splice(0..0, batch);
                if done || before.is_none() {
                    break;
                }
                if exported + messages.len() >= MAX_EXPORTED_MESSAGES {
                    truncated = true;
                    break;
                }
            }
            exported += messages.len();
            let mut optins = Vec::new();
            for request in store.optin_requests_since(&page_id, person, 0).await? {
                optins.push(json!({
                    "kind": if matches!(request.kind, switchboard_store::OptinKind::OneTime) { "one_time" } else { "recurring" }, "title": request.title, "requested_time": clock::graph_time(request.created_at),
                    "accepted_time": request.tapped_at.map(clock::graph_time), "stopped_time": request.stopped_at.map(clock::graph_time),
                }));
            }
            threads.push(json!({
                "page": page,
                "psid": store.psid(person, &page_id).await?,
                "blocked_time": state.blocked_at.map(clock::graph_time),
                "deleted_by_you_before": state.hidden_before.map(clock::graph_time),
                "reported_time": state.reported_at.map(clock::graph_time),
                "account_linked": store.account_linked(&page_id, person).await?,
                "optins": optins,
                "messages": messages.iter().map(exported_message).collect::<Vec<_>>(),
            }));
        }
        let mut apps = Vec::new();
        for known in store.apps_knowing(person).await? {
            let consent = store.consent(person, &known.app).await?;
            apps.push(json!({
                "app_id": known.app, "asid": known.asid,
                "granted": consent.granted.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "declined": consent.declined.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }));
        }
        let record = self.record(actor_name(Actor::Person(person)), "data_exported", format!("person:{person}"), format!("threads: {}, messages: {exported}", threads.len()));
        store.record_privacy(record, Vec::new()).await?;
        Ok(json!({
            "exported_time": clock::graph_time(self.core.now()),
            "person": {"id": who.id, "name": who.name, "login": who.login, "phone_number": phone.map(|(number, _)| number)},
            "profile": {"locale": profile.locale, "timezone": profile.timezone, "gender": profile.gender},
            "threads": threads,
            "apps": apps,
            "truncated": truncated,
        }))
    }

    /// The app's privacy callback URLs (administrators and developers, or the operator).
    pub async fn urls(&self, actor: Actor, app: &AppId) -> AppResult<PrivacyUrls> {
        self.core.app_for_developer(actor, app).await?;
        Ok(self.core.store.privacy_urls(app).await?)
    }

    /// Sets the app's privacy callback URLs (an empty one is removed); administrators.
    pub async fn set_urls(&self, actor: Actor, app: &AppId, deauthorize: Option<&str>, data_deletion: Option<&str>) -> AppResult<PrivacyUrls> {
        self.core.app_for_admin(actor, app).await?;
        let mut urls = self.core.store.privacy_urls(app).await?;
        let check = |name: &str, url: &str| -> AppResult<Option<String>> {
            if url.is_empty() {
                return Ok(None);
            }
            Ok(Some(content::validate_url(&Value::String(url.into()), name, true)?))
        };
        if let Some(url) = deauthorize {
            urls.deauthorize_callback_url = check("deauthorize_callback_url", url)?;
        }
        if let Some(url) = data_deletion {
            urls.data_deletion_url = check("data_deletion_url", url)?;
        }
        self.core.store.set_privacy_urls(app, urls.clone()).await?;
        Ok(urls)
    }

    /// The app's privacy callbacks, newest first (administrators and developers).
    pub async fn callbacks(&self, actor: Actor, app: &AppId) -> AppResult<Vec<CallbackView>> {
        self.core.app_for_developer(actor, app).await?;
        Ok(self.core.store.privacy_callbacks(app, 100).await?.into_iter().map(CallbackView::from).collect())
    }

    /// The audit trail (the operator's), newest first, before the record `before`.
    pub async fn audit(&self, actor: Actor, before: Option<i64>, limit: u32) -> AppResult<Vec<AuditEntry>> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator can read the privacy audit").into());
        }
        let records = self.core.store.privacy_audit(before, limit.clamp(1, 500)).await?;
        Ok(records
            .into_iter()
            .map(|(id, r)| AuditEntry { id: id.to_string(), time: clock::graph_time(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: r.detail })
            .collect())
    }

    /// What removing an app owes (the store keeps it with the removal): its
    /// deauthorize callback, with the app-scoped id of who removed it (and the Page,
    /// for a Page), and the audit record.
    pub(crate) async fn removal_trail(&self, app: &AppId, by: Actor, page: Option<&PageId>) -> AppResult<PrivacyTrail> {
        let user_id = match by {
            Actor::Person(person) => Some(self.core.store.asid(person, app).await?),
            Actor::Operator => None,
        };
        let mut payload = json!({"user_id": user_id});
        if let Some(page) = page {
            payload["profile_id"] = json!(page);
        }
        let callback = self.callback(app, CallbackKind::Deauthorize, payload).await?;
        let (action, subject) = match page {
            Some(page) => ("app_removed", format!("page:{page}")),
            None => ("app_deauthorized", actor_name(by)),
        };
        Ok(PrivacyTrail { record: self.record(actor_name(by), action, subject, format!("app:{app}")), callbacks: vec![callback] })
    }

    /// Callbacks were stored: the sender looks.
    pub(crate) fn wake_sender(&self) {
        self.wake.notify_one();
    }

    /// The Page's own retention (`None`: the installation's), for its admins.
    pub async fn set_page_retention(&self, actor: Actor, page: &PageId, days: Option<u32>) -> AppResult<Option<u32>> {
        self.core.page_for_admin(actor, page).await?;
        let days = days.map(privacy::check_retention_days).transpose().map_err(Refusal::invalid_param)?;
        self.core.store.set_page_retention(page, days).await?;
        Ok(days)
    }

    /// The Page's retention in days (its own, else the installation's; `None`: forever).
    pub async fn page_retention(&self, actor: Actor, page: &PageId) -> AppResult<Value> {
        self.core.page_for_admin(actor, page).await?;
        let own = self.core.store.page_retention(page).await?;
        let installation = self.core.settings.retention_days;
        Ok(json!({"retention_days": own, "installation_retention_days": installation, "effective_retention_days": own.or(installation)}))
    }

    /// One retention pass: every Page's messages older than its retention are deleted
    /// in short batches, with the attachment records and files only they named.
    pub async fn prune(&self) -> AppResult<Pruned> {
        let mut pruned = Pruned::default();
        let installation = self.core.settings.retention_days;
        for (page, own) in self.core.store.retentions().await? {
            let Some(days) = own.or(installation) else { continue };
            let before = privacy::retention_cutoff(days, self.core.now());
            let mut page_pruned = Pruned::default();
            loop {
                let erased = self.core.store.prune_page(&page, before, ATTACHMENT_ID_LIFETIME_MS, PRUNE_BATCH).await?;
                self.remove_files(&erased).await;
                page_pruned.messages += erased.messages;
                page_pruned.attachments += erased.attachments;
                page_pruned.files += erased.files.len() as u64;
                if erased.messages < u64::from(PRUNE_BATCH) && erased.attachments < u64::from(PRUNE_BATCH) {
                    break;
                }
                // Between batches the writer serves everyone else.
                tokio::task::yield_now().await;
            }
            if page_pruned.messages + page_pruned.attachments > 0 {
                let detail = format!("messages: {}, attachments: {}, retention days: {days}", page_pruned.messages, page_pruned.attachments);
                self.core.store.record_privacy(self.record("retention".into(), "messages_pruned", format!("page:{page}"), detail), Vec::new()).await?;
            }
            pruned.messages += page_pruned.messages;
            pruned.attachments += page_pruned.attachments;
            pruned.files += page_pruned.files;
        }
        self.core.metrics.retention_pruned_messages.inc_by(pruned.messages);
        self.core.metrics.retention_pruned_attachments.inc_by(pruned.attachments);
        Ok(pruned)
    }

    /// Runs a retention pass now (the operator's).
    pub async fn prune_now(&self, actor: Actor) -> AppResult<Pruned> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator can run retention").into());
        }
        self.prune().await
    }

    /// Sends due callbacks until `shutdown`, and runs retention every `retention_every`.
    pub async fn run(self, poster: Arc<dyn CallbackPoster>, retention_every: Duration, shutdown: CancellationToken) {
        let mut retention = tokio::time::interval(retention_every);
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            match self.send_due(poster.as_ref()).await {
                Ok(sent) => {
                    failing = false;
                    if sent > 0 {
                        continue;
                    }
                }
                // Once while it lasts: a full disk refuses every claim until space returns.
                Err(error) if !std::mem::replace(&mut failing, true) => tracing::warn!(%error, "cannot send privacy callbacks; retrying every second"),
                Err(error) => tracing::debug!(%error, "cannot send privacy callbacks"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = retention.tick() => {
                    if let Err(error) = self.prune().await {
                        tracing::warn!(%error, "a retention pass failed");
                    }
                }
            }
        }
    }

    /// Sends the callbacks due now; answers how many were tried.
    async fn send_due(&self, poster: &dyn CallbackPoster) -> AppResult<usize> {
        let now = self.core.now();
        let due = self.core.store.claim_privacy_callbacks(now, now + CALLBACK_LEASE_MS, CALLBACKS_PER_ROUND).await?;
        let count = due.len();
        // At once: one slow app must not hold the others' callbacks for its timeout.
        let attempts = futures_util::future::join_all(due.iter().map(|callback| self.attempt(poster, callback))).await;
        for (callback, attempt) in due.iter().zip(attempts) {
            self.core.store.settle_privacy_callback(callback.id, attempt, self.core.now()).await?;
        }
        Ok(count)
    }

    /// One attempt at a callback: signed with the app's secret of the day.
    async fn attempt(&self, poster: &dyn CallbackPoster, callback: &PrivacyCallback) -> CallbackAttempt {
        let Some(url) = &callback.url else {
            return CallbackAttempt::GivenUp { error: format!("the app has no {} URL", callback.kind.as_str()) };
        };
        let app = match self.core.app(&callback.app).await {
            Ok(Some(app)) => app,
            Ok(None) => return CallbackAttempt::GivenUp { error: "the app no longer exists".into() },
            Err(error) => return self.retry(callback, format!("cannot read the app: {error}")),
        };
        let mut payload: Value = callback.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_else(|| json!({}));
        let issued_at = self.core.now() / 1000;
        payload["issued_at"] = json!(issued_at);
        payload["expires"] = json!(issued_at + privacy::SIGNED_REQUEST_TTL_MS / 1000);
        let signed = privacy::signed_request(&self.core.app_secret(&app), &payload);
        let timeout = Duration::from_millis(privacy::CALLBACK_TIMEOUT_MS as u64);
        match poster.post_form(url, &[("signed_request", &signed)], timeout, privacy::MAX_ANSWER_BYTES).await {
            Ok((status, body)) if (200..300).contains(&status) => match callback.kind {
                CallbackKind::DataDeletion => match privacy::parse_deletion_answer(&body) {
                    Ok(answer) => CallbackAttempt::Answered { status_url: Some(answer.url), confirmation_code: Some(answer.confirmation_code) },
                    Err(wrong) => self.retry(callback, wrong),
                },
                CallbackKind::Deauthorize => CallbackAttempt::Answered { status_url: None, confirmation_code: None },
            },
            Ok((status, _)) => self.retry(callback, format!("the callback answered HTTP {status}")),
            Err(error) => self.retry(callback, error),
        }
    }

    fn retry(&self, callback: &PrivacyCallback, error: String) -> CallbackAttempt {
        let now = self.core.now();
        match CALLBACK_RETRY.next_attempt(callback.created_at, now, callback.attempts + 1, rand::random(), None) {
            Some(next_attempt_at) => CallbackAttempt::Failed { error, next_attempt_at },
            None => CallbackAttempt::GivenUp { error },
        }
    }
}

/// A message as the person's export shows it.
fn exported_message(m: &Message) -> Value {
    json!({
        "mid": m.mid, "from": if m.direction == Direction::Inbound { "you" } else { "page" },
        "time": clock::graph_time(m.created_at), "text": m.text, "attachment": m.attachment, "reply_to": m.reply_to,
        "edits": m.edits, "your_rating": m.feedback,
    })
}
