//! What Pages and persons tell about themselves, in SQLite: the Messenger Profile
//! (`messenger_profiles`, one row of JSON per property), a person's own settings on a
//! Page (`custom_user_settings`, the same per person), personas (`personas`,
//! deleted softly) and persons' profiles (`person_profiles`).

use crate::columns::{cached, prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::params;
use switchboard_domain::*;
use switchboard_store::codec;
use switchboard_store::*;

#[async_trait]
impl ProfileStore for SqliteStore {
    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT field, value FROM messenger_profiles WHERE page_id = ?1 ORDER BY field")?.all([page.as_str()], |r| codec::profile_property(r))
            })
            .await
    }

    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                for field in &remove {
                    q(c.execute("DELETE FROM messenger_profiles WHERE page_id = ?1 AND field = ?2", params![page.as_str(), field]))?;
                }
                for (field, value) in &set {
                    q(c.execute(
                        "INSERT INTO messenger_profiles (page_id, field, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (page_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        params![page.as_str(), field, codec::json_text(value), at],
                    ))?;
                }
                Ok(())
            })
            .await
    }

    async fn create_persona(&self, p: Persona) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO personas (id, page_id, name, profile_picture_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![p.id, p.page.as_str(), p.name, p.profile_picture_url, p.created_at],
                ))?;
                Ok(())
            })
            .await
    }

    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>> {
        let id = id.to_string();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, page_id, name, profile_picture_url, created_at FROM personas WHERE id = ?1 AND deleted_at IS NULL")?
                    .optional([id], |r| codec::persona(r))
            })
            .await
    }

    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT id, page_id, name, profile_picture_url, created_at FROM personas
                     WHERE page_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id",
                )?
                    .all([page.as_str()], |r| codec::persona(r))
            })
            .await
    }

    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool> {
        let id = id.to_string();
        self.engine
            .write(move |c| Ok(q(c.execute("UPDATE personas SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL", params![id, at]))? > 0))
            .await
    }

    async fn custom_user_settings(&self, page: &PageId, person: PersonId) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(c, "SELECT field, value FROM custom_user_settings WHERE page_id = ?1 AND person_id = ?2 ORDER BY field")?
                    .all(params![page.as_str(), person.0], |r| codec::profile_property(r))
            })
            .await
    }

    async fn update_custom_user_settings(&self, page: &PageId, person: PersonId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                for field in &remove {
                    q(c.execute("DELETE FROM custom_user_settings WHERE page_id = ?1 AND person_id = ?2 AND field = ?3", params![page.as_str(), person.0, field]))?;
                }
                for (field, value) in &set {
                    q(c.execute(
                        "INSERT INTO custom_user_settings (page_id, person_id, field, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (page_id, person_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                        params![page.as_str(), person.0, field, codec::json_text(value), at],
                    ))?;
                }
                Ok(())
            })
            .await
    }

    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>> {
        self.engine
            .read(move |c| prepare(c, "SELECT locale, timezone, gender FROM person_profiles WHERE person_id = ?1")?.optional([person.0], |r| codec::person_profile(r)))
            .await
    }

    async fn set_person_profile(&self, person: PersonId, p: PersonProfile) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO person_profiles (person_id, locale, timezone, gender) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (person_id) DO UPDATE SET locale = excluded.locale, timezone = excluded.timezone, gender = excluded.gender",
                    params![person.0, p.locale, p.timezone, p.gender],
                ))?;
                Ok(())
            })
            .await
    }
}
