//! The webhook outbox and what becomes of its events: claims (leases), deliveries,
//! failures with their attempt log, escalation, replay, pruning, and the views of it
//! the console shows.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// A webhook event to store with the fact that caused it. `body` is the rendered
/// `messaging[]` item: it is sent as is on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEvent {
    pub app: AppId,
    pub page: PageId,
    /// The thread's person: events of one (app, Page, person) are delivered in order.
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
}

impl NewOutboxEvent {
    /// Whether the event reaches its app, given who owns the thread when the event is
    /// stored (so that retries and replays never change it): a `standby` event only
    /// while another app owns the thread; a handover event always (it names its
    /// app); any other while the app owns the thread or no app does. Engines keep
    /// only the events that reach, under the thread's lock.
    pub fn reaches(&self, owner: Option<&AppId>) -> bool {
        use switchboard_domain::handover::{channel_for, Channel};
        match self.field {
            WebhookField::MessagingHandovers => true,
            WebhookField::Standby => channel_for(&self.app, owner) == Channel::Standby,
            _ => channel_for(&self.app, owner) == Channel::Messaging,
        }
    }
}

/// A leased outbox event, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    pub app: AppId,
    pub page: PageId,
    pub person: PersonId,
    pub field: WebhookField,
    pub body: Vec<u8>,
    pub created_at: Millis,
    /// Failed attempts so far.
    pub failures: u32,
    /// When the first attempt failed, for how long the endpoint has been failing.
    pub first_failure_at: Option<Millis>,
}

/// How much one claim may lease. A thread's run is its head and the pending events
/// after it, in order, as long as each is due: one POST carries it whole, so a
/// thread's backlog drains a batch per round trip while its order holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimLimits {
    /// Events at most, all apps together.
    pub events: u32,
    /// Events of one thread's run at most (1: its head alone).
    pub run: u32,
    /// Events at most for each of these apps: what their endpoints' free POST slots
    /// can carry now. 0 leaves an app out.
    pub per_app: Vec<(AppId, u32)>,
    /// Events at most for any app not in `per_app`.
    pub per_other_app: u32,
    /// Only this app's events (a listener's claim), when set.
    pub only_app: Option<AppId>,
}

impl ClaimLimits {
    /// Up to `events` thread heads, whichever apps they are for.
    pub fn heads(events: u32) -> Self {
        Self { events, run: 1, per_app: Vec::new(), per_other_app: events, only_app: None }
    }

    /// Up to `events` events in runs of up to `run`, whichever apps they are for.
    pub fn runs(events: u32, run: u32) -> Self {
        Self { events, run, per_app: Vec::new(), per_other_app: events, only_app: None }
    }

    /// Up to `events` events of `app` alone, in runs of up to `run`.
    pub fn of_app(app: AppId, events: u32, run: u32) -> Self {
        Self { events, run, per_app: Vec::new(), per_other_app: events, only_app: Some(app) }
    }

    /// Events at most for `app`.
    pub fn cap_for(&self, app: &str) -> u32 {
        self.per_app.iter().find(|(a, _)| a.as_str() == app).map_or(self.per_other_app, |(_, cap)| *cap)
    }

    /// The apps left out of this claim.
    pub fn apps_left_out(&self) -> Vec<&str> {
        self.per_app.iter().filter(|(_, cap)| *cap == 0).map(|(app, _)| app.as_str()).collect()
    }
}

/// One app's claimed events in batches of at most `cap`, each thread's run in one
/// batch, in order (two POSTs in flight for one thread could arrive out of order). A
/// run is consecutive events of one thread; the store makes none longer than a batch.
pub fn pack_runs(events: Vec<OutboxEvent>, cap: usize) -> Vec<Vec<OutboxEvent>> {
    let cap = cap.max(1);
    let mut batches: Vec<Vec<OutboxEvent>> = Vec::new();
    let mut run: Vec<OutboxEvent> = Vec::new();
    let close_run = |run: &mut Vec<OutboxEvent>, batches: &mut Vec<Vec<OutboxEvent>>| {
        if run.is_empty() {
            return;
        }
        match batches.last_mut() {
            Some(batch) if batch.len() + run.len() <= cap => batch.append(run),
            _ => batches.push(std::mem::take(run)),
        }
    };
    for event in events {
        let same_thread = run.last().is_some_and(|last: &OutboxEvent| last.page == event.page && last.person == event.person);
        if !same_thread {
            close_run(&mut run, &mut batches);
        }
        run.push(event);
    }
    close_run(&mut run, &mut batches);
    batches
}

