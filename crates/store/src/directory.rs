//! Persons, Pages and apps, the roles persons hold on them, the grants of Pages to
//! apps, phone numbers, Page features, and the scoped ids a person is known by (PSIDs
//! per Page, ASIDs per app).

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

#[derive(Debug, Clone, PartialEq)]
pub struct NewPerson {
    pub name: String,
    pub login: String,
    /// A PHC-format password hash; the store never sees a password.
    pub password_hash: String,
    pub created_at: Millis,
}

/// Who becomes the first admin of a new Page or administrator of a new app, and how
/// many they may hold at most (0: no bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub person: PersonId,
    pub quota: u32,
}

/// A change to an app that stands in for App Review, kept with who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: Millis,
    /// `operator` or `person:<id>`.
    pub actor: String,
    pub change: String,
}

/// A feature a Page applies for (its admin accepts the terms) and the operator
/// approves, as Meta's Advanced Messaging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PageFeatureState {
    pub feature: PageFeature,
    pub approved: bool,
    pub applied_by: Option<PersonId>,
    pub applied_at: Millis,
    pub approved_at: Option<Millis>,
}

/// A Page admin's grant of a Page to an app, within the Page's quota of apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageGrant {
    pub page: PageId,
    pub app: AppId,
    /// The admin on whose behalf the app acts.
    pub by: PersonId,
    pub at: Millis,
    /// Apps the Page may have at most (0: no bound).
    pub max_apps: u32,
    /// What the admin grants the app with it, recorded in the same transaction
    /// (`Scopes::NONE`: the consent was recorded before).
    pub consent: Scopes,
}

#[async_trait]
pub trait DirectoryStore: Send + Sync + 'static {
    async fn create_person(&self, person: NewPerson) -> StoreResult<Person>;
    /// Creates a person with the tester role on the app, and what they grant the app
    /// (when they installed it), in one transaction (Meta's test users).
    async fn create_test_user(&self, person: NewPerson, app: &AppId, consent: Scopes) -> StoreResult<Person>;
    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>>;
    /// The person and their password hash, for signing in.
    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>>;
    /// Creates a Page; with `admin`, the person becomes its admin in the same
    /// transaction, unless they already administer `admin.quota` Pages
    /// (`QuotaExceeded`, and nothing is stored).
    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()>;
    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>>;
    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>>;
    /// Creates an app; with `administrator`, the person becomes its administrator in
    /// the same transaction, unless they already administer `quota` apps.
    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()>;
    async fn app(&self, id: &AppId) -> StoreResult<Option<App>>;
    /// Replaces the app's mutable settings (mode, secret generation, proof rule), with
    /// an audit record of the change when given, in the same transaction. With
    /// `revoke_tokens` (its secret was reset), every user and Page token of the app
    /// is revoked too, for good.
    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()>;
    /// The operator's policy action on the app: its state moves to `to`, with the
    /// audit record and the `messaging_policy_enforcement` events, in one transaction;
    /// false (nothing stored) unless the state was still `from` (a concurrent action
    /// won), `NotFound` for an unknown app.
    async fn enforce_policy(&self, app: &AppId, from: PolicyState, to: PolicyState, audit: AuditRecord, events: Vec<NewOutboxEvent>) -> StoreResult<bool>;
    /// The app's audit records, oldest first.
    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>>;
    /// Sets or (with `None`) removes a person's role on an app.
    async fn set_app_role(&self, app: &AppId, person: PersonId, role: Option<AppRole>) -> StoreResult<()>;
    async fn app_role(&self, app: &AppId, person: PersonId) -> StoreResult<Option<AppRole>>;
    /// Sets or (with `None`) removes a person's role on a Page. Removing it revokes
    /// the Page tokens issued through that person for good, and is refused
    /// (`Conflict`) when the person is the Page's last admin: a Page keeps one.
    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()>;
    async fn page_role(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageRole>>;
    /// A Page admin lets an app act for the Page (what login's Page picker does), and
    /// the Page token of (Page, app, admin) is registered, in one transaction;
    /// `QuotaExceeded` when the Page already has `grant.max_apps` apps (0: no bound)
    /// and this one is new to it. Answers the epoch the token was minted for.
    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32>;
    /// A Page admin removes an app from the Page: the grant, the app's subscription
    /// to the Page's webhooks, its events of the Page not yet delivered, and every Page
    /// token of the app for this Page go, in one transaction; the tokens are revoked
    /// for good; with the removal's privacy trail. False (nothing stored) when it had
    /// no grant.
    async fn revoke_page_grant(&self, page: &PageId, app: &AppId, trail: PrivacyTrail) -> StoreResult<bool>;
    async fn page_granted(&self, page: &PageId, app: &AppId) -> StoreResult<bool>;
    /// Pages the person administers and has granted to the app, by name.
    async fn granted_pages_of(&self, person: PersonId, app: &AppId) -> StoreResult<Vec<Page>>;
    /// Sets (or with `None` removes) the person's phone number, verified at `at`;
    /// `Conflict` when another person holds the number.
    async fn set_phone(&self, person: PersonId, phone: Option<&str>, at: Millis) -> StoreResult<()>;
    /// The person holding this number, and when they verified it.
    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>>;
    /// The person's number and when they verified it.
    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>>;
    /// Records a Page admin's application for a feature (applying again keeps an
    /// approval given), approved at once with `approve`.
    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()>;
    /// The operator approves an application (`NotFound` when there is none).
    async fn approve_page_feature(&self, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()>;
    async fn page_features(&self, page: &PageId) -> StoreResult<Vec<PageFeatureState>>;
    /// The person's PSID for the Page, created on first contact; exactly one ever.
    async fn psid(&self, person: PersonId, page: &PageId) -> StoreResult<Psid>;
    async fn person_by_psid(&self, page: &PageId, psid: &str) -> StoreResult<Option<PersonId>>;
    /// The person's app-scoped id for the app, created on first use.
    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid>;
}
