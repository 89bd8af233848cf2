//! The embedded SQLite engine of the store: one file, WAL mode, group commit.
//!
//! Owns the SQL for SQLite and nothing else: no rules (they come decided from the
//! app layer), no HTTP. Each trait method is one transaction.

mod content;
mod delivery;
mod engine;
mod listings;
mod migrate;
mod rows;

pub use migrate::LATEST as SCHEMA_VERSION;

use async_trait::async_trait;
use engine::{sql_error, Engine};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::PathBuf;
use switchboard_domain::*;
use switchboard_store::*;

pub struct SqliteStore {
    engine: Engine,
}

impl SqliteStore {
    /// Opens (or creates) the store in `path`, applying migrations.
    pub fn open(path: impl Into<PathBuf>) -> StoreResult<Self> {
        Ok(Self { engine: Engine::open(path.into(), 4)? })
    }
}

fn q<T>(result: rusqlite::Result<T>) -> StoreResult<T> {
    result.map_err(sql_error)
}

fn insert_outbox(conn: &Connection, events: &[NewOutboxEvent]) -> StoreResult<()> {
    // An event is its thread's head when nothing of the thread is pending before it.
    let mut insert = q(conn.prepare_cached(
        "INSERT INTO outbox (app_id, page_id, person_id, field, body, created_at, next_attempt_at, is_head)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NOT EXISTS (
            SELECT 1 FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND person_id = ?3 AND settled_at IS NULL))",
    ))?;
    for event in events {
        q(insert.execute(params![
            event.app.as_str(),
            event.page.as_str(),
            event.person.0,
            event.field.as_str(),
            event.body,
            event.created_at
        ]))?;
    }
    Ok(())
}

/// Revokes, for good, the live Page tokens matching `filter` (a condition on the
/// tokens table's `page_id`, `app_id`, `person_id`), and moves the epoch of each
/// (Page, app, person) they belong to, so that the next one derived is new.
fn revoke_page_tokens(conn: &Connection, filter: &str, values: &[&dyn rusqlite::ToSql]) -> StoreResult<()> {
    q(conn.execute(
        &format!(
            "INSERT INTO page_token_epochs (page_id, app_id, person_id, epoch)
             SELECT DISTINCT page_id, app_id, person_id, 1 FROM tokens WHERE kind = 'page' AND revoked = 0 AND {filter}
             ON CONFLICT (page_id, app_id, person_id) DO UPDATE SET epoch = epoch + 1"
        ),
        values,
    ))?;
    q(conn.execute(&format!("UPDATE tokens SET revoked = 1 WHERE kind = 'page' AND revoked = 0 AND {filter}"), values))?;
    Ok(())
}

/// Inserts the (Page, person) thread if it is new.
fn ensure_thread(conn: &Connection, page: &PageId, person: PersonId, at: Millis) -> StoreResult<()> {
    q(conn
        .prepare_cached("INSERT OR IGNORE INTO threads (page_id, person_id, last_message_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![page.as_str(), person.0, at])))?;
    Ok(())
}

/// Stores a message and its outbox rows; an inbound message also marks the person's
/// last interaction. The thread is created or moved on in one statement.
fn append_message(c: &Connection, m: &Message, events: &[NewOutboxEvent]) -> StoreResult<()> {
    let last_person_at = (m.direction == Direction::Inbound).then_some(m.created_at);
    q(c.prepare_cached(
        "INSERT INTO threads (page_id, person_id, last_message_at, last_person_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (page_id, person_id) DO UPDATE SET
            last_message_at = MAX(last_message_at, excluded.last_message_at),
            last_person_at = COALESCE(MAX(last_person_at, excluded.last_person_at), excluded.last_person_at, last_person_at)",
    )
    .and_then(|mut s| s.execute(params![m.page.as_str(), m.person.0, m.created_at, last_person_at])))?;
    q(c.prepare_cached(
        "INSERT INTO messages (mid, page_id, person_id, direction, app_id, text, metadata, created_at, attachment,
            quick_replies, reply_to, persona_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.mid.as_str(),
            m.page.as_str(),
            m.person.0,
            rows::direction_text(m.direction),
            m.app.as_ref().map(|a| a.as_str()),
            m.text,
            m.metadata,
            m.created_at,
            m.attachment,
            m.quick_replies,
            m.reply_to.as_ref().map(|mid| mid.as_str()),
            m.persona
        ])
    }))?;
    insert_outbox(c, events)
}

/// Registers the Page token of (Page, app, person) for the triple's epoch as it
/// stands in this transaction; answers the epoch.
fn register_page_token(c: &Connection, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: &PageTokenMinter) -> StoreResult<u32> {
    let epoch: u32 = q(c
        .query_row(
            "SELECT epoch FROM page_token_epochs WHERE page_id = ?1 AND app_id = ?2 AND person_id = ?3",
            params![page.as_str(), app.as_str(), person.0],
            |r| r.get(0),
        )
        .optional())?
    .unwrap_or(0);
    // Asked again, the same epoch derives the same token: registered once.
    q(c.execute(
        "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at) VALUES (?1, 'page', ?2, ?3, ?4, ?5)
         ON CONFLICT (digest) DO NOTHING",
        params![token(epoch), person.0, page.as_str(), app.as_str(), at],
    ))?;
    Ok(epoch)
}

fn approve_page_feature(c: &Connection, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
    let changed = q(c.execute(
        "UPDATE page_features SET status = 'approved', approved_at = ?3 WHERE page_id = ?1 AND feature = ?2",
        params![page.as_str(), feature.as_str(), at],
    ))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("no application for {} on Page {page}", feature.as_str())));
    }
    Ok(())
}

