//! Listings in SQLite: what the console shows (apps and their members, Pages and
//! their admins, delivery statistics) and the person's Page search. Reads only.

use crate::{q, rows};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use switchboard_domain::*;
use switchboard_store::*;

pub fn apps_for(c: &Connection, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
    let mut s = q(c.prepare_cached(
        "SELECT a.*, r.role FROM apps a LEFT JOIN app_roles r ON r.app_id = a.id AND r.person_id = ?1
         WHERE ?1 IS NULL OR r.role IS NOT NULL ORDER BY a.name, a.id",
    ))?;
    let rows = q(s.query_map([person.map(|p| p.0)], |r| {
        let role: Option<String> = r.get("role")?;
        Ok((rows::app(r)?, role.as_deref().and_then(AppRole::parse)))
    }))?;
    q(rows.collect())
}

pub fn app_members(c: &Connection, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
    let mut s = q(c.prepare_cached(
        "SELECT p.id, p.name, p.login, r.role FROM app_roles r JOIN persons p ON p.id = r.person_id WHERE r.app_id = ?1 ORDER BY p.name, p.id",
    ))?;
    let rows = q(s.query_map([app.as_str()], |r| Ok((rows::person(r)?, r.get::<_, String>("role")?))))?;
    let members: Vec<(Person, String)> = q(rows.collect())?;
    Ok(members.into_iter().filter_map(|(person, role)| AppRole::parse(&role).map(|role| (person, role))).collect())
}

pub fn pages_for(c: &Connection, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
    let mut s = q(c.prepare_cached(
        "SELECT p.* FROM pages p WHERE ?1 IS NULL OR EXISTS (
            SELECT 1 FROM page_roles r WHERE r.page_id = p.id AND r.person_id = ?1) ORDER BY p.name, p.id",
    ))?;
    let rows = q(s.query_map([person.map(|p| p.0)], rows::page))?;
    q(rows.collect())
}

pub fn page_admins(c: &Connection, page: &PageId) -> StoreResult<Vec<Person>> {
    let mut s = q(c.prepare_cached(
        "SELECT p.id, p.name, p.login FROM page_roles r JOIN persons p ON p.id = r.person_id WHERE r.page_id = ?1 ORDER BY p.name, p.id",
    ))?;
    let rows = q(s.query_map([page.as_str()], rows::person))?;
    q(rows.collect())
}

/// `%` and `_` in the text match themselves.
fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn search_pages(c: &Connection, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
    let mut s = q(c.prepare_cached(
        "SELECT * FROM pages WHERE lower(name) LIKE ?1 ESCAPE '\\' OR username LIKE ?1 ESCAPE '\\' ORDER BY name, id LIMIT ?2",
    ))?;
    let rows = q(s.query_map(params![like_pattern(text), limit], rows::page))?;
    q(rows.collect())
}

pub fn person_by_login(c: &Connection, login: &str) -> StoreResult<Option<Person>> {
    q(c.query_row("SELECT id, name, login FROM persons WHERE login = ?1", [login], rows::person).optional())
}

pub fn delivery_stats(c: &Connection, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
    let mut buckets: BTreeMap<Millis, DeliveryBucket> = BTreeMap::new();
    let mut delivered = q(c.prepare_cached(
        "SELECT (settled_at - ?2) / ?4, COUNT(*), AVG(settled_at - created_at), MAX(settled_at - created_at) FROM outbox
         WHERE app_id = ?1 AND outcome = 'delivered' AND settled_at >= ?2 AND settled_at < ?3 GROUP BY 1",
    ))?;
    let rows = q(delivered.query_map(params![app.as_str(), from, to, bucket_ms], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?, r.get::<_, i64>(3)?))
    }))?;
    for row in rows {
        let (index, count, average, max) = q(row)?;
        let bucket = buckets.entry(index).or_default();
        bucket.delivered = count as u64;
        bucket.latency_avg_ms = average.round() as Millis;
        bucket.latency_max_ms = max;
    }
    let mut failed = q(c.prepare_cached(
        "SELECT (attempted_at - ?2) / ?4, SUM(events) FROM delivery_attempts
         WHERE app_id = ?1 AND attempted_at >= ?2 AND attempted_at < ?3 GROUP BY 1",
    ))?;
    let rows = q(failed.query_map(params![app.as_str(), from, to, bucket_ms], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))))?;
    for row in rows {
        let (index, events) = q(row)?;
        buckets.entry(index).or_default().failed = events as u64;
    }
    Ok(buckets.into_iter().map(|(index, bucket)| DeliveryBucket { start: from + index * bucket_ms, ..bucket }).collect())
}
