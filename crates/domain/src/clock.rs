//! Time as the core sees it: handed in, never read from the system here, so that a
//! virtual clock can move it forward in tests and for bot developers.

/// Epoch milliseconds, the unit of every webhook `timestamp` and watermark.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;
}
