//! Media records in SQLite: the `attachments` table, what each attachment id names
//! (its Page, kind, type and size) by the SHA-256 of the bytes kept on disk.

use crate::columns::{prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

#[async_trait]
impl MediaStore for SqliteStore {
    async fn insert_attachment(&self, a: AttachmentRecord) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO attachments (id, page_id, kind, digest, mime, size, file_name, reusable, created_at, sent_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![a.id, a.page.as_str(), a.kind, a.digest, a.mime, a.size as i64, a.file_name, a.reusable, a.created_at, a.sent_by.map(|p| p.0)],
                ))?;
                Ok(())
            })
            .await
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>> {
        let id = id.to_string();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, page_id, kind, digest, mime, size, file_name, reusable, created_at, sent_by FROM attachments WHERE id = ?1")?
                    .optional([id], |r| codec::attachment(r))
            })
            .await
    }

    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>> {
        let digest = digest.to_string();
        self.engine.read(move |c| prepare(c, "SELECT mime FROM attachments WHERE digest = ?1 LIMIT 1")?.optional([digest], |r| r.text("mime"))).await
    }
}
