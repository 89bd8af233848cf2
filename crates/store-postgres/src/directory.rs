//! Persons, Pages and apps (`persons`, `pages`, `apps`, `app_audit`), the roles
//! persons hold on them (`app_roles`, `page_roles`), the grants of Pages to apps
//! (`page_grants`), phone numbers, Page features (`page_features`), and the scoped ids
//! a person is known by (`psids`, `asids`). Quotas are counted under the owner's row
//! lock, a Page's last admin is kept under the Page's, so both hold across nodes.

use crate::columns::PgRow;
use crate::errors::pg;
use crate::tokens::register_page_token;
use crate::PostgresStore;
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use switchboard_domain::*;
use switchboard_store::codec::{self, Answer, Columns, FeatureStatus, TokenKind};
use switchboard_store::*;
use tokio_postgres::types::ToSql;

async fn insert_person(client: &impl GenericClient, person: NewPerson) -> StoreResult<Person> {
    let row = client
        .query_one(
            "INSERT INTO persons (name, login, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&person.name, &person.login, &person.password_hash, &person.created_at],
        )
        .await
        .map_err(|e| pg(e).conflict_as(Conflict::LoginTaken(person.login.clone())))?;
    Ok(Person { id: PersonId(PgRow(&row).int("id")?), name: person.name, login: person.login })
}

/// Locks a person's row for the rest of the transaction (their quotas are counted
/// under it).
async fn lock_person(tx: &Transaction<'_>, person: PersonId) -> StoreResult<()> {
    tx.execute("SELECT 1 FROM persons WHERE id = $1 FOR UPDATE", &[&person.0]).await.map_err(pg)?;
    Ok(())
}

/// Revokes, for good, the live Page tokens matching `filter` (a condition on the
/// tokens table's `page_id`, `app_id`, `person_id` with the parameters `values`), and
/// moves the epoch of each (Page, app, person) they belong to, so that the next one
/// derived is new. The epoch rows are locked as `tokens::register_page_token` locks
/// them.
pub(crate) async fn revoke_page_tokens(tx: &Transaction<'_>, filter: &str, values: &[&(dyn ToSql + Sync)]) -> StoreResult<()> {
    // The kind is spelled in the SQL itself, as the partial index of live Page tokens
    // is, so that any plan may use that index.
    let page = codec::text(TokenKind::Page);
    tx.execute(
        &format!(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch)
             SELECT DISTINCT page_id, app_id, person_id, 1 FROM tokens WHERE kind = '{page}' AND NOT revoked AND {filter}
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = page_token_epochs.epoch + 1"
        ),
        values,
    )
    .await
    .map_err(pg)?;
    tx.execute(&format!("UPDATE tokens SET revoked = TRUE WHERE kind = '{page}' AND NOT revoked AND {filter}"), values).await.map_err(pg)?;
    Ok(())
}

async fn approve_page_feature(client: &impl GenericClient, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
    let changed = client
        .execute(
            "UPDATE page_features SET status = $4, approved_at = $3 WHERE page_id = $1 AND feature = $2",
            &[&page.0, &codec::text(feature), &at, &codec::text(FeatureStatus::Approved)],
        )
        .await
        .map_err(pg)?;
    if changed == 0 {
        return Err(StoreError::NotFound(Missing::FeatureApplication { page: page.clone(), feature }));
    }
    Ok(())
}

