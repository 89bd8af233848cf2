//! The PostgreSQL engine of the store, for several nodes sharing one database.
//!
//! Owns the SQL for PostgreSQL and nothing else: no rules, no HTTP. Each trait
//! method is one transaction (the Send API's appends are grouped, see `batch`).
//! Whatever must happen once across nodes is decided here by the database: unique
//! keys with `ON CONFLICT`, and outbox claims with `FOR UPDATE SKIP LOCKED`.

mod batch;
mod content;
mod delivery;
mod bus;
mod errors;
mod listings;
mod migrate;

pub use bus::PostgresBus;
pub use migrate::LATEST as SCHEMA_VERSION;

use async_trait::async_trait;
use errors::{conflict_as, pg, pool as pool_error};
use std::time::Duration;
use switchboard_domain::*;
use switchboard_store::*;
use tokio_postgres::{NoTls, Row};

pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database`
    pub url: String,
    pub pool_size: usize,
    pub statement_timeout_ms: u64,
    /// Connecting, or waiting for a pooled connection, longer than this fails with
    /// `Unavailable`: a node that lost the database answers instead of hanging.
    pub connect_timeout_ms: u64,
    /// A schema to create and use instead of `public` (tests isolate with it).
    pub schema: Option<String>,
}

pub struct PostgresStore {
    pool: deadpool_postgres::Pool,
    appends: batch::AppendBatcher,
}

impl PostgresStore {
    /// Connects, and applies migrations.
    pub async fn connect(config: PostgresConfig) -> StoreResult<Self> {
        let mut pg_config: tokio_postgres::Config =
            config.url.parse().map_err(|e| StoreError::Internal(format!("database URL: {e}")))?;
        let timeout = Duration::from_millis(config.connect_timeout_ms.max(1));
        let mut options = format!("-c statement_timeout={}", config.statement_timeout_ms);
        if let Some(schema) = &config.schema {
            // Created before the pool uses it as search_path.
            let (client, connection) = pg_config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(connection);
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(pg)?;
            options.push_str(&format!(" -c search_path={schema}"));
        }
        pg_config.options(&options).connect_timeout(timeout);
        let manager = deadpool_postgres::Manager::from_config(
            pg_config,
            NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(config.pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| StoreError::Internal(format!("pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_error)?;
        migrate::apply(&mut client).await?;
        drop(client);
        Ok(Self { appends: batch::AppendBatcher::start(pool.clone()), pool })
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

/// An outbox event from `id, app_id, page_id, person_id, field, body, created_at,
/// failures, first_failure_at`, in that order.
fn outbox_event_row(r: &Row) -> OutboxEvent {
    OutboxEvent {
        id: r.get(0),
        app: AppId(r.get(1)),
        page: PageId(r.get(2)),
        person: PersonId(r.get(3)),
        field: WebhookField::parse(r.get(4)).unwrap_or(WebhookField::Messages),
        body: r.get(5),
        created_at: r.get(6),
        failures: r.get::<_, i32>(7) as u32,
        first_failure_at: r.get(8),
    }
}

/// Inserts outbox rows for events that come without a message, each under its
/// thread's row lock, as every writer of outbox rows does (a thread's head is decided
/// under that lock; taking it again in the same transaction costs nothing).
async fn insert_events_locked(tx: &deadpool_postgres::Transaction<'_>, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let mut threads: Vec<(&str, i64)> = events.iter().map(|e| (e.page.as_str(), e.person.0)).collect();
    threads.sort();
    threads.dedup();
    for (page, person) in threads {
        tx.execute("SELECT 1 FROM threads WHERE page_id = $1 AND person_id = $2 FOR UPDATE", &[&page, &person]).await.map_err(pg)?;
    }
    for event in events {
        tx.execute(
            "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
             VALUES ($1, $2, $3, $4, $5, $6, $6, NOT EXISTS (
                SELECT 1 FROM outbox q WHERE q.app_id = $1 AND q.page_id = $2 AND q.person_id = $3 AND q.settled_at IS NULL))",
            &[&event.app.0, &event.page.0, &event.person.0, &event.field.as_str(), &event.body, &event.created_at],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

async fn insert_person(client: &impl deadpool_postgres::GenericClient, person: NewPerson) -> StoreResult<Person> {
    let row = client
        .query_one(
            "INSERT INTO persons (name, login, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&person.name, &person.login, &person.password_hash, &person.created_at],
        )
        .await
        .map_err(|e| conflict_as(pg(e), format!("the login {} is taken", person.login)))?;
    Ok(Person { id: PersonId(row.get(0)), name: person.name, login: person.login })
}

/// Registers the Page token of (Page, app, person) for the triple's epoch. The epoch
/// row is locked by an upsert, as every revocation locks it to move it on: a
/// revocation either comes first (and the token is minted for the new epoch) or
/// waits for this transaction (and revokes the token registered here).
async fn register_page_token(
    tx: &deadpool_postgres::Transaction<'_>,
    page: &PageId,
    app: &AppId,
    person: PersonId,
    at: Millis,
    token: &PageTokenMinter,
) -> StoreResult<u32> {
    let row = tx
        .query_one(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch) VALUES ($1, $2, $3, 0)
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = page_token_epochs.epoch
             RETURNING epoch",
            &[&page.0, &app.0, &person.0],
        )
        .await
        .map_err(pg)?;
    let epoch = row.get::<_, i32>(0) as u32;
    // Asked again, the same epoch derives the same token: registered once.
    tx.execute(
        "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at) VALUES ($1, 'page', $2, $3, $4, $5)
         ON CONFLICT (digest) DO NOTHING",
        &[&token(epoch), &person.0, &page.0, &app.0, &at],
    )
    .await
    .map_err(pg)?;
    Ok(epoch)
}

async fn approve_page_feature(client: &impl deadpool_postgres::GenericClient, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
    let changed = client
        .execute(
            "UPDATE page_features SET status = 'approved', approved_at = $3 WHERE page_id = $1 AND feature = $2",
            &[&page.0, &feature.as_str(), &at],
        )
        .await
        .map_err(pg)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("no application for {} on Page {page}", feature.as_str())));
    }
    Ok(())
}

