//! How apps join Pages as they do on Meta (reference §2): the login dialog (a person
//! grants permissions and chooses Pages; the app exchanges a one-time code for a user
//! token), the permissions a token carries and their withdrawal, App Review,
//! `debug_token`, test users through the Graph API, and ID matching within a
//! business.

use crate::core::Core;
use crate::{Actor, AppError, AppResult, Caller, Directory};
use serde::Serialize;
use std::sync::Arc;
use crate::directory::random_handle;
use switchboard_domain::credentials::{is_app_token_of, new_access_token, split_app_token, token_digest};
use switchboard_domain::permissions::{self, parse_scope};
use switchboard_domain::*;
use switchboard_store::{Business, BusinessAsset, LoginCode, PermissionReview, Redemption};

/// How long a login dialog's code may wait for its exchange (Meta: ten minutes).
pub const LOGIN_CODE_TTL_MS: Millis = 10 * 60 * 1000;
/// Redirect URIs an app may register.
pub const MAX_REDIRECT_URIS: usize = 20;
const MAX_URI_CHARS: usize = 1000;
const MAX_NOTE_CHARS: usize = 2000;
/// `data_access_expires_at`: how long an app may read a person's data after they
/// last used it (Meta: 90 days).
const DATA_ACCESS_MS: Millis = 90 * 24 * 3600 * 1000;
/// The e-mail domain of test users, as Meta's; signing in with it works too.
pub const TEST_USER_DOMAIN: &str = "tfbnw.net";

/// What the login dialog shows the person.
#[derive(Debug, Clone, Serialize)]
pub struct LoginDialog {
    pub app: AppSummary,
    pub redirect_uri: String,
    pub permissions: Vec<AskedPermission>,
    /// The Pages the person administers, with whether the app already has each.
    pub pages: Vec<DialogPage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AskedPermission {
    pub permission: &'static str,
    pub description: &'static str,
    /// False when a live app asks a person without a role for a permission review
    /// has not approved: the dialog shows it, but it cannot be granted.
    pub available: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DialogPage {
    pub id: String,
    pub name: String,
    pub granted: bool,
}

/// The person's answer to the dialog.
#[derive(Debug, Clone, Default)]
pub struct DialogAnswer {
    pub allow: bool,
    /// Permissions the person left selected (`None`: all that were asked).
    pub permissions: Option<Vec<String>>,
    pub pages: Vec<String>,
}

/// A dialog's request, as the app's link carries it.
#[derive(Debug, Clone)]
pub struct DialogRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
}

/// One permission of `GET /me/permissions`.
#[derive(Debug, Clone, Serialize)]
pub struct PermissionStatus {
    pub permission: &'static str,
    pub status: &'static str,
}

/// `GET /debug_token`'s `data`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TokenInspection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_access_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub is_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granular_scopes: Option<Vec<GranularScope>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<InspectionError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GranularScope {
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectionError {
    pub code: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcode: Option<u32>,
}

impl From<&Refusal> for InspectionError {
    fn from(refusal: &Refusal) -> Self {
        Self { code: refusal.code, message: refusal.message.clone(), subcode: refusal.subcode }
    }
}

/// A permission's place in App Review, as the app dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewState {
    pub permission: &'static str,
    pub description: &'static str,
    /// `standard` (never submitted: role holders only), `pending`, `approved`, `declined`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Millis>,
}

/// An app with permissions waiting for the operator.
#[derive(Debug, Clone, Serialize)]
pub struct PendingReview {
    pub app: AppSummary,
    pub permissions: Vec<ReviewState>,
}

/// A test user made through the Graph API (`POST /{app-id}/accounts/test-users`).
#[derive(Debug, Clone, Serialize)]
pub struct GraphTestUser {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    pub login_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// The login dialog, permissions, App Review, token inspection, test users and ID
/// matching.
#[derive(Clone)]
pub struct Consent {
    pub(crate) core: Arc<Core>,
    pub(crate) directory: Directory,
}

fn summary(app: &App) -> AppSummary {
    AppSummary { id: app.id.0.clone(), name: app.name.clone() }
}

fn seconds(ms: Millis) -> i64 {
    ms / 1000
}

/// Appends query parameters to a registered redirect URI.
fn redirect_with(uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return uri.to_string(),
    };
    url.query_pairs_mut().extend_pairs(params.iter().copied());
    url.to_string()
}

