//! What Pages and persons tell about themselves: the Messenger Profile
//! (`messenger_profiles`, one row of JSON per property), a person's own settings on a
//! Page (`custom_user_settings`, the same per person), personas (`personas`, deleted
//! softly) and the person's profile (`person_profiles`).

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec;
use switchboard_store::*;

#[async_trait]
impl ProfileStore for PostgresStore {
    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT field, value FROM messenger_profiles WHERE page_id = $1 ORDER BY field", &[&page.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::profile_property(&PgRow(r))).collect()
    }

    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        for field in &remove {
            tx.execute("DELETE FROM messenger_profiles WHERE page_id = $1 AND field = $2", &[&page.0, field]).await.map_err(pg)?;
        }
        for (field, value) in &set {
            tx.execute(
                "INSERT INTO messenger_profiles (page_id, field, value, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (page_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                &[&page.0, field, &codec::json_text(value), &at],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn create_persona(&self, p: Persona) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO personas (id, page_id, name, profile_picture_url, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&p.id, &p.page.0, &p.name, &p.profile_picture_url, &p.created_at],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, page_id, name, profile_picture_url, created_at FROM personas WHERE id = $1 AND deleted_at IS NULL",
                &[&id],
            )
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::persona(&PgRow(r))).transpose()
    }

    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, page_id, name, profile_picture_url, created_at FROM personas WHERE page_id = $1 AND deleted_at IS NULL
                 ORDER BY created_at, id",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::persona(&PgRow(r))).collect()
    }

    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute("UPDATE personas SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL", &[&id, &at])
            .await
            .map_err(pg)?;
        Ok(changed > 0)
    }

    async fn custom_user_settings(&self, page: &PageId, person: PersonId) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT field, value FROM custom_user_settings WHERE page_id = $1 AND person_id = $2 ORDER BY field", &[&page.0, &person.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::profile_property(&PgRow(r))).collect()
    }

    async fn update_custom_user_settings(&self, page: &PageId, person: PersonId, set: Vec<(String, serde_json::Value)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        for field in &remove {
            tx.execute("DELETE FROM custom_user_settings WHERE page_id = $1 AND person_id = $2 AND field = $3", &[&page.0, &person.0, field]).await.map_err(pg)?;
        }
        for (field, value) in &set {
            tx.execute(
                "INSERT INTO custom_user_settings (page_id, person_id, field, value, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (page_id, person_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                &[&page.0, &person.0, field, &codec::json_text(value), &at],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT locale, timezone, gender FROM person_profiles WHERE person_id = $1", &[&person.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::person_profile(&PgRow(r))).transpose()
    }

    async fn set_person_profile(&self, person: PersonId, p: PersonProfile) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO person_profiles (person_id, locale, timezone, gender) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (person_id) DO UPDATE SET locale = excluded.locale, timezone = excluded.timezone, gender = excluded.gender",
                &[&person.0, &p.locale, &p.timezone, &p.gender],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }
}
