//! A Page's custom labels in PostgreSQL: `custom_labels` (one name per Page) and
//! `custom_label_members`. A new label is counted under the Page's row lock, so
//! concurrent creations cannot pass the Page's limit; a membership is added under a
//! share lock of its label, so a label deleted meanwhile leaves none behind.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

const LABEL: &str = "SELECT id, page_id, name, created_at FROM custom_labels";

#[async_trait]
impl LabelStore for PostgresStore {
    async fn create_label(&self, label: Label, max_per_page: u32) -> StoreResult<Label> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&label.page.0]).await.map_err(pg)?;
        let named = tx.query_opt(&format!("{LABEL} WHERE page_id = $1 AND name = $2"), &[&label.page.0, &label.name]).await.map_err(pg)?;
        if let Some(row) = named {
            return codec::label(&PgRow(&row));
        }
        let held = tx.query_one("SELECT COUNT(*) AS held FROM custom_labels WHERE page_id = $1", &[&label.page.0]).await.map_err(pg)?;
        if PgRow(&held).int("held")? >= i64::from(max_per_page) {
            return Err(StoreError::QuotaExceeded(Quota::LabelsPerPage(max_per_page)));
        }
        tx.execute(
            "INSERT INTO custom_labels (id, page_id, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&label.id, &label.page.0, &label.name, &label.created_at],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(label)
    }

    async fn label(&self, id: &str) -> StoreResult<Option<Label>> {
        let row = self.client().await?.query_opt(&format!("{LABEL} WHERE id = $1"), &[&id]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::label(&PgRow(r))).transpose()
    }

    async fn labels(&self, page: &PageId, person: Option<PersonId>, after: Option<(Millis, String)>, limit: u32) -> StoreResult<Vec<Label>> {
        let (after_at, after_id) = after.unzip();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT l.id, l.page_id, l.name, l.created_at FROM custom_labels l
                 WHERE l.page_id = $1
                   AND ($2::BIGINT IS NULL OR EXISTS (SELECT 1 FROM custom_label_members m WHERE m.label_id = l.id AND m.person_id = $2))
                   AND ($3::BIGINT IS NULL OR (l.created_at, l.id) > ($3, $4::TEXT))
                 ORDER BY l.created_at, l.id LIMIT $5",
                &[&page.0, &person.map(|p| p.0), &after_at, &after_id, &i64::from(limit)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::label(&PgRow(r))).collect()
    }

    async fn delete_label(&self, id: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let deleted = tx.execute("DELETE FROM custom_labels WHERE id = $1", &[&id]).await.map_err(pg)?;
        tx.execute("DELETE FROM custom_label_members WHERE label_id = $1", &[&id]).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn add_to_label(&self, label: &str, person: PersonId, at: Millis) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if tx.query_opt("SELECT 1 FROM custom_labels WHERE id = $1 FOR SHARE", &[&label]).await.map_err(pg)?.is_none() {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO custom_label_members (label_id, person_id, labeled_at) VALUES ($1, $2, $3) ON CONFLICT (label_id, person_id) DO NOTHING",
            &[&label, &person.0, &at],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn remove_from_label(&self, label: &str, person: PersonId) -> StoreResult<bool> {
        let removed = self
            .client()
            .await?
            .execute("DELETE FROM custom_label_members WHERE label_id = $1 AND person_id = $2", &[&label, &person.0])
            .await
            .map_err(pg)?;
        Ok(removed > 0)
    }

    async fn label_counts(&self, page: &PageId) -> StoreResult<Vec<LabelCount>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT l.id, l.page_id, l.name, l.created_at,
                        (SELECT COUNT(*) FROM custom_label_members m WHERE m.label_id = l.id) AS members
                 FROM custom_labels l WHERE l.page_id = $1 ORDER BY l.name, l.id",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::label_count(&PgRow(r))).collect()
    }
}
