//! Bounds on what requests may make a node hold, and for how long. A request is
//! worked on only once it has arrived whole ([`arrive`]): its body within a
//! deadline (a client that drips bytes cannot hold a connection and a buffer open
//! forever) and within the limit of its kind (`MULTIPART_LIMIT` for uploads,
//! `BODY_LIMIT` for JSON and form bodies). So a slow client holds no slot among the
//! requests in flight while its body arrives, and every handler reads a body that
//! is already in memory. The bodies arriving and in flight together are bounded
//! too: each request reserves what its body may grow to from a budget
//! (`HttpSettings::body_memory`) before it is read, and waits for room within its
//! deadline (else 503).

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::multipart::MultipartError;
use axum::extract::Request;
use axum::http::StatusCode;
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

/// A request that has arrived whole, and the room its body holds in the budget
/// until the answer is made (the handler reads and drops the body).
pub struct Arrived<'a> {
    pub request: Request,
    _room: Option<tokio::sync::SemaphorePermit<'a>>,
}

/// Tells handlers the client's address, reserves room for the body, and reads it
/// whole by its deadline; a body that cannot be read is answered here.
pub async fn arrive(guard: &Guard, mut request: Request) -> Result<Arrived<'_>, Response> {
    let settings = &guard.settings;
    let address = client_address(settings, &request);
    request.extensions_mut().insert(address);
    if request.body().size_hint().exact() == Some(0) {
        return Ok(Arrived { request, _room: None });
    }
    let refused = |refusal: Refusal| axum::response::IntoResponse::into_response(crate::HttpError(refusal));
    let multipart = is_multipart(request.headers());
    let limit = if multipart { crate::MULTIPART_LIMIT } else { crate::BODY_LIMIT };
    let too_large = || if multipart { Refusal::attachment_too_large(MAX_ASSET_BYTES) } else { Refusal::body_too_large(limit) };
    if declared_length(request.headers()).is_some_and(|length| length > limit) {
        return Err(refused(too_large()));
    }
    let deadline = tokio::time::Instant::now() + settings.body_timeout;
    let room = guard.budget.acquire_many(body_kib(request.headers(), limit));
    let room = switchboard_app::timing::timed("admission", tokio::time::timeout_at(deadline, room));
    let Ok(Ok(room)) = room.await else {
        return Err(refused(Refusal::unavailable()));
    };
    let (parts, body) = request.into_parts();
    let body = switchboard_app::timing::timed("body", tokio::time::timeout_at(deadline, whole_body(body, limit))).await;
    match body {
        Ok(Ok(Some(body))) => Ok(Arrived { request: Request::from_parts(parts, body), _room: Some(room) }),
        Ok(Ok(None)) => Err(refused(too_large())),
        Ok(Err(_)) => Err(refused(Refusal::invalid_param("The request body broke off"))),
        Err(_) => Err(refused(Refusal::body_timeout())),
    }
}

/// The body, read whole; `None` past `limit` bytes.
async fn whole_body(body: Body, limit: usize) -> Result<Option<Body>, axum::Error> {
    let mut stream = body.into_data_stream();
    let (mut first, mut rest, mut size) = (None, Chunks::default(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len();
        if size > limit {
            return Ok(None);
        }
        // A body of one chunk (most are) is passed on as it came, not copied.
        match first.take() {
            None if rest.is_empty() => first = Some(chunk),
            Some(previous) => {
                rest.add(previous);
                rest.add(chunk);
            }
            None => rest.add(chunk),
        }
    }
    Ok(Some(match first {
        Some(only) => Body::from(only),
        None => rest.into_body(),
    }))
}

/// A body's chunks, in order. Small ones are copied together: kept apart, each
/// would cost an entry and keep its slice of hyper's read buffer alive, so a body
/// sent a byte per chunk would hold many times its size. Large ones are kept as
/// they came and replayed one by one: an upload's parser copies each into its own
/// buffer and frees it, so an upload is held once.
#[derive(Default)]
struct Chunks {
    chunks: Vec<Bytes>,
    small: bytes::BytesMut,
}

impl Chunks {
    const SMALL: usize = 4096;

    fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.small.is_empty()
    }

    fn add(&mut self, chunk: Bytes) {
        if chunk.len() < Self::SMALL {
            self.small.extend_from_slice(&chunk);
        } else {
            self.flush();
            self.chunks.push(chunk);
        }
    }

    fn flush(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
    }

    fn into_body(mut self) -> Body {
        self.flush();
        Body::from_stream(futures_util::stream::iter(self.chunks.into_iter().map(Ok::<Bytes, std::convert::Infallible>)))
    }
}

