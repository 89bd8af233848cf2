//! A web server with files for bots to send by URL: each path answers a fixed status,
//! media type and body, so tests can make an attachment fetch succeed or fail.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One file: what `GET /{name}` answers.
#[derive(Clone)]
pub struct MediaFile {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Wait this long before answering (a slow or hung server).
    pub delay: std::time::Duration,
}

impl MediaFile {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self { status: 200, content_type: content_type.into(), body: body.into(), delay: std::time::Duration::ZERO }
    }
}

pub struct MediaServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    files: Arc<Mutex<HashMap<String, MediaFile>>>,
    /// Requests answered so far, of any path.
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

type Shared = (Arc<Mutex<HashMap<String, MediaFile>>>, Arc<std::sync::atomic::AtomicUsize>);

impl MediaServer {
    pub async fn start() -> Self {
        let files = Arc::new(Mutex::new(HashMap::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = Router::new().route("/{name}", get(serve)).with_state((files.clone(), hits.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("media server serves") });
        Self { url, files, hits }
    }

    /// How many requests reached this server.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Serves `file` at `/{name}`; answers its URL.
    pub fn put(&self, name: &str, file: MediaFile) -> String {
        self.files.lock().unwrap().insert(name.to_string(), file);
        format!("{}/{name}", self.url)
    }
}

async fn serve(State((files, hits)): State<Shared>, Path(name): Path<String>) -> Response {
    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let Some(file) = files.lock().unwrap().get(&name).cloned() else { return StatusCode::NOT_FOUND.into_response() };
    tokio::time::sleep(file.delay).await;
    let status = StatusCode::from_u16(file.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, file.content_type)], file.body).into_response()
}

/// The smallest PNG: one transparent pixel.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82";