/// Gets or creates a scoped id (`psids` by Page, `asids` by app): exactly one per
/// (person, scope) even when nodes race, thanks to the keys and `ON CONFLICT`.
async fn scoped_id(client: &deadpool_postgres::Object, table: &str, scope_column: &str, id_column: &str, person: PersonId, scope: &str) -> StoreResult<String> {
    let select = format!("SELECT {id_column} FROM {table} WHERE person_id = $1 AND {scope_column} = $2");
    let insert = format!("INSERT INTO {table} (person_id, {scope_column}, {id_column}) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
    for _ in 0..8 {
        if let Some(row) = client.query_opt(&select, &[&person.0, &scope]).await.map_err(pg)? {
            return PgRow(&row).text(id_column);
        }
        // Nothing inserted means a racer won (found next round) or the random id
        // collided within the scope (a new one next round).
        client.execute(&insert, &[&person.0, &scope, &random_node_id()]).await.map_err(pg)?;
    }
    let row = client.query_one(&select, &[&person.0, &scope]).await.map_err(pg)?;
    PgRow(&row).text(id_column)
}

#[async_trait]
impl DirectoryStore for PostgresStore {
    async fn create_person(&self, person: NewPerson) -> StoreResult<Person> {
        insert_person(&self.client().await?, person).await
    }

    async fn create_test_user(&self, person: NewPerson, app: &AppId, consent: Scopes) -> StoreResult<Person> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let at = person.created_at;
        let person = insert_person(&tx, person).await?;
        tx.execute("UPDATE persons SET test_user_of = $2 WHERE id = $1", &[&person.id.0, &app.0]).await.map_err(pg)?;
        crate::consent::upsert_answers(&tx, person.id, app, consent, Answer::Granted, at).await?;
        tx.execute("INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, $3)", &[&app.0, &person.id.0, &codec::text(AppRole::Tester)])
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(person)
    }

    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>> {
        let row = self.client().await?.query_opt("SELECT id, name, login FROM persons WHERE id = $1", &[&id.0]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::person(&PgRow(r))).transpose()
    }

    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT id, name, login, password_hash FROM persons WHERE login = $1 AND NOT disabled", &[&login])
            .await
            .map_err(pg)?;
        row.as_ref()
            .map(|r| {
                let row = PgRow(r);
                Ok((codec::person(&row)?, row.text("password_hash")?))
            })
            .transpose()
    }

    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if let Some(admin) = admin {
            // The person's row lock serializes their concurrent creations, so the
            // quota is exact across nodes.
            lock_person(&tx, admin.person).await?;
            let row = tx.query_one("SELECT COUNT(*) AS held FROM page_roles WHERE person_id = $1", &[&admin.person.0]).await.map_err(pg)?;
            if admin.quota > 0 && PgRow(&row).int("held")? >= i64::from(admin.quota) {
                return Err(StoreError::QuotaExceeded(Quota::PagesPerPerson(admin.quota)));
            }
        }
        tx.execute("INSERT INTO pages (id, name, username) VALUES ($1, $2, $3)", &[&page.id.0, &page.name, &page.username])
            .await
            .map_err(|e| pg(e).conflict_as(Conflict::UsernameTaken(page.username.clone())))?;
        if let Some(admin) = admin {
            tx.execute(
                "INSERT INTO page_roles (page_id, person_id, role) VALUES ($1, $2, $3)",
                &[&page.id.0, &admin.person.0, &codec::text(PageRole::Admin)],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>> {
        let row = self.client().await?.query_opt("SELECT id, name, username FROM pages WHERE id = $1", &[&id.0]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::page(&PgRow(r))).transpose()
    }

    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>> {
        let row = self.client().await?.query_opt("SELECT id, name, username FROM pages WHERE username = $1", &[&username]).await.map_err(pg)?;
        row.as_ref().map(|r| codec::page(&PgRow(r))).transpose()
    }

    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let role = codec::text(AppRole::Administrator);
        if let Some(owner) = administrator {
            lock_person(&tx, owner.person).await?;
            let row = tx
                .query_one("SELECT COUNT(*) AS held FROM app_roles WHERE person_id = $1 AND role = $2", &[&owner.person.0, &role])
                .await
                .map_err(pg)?;
            if owner.quota > 0 && PgRow(&row).int("held")? >= i64::from(owner.quota) {
                return Err(StoreError::QuotaExceeded(Quota::AppsPerPerson(owner.quota)));
            }
        }
        tx.execute(
            "INSERT INTO apps (id, name, mode, secret_generation, require_proof) VALUES ($1, $2, $3, $4, $5)",
            &[&app.id.0, &app.name, &codec::text(app.mode), &(app.secret_generation as i32), &app.require_proof],
        )
        .await
        .map_err(pg)?;
        if let Some(owner) = administrator {
            tx.execute("INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, $3)", &[&app.id.0, &owner.person.0, &role])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn app(&self, id: &AppId) -> StoreResult<Option<App>> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {} FROM apps a WHERE a.id = $1", crate::consent::app_columns()), &[&id.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| codec::app(&PgRow(r))).transpose()
    }

    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let changed = tx
            .execute(
                "UPDATE apps SET name = $2, mode = $3, secret_generation = $4, require_proof = $5 WHERE id = $1",
                &[&app.id.0, &app.name, &codec::text(app.mode), &(app.secret_generation as i32), &app.require_proof],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Err(StoreError::NotFound(Missing::App(app.id.clone())));
        }
        if let Some(audit) = audit {
            tx.execute(
                "INSERT INTO app_audit (app_id, at, actor, change) VALUES ($1, $2, $3, $4)",
                &[&app.id.0, &audit.at, &audit.actor, &audit.change],
            )
            .await
            .map_err(pg)?;
        }
        if revoke_tokens {
            revoke_page_tokens(&tx, "app_id = $1", &[&app.id.0]).await?;
            tx.execute("UPDATE tokens SET revoked = TRUE WHERE app_id = $1 AND kind = $2 AND NOT revoked", &[&app.id.0, &codec::text(TokenKind::User)])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn enforce_policy(&self, app: &AppId, from: PolicyState, to: PolicyState, audit: AuditRecord, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Conditional on the state the operator saw: of two racing actions, one wins.
        let changed = tx
            .execute("UPDATE apps SET policy_state = $3 WHERE id = $1 AND policy_state = $2", &[&app.0, &codec::text(from), &codec::text(to)])
            .await
            .map_err(pg)?;
        if changed == 0 {
            let exists = tx.query_opt("SELECT 1 FROM apps WHERE id = $1", &[&app.0]).await.map_err(pg)?.is_some();
            return if exists { Ok(false) } else { Err(StoreError::NotFound(Missing::App(app.clone()))) };
        }
        tx.execute("INSERT INTO app_audit (app_id, at, actor, change) VALUES ($1, $2, $3, $4)", &[&app.0, &audit.at, &audit.actor, &audit.change])
            .await
            .map_err(pg)?;
        crate::outbox::insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>> {
        let rows = self
            .client()
            .await?
            .query("SELECT at, actor, change FROM app_audit WHERE app_id = $1 ORDER BY id", &[&app.0])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::audit_record(&PgRow(r))).collect()
    }

    async fn set_app_role(&self, app: &AppId, person: PersonId, role: Option<AppRole>) -> StoreResult<()> {
        let client = self.client().await?;
        match role {
            Some(role) => {
                client
                    .execute(
                        "INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, $3) ON CONFLICT (app_id, person_id) DO UPDATE SET role = excluded.role",
                        &[&app.0, &person.0, &codec::text(role)],
                    )
                    .await
            }
            None => client.execute("DELETE FROM app_roles WHERE app_id = $1 AND person_id = $2", &[&app.0, &person.0]).await,
        }
        .map_err(pg)?;
        Ok(())
    }

    async fn app_role(&self, app: &AppId, person: PersonId) -> StoreResult<Option<AppRole>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT role FROM app_roles WHERE app_id = $1 AND person_id = $2", &[&app.0, &person.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| PgRow(r).known("role")).transpose()
    }

    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if role != Some(PageRole::Admin) {
            // Leaving the admins (removed, or made an agent). The Page's row lock
            // serializes admins removing each other at once, so that one of them
            // always stays; the Page tokens granted on this person's behalf end.
            tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&page.0]).await.map_err(pg)?;
            let row = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM page_roles WHERE page_id = $1 AND person_id = $2 AND role = $3) AS is_admin,
                            (SELECT COUNT(*) FROM page_roles WHERE page_id = $1 AND person_id <> $2 AND role = $3) AS others",
                    &[&page.0, &person.0, &codec::text(PageRole::Admin)],
                )
                .await
                .map_err(pg)?;
            let row = PgRow(&row);
            if row.flag("is_admin")? && row.int("others")? == 0 {
                return Err(StoreError::Conflict(Conflict::LastPageAdmin));
            }
            revoke_page_tokens(&tx, "page_id = $1 AND person_id = $2", &[&page.0, &person.0]).await?;
        }
        match role {
            Some(role) => {
                tx.execute(
                    "INSERT INTO page_roles (page_id, person_id, role) VALUES ($1, $2, $3) ON CONFLICT (page_id, person_id) DO UPDATE SET role = excluded.role",
                    &[&page.0, &person.0, &codec::text(role)],
                )
                .await
                .map_err(pg)?;
            }
            None => {
                tx.execute("DELETE FROM page_roles WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0]).await.map_err(pg)?;
            }
        }
        tx.commit().await.map_err(pg)
    }

    async fn page_role(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageRole>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT role FROM page_roles WHERE page_id = $1 AND person_id = $2", &[&page.0, &person.0])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| PgRow(r).known("role")).transpose()
    }

    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32> {
        let PageGrant { page, app, by, at, max_apps, consent } = grant;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&page.0]).await.map_err(pg)?;
        let row = tx
            .query_one(
                "SELECT COUNT(*) AS granted, NOT EXISTS(SELECT 1 FROM page_grants WHERE page_id = $1 AND app_id = $2) AS new
                 FROM page_grants WHERE page_id = $1",
                &[&page.0, &app.0],
            )
            .await
            .map_err(pg)?;
        let row = PgRow(&row);
        if row.flag("new")? && max_apps > 0 && row.int("granted")? >= i64::from(max_apps) {
            return Err(StoreError::QuotaExceeded(Quota::AppsPerPage(max_apps)));
        }
        tx.execute(
            "INSERT INTO page_grants (page_id, app_id, granted_by, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (page_id, app_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = excluded.granted_at",
            &[&page.0, &app.0, &by.0, &at],
        )
        .await
        .map_err(pg)?;
        crate::consent::upsert_answers(&tx, by, &app, consent, Answer::Granted, at).await?;
        let epoch = register_page_token(&tx, &page, &app, by, at, &token).await?;
        tx.commit().await.map_err(pg)?;
        Ok(epoch)
    }

    async fn revoke_page_grant(&self, page: &PageId, app: &AppId, trail: PrivacyTrail) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        revoke_page_tokens(&tx, "page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await?;
        crate::subscriptions::uninstall(&tx, page, app).await?;
        // Webhooks stop: the app's events of the Page not delivered yet are dropped.
        tx.execute("DELETE FROM outbox WHERE app_id = $1 AND page_id = $2 AND settled_at IS NULL", &[&app.0, &page.0]).await.map_err(pg)?;
        let deleted = tx.execute("DELETE FROM page_grants WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await.map_err(pg)?;
        if deleted > 0 {
            crate::privacy::insert_trail(&tx, &trail).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn page_granted(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT 1 FROM page_grants WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0])
            .await
            .map_err(pg)?;
        Ok(row.is_some())
    }

    async fn granted_pages_of(&self, person: PersonId, app: &AppId) -> StoreResult<Vec<Page>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT p.id, p.name, p.username FROM pages p
                 JOIN page_roles r ON r.page_id = p.id AND r.person_id = $1 AND r.role = $3
                 JOIN page_grants g ON g.page_id = p.id AND g.app_id = $2
                 ORDER BY p.name, p.id",
                &[&person.0, &app.0, &codec::text(PageRole::Admin)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page(&PgRow(r))).collect()
    }

    async fn set_phone(&self, person: PersonId, phone: Option<&str>, at: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE persons SET phone_number = $2, phone_verified_at = CASE WHEN $2::text IS NULL THEN NULL ELSE $3::bigint END WHERE id = $1",
                &[&person.0, &phone, &at],
            )
            .await
            .map_err(|e| pg(e).conflict_as(Conflict::PhoneTaken))?;
        Ok(())
    }

    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT id, phone_verified_at FROM persons WHERE phone_number = $1", &[&phone])
            .await
            .map_err(pg)?;
        row.as_ref()
            .map(|r| {
                let row = PgRow(r);
                Ok((PersonId(row.int("id")?), row.int("phone_verified_at")?))
            })
            .transpose()
    }

    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT phone_number, phone_verified_at FROM persons WHERE id = $1 AND phone_number IS NOT NULL", &[&person.0])
            .await
            .map_err(pg)?;
        row.as_ref()
            .map(|r| {
                let row = PgRow(r);
                Ok((row.text("phone_number")?, row.int("phone_verified_at")?))
            })
            .transpose()
    }

    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Applying again keeps an approval already given.
        tx.execute(
            "INSERT INTO page_features (page_id, feature, status, applied_by, applied_at) VALUES ($1, $2, $5, $3, $4)
             ON CONFLICT (page_id, feature) DO NOTHING",
            &[&page.0, &codec::text(feature), &by.map(|p| p.0), &at, &codec::text(FeatureStatus::Applied)],
        )
        .await
        .map_err(pg)?;
        if approve {
            approve_page_feature(&tx, page, feature, at).await?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn approve_page_feature(&self, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
        approve_page_feature(&self.client().await?, page, feature, at).await
    }

    async fn page_features(&self, page: &PageId) -> StoreResult<Vec<PageFeatureState>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT feature, status, applied_by, applied_at, approved_at FROM page_features WHERE page_id = $1 ORDER BY feature",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| codec::page_feature(&PgRow(r))).collect()
    }

    async fn psid(&self, person: PersonId, page: &PageId) -> StoreResult<Psid> {
        scoped_id(&self.client().await?, "psids", "page_id", "psid", person, page.as_str()).await.map(Psid)
    }

    async fn person_by_psid(&self, page: &PageId, psid: &str) -> StoreResult<Option<PersonId>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT person_id FROM psids WHERE page_id = $1 AND psid = $2", &[&page.0, &psid])
            .await
            .map_err(pg)?;
        row.as_ref().map(|r| PgRow(r).int("person_id").map(PersonId)).transpose()
    }

    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid> {
        scoped_id(&self.client().await?, "asids", "app_id", "asid", person, app.as_str()).await.map(Asid)
    }
}
