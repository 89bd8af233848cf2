//! What nodes tell each other through the bus, and the task that applies it here:
//! live events go to the persons connected to this node, invalidations clear this
//! node's caches. Every node, this one included, learns through the same path.

use crate::live::LiveEvent;
use crate::core::Core;
use std::sync::Arc;
use serde::{Deserialize, Serialize};
use switchboard_domain::*;
use switchboard_store::BusMessage;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

const LIVE: &str = "live";
const INVALIDATE: &str = "invalidate";

/// A live event for one person. A message too large for the bus travels as a
/// reference and is read from the store by the nodes that need it. On the bus it
/// is the person's id, a space and this as JSON: every node hears every notice,
/// and one with no client of that person drops it unparsed.
#[derive(Debug, Serialize, Deserialize)]
struct LiveNotice {
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<LiveEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ref: Option<(PageId, Mid)>,
}

/// A cached fact that changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidation {
    /// A token was revoked (by digest).
    Token(String),
    /// Subscriptions or receiver roles of a Page (or of an app, so of any Page) changed.
    Targets(Option<PageId>),
    /// Roles, grants or app settings changed: drop everything cached about callers.
    Callers,
    /// The person's account was erased: their PSIDs, sessions and roles go.
    Person(PersonId),
    /// A listener came or went, or an app's delivery mode changed: which apps the
    /// dispatchers leave alone.
    Held,
}

impl Core {
    /// Announces a live event for the person on every node.
    pub(crate) async fn announce(&self, person: PersonId, event: LiveEvent) {
        // On a bus of one process, the relay would drop it at once: nobody listens.
        if self.bus.is_local() && !self.live.has_listeners(person) {
            return;
        }
        let mut notice = LiveNotice { event: Some(event), message_ref: None };
        let on_the_bus = |notice: &LiveNotice| format!("{} {}", person.0, serde_json::to_string(notice).expect("live events serialize"));
        let mut payload = on_the_bus(&notice);
        if payload.len() > self.bus.max_payload() {
            if let Some(LiveEvent::Message { page_id, message }) = notice.event.take() {
                notice.message_ref = Some((page_id, message.mid));
                payload = on_the_bus(&notice);
            }
        }
        // Not waited for: the message is stored, and a client that misses the event
        // sees the message when it next loads the thread.
        self.bus.send(BusMessage { topic: LIVE.into(), payload });
    }

    /// Clears the cached fact here at once, and on the other nodes through the bus.
    pub(crate) async fn invalidate(&self, what: Invalidation) {
        self.apply_invalidation(&what);
        let payload = serde_json::to_string(&what).expect("invalidations serialize");
        if let Err(error) = self.bus.publish(BusMessage { topic: INVALIDATE.into(), payload }).await {
            // Other nodes still drop the entry when its TTL runs out.
            tracing::warn!(%error, "cannot announce a cache invalidation");
        }
    }

    fn apply_invalidation(&self, what: &Invalidation) {
        match what {
            Invalidation::Token(digest) => self.callers.remove(digest),
            Invalidation::Targets(Some(page)) => {
                self.targets.remove(page);
                self.receivers.remove(page);
                self.held.clear();
            }
            Invalidation::Targets(None) => {
                self.targets.clear();
                self.receivers.clear();
                self.held.clear();
            }
            Invalidation::Held => self.held.clear(),
            Invalidation::Person(_) => {
                // Rare: everything that may name the person is dropped at once.
                self.psids.clear();
                self.callers.clear();
                self.roles.clear();
            }
            Invalidation::Callers => {
                self.held.clear();
                self.callers.clear();
                self.apps.clear();
                self.targets.clear();
                self.receivers.clear();
                self.roles.clear();
            }
        }
    }

}

/// Applies what the bus brings until `shutdown`.
pub(crate) async fn run(core: Arc<Core>, shutdown: CancellationToken) {
    core.relay(shutdown).await
}

impl Core {
    async fn relay(&self, shutdown: CancellationToken) {
        let mut messages = self.bus.subscribe();
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.recv() => message,
            };
            match message {
                Ok(message) => self.apply(message).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the relay fell behind; dropping every cache");
                    self.apply_invalidation(&Invalidation::Callers);
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn apply(&self, message: BusMessage) {
        match message.topic.as_str() {
            LIVE => {
                let Some((person, notice)) = message.payload.split_once(' ') else { return };
                let Ok(person) = person.parse().map(PersonId) else { return };
                if !self.live.has_listeners(person) {
                    return;
                }
                let Ok(notice) = serde_json::from_str::<LiveNotice>(notice) else { return };
                let event = match (notice.event, notice.message_ref) {
                    (Some(event), _) => event,
                    (None, Some((page_id, mid))) => match self.store.message(&mid).await {
                        Ok(Some(message)) => match self.message_view(&message).await {
                            Ok(view) => LiveEvent::Message { page_id, message: Box::new(view) },
                            Err(_) => return,
                        },
                        _ => return,
                    },
                    (None, None) => return,
                };
                self.live.publish(person, event);
            }
            INVALIDATE => {
                if let Ok(what) = serde_json::from_str::<Invalidation>(&message.payload) {
                    self.apply_invalidation(&what);
                }
            }
            // The bus may have missed invalidations while it was away.
            switchboard_store::RESUMED_TOPIC => self.apply_invalidation(&Invalidation::Callers),
            _ => {}
        }
    }
}
