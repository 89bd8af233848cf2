//! A clock the test moves by hand, so that timers measured in minutes and hours
//! (alerts, unsubscribing, retry horizons) are tested without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use switchboard_domain::{Clock, Millis};

pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// Starts at the system time, so that stored times look ordinary.
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(AtomicI64::new(switchboard_app::SystemClock.now_ms())))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as Millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
