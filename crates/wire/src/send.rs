//! Send API answers.

use serde::{Deserialize, Serialize};

/// `POST /me/messages` success. Sender actions answer without `message_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Empty (and left out) for a send by `user_ref`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The saved attachment of an upload-and-send (or URL) with `is_reusable: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
}
