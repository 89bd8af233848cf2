//! Page Insights for messaging: `GET /{page-id}/insights` and its `paging` URLs.

use super::{json, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::PageRef;
use switchboard_wire::graph;

/// The same request over another range.
fn range_url(platform: &Platform, request: &GraphCall, since: i64, until: i64) -> String {
    super::url_with(platform, request, &[("since", since.to_string()), ("until", until.to_string())])
}

/// `GET /{page-id}/insights?metric=<list>[&period=day][&since=][&until=]`.
pub async fn page_insights(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let answer = platform.insights.page_insights(caller, page, &request.params).await?;
    let span = answer.until - answer.since;
    let paging = graph::InsightsPaging {
        previous: range_url(platform, request, answer.since - span, answer.since),
        next: range_url(platform, request, answer.until, answer.until + span),
    };
    Ok(json(graph::InsightsAnswer { data: answer.data, paging }))
}
