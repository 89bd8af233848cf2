//! Consent in PostgreSQL: `app_redirect_uris`, `login_codes`, `user_permissions`,
//! `permission_reviews`, test users (`persons.test_user_of`, `persons.disabled`) and
//! `businesses` with the apps and Pages they own.

use crate::columns::PgRow;
use crate::directory::revoke_page_tokens;
use crate::errors::pg;
use crate::PostgresStore;
use async_trait::async_trait;
use deadpool_postgres::Transaction;
use switchboard_domain::*;
use switchboard_store::codec::{self, Answer, Columns, TokenKind};
use switchboard_store::*;

/// The columns of `apps` row `a` that `codec::app` reads, its approved permissions
/// among them.
pub(crate) fn app_columns() -> String {
    let approved = codec::text(ReviewStatus::Approved);
    format!(
        "a.id, a.name, a.mode, a.secret_generation, a.require_proof, a.policy_state,
         (SELECT string_agg(v.permission, ',') FROM permission_reviews v WHERE v.app_id = a.id AND v.status = '{approved}') AS approved"
    )
}

pub(crate) async fn upsert_answers(tx: &Transaction<'_>, person: PersonId, app: &AppId, permissions: Scopes, answer: Answer, at: Millis) -> StoreResult<()> {
    let names: Vec<&str> = permissions.names();
    tx.execute(
        "INSERT INTO user_permissions (person_id, app_id, permission, status, at) SELECT $1, $2, p, $4, $5 FROM UNNEST($3::text[]) AS p
         ON CONFLICT (person_id, app_id, permission) DO UPDATE SET status = excluded.status, at = excluded.at",
        &[&person.0, &app.0, &names, &codec::text(answer), &at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

#[async_trait]
impl ConsentStore for PostgresStore {
    async fn redirect_uris(&self, app: &AppId) -> StoreResult<Vec<String>> {
        let rows = self.client().await?.query("SELECT uri FROM app_redirect_uris WHERE app_id = $1 ORDER BY uri", &[&app.0]).await.map_err(pg)?;
        rows.iter().map(|r| PgRow(r).text("uri")).collect()
    }

    async fn set_redirect_uris(&self, app: &AppId, uris: &[String]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("DELETE FROM app_redirect_uris WHERE app_id = $1", &[&app.0]).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO app_redirect_uris (app_id, uri) SELECT $1, u FROM UNNEST($2::text[]) AS u ON CONFLICT DO NOTHING",
            &[&app.0, &uris],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn insert_login_code(&self, digest: &str, code: LoginCode) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO login_codes (digest, app_id, person_id, redirect_uri, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[&digest, &code.app.0, &code.person.0, &code.redirect_uri, &code.expires_at],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn redeem_login_code(&self, digest: &str) -> StoreResult<Redemption> {
        let client = self.client().await?;
        // One statement: of two nodes redeeming at once, only one flips `used`.
        let row = client
            .query_opt(
                "WITH spent AS (UPDATE login_codes SET used = TRUE WHERE digest = $1 AND NOT used RETURNING digest)
                 SELECT app_id, person_id, redirect_uri, expires_at, EXISTS(SELECT 1 FROM spent) AS spent_now FROM login_codes WHERE digest = $1",
                &[&digest],
            )
            .await
            .map_err(pg)?;
        let Some(row) = row else { return Ok(Redemption::Unknown) };
        let row = PgRow(&row);
        let code = codec::login_code(&row)?;
        Ok(if row.flag("spent_now")? { Redemption::Redeemed(code) } else { Redemption::Used(code) })
    }

    async fn record_consent(&self, person: PersonId, app: &AppId, granted: Scopes, declined: Scopes, at: Millis) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        upsert_answers(&tx, person, app, granted, Answer::Granted, at).await?;
        upsert_answers(&tx, person, app, declined.without(granted), Answer::Declined, at).await?;
        tx.commit().await.map_err(pg)
    }

    async fn consent(&self, person: PersonId, app: &AppId) -> StoreResult<Consent> {
        let rows = self
            .client()
            .await?
            .query("SELECT permission, status FROM user_permissions WHERE person_id = $1 AND app_id = $2", &[&person.0, &app.0])
            .await
            .map_err(pg)?;
        let mut consent = Consent::default();
        for row in &rows {
            let row = PgRow(row);
            // A permission this version does not know is left out.
            let Some(permission) = Permission::parse(&row.text("permission")?) else { continue };
            match row.known::<Answer>("status")? {
                Answer::Granted => consent.granted.insert(permission),
                Answer::Declined => consent.declined.insert(permission),
            }
        }
        Ok(consent)
    }

    async fn withdraw_permission(&self, person: PersonId, app: &AppId, permission: Permission, at: Millis) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE user_permissions SET status = $4, at = $5 WHERE person_id = $1 AND app_id = $2 AND permission = $3 AND status = $6",
                &[&person.0, &app.0, &codec::text(permission), &codec::text(Answer::Declined), &at, &codec::text(Answer::Granted)],
            )
            .await
            .map_err(pg)?;
        Ok(changed > 0)
    }

    async fn deauthorize(&self, person: PersonId, app: &AppId, trail: PrivacyTrail) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("DELETE FROM user_permissions WHERE person_id = $1 AND app_id = $2", &[&person.0, &app.0]).await.map_err(pg)?;
        tx.execute(
            "UPDATE tokens SET revoked = TRUE WHERE kind = $3 AND NOT revoked AND person_id = $1 AND app_id = $2",
            &[&person.0, &app.0, &codec::text(TokenKind::User)],
        )
        .await
        .map_err(pg)?;
        revoke_page_tokens(&tx, "person_id = $1 AND app_id = $2", &[&person.0, &app.0]).await?;
        crate::privacy::insert_trail(&tx, &trail).await?;
        tx.commit().await.map_err(pg)
    }

    async fn submit_review(&self, app: &AppId, permissions: Scopes, note: &str, at: Millis) -> StoreResult<()> {
        let names: Vec<&str> = permissions.names();
        self.client()
            .await?
            .execute(
                "INSERT INTO permission_reviews (app_id, permission, status, note, submitted_at) SELECT $1, p, $3, $4, $5 FROM UNNEST($2::text[]) AS p
                 ON CONFLICT (app_id, permission) DO UPDATE SET status = excluded.status, note = excluded.note,
                     submitted_at = excluded.submitted_at, reason = NULL, decided_at = NULL
                 WHERE permission_reviews.status <> $6",
                &[&app.0, &names, &codec::text(ReviewStatus::Pending), &note, &at, &codec::text(ReviewStatus::Approved)],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn decide_review(&self, app: &AppId, permission: Permission, approve: bool, reason: Option<&str>, at: Millis) -> StoreResult<()> {
        let status = if approve { ReviewStatus::Approved } else { ReviewStatus::Declined };
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE permission_reviews SET status = $3, reason = $4, decided_at = $5 WHERE app_id = $1 AND permission = $2",
                &[&app.0, &codec::text(permission), &codec::text(status), &reason, &at],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Err(StoreError::NotFound(Missing::Review { app: app.clone(), permission }));
        }
        Ok(())
    }

    async fn reviews(&self, app: &AppId) -> StoreResult<Vec<PermissionReview>> {
        let rows = self
            .client()
            .await?
            .query("SELECT permission, status, note, reason, submitted_at, decided_at FROM permission_reviews WHERE app_id = $1 ORDER BY permission", &[&app.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::permission_review(&PgRow(r))).collect()
    }

    async fn pending_reviews(&self) -> StoreResult<Vec<(App, Vec<PermissionReview>)>> {
        let client = self.client().await?;
        let pending = codec::text(ReviewStatus::Pending);
        let apps = client
            .query(
                &format!(
                    "SELECT {} FROM apps a WHERE EXISTS (SELECT 1 FROM permission_reviews v WHERE v.app_id = a.id AND v.status = $1) ORDER BY a.name, a.id",
                    app_columns()
                ),
                &[&pending],
            )
            .await
            .map_err(pg)?;
        let mut out = Vec::new();
        for row in &apps {
            let app = codec::app(&PgRow(row))?;
            let reviews = client
                .query(
                    "SELECT permission, status, note, reason, submitted_at, decided_at FROM permission_reviews WHERE app_id = $1 AND status = $2 ORDER BY permission",
                    &[&app.id.0, &pending],
                )
                .await
                .map_err(pg)?;
            let reviews = reviews.iter().map(|r| codec::permission_review(&PgRow(r))).collect::<StoreResult<Vec<_>>>()?;
            out.push((app, reviews));
        }
        Ok(out)
    }

    async fn test_users(&self, app: &AppId) -> StoreResult<Vec<Person>> {
        let rows = self
            .client()
            .await?
            .query("SELECT id, name, login FROM persons WHERE test_user_of = $1 AND NOT disabled ORDER BY id", &[&app.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::person(&PgRow(r))).collect()
    }

    async fn delete_test_user(&self, app: &AppId, person: PersonId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let changed = tx
            .execute(
                "UPDATE persons SET disabled = TRUE, password_hash = '!' WHERE id = $1 AND test_user_of = $2 AND NOT disabled",
                &[&person.0, &app.0],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Ok(false);
        }
        tx.execute("DELETE FROM app_roles WHERE person_id = $1", &[&person.0]).await.map_err(pg)?;
        tx.execute("DELETE FROM user_permissions WHERE person_id = $1", &[&person.0]).await.map_err(pg)?;
        revoke_page_tokens(&tx, "person_id = $1", &[&person.0]).await?;
        tx.execute("UPDATE tokens SET revoked = TRUE WHERE person_id = $1 AND NOT revoked", &[&person.0]).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn create_business(&self, business: Business) -> StoreResult<()> {
        self.client()
            .await?
            .execute("INSERT INTO businesses (id, name, admin_id) VALUES ($1, $2, $3)", &[&business.id, &business.name, &business.admin.map(|p| p.0)])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn business(&self, id: &str) -> StoreResult<Option<Business>> {
        let row = self.client().await?.query_opt("SELECT id, name, admin_id FROM businesses WHERE id = $1", &[&id]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::business(&PgRow(r))).transpose()
    }

    async fn businesses(&self, admin: Option<PersonId>) -> StoreResult<Vec<Business>> {
        let rows = self
            .client()
            .await?
            .query("SELECT id, name, admin_id FROM businesses WHERE $1::bigint IS NULL OR admin_id = $1 ORDER BY name, id", &[&admin.map(|p| p.0)])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::business(&PgRow(r))).collect()
    }

    async fn assign_to_business(&self, business: &str, asset: BusinessAsset) -> StoreResult<()> {
        let client = self.client().await?;
        let (sql, id) = match &asset {
            BusinessAsset::App(app) => ("UPDATE apps SET business_id = $1 WHERE id = $2", app.as_str()),
            BusinessAsset::Page(page) => ("UPDATE pages SET business_id = $1 WHERE id = $2", page.as_str()),
        };
        if client.execute(sql, &[&business, &id]).await.map_err(pg)? == 0 {
            return Err(StoreError::NotFound(Missing::Business(id.to_string())));
        }
        Ok(())
    }

    async fn business_of(&self, asset: BusinessAsset) -> StoreResult<Option<String>> {
        let (sql, id) = match &asset {
            BusinessAsset::App(app) => ("SELECT business_id FROM apps WHERE id = $1", app.as_str()),
            BusinessAsset::Page(page) => ("SELECT business_id FROM pages WHERE id = $1", page.as_str()),
        };
        let row = self.client().await?.query_opt(sql, &[&id]).await.map_err(pg)?;
        Ok(row.as_ref().map(|r| PgRow(r).opt_text("business_id")).transpose()?.flatten())
    }

    async fn person_by_asid(&self, app: &AppId, asid: &str) -> StoreResult<Option<PersonId>> {
        let row = self.client().await?.query_opt("SELECT person_id FROM asids WHERE app_id = $1 AND asid = $2", &[&app.0, &asid]).await.map_err(pg)?;
        row.as_ref().map(|r| Ok(PersonId(PgRow(r).int("person_id")?))).transpose()
    }

    async fn ids_for_pages(&self, person: PersonId, business: &str) -> StoreResult<Vec<(Page, Psid)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.username, s.psid FROM pages p JOIN psids s ON s.page_id = p.id AND s.person_id = $1
                 WHERE p.business_id = $2 ORDER BY p.name, p.id",
                &[&person.0, &business],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                Ok((codec::page(&row)?, Psid(row.text("psid")?)))
            })
            .collect()
    }

    async fn ids_for_apps(&self, person: PersonId, business: &str) -> StoreResult<Vec<(App, Asid)>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {}, s.asid FROM apps a JOIN asids s ON s.app_id = a.id AND s.person_id = $1 WHERE a.business_id = $2 ORDER BY a.name, a.id",
                    app_columns()
                ),
                &[&person.0, &business],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let row = PgRow(r);
                Ok((codec::app(&row)?, Asid(row.text("asid")?)))
            })
            .collect()
    }
}
