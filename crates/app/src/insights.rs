//! `Insights`: Page Insights for messaging (`GET /{page-id}/insights`): the
//! request read by the domain's rules, the days counted by one store call, each
//! metric in Graph's shape. Days follow the platform clock (a virtual clock's moves
//! make new days).

use crate::core::Core;
use crate::{AppResult, Caller};
use std::sync::Arc;
use switchboard_domain::clock::graph_time;
use switchboard_domain::insights::{self, InsightsQuery, Metric, DAY_MS};
use switchboard_domain::params::Params;
use switchboard_domain::*;
use switchboard_store::DayInsights;
use switchboard_wire::graph;

/// A Page's messaging insights, with the range asked, so the HTTP face can write
/// `paging` (the ranges before and after, of the same length).
#[derive(Debug, Clone)]
pub struct InsightsPage {
    pub data: Vec<graph::InsightsMetric>,
    pub since: i64,
    pub until: i64,
}

#[derive(Clone)]
pub struct Insights {
    pub(crate) core: Arc<Core>,
}

impl Insights {
    /// `GET /{page-id}/insights?metric=<list>[&period=day][&since=&until=]`: Page
    /// token of that Page only; the request is checked before anything is counted.
    pub async fn page_insights(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<InsightsPage> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        let (metric, period) = (params.str("metric")?, params.str("period")?);
        let (since, until) = (params.str("since")?, params.str("until")?);
        let query = insights::parse(metric.as_deref(), period.as_deref(), since.as_deref(), until.as_deref(), self.core.now())?;
        let days = self.core.store.messaging_insights(&page.id, query.first_day, query.days).await?;
        Ok(InsightsPage { data: render(&page.id, &query, &days), since: query.since, until: query.until })
    }
}

fn render(page: &PageId, query: &InsightsQuery, days: &[DayInsights]) -> Vec<graph::InsightsMetric> {
    query
        .metrics
        .iter()
        .map(|&metric| graph::InsightsMetric {
            name: metric.name().to_string(),
            period: "day".to_string(),
            values: days
                .iter()
                .enumerate()
                .map(|(d, day)| graph::InsightsValue {
                    value: match metric {
                        Metric::TotalMessagingConnections => day.connections,
                        Metric::NewConversations => day.new_conversations,
                        Metric::BlockedConversations => day.blocked,
                        Metric::ReportedConversations => day.reported,
                    },
                    end_time: graph_time(query.first_day + (d as i64 + 1) * DAY_MS),
                })
                .collect(),
            title: metric.title().to_string(),
            description: metric.description().to_string(),
            id: format!("{page}/insights/{}/day", metric.name()),
        })
        .collect()
}
