//! The rules of the platform, as pure functions of (state, request, now).
//!
//! Owns: typed IDs, the entities, Meta's refusals with their codes, credentials
//! (token hashing, app secret derivation, `appsecret_proof`), webhook signatures,
//! Send API parsing and validation (`send`, and `content` for the message object: attachments, templates, buttons, quick replies), media limits (`media`), the Messenger Profile's properties (`profile`), custom labels (`labels`), the messaging policy (window and tags), permissions (what persons grant, what review approves), the Handover Protocol (`handover`: receiver roles, thread control, standby), Page Insights' messaging metrics and ranges (`insights`), the Page inbox's folders, entry points and account linking (`entry`: refs, user_refs, plugin origins, token lifetimes), privacy (`privacy`: signed requests, deletion answers, retention), what a person may do with a sent message (`messages`: edits, ratings), the sticker catalog (`stickers`), webhook fields, the retry schedule and delivery failure kinds.
//! Must not: do I/O, spawn, read the system clock, or know HTTP or SQL.

pub mod clock;
pub mod content;
pub mod credentials;
pub mod delivery;
pub mod entry;
pub mod fields;
pub mod handover;
pub mod insights;
pub mod ids;
pub mod labels;
pub mod media;
pub mod messages;
pub mod model;
pub mod params;
pub mod permissions;
pub mod policy;
pub mod privacy;
pub mod profile;
pub mod ratelimit;
pub mod refusal;
pub mod retry;
pub mod send;
pub mod signature;
pub mod stickers;

pub use clock::{Clock, ClockError, Millis, CLOCK_SLACK_MS};
pub use delivery::FailureKind;
pub use fields::WebhookField;
pub use handover::{ReceiverRole, PAGE_INBOX_APP};
pub use ids::*;
pub use model::*;
pub use permissions::{Permission, Scopes};
pub use refusal::Refusal;