/// What a delivery's settle leases next, in the same transaction: the runs of the
/// same threads that are due, `events` at most (so that they fit one POST).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextRuns {
    pub lease_until: Millis,
    pub events: u32,
    pub run: u32,
}

/// A POST that failed, for every event it carried. Each event either gets its next
/// attempt time or, past the retry horizon, is given up: dead-lettered, kept until
/// it is replayed or pruned.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedAttempt {
    pub app: AppId,
    pub url: String,
    pub attempted_at: Millis,
    pub latency_ms: Millis,
    pub kind: FailureKind,
    /// The HTTP status, when the receiver answered.
    pub status: Option<u16>,
    pub error: String,
    /// The start of the response body, bounded.
    pub excerpt: String,
    /// Each event's next attempt; `None` gives it up.
    pub retries: Vec<(i64, Option<Millis>)>,
    /// A failure more than this after the app's previous one starts a new failing
    /// spell (`RetrySchedule::longest_silence`): the time between was not spent
    /// failing. A spell never starts later than a failure in it, so a clock that went
    /// back does not put off the alerts.
    pub longest_silence: Millis,
}

/// One failed attempt, as the attempt log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub id: i64,
    pub app: AppId,
    pub url: String,
    pub attempted_at: Millis,
    pub latency_ms: Millis,
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub error: String,
    pub excerpt: String,
    /// Events the POST carried.
    pub events: u32,
    /// Which: a batch carries several (those not pruned since).
    pub event_ids: Vec<i64>,
}

/// Where an outbox event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    Pending,
    Delivered,
    /// Given up: past the retry horizon, or its app was unsubscribed for failing.
    Dead,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// An outbox event with its delivery state, for the console.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub app: AppId,
    pub page: PageId,
    pub person: PersonId,
    pub field: WebhookField,
    pub created_at: Millis,
    pub state: EventState,
    pub failures: u32,
    pub next_attempt_at: Millis,
    pub settled_at: Option<Millis>,
    pub last_error: Option<String>,
    /// When a dead event was sent again (as a new event).
    pub replayed_at: Option<Millis>,
}

/// An app's webhook endpoint at a glance (in the spirit of Telegram's getWebhookInfo).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointHealth {
    pub pending: u64,
    pub oldest_pending_at: Option<Millis>,
    pub dead: u64,
    /// Since when every attempt has failed; `None` while healthy.
    pub failing_since: Option<Millis>,
    pub last_error_at: Option<Millis>,
    pub last_error: Option<String>,
    /// The last success (PostgreSQL records it to the second under load, see its
    /// `HEALTH_FRESH_MS`).
    pub last_success_at: Option<Millis>,
    /// When the app was last unsubscribed for failing too long.
    pub disabled_at: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The endpoint has been failing for the alert threshold (Meta: 15 minutes).
    Failing,
    /// The endpoint failed for the disable threshold (Meta: 1 hour): the app was
    /// unsubscribed from the Pages of its pending events, which were dead-lettered.
    Disabled,
}

impl AlertKind {
    pub const ALL: [AlertKind; 2] = [Self::Failing, Self::Disabled];

    /// The alert's text, the same from every engine: how long the endpoint failed and
    /// with what, and for `Disabled` what was unsubscribed and kept.
    pub fn message(self, failing_ms: Millis, last_error: &str, pages: usize, kept: usize) -> String {
        let minutes = failing_ms / 60_000;
        let failing = format!("Webhook deliveries have failed for {minutes} minutes (last error: {last_error}).");
        match self {
            Self::Failing => failing,
            Self::Disabled => {
                format!("{failing} The app was unsubscribed from {pages} Page(s); {kept} undelivered event(s) are kept for replay.")
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Disabled => "disabled",
        }
    }

}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub app: AppId,
    pub kind: AlertKind,
    pub created_at: Millis,
    pub message: String,
    /// Pages the app was unsubscribed from (for `Disabled`).
    pub pages: Vec<PageId>,
}

/// Which events to send again.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplaySelection {
    /// One event, whatever its state: a pending one is made due now; a settled one is
    /// queued again as a new event with the same bytes.
    One(i64),
    /// Every dead event of the app created in `[from, to]` and not replayed yet.
    DeadBetween { from: Millis, to: Millis },
}

/// Webhook deliveries of one app in one time bucket, for the console's chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryBucket {
    /// The bucket's start, epoch ms.
    pub start: Millis,
    /// Events acknowledged in the bucket.
    pub delivered: u64,
    /// Events in POSTs that failed in the bucket (an event retried counts each time).
    pub failed: u64,
    /// From an event's creation to its acknowledgement, over the delivered events.
    pub latency_avg_ms: Millis,
    pub latency_max_ms: Millis,
}

