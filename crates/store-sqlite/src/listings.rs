//! Listings in SQLite: what the console shows (apps with the person's role, an app's
//! members, Pages and their admins) and the persons' Page search and look-up by
//! login. Reads only, over the directory's tables.

use crate::columns::{cached, prepare, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

/// `%` and `_` in the text match themselves.
fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl ListingStore for SqliteStore {
    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
        self.engine
            .read(move |c| {
                cached(
                    c,
                    &format!(
                        "SELECT {}, r.role
                         FROM apps a LEFT JOIN app_roles r ON r.app_id = a.id AND r.person_id = ?1
                         WHERE ?1 IS NULL OR r.role IS NOT NULL ORDER BY a.name, a.id",
                        crate::consent::app_columns()
                    ),
                )?
                .all([person.map(|p| p.0)], |r| Ok((codec::app(r)?, r.opt_known("role")?)))
            })
            .await
    }

    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT p.id, p.name, p.login, r.role FROM app_roles r JOIN persons p ON p.id = r.person_id WHERE r.app_id = ?1 ORDER BY p.name, p.id",
                )?
                .all([app.as_str()], |r| Ok((codec::person(r)?, r.known("role")?)))
            })
            .await
    }

    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT p.id, p.name, p.username FROM pages p WHERE ?1 IS NULL OR EXISTS (
                        SELECT 1 FROM page_roles r WHERE r.page_id = p.id AND r.person_id = ?1 AND r.role = ?2) ORDER BY p.name, p.id",
                )?
                .all(params![person.map(|p| p.0), codec::text(PageRole::Admin)], |r| codec::page(r))
            })
            .await
    }

    async fn page_members(&self, page: &PageId) -> StoreResult<Vec<(Person, PageRole)>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT p.id, p.name, p.login, r.role FROM page_roles r JOIN persons p ON p.id = r.person_id WHERE r.page_id = ?1 ORDER BY p.name, p.id",
                )?
                .all([page.as_str()], |r| Ok((codec::person(r)?, r.known("role")?)))
            })
            .await
    }

    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
        let pattern = like_pattern(text);
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT id, name, username FROM pages WHERE lower(name) LIKE ?1 ESCAPE '\\' OR username LIKE ?1 ESCAPE '\\'
                     ORDER BY name, id LIMIT ?2",
                )?
                .all(params![pattern, limit], |r| codec::page(r))
            })
            .await
    }

    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>> {
        let login = login.to_string();
        self.engine.read(move |c| prepare(c, "SELECT id, name, login FROM persons WHERE login = ?1")?.optional([login], |r| codec::person(r))).await
    }
}
