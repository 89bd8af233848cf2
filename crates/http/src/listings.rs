//! The console's listings: who is signed in, their apps and Pages, an app's members
//! and test users, a Page's admins and installed apps, and delivery statistics for
//! the chart. Under `/console/v1` (`/apps`, `/pages` and `/apps/{app}/roles` share
//! their paths with console.rs, which routes them).

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_app::Platform;
use switchboard_domain::*;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/me", get(me))
        .route("/apps/{app}/test-users", post(create_test_user))
        .route("/apps/{app}/webhook/stats", get(stats))
        .route("/pages/{page}", get(page))
}

fn person_json(person: &Person) -> Value {
    json!({"id": person.id.0, "name": person.name, "login": person.login})
}

/// `GET /console/v1/me` → `{"operator", "person"}`.
async fn me(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Value>> {
    let person = platform.whoami(actor).await?;
    Ok(Json(json!({"operator": person.is_none(), "person": person.as_ref().map(person_json)})))
}

/// `GET /console/v1/apps`: the apps I hold a role on (the operator: all), by name.
pub(crate) async fn apps(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Value>> {
    let data: Vec<Value> = platform
        .apps_of(actor)
        .await?
        .into_iter()
        .map(|(app, role)| json!({"id": app.id, "name": app.name, "mode": app.mode, "role": role.map(AppRole::as_str)}))
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /console/v1/apps/{app}/roles` (administrators and developers).
pub(crate) async fn app_roles(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Value>> {
    let data: Vec<Value> = platform
        .app_members(actor, &AppId(app))
        .await?
        .iter()
        .map(|(person, role)| json!({"person": person_json(person), "role": role.as_str()}))
        .collect();
    Ok(Json(json!({ "data": data })))
}

#[derive(Deserialize, Default)]
struct NewTestUser {
    name: Option<String>,
}

/// `POST /console/v1/apps/{app}/test-users` `{"name"?}` (administrators): a new person
/// with the tester role; the password is shown once.
async fn create_test_user(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, JsonBody(body): JsonBody<NewTestUser>) -> HttpResult<Json<Value>> {
    let (person, password) = platform.create_test_user(actor, &AppId(app), body.name.as_deref()).await?;
    Ok(Json(json!({"person": person_json(&person), "password": password, "role": "tester"})))
}

/// `GET /console/v1/pages`: the Pages I administer (the operator: all), by name.
pub(crate) async fn pages(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Value>> {
    Ok(Json(json!({"data": platform.pages_of(actor).await?})))
}

/// `GET /console/v1/pages/{page}` (Page admins): the Page, its admins and its apps.
async fn page(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<Value>> {
    let overview = platform.page_overview(actor, &PageId(page)).await?;
    let apps: Vec<Value> = overview
        .apps
        .iter()
        .map(|(app, fields)| json!({"id": app.id, "name": app.name, "mode": app.mode, "fields": fields.iter().map(|f| f.as_str()).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({"page": overview.page, "admins": overview.admins.iter().map(person_json).collect::<Vec<_>>(), "apps": apps})))
}

#[derive(Deserialize)]
struct Window {
    from: Option<Millis>,
    to: Option<Millis>,
    bucket_ms: Option<Millis>,
}

/// `GET /console/v1/apps/{app}/webhook/stats?from=&to=&bucket_ms=` (administrators and
/// developers): deliveries and latency per bucket; by default the last 3 hours by minute.
async fn stats(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, Query(window): Query<Window>) -> HttpResult<Json<Value>> {
    let bucket_ms = window.bucket_ms.unwrap_or(60_000);
    let to = window.to.unwrap_or_else(|| {
        // The bucket holding now is the last one.
        let now = platform.now();
        now - now.rem_euclid(bucket_ms.max(1)) + bucket_ms
    });
    let from = window.from.unwrap_or(to - 3 * 3_600_000);
    let buckets = platform.delivery_stats(actor, &AppId(app), from, to, bucket_ms).await?;
    let buckets: Vec<Value> = buckets
        .iter()
        .map(|b| json!({"start": b.start, "delivered": b.delivered, "failed": b.failed, "latency_avg_ms": b.latency_avg_ms, "latency_max_ms": b.latency_max_ms}))
        .collect();
    Ok(Json(json!({"from": from, "to": to, "bucket_ms": bucket_ms, "buckets": buckets})))
}
