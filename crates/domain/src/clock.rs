//! Time as the core sees it: handed in, never read from the system here, so that a
//! virtual clock can move it forward in tests and for bot developers.

/// Epoch milliseconds, the unit of every webhook `timestamp` and watermark.
pub type Millis = i64;

/// How far apart the clocks of nodes on one database may be without the times they
/// stamp being taken as written by a clock that jumped.
pub const CLOCK_SLACK_MS: Millis = 5_000;

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

    /// How far this clock runs from the system clock, when it is a fault clock.
    fn skew_ms(&self) -> Option<Millis> {
        None
    }

    /// Sets how far this clock runs from the system clock, forwards or backwards
    /// (the fault clock of fault tests); answers the new time. Other clocks refuse.
    fn set_skew(&self, skew: Millis) -> Result<Millis, ClockError> {
        let _ = skew;
        Err(ClockError::NoSkew)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockError {
    /// The server runs on the real clock.
    Real,
    /// Time only moves forward.
    Backwards,
    /// Only the fault clock can be skewed.
    NoSkew,
}

/// A time as Graph writes it: `2020-03-05T21:38:25+0000` (UTC).
pub fn graph_time(ms: Millis) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

#[cfg(test)]
mod graph_time_tests {
    use super::graph_time;

    #[test]
    fn graph_times() {
        assert_eq!(graph_time(0), "1970-01-01T00:00:00+0000");
        assert_eq!(graph_time(1_583_444_305_999), "2020-03-05T21:38:25+0000");
        assert_eq!(graph_time(951_782_400_000), "2000-02-29T00:00:00+0000");
    }
}
