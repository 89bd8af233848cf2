//! Consent: what persons grant apps through the login dialog (its redirect URIs and
//! one-time codes, the permissions granted and declined), App Review's decisions,
//! test users, and the businesses that own apps and Pages for ID matching.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// Where a permission stands in App Review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    Approved,
    Declined,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 3] = [Self::Pending, Self::Approved, Self::Declined];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }
}

/// A permission an app submitted for review, and the operator's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionReview {
    pub permission: Permission,
    pub status: ReviewStatus,
    /// The developer's note: what the app does with the permission.
    pub note: String,
    /// The operator's reason, shown to the developer.
    pub reason: Option<String>,
    pub submitted_at: Millis,
    pub decided_at: Option<Millis>,
}

/// A login dialog's code, stored by digest until it is exchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginCode {
    pub app: AppId,
    pub person: PersonId,
    pub redirect_uri: String,
    pub expires_at: Millis,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum Redemption {
    /// Spent now, by this call.
    Redeemed(LoginCode),
    /// Spent before.
    Used(LoginCode),
    Unknown,
}

/// A person's answers to an app's login dialogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Consent {
    pub granted: Scopes,
    pub declined: Scopes,
}

/// A business: it owns apps and Pages, and ID matching stays within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    pub id: String,
    pub name: String,
    /// Who administers it (`None`: the operator made it).
    pub admin: Option<PersonId>,
}

/// What a business can own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusinessAsset {
    App(AppId),
    Page(PageId),
}

#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    async fn redirect_uris(&self, app: &AppId) -> StoreResult<Vec<String>>;
    /// Replaces the app's registered redirect URIs.
    async fn set_redirect_uris(&self, app: &AppId, uris: &[String]) -> StoreResult<()>;
    async fn insert_login_code(&self, digest: &str, code: LoginCode) -> StoreResult<()>;
    /// Spends the code: only the first call for a digest answers `Redeemed`.
    async fn redeem_login_code(&self, digest: &str) -> StoreResult<Redemption>;
    /// Records a dialog's answer: `granted` and `declined` replace what the person
    /// said before about those permissions; the others stay as they were.
    async fn record_consent(&self, person: PersonId, app: &AppId, granted: Scopes, declined: Scopes, at: Millis) -> StoreResult<()>;
    async fn consent(&self, person: PersonId, app: &AppId) -> StoreResult<Consent>;
    /// The person takes one permission back (it becomes declined); false when they
    /// had not granted it.
    async fn withdraw_permission(&self, person: PersonId, app: &AppId, permission: Permission, at: Millis) -> StoreResult<bool>;
    /// The person removes the app: every answer they gave it goes, and their user
    /// tokens for it and the Page tokens issued through them are revoked for good,
    /// with the removal's privacy trail, in one transaction.
    async fn deauthorize(&self, person: PersonId, app: &AppId, trail: PrivacyTrail) -> StoreResult<()>;
    /// Submits permissions for review with a note; an approved one stays approved.
    async fn submit_review(&self, app: &AppId, permissions: Scopes, note: &str, at: Millis) -> StoreResult<()>;
    /// The operator's decision on a submitted permission; `NotFound` when it was not
    /// submitted.
    async fn decide_review(&self, app: &AppId, permission: Permission, approve: bool, reason: Option<&str>, at: Millis) -> StoreResult<()>;
    /// The app's reviews, by permission.
    async fn reviews(&self, app: &AppId) -> StoreResult<Vec<PermissionReview>>;
    /// Apps with a permission waiting for the operator, with their pending reviews.
    async fn pending_reviews(&self) -> StoreResult<Vec<(App, Vec<PermissionReview>)>>;
    /// The app's test users (not deleted), oldest first.
    async fn test_users(&self, app: &AppId) -> StoreResult<Vec<Person>>;
    /// Deletes a test user of the app: their role goes, every token of theirs
    /// (sessions too) is revoked, and they can no longer sign in. False when the
    /// person is not a test user of the app.
    async fn delete_test_user(&self, app: &AppId, person: PersonId) -> StoreResult<bool>;
    async fn create_business(&self, business: Business) -> StoreResult<()>;
    async fn business(&self, id: &str) -> StoreResult<Option<Business>>;
    /// Businesses the person administers (every one for `None`, the operator).
    async fn businesses(&self, admin: Option<PersonId>) -> StoreResult<Vec<Business>>;
    /// The business now owns the app or Page (an asset has one business at most).
    async fn assign_to_business(&self, business: &str, asset: BusinessAsset) -> StoreResult<()>;
    async fn business_of(&self, asset: BusinessAsset) -> StoreResult<Option<String>>;
    /// The person an app knows by this ASID.
    async fn person_by_asid(&self, app: &AppId, asid: &str) -> StoreResult<Option<PersonId>>;
    /// The person's PSIDs on the business's Pages (those that exist), by Page name.
    async fn ids_for_pages(&self, person: PersonId, business: &str) -> StoreResult<Vec<(Page, Psid)>>;
    /// The person's ASIDs for the business's apps (those that exist), by app name.
    async fn ids_for_apps(&self, person: PersonId, business: &str) -> StoreResult<Vec<(App, Asid)>>;
}
