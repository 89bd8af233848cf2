//! Graph batch requests (reference §1.9): `POST /` with `batch=[...]`, up to 50
//! items, each answered as `{"code","headers","body"}` with the body as a JSON string,
//! in order. Items run one after the other, each authenticated, metered and routed
//! like a request of its own (and remembered as one when refused); an item
//! without a token uses the batch's.

use super::{json, route_one, usage_headers, GraphCall};
use crate::error::{HttpError, HttpResult};
use crate::request::GraphRequest;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchboard_wire::graph::{BatchAnswer, Header};
use switchboard_app::Platform;
use switchboard_domain::params::{parse_lenient_json, Params};
use switchboard_domain::Refusal;

/// Most items in one batch.
pub const MAX_BATCH_ITEMS: usize = 50;

/// `POST /` with `batch` (a JSON array, or JSON text of one, as form-encoding SDKs send).
pub async fn run(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let items = match request.params.0.get("batch") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(text)) => match parse_lenient_json(text) {
            Some(Value::Array(items)) => items,
            _ => return Err(Refusal::invalid_param("Param batch must be a JSON array").into()),
        },
        Some(_) => return Err(Refusal::invalid_param("Param batch must be a JSON array").into()),
        None => return Err(Refusal::missing_param("batch").into()),
    };
    if items.is_empty() {
        return Err(Refusal::invalid_param("Param batch must hold at least one request").into());
    }
    if items.len() > MAX_BATCH_ITEMS {
        return Err(Refusal::invalid_param(format!("Param batch holds {} requests; at most {MAX_BATCH_ITEMS} are allowed", items.len())).into());
    }
    let include_headers = request.params.bool("include_headers")?.unwrap_or(true);
    let mut answers = Vec::with_capacity(items.len());
    for item in &items {
        answers.push(run_item(platform, request, item, include_headers).await);
    }
    Ok(json(answers))
}

async fn run_item(platform: &Platform, batch: &GraphRequest, item: &Value, include_headers: bool) -> Option<BatchAnswer> {
    let response = match answer_item(platform, batch, item).await {
        Ok(response) | Err(response) => response,
    };
    let code = response.status().as_u16();
    let omit = item.get("omit_response_on_success").and_then(Value::as_bool).unwrap_or(false);
    if omit && (200..300).contains(&code) {
        return None;
    }
    let headers = include_headers.then(|| {
        let headers = response.headers().iter();
        headers.filter_map(|(name, value)| Some(Header { name: name.to_string(), value: value.to_str().ok()?.to_string() })).collect()
    });
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    Some(BatchAnswer { code, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// An item as a call of its own: authenticated, metered and routed.
async fn answer_item(platform: &Platform, batch: &GraphRequest, item: &Value) -> Result<Response, Response> {
    let request = item_request(batch, item).map_err(IntoResponse::into_response)?;
    if request.method == Method::GET && request.segments.len() == 2 && request.segments[1] == "listen" {
        // A stream never ends: its item would hold the whole batch.
        return Err(HttpError::from(Refusal::invalid_param("A listener's stream cannot be part of a batch")).into_response());
    }
    let call = GraphCall::authenticate(platform, request).await.map_err(IntoResponse::into_response)?;
    let answer = async {
        let usage = call.meter(platform).await?;
        let mut response = route_one(platform, &call).await?;
        if let Some(usage) = usage {
            usage_headers(&mut response, &usage);
        }
        Ok::<_, HttpError>(response)
    };
    // A refused item is remembered for its caller's app as a call of its own.
    Ok(answer.await.unwrap_or_else(|refusal| call.refused(platform, refusal)))
}

/// One item as a request of its own: `method`, `relative_url` (no version needed, query
/// allowed), `body` (URL-encoded text, or an object).
fn item_request(batch: &GraphRequest, item: &Value) -> Result<GraphRequest, HttpError> {
    let method = match item.get("method").and_then(Value::as_str).map(str::to_ascii_uppercase).as_deref() {
        Some("GET") => Method::GET,
        Some("POST") => Method::POST,
        Some("DELETE") => Method::DELETE,
        _ => return Err(Refusal::invalid_param("Each batch request needs a method: GET, POST or DELETE").into()),
    };
    let relative_url = item.get("relative_url").and_then(Value::as_str).ok_or_else(|| Refusal::invalid_param("Each batch request needs a relative_url"))?;
    let mut body = Params::default();
    match item.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
                body.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
        Some(Value::Object(map)) => body = Params(map.clone()),
        Some(_) => return Err(Refusal::invalid_param("A batch request's body must be URL-encoded text").into()),
    }
    GraphRequest::from_parts(method, &format!("/{}", relative_url.trim_start_matches('/')), body, batch.token.clone())
}
