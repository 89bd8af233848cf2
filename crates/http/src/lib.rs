//! The HTTP faces of the platform on one router: the Graph API (for apps), the
//! person API (for people's clients), the console API (for developers, Page admins
//! and the operator), and operations (`/healthz`, `/readyz`, `/metrics`).
//!
//! Handlers are thin: extract, call one use case of `switchboard-app`, convert the
//! result. Must not: decide policy, touch SQL, or keep state of their own.

mod consent;
mod console;
mod entry_points;
mod error;
mod extract;
mod graph;
mod inbox;
mod limits;
mod listings;
mod media;
mod ops;
mod person;
mod privacy;
mod request;
mod session;
pub mod webhooks;
mod web;

pub use error::{HttpError, HttpResult};
pub use limits::HttpSettings;
pub use request::{BODY_LIMIT, MULTIPART_LIMIT};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use switchboard_app::metrics::RequestLabels;
use switchboard_app::Platform;

/// The version recorded for unversioned Graph calls.
pub const DEFAULT_GRAPH_VERSION: &str = "v21.0";

/// The whole HTTP surface.
pub fn router(platform: Platform, settings: HttpSettings) -> Router {
    let front = std::sync::Arc::new(Front {
        slow_request: settings.slow_request,
        in_flight: tokio::sync::Semaphore::new(settings.max_requests_in_flight.clamp(1, tokio::sync::Semaphore::MAX_PERMITS)),
        guard: limits::Guard::new(settings),
        platform: platform.clone(),
    });
    Router::new()
        .nest("/person/v1", person::routes().merge(consent::person_routes()).merge(entry_points::person_routes()).merge(privacy::person_routes()))
        .nest("/console/v1", console::routes().merge(webhooks::routes()).merge(listings::routes()).merge(inbox::routes()).merge(consent::console_routes()).merge(privacy::console_routes()))
        .merge(ops::routes())
        .merge(media::routes())
        .merge(entry_points::public_routes())
        .merge(web::routes())
        .fallback(graph::dispatch)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(front, every_request))
        // A failed request was logged once already, with its cause, where it failed
        // (a full disk by the store, once for all its refusals): not again per request.
        .layer(tower_http::trace::TraceLayer::new_for_http().on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG)))
        // Uploads (multipart) may carry a 25 MB file; JSON bodies keep their own limit.
        .layer(axum::extract::DefaultBodyLimit::max(MULTIPART_LIMIT))
        // The last defence: a bug that panics on some input fails that request with
        // Graph's code 1 instead of tearing down the connection's task silently.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(platform)
}

/// A route that exists, called with another method.
async fn method_not_allowed(request: Request) -> HttpError {
    let refusal = switchboard_domain::Refusal::unknown_path(request.method().as_str(), request.uri().path());
    HttpError(switchboard_domain::Refusal { status: 405, ..refusal })
}

fn panicked(cause: Box<dyn std::any::Any + Send>) -> Response {
    let detail = cause.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| cause.downcast_ref::<String>().cloned()).unwrap_or_default();
    tracing::error!(%detail, "a request handler panicked");
    axum::response::IntoResponse::into_response(HttpError(switchboard_domain::Refusal::unknown()))
}

/// What every request goes through before its route, in one middleware: each
/// `from_fn` layer clones the services under it and boxes its future for every
/// request (three layers were some twenty allocations per Send API call).
struct Front {
    /// Requests slower than this are logged with their steps.
    slow_request: Option<std::time::Duration>,
    /// Requests the node works on at once (`HttpSettings::max_requests_in_flight`).
    in_flight: tokio::sync::Semaphore,
    guard: limits::Guard,
    platform: Platform,
}

/// Waits for the request to arrive whole (`limits::arrive`), admits it (`in_flight`),
/// measures it (one slower than the threshold is logged with its steps,
/// `switchboard_app::timing`, and the time no step accounts for: the handler's own
/// work and waiting for a core), and counts the answer by face and status for
/// `/metrics`.
async fn every_request(State(front): State<std::sync::Arc<Front>>, request: Request, next: Next) -> Response {
    let face = face(request.uri().path());
    // The URI's parts are shared, not copied; the query string is left out of the
    // log: it may hold a token.
    let logged = front.slow_request.map(|threshold| (threshold, request.method().clone(), request.uri().clone()));
    let work = async {
        let arrived = match limits::arrive(&front.guard, request).await {
            Ok(arrived) => arrived,
            Err(refused) => return refused,
        };
        // Past the requests in flight, a request is answered at once with Graph's
        // transient code 2 rather than queued: under a load the node cannot keep
        // up with, each waiting request would hold its connection's buffers and its
        // task, and a node's memory would grow with the backlog instead of staying
        // bounded. Admitted only once its body is in (a client dripping one holds no
        // slot). The operations face (a health check must still answer) and long
        // polls (they wait by design) are not counted. Held until the answer's head
        // is made.
        let counted = face != "ops" && !is_long_poll(arrived.request.uri().path());
        let _admitted = if counted {
            let Ok(permit) = front.in_flight.try_acquire() else { return busy() };
            Some(permit)
        } else {
            None
        };
        next.run(arrived.request).await
    };
    let response = match logged {
        None => work.await,
        Some((threshold, method, uri)) => {
            let (response, took, steps) = switchboard_app::timing::measured(work).await;
            if took > threshold && !is_long_poll(uri.path()) {
                let unaccounted = took.saturating_sub(steps.accounted());
                tracing::warn!(
                    %method,
                    path = uri.path(),
                    status = response.status().as_u16(),
                    ms = format!("{:.1}", took.as_secs_f64() * 1000.0),
                    steps = %steps,
                    unaccounted_ms = format!("{:.1}", unaccounted.as_secs_f64() * 1000.0),
                    "slow request"
                );
            }
            response
        }
    };
    front.platform.ops.metrics().requests.get_or_create(&RequestLabels { face, status: response.status().as_u16() }).inc();
    response
}

/// A request past the node's requests in flight: 503, Graph's transient code 2, and
/// when to retry.
fn busy() -> Response {
    let mut response = axum::response::IntoResponse::into_response(HttpError(switchboard_domain::Refusal::unavailable()));
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    response
}

/// The pull API's long poll (`GET /{app-id}/updates`), which waits by design.
fn is_long_poll(path: &str) -> bool {
    path.ends_with("/updates")
}

/// The face a path belongs to, as `/metrics` counts requests.
fn face(path: &str) -> &'static str {
    if path.starts_with("/person/") {
        "person"
    } else if path.starts_with("/console/") {
        "console"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "graph"
    }
}
