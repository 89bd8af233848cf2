//! Webhook subscriptions at both levels (reference §3.1): the app's callback for
//! `object=page` (`/{app-id}/subscriptions`, app token, verified by the handshake),
//! and the app installed on a Page (`/{page-id}/subscribed_apps`, Page token).

use crate::core::Core;
use crate::{AppResult, Caller};
use std::sync::Arc;
use async_trait::async_trait;
use switchboard_domain::fields::parse_fields;
use switchboard_domain::*;

/// Performs the verification handshake: GET `url` with `hub.mode=subscribe`,
/// `hub.verify_token` and `hub.challenge`; Ok only when the challenge comes back.
#[async_trait]
pub trait CallbackVerifier: Send + Sync + 'static {
    async fn verify(&self, url: &str, verify_token: &str, challenge: &str) -> Result<(), String>;
}

/// Fields an app gets on a Page installed without `subscribed_fields` (old API
/// versions allowed that) when it has no webhook to copy them from.
const DEFAULT_PAGE_FIELDS: &[WebhookField] = &[WebhookField::Messages, WebhookField::MessagingPostbacks];

fn check_callback_url(url: &str) -> Result<(), Refusal> {
    let valid = (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 && !url.contains(char::is_whitespace);
    if !valid {
        return Err(Refusal::invalid_param("callback_url must be an http or https URL"));
    }
    Ok(())
}

/// Webhook subscriptions at both levels.
#[derive(Clone)]
pub struct Subscriptions {
    pub(crate) core: Arc<Core>,
    pub(crate) verifier: Arc<dyn CallbackVerifier>,
}

impl Subscriptions {
    /// Refuses a caller that does not hold the app token of `app_id` (checked before
    /// anything else of a request is read).
    pub fn own_app(&self, caller: &Caller, app_id: &str) -> Result<(), Refusal> {
        self.core.own_app(caller, app_id).map(drop)
    }

    /// `POST /{app-id}/subscriptions`: verifies the callback, then stores the webhook.
    /// Posting again for the same object adds the new fields to the old ones.
    pub async fn subscribe_app(
        &self,
        caller: &Caller,
        app_id: &str,
        object: &str,
        callback_url: &str,
        verify_token: &str,
        fields: &[String],
        version: &str,
    ) -> AppResult<()> {
        let app = self.core.own_app(caller, app_id)?;
        if object != "page" {
            return Err(Refusal::invalid_param(format!("Param object must be one of {{page}} - got \"{object}\"")).into());
        }
        check_callback_url(callback_url)?;
        let mut fields = parse_fields(fields, "fields")?;
        if fields.is_empty() {
            return Err(Refusal::missing_param("fields").into());
        }
        let challenge = rand_challenge();
        self
            .verifier
            .verify(callback_url, verify_token, &challenge)
            .await
            .map_err(Refusal::callback_verification_failed)?;
        let existing = self.core.store.app_subscriptions(&app.id).await?;
        let old = existing.iter().find(|s| s.object == object);
        if let Some(old) = old {
            fields.extend(old.fields.iter().copied());
            fields.sort();
            fields.dedup();
        }
        // The delivery mode is the console's to change; a new callback keeps it.
        let delivery = old.map_or(DeliveryMode::Webhook, |old| old.delivery);
        self.core
            .store
            .put_app_subscription(AppSubscription {
                app: app.id.clone(),
                object: object.to_string(),
                callback_url: callback_url.to_string(),
                verify_token: verify_token.to_string(),
                fields,
                version: version.to_string(),
                active: true,
                delivery,
            })
            .await?;
        self.core.invalidate(crate::Invalidation::Targets(None)).await;
        Ok(())
    }

    /// `GET /{app-id}/subscriptions`.
    pub async fn app_subscriptions(&self, caller: &Caller, app_id: &str) -> AppResult<Vec<AppSubscription>> {
        let app = self.core.own_app(caller, app_id)?;
        Ok(self.core.store.app_subscriptions(&app.id).await?)
    }

    /// `DELETE /{app-id}/subscriptions`: the named fields, or the whole object.
    pub async fn unsubscribe_app(&self, caller: &Caller, app_id: &str, object: Option<&str>, fields: Option<&[String]>) -> AppResult<()> {
        let app = self.core.own_app(caller, app_id)?;
        let object = object.unwrap_or("page");
        let existing = self.core.store.app_subscriptions(&app.id).await?;
        match (existing.into_iter().find(|s| s.object == object), fields) {
            (Some(mut subscription), Some(fields)) if !fields.is_empty() => {
                let removed = parse_fields(fields, "fields")?;
                subscription.fields.retain(|f| !removed.contains(f));
                if subscription.fields.is_empty() {
                    self.core.store.delete_app_subscription(&app.id, object).await?;
                } else {
                    self.core.store.put_app_subscription(subscription).await?;
                }
            }
            _ => {
                self.core.store.delete_app_subscription(&app.id, object).await?;
            }
        }
        self.core.invalidate(crate::Invalidation::Targets(None)).await;
        Ok(())
    }

    /// `POST /{page-id}/subscribed_apps`: installs the token's app on the Page.
    pub async fn install_app(&self, caller: &Caller, page_ref: &PageRef, fields: Option<&[String]>) -> AppResult<()> {
        let (page, app) = self.core.own_page(caller, page_ref, Permission::PagesManageMetadata)?;
        let fields = match fields {
            Some(fields) if !fields.is_empty() => parse_fields(fields, "subscribed_fields")?,
            _ => {
                let webhook = self.core.store.app_subscriptions(&app.id).await?.into_iter().find(|s| s.object == "page");
                webhook.map(|s| s.fields).unwrap_or_else(|| DEFAULT_PAGE_FIELDS.to_vec())
            }
        };
        self.core
            .store
            .put_page_subscription(PageSubscription { page: page.id.clone(), app: app.id.clone(), fields })
            .await?;
        self.core.invalidate(crate::Invalidation::Targets(Some(page.id.clone()))).await;
        Ok(())
    }

    /// `GET /{page-id}/subscribed_apps`: every app installed on the Page.
    pub async fn installed_apps(&self, caller: &Caller, page_ref: &PageRef) -> AppResult<Vec<(App, Vec<WebhookField>)>> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesManageMetadata)?;
        let mut installed = Vec::new();
        for subscription in self.core.store.page_subscriptions(&page.id).await? {
            if let Some(app) = self.core.app(&subscription.app).await? {
                installed.push((app, subscription.fields));
            }
        }
        Ok(installed)
    }

    /// `GET /{app-id}/subscribed_apps` with the app's token: the Pages the app is
    /// installed on, with the fields of each.
    pub async fn installed_pages(&self, caller: &Caller, app_id: &str) -> AppResult<Vec<(Page, Vec<WebhookField>)>> {
        let app = self.core.own_app(caller, app_id)?;
        let mut installed = Vec::new();
        for subscription in self.core.store.installed_pages(&app.id).await? {
            if let Some(page) = self.core.store.page(&subscription.page).await? {
                installed.push((page, subscription.fields));
            }
        }
        Ok(installed)
    }

    /// `DELETE /{page-id}/subscribed_apps`: removes the token's app from the Page.
    pub async fn uninstall_app(&self, caller: &Caller, page_ref: &PageRef) -> AppResult<()> {
        let (page, app) = self.core.own_page(caller, page_ref, Permission::PagesManageMetadata)?;
        self.core.store.delete_page_subscription(&page.id, &app.id).await?;
        self.core.invalidate(crate::Invalidation::Targets(Some(page.id.clone()))).await;
        Ok(())
    }
}

fn rand_challenge() -> String {
    use rand::Rng;
    rand::thread_rng().gen_range(1_000_000_000u64..10_000_000_000).to_string()
}