fn insert_person(c: &Connection, person: NewPerson) -> StoreResult<Person> {
    q(c.execute(
        "INSERT INTO persons (name, login, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![person.name, person.login, person.password_hash, person.created_at],
    ))
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!("the login {} is taken", person.login)),
        other => other,
    })?;
    Ok(Person { id: PersonId(c.last_insert_rowid()), name: person.name, login: person.login })
}

/// Gets or creates a scoped id in `table` (`psids` or `asids`): the unique keys make
/// it happen once even when requests race.
fn scoped_id(conn: &Connection, table: &str, scope_column: &str, id_column: &str, person: PersonId, scope: &str) -> StoreResult<String> {
    let select = format!("SELECT {id_column} FROM {table} WHERE person_id = ?1 AND {scope_column} = ?2");
    if let Some(id) = q(conn.query_row(&select, params![person.0, scope], |r| r.get(0)).optional())? {
        return Ok(id);
    }
    let insert = format!("INSERT OR IGNORE INTO {table} (person_id, {scope_column}, {id_column}) VALUES (?1, ?2, ?3)");
    for _ in 0..8 {
        if q(conn.execute(&insert, params![person.0, scope, random_node_id()]))? == 1 {
            break;
        }
        // Either the random id collided within the scope (retry) or it now exists.
        if q(conn.query_row(&select, params![person.0, scope], |r| r.get::<_, String>(0)).optional())?.is_some() {
            break;
        }
    }
    q(conn.query_row(&select, params![person.0, scope], |r| r.get(0)))
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine.read(|c| q(c.query_row("SELECT 1", [], |_| Ok(())))).await
    }

    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool> {
        let digest = token_digest.to_string();
        self.engine
            .write(move |c| {
                if q(c.execute("INSERT OR IGNORE INTO operators (id, token_digest) VALUES (1, ?1)", [&digest]))? == 0 {
                    return Ok(false);
                }
                q(c.execute("INSERT INTO tokens (digest, kind, issued_at) VALUES (?1, 'operator', 0)", [&digest]))?;
                Ok(true)
            })
            .await
    }

    async fn create_person(&self, person: NewPerson) -> StoreResult<Person> {
        self.engine.write(move |c| insert_person(c, person)).await
    }

    async fn create_test_user(&self, person: NewPerson, app: &AppId) -> StoreResult<Person> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let person = insert_person(c, person)?;
                q(c.execute("INSERT INTO app_roles (app_id, person_id, role) VALUES (?1, ?2, 'tester')", params![app.as_str(), person.id.0]))?;
                Ok(person)
            })
            .await
    }

    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>> {
        self.engine
            .read(move |c| q(c.query_row("SELECT id, name, login FROM persons WHERE id = ?1", [id.0], rows::person).optional()))
            .await
    }

    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>> {
        let login = login.to_string();
        self.engine
            .read(move |c| {
                q(c.query_row("SELECT id, name, login, password_hash FROM persons WHERE login = ?1", [login], |r| {
                    Ok((rows::person(r)?, r.get("password_hash")?))
                })
                .optional())
            })
            .await
    }

    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                if let Some(admin) = admin {
                    let held: u32 = q(c.query_row("SELECT COUNT(*) FROM page_roles WHERE person_id = ?1", [admin.person.0], |r| r.get(0)))?;
                    if admin.quota > 0 && held >= admin.quota {
                        return Err(StoreError::QuotaExceeded(format!("a person administers at most {} Pages", admin.quota)));
                    }
                }
                q(c.execute("INSERT INTO pages (id, name, username) VALUES (?1, ?2, ?3)", params![page.id.as_str(), page.name, page.username]))
                    .map_err(|e| match e {
                        StoreError::Conflict(_) => StoreError::Conflict(format!("the username {} is taken", page.username)),
                        other => other,
                    })?;
                if let Some(admin) = admin {
                    q(c.execute("INSERT INTO page_roles (page_id, person_id, role) VALUES (?1, ?2, 'admin')", params![page.id.as_str(), admin.person.0]))?;
                }
                Ok(())
            })
            .await
    }

    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>> {
        let id = id.clone();
        self.engine
            .read(move |c| q(c.query_row("SELECT id, name, username FROM pages WHERE id = ?1", [id.as_str()], rows::page).optional()))
            .await
    }

    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>> {
        let username = username.to_string();
        self.engine
            .read(move |c| q(c.query_row("SELECT id, name, username FROM pages WHERE username = ?1", [username], rows::page).optional()))
            .await
    }

    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                if let Some(owner) = administrator {
                    let held: u32 = q(c.query_row(
                        "SELECT COUNT(*) FROM app_roles WHERE person_id = ?1 AND role = 'administrator'",
                        [owner.person.0],
                        |r| r.get(0),
                    ))?;
                    if owner.quota > 0 && held >= owner.quota {
                        return Err(StoreError::QuotaExceeded(format!("a person administers at most {} apps", owner.quota)));
                    }
                }
                q(c.execute(
                    "INSERT INTO apps (id, name, mode, secret_generation, require_proof) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![app.id.as_str(), app.name, rows::mode_text(app.mode), app.secret_generation, app.require_proof],
                ))?;
                if let Some(owner) = administrator {
                    q(c.execute(
                        "INSERT INTO app_roles (app_id, person_id, role) VALUES (?1, ?2, 'administrator')",
                        params![app.id.as_str(), owner.person.0],
                    ))?;
                }
                Ok(())
            })
            .await
    }

    async fn app(&self, id: &AppId) -> StoreResult<Option<App>> {
        let id = id.clone();
        self.engine
            .read(move |c| {
                q(c.query_row("SELECT id, name, mode, secret_generation, require_proof FROM apps WHERE id = ?1", [id.as_str()], rows::app)
                    .optional())
            })
            .await
    }

    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE apps SET name = ?2, mode = ?3, secret_generation = ?4, require_proof = ?5 WHERE id = ?1",
                    params![app.id.as_str(), app.name, rows::mode_text(app.mode), app.secret_generation, app.require_proof],
                ))?;
                if changed == 0 {
                    return Err(StoreError::NotFound(format!("app {}", app.id)));
                }
                if let Some(audit) = audit {
                    q(c.execute(
                        "INSERT INTO app_audit (app_id, at, actor, change) VALUES (?1, ?2, ?3, ?4)",
                        params![app.id.as_str(), audit.at, audit.actor, audit.change],
                    ))?;
                }
                if revoke_tokens {
                    revoke_page_tokens(c, "app_id = ?1", &[&app.id.as_str()])?;
                    q(c.execute("UPDATE tokens SET revoked = 1 WHERE app_id = ?1 AND kind = 'user' AND revoked = 0", [app.id.as_str()]))?;
                }
                Ok(())
            })
            .await
    }

    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare_cached("SELECT at, actor, change FROM app_audit WHERE app_id = ?1 ORDER BY id"))?;
                let rows = q(s.query_map([app.as_str()], |r| Ok(AuditRecord { at: r.get(0)?, actor: r.get(1)?, change: r.get(2)? })))?;
                q(rows.collect())
            })
            .await
    }

    async fn set_app_role(&self, app: &AppId, person: PersonId, role: Option<AppRole>) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                match role {
                    Some(role) => q(c.execute(
                        "INSERT INTO app_roles (app_id, person_id, role) VALUES (?1, ?2, ?3)
                         ON CONFLICT (app_id, person_id) DO UPDATE SET role = excluded.role",
                        params![app.as_str(), person.0, role.as_str()],
                    ))?,
                    None => q(c.execute("DELETE FROM app_roles WHERE app_id = ?1 AND person_id = ?2", params![app.as_str(), person.0]))?,
                };
                Ok(())
            })
            .await
    }

    async fn app_role(&self, app: &AppId, person: PersonId) -> StoreResult<Option<AppRole>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let role: Option<String> = q(c
                    .query_row("SELECT role FROM app_roles WHERE app_id = ?1 AND person_id = ?2", params![app.as_str(), person.0], |r| r.get(0))
                    .optional())?;
                Ok(role.as_deref().and_then(AppRole::parse))
            })
            .await
    }

    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                match role {
                    Some(PageRole::Admin) => q(c.execute(
                        "INSERT INTO page_roles (page_id, person_id, role) VALUES (?1, ?2, 'admin')
                         ON CONFLICT (page_id, person_id) DO UPDATE SET role = excluded.role",
                        params![page.as_str(), person.0],
                    ))?,
                    None => {
                        let other_admins: u32 = q(c.query_row(
                            "SELECT COUNT(*) FROM page_roles WHERE page_id = ?1 AND person_id <> ?2 AND role = 'admin'",
                            params![page.as_str(), person.0],
                            |r| r.get(0),
                        ))?;
                        let is_admin = q(c
                            .query_row("SELECT 1 FROM page_roles WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0], |_| Ok(()))
                            .optional())?
                            .is_some();
                        if is_admin && other_admins == 0 {
                            return Err(StoreError::Conflict("a Page keeps at least one admin: add another admin first".into()));
                        }
                        revoke_page_tokens(c, "page_id = ?1 AND person_id = ?2", &[&page.as_str(), &person.0])?;
                        q(c.execute("DELETE FROM page_roles WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0]))?
                    }
                };
                Ok(())
            })
            .await
    }

    async fn page_role(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageRole>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let role: Option<String> = q(c
                    .query_row("SELECT role FROM page_roles WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0], |r| r.get(0))
                    .optional())?;
                Ok(role.map(|_| PageRole::Admin))
            })
            .await
    }

    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32> {
        let PageGrant { page, app, by, at, max_apps } = grant;
        self.engine
            .write(move |c| {
                let (granted, new): (u32, bool) = q(c.query_row(
                    "SELECT COUNT(*), NOT EXISTS(SELECT 1 FROM page_grants WHERE page_id = ?1 AND app_id = ?2) FROM page_grants WHERE page_id = ?1",
                    params![page.as_str(), app.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                ))?;
                if new && max_apps > 0 && granted >= max_apps {
                    return Err(StoreError::QuotaExceeded(format!("a Page has at most {max_apps} apps")));
                }
                q(c.execute(
                    "INSERT INTO page_grants (page_id, app_id, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (page_id, app_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = excluded.granted_at",
                    params![page.as_str(), app.as_str(), by.0, at],
                ))?;
                register_page_token(c, &page, &app, by, at, &token)
            })
            .await
    }

    async fn revoke_page_grant(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .write(move |c| {
                revoke_page_tokens(c, "page_id = ?1 AND app_id = ?2", &[&page.as_str(), &app.as_str()])?;
                q(c.execute("DELETE FROM page_subscriptions WHERE page_id = ?1 AND app_id = ?2", params![page.as_str(), app.as_str()]))?;
                Ok(q(c.execute("DELETE FROM page_grants WHERE page_id = ?1 AND app_id = ?2", params![page.as_str(), app.as_str()]))? > 0)
            })
            .await
    }

    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32> {
        let (page, app) = (page.clone(), app.clone());
        self.engine.write(move |c| register_page_token(c, &page, &app, person, at, &token)).await
    }

    async fn page_granted(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT EXISTS(SELECT 1 FROM page_grants WHERE page_id = ?1 AND app_id = ?2)",
                    params![page.as_str(), app.as_str()],
                    |r| r.get(0),
                ))
            })
            .await
    }

    async fn granted_pages_of(&self, person: PersonId, app: &AppId) -> StoreResult<Vec<Page>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare(
                    "SELECT p.id, p.name, p.username FROM pages p
                     JOIN page_roles r ON r.page_id = p.id AND r.person_id = ?1
                     JOIN page_grants g ON g.page_id = p.id AND g.app_id = ?2
                     ORDER BY p.name, p.id",
                ))?;
                let pages = q(s.query_map(params![person.0, app.as_str()], rows::page))?;
                q(pages.collect())
            })
            .await
    }

    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                let (kind, person, page, app) = match &token.grant {
                    TokenGrant::User { person, app } => ("user", Some(person.0), None, Some(app.as_str())),
                    TokenGrant::Page { page, app, person } => ("page", Some(person.0), Some(page.as_str()), Some(app.as_str())),
                    TokenGrant::Session { person } => ("session", Some(person.0), None, None),
                    TokenGrant::Operator => ("operator", None, None, None),
                };
                q(c.execute(
                    "INSERT INTO tokens (digest, kind, person_id, page_id, app_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![token.hash, kind, person, page, app, token.issued_at, token.expires_at],
                ))?;
                Ok(())
            })
            .await
    }

    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>> {
        let digest = digest.to_string();
        self.engine
            .read(move |c| {
                let found = q(c
                    .query_row(
                        "SELECT digest, kind, person_id, page_id, app_id, issued_at, expires_at FROM tokens WHERE digest = ?1 AND revoked = 0",
                        [digest],
                        rows::token,
                    )
                    .optional())?;
                Ok(found.flatten())
            })
            .await
    }

    async fn revoke_token(&self, digest: &str) -> StoreResult<()> {
        let digest = digest.to_string();
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE tokens SET revoked = 1 WHERE digest = ?1", [digest]))?;
                Ok(())
            })
            .await
    }

    async fn put_app_subscription(&self, s: AppSubscription) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO app_subscriptions (app_id, object, callback_url, verify_token, fields, version, active)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (app_id, object) DO UPDATE SET callback_url = excluded.callback_url,
                        verify_token = excluded.verify_token, fields = excluded.fields,
                        version = excluded.version, active = excluded.active",
                    params![s.app.as_str(), s.object, s.callback_url, s.verify_token, rows::fields_to_text(&s.fields), s.version, s.active],
                ))?;
                Ok(())
            })
            .await
    }

    async fn app_subscriptions(&self, app: &AppId) -> StoreResult<Vec<AppSubscription>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare(
                    "SELECT app_id, object, callback_url, verify_token, fields, version, active FROM app_subscriptions WHERE app_id = ?1 ORDER BY object",
                ))?;
                let subs = q(s.query_map([app.as_str()], |r| {
                    Ok(AppSubscription {
                        app: AppId(r.get(0)?),
                        object: r.get(1)?,
                        callback_url: r.get(2)?,
                        verify_token: r.get(3)?,
                        fields: rows::fields_from_text(&r.get::<_, String>(4)?),
                        version: r.get(5)?,
                        active: r.get(6)?,
                    })
                }))?;
                q(subs.collect())
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
                q(c.execute(
                    "INSERT INTO page_subscriptions (page_id, app_id, fields) VALUES (?1, ?2, ?3)
                     ON CONFLICT (page_id, app_id) DO UPDATE SET fields = excluded.fields",
                    params![s.page.as_str(), s.app.as_str(), rows::fields_to_text(&s.fields)],
                ))?;
                Ok(())
            })
            .await
    }

    async fn page_subscriptions(&self, page: &PageId) -> StoreResult<Vec<PageSubscription>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare("SELECT page_id, app_id, fields FROM page_subscriptions WHERE page_id = ?1 ORDER BY app_id"))?;
                let subs = q(s.query_map([page.as_str()], |r| {
                    Ok(PageSubscription {
                        page: PageId(r.get(0)?),
                        app: AppId(r.get(1)?),
                        fields: rows::fields_from_text(&r.get::<_, String>(2)?),
                    })
                }))?;
                q(subs.collect())
            })
            .await
    }

    async fn delete_page_subscription(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .write(move |c| {
                Ok(q(c.execute("DELETE FROM page_subscriptions WHERE page_id = ?1 AND app_id = ?2", params![page.as_str(), app.as_str()]))? > 0)
            })
            .await
    }

    async fn webhook_targets(&self, page: &PageId) -> StoreResult<Vec<WebhookTarget>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare_cached(
                    "SELECT ps.app_id, ps.fields, s.fields FROM page_subscriptions ps
                     JOIN app_subscriptions s ON s.app_id = ps.app_id AND s.object = 'page' AND s.active = 1
                     WHERE ps.page_id = ?1 ORDER BY ps.app_id",
                ))?;
                let targets = q(s.query_map([page.as_str()], |r| {
                    let page_fields = rows::fields_from_text(&r.get::<_, String>(1)?);
                    let app_fields = rows::fields_from_text(&r.get::<_, String>(2)?);
                    Ok(WebhookTarget {
                        app: AppId(r.get(0)?),
                        fields: page_fields.into_iter().filter(|f| app_fields.contains(f)).collect(),
                    })
                }))?;
                q(targets.collect())
            })
            .await
    }

    async fn set_phone(&self, person: PersonId, phone: Option<&str>, at: Millis) -> StoreResult<()> {
        let phone = phone.map(str::to_string);
        self.engine
            .write(move |c| {
                q(c.execute(
                    "UPDATE persons SET phone_number = ?2, phone_verified_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END WHERE id = ?1",
                    params![person.0, phone, at],
                ))
                .map_err(|e| match e {
                    StoreError::Conflict(_) => StoreError::Conflict("this phone number belongs to another person".into()),
                    other => other,
                })?;
                Ok(())
            })
            .await
    }

    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>> {
        let phone = phone.to_string();
        self.engine
            .read(move |c| {
                q(c.query_row("SELECT id, phone_verified_at FROM persons WHERE phone_number = ?1", [phone], |r| {
                    Ok((PersonId(r.get(0)?), r.get(1)?))
                })
                .optional())
            })
            .await
    }

    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>> {
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT phone_number, phone_verified_at FROM persons WHERE id = ?1 AND phone_number IS NOT NULL",
                    [person.0],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional())
            })
            .await
    }

    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                // Applying again keeps an approval already given.
                q(c.execute(
                    "INSERT INTO page_features (page_id, feature, status, applied_by, applied_at) VALUES (?1, ?2, 'applied', ?3, ?4)
                     ON CONFLICT (page_id, feature) DO NOTHING",
                    params![page.as_str(), feature.as_str(), by.map(|p| p.0), at],
                ))?;
                if approve {
                    approve_page_feature(c, &page, feature, at)?;
                }
                Ok(())
            })
            .await
    }

    async fn approve_page_feature(&self, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine.write(move |c| approve_page_feature(c, &page, feature, at)).await
    }

    async fn page_features(&self, page: &PageId) -> StoreResult<Vec<PageFeatureState>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare_cached(
                    "SELECT feature, status, applied_by, applied_at, approved_at FROM page_features WHERE page_id = ?1 ORDER BY feature",
                ))?;
                let rows = q(s.query_map([page.as_str()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<i64>>(2)?, r.get(3)?, r.get(4)?))
                }))?;
                let rows: Vec<(String, String, Option<i64>, Millis, Option<Millis>)> = q(rows.collect())?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(feature, status, by, applied_at, approved_at)| {
                        Some(PageFeatureState {
                            feature: PageFeature::parse(&feature)?,
                            approved: status == "approved",
                            applied_by: by.map(PersonId),
                            applied_at,
                            approved_at,
                        })
                    })
                    .collect())
            })
            .await
    }

    async fn send_optin_request(&self, request: OptinRequest, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        self.engine
            .write(move |c| {
                let opened = q(c.execute(
                    "INSERT INTO optin_requests (mid, kind, page_id, person_id, title, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT DO NOTHING",
                    params![
                        request.mid.as_str(),
                        request.kind.as_str(),
                        request.page.as_str(),
                        request.person.0,
                        request.title,
                        request.payload,
                        request.created_at
                    ],
                ))? == 1;
                if opened {
                    append_message(c, &message, &events)?;
                }
                Ok(opened)
            })
            .await
    }

    async fn optin_request(&self, mid: &Mid) -> StoreResult<Option<OptinRequest>> {
        let mid = mid.clone();
        self.engine
            .read(move |c| q(c.query_row("SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE mid = ?1", [mid.as_str()], rows::optin_request).optional()))
            .await
    }

    async fn optin_requests_since(&self, page: &PageId, person: PersonId, since: Millis) -> StoreResult<Vec<OptinRequest>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare_cached(
                    "SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE page_id = ?1 AND person_id = ?2 AND created_at >= ?3 ORDER BY created_at",
                ))?;
                let rows = q(s.query_map(params![page.as_str(), person.0, since], rows::optin_request))?;
                q(rows.collect())
            })
            .await
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
        let (mid, token_digest) = (mid.clone(), token_digest.to_string());
        self.engine
            .write(move |c| {
                let tapped = q(c.execute(
                    "UPDATE optin_requests SET tapped_at = ?3, token_digest = ?4, token_expires_at = ?5
                     WHERE mid = ?1 AND person_id = ?2 AND tapped_at IS NULL",
                    params![mid.as_str(), person.0, at, token_digest, expires_at],
                ))? == 1;
                if tapped {
                    insert_outbox(c, &events)?;
                }
                Ok(tapped)
            })
            .await
    }

    async fn optin_by_token(&self, page: &PageId, token_digest: &str) -> StoreResult<Option<OptinRequest>> {
        let (page, token_digest) = (page.clone(), token_digest.to_string());
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at FROM optin_requests WHERE token_digest = ?1 AND page_id = ?2",
                    params![token_digest, page.as_str()],
                    rows::optin_request,
                )
                .optional())
            })
            .await
    }

    async fn send_with_token(&self, spend: TokenSpend, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        self.engine
            .write(move |c| {
                let spent = q(c.execute(
                    "UPDATE optin_requests SET last_sent_at = ?3
                     WHERE token_digest = ?1 AND page_id = ?2 AND stopped_at IS NULL AND token_expires_at > ?3
                       AND (last_sent_at IS NULL OR last_sent_at <= ?4)",
                    params![spend.digest, spend.page.as_str(), message.created_at, spend.period_start],
                ))? == 1;
                if spent {
                    append_message(c, &message, &events)?;
                }
                Ok(spent)
            })
            .await
    }

    async fn set_optin_stopped(&self, mid: &Mid, stopped_at: Option<Millis>, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        let mid = mid.clone();
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE optin_requests SET stopped_at = ?2 WHERE mid = ?1", params![mid.as_str(), stopped_at]))?;
                insert_outbox(c, &events)
            })
            .await
    }

    async fn psid(&self, person: PersonId, page: &PageId) -> StoreResult<Psid> {
        let page = page.clone();
        // A plain read first: after the first contact this is all it takes.
        let known = self
            .engine
            .read({
                let page = page.clone();
                move |c| {
                    q(c.query_row("SELECT psid FROM psids WHERE person_id = ?1 AND page_id = ?2", params![person.0, page.as_str()], |r| r.get(0))
                        .optional())
                }
            })
            .await?;
        if let Some(psid) = known {
            return Ok(Psid(psid));
        }
        self.engine.write(move |c| scoped_id(c, "psids", "page_id", "psid", person, page.as_str()).map(Psid)).await
    }

    async fn person_by_psid(&self, page: &PageId, psid: &str) -> StoreResult<Option<PersonId>> {
        let (page, psid) = (page.clone(), psid.to_string());
        self.engine
            .read(move |c| {
                q(c.query_row("SELECT person_id FROM psids WHERE page_id = ?1 AND psid = ?2", params![page.as_str(), psid], |r| r.get(0))
                    .optional())
                .map(|id| id.map(PersonId))
            })
            .await
    }

    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid> {
        let app = app.clone();
        self.engine.write(move |c| scoped_id(c, "asids", "app_id", "asid", person, app.as_str()).map(Asid)).await
    }

    async fn append_message(&self, message: Message, events: Vec<NewOutboxEvent>) -> StoreResult<()> {
        self.engine.write(move |c| append_message(c, &message, &events)).await
    }

    async fn advance_receipt(
        &self,
        page: &PageId,
        person: PersonId,
        receipt: Receipt,
        watermark: Millis,
        events: Vec<NewOutboxEvent>,
    ) -> StoreResult<bool> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                ensure_thread(c, &page, person, watermark)?;
                let column = match receipt {
                    Receipt::Delivered => "delivered_watermark",
                    Receipt::Read => "read_watermark",
                };
                // Reading implies delivery: a read watermark lifts both.
                let also = if receipt == Receipt::Read { ", delivered_watermark = MAX(delivered_watermark, ?3)" } else { "" };
                let sql = format!("UPDATE threads SET {column} = ?3{also} WHERE page_id = ?1 AND person_id = ?2 AND {column} < ?3");
                let advanced = q(c.execute(&sql, params![page.as_str(), person.0, watermark]))? == 1;
                if advanced {
                    insert_outbox(c, &events)?;
                }
                Ok(advanced)
            })
            .await
    }

    async fn thread_state(&self, page: &PageId, person: PersonId) -> StoreResult<Option<ThreadState>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT last_person_at, delivered_watermark, read_watermark, page_seen_watermark FROM threads WHERE page_id = ?1 AND person_id = ?2",
                    params![page.as_str(), person.0],
                    |r| Ok(ThreadState { last_person_at: r.get(0)?, delivered_watermark: r.get(1)?, read_watermark: r.get(2)?, seen_watermark: r.get(3)? }),
                )
                .optional())
            })
            .await
    }

    async fn mark_seen(&self, page: &PageId, person: PersonId, watermark: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                q(c.execute(
                    "UPDATE threads SET page_seen_watermark = MAX(page_seen_watermark, ?3) WHERE page_id = ?1 AND person_id = ?2",
                    params![page.as_str(), person.0, watermark],
                ))?;
                Ok(())
            })
            .await
    }

    async fn message(&self, mid: &Mid) -> StoreResult<Option<Message>> {
        let mid = mid.clone();
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT mid, page_id, person_id, direction, app_id, text, metadata, attachment, created_at, quick_replies, reply_to, persona_id, person_reaction, page_reaction FROM messages WHERE mid = ?1",
                    [mid.as_str()],
                    rows::message,
                )
                .optional())
            })
            .await
    }

    async fn thread_messages(&self, page: &PageId, person: PersonId, before: Option<&Mid>, limit: u32) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        let before = before.map(|mid| mid.0.clone());
        self.engine
            .read(move |c| {
                const COLUMNS: &str = "m.mid, m.page_id, m.person_id, m.direction, m.app_id, m.text, m.metadata, m.attachment, m.created_at, \
                    m.quick_replies, m.reply_to, m.persona_id, m.person_reaction, m.page_reaction, m.seq";
                let messages = match before {
                    None => {
                        let mut s = q(c.prepare_cached(&format!(
                            "SELECT * FROM (SELECT {COLUMNS} FROM messages m WHERE m.page_id = ?1 AND m.person_id = ?2
                                ORDER BY m.created_at DESC, m.seq DESC LIMIT ?3) ORDER BY created_at, seq"
                        )))?;
                        let rows = q(s.query_map(params![page.as_str(), person.0, limit], rows::message))?;
                        q(rows.collect::<Result<Vec<_>, _>>())?
                    }
                    // Before the cursor's (created_at, seq): unique, in storing order.
                    Some(mid) => {
                        let mut s = q(c.prepare_cached(&format!(
                            "SELECT * FROM (SELECT {COLUMNS} FROM messages m
                                JOIN messages c ON c.mid = ?3 AND c.page_id = ?1 AND c.person_id = ?2
                                WHERE m.page_id = ?1 AND m.person_id = ?2 AND m.created_at <= c.created_at
                                    AND (m.created_at < c.created_at OR m.seq < c.seq)
                                ORDER BY m.created_at DESC, m.seq DESC LIMIT ?4) ORDER BY created_at, seq"
                        )))?;
                        let rows = q(s.query_map(params![page.as_str(), person.0, mid, limit], rows::message))?;
                        q(rows.collect::<Result<Vec<_>, _>>())?
                    }
                };
                Ok(messages)
            })
            .await
    }

    async fn threads_of(&self, person: PersonId) -> StoreResult<Vec<ThreadSummary>> {
        self.engine
            .read(move |c| {
                let mut s = q(c.prepare(
                    "SELECT p.id, p.name, p.username, t.read_watermark,
                        (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id
                            AND m.direction = 'out' AND m.created_at > t.read_watermark) AS unread
                     FROM threads t JOIN pages p ON p.id = t.page_id
                     WHERE t.person_id = ?1 ORDER BY t.last_message_at DESC",
                ))?;
                let threads: Vec<(Page, u32)> = q(q(s.query_map([person.0], |r| Ok((rows::page(r)?, r.get("unread")?))))?.collect())?;
                let mut last = q(c.prepare(
                    "SELECT mid, page_id, person_id, direction, app_id, text, metadata, attachment, created_at, quick_replies, reply_to, persona_id, person_reaction, page_reaction FROM messages
                     WHERE page_id = ?1 AND person_id = ?2 ORDER BY created_at DESC, seq DESC LIMIT 1",
                ))?;
                threads
                    .into_iter()
                    .map(|(page, unread)| {
                        let last_message = q(last.query_row(params![page.id.as_str(), person.0], rows::message).optional())?;
                        Ok(ThreadSummary { page, last_message, unread })
                    })
                    .collect()
            })
            .await
    }

    async fn engaged_persons(&self, page: &PageId, since: Millis) -> StoreResult<u64> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                q(c.query_row(
                    "SELECT COUNT(*) FROM threads WHERE page_id = ?1 AND last_person_at >= ?2",
                    params![page.as_str(), since],
                    |r| r.get(0),
                ))
            })
            .await
    }

    async fn page_threads(&self, page: &PageId, after: Option<(Millis, PersonId)>, limit: u32) -> StoreResult<Vec<PageThread>> {
        let page = page.clone();
        self.engine.read(move |c| content::page_threads(c, &page, after, limit)).await
    }

    async fn page_thread(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageThread>> {
        let page = page.clone();
        self.engine.read(move |c| content::page_thread(c, &page, person)).await
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
        let (page, mid) = (page.clone(), mid.clone());
        self.engine.write(move |c| content::react(c, &page, person, &mid, by, emoji.as_deref(), at, &events)).await
    }

    async fn insert_attachment(&self, attachment: AttachmentRecord) -> StoreResult<()> {
        self.engine.write(move |c| content::insert_attachment(c, &attachment)).await
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>> {
        let id = id.to_string();
        self.engine.read(move |c| content::attachment(c, &id)).await
    }

    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>> {
        let digest = digest.to_string();
        self.engine.read(move |c| content::media_type(c, &digest)).await
    }

    async fn messenger_profile(&self, page: &PageId) -> StoreResult<Vec<(String, String)>> {
        let page = page.clone();
        self.engine.read(move |c| content::messenger_profile(c, &page)).await
    }

    async fn update_messenger_profile(&self, page: &PageId, set: Vec<(String, String)>, remove: Vec<String>, at: Millis) -> StoreResult<()> {
        let page = page.clone();
        self.engine.write(move |c| content::update_messenger_profile(c, &page, &set, &remove, at)).await
    }

    async fn create_persona(&self, persona: Persona) -> StoreResult<()> {
        self.engine.write(move |c| content::create_persona(c, &persona)).await
    }

    async fn persona(&self, id: &str) -> StoreResult<Option<Persona>> {
        let id = id.to_string();
        self.engine.read(move |c| content::persona(c, &id)).await
    }

    async fn personas_of(&self, page: &PageId) -> StoreResult<Vec<Persona>> {
        let page = page.clone();
        self.engine.read(move |c| content::personas_of(c, &page)).await
    }

    async fn delete_persona(&self, id: &str, at: Millis) -> StoreResult<bool> {
        let id = id.to_string();
        self.engine.write(move |c| content::delete_persona(c, &id, at)).await
    }

    async fn person_profile(&self, person: PersonId) -> StoreResult<Option<PersonProfile>> {
        self.engine.read(move |c| content::person_profile(c, person)).await
    }

    async fn set_person_profile(&self, person: PersonId, profile: PersonProfile) -> StoreResult<()> {
        self.engine.write(move |c| content::set_person_profile(c, person, &profile)).await
    }

    async fn apps_for(&self, person: Option<PersonId>) -> StoreResult<Vec<(App, Option<AppRole>)>> {
        self.engine.read(move |c| listings::apps_for(c, person)).await
    }

    async fn app_members(&self, app: &AppId) -> StoreResult<Vec<(Person, AppRole)>> {
        let app = app.clone();
        self.engine.read(move |c| listings::app_members(c, &app)).await
    }

    async fn pages_for(&self, person: Option<PersonId>) -> StoreResult<Vec<Page>> {
        self.engine.read(move |c| listings::pages_for(c, person)).await
    }

    async fn page_admins(&self, page: &PageId) -> StoreResult<Vec<Person>> {
        let page = page.clone();
        self.engine.read(move |c| listings::page_admins(c, &page)).await
    }

    async fn search_pages(&self, text: &str, limit: u32) -> StoreResult<Vec<Page>> {
        let text = text.to_string();
        self.engine.read(move |c| listings::search_pages(c, &text, limit)).await
    }

    async fn person_by_login(&self, login: &str) -> StoreResult<Option<Person>> {
        let login = login.to_string();
        self.engine.read(move |c| listings::person_by_login(c, &login)).await
    }

    async fn delivery_stats(&self, app: &AppId, from: Millis, to: Millis, bucket_ms: Millis) -> StoreResult<Vec<DeliveryBucket>> {
        let app = app.clone();
        self.engine.read(move |c| listings::delivery_stats(c, &app, from, to, bucket_ms.max(1))).await
    }

    async fn claim_outbox(&self, now: Millis, lease_until: Millis, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        self.engine
            .write_relaxed(move |c| {
                // One statement leases them all; RETURNING has no order, so sort after.
                // Relaxed: a lease lost in a crash only lets the event be claimed again.
                let mut s = q(c.prepare_cached(
                    "UPDATE outbox SET lease_until = ?2 WHERE id IN (
                        SELECT o.id FROM outbox o
                        WHERE o.settled_at IS NULL AND o.is_head = 1 AND o.next_attempt_at <= ?1 AND o.lease_until <= ?1
                          AND NOT EXISTS (
                            SELECT 1 FROM outbox p
                            WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                              AND p.settled_at IS NULL AND p.id < o.id)
                        ORDER BY o.next_attempt_at, o.id LIMIT ?3)
                     RETURNING id, app_id, page_id, person_id, field, body, created_at, failures, first_failure_at, next_attempt_at",
                ))?;
                let mut events: Vec<(Millis, OutboxEvent)> =
                    q(q(s.query_map(params![now, lease_until, limit], |r| Ok((r.get(9)?, rows::outbox_event(r)?))))?.collect())?;
                events.sort_by_key(|(due, event)| (*due, event.id));
                Ok(events.into_iter().map(|(_, event)| event).collect())
            })
            .await
    }

    async fn outbox_delivered_then_claim(&self, ids: &[i64], at: Millis, lease_until: Option<Millis>) -> StoreResult<Vec<OutboxEvent>> {
        let ids = ids.to_vec();
        self.engine.write(move |c| delivery::delivered(c, &ids, at, lease_until)).await
    }

    async fn outbox_failed(&self, attempt: FailedAttempt) -> StoreResult<()> {
        self.engine.write(move |c| delivery::failed(c, &attempt)).await
    }

    async fn escalate_failure(&self, app: &AppId, now: Millis, alert_after: Millis, disable_after: Millis) -> StoreResult<Option<Alert>> {
        let app = app.clone();
        self.engine.write(move |c| delivery::escalate(c, &app, now, alert_after, disable_after)).await
    }

    async fn recent_failures(&self, app: &AppId, limit: u32) -> StoreResult<Vec<AttemptRecord>> {
        let app = app.clone();
        self.engine.read(move |c| delivery::recent_failures(c, &app, limit)).await
    }

    async fn event_history(&self, app: &AppId, id: i64) -> StoreResult<Option<(EventRecord, Vec<AttemptRecord>)>> {
        let app = app.clone();
        self.engine.read(move |c| delivery::event_history(c, &app, id)).await
    }

    async fn events_of(&self, app: &AppId, state: Option<EventState>, from: Millis, to: Millis, limit: u32) -> StoreResult<Vec<EventRecord>> {
        let app = app.clone();
        self.engine.read(move |c| delivery::events_of(c, &app, state, from, to, limit)).await
    }

    async fn endpoint_health(&self, app: &AppId) -> StoreResult<EndpointHealth> {
        let app = app.clone();
        self.engine.read(move |c| delivery::endpoint_health(c, &app)).await
    }

    async fn alerts(&self, app: &AppId, limit: u32) -> StoreResult<Vec<Alert>> {
        let app = app.clone();
        self.engine.read(move |c| delivery::alerts(c, &app, limit)).await
    }

    async fn replay(&self, app: &AppId, selection: ReplaySelection, now: Millis) -> StoreResult<Vec<i64>> {
        let app = app.clone();
        self.engine.write(move |c| delivery::replay(c, &app, &selection, now)).await
    }

    async fn prune_outbox(&self, delivered_before: Millis, dead_before: Millis) -> StoreResult<u64> {
        self.engine.write(move |c| delivery::prune(c, delivered_before, dead_before)).await
    }

    async fn outbox_next_due(&self) -> StoreResult<Option<Millis>> {
        self.engine
            .read(|c| {
                // Only a thread's oldest pending event can be claimed; a later one is
                // not due while it waits behind it.
                q(c.query_row(
                    "SELECT MIN(MAX(o.next_attempt_at, o.lease_until)) FROM outbox o
                     WHERE o.settled_at IS NULL AND o.is_head = 1
                       AND NOT EXISTS (
                         SELECT 1 FROM outbox p
                         WHERE p.app_id = o.app_id AND p.page_id = o.page_id AND p.person_id = o.person_id
                           AND p.settled_at IS NULL AND p.id < o.id)",
                    [],
                    |r| r.get(0),
                ))
            })
            .await
    }

    async fn shift_leases(&self, now: Millis, by: Millis) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute("UPDATE outbox SET lease_until = lease_until + ?2 WHERE settled_at IS NULL AND lease_until > ?1", params![now, by]))?;
                Ok(())
            })
            .await
    }

    async fn outbox_pending(&self) -> StoreResult<u64> {
        self.engine.read(|c| q(c.query_row("SELECT COUNT(*) FROM outbox WHERE settled_at IS NULL", [], |r| r.get(0)))).await
    }

    async fn outbox_pending_by_app(&self) -> StoreResult<Vec<(AppId, u64)>> {
        self.engine
            .read(|c| {
                let mut s = q(c.prepare_cached("SELECT app_id, COUNT(*) FROM outbox WHERE settled_at IS NULL GROUP BY app_id ORDER BY app_id"))?;
                let rows = q(s.query_map([], |r| Ok((AppId(r.get(0)?), r.get(1)?))))?;
                q(rows.collect())
            })
            .await
    }
}
