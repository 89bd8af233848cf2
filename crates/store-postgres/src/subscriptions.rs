//! Webhook subscriptions at both levels: an app's `object` webhook
//! (`app_subscriptions`) and the app installed on a Page with its fields
//! (`page_subscriptions`), and the targets they make of a Page's events. Fields are
//! stored as the codec spells them; an unknown one reads as `Corrupt`.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use switchboard_domain::*;
use switchboard_store::codec::{self, Columns};
use switchboard_store::*;

#[async_trait]
impl SubscriptionStore for PostgresStore {
    async fn put_app_subscription(&self, s: AppSubscription) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO app_subscriptions (app_id, object, callback_url, verify_token, fields, version, active, delivery)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (app_id, object) DO UPDATE SET callback_url = excluded.callback_url,
                    verify_token = excluded.verify_token, fields = excluded.fields,
                    version = excluded.version, active = excluded.active, delivery = excluded.delivery",
                &[&s.app.0, &s.object, &s.callback_url, &s.verify_token, &codec::fields_text(&s.fields), &s.version, &s.active, &codec::text(s.delivery)],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn app_subscriptions(&self, app: &AppId) -> StoreResult<Vec<AppSubscription>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT app_id, object, callback_url, verify_token, fields, version, active, delivery FROM app_subscriptions WHERE app_id = $1 ORDER BY object",
                &[&app.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::app_subscription(&PgRow(r))).collect()
    }

    async fn delete_app_subscription(&self, app: &AppId, object: &str) -> StoreResult<bool> {
        let deleted = self
            .client()
            .await?
            .execute("DELETE FROM app_subscriptions WHERE app_id = $1 AND object = $2", &[&app.0, &object])
            .await
            .map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn put_page_subscription(&self, s: PageSubscription) -> StoreResult<()> {
        // The first app installed on a Page is its primary receiver, later ones
        // secondary; installing again changes the fields only. The Page's row lock
        // keeps two first installs from both becoming primary.
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&s.page.0]).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO page_subscriptions (page_id, app_id, fields, receiver_role) VALUES ($1, $2, $3,
                CASE WHEN EXISTS (SELECT 1 FROM page_subscriptions WHERE page_id = $1 AND receiver_role = $4) THEN $5 ELSE $4 END)
             ON CONFLICT (page_id, app_id) DO UPDATE SET fields = excluded.fields",
            &[&s.page.0, &s.app.0, &codec::fields_text(&s.fields), &codec::text(ReceiverRole::Primary), &codec::text(ReceiverRole::Secondary)],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>> {
        let rows = self
            .client()
            .await?
            .query("SELECT page_id, app_id, fields FROM page_subscriptions WHERE page_id = $1 ORDER BY app_id", &[&page.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page_subscription(&PgRow(r))).collect()
    }

    async fn installed_pages(&self, app: &AppId) -> StoreResult<Vec<PageSubscription>> {
        let rows = self
            .client()
            .await?
            .query("SELECT page_id, app_id, fields FROM page_subscriptions WHERE app_id = $1 ORDER BY page_id", &[&app.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page_subscription(&PgRow(r))).collect()
    }

    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let deleted = uninstall(&tx, page, app).await?;
        tx.commit().await.map_err(pg)?;
        Ok(deleted)
    }

    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT ps.app_id, ps.fields AS page_fields, s.fields AS app_fields FROM page_subscriptions ps
                 JOIN app_subscriptions s ON s.app_id = ps.app_id AND s.object = 'page' AND s.active
                 WHERE ps.page_id = $1 ORDER BY ps.app_id",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                let app_fields = codec::fields("app_fields", &row.text("app_fields")?)?;
                let page_fields = codec::fields("page_fields", &row.text("page_fields")?)?;
                Ok(WebhookTarget { app: AppId(row.text("app_id")?), fields: page_fields.into_iter().filter(|f| app_fields.contains(f)).collect() })
            })
            .collect()
    }
}

/// Removes the app from the Page; the threads it owned are no one's now.
pub(crate) async fn uninstall(tx: &deadpool_postgres::Transaction<'_>, page: &PageId, app: &AppId) -> StoreResult<bool> {
    let deleted = tx.execute("DELETE FROM page_subscriptions WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await.map_err(pg)?;
    tx.execute(
        "UPDATE threads SET owner_app_id = NULL, owner_since = NULL, agent_id = NULL WHERE page_id = $1 AND owner_app_id = $2",
        &[&page.0, &app.0],
    )
    .await
    .map_err(pg)?;
    Ok(deleted > 0)
}
