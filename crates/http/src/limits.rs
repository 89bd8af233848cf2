//! Bounds on what requests may make a node hold, and for how long: a body must
//! arrive whole within a deadline (a client that drips bytes cannot hold a
//! connection and a buffer open forever), and within its size limit (every route's
//! is `MULTIPART_LIMIT`, for uploads; JSON and form bodies are read with the smaller
//! `BODY_LIMIT`). Handlers read a body whole, so the bodies in flight together are
//! bounded too: each request reserves what its body may grow to from a budget
//! (`HttpSettings::body_memory`) before it is read, and waits for room within its
//! deadline (else 503).

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::multipart::MultipartError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use std::time::Duration;
use switchboard_domain::media::MAX_ASSET_BYTES;
use switchboard_domain::Refusal;

/// The HTTP face's settings, from the node's.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// How long a request's body may take to arrive, from the end of its headers.
    pub body_timeout: Duration,
    /// Behind a reverse proxy: the header naming the client's address (its last
    /// entry, the one the proxy appended). Else the connection's peer is the client.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// Bytes that the bodies of requests in flight may hold together.
    pub body_memory: usize,
    /// Requests slower than this are logged with their steps (`every_request`).
    pub slow_request: Option<Duration>,
    /// Requests worked on at once; past it a request is answered 503 (`every_request`).
    pub max_requests_in_flight: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { body_timeout: Duration::from_secs(60), client_ip_header: None, body_memory: 256 * 1024 * 1024, slow_request: Some(Duration::from_secs(1)), max_requests_in_flight: 1024 }
    }
}

/// The settings and the body budget, shared by every request of a router.
pub struct Guard {
    settings: HttpSettings,
    /// In KiB (a semaphore counts permits in u32).
    budget: tokio::sync::Semaphore,
}

impl Guard {
    pub fn new(settings: HttpSettings) -> Self {
        let kib = (settings.body_memory / 1024).clamp(MULTIPART_KIB as usize, tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self { settings, budget: tokio::sync::Semaphore::new(kib) }
    }
}

const MULTIPART_KIB: u32 = (crate::MULTIPART_LIMIT / 1024) as u32;

/// What a request's body may grow to, in KiB: its declared length, else the limit
/// of its kind.
fn body_kib(request: &Request) -> u32 {
    let headers = request.headers();
    let declared = declared_length(headers).map(|length| length as u64);
    let multipart = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"));
    let limit = if multipart { crate::MULTIPART_LIMIT } else { crate::BODY_LIMIT } as u64;
    let bytes = declared.unwrap_or(limit).min(crate::MULTIPART_LIMIT as u64);
    (bytes.div_ceil(1024)).max(1) as u32
}

/// The client's address, as the request's extensions carry it for handlers
/// (sign-in limits count failures by it).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

fn client_address(settings: &HttpSettings, request: &Request) -> ClientAddress {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
    let forwarded = settings.client_ip_header.as_ref().and_then(|name| {
        let last = request.headers().get_all(name).iter().last()?.to_str().ok()?;
        last.rsplit(',').next()?.trim().parse().ok()
    });
    ClientAddress(forwarded.or(peer))
}

/// The error a body stream ends with when its deadline passed.
#[derive(Debug)]
struct BodyDeadline;

impl std::fmt::Display for BodyDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyDeadline {}

/// Middleware: tells handlers the client's address, reserves room for the body,
/// and makes it arrive by its deadline.
pub async fn guard(guard: &Guard, mut request: Request, next: Next) -> Response {
    let settings = &guard.settings;
    let address = client_address(settings, &request);
    request.extensions_mut().insert(address);
    if request.body().size_hint().exact() == Some(0) {
        return next.run(request).await;
    }
    let deadline = tokio::time::Instant::now() + settings.body_timeout;
    // Held until the answer is made: the handler has read and dropped the body.
    let room = switchboard_app::timing::timed("admission", tokio::time::timeout_at(deadline, guard.budget.acquire_many(body_kib(&request))));
    let Ok(Ok(_room)) = room.await else {
        return axum::response::IntoResponse::into_response(crate::HttpError(Refusal::unavailable()));
    };
    let (parts, body) = request.into_parts();
    let stream = futures_util::stream::unfold(Some(body.into_data_stream()), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok::<Bytes, axum::BoxError>(bytes), Some(stream))),
            Ok(Some(Err(error))) => Some((Err(error.into()), None)),
            Ok(None) => None,
            Err(_) => Some((Err(BodyDeadline.into()), None)),
        }
    });
    next.run(Request::from_parts(parts, Body::from_stream(stream))).await
}

fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<E>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        if caused_by::<http_body_util::LengthLimitError>(&error) {
            Refusal::body_too_large(limit)
        } else if caused_by::<BodyDeadline>(&error) {
            Refusal::body_timeout()
        } else {
            Refusal::invalid_param("The request body broke off")
        }
    })
}

/// The request's `Content-Length`, when it gave one.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// A multipart part, whole, in one buffer sized from the body's declared length:
/// grown by doubling, a 20 MB part would have passed through 32 MB of buffers and
/// copies, twice what the body budget reserved for it.
pub async fn read_part(mut field: axum::extract::multipart::Field<'_>, declared: Option<usize>) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(crate::MULTIPART_LIMIT));
    while let Some(chunk) = field.chunk().await.map_err(multipart_refusal)? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A multipart body that broke off: too large (Meta's 2018109 for an upload), too
/// slow, or malformed.
pub fn multipart_refusal(error: MultipartError) -> Refusal {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::attachment_too_large(MAX_ASSET_BYTES)
    } else if caused_by::<BodyDeadline>(&error) {
        Refusal::body_timeout()
    } else {
        Refusal::invalid_param(format!("Invalid multipart body: {}", error.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: &str, length: Option<&str>) -> Request {
        let mut builder = axum::http::Request::builder().method("POST").uri("/x").header("content-type", content_type);
        if let Some(length) = length {
            builder = builder.header("content-length", length);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_body_reserves_its_declared_length_or_its_kinds_limit() {
        assert_eq!(body_kib(&request("application/json", Some("300"))), 1);
        assert_eq!(body_kib(&request("application/json", Some("4096"))), 4);
        assert_eq!(body_kib(&request("application/json", None)), (crate::BODY_LIMIT / 1024) as u32);
        assert_eq!(body_kib(&request("multipart/form-data; boundary=x", None)), MULTIPART_KIB);
        assert_eq!(body_kib(&request("application/json", Some("999999999999"))), MULTIPART_KIB, "the router refuses more anyway");
        assert_eq!(body_kib(&request("application/json", Some("nonsense"))), (crate::BODY_LIMIT / 1024) as u32);
    }
}
