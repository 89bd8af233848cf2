//! A Page's custom labels in SQLite: `custom_labels` (one name per Page) and
//! `custom_label_members`. The writer thread runs one write at a time, so the
//! per-Page count is read and kept in the same transaction.

use crate::columns::{cached, prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

const LABEL: &str = "SELECT id, page_id, name, created_at FROM custom_labels";

#[async_trait]
impl LabelStore for SqliteStore {
    async fn create_label(&self, label: Label, max_per_page: u32) -> StoreResult<Label> {
        self.engine
            .write(move |c| {
                let named = prepare(c, &format!("{LABEL} WHERE page_id = ?1 AND name = ?2"))?.optional(params![label.page.as_str(), label.name], |r| codec::label(r))?;
                if let Some(existing) = named {
                    return Ok(existing);
                }
                let held = prepare(c, "SELECT COUNT(*) AS held FROM custom_labels WHERE page_id = ?1")?.one([label.page.as_str()], |r| r.int("held"))?;
                if held >= i64::from(max_per_page) {
                    return Err(StoreError::QuotaExceeded(Quota::LabelsPerPage(max_per_page)));
                }
                q(c.execute(
                    "INSERT INTO custom_labels (id, page_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![label.id, label.page.as_str(), label.name, label.created_at],
                ))?;
                Ok(label)
            })
            .await
    }

    async fn label(&self, id: &str) -> StoreResult<Option<Label>> {
        let id = id.to_string();
        self.engine.read(move |c| cached(c, &format!("{LABEL} WHERE id = ?1"))?.optional([id], |r| codec::label(r))).await
    }

    async fn labels(&self, page: &PageId, person: Option<PersonId>, after: Option<(Millis, String)>, limit: u32) -> StoreResult<Vec<Label>> {
        let page = page.clone();
        let (after_at, after_id) = after.unzip();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT l.id, l.page_id, l.name, l.created_at FROM custom_labels l
                     WHERE l.page_id = ?1
                       AND (?2 IS NULL OR EXISTS (SELECT 1 FROM custom_label_members m WHERE m.label_id = l.id AND m.person_id = ?2))
                       AND (?3 IS NULL OR (l.created_at, l.id) > (?3, ?4))
                     ORDER BY l.created_at, l.id LIMIT ?5",
                )?
                .all(params![page.as_str(), person.map(|p| p.0), after_at, after_id, limit], |r| codec::label(r))
            })
            .await
    }

    async fn delete_label(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.engine
            .write(move |c| {
                q(c.execute("DELETE FROM custom_label_members WHERE label_id = ?1", [&id]))?;
                Ok(q(c.execute("DELETE FROM custom_labels WHERE id = ?1", [&id]))? > 0)
            })
            .await
    }

    async fn add_to_label(&self, label: &str, person: PersonId, at: Millis) -> StoreResult<bool> {
        let label = label.to_string();
        self.engine
            .write(move |c| {
                if !prepare(c, "SELECT EXISTS(SELECT 1 FROM custom_labels WHERE id = ?1) AS found")?.one([&label], |r| r.flag("found"))? {
                    return Ok(false);
                }
                q(c.execute(
                    "INSERT INTO custom_label_members (label_id, person_id, labeled_at) VALUES (?1, ?2, ?3) ON CONFLICT (label_id, person_id) DO NOTHING",
                    params![label, person.0, at],
                ))?;
                Ok(true)
            })
            .await
    }

    async fn remove_from_label(&self, label: &str, person: PersonId) -> StoreResult<bool> {
        let label = label.to_string();
        self.engine
            .write(move |c| Ok(q(c.execute("DELETE FROM custom_label_members WHERE label_id = ?1 AND person_id = ?2", params![label, person.0]))? > 0))
            .await
    }

    async fn label_counts(&self, page: &PageId) -> StoreResult<Vec<LabelCount>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT l.id, l.page_id, l.name, l.created_at,
                            (SELECT COUNT(*) FROM custom_label_members m WHERE m.label_id = l.id) AS members
                     FROM custom_labels l WHERE l.page_id = ?1 ORDER BY l.name, l.id",
                )?
                .all([page.as_str()], |r| codec::label_count(r))
            })
            .await
    }
}
