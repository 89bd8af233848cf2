//! Time as the core sees it: handed in, never read from the system here, so that a
//! virtual clock can move it forward in tests and for bot developers.

/// Epoch milliseconds, the unit of every webhook `timestamp` and watermark.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;

    /// Whether this clock can be moved (a development server's virtual clock).
    fn is_virtual(&self) -> bool {
        false
    }

    /// Moves the clock forward by `by` (never back); answers the new time. The real
    /// clock cannot be moved.
    fn advance(&self, by: Millis) -> Result<Millis, ClockError> {
        let _ = by;
        Err(ClockError::Real)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockError {
    /// The server runs on the real clock.
    Real,
    /// Time only moves forward.
    Backwards,
}
