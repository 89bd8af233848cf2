//! The dispatcher's Prometheus metrics, registered in the node's one registry (which
//! `/metrics` renders) by whoever assembles the node.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

#[derive(Clone)]
pub struct DeliveryMetrics {
    /// Webhook POSTs, by outcome.
    pub posts: Family<DeliveryLabels, Counter>,
    /// Events carried by delivered POSTs.
    pub events_delivered: Counter,
    /// Seconds from a POST's start to its answer.
    pub latency: Histogram,
    /// Failed webhook POSTs, by failure kind.
    pub failures: Family<FailureLabels, Counter>,
    /// Seconds from an event's creation to its acknowledgement by the app.
    pub event_delay: Histogram,
    /// POSTs that stalled and moved to a stalled slot (their receiver was slow).
    pub stalled: Counter,
}

impl DeliveryMetrics {
    /// The metrics, registered in `registry` (prefixed as the registry is).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            posts: Family::default(),
            events_delivered: Counter::default(),
            latency: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 20.0].into_iter()),
            failures: Family::default(),
            event_delay: Histogram::new([0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36.0 * 3600.0].into_iter()),
            stalled: Counter::default(),
        };
        registry.register("webhook_posts", "Webhook POSTs by outcome", metrics.posts.clone());
        registry.register("webhook_events_delivered", "Webhook events acknowledged by apps", metrics.events_delivered.clone());
        registry.register("webhook_latency_seconds", "Webhook POST latency", metrics.latency.clone());
        registry.register("webhook_failures", "Failed webhook POSTs by kind", metrics.failures.clone());
        registry.register("webhook_event_delay_seconds", "From an event's creation to its acknowledgement", metrics.event_delay.clone());
        registry.register("webhook_stalled_posts", "Webhook POSTs that stalled and gave their slot to others", metrics.stalled.clone());
        metrics
    }
}
