//! The server's time as the console shows and moves it (virtual clock only).

use crate::{Actor, AppResult, Platform};
use switchboard_domain::*;

impl Platform {
    /// The time every rule and timer of this server reads, and whether it is virtual.
    pub fn clock_state(&self) -> (Millis, bool) {
        (self.now(), self.clock().is_virtual())
    }

    /// Moves the virtual clock forward by `by` ms, or to `to` (operator only); the
    /// dispatcher looks again at what became due.
    pub async fn move_clock(&self, actor: Actor, by: Option<Millis>, to: Option<Millis>) -> AppResult<Millis> {
        if actor != Actor::Operator {
            return Err(Refusal::permission("Only the operator can move the clock").into());
        }
        let by = match (by, to) {
            (Some(by), None) => by,
            (None, Some(to)) => to - self.now(),
            _ => return Err(Refusal::invalid_param("give either advance_ms or to").into()),
        };
        let before = self.now();
        let now = self.clock().advance(by).map_err(|error| match error {
            ClockError::Real => Refusal::invalid_param("This server runs on the real clock, which cannot be moved; start it with --virtual-clock"),
            ClockError::Backwards => Refusal::invalid_param("The clock only moves forward"),
        })?;
        // Claims stand for real time: the POSTs in flight keep them.
        self.inner.store.shift_leases(before, by).await?;
        tracing::info!(now, moved_by_ms = by, "the virtual clock moved");
        self.outbox_wake().notify_one();
        Ok(now)
    }
}
