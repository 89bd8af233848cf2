//! Access tokens in SQLite: the `tokens` table (by digest, revoked for good), the
//! operator credential (`operators`) and the epochs Page tokens are derived from
//! (`page_token_epochs`). Registering a Page token and revoking Page tokens are
//! shared with the directory (a grant registers one; a role, grant or secret that
//! goes revokes them), so both live here, next to the epoch they agree on.

use crate::columns::{prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, TokenKind};
use switchboard_store::*;

/// Registers the Page token of (Page, app, person) for the triple's epoch as it
/// stands in this transaction; answers the epoch.
pub(crate) fn register_page_token(c: &Connection, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: &PageTokenMinter) -> StoreResult<u32> {
    let epoch = prepare(c, "SELECT epoch FROM page_token_epochs WHERE page_id = ?1 AND app_id = ?2 AND person_id = ?3")?
        .optional(params![page.as_str(), app.as_str(), person.0], |r| r.count("epoch"))?
        .unwrap_or(0);
    // Asked again, the same epoch derives the same token: registered once.
    q(c.execute(
        "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (digest) DO NOTHING",
        params![token(epoch), codec::text(TokenKind::Page), person.0, page.as_str(), app.as_str(), at],
    ))?;
    Ok(epoch)
}

/// Revokes, for good, the live Page tokens matching `filter` (a condition on the
/// tokens table's `page_id`, `app_id`, `person_id`), and moves the epoch of each
/// (Page, app, person) they belong to, so that the next one derived is new.
pub(crate) fn revoke_page_tokens(c: &Connection, filter: &str, values: &[&dyn rusqlite::ToSql]) -> StoreResult<()> {
    // The kind is spelled in the SQL (not bound) so that the partial index of live
    // Page tokens serves the filter.
    let page = codec::text(TokenKind::Page);
    q(c.execute(
        &format!(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch)
             SELECT DISTINCT page_id, app_id, person_id, 1 FROM tokens WHERE kind = '{page}' AND revoked = 0 AND {filter}
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = epoch + 1"
        ),
        values,
    ))?;
    q(c.execute(&format!("UPDATE tokens SET revoked = 1 WHERE kind = '{page}' AND revoked = 0 AND {filter}"), values))?;
    Ok(())
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool> {
        let digest = token_digest.to_string();
        self.engine
            .write(move |c| {
                if q(c.execute("INSERT OR IGNORE INTO operators (id, token_digest) VALUES (1, ?1)", [&digest]))? == 0 {
                    return Ok(false);
                }
                q(c.execute(
                    "INSERT INTO tokens (digest, kind, issued_at) VALUES (?1, ?2, 0)",
                    params![digest, codec::text(TokenKind::Operator)],
                ))?;
                Ok(true)
            })
            .await
    }

    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                let (kind, person, page, app) = codec::grant_columns(&token.grant);
                q(c.execute(
                    "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![token.hash, kind, person, page, app, token.issued_at, token.expires_at],
                ))?;
                Ok(())
            })
            .await
    }

    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>> {
        let digest = digest.to_string();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT digest, kind, person_id, page_id, app_id, issued_at, expires_at FROM tokens WHERE digest = ?1 AND revoked = 0")?
                    .optional([digest], |r| codec::token(r))
            })
            .await
    }

    async fn revoke_token(&self, digest: &str) -> StoreResult<()> {
        let digest = digest.to_string();
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE tokens SET revoked = 1 WHERE digest = ?1", [digest]))?;
                Ok(())
            })
            .await
    }

    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32> {
        let (page, app) = (page.clone(), app.clone());
        self.engine.write(move |c| register_page_token(c, &page, &app, person, at, &token)).await
    }
}
