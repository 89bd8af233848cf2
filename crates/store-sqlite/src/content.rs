//! What rich messages need beside the messages themselves, in SQLite: media
//! attachments, reactions, the Messenger Profile, personas, person profiles and a
//! Page's list of threads. Each function runs inside one write (or read) of the
//! engine, so it is one transaction.

use crate::{insert_outbox, q};
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_domain::*;
use switchboard_store::*;

pub fn page_threads(c: &Connection, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
    let mut s = q(c.prepare_cached(
        "SELECT t.person_id, t.last_message_at,
            (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id) AS message_count
         FROM threads t WHERE t.page_id = ?1 AND (t.last_message_at, t.person_id) < (?2, ?3)
         ORDER BY t.last_message_at DESC, t.person_id DESC LIMIT ?4",
    ))?;
    let rows = q(s.query_map(params![page.as_str(), after.map_or(i64::MAX, |a| a.0), after.map_or(i64::MAX, |a| a.1 .0), limit], |r| {
        Ok(PageThread { person: PersonId(r.get(0)?), last_message_at: r.get(1)?, message_count: r.get::<_, i64>(2)? as u64 })
    }))?;
    q(rows.collect())
}

pub fn page_thread(c: &Connection, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
    q(c.query_row(
        "SELECT t.last_message_at,
            (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id)
         FROM threads t WHERE t.page_id = ?1 AND t.person_id = ?2",
        params![page.as_str(), person.0],
        |r| Ok(PageThread { person, last_message_at: r.get(0)?, message_count: r.get::<_, i64>(1)? as u64 }),
    )
    .optional())
}

#[allow(clippy::too_many_arguments)]
pub fn react(
    c: &Connection,
    page: &PageId,
    person: PersonId,
    mid: &Mid,
    by: Direction,
    emoji: Option<&str>,
    at: Millis,
    events: &[NewOutboxEvent],
) -> StoreResult<bool> {
    let column = match by {
        Direction::Inbound => "person_reaction",
        Direction::Outbound => "page_reaction",
    };
    let changed = q(c.execute(
        &format!("UPDATE messages SET {column} = ?4 WHERE mid = ?1 AND page_id = ?2 AND person_id = ?3"),
        params![mid.as_str(), page.as_str(), person.0, emoji],
    ))?;
    if changed == 0 {
        return Ok(false);
    }
    if by == Direction::Inbound {
        q(c.execute(
            "UPDATE threads SET last_person_at = MAX(COALESCE(last_person_at, ?3), ?3) WHERE page_id = ?1 AND person_id = ?2",
            params![page.as_str(), person.0, at],
        ))?;
    }
    insert_outbox(c, events)?;
    Ok(true)
}

pub fn insert_attachment(c: &Connection, a: &AttachmentRecord) -> StoreResult<()> {
    q(c.execute(
        "INSERT INTO attachments (id, page_id, kind, digest, mime, size, file_name, reusable, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![a.id, a.page.as_str(), a.kind, a.digest, a.mime, a.size as i64, a.file_name, a.reusable, a.created_at],
    ))?;
    Ok(())
}

fn attachment_row(r: &Row<'_>) -> rusqlite::Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: r.get("id")?,
        page: PageId(r.get("page_id")?),
        kind: r.get("kind")?,
        digest: r.get("digest")?,
        mime: r.get("mime")?,
        size: r.get::<_, i64>("size")? as u64,
        file_name: r.get("file_name")?,
        reusable: r.get("reusable")?,
        created_at: r.get("created_at")?,
    })
}

pub fn attachment(c: &Connection, id: &str) -> StoreResult<Option<AttachmentRecord>> {
    q(c.query_row("SELECT * FROM attachments WHERE id = ?1", [id], attachment_row).optional())
}

pub fn media_type(c: &Connection, digest: &str) -> StoreResult<Option<String>> {
    q(c.query_row("SELECT mime FROM attachments WHERE digest = ?1 LIMIT 1", [digest], |r| r.get(0)).optional())
}

pub fn messenger_profile(c: &Connection, page: &PageId) -> StoreResult<Vec<(String, String)>> {
    let mut s = q(c.prepare_cached("SELECT field, value FROM messenger_profiles WHERE page_id = ?1 ORDER BY field"))?;
    let rows = q(s.query_map([page.as_str()], |r| Ok((r.get(0)?, r.get(1)?))))?;
    q(rows.collect())
}

pub fn update_messenger_profile(c: &Connection, page: &PageId, set: &[(String, String)], remove: &[String], at: Millis) -> StoreResult<()> {
    for field in remove {
        q(c.execute("DELETE FROM messenger_profiles WHERE page_id = ?1 AND field = ?2", params![page.as_str(), field]))?;
    }
    for (field, value) in set {
        q(c.execute(
            "INSERT INTO messenger_profiles (page_id, field, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (page_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![page.as_str(), field, value, at],
        ))?;
    }
    Ok(())
}

pub fn create_persona(c: &Connection, p: &Persona) -> StoreResult<()> {
    q(c.execute(
        "INSERT INTO personas (id, page_id, name, profile_picture_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![p.id, p.page.as_str(), p.name, p.profile_picture_url, p.created_at],
    ))?;
    Ok(())
}

fn persona_row(r: &Row<'_>) -> rusqlite::Result<Persona> {
    Ok(Persona {
        id: r.get("id")?,
        page: PageId(r.get("page_id")?),
        name: r.get("name")?,
        profile_picture_url: r.get("profile_picture_url")?,
        created_at: r.get("created_at")?,
    })
}

pub fn persona(c: &Connection, id: &str) -> StoreResult<Option<Persona>> {
    q(c.query_row("SELECT * FROM personas WHERE id = ?1 AND deleted_at IS NULL", [id], persona_row).optional())
}

pub fn personas_of(c: &Connection, page: &PageId) -> StoreResult<Vec<Persona>> {
    let mut s = q(c.prepare_cached("SELECT * FROM personas WHERE page_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"))?;
    let rows = q(s.query_map([page.as_str()], persona_row))?;
    q(rows.collect())
}

pub fn delete_persona(c: &Connection, id: &str, at: Millis) -> StoreResult<bool> {
    Ok(q(c.execute("UPDATE personas SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL", params![id, at]))? > 0)
}

pub fn person_profile(c: &Connection, person: PersonId) -> StoreResult<Option<PersonProfile>> {
    q(c.query_row("SELECT locale, timezone, gender FROM person_profiles WHERE person_id = ?1", [person.0], |r| {
        Ok(PersonProfile { locale: r.get(0)?, timezone: r.get(1)?, gender: r.get(2)? })
    })
    .optional())
}

pub fn set_person_profile(c: &Connection, person: PersonId, p: &PersonProfile) -> StoreResult<()> {
    q(c.execute(
        "INSERT INTO person_profiles (person_id, locale, timezone, gender) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (person_id) DO UPDATE SET locale = excluded.locale, timezone = excluded.timezone, gender = excluded.gender",
        params![person.0, p.locale, p.timezone, p.gender],
    ))?;
    Ok(())
}
