//! Who is calling: a bearer token resolved to a [`Caller`], with `appsecret_proof`
//! checked for every token tied to an app. Tokens are looked up by digest through a
//! short-lived cache; expiry is checked on every call.

use crate::core::Core;
use crate::AppResult;
use switchboard_domain::credentials::{is_app_token_of, proof_matches, split_app_token, token_digest};
use switchboard_domain::*;

/// A resolved token.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// An app access token (`app_id|secret` or the derived form).
    App(App),
    /// A person's user access token for an app, with the permissions it may use.
    User { person: PersonId, app: App, scopes: Scopes },
    /// A Page access token held by an app, issued through a Page admin, with the
    /// permissions that admin's grant lets the app use.
    Page { page: Page, app: App, person: PersonId, scopes: Scopes },
    /// A person's own session (web messenger, person API, console).
    Session { person: PersonId },
    /// The installation's operator.
    Operator,
}

impl Caller {
    /// The app the token belongs to, if any.
    pub fn app(&self) -> Option<&App> {
        match self {
            Caller::App(app) | Caller::User { app, .. } | Caller::Page { app, .. } => Some(app),
            Caller::Session { .. } | Caller::Operator => None,
        }
    }

    /// The permissions the token may use (an app token needs none).
    pub fn scopes(&self) -> Scopes {
        match self {
            Caller::User { scopes, .. } | Caller::Page { scopes, .. } => *scopes,
            Caller::App(_) | Caller::Session { .. } | Caller::Operator => Scopes::NONE,
        }
    }

    /// The caller as an actor of the console's operations, if it may be one.
    pub fn actor(&self) -> Option<Actor> {
        match self {
            Caller::Operator => Some(Actor::Operator),
            Caller::Session { person } => Some(Actor::Person(*person)),
            _ => None,
        }
    }
}

/// Who performs a console operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Operator,
    Person(PersonId),
}

impl Core {
    /// Resolves a token; `proof` is the request's `appsecret_proof`, if any.
    pub(crate) async fn authenticate(&self, token: Option<&str>, proof: Option<&str>) -> AppResult<Caller> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(Refusal::token_required)?;
        let caller = if let Some((app_id, _)) = split_app_token(token) {
            let app = self.app(&AppId(app_id.to_string())).await?.ok_or_else(Refusal::invalid_token)?;
            if !is_app_token_of(token, app_id, &self.app_secret(&app)) {
                return Err(Refusal::invalid_token().into());
            }
            Caller::App(app)
        } else {
            self.resolve_stored_token(token).await?
        };
        if let Some(app) = caller.app() {
            match proof {
                Some(proof) if !proof_matches(&self.app_secret(app), token, proof) => return Err(Refusal::invalid_proof().into()),
                None if app.require_proof => return Err(Refusal::proof_required().into()),
                _ => {}
            }
        }
        Ok(caller)
    }

    pub(crate) async fn resolve_stored_token(&self, token: &str) -> AppResult<Caller> {
        let digest = token_digest(token);
        let loaded = self.callers.get_or_load(&digest, || {
            let (core, digest) = (self.handle(), digest.clone());
            async move { core.load_caller(&digest).await }
        });
        let (caller, expires_at) = loaded.await?.ok_or_else(Refusal::invalid_token)?;
        check_expiry(expires_at, self.now())?;
        Ok(caller)
    }

    /// Who a stored token (by digest) speaks for now, with its expiry; `None` when
    /// it names nothing that still holds.
    async fn load_caller(&self, digest: &str) -> AppResult<Option<(Caller, Option<Millis>)>> {
        let Some(record) = self.store.token(digest).await? else { return Ok(None) };
        let caller = match record.grant {
            TokenGrant::Operator => Caller::Operator,
            TokenGrant::Session { person } => Caller::Session { person },
            TokenGrant::User { person, app } => {
                let app = self.app(&app).await?.ok_or_else(Refusal::invalid_token)?;
                let scopes = self.scopes_of(person, &app).await?;
                Caller::User { person, app, scopes }
            }
            TokenGrant::Page { page, app, person } => {
                // A Page token lives only while the app keeps the grant and the person
                // who granted it remains an admin of the Page.
                let store = &self.store;
                if !store.page_granted(&page, &app).await? || store.page_role(&page, person).await? != Some(PageRole::Admin) {
                    return Ok(None);
                }
                let Some(page) = store.page(&page).await? else { return Ok(None) };
                let Some(app) = self.app(&app).await? else { return Ok(None) };
                let scopes = self.scopes_of(person, &app).await?;
                Caller::Page { page, app, person, scopes }
            }
        };
        Ok(Some((caller, record.expires_at)))
    }
}

impl Core {
    /// What the person's grants let the app use now (reference §2.3); a person who
    /// took every permission back has no token for the app at all (190/458).
    pub(crate) async fn scopes_of(&self, person: PersonId, app: &App) -> AppResult<Scopes> {
        let consent = self.store.consent(person, &app.id).await?;
        if consent.granted.is_empty() {
            return Err(Refusal::app_not_authorized(app.id.as_str()).into());
        }
        let holds_role = self.role_on(&app.id, person).await?.is_some();
        Ok(permissions::effective(consent.granted, app.approved, app.mode, holds_role))
    }
}

fn check_expiry(expires_at: Option<Millis>, now: Millis) -> Result<(), Refusal> {
    match expires_at {
        Some(at) if at <= now => Err(Refusal::expired_token()),
        _ => Ok(()),
    }
}
