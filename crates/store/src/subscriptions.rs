//! Webhook subscriptions at both levels (an app's `object` webhook, and the app
//! installed on a Page with its fields), and the targets they make of a Page's events.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// An app that receives a Page's events, with the fields both subscription levels
/// agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub app: AppId,
    pub fields: Vec<WebhookField>,
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    /// Creates or replaces the app's subscription for its `object`.
    async fn put_app_subscription(&self, subscription: AppSubscription) -> StoreResult<()>;
    async fn app_subscriptions(&self, app: &AppId) -> StoreResult<Vec<AppSubscription>>;
    async fn delete_app_subscription(&self, app: &AppId, object: &str) -> StoreResult<bool>;
    /// Installs the app on the Page with these fields (replacing earlier ones).
    async fn put_page_subscription(&self, subscription: PageSubscription) -> StoreResult<()>;
    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>>;
    /// The Pages the app is installed on, by Page id.
    async fn installed_pages(&self, app: &AppId) -> StoreResult<Vec<PageSubscription>>;
    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool>;
    /// Apps that receive events of this Page: installed on it, with an active
    /// `object=page` webhook; `fields` is what both levels agree on.
    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>>;
}
