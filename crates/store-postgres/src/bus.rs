//! The bus between nodes on PostgreSQL: `NOTIFY` to publish, one `LISTEN`ing
//! connection per node to receive. Owns only the transport; what the messages mean
//! belongs to the app layer.
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
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

/// The one PostgreSQL channel all topics travel on; the topic leads the payload.
const CHANNEL: &str = "switchboard_bus";
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const NOTIFY_LIMIT: usize = 7900;

pub struct PostgresBus {
    sender: broadcast::Sender<BusMessage>,
    publisher: deadpool_postgres::Pool,
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
        Ok(Self { sender, publisher })
    }
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
                    delay = (delay * 2).min(Duration::from_secs(5));
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
        let client = self.publisher.get().await.map_err(|e| unavailable("the bus has no database connection", e))?;
        let payload = format!("{}\n{}", message.topic, message.payload);
        client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .await
            .map_err(|e| unavailable("the bus cannot publish", e))?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.sender.subscribe()
    }

    fn max_payload(&self) -> usize {
        NOTIFY_LIMIT
    }
}
