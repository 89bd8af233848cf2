//! The store interface: what the platform remembers, shaped by use cases. Each
//! method is one transaction; a write that causes webhooks takes its outbox rows
//! with it, so a fact and the events it causes are durable together or not at all.
//!
//! One trait per aggregate (directory, tokens, consent, subscriptions, threads, handover, opt-ins,
//! entry points, media, profiles, labels, outbox, pickup, listings, privacy), each in the file of its name, joined by the
//! [`Store`] supertrait; every engine keeps its implementation of each trait in a
//! file of the same name. Rows are read and written through the one [`codec`].
//! Engines live in their own crates (`store-sqlite`, `store-postgres`) and must pass
//! the same [`contract`] suite. This crate knows no SQL and no HTTP.

mod bus;
pub mod codec;
mod consent;
#[cfg(feature = "contract")]
pub mod contract;
mod directory;
mod entry_points;
mod error;
mod handover;
mod labels;
mod listings;
mod media;
mod optins;
mod outbox;
mod pickup;
mod privacy;
mod profiles;
mod subscriptions;
mod threads;
mod tokens;
pub mod timing;

pub use bus::{Bus, BusMessage, LocalBus, BUS_BUFFER, RESUMED_TOPIC};
pub use consent::*;
pub use directory::*;
pub use entry_points::*;
pub use error::*;
pub use handover::*;
pub use labels::*;
pub use listings::*;
pub use media::*;
pub use optins::*;
pub use outbox::*;
pub use pickup::*;
pub use privacy::*;
pub use profiles::*;
pub use subscriptions::*;
pub use threads::*;
pub use tokens::*;

use async_trait::async_trait;

/// Everything an engine stores. Callers that need one aggregate only (the
/// dispatcher: the outbox) take that trait instead.
#[async_trait]
pub trait Store:
    DirectoryStore + TokenStore + ConsentStore + SubscriptionStore + ThreadStore + HandoverStore + OptinStore + EntryPointStore + MediaStore + ProfileStore + LabelStore + OutboxStore + PickupStore + ListingStore + PrivacyStore
{
    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;
}
