//! Readers of client input for the person and console APIs: the path, the query
//! string and a JSON body. Each answers malformed input with a Graph error envelope
//! (code 100), never with axum's plain-text rejections.

use crate::error::HttpError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use switchboard_domain::Refusal;

/// The path's parameters, as `axum::extract::Path`.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| Refusal::invalid_param(format!("Invalid path: {}", rejection.body_text())).into())
    }
}

/// The query string's parameters, as `axum::extract::Query`.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| Refusal::invalid_param(format!("Invalid query string: {}", rejection.body_text())).into())
    }
}

/// A JSON body of at most [`crate::BODY_LIMIT`] bytes; an empty body reads as `{}`.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = crate::limits::read_body(request.into_body(), crate::BODY_LIMIT).await?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes).map(JsonBody).map_err(|e| Refusal::invalid_param(format!("Invalid JSON body: {e}")).into())
    }
}

/// A multipart body; its parts are read (and bounded) by the handler.
pub struct MultipartBody(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for MultipartBody {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(MultipartBody)
            .map_err(|rejection| Refusal::invalid_param(format!("Invalid multipart body: {}", rejection.body_text())).into())
    }
}

/// The client's address (see `limits::guard`), `None` when not known.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<crate::limits::ClientAddress>().and_then(|address| address.0)))
    }
}
