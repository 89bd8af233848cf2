//! Consent in SQLite: `app_redirect_uris`, `login_codes`, `user_permissions`,
//! `permission_reviews`, test users (`persons.test_user_of`, `persons.disabled`) and
//! `businesses` with the apps and Pages they own.

use crate::columns::{prepare, q, Query};
use crate::tokens::revoke_page_tokens;
use crate::SqliteStore;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_domain::*;
use switchboard_store::codec::{self, Answer, Columns, TokenKind};
use switchboard_store::*;

/// The columns of `apps` row `a` that `codec::app` reads, its approved permissions
/// among them.
pub(crate) fn app_columns() -> String {
    let approved = codec::text(ReviewStatus::Approved);
    format!(
        "a.id, a.name, a.mode, a.secret_generation, a.require_proof, a.policy_state,
         (SELECT group_concat(v.permission) FROM permission_reviews v WHERE v.app_id = a.id AND v.status = '{approved}') AS approved"
    )
}

pub(crate) fn upsert_answers(c: &Connection, person: PersonId, app: &AppId, permissions: Scopes, answer: Answer, at: Millis) -> StoreResult<()> {
    let mut statement = prepare(
        c,
        "INSERT INTO user_permissions (person_id, app_id, permission, status, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (person_id, app_id, permission) DO UPDATE SET status = excluded.status, at = excluded.at",
    )?;
    for permission in permissions.iter() {
        q(statement.execute(params![person.0, app.as_str(), codec::text(permission), codec::text(answer), at]))?;
    }
    Ok(())
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn redirect_uris(&self, app: &AppId) -> StoreResult<Vec<String>> {
        let app = app.clone();
        self.engine
            .read(move |c| prepare(c, "SELECT uri FROM app_redirect_uris WHERE app_id = ?1 ORDER BY uri")?.all([app.as_str()], |r| r.text("uri")))
            .await
    }

    async fn set_redirect_uris(&self, app: &AppId, uris: &[String]) -> StoreResult<()> {
        let (app, uris) = (app.clone(), uris.to_vec());
        self.engine
            .write(move |c| {
                q(c.execute("DELETE FROM app_redirect_uris WHERE app_id = ?1", [app.as_str()]))?;
                let mut insert = prepare(c, "INSERT OR IGNORE INTO app_redirect_uris (app_id, uri) VALUES (?1, ?2)")?;
                for uri in &uris {
                    q(insert.execute(params![app.as_str(), uri]))?;
                }
                Ok(())
            })
            .await
    }

    async fn insert_login_code(&self, digest: &str, code: LoginCode) -> StoreResult<()> {
        let digest = digest.to_string();
        self.engine
            .write(move |c| {
                q(c.execute(
                    "INSERT INTO login_codes (digest, app_id, person_id, redirect_uri, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![digest, code.app.as_str(), code.person.0, code.redirect_uri, code.expires_at],
                ))?;
                Ok(())
            })
            .await
    }

    async fn redeem_login_code(&self, digest: &str) -> StoreResult<Redemption> {
        let digest = digest.to_string();
        self.engine
            .write(move |c| {
                let found = prepare(c, "SELECT app_id, person_id, redirect_uri, expires_at, used FROM login_codes WHERE digest = ?1")?
                    .optional([&digest], |r| Ok((codec::login_code(r)?, r.flag("used")?)))?;
                Ok(match found {
                    None => Redemption::Unknown,
                    Some((code, true)) => Redemption::Used(code),
                    Some((code, false)) => {
                        q(c.execute("UPDATE login_codes SET used = 1 WHERE digest = ?1", [&digest]))?;
                        Redemption::Redeemed(code)
                    }
                })
            })
            .await
    }

    async fn record_consent(&self, person: PersonId, app: &AppId, granted: Scopes, declined: Scopes, at: Millis) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                upsert_answers(c, person, &app, granted, Answer::Granted, at)?;
                upsert_answers(c, person, &app, declined.without(granted), Answer::Declined, at)
            })
            .await
    }

    async fn consent(&self, person: PersonId, app: &AppId) -> StoreResult<Consent> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                let answers = prepare(c, "SELECT permission, status FROM user_permissions WHERE person_id = ?1 AND app_id = ?2")?
                    .all(params![person.0, app.as_str()], |r| Ok((Permission::parse(&r.text("permission")?), r.known::<Answer>("status")?)))?;
                let mut consent = Consent::default();
                for (permission, answer) in answers {
                    // A permission this version does not know is left out.
                    let Some(permission) = permission else { continue };
                    match answer {
                        Answer::Granted => consent.granted.insert(permission),
                        Answer::Declined => consent.declined.insert(permission),
                    }
                }
                Ok(consent)
            })
            .await
    }

    async fn withdraw_permission(&self, person: PersonId, app: &AppId, permission: Permission, at: Millis) -> StoreResult<bool> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE user_permissions SET status = ?4, at = ?5 WHERE person_id = ?1 AND app_id = ?2 AND permission = ?3 AND status = ?6",
                    params![person.0, app.as_str(), codec::text(permission), codec::text(Answer::Declined), at, codec::text(Answer::Granted)],
                ))?;
                Ok(changed > 0)
            })
            .await
    }

    async fn deauthorize(&self, person: PersonId, app: &AppId, trail: PrivacyTrail) -> StoreResult<()> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                q(c.execute("DELETE FROM user_permissions WHERE person_id = ?1 AND app_id = ?2", params![person.0, app.as_str()]))?;
                q(c.execute(
                    "UPDATE tokens SET revoked = 1 WHERE kind = ?3 AND revoked = 0 AND person_id = ?1 AND app_id = ?2",
                    params![person.0, app.as_str(), codec::text(TokenKind::User)],
                ))?;
                revoke_page_tokens(c, "person_id = ?1 AND app_id = ?2", &[&person.0, &app.as_str()])?;
                crate::privacy::insert_trail(c, &trail)
            })
            .await
    }

    async fn submit_review(&self, app: &AppId, permissions: Scopes, note: &str, at: Millis) -> StoreResult<()> {
        let (app, note) = (app.clone(), note.to_string());
        self.engine
            .write(move |c| {
                let mut statement = prepare(
                    c,
                    "INSERT INTO permission_reviews (app_id, permission, status, note, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (app_id, permission) DO UPDATE SET status = excluded.status, note = excluded.note,
                         submitted_at = excluded.submitted_at, reason = NULL, decided_at = NULL
                     WHERE permission_reviews.status <> ?6",
                )?;
                for permission in permissions.iter() {
                    let pending = codec::text(ReviewStatus::Pending);
                    q(statement.execute(params![app.as_str(), codec::text(permission), pending, note, at, codec::text(ReviewStatus::Approved)]))?;
                }
                Ok(())
            })
            .await
    }

    async fn decide_review(&self, app: &AppId, permission: Permission, approve: bool, reason: Option<&str>, at: Millis) -> StoreResult<()> {
        let (app, reason) = (app.clone(), reason.map(str::to_string));
        let status = if approve { ReviewStatus::Approved } else { ReviewStatus::Declined };
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE permission_reviews SET status = ?3, reason = ?4, decided_at = ?5 WHERE app_id = ?1 AND permission = ?2",
                    params![app.as_str(), codec::text(permission), codec::text(status), reason, at],
                ))?;
                if changed == 0 {
                    return Err(StoreError::NotFound(Missing::Review { app: app.clone(), permission }));
                }
                Ok(())
            })
            .await
    }

    async fn reviews(&self, app: &AppId) -> StoreResult<Vec<PermissionReview>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT permission, status, note, reason, submitted_at, decided_at FROM permission_reviews WHERE app_id = ?1 ORDER BY permission")?
                    .all([app.as_str()], |r| codec::permission_review(r))
            })
            .await
    }

    async fn pending_reviews(&self) -> StoreResult<Vec<(App, Vec<PermissionReview>)>> {
        self.engine
            .read(move |c| {
                let pending = codec::text(ReviewStatus::Pending);
                let apps = prepare(
                    c,
                    &format!(
                        "SELECT {} FROM apps a
                         WHERE EXISTS (SELECT 1 FROM permission_reviews v WHERE v.app_id = a.id AND v.status = ?1) ORDER BY a.name, a.id",
                        app_columns()
                    ),
                )?
                .all([pending], |r| codec::app(r))?;
                let mut reviews = prepare(
                    c,
                    "SELECT permission, status, note, reason, submitted_at, decided_at FROM permission_reviews
                     WHERE app_id = ?1 AND status = ?2 ORDER BY permission",
                )?;
                apps.into_iter().map(|app| Ok((app.clone(), reviews.all(params![app.id.as_str(), pending], |r| codec::permission_review(r))?))).collect()
            })
            .await
    }

    async fn test_users(&self, app: &AppId) -> StoreResult<Vec<Person>> {
        let app = app.clone();
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, name, login FROM persons WHERE test_user_of = ?1 AND disabled = 0 ORDER BY id")?.all([app.as_str()], |r| codec::person(r))
            })
            .await
    }

    async fn delete_test_user(&self, app: &AppId, person: PersonId) -> StoreResult<bool> {
        let app = app.clone();
        self.engine
            .write(move |c| {
                let changed = q(c.execute(
                    "UPDATE persons SET disabled = 1, password_hash = '!' WHERE id = ?1 AND test_user_of = ?2 AND disabled = 0",
                    params![person.0, app.as_str()],
                ))?;
                if changed == 0 {
                    return Ok(false);
                }
                q(c.execute("DELETE FROM app_roles WHERE person_id = ?1", [person.0]))?;
                q(c.execute("DELETE FROM user_permissions WHERE person_id = ?1", [person.0]))?;
                revoke_page_tokens(c, "person_id = ?1", &[&person.0])?;
                q(c.execute("UPDATE tokens SET revoked = 1 WHERE person_id = ?1 AND revoked = 0", [person.0]))?;
                Ok(true)
            })
            .await
    }

    async fn create_business(&self, business: Business) -> StoreResult<()> {
        self.engine
            .write(move |c| {
                q(c.execute("INSERT INTO businesses (id, name, admin_id) VALUES (?1, ?2, ?3)", params![business.id, business.name, business.admin.map(|p| p.0)]))?;
                Ok(())
            })
            .await
    }

    async fn business(&self, id: &str) -> StoreResult<Option<Business>> {
        let id = id.to_string();
        self.engine.read(move |c| prepare(c, "SELECT id, name, admin_id FROM businesses WHERE id = ?1")?.optional([id], |r| codec::business(r))).await
    }

    async fn businesses(&self, admin: Option<PersonId>) -> StoreResult<Vec<Business>> {
        self.engine
            .read(move |c| {
                prepare(c, "SELECT id, name, admin_id FROM businesses WHERE ?1 IS NULL OR admin_id = ?1 ORDER BY name, id")?
                    .all([admin.map(|p| p.0)], |r| codec::business(r))
            })
            .await
    }

    async fn assign_to_business(&self, business: &str, asset: BusinessAsset) -> StoreResult<()> {
        let business = business.to_string();
        self.engine
            .write(move |c| {
                let changed = match &asset {
                    BusinessAsset::App(app) => q(c.execute("UPDATE apps SET business_id = ?1 WHERE id = ?2", params![business, app.as_str()]))?,
                    BusinessAsset::Page(page) => q(c.execute("UPDATE pages SET business_id = ?1 WHERE id = ?2", params![business, page.as_str()]))?,
                };
                if changed == 0 {
                    return Err(StoreError::NotFound(Missing::Business(match asset {
                        BusinessAsset::App(app) => app.0,
                        BusinessAsset::Page(page) => page.0,
                    })));
                }
                Ok(())
            })
            .await
    }

    async fn business_of(&self, asset: BusinessAsset) -> StoreResult<Option<String>> {
        self.engine
            .read(move |c| {
                let (sql, id) = match &asset {
                    BusinessAsset::App(app) => ("SELECT business_id FROM apps WHERE id = ?1", app.as_str()),
                    BusinessAsset::Page(page) => ("SELECT business_id FROM pages WHERE id = ?1", page.as_str()),
                };
                Ok(prepare(c, sql)?.optional([id], |r| r.opt_text("business_id"))?.flatten())
            })
            .await
    }

    async fn person_by_asid(&self, app: &AppId, asid: &str) -> StoreResult<Option<PersonId>> {
        let (app, asid) = (app.clone(), asid.to_string());
        self.engine
            .read(move |c| prepare(c, "SELECT person_id FROM asids WHERE app_id = ?1 AND asid = ?2")?.optional(params![app.as_str(), asid], |r| Ok(PersonId(r.int("person_id")?))))
            .await
    }

    async fn ids_for_pages(&self, person: PersonId, business: &str) -> StoreResult<Vec<(Page, Psid)>> {
        let business = business.to_string();
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    "SELECT p.id, p.name, p.username, s.psid FROM pages p JOIN psids s ON s.page_id = p.id AND s.person_id = ?1
                     WHERE p.business_id = ?2 ORDER BY p.name, p.id",
                )?
                .all(params![person.0, business], |r| Ok((codec::page(r)?, Psid(r.text("psid")?))))
            })
            .await
    }

    async fn ids_for_apps(&self, person: PersonId, business: &str) -> StoreResult<Vec<(App, Asid)>> {
        let business = business.to_string();
        self.engine
            .read(move |c| {
                prepare(
                    c,
                    &format!(
                        "SELECT {}, s.asid
                         FROM apps a JOIN asids s ON s.app_id = a.id AND s.person_id = ?1
                         WHERE a.business_id = ?2 ORDER BY a.name, a.id",
                        app_columns()
                    ),
                )?
                .all(params![person.0, business], |r| Ok((codec::app(r)?, Asid(r.text("asid")?))))
            })
            .await
    }
}