fn optin_request_row(r: &Row) -> OptinRequest {
    OptinRequest {
        mid: Mid(r.get(0)),
        kind: OptinKind::parse(r.get(1)).unwrap_or(OptinKind::OneTime),
        page: PageId(r.get(2)),
        person: PersonId(r.get(3)),
        title: r.get(4),
        payload: r.get(5),
        created_at: r.get(6),
        tapped_at: r.get(7),
        token_expires_at: r.get(8),
        stopped_at: r.get(9),
        last_sent_at: r.get(10),
    }
}

fn fields_to_text(fields: &[WebhookField]) -> String {
    fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

fn fields_from_text(text: &str) -> Vec<WebhookField> {
    text.split(',').filter_map(WebhookField::parse).collect()
}

fn person_row(row: &Row) -> Person {
    Person { id: PersonId(row.get("id")), name: row.get("name"), login: row.get("login") }
}

fn page_row(row: &Row) -> Page {
    Page { id: PageId(row.get("id")), name: row.get("name"), username: row.get("username") }
}

fn app_row(row: &Row) -> App {
    let mode: String = row.get("mode");
    App {
        id: AppId(row.get("id")),
        name: row.get("name"),
        mode: if mode == "live" { AppMode::Live } else { AppMode::Development },
        secret_generation: row.get::<_, i32>("secret_generation") as u32,
        require_proof: row.get("require_proof"),
    }
}

fn mode_text(mode: AppMode) -> &'static str {
    match mode {
        AppMode::Development => "development",
        AppMode::Live => "live",
    }
}

fn message_row(row: &Row) -> Message {
    let direction: String = row.get("direction");
    Message {
        mid: Mid(row.get("mid")),
        page: PageId(row.get("page_id")),
        person: PersonId(row.get("person_id")),
        direction: if direction == "in" { Direction::Inbound } else { Direction::Outbound },
        app: row.get::<_, Option<String>>("app_id").map(AppId),
        text: row.get("text"),
        metadata: row.get("metadata"),
        attachment: row.get("attachment"),
        quick_replies: row.get("quick_replies"),
        reply_to: row.get::<_, Option<String>>("reply_to").map(Mid),
        persona: row.get("persona_id"),
        person_reaction: row.get("person_reaction"),
        page_reaction: row.get("page_reaction"),
        created_at: row.get("created_at"),
    }
}

fn token_row(row: &Row) -> Option<TokenRecord> {
    let kind: String = row.get("kind");
    let person = row.get::<_, Option<i64>>("person_id").map(PersonId);
    let page = row.get::<_, Option<String>>("page_id").map(PageId);
    let app = row.get::<_, Option<String>>("app_id").map(AppId);
    let grant = match (kind.as_str(), person, page, app) {
        ("user", Some(person), _, Some(app)) => TokenGrant::User { person, app },
        ("page", Some(person), Some(page), Some(app)) => TokenGrant::Page { page, app, person },
        ("session", Some(person), _, _) => TokenGrant::Session { person },
        ("operator", _, _, _) => TokenGrant::Operator,
        _ => return None,
    };
    Some(TokenRecord { hash: row.get("digest"), grant, issued_at: row.get("issued_at"), expires_at: row.get("expires_at") })
}

const MESSAGE_COLUMNS: &str =
    "mid, page_id, person_id, direction, app_id, text, metadata, attachment, created_at, quick_replies, reply_to, persona_id, person_reaction, page_reaction";

