//! Persons, Pages, apps, roles and grants, and the tokens they lead to: what the
//! console, the CLI and Graph's OAuth endpoints do.

use crate::core::Core;
use crate::{Actor, AppError, AppResult, Caller, Sessions};
use std::sync::Arc;
use switchboard_domain::credentials::{app_access_token, new_access_token, random_urlsafe, secure_eq, token_digest};
use switchboard_domain::*;
use switchboard_store::{AuditRecord, NewOutboxEvent, NewPerson, Owner, PageGrant, PageTokenMinter};

/// An app as created: the secret is shown here, and derived again on demand.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewAppCredentials {
    pub app: App,
    pub secret: String,
}

/// A Page an app may act for, with the Page access token to do it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageAccount {
    pub page: Page,
    pub access_token: String,
}

fn check_name(what: &str, name: &str) -> Result<String, Refusal> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Refusal::invalid_param(format!("{what} must be between 1 and 100 characters")));
    }
    Ok(name.to_string())
}

/// Test users an app may have at once (Meta's rule).
pub const MAX_TEST_USERS: usize = 10;

/// `prefix` and `n` random characters that a login or username may hold.
pub(crate) fn random_handle(prefix: &str, n: usize) -> String {
    format!("{prefix}{}", random_urlsafe(n).to_ascii_lowercase().replace(['-', '_'], "x"))
}

/// Logins and Page usernames: 3 to 50 of `a-z 0-9 . _ -`, stored lowercase.
pub(crate) fn check_handle(what: &str, handle: &str) -> Result<String, Refusal> {
    let handle = handle.trim().to_ascii_lowercase();
    let valid = (3..=50).contains(&handle.len())
        && handle.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !handle.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(Refusal::invalid_param(format!(
            "{what} must be 3 to 50 characters of a-z, 0-9, '.', '_' or '-', and not only digits"
        )));
    }
    Ok(handle)
}

/// Persons, Pages, apps, roles and grants, and the tokens they lead to.
#[derive(Clone)]
pub struct Directory {
    pub(crate) core: Arc<Core>,
    pub(crate) sessions: Sessions,
    /// Removing an app owes it a deauthorize callback.
    pub(crate) privacy: crate::Privacy,
}

impl Directory {
    /// Creates the operator credential on the first start; `Some(token)` only then.
    pub async fn init_operator(&self) -> AppResult<Option<String>> {
        let (token, digest) = new_access_token();
        Ok(self.core.store.init_operator(&digest).await?.then_some(token))
    }

