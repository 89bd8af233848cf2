//! Entry points and account linking in SQLite: thread events that are not messages,
//! the `user_refs` of the checkbox plugin (spent by their one message, stored in the
//! same transaction through [`append_message`]), `account_linking_tokens` by digest
//! and `account_links`.

use crate::columns::{cached, prepare, q, Query};
use crate::outbox::insert_outbox;
use crate::threads::append_message;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::sync::LazyLock;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns, LINKING_TOKEN_COLUMNS, USER_REF_COLUMNS};
use switchboard_store::*;

static USER_REF: LazyLock<String> = LazyLock::new(|| format!("SELECT {USER_REF_COLUMNS} FROM user_refs WHERE page_id = ?1 AND user_ref = ?2"));

static LINKING_TOKEN: LazyLock<String> = LazyLock::new(|| format!("SELECT {LINKING_TOKEN_COLUMNS} FROM account_linking_tokens WHERE digest = ?1"));

/// Creates the thread if it is new (going to `opens_to`) and, for an interaction,
/// moves the person's last interaction forward; then stores the events.
fn record_thread_event(c: &Connection, event: &ThreadEvent, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let last_person_at = event.interaction.then_some(event.at);
    q(cached(
        c,
        "INSERT INTO threads (page_id, person_id, last_message_at, last_person_at, owner_app_id, owner_since)
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NULL THEN NULL ELSE ?3 END)
         ON CONFLICT (page_id, person_id) DO UPDATE SET
            last_person_at = COALESCE(MAX(last_person_at, excluded.last_person_at), excluded.last_person_at, last_person_at)",
    )?
    .execute(params![event.page.as_str(), event.person.0, event.at, last_person_at, event.opens_to.as_ref().map(|a| a.as_str())]))?;
    insert_outbox(c, events)
}

#[async_trait]
impl EntryPointStore for SqliteStore {
    async fn record_thread_event(&self, event: ThreadEvent, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        self.engine.write(move |c| record_thread_event(c, &event, &events)).await
    }

    async fn add_user_ref(&self, user_ref: UserRef, max_live: u32, events: Vec<NewOutboxEvent>) -> StoreResult<UserRefAdded> {
        self.engine
            .write(move |c| {
                let (page, person) = (user_ref.page.as_str(), user_ref.person.0);
                q(c.execute("DELETE FROM user_refs WHERE page_id = ?1 AND person_id = ?2 AND expires_at <= ?3", params![page, person, user_ref.created_at]))?;
                let added = q(c.execute(
                    "INSERT INTO user_refs (page_id, user_ref, app_id, person_id, ref, created_at, expires_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                     WHERE (SELECT COUNT(*) FROM user_refs WHERE page_id = ?1 AND person_id = ?4) < ?8
                     ON CONFLICT DO NOTHING",
                    params![page, user_ref.user_ref, user_ref.app.as_str(), person, user_ref.reference, user_ref.created_at, user_ref.expires_at, max_live],
                ))? == 1;
                if added {
                    insert_outbox(c, &events)?;
                    return Ok(UserRefAdded::Added);
                }
                let known = prepare(c, &USER_REF)?.optional(params![page, user_ref.user_ref], |r| codec::user_ref(r))?.is_some();
                Ok(if known { UserRefAdded::AlreadyKnown } else { UserRefAdded::TooMany })
            })
            .await
    }

    async fn user_ref(&self, page: &PageId, user_ref: &str) -> StoreResult<Option<UserRef>> {
        let (page, user_ref) = (page.clone(), user_ref.to_string());
        self.engine.read(move |c| prepare(c, &USER_REF)?.optional(params![page.as_str(), user_ref], |r| codec::user_ref(r))).await
    }

    async fn send_with_user_ref(&self, user_ref: &str, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let user_ref = user_ref.to_string();
        self.engine
            .write(move |c| {
                let spent = q(c.execute(
                    "UPDATE user_refs SET spent_mid = ?3
                     WHERE page_id = ?1 AND user_ref = ?2 AND person_id = ?4 AND spent_mid IS NULL AND expires_at > ?5",
                    params![message.page.as_str(), user_ref, message.mid.as_str(), message.person.0, message.created_at],
                ))? == 1;
                if spent {
                    append_message(c, &message, &events)?;
                }
                Ok(spent)
            })
            .await
    }

    async fn add_linking_token(&self, token: LinkingToken) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute("DELETE FROM account_linking_tokens WHERE page_id = ?1 AND person_id = ?2", params![token.page.as_str(), token.person.0]))?;
                q(c.execute(
                    "INSERT INTO account_linking_tokens (digest, page_id, person_id, expires_at, spent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![token.digest, token.page.as_str(), token.person.0, token.expires_at, token.spent_at],
                ))?;
                Ok(())
            })
            .await
    }

    async fn linking_token(&self, digest: &str) -> StoreResult<Option<LinkingToken>> {
        let digest = digest.to_string();
        self.engine.read(move |c| prepare(c, &LINKING_TOKEN)?.optional([digest.as_str()], |r| codec::linking_token(r))).await
    }

    async fn finish_linking(&self, digest: &str, outcome: LinkingOutcome, at: Millis, events: Vec<NewOutboxEvent>) -> StoreResult<Option<LinkingToken>> {
        let digest = digest.to_string();
        self.engine
            .write(move |c| {
                let spent = q(c.execute(
                    "UPDATE account_linking_tokens SET spent_at = ?2 WHERE digest = ?1 AND spent_at IS NULL AND expires_at > ?2",
                    params![digest, at],
                ))? == 1;
                if !spent {
                    return Ok(None);
                }
                let token = prepare(c, &LINKING_TOKEN)?.one([digest.as_str()], |r| codec::linking_token(r))?;
                if outcome == LinkingOutcome::Linked {
                    q(c.execute(
                        "INSERT INTO account_links (page_id, person_id, linked_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (page_id, person_id) DO UPDATE SET linked_at = excluded.linked_at",
                        params![token.page.as_str(), token.person.0, at],
                    ))?;
                }
                insert_outbox(c, &events)?;
                Ok(Some(token))
            })
            .await
    }

    async fn unlink_account(&self, page: &PageId, person: PersonId, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                let unlinked = q(c.execute("DELETE FROM account_links WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0]))? == 1;
                if unlinked {
                    insert_outbox(c, &events)?;
                }
                Ok(unlinked)
            })
            .await
    }

    async fn account_linked(&self, page: &PageId, person: PersonId) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .read(move |c| prepare(c, "SELECT EXISTS(SELECT 1 FROM account_links WHERE page_id = ?1 AND person_id = ?2) AS linked")?.one(params![page.as_str(), person.0], |r| r.flag("linked")))
            .await
    }
}
