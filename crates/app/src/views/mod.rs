//! The JSON shapes of the person API and the console API, typed, in one place: the
//! HTTP face and the CLI print these and nothing else. (The Graph API's shapes are
//! Meta's, in `switchboard-wire`, or built by field selection where Graph lets the
//! caller choose the fields.) Views are plain data; turning an entity into its
//! view is a `From`, so that every face shows it alike.

mod console;
mod inbox;
mod person;
mod webhooks;

pub use console::*;
pub use inbox::*;
pub use person::*;
pub use webhooks::*;

use serde::Serialize;

/// `{"data": [...]}`: every list the APIs answer.
#[derive(Debug, Clone, Serialize)]
pub struct Listing<T> {
    pub data: Vec<T>,
}

impl<T> Listing<T> {
    pub fn of<S: Into<T>>(items: impl IntoIterator<Item = S>) -> Self {
        Self { data: items.into_iter().map(Into::into).collect() }
    }
}

/// `{"success": true}`: a change that has nothing else to tell.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Success {
    pub success: bool,
}

pub const SUCCESS: Success = Success { success: true };

/// `{"access_token", "token_type": "bearer"}`: a user access token handed out.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub access_token: String,
    pub token_type: &'static str,
}

impl TokenView {
    pub fn bearer(access_token: String) -> Self {
        Self { access_token, token_type: "bearer" }
    }
}

/// `/readyz`: whether this node's store answers.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessView {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub store: &'static str,
    pub node: String,
}
