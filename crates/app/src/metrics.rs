//! The platform's Prometheus metrics: one registry, fed by the faces and the use
//! cases (the dispatcher registers its own in it), rendered by `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `graph`, `person`, `console` or `ops`.
    pub face: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub code: u32,
    /// 0 when the refusal has none.
    pub subcode: u32,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub messages_sent: Counter,
    pub messages_received: Counter,
    /// Calls refused by the messaging policy or a rate limit, by Graph code and subcode.
    pub send_refusals: Family<RefusalLabels, Counter>,
    /// Messages and attachment records the retention job deleted.
    pub retention_pruned_messages: Counter,
    pub retention_pruned_attachments: Counter,
    /// Accounts persons deleted.
    pub accounts_deleted: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let requests = Family::<RequestLabels, Counter>::default();
        let messages_sent = Counter::default();
        let messages_received = Counter::default();
        registry.register("http_requests", "HTTP requests answered, by face and status", requests.clone());
        registry.register("messages_sent", "Messages sent by apps through the Send API", messages_sent.clone());
        registry.register("messages_received", "Messages persons sent to Pages", messages_received.clone());
        let send_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register("send_refusals", "Calls refused by the messaging policy or a rate limit, by Graph code and subcode", send_refusals.clone());
        let retention_pruned_messages = Counter::default();
        let retention_pruned_attachments = Counter::default();
        let accounts_deleted = Counter::default();
        registry.register("retention_pruned_messages", "Messages deleted because they were older than their Page's retention", retention_pruned_messages.clone());
        registry.register("retention_pruned_attachments", "Attachment records deleted because they were older than their Page's retention", retention_pruned_attachments.clone());
        registry.register("accounts_deleted", "Accounts persons deleted", accounts_deleted.clone());
        Self {
            registry,
            requests,
            messages_sent,
            messages_received,
            send_refusals,
            retention_pruned_messages,
            retention_pruned_attachments,
            accounts_deleted,
        }
    }
}

impl Metrics {
    /// The registry, for the other parts of a node to register their metrics in
    /// before the platform starts (the dispatcher's).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
