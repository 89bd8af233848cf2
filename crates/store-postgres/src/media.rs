//! Records of media files (`attachments`): what each attachment id names, by the
//! SHA-256 of its bytes. The bytes themselves live on disk, not here.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

#[async_trait]
impl MediaStore for PostgresStore {
    async fn insert_attachment(&self, a: AttachmentRecord) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO attachments (id, page_id, kind, digest, mime, size, file_name, reusable, created_at, sent_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[&a.id, &a.page.0, &a.kind, &a.digest, &a.mime, &(a.size as i64), &a.file_name, &a.reusable, &a.created_at, &a.sent_by.map(|p| p.0)],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, page_id, kind, digest, mime, size, file_name, reusable, created_at, sent_by FROM attachments WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::attachment(&PgRow(r))).transpose()
    }

    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>> {
        let row = self.client().await?.query_opt("SELECT mime FROM attachments WHERE digest = $1 LIMIT 1", &[&digest]).await.map_err(pg)?;
        row.as_ref().map(|r| PgRow(r).text("mime")).transpose()
    }
}
