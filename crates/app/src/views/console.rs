//! What the console API and the CLI show of apps, Pages, roles, features, labels, the audit
//! trail, delivery statistics and the clock.

use super::PersonView;
use crate::NewAppCredentials;
use serde::Serialize;
use switchboard_domain::*;
use switchboard_store::{AuditRecord, DeliveryBucket, LabelCount, PageFeatureState};

/// Who is signed in to the console: a person, or the operator.
#[derive(Debug, Clone, Serialize)]
pub struct WhoAmI {
    pub operator: bool,
    pub person: Option<PersonView>,
}

impl From<Option<Person>> for WhoAmI {
    fn from(person: Option<Person>) -> Self {
        Self { operator: person.is_none(), person: person.map(PersonView::from) }
    }
}

/// An app with its secret, for its administrators.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    pub id: AppId,
    pub name: String,
    pub mode: AppMode,
    pub require_appsecret_proof: bool,
    pub secret: String,
    /// `clear`, `warned` or `blocked` (the operator's policy enforcement).
    pub policy: PolicyState,
}

impl From<NewAppCredentials> for AppView {
    fn from(credentials: NewAppCredentials) -> Self {
        let app = credentials.app;
        Self { id: app.id, name: app.name, mode: app.mode, require_appsecret_proof: app.require_proof, secret: credentials.secret, policy: app.policy }
    }
}

/// Where the operator's policy enforcement left an app.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub id: AppId,
    pub policy: PolicyState,
}

impl From<App> for PolicyView {
    fn from(app: App) -> Self {
        Self { id: app.id, policy: app.policy }
    }
}

/// An app in the caller's list, with the caller's role on it.
#[derive(Debug, Clone, Serialize)]
pub struct AppListed {
    pub id: AppId,
    pub name: String,
    pub mode: AppMode,
    pub role: Option<&'static str>,
    pub policy: PolicyState,
}

impl From<(App, Option<AppRole>)> for AppListed {
    fn from((app, role): (App, Option<AppRole>)) -> Self {
        Self { id: app.id, name: app.name, mode: app.mode, role: role.map(AppRole::as_str), policy: app.policy }
    }
}

/// A person holding a role on an app.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub person: PersonView,
    pub role: &'static str,
}

impl From<(Person, AppRole)> for MemberView {
    fn from((person, role): (Person, AppRole)) -> Self {
        Self { person: person.into(), role: role.as_str() }
    }
}

/// A test user made for an app, with the password shown once.
#[derive(Debug, Clone, Serialize)]
pub struct TestUserView {
    pub person: PersonView,
    pub password: String,
    pub role: &'static str,
}

impl From<(Person, String)> for TestUserView {
    fn from((person, password): (Person, String)) -> Self {
        Self { person: person.into(), password, role: AppRole::Tester.as_str() }
    }
}

/// An app installed on a Page, with the fields it asked for.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledAppView {
    pub id: AppId,
    pub name: String,
    pub mode: AppMode,
    pub fields: Vec<&'static str>,
}

/// A Page with its admins, agents and installed apps, for its admins.
#[derive(Debug, Clone, Serialize)]
pub struct PageOverviewView {
    pub page: Page,
    pub admins: Vec<PersonView>,
    pub agents: Vec<PersonView>,
    pub apps: Vec<InstalledAppView>,
}

impl From<crate::PageOverview> for PageOverviewView {
    fn from(overview: crate::PageOverview) -> Self {
        Self {
            page: overview.page,
            admins: overview.admins.iter().map(PersonView::from).collect(),
            agents: overview.agents.iter().map(PersonView::from).collect(),
            apps: overview
                .apps
                .into_iter()
                .map(|(app, fields)| InstalledAppView { id: app.id, name: app.name, mode: app.mode, fields: fields.iter().map(|f| f.as_str()).collect() })
                .collect(),
        }
    }
}

/// A Page an app may act for, with its Page token.
#[derive(Debug, Clone, Serialize)]
pub struct PageAccountView {
    pub page: Page,
    pub access_token: String,
}

impl From<crate::PageAccount> for PageAccountView {
    fn from(account: crate::PageAccount) -> Self {
        Self { page: account.page, access_token: account.access_token }
    }
}

/// A Page feature and where its application stands.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureView {
    pub feature: &'static str,
    /// `applied` or `approved`.
    pub status: &'static str,
    pub applied_by: Option<i64>,
    pub applied_at: Millis,
    pub approved_at: Option<Millis>,
}

impl From<PageFeatureState> for FeatureView {
    fn from(state: PageFeatureState) -> Self {
        Self {
            feature: state.feature.as_str(),
            status: if state.approved { "approved" } else { "applied" },
            applied_by: state.applied_by.map(|p| p.0),
            applied_at: state.applied_at,
            approved_at: state.approved_at,
        }
    }
}

/// A custom label of a Page with how many persons it holds.
#[derive(Debug, Clone, Serialize)]
pub struct LabelView {
    pub id: String,
    pub name: String,
    pub members: u64,
    pub created_at: Millis,
}

impl From<LabelCount> for LabelView {
    fn from(count: LabelCount) -> Self {
        Self { id: count.label.id, name: count.label.name, members: count.members, created_at: count.label.created_at }
    }
}

/// A change to an app kept in its audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub time: Millis,
    pub actor: String,
    pub change: String,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> Self {
        Self { time: record.at, actor: record.actor, change: record.change }
    }
}

/// The server's time, and whether the operator may move it: forward (virtual), or
/// either way by a skew (the fault clock of fault tests).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClockView {
    pub now: Millis,
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skew_ms: Option<Millis>,
}

/// An app's deliveries by time bucket, for the console's chart.
#[derive(Debug, Clone, Serialize)]
pub struct StatsView {
    pub from: Millis,
    pub to: Millis,
    pub bucket_ms: Millis,
    pub buckets: Vec<BucketView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketView {
    pub start: Millis,
    pub delivered: u64,
    pub failed: u64,
    pub latency_avg_ms: Millis,
    pub latency_max_ms: Millis,
}

impl From<DeliveryBucket> for BucketView {
    fn from(b: DeliveryBucket) -> Self {
        Self { start: b.start, delivered: b.delivered, failed: b.failed, latency_avg_ms: b.latency_avg_ms, latency_max_ms: b.latency_max_ms }
    }
}
