//! The directory in SQLite: persons (`persons`, with their phone numbers), Pages
//! (`pages`), apps (`apps`, `app_audit`), the roles persons hold on them
//! (`app_roles`, `page_roles`), the grants of Pages to apps (`page_grants`), Page
//! features (`page_features`) and scoped ids (`psids`, `asids`). Quotas and the
//! Page's last admin are checked here, in the transaction that writes.

use crate::columns::{cached, prepare, q, Query};
use crate::tokens::{register_page_token, revoke_page_tokens};
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_domain::*;
use switchboard_store::codec::{self, Answer, Columns, FeatureStatus};
use switchboard_store::*;

fn insert_person(c: &Connection, person: NewPerson) -> StoreResult<Person> {
    q(c.execute(
        "INSERT INTO persons (name, login, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![person.name, person.login, person.password_hash, person.created_at],
    ))
    .map_err(|e| e.conflict_as(Conflict::LoginTaken(person.login.clone())))?;
    Ok(Person { id: PersonId(c.last_insert_rowid()), name: person.name, login: person.login })
}

fn approve_page_feature(c: &Connection, page: &PageId, feature: PageFeature, at: Millis) -> StoreResult<()> {
    let changed = q(c.execute(
        "UPDATE page_features SET status = ?3, approved_at = ?4 WHERE page_id = ?1 AND feature = ?2",
        params![page.as_str(), codec::text(feature), codec::text(FeatureStatus::Approved), at],
    ))?;
    if changed == 0 {
        return Err(StoreError::NotFound(Missing::FeatureApplication { page: page.clone(), feature }));
    }
    Ok(())
}