/// A redirect URI as an app registers it: absolute http(s), no fragment.
fn check_redirect_uri(uri: &str) -> Result<String, Refusal> {
    let uri = uri.trim();
    let parsed = url::Url::parse(uri).map_err(|_| Refusal::invalid_param(format!("redirect URI {uri:?} is not an absolute URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() || uri.chars().count() > MAX_URI_CHARS {
        return Err(Refusal::invalid_param(format!("redirect URI {uri:?} must be an http or https URL of at most {MAX_URI_CHARS} characters, without a fragment")));
    }
    Ok(uri.to_string())
}

impl Consent {
    /// The app, its redirect URI (which must match a registered one exactly) and the
    /// permissions asked, as the person may see them.
    async fn dialog_app(&self, person: PersonId, request: &DialogRequest) -> AppResult<(App, Scopes, Scopes)> {
        let unknown = || AppError::from(Refusal::invalid_param("Invalid App ID: the client_id names no app"));
        if !is_node_id(&request.client_id) {
            return Err(unknown());
        }
        let app = self.core.app(&AppId(request.client_id.clone())).await?.ok_or_else(unknown)?;
        let registered = self.core.store.redirect_uris(&app.id).await?;
        if !registered.iter().any(|uri| uri == &request.redirect_uri) {
            return Err(Refusal::redirect_uri_not_registered().into());
        }
        self.directory.may_use_app(&app, person).await?;
        let asked = parse_scope(&request.scope)?;
        let holds_role = self.core.role_on(&app.id, person).await?.is_some();
        let available = permissions::effective(asked, app.approved, app.mode, holds_role);
        Ok((app, asked, available))
    }

    /// `GET /dialog/oauth`, as the signed-in person sees it.
    pub async fn login_dialog(&self, person: PersonId, request: &DialogRequest) -> AppResult<LoginDialog> {
        let (app, asked, available) = self.dialog_app(person, request).await?;
        let granted: Vec<PageId> = self.core.store.granted_pages_of(person, &app.id).await?.into_iter().map(|p| p.id).collect();
        let pages = self
            .core
            .store
            .pages_for(Some(person))
            .await?
            .into_iter()
            .map(|page| DialogPage { granted: granted.contains(&page.id), id: page.id.0, name: page.name })
            .collect();
        let permissions = asked
            .iter()
            .map(|p| AskedPermission { permission: p.as_str(), description: p.description(), available: available.contains(p) })
            .collect();
        Ok(LoginDialog { app: summary(&app), redirect_uri: request.redirect_uri.clone(), permissions, pages })
    }

    /// The person answers the dialog: answers where the browser goes next, the
    /// registered redirect URI with `code` and `state`, or Meta's `access_denied`.
    pub async fn answer_dialog(&self, person: PersonId, request: &DialogRequest, answer: DialogAnswer) -> AppResult<String> {
        let (app, asked, available) = self.dialog_app(person, request).await?;
        let state = request.state.as_deref().unwrap_or("");
        if !answer.allow {
            return Ok(redirect_with(
                &request.redirect_uri,
                &[("error", "access_denied"), ("error_code", "200"), ("error_description", "Permissions error"), ("error_reason", "user_denied"), ("state", state)],
            ));
        }
        let chosen = match &answer.permissions {
            Some(names) => Scopes::from_names(names.iter().map(String::as_str)),
            None => asked,
        };
        let always: Scopes = [Permission::PublicProfile].into_iter().collect();
        let granted = chosen.intersection(available).union(always);
        let declined = asked.without(granted);
        // Each Page chosen must be the person's; each is granted once, however often
        // it is named, so the list a client sends makes at most one write per Page.
        let administered = self.core.store.pages_for(Some(person)).await?;
        if let Some(id) = answer.pages.iter().find(|id| !administered.iter().any(|p| &p.id.0 == *id)) {
            return Err(Refusal::permission(format!("You do not administer the Page {id}")).into());
        }
        let chosen_pages: Vec<&Page> = match granted.iter().any(Permission::per_page) {
            true => administered.iter().filter(|p| answer.pages.contains(&p.id.0)).collect(),
            false => Vec::new(),
        };
        // Written in this order, each step stands on its own if a crash stops the
        // rest: the answers, each Page's grant (with the answers again), the code.
        let now = self.core.now();
        self.core.store.record_consent(person, &app.id, granted, declined, now).await?;
        for page in chosen_pages {
            self.directory.grant_for_person(person, &page.id, &app, granted).await?;
        }
        self.core.invalidate(crate::Invalidation::Callers).await;
        let (code, digest) = new_access_token();
        let stored = LoginCode { app: app.id.clone(), person, redirect_uri: request.redirect_uri.clone(), expires_at: now + LOGIN_CODE_TTL_MS };
        self.core.store.insert_login_code(&digest, stored).await?;
        Ok(redirect_with(&request.redirect_uri, &[("code", &code), ("state", state)]))
    }

    /// `GET /oauth/access_token?client_id&client_secret&redirect_uri&code`: the
    /// code, once and within its ten minutes, for a short-lived user token.
    pub async fn exchange_code(&self, client_id: &str, client_secret: &str, redirect_uri: &str, code: &str) -> AppResult<(String, i64)> {
        let app = self.directory.authenticate_client(client_id, client_secret).await?;
        let (found, spent_now) = match self.core.store.redeem_login_code(&token_digest(code)).await? {
            Redemption::Unknown => return Err(Refusal::code_invalid().into()),
            Redemption::Redeemed(found) => (found, true),
            Redemption::Used(found) => (found, false),
        };
        // Another app's code is as good as none to this app.
        if found.app != app.id {
            return Err(Refusal::code_invalid().into());
        }
        if !spent_now {
            return Err(Refusal::code_used().into());
        }
        if found.redirect_uri != redirect_uri {
            return Err(Refusal::code_redirect_mismatch().into());
        }
        if found.expires_at <= self.core.now() {
            return Err(Refusal::code_expired().into());
        }
        let ttl = self.core.settings.user_token_ttl_ms;
        Ok((self.core.issue_token(TokenGrant::User { person: found.person, app: app.id }, Some(ttl)).await?, seconds(ttl)))
    }

    /// `GET /{user}/permissions` (`me` or the token's own app-scoped id): what the
    /// person granted and declined the app.
    pub async fn permissions(&self, caller: &Caller, user: &str) -> AppResult<Vec<PermissionStatus>> {
        let (person, app) = self.directory.token_user(caller, user).await?;
        let consent = self.core.store.consent(person, &app.id).await?;
        let mut statuses: Vec<PermissionStatus> = consent.granted.iter().map(|p| PermissionStatus { permission: p.as_str(), status: "granted" }).collect();
        statuses.extend(consent.declined.iter().map(|p| PermissionStatus { permission: p.as_str(), status: "declined" }));
        Ok(statuses)
    }

    /// `GET /{page-id}?fields=access_token` with a user token: the Page token, when
    /// the person administers the Page and granted it to the app.
    pub async fn page_token_for(&self, caller: &Caller, page: &PageId) -> AppResult<String> {
        let Caller::User { person, app, .. } = caller else {
            return Err(Refusal::wrong_token_kind("a user access token").into());
        };
        let granted = self.core.store.granted_pages_of(*person, &app.id).await?;
        if !granted.iter().any(|p| &p.id == page) {
            return Err(Refusal::unknown_object(page.as_str()).into());
        }
        self.directory.page_token(page, &app.id, *person).await
    }

    /// `GET /debug_token`: what a token of the caller's app is, valid or not. The
    /// caller is the app (its app token) or one of its administrators or developers
    /// (their user token).
    pub async fn debug_token(&self, caller: &Caller, input: Option<&str>) -> AppResult<TokenInspection> {
        let app = match caller {
            Caller::App(app) => app,
            Caller::User { person, app, .. } if matches!(self.core.role_on(&app.id, *person).await?, Some(AppRole::Administrator | AppRole::Developer)) => app,
            _ => return Err(Refusal::app_token_required().into()),
        };
        let input = input.ok_or_else(|| Refusal::missing_param("input_token"))?;
        let invalid = |refusal: Refusal| TokenInspection { is_valid: false, error: Some(InspectionError::from(&refusal)), ..TokenInspection::default() };
        if let Some((app_id, _)) = split_app_token(input) {
            if app_id != app.id.as_str() || !is_app_token_of(input, app_id, &self.core.app_secret(app)) {
                return Ok(invalid(Refusal::invalid_token()));
            }
            return Ok(TokenInspection { app_id: Some(app.id.0.clone()), kind: Some("APP"), application: Some(app.name.clone()), is_valid: true, ..TokenInspection::default() });
        }
        let Some(record) = self.core.store.token(&token_digest(input)).await? else { return Ok(invalid(Refusal::invalid_token())) };
        let (person, page) = match &record.grant {
            TokenGrant::User { person, app: of } if of == &app.id => (*person, None),
            TokenGrant::Page { person, app: of, page } if of == &app.id => (*person, Some(page.clone())),
            _ => return Ok(invalid(Refusal::invalid_token())),
        };
        let mut inspection = TokenInspection {
            app_id: Some(app.id.0.clone()),
            kind: Some(if page.is_some() { "PAGE" } else { "USER" }),
            application: Some(app.name.clone()),
            issued_at: Some(seconds(record.issued_at)),
            expires_at: Some(record.expires_at.map(seconds).unwrap_or(0)),
            data_access_expires_at: Some(seconds(self.core.now() + DATA_ACCESS_MS)),
            user_id: Some(self.core.store.asid(person, &app.id).await?.0),
            profile_id: page.as_ref().map(|p| p.0.clone()),
            ..TokenInspection::default()
        };
        let scopes = match self.core.resolve_stored_token(input).await {
            Ok(caller) => caller.scopes(),
            Err(AppError::Refused(refusal)) => {
                inspection.error = Some(InspectionError::from(&refusal));
                return Ok(inspection);
            }
            Err(failure) => return Err(failure),
        };
        let targets: Vec<String> = match &page {
            Some(page) => vec![page.0.clone()],
            None => self.core.store.granted_pages_of(person, &app.id).await?.into_iter().map(|p| p.id.0).collect(),
        };
        inspection.is_valid = true;
        inspection.scopes = Some(scopes.names());
        inspection.granular_scopes = Some(
            scopes
                .iter()
                .filter(|p| *p != Permission::PublicProfile)
                .map(|p| GranularScope { scope: p.as_str(), target_ids: p.per_page().then(|| targets.clone()) })
                .collect(),
        );
        Ok(inspection)
    }

    pub async fn redirect_uris(&self, actor: Actor, app: &AppId) -> AppResult<Vec<String>> {
        self.core.app_for_developer(actor, app).await?;
        Ok(self.core.store.redirect_uris(app).await?)
    }

    /// Replaces the app's redirect URIs (administrators).
    pub async fn set_redirect_uris(&self, actor: Actor, app: &AppId, uris: &[String]) -> AppResult<Vec<String>> {
        self.core.app_for_admin(actor, app).await?;
        if uris.len() > MAX_REDIRECT_URIS {
            return Err(Refusal::invalid_param(format!("an app registers at most {MAX_REDIRECT_URIS} redirect URIs")).into());
        }
        let uris = uris.iter().map(|uri| check_redirect_uri(uri)).collect::<Result<Vec<_>, _>>()?;
        self.core.store.set_redirect_uris(app, &uris).await?;
        Ok(self.core.store.redirect_uris(app).await?)
    }

    /// Every reviewable permission of the app and where it stands.
    pub async fn reviews(&self, actor: Actor, app: &AppId) -> AppResult<Vec<ReviewState>> {
        self.core.app_for_developer(actor, app).await?;
        let reviews = self.core.store.reviews(app).await?;
        Ok(Permission::ALL.into_iter().filter(|p| p.reviewable()).map(|p| review_state(p, reviews.iter().find(|r| r.permission == p))).collect())
    }

    /// A developer submits permissions for review, saying what the app does with
    /// them; an approved permission stays approved.
    pub async fn submit_review(&self, actor: Actor, app: &AppId, names: &[String], note: &str) -> AppResult<Vec<ReviewState>> {
        self.core.app_for_developer(actor, app).await?;
        let note = note.trim();
        if note.is_empty() || note.chars().count() > MAX_NOTE_CHARS {
            return Err(Refusal::invalid_param(format!("note must say how the app uses the permissions, in 1 to {MAX_NOTE_CHARS} characters")).into());
        }
        if names.is_empty() {
            return Err(Refusal::invalid_param("permissions must name at least one permission").into());
        }
        let mut permissions = Scopes::NONE;
        for name in names {
            let permission = Permission::parse(name.trim()).filter(|p| p.reviewable()).ok_or_else(|| Refusal::invalid_param(format!("{name} is not a permission App Review decides on")))?;
            permissions.insert(permission);
        }
        self.core.store.submit_review(app, permissions, note, self.core.now()).await?;
        self.reviews(actor, app).await
    }

    /// The operator approves or declines a submitted permission; a decline says why.
    pub async fn decide_review(&self, actor: Actor, app: &AppId, permission: &str, approve: bool, reason: Option<&str>) -> AppResult<Vec<ReviewState>> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator decides on App Review").into());
        }
        self.core.app_for_admin(actor, app).await?;
        let permission = Permission::parse(permission).filter(|p| p.reviewable()).ok_or_else(|| Refusal::invalid_param(format!("{permission} is not a permission App Review decides on")))?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !approve && reason.is_none() {
            return Err(Refusal::invalid_param("reason must tell the developer why the permission was declined").into());
        }
        if reason.is_some_and(|r| r.chars().count() > MAX_NOTE_CHARS) {
            return Err(Refusal::invalid_param(format!("reason must have at most {MAX_NOTE_CHARS} characters")).into());
        }
        self.core.store.decide_review(app, permission, approve, reason, self.core.now()).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        self.reviews(actor, app).await
    }

    /// Apps waiting for the operator's decisions.
    pub async fn pending_reviews(&self, actor: Actor) -> AppResult<Vec<PendingReview>> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator decides on App Review").into());
        }
        Ok(self
            .core
            .store
            .pending_reviews()
            .await?
            .into_iter()
            .map(|(app, reviews)| PendingReview { app: summary(&app), permissions: reviews.iter().map(|r| review_state(r.permission, Some(r))).collect() })
            .collect())
    }

    /// `POST /{app-id}/accounts/test-users` (app token): a new person with the
    /// tester role; `installed` grants the app `permissions` and answers a user token.
    pub async fn create_test_user(&self, caller: &Caller, app_id: &str, name: Option<&str>, installed: bool, scope: &str) -> AppResult<GraphTestUser> {
        let app = self.core.own_app(caller, app_id)?.clone();
        let granted = if installed { parse_scope(scope)? } else { Scopes::NONE };
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Open Graph Test User");
        let (person, password) = self.directory.new_test_user(&app.id, name, granted).await?;
        // The token is not stored with the person: one missing is issued by the listing.
        let access_token = if installed { Some(self.test_user_token(person.id, &app).await?) } else { None };
        Ok(GraphTestUser {
            id: self.core.store.asid(person.id, &app.id).await?.0,
            access_token,
            login_url: self.login_url(),
            email: Some(format!("{}@{TEST_USER_DOMAIN}", person.login)),
            password: Some(password),
        })
    }

    /// `GET /{app-id}/accounts/test-users`: each with a fresh user token when it
    /// installed the app (stored tokens are digests: none can be shown again).
    pub async fn test_users(&self, caller: &Caller, app_id: &str) -> AppResult<Vec<GraphTestUser>> {
        let app = self.core.own_app(caller, app_id)?.clone();
        let mut users = Vec::new();
        for person in self.core.store.test_users(&app.id).await? {
            let installed = !self.core.store.consent(person.id, &app.id).await?.granted.is_empty();
            let access_token = if installed { Some(self.test_user_token(person.id, &app).await?) } else { None };
            users.push(GraphTestUser { id: self.core.store.asid(person.id, &app.id).await?.0, access_token, login_url: self.login_url(), email: None, password: None });
        }
        Ok(users)
    }

    /// `DELETE /{test-user-id}` (app token): false when the id is none of the app's
    /// test users.
    pub async fn delete_test_user(&self, caller: &Caller, id: &str) -> AppResult<bool> {
        let Caller::App(app) = caller else { return Ok(false) };
        for person in self.core.store.test_users(&app.id).await? {
            if self.core.store.asid(person.id, &app.id).await?.as_str() == id {
                self.core.store.delete_test_user(&app.id, person.id).await?;
                self.core.invalidate(crate::Invalidation::Callers).await;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `POST /{test-user-id}/accounts` with the test user's own token: a test Page
    /// they administer, granted to the app. Answers the Page's id.
    pub async fn create_test_page(&self, caller: &Caller, name: &str) -> AppResult<Page> {
        let Caller::User { person, app, .. } = caller else {
            return Err(Refusal::wrong_token_kind("a test user's access token").into());
        };
        if !self.core.store.test_users(&app.id).await?.iter().any(|p| p.id == *person) {
            return Err(Refusal::permission("Only test users create test Pages").into());
        }
        let page = self.directory.create_page(Actor::Person(*person), name, &random_handle("test-page-", 8)).await?;
        // A crash before the grant leaves an ordinary Page of theirs; granting it is
        // theirs to do again. Their consent was given when they were made.
        self.directory.grant_for_person(*person, &page.id, app, Scopes::NONE).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(page)
    }

    async fn test_user_token(&self, person: PersonId, app: &App) -> AppResult<String> {
        self.core.issue_token(TokenGrant::User { person, app: app.id.clone() }, Some(self.core.settings.long_lived_token_ttl_ms)).await
    }

    /// Where a test user signs in: the web messenger.
    fn login_url(&self) -> String {
        format!("{}/", self.core.public_url())
    }

    /// A new business; a person who makes one administers it.
    pub async fn create_business(&self, actor: Actor, name: &str) -> AppResult<Business> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Refusal::invalid_param("name must be between 1 and 100 characters").into());
        }
        let admin = match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        };
        // A person holds as many businesses as Pages, at most (checked, then made:
        // a race may pass the bound by the racers, never by more).
        let quota = self.core.settings.quotas.pages_per_person as usize;
        if admin.is_some() && quota > 0 && self.core.store.businesses(admin).await?.len() >= quota {
            return Err(Refusal::quota_exceeded(format!("a person administers at most {quota} businesses")).into());
        }
        let business = Business { id: random_node_id(), name: name.to_string(), admin };
        self.core.store.create_business(business.clone()).await?;
        Ok(business)
    }

    pub async fn businesses(&self, actor: Actor) -> AppResult<Vec<Business>> {
        Ok(self.core.store.businesses(match actor {
            Actor::Person(person) => Some(person),
            Actor::Operator => None,
        })
        .await?)
    }

    /// The business takes an app or a Page its admin also administers.
    pub async fn assign_to_business(&self, actor: Actor, business: &str, asset: BusinessAsset) -> AppResult<()> {
        let found = self.core.store.business(business).await?.ok_or_else(|| Refusal::unknown_object(business))?;
        if let Actor::Person(person) = actor {
            if found.admin != Some(person) {
                return Err(Refusal::permission("Only the business's admin can add to it").into());
            }
        }
        match &asset {
            BusinessAsset::App(app) => drop(self.core.app_for_admin(actor, app).await?),
            BusinessAsset::Page(page) => drop(self.core.page_for_admin(actor, page).await?),
        }
        self.core.store.assign_to_business(business, asset).await?;
        Ok(())
    }

    /// `GET /{id}/ids_for_pages` and `/{id}/ids_for_apps`: the person behind `id`
    /// (a PSID of the caller's Page, or an ASID of the caller's app), and the
    /// business that bounds what may be matched. The call needs `appsecret_proof`
    /// (reference §2.5; a wrong one was refused with the token).
    async fn matched_person(&self, caller: &Caller, id: &str, proven: bool) -> AppResult<(PersonId, Option<String>)> {
        let unknown = || AppError::from(Refusal::unknown_object(id));
        let found = self.person_and_business(caller, id, unknown).await?;
        if !proven {
            return Err(Refusal::proof_required().into());
        }
        Ok(found)
    }

    async fn person_and_business(&self, caller: &Caller, id: &str, unknown: impl Fn() -> AppError) -> AppResult<(PersonId, Option<String>)> {
        match caller {
            Caller::Page { page, .. } => {
                let person = self.core.store.person_by_psid(&page.id, id).await?.ok_or_else(unknown)?;
                Ok((person, self.core.store.business_of(BusinessAsset::Page(page.id.clone())).await?))
            }
            Caller::App(app) | Caller::User { app, .. } => {
                let person = self.core.store.person_by_asid(&app.id, id).await?.ok_or_else(unknown)?;
                Ok((person, self.core.store.business_of(BusinessAsset::App(app.id.clone())).await?))
            }
            _ => Err(Refusal::app_token_required().into()),
        }
    }

    /// The person's PSIDs on the Pages of the caller's business (`page` narrows).
    pub async fn ids_for_pages(&self, caller: &Caller, id: &str, page: Option<&str>, proven: bool) -> AppResult<Vec<(Page, Psid)>> {
        let (person, business) = self.matched_person(caller, id, proven).await?;
        let Some(business) = business else { return Ok(Vec::new()) };
        let mut ids = self.core.store.ids_for_pages(person, &business).await?;
        ids.retain(|(p, _)| page.is_none_or(|wanted| p.id.as_str() == wanted));
        Ok(ids)
    }

    /// The person's ASIDs for the apps of the caller's business (`app` narrows).
    pub async fn ids_for_apps(&self, caller: &Caller, id: &str, app: Option<&str>, proven: bool) -> AppResult<Vec<(App, Asid)>> {
        let (person, business) = self.matched_person(caller, id, proven).await?;
        let Some(business) = business else { return Ok(Vec::new()) };
        let mut ids = self.core.store.ids_for_apps(person, &business).await?;
        ids.retain(|(a, _)| app.is_none_or(|wanted| a.id.as_str() == wanted));
        Ok(ids)
    }
}

