//! Meta's JSON shapes, exactly as they travel on the wire: Graph errors, Send API
//! answers, webhook events and envelopes; and the one shape Switchboard sends to
//! others of its own (the alert notice). Plain serde data; no rules, no I/O.
//! Everything that decides *whether* something is allowed lives in `domain`.

pub mod alert;
pub mod ascii_json;
pub mod error;
pub mod graph;
pub mod send;
pub mod webhook;

pub use ascii_json::to_ascii_json;
pub use error::{GraphErrorBody, GraphErrorEnvelope};
