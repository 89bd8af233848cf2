//! The clocks a node runs on: the system clock, the virtual clock of development
//! servers that the operator moves forward, and the fault clock of fault tests that
//! the operator skews either way. Every rule and timer reads the one it is handed.

use std::time::{SystemTime, UNIX_EPOCH};
use switchboard_domain::*;

/// The system clock, for production.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
    }
}

/// A clock for development servers: the system time plus an offset that the console
/// moves forward, so that a bot developer can jump past the 24-hour window. Every
/// timer of the platform reads it, the dispatcher's included.
#[derive(Default)]
pub struct VirtualClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> Millis {
        SystemClock.now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn is_virtual(&self) -> bool {
        true
    }

    fn advance(&self, by: Millis) -> Result<Millis, ClockError> {
        if by < 0 {
            return Err(ClockError::Backwards);
        }
        self.offset_ms.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
        Ok(self.now_ms())
    }
}

/// A clock for fault tests only: the system time plus a skew the console sets to any
/// value, forwards or backwards, as a wall clock that jumps would read. Nothing is
/// adjusted when it jumps (unlike the virtual clock's leases): the platform must
/// survive what a real jump does.
#[derive(Default)]
pub struct FaultClock {
    skew_ms: std::sync::atomic::AtomicI64,
}

impl Clock for FaultClock {
    fn now_ms(&self) -> Millis {
        SystemClock.now_ms() + self.skew_ms.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn skew_ms(&self) -> Option<Millis> {
        Some(self.skew_ms.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn set_skew(&self, skew: Millis) -> Result<Millis, ClockError> {
        self.skew_ms.store(skew, std::sync::atomic::Ordering::SeqCst);
        Ok(self.now_ms())
    }
}

