//! Operations: whether this node's store answers, the backlog the metrics show, the
//! metrics themselves, live streams at shutdown, and the server's time as the
//! console shows and moves it (forward on a virtual clock, either way on a fault
//! clock).

use crate::core::Core;
use crate::views::ClockView;
use crate::{Actor, AppResult};
use std::sync::Arc;
use switchboard_domain::*;

#[derive(Clone)]
pub struct Operations {
    pub(crate) core: Arc<Core>,
}

impl Operations {
    /// This node's name, for operators (logs, `/readyz`).
    pub fn node_id(&self) -> &str {
        &self.core.settings.node_id
    }

    /// Succeeds when the store answers.
    pub async fn ping(&self) -> AppResult<()> {
        Ok(self.core.store.ping().await?)
    }

    /// Undelivered webhook events per app, read from the store (true across nodes).
    pub async fn backlog(&self) -> AppResult<Vec<(AppId, u64)>> {
        Ok(self.core.store.outbox_pending_by_app().await?)
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.core.metrics
    }

    /// Ends every live stream, so that a graceful shutdown is not held open by
    /// clients that never hang up.
    pub fn close_live_streams(&self) {
        self.core.live.close();
    }

    /// The base URL of this installation (media URLs start with it).
    pub fn public_url(&self) -> &str {
        self.core.public_url()
    }

    /// Sets the base URL to the address the node listens on, unless configured.
    pub fn listening_at(&self, url: &str) {
        let _ = self.core.public_url.set(url.trim_end_matches('/').to_string());
    }

    /// The time every rule and timer of this server reads, and whether it is virtual.
    pub fn clock(&self) -> ClockView {
        ClockView { now: self.core.now(), is_virtual: self.core.clock.is_virtual(), skew_ms: self.core.clock.skew_ms() }
    }

    /// Moves the clock (operator only): the virtual clock forward by `by` ms or to
    /// `to`, or the fault clock to `skew` ms from the system clock; one of the three.
    /// The dispatcher looks again at what became due.
    pub async fn move_clock(&self, actor: Actor, by: Option<Millis>, to: Option<Millis>, skew: Option<Millis>) -> AppResult<ClockView> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator can move the clock").into());
        }
        let by = match (by, to, skew) {
            (Some(by), None, None) => by,
            (None, Some(to), None) => to - self.core.now(),
            (None, None, Some(skew)) => return self.skew_clock(skew),
            _ => return Err(Refusal::invalid_param("give either advance_ms, to or skew_ms").into()),
        };
        let before = self.core.now();
        let now = self.core.clock.advance(by).map_err(|error| match error {
            ClockError::Real => Refusal::invalid_param("This server runs on the real clock, which cannot be moved; start it with --virtual-clock"),
            ClockError::Backwards => Refusal::invalid_param("The clock only moves forward"),
            ClockError::NoSkew => Refusal::invalid_param("Only a fault clock is skewed"),
        })?;
        // Claims stand for real time: the POSTs in flight keep them.
        self.core.store.shift_leases(before, by).await?;
        tracing::info!(now, moved_by_ms = by, "the virtual clock moved");
        self.core.wake_dispatcher();
        Ok(ClockView { now, is_virtual: true, skew_ms: None })
    }

    /// Sets the fault clock's skew from the system clock, forwards or backwards (fault
    /// tests). Nothing is shifted with it, as nothing is when a wall clock jumps.
    fn skew_clock(&self, skew_ms: Millis) -> AppResult<ClockView> {
        let now = self.core.clock.set_skew(skew_ms).map_err(|_| {
            Refusal::invalid_param("This server does not run the fault clock, whose skew is set only for fault tests; start it with fault_clock = true")
        })?;
        tracing::info!(now, skew_ms, "the fault clock was skewed");
        self.core.wake_dispatcher();
        Ok(ClockView { now, is_virtual: false, skew_ms: Some(skew_ms) })
    }
}
