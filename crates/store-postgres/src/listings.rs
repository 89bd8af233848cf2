//! What the console lists and persons search, reads only: apps and Pages by who may
//! see them, their members and admins, Pages by name, a person by login.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

#[async_trait]
impl ListingStore for PostgresStore {
    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {}, r.role
                     FROM apps a LEFT JOIN app_roles r ON r.app_id = a.id AND r.person_id = $1
                     WHERE $1::bigint IS NULL OR r.role IS NOT NULL ORDER BY a.name, a.id",
                    crate::consent::app_columns()
                ),
                &[&person.map(|p| p.0)],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                Ok((codec::app(&row)?, row.opt_known("role")?))
            })
            .collect()
    }

    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.login, r.role FROM app_roles r JOIN persons p ON p.id = r.person_id WHERE r.app_id = $1 ORDER BY p.name, p.id",
                &[&app.0],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                Ok((codec::person(&row)?, row.known("role")?))
            })
            .collect()
    }

    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.username FROM pages p WHERE $1::bigint IS NULL OR EXISTS (
                    SELECT 1 FROM page_roles r WHERE r.page_id = p.id AND r.person_id = $1 AND r.role = $2) ORDER BY p.name, p.id",
                &[&person.map(|p| p.0), &codec::text(PageRole::Admin)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page(&PgRow(r))).collect()
    }

    async fn page_members(&self, page: &PageId) -> StoreResult<Vec<(Person, PageRole)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.login, r.role FROM page_roles r JOIN persons p ON p.id = r.person_id WHERE r.page_id = $1 ORDER BY p.name, p.id",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| Ok((codec::person(&PgRow(r))?, PgRow(r).known("role")?))).collect()
    }

    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
        // `%` and `_` in the text match themselves.
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name, username FROM pages WHERE lower(name) LIKE $1 OR username LIKE $1 ORDER BY name, id LIMIT $2",
                &[&format!("%{escaped}%"), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page(&PgRow(r))).collect()
    }

    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>> {
        let row = self.client().await?.query_opt("SELECT id, name, login FROM persons WHERE login = $1", &[&login]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::person(&PgRow(r))).transpose()
    }
}