#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Leases due events until `lease_until`, within `limits`: for each (app,
    /// thread), its oldest undelivered event and the run after it, never an event
    /// behind one that is not due or is leased, so a thread's events reach an app in
    /// order. Answered in due order of the runs' heads, each run whole and in order.
    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limits: &ClaimLimits) -> StoreResult<Vec<OutboxEvent>>;
    /// Marks the events delivered at `at` (their threads' next events become due) and
    /// the apps' endpoints healthy.
    async fn outbox_delivered(&self, ids: &[i64], at: Millis) -> StoreResult<()> {
        self.outbox_delivered_then_claim(ids, at, None).await.map(drop)
    }
    /// As `outbox_delivered`; with `next`, also leases the same threads' next runs
    /// that are due at `at`, in the same transaction, and answers them (each run
    /// whole and in order): the dispatcher sends a thread's next events as soon as
    /// the previous ones are acknowledged, without another claim.
    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, next: Option<NextRuns>) -> StoreResult<Vec<OutboxEvent>>;
    /// Logs a failed POST, reschedules or gives up each of its events, and marks the
    /// app's endpoint failing (since the first failure after a success or after a
    /// silence longer than `longest_silence`).
    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()>;
    /// Moves the app's endpoint to the next alert stage when it has been failing long
    /// enough: `Failing` after `alert_after`, `Disabled` after `disable_after` (the app
    /// is unsubscribed from the Pages of its pending events, which are given up). Each
    /// stage is entered once per failing spell, whichever nodes race for it. A spell
    /// whose last failure is more than `longest_silence` before `now` is not judged:
    /// it was stamped by a clock far from this one's (another node's, or this one
    /// before a jump), and measuring it against `now` would count the jump.
    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis, longest_silence: Millis) -> StoreResult<Option<Alert>>;
    /// The app's latest failed attempts, newest first.
    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>>;
    /// One event of the app, with its failed attempts (oldest first).
    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>>;
    /// The app's events in a time range (by creation), newest first.
    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>>;
    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth>;
    /// The app's alerts, newest first.
    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>>;
    /// Sends events of the app again, due at `now`, keeping their bytes; answers the
    /// ids of the events queued (a settled event is queued as a new one at the end of
    /// its thread). Unknown ids answer nothing.
    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>>;
    /// Deletes delivered events settled before `delivered_before`, dead ones settled
    /// before `dead_before`, and failed attempts older than `dead_before`; answers the
    /// number of events deleted.
    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64>;
    /// When the next event can be claimed, as far as `now` shows: the earliest time
    /// at which the oldest pending event of some thread is due, among the heads not
    /// under lease at `now`. Events waiting behind an earlier one of their thread do
    /// not count (else a dispatcher would spin while a thread's head keeps failing).
    /// Leased heads are left out, so that the answer is a walk of the due index
    /// instead of every head: a lease ends in a settle, which wakes the dispatcher
    /// holding it, or runs out (its node died), which a dispatcher's idle poll sees.
    async fn outbox_next_due(&self, now: Millis) -> StoreResult<Option<Millis>>;
    /// Ends the leases held until `lease_until` on these events (a listener left
    /// before answering, a dispatcher claimed an app that takes its events itself):
    /// they are due again at once. A lease taken since by someone else is left alone.
    async fn release_leases(&self, ids: &[i64], lease_until: Millis) -> StoreResult<()>;
    /// Moves every lease still running at `now` forward by `by`: when a virtual clock
    /// jumps, POSTs in flight keep their claims (a lease stands for real time).
    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()>;
    /// Brings back what a clock ahead of this one pushed out of reach: the pending
    /// events of every thread whose head is due after `latest_due` are due at `now`
    /// (those due after `latest_due`), and the leases running past `latest_lease`
    /// end. No retry is scheduled, and no lease taken, that far past `now`: such times
    /// were written while this node's clock was ahead and has since jumped back, or
    /// by a node whose clock runs ahead of this one's, and their events would wait
    /// as long as that clock was ahead. Answers how many events were brought back.
    async fn recall_future_times(&self, now: Millis, latest_due: Millis, latest_lease: Millis) -> StoreResult<u64>;
    /// Undelivered events.
    async fn outbox_pending(&self) -> StoreResult<u64>;
    /// Undelivered events per app (each app has one callback URL), by app id.
    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>>;
    /// The app's deliveries in `[from, to)` by buckets of `bucket_ms` (only buckets
    /// with something in them), oldest first.
    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>>;
}
