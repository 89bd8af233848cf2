//! The platform's Prometheus metrics: one registry, fed by the faces and the
//! dispatcher, rendered by `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `graph`, `person`, `console` or `ops`.
    pub face: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `delivered` or `failed`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// A `FailureKind` name.
    pub kind: &'static str,
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
    /// Webhook POSTs, by outcome.
    pub webhook_posts: Family<DeliveryLabels, Counter>,
    /// Events carried by delivered POSTs.
    pub webhook_events_delivered: Counter,
    /// Seconds from a POST's start to its answer.
    pub webhook_latency: Histogram,
    /// Failed webhook POSTs, by failure kind.
    pub webhook_failures: Family<FailureLabels, Counter>,
    /// Seconds from an event's creation to its acknowledgement by the app.
    pub webhook_event_delay: Histogram,
    /// Calls refused by the messaging policy or a rate limit, by Graph code and subcode.
    pub send_refusals: Family<RefusalLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let requests = Family::<RequestLabels, Counter>::default();
        let messages_sent = Counter::default();
        let messages_received = Counter::default();
        let webhook_posts = Family::<DeliveryLabels, Counter>::default();
        let webhook_events_delivered = Counter::default();
        let webhook_latency = Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 20.0].into_iter());
        registry.register("http_requests", "HTTP requests answered, by face and status", requests.clone());
        registry.register("messages_sent", "Messages sent by apps through the Send API", messages_sent.clone());
        registry.register("messages_received", "Messages persons sent to Pages", messages_received.clone());
        registry.register("webhook_posts", "Webhook POSTs by outcome", webhook_posts.clone());
        registry.register("webhook_events_delivered", "Webhook events acknowledged by apps", webhook_events_delivered.clone());
        registry.register("webhook_latency_seconds", "Webhook POST latency", webhook_latency.clone());
        let webhook_failures = Family::<FailureLabels, Counter>::default();
        let webhook_event_delay =
            Histogram::new([0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36.0 * 3600.0].into_iter());
        registry.register("webhook_failures", "Failed webhook POSTs by kind", webhook_failures.clone());
        registry.register("webhook_event_delay_seconds", "From an event's creation to its acknowledgement", webhook_event_delay.clone());
        let send_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register("send_refusals", "Calls refused by the messaging policy or a rate limit, by Graph code and subcode", send_refusals.clone());
        Self {
            registry,
            requests,
            messages_sent,
            messages_received,
            webhook_posts,
            webhook_events_delivered,
            webhook_latency,
            webhook_failures,
            webhook_event_delay,
            send_refusals,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
