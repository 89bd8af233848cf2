//! Messages between the nodes of one installation: live events for persons'
//! clients and cache invalidations. Every node publishes and every node (itself
//! included) receives, so a node has one path for what it learns, whatever node
//! caused it.
//!
//! Best effort by design: a node that is not listening at that moment misses the
//! message. What depends on it is covered otherwise (caches expire within their
//! TTL, clients catch up from the thread history), so no fact is ever only here.

use crate::StoreResult;
use async_trait::async_trait;
use tokio::sync::broadcast;

/// The topic a bus hands its subscribers after a gap in which it may have missed
/// messages (its connection to the other nodes was lost and is back).
pub const RESUMED_TOPIC: &str = "resumed";

/// Messages a receiver may fall behind by before it misses some.
pub const BUS_BUFFER: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub topic: String,
    /// JSON text. Engines may limit its size (PostgreSQL NOTIFY: under 8000 bytes).
    pub payload: String,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends to every node's subscribers, this node's included; answers once it
    /// has gone out.
    async fn publish(&self, message: BusMessage) -> StoreResult<()>;
    /// As `publish`, without waiting: for what may be lost (a live event: the
    /// client sees the message when it next loads the thread). Keeps the order of
    /// this node's sends and publishes; a bus that cannot take it drops it.
    fn send(&self, message: BusMessage);
    /// What is published from now on.
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;
    /// The largest payload this bus carries.
    fn max_payload(&self) -> usize;
    /// True when every subscriber is in this process (no other node listens).
    fn is_local(&self) -> bool {
        false
    }
}

/// The bus of a single process (the embedded SQLite store serves one node).
pub struct LocalBus {
    sender: broadcast::Sender<BusMessage>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(BUS_BUFFER).0 }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, message: BusMessage) -> StoreResult<()> {
        self.send(message);
        Ok(())
    }

    fn send(&self, message: BusMessage) {
        // No receiver is not an error: nobody needed it.
        let _ = self.sender.send(message);
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.sender.subscribe()
    }

    fn max_payload(&self) -> usize {
        usize::MAX
    }

    fn is_local(&self) -> bool {
        true
    }
}
