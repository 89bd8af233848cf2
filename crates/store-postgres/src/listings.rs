//! Listings in PostgreSQL: what the console shows (apps and their members, Pages and
//! their admins, delivery statistics) and the person's Page search. Reads only.

use crate::errors::pg;
use crate::{app_row, page_row, person_row};
use deadpool_postgres::Object;
use std::collections::BTreeMap;
use switchboard_domain::*;
use switchboard_store::*;

pub async fn apps_for(client: &Object, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
    let rows = client
        .query(
            "SELECT a.*, r.role FROM apps a LEFT JOIN app_roles r ON r.app_id = a.id AND r.person_id = $1
             WHERE $1::bigint IS NULL OR r.role IS NOT NULL ORDER BY a.name, a.id",
            &[&person.map(|p| p.0)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| (app_row(r), r.get::<_, Option<String>>("role").as_deref().and_then(AppRole::parse))).collect())
}

pub async fn app_members(client: &Object, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
    let rows = client
        .query(
            "SELECT p.id, p.name, p.login, r.role FROM app_roles r JOIN persons p ON p.id = r.person_id WHERE r.app_id = $1 ORDER BY p.name, p.id",
            &[&app.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().filter_map(|r| AppRole::parse(r.get("role")).map(|role| (person_row(r), role))).collect())
}

pub async fn pages_for(client: &Object, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
    let rows = client
        .query(
            "SELECT p.* FROM pages p WHERE $1::bigint IS NULL OR EXISTS (
                SELECT 1 FROM page_roles r WHERE r.page_id = p.id AND r.person_id = $1) ORDER BY p.name, p.id",
            &[&person.map(|p| p.0)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(page_row).collect())
}

pub async fn page_admins(client: &Object, page: &PageId) -> StoreResult<Vec<Person>> {
    let rows = client
        .query(
            "SELECT p.id, p.name, p.login FROM page_roles r JOIN persons p ON p.id = r.person_id WHERE r.page_id = $1 ORDER BY p.name, p.id",
            &[&page.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(person_row).collect())
}

pub async fn search_pages(client: &Object, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
    // `%` and `_` in the text match themselves.
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let rows = client
        .query(
            "SELECT * FROM pages WHERE lower(name) LIKE $1 OR username LIKE $1 ORDER BY name, id LIMIT $2",
            &[&format!("%{escaped}%"), &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(page_row).collect())
}

pub async fn person_by_login(client: &Object, login: &str) -> StoreResult<Option<Person>> {
    let row = client.query_opt("SELECT id, name, login FROM persons WHERE login = $1", &[&login]).await.map_err(pg)?;
    Ok(row.as_ref().map(person_row))
}

pub async fn delivery_stats(client: &Object, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
    let mut buckets: BTreeMap<Millis, DeliveryBucket> = BTreeMap::new();
    let delivered = client
        .query(
            "SELECT (settled_at - $2) / $4, COUNT(*), AVG(settled_at - created_at)::float8, MAX(settled_at - created_at) FROM outbox
             WHERE app_id = $1 AND outcome = 'delivered' AND settled_at >= $2 AND settled_at < $3 GROUP BY 1",
            &[&app.0, &from, &to, &bucket_ms],
        )
        .await
        .map_err(pg)?;
    for row in delivered {
        let bucket = buckets.entry(row.get(0)).or_default();
        bucket.delivered = row.get::<_, i64>(1) as u64;
        bucket.latency_avg_ms = row.get::<_, f64>(2).round() as Millis;
        bucket.latency_max_ms = row.get(3);
    }
    let failed = client
        .query(
            "SELECT (attempted_at - $2) / $4, SUM(events)::bigint FROM delivery_attempts
             WHERE app_id = $1 AND attempted_at >= $2 AND attempted_at < $3 GROUP BY 1",
            &[&app.0, &from, &to, &bucket_ms],
        )
        .await
        .map_err(pg)?;
    for row in failed {
        buckets.entry(row.get(0)).or_default().failed = row.get::<_, i64>(1) as u64;
    }
    Ok(buckets.into_iter().map(|(index, bucket)| DeliveryBucket { start: from + index * bucket_ms, ..bucket }).collect())
}
