//! Access tokens by digest (the `tokens` table), the operator credential, and the
//! epochs Page tokens are derived from (`page_token_epochs`): registering a Page token
//! here and revoking one (`directory`) lock the same epoch row, so that no token
//! registered during a revocation survives it.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, TokenKind};
use switchboard_store::*;

/// Registers the Page token of (Page, app, person) for the triple's epoch. The epoch
/// row is locked by an upsert, as every revocation locks it to move it on: a
/// revocation either comes first (and the token is minted for the new epoch) or
/// waits for this transaction (and revokes the token registered here).
pub(crate) async fn register_page_token(
    tx: &deadpool_postgres::Transaction<'_>,
    page: &PageId,
    app: &AppId,
    person: PersonId,
    at: Millis,
    token: &PageTokenMinter,
) -> StoreResult<u32> {
    let row = tx
        .query_one(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch) VALUES ($1, $2, $3, 0)
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = page_token_epochs.epoch
             RETURNING epoch",
            &[&page.0, &app.0, &person.0],
        )
        .await
        .map_err(pg)?;
    let epoch = PgRow(&row).count("epoch")?;
    // Asked again, the same epoch derives the same token: registered once.
    tx.execute(
        "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at) VALUES ($1, $6, $2, $3, $4, $5)
         ON CONFLICT (digest) DO NOTHING",
        &[&token(epoch), &person.0, &page.0, &app.0, &at, &codec::text(TokenKind::Page)],
    )
    .await
    .map_err(pg)?;
    Ok(epoch)
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let created = tx
            .execute("INSERT INTO operators (id, token_digest) VALUES (1, $1) ON CONFLICT DO NOTHING", &[&token_digest])
            .await
            .map_err(pg)?
            == 1;
        if created {
            tx.execute("INSERT INTO tokens (digest, kind, issued_at) VALUES ($1, $2, 0)", &[&token_digest, &codec::text(TokenKind::Operator)])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(created)
    }

    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()> {
        let (kind, person, page, app) = codec::grant_columns(&token.grant);
        self.client()
            .await?
            .execute(
                "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&token.hash, &kind, &person, &page, &app, &token.issued_at, &token.expires_at],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT digest, kind, person_id, page_id, app_id, issued_at, expires_at FROM tokens WHERE digest = $1 AND NOT revoked",
                &[&digest],
            )
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::token(&PgRow(r))).transpose()
    }

    async fn revoke_token(&self, digest: &str) -> StoreResult<()> {
        self.client().await?.execute("UPDATE tokens SET revoked = TRUE WHERE digest = $1", &[&digest]).await.map_err(pg)?;
        Ok(())
    }

    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let epoch = register_page_token(&tx, page, app, person, at, &token).await?;
        tx.commit().await.map_err(pg)?;
        Ok(epoch)
    }
}
