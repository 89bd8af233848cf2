//! Media by URL: the files behind attachments (`/media/{sha256}`), persons'
//! profile pictures (`/media/profilepic/...`, signed) and the stickers of the
//! catalog (`/media/stickers/{id}.svg`). Public by design, as Meta's CDN URLs are:
//! the URL itself is the secret (a SHA-256 of the content, or a signature; a sticker
//! is no secret). Served so that no file can act as a page of this origin.

use crate::error::HttpResult;
use crate::extract::Path;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use switchboard_app::Platform;
use tower::ServiceExt;
use tower_http::services::ServeFile;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/media/{digest}", get(file))
        .route("/media/profilepic/{page}/{psid}/{signature}", get(profile_picture))
        .route("/media/stickers/{file}", get(sticker))
}

/// The drawing of the like sticker, sized by the catalog (`{size}`, `{name}`).
const LIKE_SVG: &str = include_str!("../web/stickers/like.svg");

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// `GET /media/{sha256}`: streamed from disk in chunks (a file is never held whole
/// in memory, however many read it at once), with `Range` requests answered 206.
async fn file(State(platform): State<Platform>, Path(digest): Path<String>, request: Request) -> HttpResult<Response> {
    let Some((mime, path)) = platform.media.media_file(&digest).await? else { return Ok(not_found()) };
    let inline = ["image/", "audio/", "video/"].iter().any(|family| mime.starts_with(family)) && mime != "image/svg+xml";
    let Ok(response) = ServeFile::new(path).oneshot(request).await;
    let mut response = response.map(axum::body::Body::new);
    // The file, a part of it, "not modified" or a range past its end keep their
    // answer; anything else is the same plain "not found" as an unknown digest.
    let status = response.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED || status == StatusCode::RANGE_NOT_SATISFIABLE) {
        return Ok(not_found());
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    if !inline {
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    Ok(response)
}

/// `GET /media/profilepic/{page}/{psid}/{signature}`: an SVG with the person's initials.
async fn profile_picture(State(platform): State<Platform>, Path((page, psid, signature)): Path<(String, String, String)>) -> HttpResult<Response> {
    let Some(svg) = platform.profiles.profile_picture(&page, &psid, &signature).await? else { return Ok(not_found()) };
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"));
    Ok(response)
}

/// `GET /media/stickers/{id}.svg`: a sticker of the catalog, drawn at its size.
async fn sticker(Path(file): Path<String>) -> Response {
    let found = file.strip_suffix(".svg").and_then(|id| id.parse().ok()).and_then(switchboard_domain::stickers::sticker);
    let Some(sticker) = found else { return not_found() };
    let svg = match sticker.art {
        switchboard_domain::stickers::StickerArt::Like => LIKE_SVG,
    };
    let mut response = svg.replace("{size}", &sticker.size.to_string()).replace("{name}", sticker.name).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}
