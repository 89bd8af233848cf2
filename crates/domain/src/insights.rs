//! Page Insights for messaging (`GET /{page-id}/insights`): the metrics Switchboard
//! computes, the `period`, and the days a `since`/`until` range covers. Days are
//! UTC days; a value belongs to the day it ends (`end_time` is the next midnight).

use crate::{Millis, Refusal};

pub const DAY_MS: Millis = 86_400_000;
/// The most days one request may cover (Meta: "only 90 days of insights can be
/// viewed at one time").
pub const MAX_RANGE_DAYS: i64 = 90;
/// Days answered without `since`/`until`: the last two whole days, as Graph does.
pub const DEFAULT_DAYS: u32 = 2;
/// Metric names one request may list (duplicates folded).
const MAX_METRICS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// People the Page has a conversation with who do not block it, at the day's end.
    TotalMessagingConnections,
    /// Conversations whose first message fell in the day.
    NewConversations,
    /// People who blocked the Page that day.
    BlockedConversations,
    /// People who reported their conversation with the Page that day.
    ReportedConversations,
}

impl Metric {
    pub const ALL: [Metric; 4] =
        [Metric::TotalMessagingConnections, Metric::NewConversations, Metric::BlockedConversations, Metric::ReportedConversations];

    pub fn name(self) -> &'static str {
        match self {
            Metric::TotalMessagingConnections => "page_messages_total_messaging_connections",
            Metric::NewConversations => "page_messages_new_conversations_unique",
            Metric::BlockedConversations => "page_messages_blocked_conversations_unique",
            Metric::ReportedConversations => "page_messages_reported_conversations_unique",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::TotalMessagingConnections => "Daily: Total Messaging Connections",
            Metric::NewConversations => "Daily: New Messaging Conversations",
            Metric::BlockedConversations => "Daily: Blocked Messaging Conversations",
            Metric::ReportedConversations => "Daily: Reported Messaging Conversations",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Metric::TotalMessagingConnections => "Daily: The number of people the Page has a conversation with, minus those who blocked it (Unique Users)",
            Metric::NewConversations => "Daily: The number of messaging conversations on the Page started by people (Unique Users)",
            Metric::BlockedConversations => "Daily: The number of conversations with the Page that have been blocked (Unique Users)",
            Metric::ReportedConversations => "Daily: The number of conversations with the Page that have been reported by people (Unique Users)",
        }
    }
}

/// What one insights request asks for: metrics, and whole UTC days from `first_day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsightsQuery {
    pub metrics: Vec<Metric>,
    /// The first day's midnight (UTC).
    pub first_day: Millis,
    /// How many days, at least one and at most `MAX_RANGE_DAYS + 1`.
    pub days: u32,
    /// The range as asked (seconds), for `paging`.
    pub since: i64,
    pub until: i64,
}

/// The midnight (UTC) that begins the day of `at`.
pub fn day_start(at: Millis) -> Millis {
    at.div_euclid(DAY_MS) * DAY_MS
}

fn seconds(name: &str, text: &str) -> Result<i64, Refusal> {
    let value: i64 = text.trim().parse().map_err(|_| Refusal::invalid_param(format!("Param {name} must be a UNIX timestamp in seconds")))?;
    // Years 1970 to 9999: anything else is not a date Graph would read.
    if !(0..=253_402_300_799).contains(&value) {
        return Err(Refusal::invalid_param(format!("Param {name} must be a UNIX timestamp in seconds")));
    }
    Ok(value)
}

