//! Live events for persons' clients (server-sent events): what a Page sends, typing
//! indicators, receipts. In-process fan-out; a multi-node relay can publish into the
//! same hub. Live events are a convenience: the thread history in the store is the
//! truth a client catches up from after reconnecting.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_domain::*;
use tokio::sync::broadcast;

/// Events buffered per connected person before a slow client starts missing some.
const BUFFER: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A message in one of the person's threads (either direction, so that a
    /// person's other devices see their own messages too).
    Message { page_id: PageId, message: crate::messaging::MessageView },
    /// The Page started or stopped typing.
    Typing { page_id: PageId, on: bool },
    /// The Page has seen the person's messages up to `watermark`.
    Seen { page_id: PageId, watermark: Millis },
}

#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<PersonId, broadcast::Sender<LiveEvent>>>,
}

impl LiveHub {
    pub fn subscribe(&self, person: PersonId) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().expect("live hub poisoned");
        channels.entry(person).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
    }

    pub fn publish(&self, person: PersonId, event: LiveEvent) {
        let mut channels = self.channels.lock().expect("live hub poisoned");
        if let Some(sender) = channels.get(&person) {
            if sender.send(event).is_err() {
                // Nobody listens any more.
                channels.remove(&person);
            }
        }
    }
}
