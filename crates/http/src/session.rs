//! The bearer token of the person and console APIs: a person's session or the
//! operator credential, from `Authorization: Bearer` or `?access_token=` (browsers'
//! EventSource cannot set headers).

use crate::error::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use switchboard_app::{Actor, Platform};
use switchboard_domain::{PersonId, Refusal};

/// Any caller that is a person or the operator.
pub struct Signed(pub Actor);

/// The bearer token itself, as `Signed` reads it (signing out revokes it).
pub struct BearerToken(pub String);

impl FromRequestParts<Platform> for BearerToken {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &Platform) -> Result<Self, Self::Rejection> {
        bearer(parts).map(BearerToken).ok_or_else(|| Refusal::token_required().into())
    }
}

/// A signed-in person (the operator is refused: it has no threads).
pub struct SignedPerson(pub PersonId);

fn bearer(parts: &Parts) -> Option<String> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    header.or_else(|| {
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    })
}

impl FromRequestParts<Platform> for Signed {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, platform: &Platform) -> Result<Self, Self::Rejection> {
        let caller = switchboard_app::timing::timed("auth", platform.authenticate(bearer(parts).as_deref(), None)).await?;
        let actor = caller.actor().ok_or_else(|| Refusal::wrong_token_kind("a session or operator token"))?;
        Ok(Signed(actor))
    }
}

impl FromRequestParts<Platform> for SignedPerson {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, platform: &Platform) -> Result<Self, Self::Rejection> {
        match Signed::from_request_parts(parts, platform).await?.0 {
            Actor::Person(person) => Ok(SignedPerson(person)),
            Actor::Operator => Err(Refusal::wrong_token_kind("a person's session token").into()),
        }
    }
}
