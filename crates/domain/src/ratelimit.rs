//! Rate limits in the spirit of Meta's (reference §10): an app's calls per hour, a
//! Page's calls per day scaling with the people it engages, and a Page's sends per
//! second. Pure: counts come in, a refusal or the usage percentages go out.

use crate::{Millis, Refusal};

pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;
pub const SECOND_MS: Millis = 1_000;

/// The limits; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub app_calls_per_hour: u64,
    /// The Page's daily budget is the larger of this floor and
    /// `page_calls_per_engaged_person` × the people who wrote to it in the last day.
    pub page_calls_per_day: u64,
    pub page_calls_per_engaged_person: u64,
    pub page_sends_per_second: u64,
}

impl Limits {
    /// The Page's budget for a day, given the people it engaged.
    pub fn page_daily_budget(&self, engaged: u64) -> u64 {
        self.page_calls_per_day.max(self.page_calls_per_engaged_person.saturating_mul(engaged))
    }
}

/// How much of a limit is used, 0–100 (0 when the limit is off), as the usage headers say.
pub fn percent(count: u64, limit: u64) -> u64 {
    count.saturating_mul(100).checked_div(limit).map_or(0, |used| used.min(100))
}

/// Which limit a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    App,
    PageDaily,
    PageSends,
}

/// Whether the `count`-th call in the window may go.
pub fn check(limit: Limit, count: u64, allowed: u64) -> Result<(), Refusal> {
    if allowed == 0 || count <= allowed {
        return Ok(());
    }
    Err(match limit {
        Limit::App => Refusal::rate_limited(4, None, "(#4) Application request limit reached"),
        Limit::PageDaily => Refusal::rate_limited(32, None, "(#32) Page request limit reached"),
        Limit::PageSends => Refusal::rate_limited(613, Some(2534040), "(#613) Calls to this api have exceeded the rate limit."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_has_its_code() {
        assert!(check(Limit::App, 10, 10).is_ok());
        assert_eq!(check(Limit::App, 11, 10).unwrap_err().code, 4);
        assert_eq!(check(Limit::PageDaily, 11, 10).unwrap_err().code, 32);
        let sends = check(Limit::PageSends, 3, 2).unwrap_err();
        assert_eq!((sends.code, sends.subcode), (613, Some(2534040)));
        assert!(check(Limit::App, 1_000_000, 0).is_ok(), "0 turns a limit off");
    }

    #[test]
    fn the_daily_budget_scales_with_engaged_people() {
        let limits = Limits { app_calls_per_hour: 0, page_calls_per_day: 1_000, page_calls_per_engaged_person: 200, page_sends_per_second: 0 };
        assert_eq!(limits.page_daily_budget(2), 1_000, "the floor");
        assert_eq!(limits.page_daily_budget(10), 2_000);
        assert_eq!(percent(50, 200), 25);
        assert_eq!(percent(500, 200), 100);
        assert_eq!(percent(5, 0), 0);
    }
}
