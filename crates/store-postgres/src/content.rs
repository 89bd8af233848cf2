//! What rich messages need beside the messages themselves, in PostgreSQL: media
//! attachments, reactions, the Messenger Profile, personas, person profiles and a
//! Page's list of threads. Each function is one transaction (or one statement).

use crate::errors::pg;
use crate::insert_events_locked;
use deadpool_postgres::Object;
use switchboard_domain::*;
use switchboard_store::*;
use tokio_postgres::Row;

pub async fn page_threads(client: &Object, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
    let rows = client
        .query(
            "SELECT t.person_id, t.last_message_at,
                (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id) AS message_count
             FROM threads t WHERE t.page_id = $1 AND (t.last_message_at, t.person_id) < ($2, $3)
             ORDER BY t.last_message_at DESC, t.person_id DESC LIMIT $4",
            &[&page.0, &after.map_or(i64::MAX, |a| a.0), &after.map_or(i64::MAX, |a| a.1 .0), &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| PageThread { person: PersonId(r.get(0)), last_message_at: r.get(1), message_count: r.get::<_, i64>(2) as u64 })
        .collect())
}

pub async fn page_thread(client: &Object, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
    let row = client
        .query_opt(
            "SELECT t.last_message_at,
                (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id)
             FROM threads t WHERE t.page_id = $1 AND t.person_id = $2",
            &[&page.0, &person.0],
        )
        .await
        .map_err(pg)?;
    Ok(row.map(|r| PageThread { person, last_message_at: r.get(0), message_count: r.get::<_, i64>(1) as u64 }))
}

#[allow(clippy::too_many_arguments)]
pub async fn react(
    client: &mut Object,
    page: &PageId,
    person: PersonId,
    mid: &Mid,
    by: Direction,
    emoji: Option<String>,
    at: Millis,
    events: &[NewOutboxEvent],
) -> StoreResult<bool> {
    let tx = client.transaction().await.map_err(pg)?;
    // The thread's row lock first, as every writer of its outbox events takes it.
    let thread = tx
        .query_opt(
            "UPDATE threads SET last_person_at = CASE WHEN $3 THEN GREATEST(COALESCE(last_person_at, $4), $4) ELSE last_person_at END
             WHERE page_id = $1 AND person_id = $2 RETURNING 1",
            &[&page.0, &person.0, &(by == Direction::Inbound), &at],
        )
        .await
        .map_err(pg)?;
    let sql = match by {
        Direction::Inbound => "UPDATE messages SET person_reaction = $4 WHERE mid = $1 AND page_id = $2 AND person_id = $3",
        Direction::Outbound => "UPDATE messages SET page_reaction = $4 WHERE mid = $1 AND page_id = $2 AND person_id = $3",
    };
    let changed = tx.execute(sql, &[&mid.0, &page.0, &person.0, &emoji]).await.map_err(pg)?;
    if thread.is_none() || changed == 0 {
        return Ok(false);
    }
    insert_events_locked(&tx, events).await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub async fn insert_attachment(client: &Object, a: &AttachmentRecord) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO attachments (id, page_id, kind, digest, mime, size, file_name, reusable, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&a.id, &a.page.0, &a.kind, &a.digest, &a.mime, &(a.size as i64), &a.file_name, &a.reusable, &a.created_at],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

fn attachment_row(r: &Row) -> AttachmentRecord {
    AttachmentRecord {
        id: r.get("id"),
        page: PageId(r.get("page_id")),
        kind: r.get("kind"),
        digest: r.get("digest"),
        mime: r.get("mime"),
        size: r.get::<_, i64>("size") as u64,
        file_name: r.get("file_name"),
        reusable: r.get("reusable"),
        created_at: r.get("created_at"),
    }
}

pub async fn attachment(client: &Object, id: &str) -> StoreResult<Option<AttachmentRecord>> {
    let row = client.query_opt("SELECT * FROM attachments WHERE id = $1", &[&id]).await.map_err(pg)?;
    Ok(row.as_ref().map(attachment_row))
}

pub async fn media_type(client: &Object, digest: &str) -> StoreResult<Option<String>> {
    let row = client.query_opt("SELECT mime FROM attachments WHERE digest = $1 LIMIT 1", &[&digest]).await.map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn messenger_profile(client: &Object, page: &PageId) -> StoreResult<Vec<(String, String)>> {
    let rows = client
        .query("SELECT field, value FROM messenger_profiles WHERE page_id = $1 ORDER BY field", &[&page.0])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn update_messenger_profile(client: &mut Object, page: &PageId, set: &[(String, String)], remove: &[String], at: Millis) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(pg)?;
    for field in remove {
        tx.execute("DELETE FROM messenger_profiles WHERE page_id = $1 AND field = $2", &[&page.0, field]).await.map_err(pg)?;
    }
    for (field, value) in set {
        tx.execute(
            "INSERT INTO messenger_profiles (page_id, field, value, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (page_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&page.0, field, value, &at],
        )
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}

pub async fn create_persona(client: &Object, p: &Persona) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO personas (id, page_id, name, profile_picture_url, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&p.id, &p.page.0, &p.name, &p.profile_picture_url, &p.created_at],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

fn persona_row(r: &Row) -> Persona {
    Persona {
        id: r.get("id"),
        page: PageId(r.get("page_id")),
        name: r.get("name"),
        profile_picture_url: r.get("profile_picture_url"),
        created_at: r.get("created_at"),
    }
}

pub async fn persona(client: &Object, id: &str) -> StoreResult<Option<Persona>> {
    let row = client.query_opt("SELECT * FROM personas WHERE id = $1 AND deleted_at IS NULL", &[&id]).await.map_err(pg)?;
    Ok(row.as_ref().map(persona_row))
}

pub async fn personas_of(client: &Object, page: &PageId) -> StoreResult<Vec<Persona>> {
    let rows = client
        .query("SELECT * FROM personas WHERE page_id = $1 AND deleted_at IS NULL ORDER BY created_at, id", &[&page.0])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(persona_row).collect())
}

pub async fn delete_persona(client: &Object, id: &str, at: Millis) -> StoreResult<bool> {
    let changed = client
        .execute("UPDATE personas SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL", &[&id, &at])
        .await
        .map_err(pg)?;
    Ok(changed > 0)
}

pub async fn person_profile(client: &Object, person: PersonId) -> StoreResult<Option<PersonProfile>> {
    let row = client
        .query_opt("SELECT locale, timezone, gender FROM person_profiles WHERE person_id = $1", &[&person.0])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| PersonProfile { locale: r.get(0), timezone: r.get(1), gender: r.get(2) }))
}

pub async fn set_person_profile(client: &Object, person: PersonId, p: &PersonProfile) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO person_profiles (person_id, locale, timezone, gender) VALUES ($1, $2, $3, $4)
             ON CONFLICT (person_id) DO UPDATE SET locale = excluded.locale, timezone = excluded.timezone, gender = excluded.gender",
            &[&person.0, &p.locale, &p.timezone, &p.gender],
        )
        .await
        .map_err(pg)?;
    Ok(())
}
