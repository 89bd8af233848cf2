//! What the console lists (the caller's apps and Pages, an app's members, a Page's
//! admins and installed apps, delivery statistics), test users, and the Page search
//! of the person's client with the visibility rule of development mode.

use crate::{Actor, AppResult, Platform};
use switchboard_domain::credentials::random_urlsafe;
use switchboard_domain::*;
use switchboard_store::DeliveryBucket;

/// Most Pages a search answers.
pub const SEARCH_LIMIT: u32 = 20;
/// The longest statistics window, and the fewest milliseconds per bucket.
pub const STATS_MAX_WINDOW_MS: Millis = 7 * 24 * 3_600_000;
pub const STATS_MIN_BUCKET_MS: Millis = 1_000;

/// A Page as its admins see it in the console.
#[derive(Debug, Clone)]
pub struct PageOverview {
    pub page: Page,
    pub admins: Vec<Person>,
    /// Apps installed on the Page, with the fields each asked for.
    pub apps: Vec<(App, Vec<WebhookField>)>,
}

impl Platform {
    /// Who is signed in: a person, or `None` for the operator.
    pub async fn whoami(&self, actor: Actor) -> AppResult<Option<Person>> {
        match actor {
            Actor::Operator => Ok(None),
            Actor::Person(person) => Ok(Some(self.person(person).await?)),
        }
    }

    /// The apps the actor holds a role on (the operator: all of them).
    pub async fn apps_of(&self, actor: Actor) -> AppResult<Vec<(App, Option<AppRole>)>> {
        let person = match actor {
            Actor::Operator => None,
            Actor::Person(person) => Some(person),
        };
        Ok(self.inner.store.apps_for(person).await?)
    }

    /// Who holds a role on the app (for its administrators and developers).
    pub async fn app_members(&self, actor: Actor, app: &AppId) -> AppResult<Vec<(Person, AppRole)>> {
        self.app_for_developer(actor, app).await?;
        Ok(self.inner.store.app_members(app).await?)
    }

    /// The Pages the actor administers (the operator: all of them).
    pub async fn pages_of(&self, actor: Actor) -> AppResult<Vec<Page>> {
        let person = match actor {
            Actor::Operator => None,
            Actor::Person(person) => Some(person),
        };
        Ok(self.inner.store.pages_for(person).await?)
    }

    /// A Page with its admins and installed apps (for its admins).
    pub async fn page_overview(&self, actor: Actor, page: &PageId) -> AppResult<PageOverview> {
        let page = self.page_for_admin(actor, page).await?;
        let admins = self.inner.store.page_admins(&page.id).await?;
        let mut apps = Vec::new();
        for subscription in self.inner.store.page_subscriptions(&page.id).await? {
            if let Some(app) = self.app(&subscription.app).await? {
                apps.push((app, subscription.fields));
            }
        }
        Ok(PageOverview { page, admins, apps })
    }

    /// A person by login (to give them a role).
    pub async fn person_named(&self, login: &str) -> AppResult<Person> {
        let login = login.trim().to_ascii_lowercase();
        Ok(self.inner.store.person_by_login(&login).await?.ok_or_else(|| Refusal::invalid_param(format!("No person signs in as {login}")))?)
    }

    /// A new person with the tester role on the app, as Meta's test users: answers
    /// the person and their password (shown once).
    pub async fn create_test_user(&self, actor: Actor, app: &AppId, name: Option<&str>) -> AppResult<(Person, String)> {
        self.app_for_admin(actor, app).await?;
        let login = format!("test-{}-{}", app, random_urlsafe(6).to_ascii_lowercase().replace(['-', '_'], "x"));
        let password = random_urlsafe(12);
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Test User");
        let person = self.person_to_create(name, &login, &password).await?;
        let person = self.inner.store.create_test_user(person, app).await.map_err(crate::directory::conflict_as_refusal)?;
        self.invalidate(crate::Invalidation::Callers).await;
        Ok((person, password))
    }

    /// The app's deliveries in `[from, to)` by buckets, every bucket present (for its
    /// administrators and developers).
    pub async fn delivery_stats(&self, actor: Actor, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> AppResult<Vec<DeliveryBucket>> {
        self.app_for_developer(actor, app).await?;
        if to <= from || to - from > STATS_MAX_WINDOW_MS {
            return Err(Refusal::invalid_param("from must be before to, at most 7 days before").into());
        }
        if bucket_ms < STATS_MIN_BUCKET_MS || (to - from) / bucket_ms > 10_080 {
            return Err(Refusal::invalid_param("bucket_ms must be at least 1000 and give at most 10080 buckets").into());
        }
        let stored = self.inner.store.delivery_stats(app, from, to, bucket_ms).await?;
        let mut stored = stored.into_iter().peekable();
        let mut buckets = Vec::new();
        let mut start = from;
        while start < to {
            match stored.peek() {
                Some(bucket) if bucket.start == start => buckets.extend(stored.next()),
                _ => buckets.push(DeliveryBucket { start, ..DeliveryBucket::default() }),
            }
            start += bucket_ms;
        }
        Ok(buckets)
    }

    /// Pages a person finds by name or username. A Page whose every installed app is
    /// in development mode shows only to persons with a role on one of those apps (and
    /// to its admins), as on Meta's platform; a Page without apps shows to everyone.
    pub async fn search_pages(&self, person: PersonId, text: &str) -> AppResult<Vec<Page>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let mut visible = Vec::new();
        for page in self.inner.store.search_pages(text, SEARCH_LIMIT).await? {
            if self.page_visible_to(&page, person).await? {
                visible.push(page);
            }
        }
        Ok(visible)
    }

    async fn page_visible_to(&self, page: &Page, person: PersonId) -> AppResult<bool> {
        let installed = self.inner.store.page_subscriptions(&page.id).await?;
        if installed.is_empty() || self.inner.store.page_role(&page.id, person).await?.is_some() {
            return Ok(true);
        }
        for subscription in installed {
            let Some(app) = self.app(&subscription.app).await? else { continue };
            if app.mode == AppMode::Live || self.inner.store.app_role(&app.id, person).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
