//! Operations: liveness, readiness (the store answers) and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use switchboard_app::views::ReadinessView;
use switchboard_app::Platform;

pub fn routes() -> Router<Platform> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// `GET /healthz`: the process serves requests.
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the store answers, 503 otherwise.
async fn readyz(State(platform): State<Platform>) -> impl IntoResponse {
    let node = platform.ops.node_id().to_string();
    match platform.ops.ping().await {
        Ok(()) => (StatusCode::OK, Json(ReadinessView { status: "ready", store: "ok", node })),
        Err(error) => {
            tracing::warn!(error = %crate::error::error_chain(&error), "not ready: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(ReadinessView { status: "unavailable", store: "unreachable", node }))
        }
    }
}

/// `GET /metrics`: OpenMetrics text, plus the outbox backlog.
async fn metrics(State(platform): State<Platform>) -> impl IntoResponse {
    let mut text = platform.ops.metrics().render();
    // Read at scrape time from the store, so that they are true across nodes.
    if let Ok(by_app) = platform.ops.backlog().await {
        let total: u64 = by_app.iter().map(|(_, n)| n).sum();
        let mut gauges = format!(
            "# HELP switchboard_outbox_pending Webhook events not yet delivered.\n# TYPE switchboard_outbox_pending gauge\nswitchboard_outbox_pending {total}\n\
             # HELP switchboard_webhook_pending Webhook events not yet delivered, per app endpoint.\n# TYPE switchboard_webhook_pending gauge\n"
        );
        for (app, pending) in by_app {
            // App ids are digits: nothing to escape in the label.
            gauges.push_str(&format!("switchboard_webhook_pending{{app_id=\"{app}\"}} {pending}\n"));
        }
        let at = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(at, &gauges);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}
