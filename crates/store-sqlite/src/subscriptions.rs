//! Webhook subscriptions in SQLite: an app's webhook per `object`
//! (`app_subscriptions`), the apps installed on a Page with their fields
//! (`page_subscriptions`), and the targets both levels make of a Page's events.

use crate::columns::{cached, prepare, q, Query};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn put_app_subscription(&self, s: AppSubscription) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO app_subscriptions (app_id, object, callback_url, verify_token, fields, version, active, delivery)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (app_id, object) DO UPDATE SET callback_url = excluded.callback_url,
                        verify_token = excluded.verify_token, fields = excluded.fields,
                        version = excluded.version, active = excluded.active, delivery = excluded.delivery",
                    params![s.app.as_str(), s.object, s.callback_url, s.verify_token, codec::fields_text(&s.fields), s.version, s.active, codec::text(s.delivery)],
                ))?;
                Ok(())
            })
            .await
    }

    async fn app_subscriptions(&self, app: &AppId) -> StoreResult<Vec<AppSubscription>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    "SELECT app_id, object, callback_url, verify_token, fields, version, active, delivery FROM app_subscriptions WHERE app_id = ?1 ORDER BY object",
                )?
                .all([app.as_str()], |r| codec::app_subscription(r))
            })
            .await
    }

    async fn delete_app_subscription(&self, app: &AppId, object: &str) -> StoreResult<bool> {
        let (app, object) = (app.clone(), object.to_string());
        self.engine
            .write(move |c| Ok(q(c.execute("DELETE FROM app_subscriptions WHERE app_id = ?1 AND object = ?2", params![app.as_str(), object]))? > 0))
            .await
    }

    async fn put_page_subscription(&self, s: PageSubscription) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                // The first app installed on a Page is its primary receiver, later
                // ones secondary; installing again changes the fields only.
                q(c.execute(
                    "INSERT INTO page_subscriptions (page_id, app_id, fields, receiver_role) VALUES (?1, ?2, ?3,
                        CASE WHEN EXISTS (SELECT 1 FROM page_subscriptions WHERE page_id = ?1 AND receiver_role = ?4) THEN ?5 ELSE ?4 END)
                     ON CONFLICT (page_id, app_id) DO UPDATE SET fields = excluded.fields",
                    params![
                        s.page.as_str(),
                        s.app.as_str(),
                        codec::fields_text(&s.fields),
                        codec::text(ReceiverRole::Primary),
                        codec::text(ReceiverRole::Secondary)
                    ],
                ))?;
                Ok(())
            })
            .await
    }

    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT page_id, app_id, fields FROM page_subscriptions WHERE page_id = ?1 ORDER BY app_id")?
                    .all([page.as_str()], |r| codec::page_subscription(r))
            })
            .await
    }

    async fn installed_pages(&self, app: &AppId) -> StoreResult<Vec<PageSubscription>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT page_id, app_id, fields FROM page_subscriptions WHERE app_id = ?1 ORDER BY page_id")?
                    .all([app.as_str()], |r| codec::page_subscription(r))
            })
            .await
    }

    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .write(move |c| uninstall(c, &page, &app))
            .await
    }

    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                cached(
                    c,
                    "SELECT ps.app_id, ps.fields AS page_fields, s.fields AS app_fields FROM page_subscriptions ps
                     JOIN app_subscriptions s ON s.app_id = ps.app_id AND s.object = 'page' AND s.active = 1
                     WHERE ps.page_id = ?1 ORDER BY ps.app_id",
                )?
                .all([page.as_str()], |r| {
                    let page_fields = codec::fields("page_fields", &r.text("page_fields")?)?;
                    let app_fields = codec::fields("app_fields", &r.text("app_fields")?)?;
                    Ok(WebhookTarget {
                        app: AppId(r.text("app_id")?),
                        fields: page_fields.into_iter().filter(|f| app_fields.contains(f)).collect(),
                    })
                })
            })
            .await
    }
}

/// Removes the app from the Page; the threads it owned are no one's now.
pub(crate) fn uninstall(c: &Connection, page: &PageId, app: &AppId) -> StoreResult<bool> {
    let removed = q(c.execute("DELETE FROM page_subscriptions WHERE page_id = ?1 AND app_id = ?2", params![page.as_str(), app.as_str()]))? > 0;
    q(c.execute(
        "UPDATE threads SET owner_app_id = NULL, owner_since = NULL, agent_id = NULL WHERE page_id = ?1 AND owner_app_id = ?2",
        params![page.as_str(), app.as_str()],
    ))?;
    Ok(removed)
}
