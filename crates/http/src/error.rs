//! The one error type of every face: a [`Refusal`] rendered in the Graph envelope
//! with its HTTP status. Store failures are logged here, once, and shown to clients
//! only as Meta's generic codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use switchboard_app::AppError;
use switchboard_domain::Refusal;
use switchboard_store::StoreError;
use switchboard_wire::{GraphErrorBody, GraphErrorEnvelope};

#[derive(Debug)]
pub struct HttpError(pub Refusal);

impl From<Refusal> for HttpError {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl From<AppError> for HttpError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Refused(refusal) => Self(refusal),
            AppError::Store(StoreError::Unavailable { .. }) => {
                tracing::warn!(cause = %error_chain(&error), "store unavailable");
                Self(Refusal::unavailable())
            }
            // The engine or the media files log a full disk once, when it fills
            // and when it has room again; each refused request only at debug.
            AppError::Store(StoreError::StorageFull { .. }) | AppError::StorageFull { .. } => {
                tracing::debug!(cause = %error_chain(&error), "storage full");
                Self(Refusal::storage_full())
            }
            AppError::Store(_) => {
                tracing::error!(cause = %error_chain(&error), "store failure");
                Self(Refusal::unknown())
            }
            AppError::Internal { .. } => {
                tracing::error!(cause = %error_chain(&error), "internal failure");
                Self(Refusal::unknown())
            }
        }
    }
}

pub(crate) use switchboard_store::error_chain;

/// An opaque id for a failed request, as Meta's `fbtrace_id`.
fn trace_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 8]>())
}

impl HttpError {
    /// The status and the envelope this error is answered with, its `fbtrace_id`
    /// drawn now: what the Graph face remembers of a refused call is what it answers.
    pub(crate) fn envelope(self) -> (StatusCode, GraphErrorEnvelope) {
        let refusal = self.0;
        let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = GraphErrorEnvelope {
            error: GraphErrorBody {
                message: refusal.message,
                kind: refusal.kind.to_string(),
                code: refusal.code,
                error_subcode: refusal.subcode,
                is_transient: refusal.transient.then_some(true),
                fbtrace_id: trace_id(),
            },
        };
        (status, body)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, body) = self.envelope();
        (status, Json(body)).into_response()
    }
}

pub type HttpResult<T> = Result<T, HttpError>;
