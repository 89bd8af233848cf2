//! When a failed webhook delivery is tried again: exponential backoff with jitter,
//! capped, honouring a receiver's `Retry-After`, until the event is too old and is
//! given up (dead-lettered).

use crate::{Millis, CLOCK_SLACK_MS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Delay before the first retry.
    pub initial_ms: Millis,
    /// The longest delay between two attempts.
    pub max_ms: Millis,
    /// An event is retried until it is this old (Meta: 36 hours), then given up.
    pub give_up_after_ms: Millis,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self { initial_ms: 1_000, max_ms: 15 * 60_000, give_up_after_ms: 36 * 3_600_000 }
    }
}

impl RetrySchedule {
    /// When an event created at `created_at` is tried again after its `failures`-th
    /// failure at `now`; `None` when that would be past the give-up horizon.
    pub fn next_attempt(&self, created_at: Millis, now: Millis, failures: u32, jitter: f64, retry_after_ms: Option<Millis>) -> Option<Millis> {
        let at = now + self.delay_after(failures, jitter, retry_after_ms);
        (at <= created_at + self.give_up_after_ms).then_some(at)
    }

    /// The longest delay `delay_after` ever gives (the cap with its jitter): a next
    /// attempt due further away than this was scheduled by a clock that was ahead.
    pub fn longest_delay(&self) -> Millis {
        self.max_ms + self.max_ms / 5 + 1
    }

    /// The longest an endpoint with events to retry goes between two failed attempts:
    /// the longest delay, then a claim and a POST within a lease of `lease_ms`, and
    /// the slack between nodes' clocks. A failure later than that after the previous
    /// one starts a new failing spell: the time between was not spent failing
    /// (nothing was tried, or a clock jumped forward).
    pub fn longest_silence(&self, lease_ms: Millis) -> Millis {
        self.longest_delay() + lease_ms + CLOCK_SLACK_MS
    }

    /// The delay after the `failures`-th consecutive failure (1-based). `jitter` in
    /// [0, 1) spreads retries by up to ±20 % so that endpoints recovering together
    /// are not hit in lockstep. A `Retry-After` from the receiver is honoured when it
    /// asks for longer, within the cap.
    pub fn delay_after(&self, failures: u32, jitter: f64, retry_after_ms: Option<Millis>) -> Millis {
        let exponent = failures.saturating_sub(1).min(30);
        let base = self.initial_ms.saturating_mul(1i64 << exponent).min(self.max_ms);
        let spread = (base as f64 * 0.4 * (jitter.clamp(0.0, 1.0) - 0.5)) as Millis;
        let delay = (base + spread).max(1);
        match retry_after_ms {
            Some(asked) if asked > delay => asked.min(self.max_ms),
            _ => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_until_the_cap() {
        let s = RetrySchedule { initial_ms: 1000, max_ms: 8000, ..Default::default() };
        let delays: Vec<_> = (1..=6).map(|n| s.delay_after(n, 0.5, None)).collect();
        assert_eq!(delays, vec![1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let s = RetrySchedule::default();
        assert_eq!(s.delay_after(1, 0.0, None), 800);
        assert_eq!(s.delay_after(1, 0.999_999, None), 1199);
    }

    #[test]
    fn no_delay_is_longer_than_the_longest() {
        let s = RetrySchedule { initial_ms: 700, max_ms: 9_999, ..Default::default() };
        for failures in 1..40 {
            for jitter in [0.0, 0.5, 0.999_999, 1.0] {
                assert!(s.delay_after(failures, jitter, Some(1_000_000)) <= s.longest_delay());
                assert!(s.delay_after(failures, jitter, None) <= s.longest_delay());
            }
        }
    }

    #[test]
    fn retry_after_wins_when_longer_but_not_past_the_cap() {
        let s = RetrySchedule { initial_ms: 1000, max_ms: 60_000, ..Default::default() };
        assert_eq!(s.delay_after(1, 0.5, Some(30_000)), 30_000);
        assert_eq!(s.delay_after(1, 0.5, Some(10)), 1000);
        assert_eq!(s.delay_after(1, 0.5, Some(3_600_000)), 60_000);
    }

    #[test]
    fn gives_up_when_the_next_attempt_would_pass_the_horizon() {
        let s = RetrySchedule { initial_ms: 1000, max_ms: 1000, give_up_after_ms: 10_000 };
        assert_eq!(s.next_attempt(0, 8_000, 5, 0.5, None), Some(9_000));
        assert_eq!(s.next_attempt(0, 9_000, 6, 0.5, None), Some(10_000));
        assert_eq!(s.next_attempt(0, 9_500, 7, 0.5, None), None);
    }
}
