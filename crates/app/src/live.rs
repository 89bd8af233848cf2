//! Live events for persons' clients (server-sent events): what a Page sends, typing
//! indicators, receipts, reactions, edits and ratings. A use case announces an event on the bus; every node's
//! relay ([`crate::relay`]) hands it to the clients connected there. Live events are
//! a convenience: the thread history in the store is the truth a client catches up
//! from after reconnecting.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_domain::*;
use tokio::sync::broadcast;

/// Events buffered per connected person before a slow client starts missing some.
const BUFFER: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A message in one of the person's threads (either direction, so that a
    /// person's other devices see their own messages too).
    /// Boxed: a message view is much larger than the other events.
    Message { page_id: PageId, message: Box<crate::views::MessageView> },
    /// The Page started or stopped typing.
    Typing {
        page_id: PageId,
        on: bool,
        /// The persona typing, when the app named one.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        persona: Option<crate::views::PersonaView>,
    },
    /// The Page has seen the person's messages up to `watermark`.
    Seen { page_id: PageId, watermark: Millis },
    /// A reaction to a message was set (or, with `emoji` `None`, taken back).
    Reaction { page_id: PageId, mid: Mid, by: crate::views::Author, emoji: Option<String> },
    /// The person edited a message of theirs (on another device, say): its new text.
    Edit { page_id: PageId, mid: Mid, text: String, edits: u32 },
    /// The person rated a Page message.
    Feedback { page_id: PageId, mid: Mid, feedback: switchboard_domain::messages::Feedback },
}

pub struct LiveHub {
    /// `None` once the hub is closed for shutdown.
    channels: Mutex<Option<HashMap<PersonId, broadcast::Sender<LiveEvent>>>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        Self { channels: Mutex::new(Some(HashMap::new())) }
    }

    /// A stream of the person's live events. After [`LiveHub::close`] it ends at once.
    pub fn subscribe(&self, person: PersonId) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().expect("live hub poisoned");
        match channels.as_mut() {
            Some(channels) => channels.entry(person).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Ends every live stream, so that a graceful shutdown is not held open by
    /// clients that never hang up. Clients reconnect to another node and catch up.
    pub fn close(&self) {
        self.channels.lock().expect("live hub poisoned").take();
    }

    /// True when a client of the person is connected to this node.
    pub fn has_listeners(&self, person: PersonId) -> bool {
        let guard = self.channels.lock().expect("live hub poisoned");
        guard.as_ref().and_then(|channels| channels.get(&person)).is_some_and(|sender| sender.receiver_count() > 0)
    }

    pub fn publish(&self, person: PersonId, event: LiveEvent) {
        let mut guard = self.channels.lock().expect("live hub poisoned");
        let Some(channels) = guard.as_mut() else { return };
        if let Some(sender) = channels.get(&person) {
            if sender.send(event).is_err() {
                // Nobody listens any more.
                channels.remove(&person);
            }
        }
    }
}
