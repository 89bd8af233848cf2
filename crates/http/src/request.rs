//! A Graph request as SDKs send it (reference §1.2–1.3): parameters merged from the
//! query string and a JSON, form or multipart body (the body wins on conflict), the
//! access token from the query, the body or `Authorization: Bearer|OAuth`, and
//! `appsecret_proof`.

use crate::error::HttpError;
use crate::limits::{multipart_refusal, read_body};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, Method};
use serde_json::Value;
use switchboard_app::Upload;
use switchboard_domain::params::Params;
use switchboard_domain::Refusal;

/// Largest body accepted on JSON and form requests.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest multipart body (uploads carry files).
pub const MULTIPART_LIMIT: usize = 26 * 1024 * 1024;

pub struct GraphRequest {
    pub method: Method,
    /// Path segments after the optional version (`v21.0`).
    pub segments: Vec<String>,
    /// The version segment if the path had one, else `None`.
    pub version: Option<String>,
    pub params: Params,
    pub token: Option<String>,
    pub proof: Option<String>,
    /// The multipart `filedata` part of an upload, if any.
    pub upload: Option<Upload>,
    /// The path as requested (for `paging.next` URLs).
    pub path: String,
}

impl GraphRequest {
    /// A request made of parts, as the batch endpoint makes one per item.
    pub fn from_parts(method: Method, path_and_query: &str, body: Params, token: Option<String>) -> Result<Self, HttpError> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let version = match segments.first() {
            Some(first) if is_version(first) => Some(segments.remove(0)),
            _ => None,
        };
        let mut params = Params::default();
        form_pairs(query.as_bytes(), &mut params);
        let token = params.str("access_token")?.or(body.str("access_token")?).or(token);
        let proof = params.str("appsecret_proof")?.or(body.str("appsecret_proof")?);
        for (key, value) in body.0 {
            params.insert(key, value);
        }
        params.0.remove("access_token");
        params.0.remove("appsecret_proof");
        let method = method_override(method, &mut params)?;
        Ok(GraphRequest { method, segments, version, params, token, proof, upload: None, path: format!("/{}", path.trim_start_matches('/')) })
    }
}

fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').and_then(|v| v.split_once('.')).is_some_and(|(major, minor)| {
        !major.is_empty() && !minor.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

fn form_pairs(bytes: &[u8], params: &mut Params) {
    for (key, value) in url::form_urlencoded::parse(bytes) {
        params.insert(key.into_owned(), Value::String(value.into_owned()));
    }
}

impl<S: Send + Sync> FromRequest<S> for GraphRequest {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let mut segments: Vec<String> = request.uri().path().split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let version = match segments.first() {
            Some(first) if is_version(first) => Some(segments.remove(0)),
            _ => None,
        };
        let mut query = Params::default();
        form_pairs(request.uri().query().unwrap_or("").as_bytes(), &mut query);
        let header_token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("OAuth ")))
            .map(|t| t.trim().to_string());
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();

        let mut body = Params::default();
        let mut upload = None;
        if content_type.starts_with("multipart/form-data") {
            let declared = crate::limits::declared_length(request.headers());
            let mut multipart = Multipart::from_request(request, state)
                .await
                .map_err(|e| Refusal::invalid_param(format!("Invalid multipart body: {}", e.body_text())))?;
            // The router's body limit bounds the whole body (an upload over it is
            // refused as Meta refuses an oversized attachment, 2018109).
            while let Some(field) = multipart.next_field().await.map_err(multipart_refusal)? {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let mime = field.content_type().map(str::to_string);
                // Only the file is large enough to size its buffer from the body's length.
                let bytes = crate::limits::read_part(field, declared.filter(|_| name == "filedata")).await?;
                if name == "filedata" {
                    upload = Some(Upload { bytes, mime, file_name });
                } else if file_name.is_none() {
                    body.insert(name, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        } else {
            let bytes = read_body(request.into_body(), BODY_LIMIT).await?;
            let text = std::str::from_utf8(&bytes).map_err(|_| Refusal::invalid_param("The request body is not UTF-8"))?;
            let trimmed = text.trim();
            if content_type.starts_with("application/json") || (content_type.is_empty() && trimmed.starts_with('{')) {
                // An empty JSON body (some SDKs send one with GET) is no parameters.
                if !trimmed.is_empty() {
                    match serde_json::from_str::<Value>(trimmed) {
                        Ok(Value::Object(map)) => body = Params(map),
                        Ok(_) => return Err(Refusal::invalid_param("The JSON body must be an object").into()),
                        Err(e) => return Err(Refusal::invalid_param(format!("Invalid JSON in the request body: {e}")).into()),
                    }
                }
            } else if !trimmed.is_empty() {
                form_pairs(trimmed.as_bytes(), &mut body);
            }
        }

        let token = query
            .str("access_token")?
            .or(body.str("access_token")?)
            .or(header_token);
        let proof = query.str("appsecret_proof")?.or(body.str("appsecret_proof")?);
        let mut params = query;
        for (key, value) in body.0 {
            params.insert(key, value);
        }
        params.0.remove("access_token");
        params.0.remove("appsecret_proof");
        let method = method_override(method, &mut params)?;
        Ok(GraphRequest { method, segments, version, params, token, proof, upload, path })
    }
}

/// Graph's `method=POST|DELETE` parameter: clients that can only GET (a browser's
/// address bar, the FAQ's `me/subscribed_apps?method=POST`) name the method in it.
fn method_override(method: Method, params: &mut Params) -> Result<Method, HttpError> {
    let Some(named) = params.str("method")? else { return Ok(method) };
    params.0.remove("method");
    match named.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "DELETE" => Ok(Method::DELETE),
        _ => Err(Refusal::invalid_param(format!("Unsupported method: {named}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::is_version;

    #[test]
    fn versions() {
        assert!(is_version("v21.0"));
        assert!(is_version("v2.6"));
        assert!(!is_version("v21"));
        assert!(!is_version("me"));
        assert!(!is_version("v.1"));
    }
}