/// What a body may grow to, in KiB: its declared length, else its kind's limit.
fn body_kib(headers: &axum::http::HeaderMap, limit: usize) -> u32 {
    declared_length(headers).unwrap_or(limit).min(limit).div_ceil(1024).max(1) as u32
}

fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"))
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
    } else {
        Refusal::invalid_param(format!("Invalid multipart body: {}", error.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str, length: Option<&str>) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("content-type", content_type.parse().unwrap());
        if let Some(length) = length {
            headers.insert("content-length", length.parse().unwrap());
        }
        headers
    }

    /// What `arrive` reserves for a body of each kind.
    fn reserved(content_type: &str, length: Option<&str>) -> u32 {
        let headers = headers(content_type, length);
        body_kib(&headers, if is_multipart(&headers) { crate::MULTIPART_LIMIT } else { crate::BODY_LIMIT })
    }

    fn chunked(chunks: Vec<Vec<u8>>) -> Body {
        Body::from_stream(futures_util::stream::iter(chunks.into_iter().map(|chunk| Ok::<Bytes, std::convert::Infallible>(Bytes::from(chunk)))))
    }

    async fn read(body: Body) -> (usize, Vec<u8>) {
        let mut stream = body.into_data_stream();
        let (mut frames, mut bytes) = (0, Vec::new());
        while let Some(chunk) = stream.next().await {
            frames += 1;
            bytes.extend_from_slice(&chunk.unwrap());
        }
        (frames, bytes)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_is_read_whole_with_its_small_chunks_gathered_and_its_large_ones_kept() {
        let bytes = Bytes::from_static(b"{\"recipient\":{}}");
        let one = whole_body(Body::from(bytes.clone()), 100).await.unwrap().unwrap();
        let only = axum::body::to_bytes(one, 100).await.unwrap();
        assert_eq!(only.as_ptr(), bytes.as_ptr(), "a body of one chunk is not copied");

        let dripped = whole_body(chunked(vec![vec![b'x']; 5000]), 10_000).await.unwrap().unwrap();
        assert_eq!(read(dripped).await, (1, vec![b'x'; 5000]), "a byte per chunk is gathered into one");

        let mixed = vec![b"a".to_vec(), vec![b'L'; 5000], b"b".to_vec(), b"c".to_vec(), vec![b'M'; 4096]];
        let expected: Vec<u8> = mixed.concat();
        let read_back = read(whole_body(chunked(mixed), 20_000).await.unwrap().unwrap()).await;
        assert_eq!(read_back, (4, expected), "small runs gathered, large chunks kept, in order");

        assert!(whole_body(chunked(vec![vec![0; 60], vec![0; 41]]), 100).await.unwrap().is_none(), "past the limit");
        assert!(whole_body(chunked(vec![vec![0; 60], vec![0; 40]]), 100).await.unwrap().is_some(), "at the limit");
    }

    #[test]
    fn a_body_reserves_its_declared_length_or_its_kinds_limit() {
        assert_eq!(reserved("application/json", Some("300")), 1);
        assert_eq!(reserved("application/json", Some("4096")), 4);
        assert_eq!(reserved("application/json", None), (crate::BODY_LIMIT / 1024) as u32);
        assert_eq!(reserved("Multipart/Form-Data; boundary=x", None), MULTIPART_KIB);
        assert_eq!(reserved("multipart/form-data; boundary=x", Some("999999999999")), MULTIPART_KIB, "more is refused before it is read");
        assert_eq!(reserved("application/json", Some("nonsense")), (crate::BODY_LIMIT / 1024) as u32);
    }
}
