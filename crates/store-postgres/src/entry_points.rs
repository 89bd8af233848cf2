//! Entry points and account linking in PostgreSQL: thread events that are not
//! messages, the `user_refs` of the checkbox plugin (spent by their one message,
//! stored with it through `batch`), `account_linking_tokens` by digest and
//! `account_links`. Each spend is one conditional update, whichever nodes race.

use crate::batch;
use crate::columns::PgRow;
use crate::errors::pg;
use crate::outbox::insert_events_locked;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, LINKING_TOKEN_COLUMNS, USER_REF_COLUMNS};
use switchboard_store::*;

#[async_trait]
impl EntryPointStore for PostgresStore {
    async fn record_thread_event(&self, event: ThreadEvent, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let last_person_at = event.interaction.then_some(event.at);
        tx.execute(
            "INSERT INTO threads (page_id, person_id, last_message_at, last_person_at, owner_app_id, owner_since)
             VALUES ($1, $2, $3::BIGINT, $4::BIGINT, $5::TEXT, CASE WHEN $5::TEXT IS NULL THEN NULL ELSE $3::BIGINT END)
             ON CONFLICT (page_id, person_id) DO UPDATE SET
                last_person_at = COALESCE(GREATEST(threads.last_person_at, excluded.last_person_at), threads.last_person_at)",
            &[&event.page.0, &event.person.0, &event.at, &last_person_at, &event.opens_to.as_ref().map(|a| a.0.clone())],
        )
        .await
        .map_err(pg)?;
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(())
    }

    async fn add_user_ref(&self, user_ref: UserRef, max_live: u32, events: Vec<NewOutboxEvent>) -> StoreResult<UserRefAdded> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let (page, person) = (&user_ref.page.0, &user_ref.person.0);
        tx.execute("DELETE FROM user_refs WHERE page_id = $1 AND person_id = $2 AND expires_at <= $3", &[page, person, &user_ref.created_at])
            .await
            .map_err(pg)?;
        let added = tx
            .execute(
                "INSERT INTO user_refs (page_id, user_ref, app_id, person_id, ref, created_at, expires_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7
                 WHERE (SELECT COUNT(*) FROM user_refs WHERE page_id = $1 AND person_id = $4) < $8
                 ON CONFLICT DO NOTHING",
                &[page, &user_ref.user_ref, &user_ref.app.0, person, &user_ref.reference, &user_ref.created_at, &user_ref.expires_at, &i64::from(max_live)],
            )
            .await
            .map_err(pg)?
            == 1;
        if !added {
            let known = tx.query_opt("SELECT 1 FROM user_refs WHERE page_id = $1 AND user_ref = $2", &[page, &user_ref.user_ref]).await.map_err(pg)?.is_some();
            return Ok(if known { UserRefAdded::AlreadyKnown } else { UserRefAdded::TooMany });
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(UserRefAdded::Added)
    }

    async fn user_ref(&self, page: &PageId, user_ref: &str) -> StoreResult<Option<UserRef>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {USER_REF_COLUMNS} FROM user_refs WHERE page_id = $1 AND user_ref = $2"), &[&page.0, &user_ref])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::user_ref(&PgRow(r))).transpose()
    }

    async fn send_with_user_ref(&self, user_ref: &str, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let spent = tx
            .execute(
                "UPDATE user_refs SET spent_mid = $3
                 WHERE page_id = $1 AND user_ref = $2 AND person_id = $4 AND spent_mid IS NULL AND expires_at > $5",
                &[&message.page.0, &user_ref, &message.mid.0, &message.person.0, &message.created_at],
            )
            .await
            .map_err(pg)?
            == 1;
        if !spent {
            return Ok(false);
        }
        batch::write_in(&tx, &[(&message, events.as_slice())]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn add_linking_token(&self, token: LinkingToken) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("DELETE FROM account_linking_tokens WHERE page_id = $1 AND person_id = $2", &[&token.page.0, &token.person.0]).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO account_linking_tokens (digest, page_id, person_id, expires_at, spent_at) VALUES ($1, $2, $3, $4, $5)",
            &[&token.digest, &token.page.0, &token.person.0, &token.expires_at, &token.spent_at],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(())
    }

    async fn linking_token(&self, digest: &str) -> StoreResult<Option<LinkingToken>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {LINKING_TOKEN_COLUMNS} FROM account_linking_tokens WHERE digest = $1"), &[&digest])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::linking_token(&PgRow(r))).transpose()
    }

    async fn finish_linking(&self, digest: &str, outcome: LinkingOutcome, at: Millis, events: Vec<NewOutboxEvent>) -> StoreResult<Option<LinkingToken>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE account_linking_tokens SET spent_at = $2 WHERE digest = $1 AND spent_at IS NULL AND expires_at > $2
                     RETURNING {LINKING_TOKEN_COLUMNS}"
                ),
                &[&digest, &at],
            )
            .await
            .map_err(pg)?;
        let Some(token) = row.as_ref().map(|r| codec::linking_token(&PgRow(r))).transpose()? else {
            return Ok(None);
        };
        if outcome == LinkingOutcome::Linked {
            tx.execute(
                "INSERT INTO account_links (page_id, person_id, linked_at) VALUES ($1, $2, $3)
                 ON CONFLICT (page_id, person_id) DO UPDATE SET linked_at = excluded.linked_at",
                &[&token.page.0, &token.person.0, &at],
            )
            .await
            .map_err(pg)?;
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(Some(token))
    }

    async fn unlink_account(&self, page: &PageId, person: PersonId, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let unlinked = tx.execute("DELETE FROM account_links WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0]).await.map_err(pg)? == 1;
        if !unlinked {
            return Ok(false);
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn account_linked(&self, page: &PageId, person: PersonId) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_one("SELECT EXISTS(SELECT 1 FROM account_links WHERE page_id = $1 AND person_id = $2) AS linked", &[&page.0, &person.0])
            .await
            .map_err(pg)?;
        row.try_get("linked").map_err(pg)
    }
}
