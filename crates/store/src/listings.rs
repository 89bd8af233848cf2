//! What the console lists and persons search: apps and Pages by who may see them,
//! members of apps and Pages, Pages by name.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

#[async_trait]
pub trait ListingStore: Send + Sync + 'static {
    /// Apps the person holds a role on, with the role; with `None`, every app. By name.
    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>>;
    /// The persons holding a role on the app, by name.
    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>>;
    /// Pages the person administers; with `None`, every Page. By name.
    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>>;
    /// The persons holding a role on the Page (admins and agents), by name.
    async fn page_members(&self, page: &PageId) -> StoreResult<Vec<(Person, PageRole)>>;
    /// Pages whose name or username contains `text` (case-insensitive), by name.
    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>>;
    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>>;
}
