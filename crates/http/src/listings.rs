//! The console's listings: who is signed in, their apps and Pages, an app's members
//! and test users, a Page's admins, installed apps and custom labels, and delivery statistics for
//! the chart. Under `/console/v1` (`/apps`, `/pages` and `/apps/{app}/roles` share
//! their paths with console.rs, which routes them).

use crate::error::HttpResult;
use crate::extract::{JsonBody, Path, Query};
use crate::session::Signed;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use switchboard_app::views::*;
use switchboard_app::Platform;
use switchboard_domain::*;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/me", get(me))
        .route("/apps/{app}/test-users", post(create_test_user))
        .route("/apps/{app}/webhook/stats", get(stats))
        .route("/pages/{page}", get(page))
        .route("/pages/{page}/labels", get(labels))
}

/// `GET /console/v1/me` → `{"operator", "person"}`.
async fn me(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<WhoAmI>> {
    Ok(Json(platform.listings.whoami(actor).await?.into()))
}

/// `GET /console/v1/apps`: the apps I hold a role on (the operator: all), by name.
pub(crate) async fn apps(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Listing<AppListed>>> {
    Ok(Json(Listing::of(platform.listings.apps_of(actor).await?)))
}

/// `GET /console/v1/apps/{app}/roles` (administrators and developers).
pub(crate) async fn app_roles(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>) -> HttpResult<Json<Listing<MemberView>>> {
    Ok(Json(Listing::of(platform.listings.app_members(actor, &AppId(app)).await?)))
}

#[derive(Deserialize, Default)]
struct NewTestUser {
    name: Option<String>,
}

/// `POST /console/v1/apps/{app}/test-users` `{"name"?}` (administrators): a new person
/// with the tester role; the password is shown once.
async fn create_test_user(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, JsonBody(body): JsonBody<NewTestUser>) -> HttpResult<Json<TestUserView>> {
    Ok(Json(platform.listings.create_test_user(actor, &AppId(app), body.name.as_deref()).await?.into()))
}

/// `GET /console/v1/pages`: the Pages I administer (the operator: all), by name.
pub(crate) async fn pages(State(platform): State<Platform>, Signed(actor): Signed) -> HttpResult<Json<Listing<Page>>> {
    Ok(Json(Listing::of(platform.listings.pages_of(actor).await?)))
}

/// `GET /console/v1/pages/{page}` (Page admins): the Page, its admins and its apps.
async fn page(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<PageOverviewView>> {
    Ok(Json(platform.listings.page_overview(actor, &PageId(page)).await?.into()))
}

/// `GET /console/v1/pages/{page}/labels` (Page admins): the Page's custom labels by
/// name, each with how many persons it holds.
async fn labels(State(platform): State<Platform>, Signed(actor): Signed, Path(page): Path<String>) -> HttpResult<Json<Listing<LabelView>>> {
    Ok(Json(Listing::of(platform.labels.page_labels(actor, &PageId(page)).await?)))
}

#[derive(Deserialize)]
struct Window {
    from: Option<Millis>,
    to: Option<Millis>,
    bucket_ms: Option<Millis>,
}

/// `GET /console/v1/apps/{app}/webhook/stats?from=&to=&bucket_ms=` (administrators and
/// developers): deliveries and latency per bucket; by default the last 3 hours by minute.
async fn stats(State(platform): State<Platform>, Signed(actor): Signed, Path(app): Path<String>, Query(window): Query<Window>) -> HttpResult<Json<StatsView>> {
    let bucket_ms = window.bucket_ms.unwrap_or(60_000);
    let to = window.to.unwrap_or_else(|| {
        // The bucket holding now is the last one.
        let now = platform.now();
        now - now.rem_euclid(bucket_ms.max(1)) + bucket_ms
    });
    let from = window.from.unwrap_or(to - 3 * 3_600_000);
    let buckets = platform.deliveries.delivery_stats(actor, &AppId(app), from, to, bucket_ms).await?;
    Ok(Json(StatsView { from, to, bucket_ms, buckets: buckets.into_iter().map(BucketView::from).collect() }))
}
