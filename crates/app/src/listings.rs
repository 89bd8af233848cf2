//! What the console lists (the caller's apps and Pages, an app's members, a Page's
//! admins and installed apps, delivery statistics), test users, and the Page search
//! of the person's client with the visibility rule of development mode.

use crate::core::Core;
use crate::{Actor, AppResult, Directory};
use std::sync::Arc;
use switchboard_domain::*;

/// Most Pages a search answers.
pub const SEARCH_LIMIT: u32 = 20;
/// A Page as its admins see it in the console.
#[derive(Debug, Clone)]
pub struct PageOverview {
    pub page: Page,
    pub admins: Vec<Person>,
    /// Persons who answer in the Page's inbox.
    pub agents: Vec<Person>,
    /// Apps installed on the Page, with the fields each asked for.
    pub apps: Vec<(App, Vec<WebhookField>)>,
}

/// What the console lists, test users, and the person's Page search.
#[derive(Clone)]
pub struct Listings {
    pub(crate) core: Arc<Core>,
    pub(crate) directory: Directory,
}

impl Listings {
    /// Who is signed in: a person, or `None` for the operator.
    pub async fn whoami(&self, actor: Actor) -> AppResult<Option<Person>> {
        match actor {
            Actor::Operator => Ok(None),
            Actor::Person(person) => Ok(Some(self.core.person(person).await?)),
        }
    }

    /// The apps the actor holds a role on (the operator: all of them).
    pub async fn apps_of(&self, actor: Actor) -> AppResult<Vec<(App, Option<AppRole>)>> {
        let person = match actor {
            Actor::Operator => None,
            Actor::Person(person) => Some(person),
        };
        Ok(self.core.store.apps_for(person).await?)
    }

    /// Who holds a role on the app (for its administrators and developers).
    pub async fn app_members(&self, actor: Actor, app: &AppId) -> AppResult<Vec<(Person, AppRole)>> {
        self.core.app_for_developer(actor, app).await?;
        Ok(self.core.store.app_members(app).await?)
    }

    /// The Pages the actor administers (the operator: all of them).
    pub async fn pages_of(&self, actor: Actor) -> AppResult<Vec<Page>> {
        let person = match actor {
            Actor::Operator => None,
            Actor::Person(person) => Some(person),
        };
        Ok(self.core.store.pages_for(person).await?)
    }

    /// A Page with its admins, agents and installed apps (for its admins).
    pub async fn page_overview(&self, actor: Actor, page: &PageId) -> AppResult<PageOverview> {
        let page = self.core.page_for_admin(actor, page).await?;
        let (admins, agents): (Vec<_>, Vec<_>) = self.core.store.page_members(&page.id).await?.into_iter().partition(|(_, role)| *role == PageRole::Admin);
        let (admins, agents) = (admins.into_iter().map(|(p, _)| p).collect(), agents.into_iter().map(|(p, _)| p).collect());
        let mut apps = Vec::new();
        for subscription in self.core.store.page_subscriptions(&page.id).await? {
            if let Some(app) = self.core.app(&subscription.app).await? {
                apps.push((app, subscription.fields));
            }
        }
        Ok(PageOverview { page, admins, agents, apps })
    }

    /// A person by login (to give them a role).
    pub async fn person_named(&self, login: &str) -> AppResult<Person> {
        let login = login.trim().to_ascii_lowercase();
        Ok(self.core.store.person_by_login(&login).await?.ok_or_else(|| Refusal::invalid_param(format!("No person signs in as {login}")))?)
    }

    /// A new person with the tester role on the app, as Meta's test users: answers
    /// the person and their password (shown once).
    pub async fn create_test_user(&self, actor: Actor, app: &AppId, name: Option<&str>) -> AppResult<(Person, String)> {
        self.core.app_for_admin(actor, app).await?;
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Test User");
        self.directory.new_test_user(app, name, Scopes::NONE).await
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
        for page in self.core.store.search_pages(text, SEARCH_LIMIT).await? {
            if self.page_visible_to(&page, person).await? {
                visible.push(page);
            }
        }
        Ok(visible)
    }

    async fn page_visible_to(&self, page: &Page, person: PersonId) -> AppResult<bool> {
        let installed = self.core.store.page_subscriptions(&page.id).await?;
        if installed.is_empty() || self.core.store.page_role(&page.id, person).await?.is_some() {
            return Ok(true);
        }
        for subscription in installed {
            let Some(app) = self.core.app(&subscription.app).await? else { continue };
            if app.mode == AppMode::Live || self.core.store.app_role(&app.id, person).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
