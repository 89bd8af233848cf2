//! The bus between nodes on PostgreSQL: `NOTIFY` to publish, one `LISTEN`ing
//! connection per node to receive. Owns only the transport; what the messages mean
//! belongs to the app layer.
//!
//! Publishing is grouped: every `NOTIFY` commits, and PostgreSQL serializes the
//! commits of notifying transactions on one lock, so one statement per message
//! made the bus the Send API's bottleneck. One publisher task sends whatever is
//! queued in one statement (one transaction), in the order it was published, and
//! answers each caller after the commit.
//!
//! The listening connection reconnects by itself. Notifications sent while it was
//! away are lost (PostgreSQL does not queue them for absent listeners), so after
//! reconnecting it hands subscribers a `resumed` message: whoever caches must
//! assume it missed invalidations.

use crate::errors;
use async_trait::async_trait;
use futures_util::StreamExt;
use std::time::Duration;
use switchboard_store::{Bus, BusMessage, StoreError, StoreResult, BUS_BUFFER, RESUMED_TOPIC};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

/// The one PostgreSQL channel all topics travel on; the topic leads the payload.
const CHANNEL: &str = "switchboard_bus";
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const NOTIFY_LIMIT: usize = 7900;
/// Messages sent in one statement at most (PostgreSQL's notification queue holds
/// 8 GB; a group stays far below).
const MAX_GROUP: usize = 512;
/// Messages waiting to be published before publishers are slowed down.
const QUEUE: usize = 8192;
/// The longest pause between attempts to listen again. Short: until it listens, the
/// node's persons get no live events from other nodes and its caches no
/// invalidations, and an attempt at a database that is still down costs one refused
/// connection.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

pub struct PostgresBus {
    sender: broadcast::Sender<BusMessage>,
    outgoing: mpsc::Sender<Outgoing>,
}

/// A message waiting for its group's commit; `sent` hears how it went, if anyone
/// waits.
struct Outgoing {
    payload: String,
    sent: Option<oneshot::Sender<StoreResult<()>>>,
}

impl PostgresBus {
    /// Connects the publisher pool and starts the listener task.
    pub async fn connect(url: &str, connect_timeout: Duration) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| errors::internal("database URL", e))?;
        let manager = deadpool_postgres::Manager::new(config.clone(), NoTls);
        let publisher = deadpool_postgres::Pool::builder(manager)
            .max_size(4)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(connect_timeout))
            .create_timeout(Some(connect_timeout))
            .build()
            .map_err(|e| errors::internal("bus pool", e))?;
        let (sender, _) = broadcast::channel(BUS_BUFFER);
        // Listen before answering, so that nothing published after connect() is missed.
        let first = listen(&config, connect_timeout, sender.clone()).await?;
        tokio::spawn(keep_listening(config, connect_timeout, sender.clone(), first));
        let (outgoing, queued) = mpsc::channel(QUEUE);
        tokio::spawn(publish_groups(publisher, queued));
        Ok(Self { sender, outgoing })
    }
}

/// Sends what is queued, a group per statement, until the bus is dropped.
async fn publish_groups(publisher: deadpool_postgres::Pool, mut queued: mpsc::Receiver<Outgoing>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queued.recv_many(&mut group, MAX_GROUP).await > 0 {
        let payloads: Vec<&str> = group.iter().map(|o| o.payload.as_str()).collect();
        let outcome = notify_all(&publisher, &payloads).await;
        let mut unheard = 0;
        for waiting in group.drain(..) {
            match (waiting.sent, &outcome) {
                (Some(sent), Ok(())) => {
                    let _ = sent.send(Ok(()));
                }
                (Some(sent), Err(error)) => {
                    let _ = sent.send(Err(StoreError::unavailable(format!("the bus cannot publish: {error}"))));
                }
                (None, outcome) => unheard += usize::from(outcome.is_err()),
            }
        }
        if let (Err(error), 1..) = (&outcome, unheard) {
            tracing::warn!(%error, lost = unheard, "live events were not sent to the other nodes");
        }
    }
}

/// One transaction: its notifications reach listeners in the array's order (a
/// function scan of `unnest` yields in order).
async fn notify_all(publisher: &deadpool_postgres::Pool, payloads: &[&str]) -> StoreResult<()> {
    let client = publisher.get().await.map_err(|e| unavailable("the bus has no database connection", e))?;
    client
        .execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", &[&CHANNEL, &payloads])
        .await
        .map_err(|e| unavailable("the bus cannot publish", e))?;
    Ok(())
}

/// The bus cannot reach the database: whatever the cause, the caller may retry.
fn unavailable(context: &str, source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable { context: context.into(), source: Some(Box::new(source)) }
}

/// Opens a listening connection; the returned task ends when the connection does.
async fn listen(
    config: &tokio_postgres::Config,
    timeout: Duration,
    sender: broadcast::Sender<BusMessage>,
) -> StoreResult<tokio::task::JoinHandle<()>> {
    let connecting = tokio::time::timeout(timeout, config.connect(NoTls));
    let (client, mut connection) = connecting
        .await
        .map_err(|elapsed| unavailable("the bus cannot reach the database in time", elapsed))?
        .map_err(|e| unavailable("the bus cannot connect", e))?;
    let pump = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(notification) = message {
                if let Some((topic, payload)) = notification.payload().split_once('\n') {
                    let _ = sender.send(BusMessage { topic: topic.to_string(), payload: payload.to_string() });
                }
            }
        }
    });
    // The pump drives the connection, so the LISTEN can complete now.
    if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        pump.abort();
        return Err(unavailable("the bus cannot LISTEN", error));
    }
    // The client keeps the connection open for as long as the pump runs.
    Ok(tokio::spawn(async move {
        let _ = pump.await;
        drop(client);
    }))
}

/// Re-listens whenever the connection ends, forever.
async fn keep_listening(
    config: tokio_postgres::Config,
    timeout: Duration,
    sender: broadcast::Sender<BusMessage>,
    mut current: tokio::task::JoinHandle<()>,
) {
    loop {
        let _ = (&mut current).await;
        tracing::warn!("the bus lost its database connection; reconnecting");
        let mut delay = Duration::from_millis(100);
        current = loop {
            match listen(&config, timeout, sender.clone()).await {
                Ok(pump) => break pump,
                Err(error) => {
                    tracing::warn!(error = &error as &dyn std::error::Error, "the bus cannot reconnect yet");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                }
            }
        };
        let _ = sender.send(BusMessage { topic: RESUMED_TOPIC.into(), payload: String::new() });
        tracing::info!("the bus is listening again");
    }
}

#[async_trait]
impl Bus for PostgresBus {
    async fn publish(&self, message: BusMessage) -> StoreResult<()> {
        let payload = format!("{}\n{}", message.topic, message.payload);
        let (sent, answer) = oneshot::channel();
        let stopped = || StoreError::unavailable("the bus is shutting down");
        self.outgoing.send(Outgoing { payload, sent: Some(sent) }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, message: BusMessage) {
        let payload = format!("{}\n{}", message.topic, message.payload);
        if self.outgoing.try_send(Outgoing { payload, sent: None }).is_err() {
            tracing::warn!("the bus is full or stopped: a live event was dropped");
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.sender.subscribe()
    }

    fn max_payload(&self) -> usize {
        NOTIFY_LIMIT
    }
}