fn review_state(permission: Permission, review: Option<&PermissionReview>) -> ReviewState {
    ReviewState {
        permission: permission.as_str(),
        description: permission.description(),
        status: review.map(|r| r.status.as_str()).unwrap_or("standard"),
        note: review.map(|r| r.note.clone()),
        reason: review.and_then(|r| r.reason.clone()),
        submitted_at: review.map(|r| r.submitted_at),
        decided_at: review.and_then(|r| r.decided_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_store::ReviewStatus;

    #[test]
    fn redirect_uris_are_absolute_web_urls() {
        assert!(check_redirect_uri("https://bot.example/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:3000/installed").is_ok());
        for bad in ["/callback", "javascript:alert(1)", "https://bot.example/cb#frag", "ftp://bot.example/"] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        let back = redirect_with("https://bot.example/cb?x=1", &[("code", "a b"), ("state", "s")]);
        assert_eq!(back, "https://bot.example/cb?x=1&code=a+b&state=s");
    }

    #[test]
    fn unreviewed_permissions_show_as_standard_access() {
        assert_eq!(review_state(Permission::PagesMessaging, None).status, "standard");
        let review = PermissionReview {
            permission: Permission::HumanAgent,
            status: ReviewStatus::Declined,
            note: "n".into(),
            reason: Some("r".into()),
            submitted_at: 1,
            decided_at: Some(2),
        };
        let state = review_state(Permission::HumanAgent, Some(&review));
        assert_eq!((state.status, state.reason.as_deref()), ("declined", Some("r")));
    }
}