/// Gets or creates a scoped id in `table` (`psids` or `asids`): the unique keys make
/// it happen once even when requests race.
fn scoped_id(c: &Connection, table: &str, scope_column: &str, id_column: &str, person: PersonId, scope: &str) -> StoreResult<String> {
    let select = format!("SELECT {id_column} FROM {table} WHERE person_id = ?1 AND {scope_column} = ?2");
    let find = || prepare(c, &select)?.optional(params![person.0, scope], |r| r.text(id_column));
    if let Some(id) = find()? {
        return Ok(id);
    }
    let insert = format!("INSERT OR IGNORE INTO {table} (person_id, {scope_column}, {id_column}) VALUES (?1, ?2, ?3)");
    for _ in 0..8 {
        if q(c.execute(&insert, params![person.0, scope, random_node_id()]))? == 1 {
            break;
        }
        // Either the random id collided within the scope (retry) or it now exists.
        if find()?.is_some() {
            break;
        }
    }
    prepare(c, &select)?.one(params![person.0, scope], |r| r.text(id_column))
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn create_person(&self, person: NewPerson) -> StoreResult<Person> {
        self.engine.write(move |c| insert_person(c, person)).await
    }

    async fn create_test_user(&self, person: NewPerson, app: &AppId, consent: Scopes) -> StoreResult<Person> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let at = person.created_at;
                let person = insert_person(c, person)?;
                q(c.execute("UPDATE persons SET test_user_of = ?2 WHERE id = ?1", params![person.id.0, app.as_str()]))?;
                crate::consent::upsert_answers(c, person.id, &app, consent, Answer::Granted, at)?;
                q(c.execute(
                    "INSERT INTO app_roles (app_id, person_id, role) VALUES (?1, ?2, ?3)",
                    params![app.as_str(), person.id.0, codec::text(AppRole::Tester)],
                ))?;
                Ok(person)
            })
            .await
    }

    async fn person(&self, id: PersonId) -> StoreResult<Option<Person>> {
        self.engine.read(move |c| prepare(c, "SELECT id, name, login FROM persons WHERE id = ?1")?.optional([id.0], |r| codec::person(r))).await
    }

    async fn person_credentials(&self, login: &str) -> StoreResult<Option<(Person, String)>> {
        let login = login.to_string();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, name, login, password_hash FROM persons WHERE login = ?1 AND disabled = 0")?
                    .optional([login], |r| Ok((codec::person(r)?, r.text("password_hash")?)))
            })
            .await
    }

    async fn create_page(&self, page: Page, admin: Option<Owner>) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                if let Some(admin) = admin {
                    let held = prepare(c, "SELECT COUNT(*) AS held FROM page_roles WHERE person_id = ?1")?.one([admin.person.0], |r| r.count("held"))?;
                    if admin.quota > 0 && held >= admin.quota {
                        return Err(StoreError::QuotaExceeded(Quota::PagesPerPerson(admin.quota)));
                    }
                }
                q(c.execute("INSERT INTO pages (id, name, username) VALUES (?1, ?2, ?3)", params![page.id.as_str(), page.name, page.username]))
                    .map_err(|e| e.conflict_as(Conflict::UsernameTaken(page.username.clone())))?;
                if let Some(admin) = admin {
                    q(c.execute(
                        "INSERT INTO page_roles (page_id, person_id, role) VALUES (?1, ?2, ?3)",
                        params![page.id.as_str(), admin.person.0, codec::text(PageRole::Admin)],
                    ))?;
                }
                Ok(())
            })
            .await
    }

    async fn page(&self, id: &PageId) -> StoreResult<Option<Page>> {
        let id = id.clone();
        self.engine.read(move |c| prepare(c, "SELECT id, name, username FROM pages WHERE id = ?1")?.optional([id.as_str()], |r| codec::page(r))).await
    }

    async fn page_by_username(&self, username: &str) -> StoreResult<Option<Page>> {
        let username = username.to_string();
        self.engine
            .read(move |c| prepare(c, "SELECT id, name, username FROM pages WHERE username = ?1")?.optional([username], |r| codec::page(r)))
            .await
    }

    async fn create_app(&self, app: App, administrator: Option<Owner>) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                let role = codec::text(AppRole::Administrator);
                if let Some(owner) = administrator {
                    let held = prepare(c, "SELECT COUNT(*) AS held FROM app_roles WHERE person_id = ?1 AND role = ?2")?
                        .one(params![owner.person.0, role], |r| r.count("held"))?;
                    if owner.quota > 0 && held >= owner.quota {
                        return Err(StoreError::QuotaExceeded(Quota::AppsPerPerson(owner.quota)));
                    }
                }
                q(c.execute(
                    "INSERT INTO apps (id, name, mode, secret_generation, require_proof) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![app.id.as_str(), app.name, codec::text(app.mode), app.secret_generation, app.require_proof],
                ))?;
                if let Some(owner) = administrator {
                    q(c.execute(
                        "INSERT INTO app_roles (app_id, person_id, role) VALUES (?1, ?2, ?3)",
                        params![app.id.as_str(), owner.person.0, role],
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
                prepare(c, &format!("SELECT {} FROM apps a WHERE a.id = ?1", crate::consent::app_columns()))?.optional([id.as_str()], |r| codec::app(r))
            })
            .await
    }

    async fn update_app(&self, app: &App, audit: Option<AuditRecord>, revoke_tokens: bool) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE apps SET name = ?2, mode = ?3, secret_generation = ?4, require_proof = ?5 WHERE id = ?1",
                    params![app.id.as_str(), app.name, codec::text(app.mode), app.secret_generation, app.require_proof],
                ))?;
                if changed == 0 {
                    return Err(StoreError::NotFound(Missing::App(app.id)));
                }
                if let Some(audit) = audit {
                    q(c.execute(
                        "INSERT INTO app_audit (app_id, at, actor, change) VALUES (?1, ?2, ?3, ?4)",
                        params![app.id.as_str(), audit.at, audit.actor, audit.change],
                    ))?;
                }
                if revoke_tokens {
                    revoke_page_tokens(c, "app_id = ?1", &[&app.id.as_str()])?;
                    q(c.execute(
                        "UPDATE tokens SET revoked = 1 WHERE app_id = ?1 AND kind = ?2 AND revoked = 0",
                        params![app.id.as_str(), codec::text(codec::TokenKind::User)],
                    ))?;
                }
                Ok(())
            })
            .await
    }

    async fn enforce_policy(&self, app: &AppId, from: PolicyState, to: PolicyState, audit: AuditRecord, events: Vec<NewOutboxEvent>) -> StoreResult<bool> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE apps SET policy_state = ?3 WHERE id = ?1 AND policy_state = ?2",
                    params![app.as_str(), codec::text(from), codec::text(to)],
                ))?;
                if changed == 0 {
                    let exists = prepare(c, "SELECT EXISTS(SELECT 1 FROM apps WHERE id = ?1) AS found")?.one([app.as_str()], |r| r.flag("found"))?;
                    return if exists { Ok(false) } else { Err(StoreError::NotFound(Missing::App(app))) };
                }
                q(c.execute(
                    "INSERT INTO app_audit (app_id, at, actor, change) VALUES (?1, ?2, ?3, ?4)",
                    params![app.as_str(), audit.at, audit.actor, audit.change],
                ))?;
                crate::outbox::insert_outbox(c, &events)?;
                Ok(true)
            })
            .await
    }

    async fn app_audit(&self, app: &AppId) -> StoreResult<Vec<AuditRecord>> {
        let app = app.clone();
        self.engine
            .read(move |c| cached(c, "SELECT at, actor, change FROM app_audit WHERE app_id = ?1 ORDER BY id")?.all([app.as_str()], |r| codec::audit_record(r)))
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
                        params![app.as_str(), person.0, codec::text(role)],
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
                prepare(c, "SELECT role FROM app_roles WHERE app_id = ?1 AND person_id = ?2")?.optional(params![app.as_str(), person.0], |r| r.known("role"))
            })
            .await
    }

    async fn set_page_role(&self, page: &PageId, person: PersonId, role: Option<PageRole>) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                if role != Some(PageRole::Admin) {
                    // Leaving the admins (removed, or made an agent): one must stay, and
                    // the Page tokens granted on this person's behalf end.
                    let admin = codec::text(PageRole::Admin);
                    let other_admins = prepare(c, "SELECT COUNT(*) AS admins FROM page_roles WHERE page_id = ?1 AND person_id <> ?2 AND role = ?3")?
                        .one(params![page.as_str(), person.0, admin], |r| r.count("admins"))?;
                    let is_admin = prepare(c, "SELECT 1 AS held FROM page_roles WHERE page_id = ?1 AND person_id = ?2 AND role = ?3")?
                        .optional(params![page.as_str(), person.0, admin], |_| Ok(()))?
                        .is_some();
                    if is_admin && other_admins == 0 {
                        return Err(StoreError::Conflict(Conflict::LastPageAdmin));
                    }
                    revoke_page_tokens(c, "page_id = ?1 AND person_id = ?2", &[&page.as_str(), &person.0])?;
                }
                match role {
                    Some(role) => q(c.execute(
                        "INSERT INTO page_roles (page_id, person_id, role) VALUES (?1, ?2, ?3)
                         ON CONFLICT (page_id, person_id) DO UPDATE SET role = excluded.role",
                        params![page.as_str(), person.0, codec::text(role)],
                    ))?,
                    None => q(c.execute("DELETE FROM page_roles WHERE page_id = ?1 AND person_id = ?2", params![page.as_str(), person.0]))?,
                };
                Ok(())
            })
            .await
    }

    async fn page_role(&self, page: &PageId, person: PersonId) -> StoreResult<Option<PageRole>> {
        let page = page.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT role FROM page_roles WHERE page_id = ?1 AND person_id = ?2")?.optional(params![page.as_str(), person.0], |r| r.known("role"))
            })
            .await
    }

    async fn grant_page(&self, grant: PageGrant, token: PageTokenMinter) -> StoreResult<u32> {
        let PageGrant { page, app, by, at, max_apps, consent } = grant;
        self.engine
            .write(move |c| {
                let (granted, new) = prepare(
                    c,
                    "SELECT COUNT(*) AS granted, NOT EXISTS(SELECT 1 FROM page_grants WHERE page_id = ?1 AND app_id = ?2) AS new
                     FROM page_grants WHERE page_id = ?1",
                )?
                .one(params![page.as_str(), app.as_str()], |r| Ok((r.count("granted")?, r.flag("new")?)))?;
                if new && max_apps > 0 && granted >= max_apps {
                    return Err(StoreError::QuotaExceeded(Quota::AppsPerPage(max_apps)));
                }
                q(c.execute(
                    "INSERT INTO page_grants (page_id, app_id, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (page_id, app_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = excluded.granted_at",
                    params![page.as_str(), app.as_str(), by.0, at],
                ))?;
                crate::consent::upsert_answers(c, by, &app, consent, Answer::Granted, at)?;
                register_page_token(c, &page, &app, by, at, &token)
            })
            .await
    }

    async fn revoke_page_grant(&self, page: &PageId, app: &AppId, trail: PrivacyTrail) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .write(move |c| {
                revoke_page_tokens(c, "page_id = ?1 AND app_id = ?2", &[&page.as_str(), &app.as_str()])?;
                crate::subscriptions::uninstall(c, &page, &app)?;
                // Webhooks stop: the app's events of the Page not delivered yet are dropped.
                q(c.execute("DELETE FROM outbox WHERE app_id = ?1 AND page_id = ?2 AND settled_at IS NULL", params![app.as_str(), page.as_str()]))?;
                let revoked = q(c.execute("DELETE FROM page_grants WHERE page_id = ?1 AND app_id = ?2", params![page.as_str(), app.as_str()]))? > 0;
                if revoked {
                    crate::privacy::insert_trail(c, &trail)?;
                }
                Ok(revoked)
            })
            .await
    }

    async fn page_granted(&self, page: &PageId, app: &AppId) -> StoreResult<bool> {
        let (page, app) = (page.clone(), app.clone());
        self.engine
            .read(move |c| {
                prepare(c, "SELECT EXISTS(SELECT 1 FROM page_grants WHERE page_id = ?1 AND app_id = ?2) AS granted")?
                    .one(params![page.as_str(), app.as_str()], |r| r.flag("granted"))
            })
            .await
    }

    async fn granted_pages_of(&self, person: PersonId, app: &AppId) -> StoreResult<Vec<Page>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    "SELECT p.id, p.name, p.username FROM pages p
                     JOIN page_roles r ON r.page_id = p.id AND r.person_id = ?1 AND r.role = ?3
                     JOIN page_grants g ON g.page_id = p.id AND g.app_id = ?2
                     ORDER BY p.name, p.id",
                )?
                .all(params![person.0, app.as_str(), codec::text(PageRole::Admin)], |r| codec::page(r))
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
                .map_err(|e| e.conflict_as(Conflict::PhoneTaken))?;
                Ok(())
            })
            .await
    }

    async fn person_by_phone(&self, phone: &str) -> StoreResult<Option<(PersonId, Millis)>> {
        let phone = phone.to_string();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, phone_verified_at FROM persons WHERE phone_number = ?1")?
                    .optional([phone], |r| Ok((PersonId(r.int("id")?), r.int("phone_verified_at")?)))
            })
            .await
    }

    async fn phone_of(&self, person: PersonId) -> StoreResult<Option<(String, Millis)>> {
        self.engine
            .read(move |c| {
                prepare(c, "SELECT phone_number, phone_verified_at FROM persons WHERE id = ?1 AND phone_number IS NOT NULL")?
                    .optional([person.0], |r| Ok((r.text("phone_number")?, r.int("phone_verified_at")?)))
            })
            .await
    }

    async fn apply_page_feature(&self, page: &PageId, feature: PageFeature, by: Option<PersonId>, at: Millis, approve: bool) -> StoreResult<()> {
        let page = page.clone();
        self.engine
            .write(move |c| {
                // Applying again keeps an approval already given.
                q(c.execute(
                    "INSERT INTO page_features (page_id, feature, status, applied_by, applied_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (page_id, feature) DO NOTHING",
                    params![page.as_str(), codec::text(feature), codec::text(FeatureStatus::Applied), by.map(|p| p.0), at],
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
                cached(c, "SELECT feature, status, applied_by, applied_at, approved_at FROM page_features WHERE page_id = ?1 ORDER BY feature")?
                    .all([page.as_str()], |r| codec::page_feature(r))
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
                move |c| prepare(c, "SELECT psid FROM psids WHERE person_id = ?1 AND page_id = ?2")?.optional(params![person.0, page.as_str()], |r| r.text("psid"))
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
                prepare(c, "SELECT person_id FROM psids WHERE page_id = ?1 AND psid = ?2")?
                    .optional(params![page.as_str(), psid], |r| Ok(PersonId(r.int("person_id")?)))
            })
            .await
    }

    async fn asid(&self, person: PersonId, app: &AppId) -> StoreResult<Asid> {
        let app = app.clone();
        self.engine.write(move |c| scoped_id(c, "asids", "app_id", "asid", person, app.as_str()).map(Asid)).await
    }
}