/// Gets or creates a scoped id (`psids` by Page, `asids` by app): exactly one per
/// (person, scope) even when nodes race, thanks to the keys and `ON CONFLICT`.
async fn scoped_id(client: &deadpool_postgres::Object, table: &str, scope_column: &str, id_column: &str, person: PersonId, scope: &str) -> StoreResult<String> {
    let select = format!("SELECT {id_column} FROM {table} WHERE person_id = $1 AND {scope_column} = $2");
    let insert = format!("INSERT INTO {table} (person_id, {scope_column}, {id_column}) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
    for _ in 0..8 {
        if let Some(row) = client.query_opt(&select, &[&person.0, &scope]).await.map_err(pg)? {
            return Ok(row.get(0));
        }
        // Nothing inserted means a racer won (found next round) or the random id
        // collided within the scope (a new one next round).
        client.execute(&insert, &[&person.0, &scope, &random_node_id()]).await.map_err(pg)?;
    }
    let row = client.query_one(&select, &[&person.0, &scope]).await.map_err(pg)?;
    Ok(row.get(0))
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.query_one("SELECT 1", &[]).await.map_err(pg)?;
        Ok(())
    }

    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let created = tx
            .execute("INSERT INTO operators (id, token_digest) VALUES (1, $1) ON CONFLICT DO NOTHING", &[&token_digest])
            .await
            .map_err(pg)?
            == 1;
        if created {
            tx.execute("INSERT INTO tokens (digest, kind, issued_at) VALUES ($1, 'operator', 0)", &[&token_digest]).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(created)
    }

    async fn create_person(&self, person: NewPerson) -> StoreResult<Person> {
        insert_person(&self.client().await?, person).await
    }

    async fn create_test_user(&self, person: NewPerson, app: &AppId) -> StoreResult<Person> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let person = insert_person(&tx, person).await?;
        tx.execute("INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, 'tester')", &[&app.0, &person.id.0]).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(person)
    }

    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>> {
        let row = self.client().await?.query_opt("SELECT id, name, login FROM persons WHERE id = $1", &[&id.0]).await.map_err(pg)?;
        Ok(row.as_ref().map(person_row))
    }

    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT id, name, login, password_hash FROM persons WHERE login = $1", &[&login])
            .await
            .map_err(pg)?;
        Ok(row.map(|r| (person_row(&r), r.get("password_hash"))))
    }

    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if let Some(admin) = admin {
            // The person's row lock serializes their concurrent creations, so the
            // quota is exact across nodes.
            lock_person(&tx, admin.person).await?;
            let held: i64 = tx.query_one("SELECT COUNT(*) FROM page_roles WHERE person_id = $1", &[&admin.person.0]).await.map_err(pg)?.get(0);
            if admin.quota > 0 && held >= admin.quota as i64 {
                return Err(StoreError::QuotaExceeded(format!("a person administers at most {} Pages", admin.quota)));
            }
        }
        tx.execute("INSERT INTO pages (id, name, username) VALUES ($1, $2, $3)", &[&page.id.0, &page.name, &page.username])
            .await
            .map_err(|e| conflict_as(pg(e), format!("the username {} is taken", page.username)))?;
        if let Some(admin) = admin {
            tx.execute("INSERT INTO page_roles (page_id, person_id, role) VALUES ($1, $2, 'admin')", &[&page.id.0, &admin.person.0]).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>> {
        let row = self.client().await?.query_opt("SELECT id, name, username FROM pages WHERE id = $1", &[&id.0]).await.map_err(pg)?;
        Ok(row.as_ref().map(page_row))
    }

    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>> {
        let row = self.client().await?.query_opt("SELECT id, name, username FROM pages WHERE username = $1", &[&username]).await.map_err(pg)?;
        Ok(row.as_ref().map(page_row))
    }

    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if let Some(owner) = administrator {
            lock_person(&tx, owner.person).await?;
            let held: i64 = tx
                .query_one("SELECT COUNT(*) FROM app_roles WHERE person_id = $1 AND role = 'administrator'", &[&owner.person.0])
                .await
                .map_err(pg)?
                .get(0);
            if owner.quota > 0 && held >= owner.quota as i64 {
                return Err(StoreError::QuotaExceeded(format!("a person administers at most {} apps", owner.quota)));
            }
        }
        tx.execute(
            "INSERT INTO apps (id, name, mode, secret_generation, require_proof) VALUES ($1, $2, $3, $4, $5)",
            &[&app.id.0, &app.name, &mode_text(app.mode), &(app.secret_generation as i32), &app.require_proof],
        )
        .await
        .map_err(pg)?;
        if let Some(owner) = administrator {
            tx.execute("INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, 'administrator')", &[&app.id.0, &owner.person.0])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn app(&self, id: &AppId) -> StoreResult<Option<App>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT id, name, mode, secret_generation, require_proof FROM apps WHERE id = $1", &[&id.0])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(app_row))
    }

    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let changed = tx
            .execute(
                "UPDATE apps SET name = $2, mode = $3, secret_generation = $4, require_proof = $5 WHERE id = $1",
                &[&app.id.0, &app.name, &mode_text(app.mode), &(app.secret_generation as i32), &app.require_proof],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("app {}", app.id)));
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
            tx.execute("UPDATE tokens SET revoked = TRUE WHERE app_id = $1 AND kind = 'user' AND NOT revoked", &[&app.id.0]).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>> {
        let rows = self
            .client()
            .await?
            .query("SELECT at, actor, change FROM app_audit WHERE app_id = $1 ORDER BY id", &[&app.0])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| AuditRecord { at: r.get(0), actor: r.get(1), change: r.get(2) }).collect())
    }

    async fn set_app_role(&self, app: &AppId, person: PersonId, role: Option<AppRole>) -> StoreResult<()> {
        let client = self.client().await?;
        match role {
            Some(role) => {
                client
                    .execute(
                        "INSERT INTO app_roles (app_id, person_id, role) VALUES ($1, $2, $3) ON CONFLICT (app_id, person_id) DO UPDATE SET role = excluded.role",
                        &[&app.0, &person.0, &role.as_str()],
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
        Ok(row.and_then(|r| AppRole::parse(r.get::<_, &str>(0))))
    }

    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        match role {
            Some(PageRole::Admin) => {
                tx.execute(
                    "INSERT INTO page_roles (page_id, person_id, role) VALUES ($1, $2, 'admin') ON CONFLICT (page_id, person_id) DO UPDATE SET role = excluded.role",
                    &[&page.0, &person.0],
                )
                .await
                .map_err(pg)?;
            }
            None => {
                // The Page's row lock serializes admins removing each other at once,
                // so that one of them always stays.
                tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&page.0]).await.map_err(pg)?;
                let row = tx
                    .query_one(
                        "SELECT EXISTS(SELECT 1 FROM page_roles WHERE page_id = $1 AND person_id = $2),
                                (SELECT COUNT(*) FROM page_roles WHERE page_id = $1 AND person_id <> $2 AND role = 'admin')",
                        &[&page.0, &person.0],
                    )
                    .await
                    .map_err(pg)?;
                let (is_admin, others): (bool, i64) = (row.get(0), row.get(1));
                if is_admin && others == 0 {
                    return Err(StoreError::Conflict("a Page keeps at least one admin: add another admin first".into()));
                }
                revoke_page_tokens(&tx, "page_id = $1 AND person_id = $2", &[&page.0, &person.0]).await?;
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
        Ok(row.map(|_| PageRole::Admin))
    }

    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32> {
        let PageGrant { page, app, by, at, max_apps } = grant;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE", &[&page.0]).await.map_err(pg)?;
        let row = tx
            .query_one(
                "SELECT COUNT(*), NOT EXISTS(SELECT 1 FROM page_grants WHERE page_id = $1 AND app_id = $2) FROM page_grants WHERE page_id = $1",
                &[&page.0, &app.0],
            )
            .await
            .map_err(pg)?;
        let (granted, new): (i64, bool) = (row.get(0), row.get(1));
        if new && max_apps > 0 && granted >= max_apps as i64 {
            return Err(StoreError::QuotaExceeded(format!("a Page has at most {max_apps} apps")));
        }
        tx.execute(
            "INSERT INTO page_grants (page_id, app_id, granted_by, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (page_id, app_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = excluded.granted_at",
            &[&page.0, &app.0, &by.0, &at],
        )
        .await
        .map_err(pg)?;
        let epoch = register_page_token(&tx, &page, &app, by, at, &token).await?;
        tx.commit().await.map_err(pg)?;
        Ok(epoch)
    }

    async fn revoke_page_grant(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        revoke_page_tokens(&tx, "page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await?;
        tx.execute("DELETE FROM page_subscriptions WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await.map_err(pg)?;
        let deleted = tx.execute("DELETE FROM page_grants WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0]).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let epoch = register_page_token(&tx, page, app, person, at, &token).await?;
        tx.commit().await.map_err(pg)?;
        Ok(epoch)
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
                 JOIN page_roles r ON r.page_id = p.id AND r.person_id = $1
                 JOIN page_grants g ON g.page_id = p.id AND g.app_id = $2
                 ORDER BY p.name, p.id",
                &[&person.0, &app.0],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(page_row).collect())
    }

    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()> {
        let (kind, person, page, app) = match &token.grant {
            TokenGrant::User { person, app } => ("user", Some(person.0), None, Some(app.as_str())),
            TokenGrant::Page { page, app, person } => ("page", Some(person.0), Some(page.as_str()), Some(app.as_str())),
            TokenGrant::Session { person } => ("session", Some(person.0), None, None),
            TokenGrant::Operator => ("operator", None, None, None),
        };
        self.client()
            .await?
            .execute(
                "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&token.hash, &kind, &person, &page, &app, &token.issued_at, &token.expires_at],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT digest, kind, person_id, page_id, app_id, issued_at, expires_at FROM tokens WHERE digest = $1 AND NOT revoked",
                &[&digest],
            )
            .await
            .map_err(pg)?;
        Ok(row.as_ref().and_then(token_row))
    }

    async fn revoke_token(&self, digest: &str) -> StoreResult<()> {
        self.client().await?.execute("UPDATE tokens SET revoked = TRUE WHERE digest = $1", &[&digest]).await.map_err(pg)?;
        Ok(())
    }

    async fn put_app_subscription(&self, s: AppSubscription) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO app_subscriptions (app_id, object, callback_url, verify_token, fields, version, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (app_id, object) DO UPDATE SET callback_url = excluded.callback_url,
                    verify_token = excluded.verify_token, fields = excluded.fields,
                    version = excluded.version, active = excluded.active",
                &[&s.app.0, &s.object, &s.callback_url, &s.verify_token, &fields_to_text(&s.fields), &s.version, &s.active],
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
                "SELECT app_id, object, callback_url, verify_token, fields, version, active FROM app_subscriptions WHERE app_id = $1 ORDER BY object",
                &[&app.0],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| AppSubscription {
                app: AppId(r.get(0)),
                object: r.get(1),
                callback_url: r.get(2),
                verify_token: r.get(3),
                fields: fields_from_text(r.get(4)),
                version: r.get(5),
                active: r.get(6),
            })
            .collect())
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
        self.client()
            .await?
            .execute(
                "INSERT INTO page_subscriptions (page_id, app_id, fields) VALUES ($1, $2, $3)
                 ON CONFLICT (page_id, app_id) DO UPDATE SET fields = excluded.fields",
                &[&s.page.0, &s.app.0, &fields_to_text(&s.fields)],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>> {
        let rows = self
            .client()
            .await?
            .query("SELECT page_id, app_id, fields FROM page_subscriptions WHERE page_id = $1 ORDER BY app_id", &[&page.0])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| PageSubscription { page: PageId(r.get(0)), app: AppId(r.get(1)), fields: fields_from_text(r.get(2)) }).collect())
    }

    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let deleted = self
            .client()
            .await?
            .execute("DELETE FROM page_subscriptions WHERE page_id = $1 AND app_id = $2", &[&page.0, &app.0])
            .await
            .map_err(pg)?;
        Ok(deleted > 0)
    }

    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT ps.app_id, ps.fields, s.fields FROM page_subscriptions ps
                 JOIN app_subscriptions s ON s.app_id = ps.app_id AND s.object = 'page' AND s.active
                 WHERE ps.page_id = $1 ORDER BY ps.app_id",
                &[&page.0],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| {
                let app_fields = fields_from_text(r.get(2));
                WebhookTarget { app: AppId(r.get(0)), fields: fields_from_text(r.get(1)).into_iter().filter(|f| app_fields.contains(f)).collect() }
            })
            .collect())
    }

    async fn set_phone(&self, person: PersonId, phone: Option<&str>, at: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE persons SET phone_number = $2, phone_verified_at = CASE WHEN $2::text IS NULL THEN NULL ELSE $3::bigint END WHERE id = $1",
                &[&person.0, &phone, &at],
            )
            .await
            .map_err(pg)
            .map_err(|e| conflict_as(e, "this phone number belongs to another person".into()))?;
        Ok(())
    }

    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT id, phone_verified_at FROM persons WHERE phone_number = $1", &[&phone])
            .await
            .map_err(pg)?;
        Ok(row.map(|r| (PersonId(r.get(0)), r.get(1))))
    }

    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT phone_number, phone_verified_at FROM persons WHERE id = $1 AND phone_number IS NOT NULL", &[&person.0])
            .await
            .map_err(pg)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Applying again keeps an approval already given.
        tx.execute(
            "INSERT INTO page_features (page_id, feature, status, applied_by, applied_at) VALUES ($1, $2, 'applied', $3, $4)
             ON CONFLICT (page_id, feature) DO NOTHING",
            &[&page.0, &feature.as_str(), &by.map(|p| p.0), &at],
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
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(PageFeatureState {
                    feature: PageFeature::parse(r.get(0))?,
                    approved: r.get::<_, &str>(1) == "approved",
                    applied_by: r.get::<_, Option<i64>>(2).map(PersonId),
                    applied_at: r.get(3),
                    approved_at: r.get(4),
                })
            })
            .collect())
    }

    async fn send_optin_request(&self, request: OptinRequest, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let opened = tx
            .execute(
                "INSERT INTO optin_requests (mid, kind, page_id, person_id, title, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
                &[&request.mid.0, &request.kind.as_str(), &request.page.0, &request.person.0, &request.title, &request.payload, &request.created_at],
            )
            .await
            .map_err(pg)?
            == 1;
        if !opened {
            return Ok(false);
        }
        batch::write_in(&tx, &[(&message, events.as_slice())]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn optin_request(&self, mid: &Mid) -> StoreResult<Option<OptinRequest>> {
        let row = self.client().await?.query_opt("SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE mid = $1", &[&mid.0]).await.map_err(pg)?;
        Ok(row.as_ref().map(optin_request_row))
    }

    async fn optin_requests_since(&self, page: &PageId, person: PersonId, since: Millis) -> StoreResult<Vec<OptinRequest>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE page_id = $1 AND person_id = $2 AND created_at >= $3 ORDER BY created_at",
                &[&page.0, &person.0, &since],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(optin_request_row).collect())
    }

    async fn tap_optin_request(
        &self,
        mid: &Mid,
        person: PersonId,
        token_digest: &str,
        expires_at: Millis,
        at: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let tapped = tx
            .execute(
                "UPDATE optin_requests SET tapped_at = $3, token_digest = $4, token_expires_at = $5
                 WHERE mid = $1 AND person_id = $2 AND tapped_at IS NULL",
                &[&mid.0, &person.0, &at, &token_digest, &expires_at],
            )
            .await
            .map_err(pg)?
            == 1;
        if !tapped {
            return Ok(false);
        }
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE token_digest = $1 AND page_id = $2", &[&token_digest, &page.0])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(optin_request_row))
    }

    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // The conditional update is the one step that decides, whichever nodes race.
        let spent = tx
            .execute(
                "UPDATE optin_requests SET last_sent_at = $3
                 WHERE token_digest = $1 AND page_id = $2 AND stopped_at IS NULL AND token_expires_at > $3
                   AND (last_sent_at IS NULL OR last_sent_at <= $4)",
                &[&spend.digest, &spend.page.0, &message.created_at, &spend.period_start],
            )
            .await
            .map_err(pg)?
            == 1;
        if !spent {
            return Ok(false);
        }
        batch::write_in(&tx, &[(&message, events.as_slice())]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("UPDATE optin_requests SET stopped_at = $2 WHERE mid = $1", &[&mid.0, &stopped_at]).await.map_err(pg)?;
        insert_events_locked(&tx, &events).await?;
        tx.commit().await.map_err(pg)
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
        Ok(row.map(|r| PersonId(r.get(0))))
    }

    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid> {
        scoped_id(&self.client().await?, "asids", "app_id", "asid", person, app.as_str()).await.map(Asid)
    }

    async fn append_message(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        self.appends.append(message, events).await
    }

    async fn advance_receipt(&self, page: &PageId, person: PersonId, receipt: Receipt, watermark: Millis, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO threads (page_id, person_id, last_message_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&page.0, &person.0, &watermark],
        )
        .await
        .map_err(pg)?;
        let sql = match receipt {
            Receipt::Delivered => "UPDATE threads SET delivered_watermark = $3 WHERE page_id = $1 AND person_id = $2 AND delivered_watermark < $3",
            // Reading implies delivery.
            Receipt::Read => {
                "UPDATE threads SET read_watermark = $3, delivered_watermark = GREATEST(delivered_watermark, $3)
                 WHERE page_id = $1 AND person_id = $2 AND read_watermark < $3"
            }
        };
        // The UPDATE holds the thread's row lock: outbox writers of a thread serialize on it.
        let advanced = tx.execute(sql, &[&page.0, &person.0, &watermark]).await.map_err(pg)? == 1;
        if advanced {
            insert_events_locked(&tx, &events).await?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(advanced)
    }

    async fn thread_state(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadState>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT last_person_at, delivered_watermark, read_watermark, page_seen_watermark FROM threads WHERE page_id = $1 AND person_id = $2",
                &[&page.0, &person.0],
            )
            .await
            .map_err(pg)?;
        Ok(row.map(|r| ThreadState { last_person_at: r.get(0), delivered_watermark: r.get(1), read_watermark: r.get(2), seen_watermark: r.get(3) }))
    }

    async fn mark_seen(&self, page: &PageId, person: PersonId, watermark: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE threads SET page_seen_watermark = GREATEST(page_seen_watermark, $3) WHERE page_id = $1 AND person_id = $2",
                &[&page.0, &person.0, &watermark],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn message(&self, mid: &Mid) -> StoreResult<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE mid = $1");
        let row = self.client().await?.query_opt(&sql, &[&mid.0]).await.map_err(pg)?;
        Ok(row.as_ref().map(message_row))
    }

    async fn thread_messages(&self, page: &PageId, person: PersonId, before: Option<&Mid>, limit: u32) -> StoreResult<Vec<Message>> {
        // Without a cursor: the latest messages; else those before the cursor's
        // (created_at, seq), which is unique and follows storing order.
        let sql = match before {
            None => format!(
                "SELECT * FROM (
                    SELECT {MESSAGE_COLUMNS}, seq FROM messages
                    WHERE page_id = $1 AND person_id = $2
                    ORDER BY created_at DESC, seq DESC LIMIT $3
                 ) newest ORDER BY created_at, seq"
            ),
            Some(_) => format!(
                "SELECT * FROM (
                    SELECT {MESSAGE_COLUMNS}, seq FROM messages
                    WHERE page_id = $1 AND person_id = $2
                        AND (created_at, seq) < (SELECT created_at, seq FROM messages WHERE mid = $4 AND page_id = $1 AND person_id = $2)
                    ORDER BY created_at DESC, seq DESC LIMIT $3
                 ) newest ORDER BY created_at, seq"
            ),
        };
        let client = self.client().await?;
        let limit = limit as i64;
        let rows = match before {
            None => client.query(&sql, &[&page.0, &person.0, &limit]).await,
            Some(mid) => client.query(&sql, &[&page.0, &person.0, &limit, &mid.0]).await,
        }
        .map_err(pg)?;
        Ok(rows.iter().map(message_row).collect())
    }

    async fn threads_of(&self, person: PersonId) -> StoreResult<Vec<ThreadSummary>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.id, p.name, p.username,
                    (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                        AND m.direction = 'out' AND m.created_at > t.read_watermark) AS unread
                 FROM threads t JOIN pages p ON p.id = t.page_id
                 WHERE t.person_id = $1 ORDER BY t.last_message_at DESC",
                &[&person.0],
            )
            .await
            .map_err(pg)?;
        let last_sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE page_id = $1 AND person_id = $2 ORDER BY created_at DESC, seq DESC LIMIT 1");
        let mut threads = Vec::with_capacity(rows.len());
        for row in &rows {
            let page = page_row(row);
            let last = client.query_opt(&last_sql, &[&page.id.0, &person.0]).await.map_err(pg)?;
            threads.push(ThreadSummary { last_message: last.as_ref().map(message_row), unread: row.get::<_, i64>("unread") as u32, page });
        }
        Ok(threads)
    }

    async fn engaged_persons(&self, page: &PageId, since: Millis) -> StoreResult<u64> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM threads WHERE page_id = $1 AND last_person_at >= $2", &[&page.0, &since])
            .await
            .map_err(pg)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn page_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
        content::page_threads(&self.client().await?, page, after, limit).await
    }

    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
        content::page_thread(&self.client().await?, page, person).await
    }

    async fn react(
        &self,
        page: &PageId,
        person: PersonId,
        mid: &Mid,
        by: Direction,
        emoji: Option<String>,
        at: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool> {
        content::react(&mut self.client().await?, page, person, mid, by, emoji, at, &events).await
    }

    async fn insert_attachment(&self, attachment: AttachmentRecord) -> StoreResult<()> {
        content::insert_attachment(&self.client().await?, &attachment).await
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>> {
        content::attachment(&self.client().await?, id).await
    }

    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>> {
        content::media_type(&self.client().await?, digest).await
    }

    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, String)>> {
        content::messenger_profile(&self.client().await?, page).await
    }

    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, String)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        content::update_messenger_profile(&mut self.client().await?, page, &set, &remove, at).await
    }

    async fn create_persona(&self, persona: Persona) -> StoreResult<()> {
        content::create_persona(&self.client().await?, &persona).await
    }

    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>> {
        content::persona(&self.client().await?, id).await
    }

    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>> {
        content::personas_of(&self.client().await?, page).await
    }

    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool> {
        content::delete_persona(&self.client().await?, id, at).await
    }

    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>> {
        content::person_profile(&self.client().await?, person).await
    }

    async fn set_person_profile(&self, person: PersonId, profile: PersonProfile) -> StoreResult<()> {
        content::set_person_profile(&self.client().await?, person, &profile).await
    }

    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
        listings::apps_for(&self.client().await?, person).await
    }

    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
        listings::app_members(&self.client().await?, app).await
    }

    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
        listings::pages_for(&self.client().await?, person).await
    }

    async fn page_admins(&self, page: &PageId) -> StoreResult<Vec<Person>> {
        listings::page_admins(&self.client().await?, page).await
    }

    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
        listings::search_pages(&self.client().await?, text, limit).await
    }

    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>> {
        listings::person_by_login(&self.client().await?, login).await
    }

    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
        listings::delivery_stats(&self.client().await?, app, from, to, bucket_ms.max(1)).await
    }

    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        // SKIP LOCKED: nodes claiming at once split the work instead of waiting; a
        // row another node leased meanwhile is re-checked and left out.
        let rows = self
            .client()
            .await?
            .query(
                "WITH heads AS (
                    SELECT o.id FROM outbox o
                    WHERE o.settled_at IS NULL AND o.is_head AND o.next_attempt_at <= $1 AND o.lease_until <= $1
                      AND o.id = (
                        SELECT MIN(p.id) FROM outbox p
                        WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                          AND p.settled_at IS NULL)
                    ORDER BY o.next_attempt_at, o.id
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                 )
                 UPDATE outbox SET lease_until = $2 FROM heads WHERE outbox.id = heads.id
                 RETURNING outbox.id, outbox.app_id, outbox.page_id, outbox.person_id, outbox.field, outbox.body,
                           outbox.created_at, outbox.failures, outbox.first_failure_at, outbox.next_attempt_at",
                &[&now, &lease_until, &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        let mut events: Vec<(i64, OutboxEvent)> = rows.iter().map(|r| (r.get::<_, i64>(9), outbox_event_row(r))).collect();
        events.sort_by_key(|(due, event)| (*due, event.id));
        Ok(events.into_iter().map(|(_, event)| event).collect())
    }

    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, lease_until: Option<Millis>) -> StoreResult<Vec<OutboxEvent>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let next = delivery::delivered(&tx, ids, at, lease_until).await?;
        tx.commit().await.map_err(pg)?;
        Ok(next)
    }

    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        delivery::failed(&tx, &attempt).await?;
        tx.commit().await.map_err(pg)
    }

    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis) -> StoreResult<Option<Alert>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let escalated = delivery::escalate_stage(&tx, app, now, alert_after, disable_after).await?;
        tx.commit().await.map_err(pg)?;
        let Some((alert, give_up)) = escalated else { return Ok(None) };
        // Apart, so that the thread locks come first there: if this node dies between
        // the two, the events stay pending and are retried, never lost.
        let tx = client.transaction().await.map_err(pg)?;
        delivery::settle(&tx, &give_up, now, "dead").await?;
        tx.commit().await.map_err(pg)?;
        Ok(Some(alert))
    }

    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
        delivery::recent_failures(&**self.client().await?, app, limit).await
    }

    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
        delivery::event_history(&**self.client().await?, app, id).await
    }

    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>> {
        delivery::events_of(&**self.client().await?, app, state, from, to, limit).await
    }

    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth> {
        delivery::endpoint_health(&**self.client().await?, app).await
    }

    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
        delivery::alerts(&**self.client().await?, app, limit).await
    }

    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let queued = delivery::replay(&tx, app, &selection, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(queued)
    }

    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
        delivery::prune(&**self.client().await?, delivered_before, dead_before).await
    }

    async fn outbox_next_due(&self) -> StoreResult<Option<Millis>> {
        // Only a thread's oldest pending event can be claimed.
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT MIN(GREATEST(o.next_attempt_at, o.lease_until)) FROM outbox o
                 WHERE o.settled_at IS NULL AND o.is_head
                   AND o.id = (
                     SELECT MIN(p.id) FROM outbox p
                     WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                       AND p.settled_at IS NULL)",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()> {
        self.client()
            .await?
            .execute("UPDATE outbox SET lease_until = lease_until + $2 WHERE settled_at IS NULL AND lease_until > $1", &[&now, &by])
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn outbox_pending(&self) -> StoreResult<u64> {
        let row = self.client().await?.query_one("SELECT COUNT(*) FROM outbox WHERE settled_at IS NULL", &[]).await.map_err(pg)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT app_id, COUNT(*) FROM outbox WHERE settled_at IS NULL GROUP BY app_id ORDER BY app_id", &[])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| (AppId(r.get(0)), r.get::<_, i64>(1) as u64)).collect())
    }
}

/// Locks a person's row for the rest of the transaction (their quotas are counted
/// under it).
async fn lock_person(tx: &tokio_postgres::Transaction<'_>, person: PersonId) -> StoreResult<()> {
    tx.execute("SELECT 1 FROM persons WHERE id = $1 FOR UPDATE", &[&person.0]).await.map_err(pg)?;
    Ok(())
}

/// Revokes, for good, the live Page tokens matching `filter` (a condition on the
/// tokens table's `page_id`, `app_id`, `person_id`), and moves the epoch of each
/// (Page, app, person) they belong to, so that the next one derived is new.
async fn revoke_page_tokens(tx: &tokio_postgres::Transaction<'_>, filter: &str, values: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> StoreResult<()> {
    tx.execute(
        &format!(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch)
             SELECT DISTINCT page_id, app_id, person_id, 1 FROM tokens WHERE kind = 'page' AND NOT revoked AND {filter}
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = page_token_epochs.epoch + 1"
        ),
        values,
    )
    .await
    .map_err(pg)?;
    tx.execute(&format!("UPDATE tokens SET revoked = TRUE WHERE kind = 'page' AND NOT revoked AND {filter}"), values).await.map_err(pg)?;
    Ok(())
}