/// Reads `metric` (a comma list), `period` (only `day`), `since` and `until` (UNIX
/// seconds; the day of `since` is the first value, and days up to `until`, a day
/// `until` falls inside included). Without a range: the last `DEFAULT_DAYS` whole days.
pub fn parse(metric: Option<&str>, period: Option<&str>, since: Option<&str>, until: Option<&str>, now: Millis) -> Result<InsightsQuery, Refusal> {
    let names: Vec<&str> = metric.unwrap_or("").split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Err(Refusal::no_metric());
    }
    if names.len() > MAX_METRICS {
        return Err(Refusal::invalid_param(format!("Param metric lists at most {MAX_METRICS} metrics")));
    }
    let mut metrics = Vec::new();
    for name in names {
        let metric = Metric::ALL.into_iter().find(|m| m.name() == name).ok_or_else(Refusal::invalid_metric)?;
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    match period.map(str::trim) {
        None | Some("day") => {}
        Some(_) => return Err(Refusal::invalid_param("Param period must be one of the following values: day")),
    }
    let until = match until {
        Some(text) => seconds("until", text)?,
        None => match since {
            Some(text) => seconds("since", text)?.saturating_add(DEFAULT_DAYS as i64 * 86_400).min(day_start(now) / 1000),
            None => day_start(now) / 1000,
        },
    };
    let since = match since {
        Some(text) => seconds("since", text)?,
        None => until - DEFAULT_DAYS as i64 * 86_400,
    };
    if since >= until {
        return Err(Refusal::invalid_param("Param since must be earlier than until"));
    }
    if until - since > MAX_RANGE_DAYS * 86_400 {
        return Err(Refusal::invalid_param(format!(
            "There cannot be more than {MAX_RANGE_DAYS} days ({} s) between since and until",
            MAX_RANGE_DAYS * 86_400
        )));
    }
    let first_day = day_start(since * 1000);
    let end = until * 1000;
    let days = (end - first_day + DAY_MS - 1) / DAY_MS;
    Ok(InsightsQuery { metrics, first_day, days: days as u32, since, until })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000; // 2023-11-14T22:13:20Z
    const MIDNIGHT: i64 = 1_699_920_000; // 2023-11-14T00:00:00Z

    #[test]
    fn the_default_is_the_last_two_whole_days() {
        let q = parse(Some("page_messages_new_conversations_unique"), None, None, None, NOW).unwrap();
        assert_eq!((q.first_day, q.days, q.since, q.until), ((MIDNIGHT - 2 * 86_400) * 1000, 2, MIDNIGHT - 2 * 86_400, MIDNIGHT));
    }

    #[test]
    fn a_range_covers_the_day_of_since_and_a_day_until_falls_in() {
        let q = parse(Some("page_messages_new_conversations_unique"), Some("day"), Some(&(MIDNIGHT + 60).to_string()), Some(&(MIDNIGHT + 86_400 + 1).to_string()), NOW).unwrap();
        assert_eq!((q.first_day, q.days), (MIDNIGHT * 1000, 2));
        let q = parse(Some("page_messages_new_conversations_unique"), None, Some(&MIDNIGHT.to_string()), Some(&(MIDNIGHT + 86_400).to_string()), NOW).unwrap();
        assert_eq!(q.days, 1);
    }

    #[test]
    fn metrics_are_checked_and_folded() {
        let q = parse(Some("page_messages_blocked_conversations_unique, page_messages_blocked_conversations_unique"), None, None, None, NOW).unwrap();
        assert_eq!(q.metrics, vec![Metric::BlockedConversations]);
        assert_eq!(parse(Some("page_fans"), None, None, None, NOW).unwrap_err(), Refusal::invalid_metric());
        assert_eq!(parse(Some(" , "), None, None, None, NOW).unwrap_err(), Refusal::no_metric());
        assert!(parse(Some("page_messages_new_conversations_unique"), Some("week"), None, None, NOW).is_err());
    }

    #[test]
    fn ranges_are_bounded() {
        let m = Some("page_messages_new_conversations_unique");
        assert!(parse(m, None, Some("10"), Some("10"), NOW).is_err());
        assert!(parse(m, None, Some("0"), Some(&(90 * 86_400).to_string()), NOW).is_ok());
        assert!(parse(m, None, Some("0"), Some(&(90 * 86_400 + 1).to_string()), NOW).is_err());
        assert!(parse(m, None, Some("-5"), None, NOW).is_err());
        assert!(parse(m, None, Some("yesterday"), None, NOW).is_err());
        assert!(parse(m, None, None, Some("99999999999999999999"), NOW).is_err());
    }
}