    pub async fn create_person(&self, actor: Actor, name: &str, login: &str, password: &str) -> AppResult<Person> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator can create persons").into());
        }
        self.new_person(name, login, password).await
    }

    /// Creates a person, whoever asked (the callers check).
    pub(crate) async fn new_person(&self, name: &str, login: &str, password: &str) -> AppResult<Person> {
        let person = self.person_to_create(name, login, password).await?;
        Ok(self.core.store.create_person(person).await?)
    }

    /// A person as the store creates one: name and login checked, password hashed.
    pub(crate) async fn person_to_create(&self, name: &str, login: &str, password: &str) -> AppResult<NewPerson> {
        let name = check_name("name", name)?;
        let login = check_handle("login", login)?;
        if password.chars().count() < 8 {
            return Err(Refusal::invalid_param("password must have at least 8 characters").into());
        }
        let password_hash = self.sessions.hash_password(password).await?;
        Ok(NewPerson { name, login, password_hash, created_at: self.core.now() })
    }

    /// `DELETE /{user}/permissions[/{permission}]` with a user token: the person takes
    /// one permission back from the app, or (with none named) removes the app, which
    /// ends their user tokens for it and the Page tokens issued through them. Either
    /// way every token that depended on it changes at once, on every node.
    pub async fn withdraw(&self, caller: &Caller, user: &str, permission: Option<&str>) -> AppResult<()> {
        let (person, app) = self.token_user(caller, user).await?;
        match permission {
            None => {
                let trail = self.privacy.removal_trail(&app.id, Actor::Person(person), None).await?;
                self.core.store.deauthorize(person, &app.id, trail).await?;
                self.privacy.wake_sender();
            }
            Some(name) => {
                let permission = Permission::parse(name).ok_or_else(|| Refusal::invalid_param(format!("Unknown permission: {name}")))?;
                if permission == Permission::PublicProfile {
                    return Err(Refusal::invalid_param("public_profile cannot be revoked: remove the app instead").into());
                }
                self.core.store.withdraw_permission(person, &app.id, permission, self.core.now()).await?;
            }
        }
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(())
    }

    /// A new test user of the app (Meta's: at most `MAX_TEST_USERS` per app), with
    /// the tester role and what they grant the app (`consent`), made in one store
    /// call. Answers the person and their password, shown once.
    pub(crate) async fn new_test_user(&self, app: &AppId, name: &str, consent: Scopes) -> AppResult<(Person, String)> {
        if self.core.store.test_users(app).await?.len() >= MAX_TEST_USERS {
            return Err(Refusal::invalid_param(format!("an app has at most {MAX_TEST_USERS} test users: delete one first")).into());
        }
        let login = random_handle(&format!("test-{app}-"), 6);
        let password = random_urlsafe(12);
        let person = self.person_to_create(name, &login, &password).await?;
        let person = self.core.store.create_test_user(person, app, consent).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok((person, password))
    }

    /// The person and app of a user token, for a path naming its user as `me` or by
    /// its own app-scoped id: a user token reaches no other person.
    pub(crate) async fn token_user<'c>(&self, caller: &'c Caller, user: &str) -> AppResult<(PersonId, &'c App)> {
        let Caller::User { person, app, .. } = caller else {
            return Err(Refusal::wrong_token_kind("a user access token").into());
        };
        if user != "me" && self.asid(*person, &app.id).await?.as_str() != user {
            return Err(Refusal::permission("A user token reaches only its own person").into());
        }
        Ok((*person, app))
    }

    /// Creates a Page; a person who creates one becomes its admin, within their
    /// quota of Pages.
    pub async fn create_page(&self, actor: Actor, name: &str, username: &str) -> AppResult<Page> {
        let page = Page { id: PageId(random_node_id()), name: check_name("name", name)?, username: check_handle("username", username)? };
        let admin = match actor {
            Actor::Person(person) => Some(Owner { person, quota: self.core.settings.quotas.pages_per_person }),
            Actor::Operator => None,
        };
        self.core.store.create_page(page.clone(), admin).await?;
        Ok(page)
    }

    /// Creates an app in development mode; a person who creates one becomes its administrator.
    pub async fn create_app(&self, actor: Actor, name: &str) -> AppResult<NewAppCredentials> {
        let app = App {
            id: AppId(random_node_id()),
            name: check_name("name", name)?,
            mode: AppMode::Development,
            secret_generation: 0,
            require_proof: false,
            approved: Scopes::NONE,
            policy: PolicyState::Clear,
        };
        let administrator = match actor {
            Actor::Person(person) => Some(Owner { person, quota: self.core.settings.quotas.apps_per_person }),
            Actor::Operator => None,
        };
        self.core.store.create_app(app.clone(), administrator).await?;
        Ok(NewAppCredentials { secret: self.core.app_secret(&app), app })
    }

    /// The app's current credentials, for its administrators.
    pub async fn app_credentials(&self, actor: Actor, app_id: &AppId) -> AppResult<NewAppCredentials> {
        let app = self.core.app_for_admin(actor, app_id).await?;
        Ok(NewAppCredentials { secret: self.core.app_secret(&app), app })
    }

    /// Replaces the app's settings that its administrators control.
    pub async fn update_app(&self, actor: Actor, app_id: &AppId, mode: Option<AppMode>, require_proof: Option<bool>, reset_secret: bool) -> AppResult<NewAppCredentials> {
        let mut app = self.core.app_for_admin(actor, app_id).await?;
        // Going live stands in for App Review: it is kept with who did it.
        let audit = mode.filter(|mode| *mode != app.mode).map(|mode| AuditRecord {
            at: self.core.now(),
            actor: match actor {
                Actor::Operator => "operator".to_string(),
                Actor::Person(person) => format!("person:{}", person.0),
            },
            change: format!("mode: {} -> {}", app.mode.as_str(), mode.as_str()),
        });
        if let Some(mode) = mode {
            app.mode = mode;
        }
        if let Some(require_proof) = require_proof {
            app.require_proof = require_proof;
        }
        if reset_secret {
            app.secret_generation += 1;
        }
        // A new secret ends every user and Page token of the app (Meta's behaviour):
        // whoever held the old secret may have handed them out.
        self.core.store.update_app(&app, audit, reset_secret).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(NewAppCredentials { secret: self.core.app_secret(&app), app })
    }

    /// `POST /console/v1/apps/{app}/policy` (operator): warns, blocks or unblocks the
    /// app for policy. The new state, its audit record and a `messaging_policy_enforcement`
    /// event for every Page the app is installed on and takes that field from are
    /// stored in one store call; every node drops the app's cached tokens, so a block
    /// (or its end) holds at once for the Send API everywhere.
    pub async fn enforce_policy(&self, actor: Actor, app_id: &AppId, action: Option<&str>, reason: Option<&str>) -> AppResult<App> {
        // Who asks is checked before what they ask.
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator enforces the platform's policies").into());
        }
        let mut app = self.core.app_for_admin(actor, app_id).await?;
        let action = action.ok_or_else(|| Refusal::missing_param("action"))?;
        let action = PolicyAction::parse(action).ok_or_else(|| Refusal::invalid_param("action must be warning, block or unblock"))?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_POLICY_REASON) {
            return Err(Refusal::invalid_param(format!("reason must be at most {MAX_POLICY_REASON} characters")).into());
        }
        if action != PolicyAction::Unblock && reason.is_none() {
            return Err(Refusal::missing_param("reason").into());
        }
        let to = action.apply(app.policy)?;
        let now = self.core.now();
        let mut events = Vec::new();
        for installed in self.core.store.installed_pages(app_id).await? {
            let targets = self.core.webhook_targets(&installed.page).await?;
            if targets.iter().any(|t| &t.app == app_id && t.fields.contains(&WebhookField::MessagingPolicyEnforcement)) {
                events.push(NewOutboxEvent {
                    app: app_id.clone(),
                    page: installed.page.clone(),
                    // A Page-level event: no person, the Page's own "thread".
                    person: PersonId(0),
                    field: WebhookField::MessagingPolicyEnforcement,
                    body: crate::events::policy_enforcement(&installed.page, action, reason, now),
                    created_at: now,
                });
            }
        }
        let change = match reason {
            Some(reason) => format!("policy {}: {reason}", action.as_str()),
            None => format!("policy {}", action.as_str()),
        };
        let audit = AuditRecord { at: now, actor: "operator".to_string(), change };
        let wakes = !events.is_empty();
        if !self.core.store.enforce_policy(app_id, app.policy, to, audit, events).await? {
            return Err(Refusal::invalid_param("The app's policy state changed meanwhile: look again").into());
        }
        self.core.invalidate(crate::Invalidation::Callers).await;
        if wakes {
            self.core.wake_dispatcher();
        }
        app.policy = to;
        Ok(app)
    }

    /// The app's mode changes, with who made them (app administrators).
    pub async fn app_audit(&self, actor: Actor, app_id: &AppId) -> AppResult<Vec<AuditRecord>> {
        self.core.app_for_admin(actor, app_id).await?;
        Ok(self.core.store.app_audit(app_id).await?)
    }

    pub async fn set_app_role(&self, actor: Actor, app_id: &AppId, person: PersonId, role: Option<AppRole>) -> AppResult<()> {
        self.core.app_for_admin(actor, app_id).await?;
        self.core.person(person).await?;
        self.core.store.set_app_role(app_id, person, role).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(())
    }

    pub async fn set_page_role(&self, actor: Actor, page_id: &PageId, person: PersonId, role: Option<PageRole>) -> AppResult<()> {
        self.core.page_for_admin(actor, page_id).await?;
        self.core.person(person).await?;
        self.core.store.set_page_role(page_id, person, role).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(())
    }

    /// A Page admin lets an app act for the Page, as Meta's login dialog does. The
    /// operator grants on behalf of an admin named by `admin`. Answers the Page token.
    pub async fn grant_page(&self, actor: Actor, page_id: &PageId, app_id: &AppId, admin: Option<PersonId>) -> AppResult<PageAccount> {
        let page = self.core.page_for_admin(actor, page_id).await?;
        let app = self.core.store.app(app_id).await?.ok_or_else(|| Refusal::unknown_object(app_id.as_str()))?;
        let admin = match (actor, admin) {
            (Actor::Person(person), _) => person,
            (Actor::Operator, Some(person)) if self.core.store.page_role(page_id, person).await? == Some(PageRole::Admin) => person,
            (Actor::Operator, _) => {
                return Err(Refusal::invalid_param("person_id must name an admin of the Page, on whose behalf the app acts").into())
            }
        };
        if let Actor::Person(person) = actor {
            self.may_use_app(&app, person).await?;
        }
        let max_apps = match actor {
            Actor::Person(_) => self.core.settings.quotas.apps_per_page,
            Actor::Operator => 0,
        };
        // Granting in the console stands for the login dialog's consent to what a
        // Messenger bot needs, stored with the grant.
        let grant = PageGrant { page: page_id.clone(), app: app.id.clone(), by: admin, at: self.core.now(), max_apps, consent: Scopes::messenger() };
        let epoch = self.core.store.grant_page(grant, self.page_token_minter(&page.id, &app.id, admin)).await?;
        self.core.invalidate(crate::Invalidation::Callers).await;
        Ok(PageAccount { access_token: self.core.key.page_token(page.id.as_str(), app.id.as_str(), admin.0, epoch), page })
    }

    /// The login dialog's Page picker: the admin grants the app the Page, within
    /// the Page's quota of apps, with `consent` stored beside it.
    pub(crate) async fn grant_for_person(&self, person: PersonId, page: &PageId, app: &App, consent: Scopes) -> AppResult<()> {
        let max_apps = self.core.settings.quotas.apps_per_page;
        let grant = PageGrant { page: page.clone(), app: app.id.clone(), by: person, at: self.core.now(), max_apps, consent };
        self.core.store.grant_page(grant, self.page_token_minter(page, &app.id, person)).await?;
        Ok(())
    }

    /// A Page admin removes an app from the Page (`DELETE /console/v1/pages/{page}/apps/{app}`):
    /// its Page tokens stop working at once, here and (through the bus) on every
    /// node, it receives no more of the Page's webhooks (pending ones are dropped), and
    /// its deauthorize callback is owed.
    pub async fn revoke_page_grant(&self, actor: Actor, page_id: &PageId, app_id: &AppId) -> AppResult<()> {
        self.core.page_for_admin(actor, page_id).await?;
        let trail = self.privacy.removal_trail(app_id, actor, Some(page_id)).await?;
        if !self.core.store.revoke_page_grant(page_id, app_id, trail).await? {
            return Err(Refusal::unknown_object(app_id.as_str()).into());
        }
        self.core.invalidate(crate::Invalidation::Callers).await;
        self.core.invalidate(crate::Invalidation::Targets(Some(page_id.clone()))).await;
        self.privacy.wake_sender();
        Ok(())
    }

    /// The Page token of (Page, app, admin), registered by digest so it resolves:
    /// derived from the master key at the triple's epoch (see `MasterKey::page_token`).
    pub(crate) async fn page_token(&self, page: &PageId, app: &AppId, admin: PersonId) -> AppResult<String> {
        let epoch = self.core.store.register_page_token(page, app, admin, self.core.now(), self.page_token_minter(page, app, admin)).await?;
        Ok(self.core.key.page_token(page.as_str(), app.as_str(), admin.0, epoch))
    }

    /// The digest of the triple's Page token at an epoch, for the store to register
    /// in the transaction that reads the epoch.
    fn page_token_minter(&self, page: &PageId, app: &AppId, admin: PersonId) -> PageTokenMinter {
        let (core, page, app) = (self.core.clone(), page.clone(), app.clone());
        Arc::new(move |epoch| token_digest(&core.key.page_token(page.as_str(), app.as_str(), admin.0, epoch)))
    }

    /// A user access token of `person` for the app, what Facebook Login hands an app.
    /// A person logs in for themselves; the operator may log in anyone.
    pub async fn user_token(&self, actor: Actor, app_id: &AppId, person: PersonId) -> AppResult<String> {
        if actor != Actor::Operator && actor != Actor::Person(person) {
            return Err(Refusal::permission("A person can only log in as themselves").into());
        }
        self.core.person(person).await?;
        let app = self.core.store.app(app_id).await?.ok_or_else(|| Refusal::unknown_object(app_id.as_str()))?;
        if actor != Actor::Operator {
            self.may_use_app(&app, person).await?;
        }
        // As with a grant, logging in from the console consents to what a bot needs.
        // The consent first: if the token is never issued, the person logs in again.
        self.core.store.record_consent(person, &app.id, Scopes::messenger(), Scopes::NONE, self.core.now()).await?;
        self.core.issue_token(TokenGrant::User { person, app: app.id }, Some(self.core.settings.user_token_ttl_ms)).await
    }

    /// Meta's rule for logging in to an app, and so for installing it on a Page: an
    /// app in development mode only for the persons holding a role on it; a live app
    /// for anyone. (The operator, who administers the installation, is not bound.)
    pub(crate) async fn may_use_app(&self, app: &App, person: PersonId) -> AppResult<()> {
        if app.mode == AppMode::Development && self.core.store.app_role(&app.id, person).await?.is_none() {
            return Err(Refusal::permission(
                "This app is in development mode, and only its administrators, developers and testers can use it: ask an administrator of the app for a role",
            )
            .into());
        }
        Ok(())
    }

    /// `GET /oauth/access_token?grant_type=client_credentials`.
    pub async fn app_access_token(&self, client_id: &str, client_secret: &str) -> AppResult<String> {
        let app = self.authenticate_client(client_id, client_secret).await?;
        Ok(app_access_token(app.id.as_str(), &self.core.app_secret(&app)))
    }

    /// `GET /oauth/access_token?grant_type=fb_exchange_token`: a long-lived user token
    /// for a short-lived one of the same app. Answers the token and its lifetime in seconds.
    pub async fn exchange_token(&self, client_id: &str, client_secret: &str, short_lived: &str) -> AppResult<(String, i64)> {
        let app = self.authenticate_client(client_id, client_secret).await?;
        let person = match self.core.authenticate(Some(short_lived), None).await? {
            Caller::User { person, app: token_app, .. } if token_app.id == app.id => person,
            _ => return Err(Refusal::invalid_param("fb_exchange_token must be a user access token of this app").into()),
        };
        let ttl = self.core.settings.long_lived_token_ttl_ms;
        Ok((self.core.issue_token(TokenGrant::User { person, app: app.id }, Some(ttl)).await?, ttl / 1000))
    }

    pub(crate) async fn authenticate_client(&self, client_id: &str, client_secret: &str) -> AppResult<App> {
        let bad = || AppError::from(Refusal::invalid_param("Error validating client secret."));
        if !is_node_id(client_id) {
            return Err(bad());
        }
        let app = self.core.app(&AppId(client_id.to_string())).await?.ok_or_else(bad)?;
        if !secure_eq(&self.core.app_secret(&app), client_secret) {
            return Err(bad());
        }
        Ok(app)
    }

    /// `GET /me/accounts`: the Pages a user token's person administers and has granted
    /// to the token's app, each with its Page token.
    pub async fn accounts(&self, caller: &Caller) -> AppResult<Vec<PageAccount>> {
        let Caller::User { person, app, scopes } = caller else {
            return Err(Refusal::wrong_token_kind("a user access token").into());
        };
        permissions::require(*scopes, Permission::PagesShowList)?;
        let mut accounts = Vec::new();
        for page in self.core.store.granted_pages_of(*person, &app.id).await? {
            accounts.push(PageAccount { access_token: self.page_token(&page.id, &app.id, *person).await?, page });
        }
        Ok(accounts)
    }

    /// The person's app-scoped id: what `/me` shows an app for a user token.
    pub async fn asid(&self, person: PersonId, app: &AppId) -> AppResult<Asid> {
        Ok(self.core.store.asid(person, app).await?)
    }

    pub async fn person(&self, person: PersonId) -> AppResult<Person> {
        self.core.person(person).await
    }

    /// The app, through the cache.
    pub async fn app(&self, app: &AppId) -> AppResult<Option<App>> {
        self.core.app(app).await
    }

    /// The person's PSID for the Page, created on first contact.
    pub async fn psid(&self, person: PersonId, page: &PageId) -> AppResult<Psid> {
        self.core.psid(person, page).await
    }

    /// A Page by id or username (`GET /{page-id}`, the person's client), else 100/33.
    pub async fn page(&self, page: &PageRef) -> AppResult<Page> {
        self.core.page_for_person(page).await
    }
}
