//! Counting calls against the rate limits, per node (each node counts what it
//! serves: with N nodes behind a balancer, a limit is reached at up to N times its
//! value). Fixed windows on the platform's clock, so the virtual clock resets them.

use crate::cache::TtlCache;
use crate::core::Core;
use crate::{AppResult, Caller};
use std::sync::Arc;
use std::time::Duration;
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_domain::ratelimit::{self, Limit, Limits, DAY_MS, HOUR_MS, SECOND_MS};
use switchboard_domain::*;

/// Windows kept before the expired ones are dropped.
const PRUNE_AT: usize = 100_000;

#[derive(Default)]
struct RateCounter {
    /// (limit, app or Page id) → (window start, calls in it).
    windows: Mutex<HashMap<(Limit, String), (Millis, u64)>>,
}

impl RateCounter {
    /// Counts one call in the window of `length` holding `now`; answers the calls so far.
    fn hit(&self, limit: Limit, id: &str, length: Millis, now: Millis) -> u64 {
        let start = now - now.rem_euclid(length);
        let mut windows = self.windows.lock().expect("rate windows poisoned");
        if windows.len() >= PRUNE_AT {
            windows.retain(|(kind, _), (at, _)| *at + window_length(*kind) > now);
        }
        let entry = windows.entry((limit, id.to_string())).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

fn window_length(limit: Limit) -> Millis {
    match limit {
        Limit::App => HOUR_MS,
        Limit::PageDaily => DAY_MS,
        Limit::PageSends => SECOND_MS,
    }
}

/// How much of its limits a caller used, for the usage headers (percentages).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Usage {
    pub app: Option<u64>,
    /// The Page and its use of the daily budget.
    pub page: Option<(PageId, u64)>,
}

/// Rate limits: the app's and the Page's calls, counted on this node.
#[derive(Clone)]
pub struct RateLimits {
    core: Arc<Core>,
    counter: Arc<RateCounter>,
    /// People who wrote to each Page in the last day, for its budget.
    engaged: Arc<TtlCache<PageId, u64>>,
}

/// How long a Page's engaged people are counted before they are read again.
const ENGAGED_TTL: Duration = Duration::from_secs(60);

impl RateLimits {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core, counter: Arc::default(), engaged: Arc::new(TtlCache::new(ENGAGED_TTL)) }
    }

    /// Counts a Graph call by this caller (`send` for the Send API) against the app's
    /// and the Page's limits; a call over a limit is refused with Meta's code.
    pub async fn meter(&self, caller: &Caller, send: bool) -> AppResult<Usage> {
        let metered = self.meter_unrecorded(caller, send).await;
        if let Err(crate::AppError::Refused(refusal)) = &metered {
            let labels = crate::metrics::RefusalLabels { code: refusal.code, subcode: refusal.subcode.unwrap_or(0) };
            self.core.metrics.send_refusals.get_or_create(&labels).inc();
        }
        metered
    }

    async fn meter_unrecorded(&self, caller: &Caller, send: bool) -> AppResult<Usage> {
        let limits: Limits = self.core.settings.rate_limits;
        let now = self.core.now();
        let counter = &self.counter;
        let mut usage = Usage::default();
        if let Some(app) = caller.app() {
            let count = counter.hit(Limit::App, app.id.as_str(), HOUR_MS, now);
            ratelimit::check(Limit::App, count, limits.app_calls_per_hour)?;
            usage.app = Some(ratelimit::percent(count, limits.app_calls_per_hour));
        }
        if let Caller::Page { page, .. } = caller {
            if send {
                let count = counter.hit(Limit::PageSends, page.id.as_str(), SECOND_MS, now);
                ratelimit::check(Limit::PageSends, count, limits.page_sends_per_second)?;
            }
            let budget = limits.page_daily_budget(self.engaged_persons(&page.id, now).await?);
            let count = counter.hit(Limit::PageDaily, page.id.as_str(), DAY_MS, now);
            ratelimit::check(Limit::PageDaily, count, budget)?;
            usage.page = Some((page.id.clone(), ratelimit::percent(count, budget)));
        }
        Ok(usage)
    }

    /// People who wrote to the Page in the last day; read at most once a minute.
    async fn engaged_persons(&self, page: &PageId, now: Millis) -> AppResult<u64> {
        if self.core.settings.rate_limits.page_calls_per_engaged_person == 0 {
            return Ok(0);
        }
        let engaged = self
            .engaged
            .get_or_load(page, || {
                let (core, page) = (self.core.clone(), page.clone());
                async move { Ok::<_, crate::AppError>(Some(core.store.engaged_persons(&page, now - DAY_MS).await?)) }
            })
            .await?;
        Ok(engaged.unwrap_or_default())
    }
}
