//! Conversions between rows and domain values.

use rusqlite::Row;
use switchboard_domain::*;

pub fn fields_to_text(fields: &[WebhookField]) -> String {
    fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

pub fn fields_from_text(text: &str) -> Vec<WebhookField> {
    text.split(',').filter_map(WebhookField::parse).collect()
}

pub fn person(row: &Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person { id: PersonId(row.get("id")?), name: row.get("name")?, login: row.get("login")? })
}

pub fn page(row: &Row<'_>) -> rusqlite::Result<Page> {
    Ok(Page { id: PageId(row.get("id")?), name: row.get("name")?, username: row.get("username")? })
}

pub fn app(row: &Row<'_>) -> rusqlite::Result<App> {
    let mode: String = row.get("mode")?;
    Ok(App {
        id: AppId(row.get("id")?),
        name: row.get("name")?,
        mode: if mode == "live" { AppMode::Live } else { AppMode::Development },
        secret_generation: row.get("secret_generation")?,
        require_proof: row.get("require_proof")?,
    })
}

pub fn mode_text(mode: AppMode) -> &'static str {
    match mode {
        AppMode::Development => "development",
        AppMode::Live => "live",
    }
}

pub fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    let direction: String = row.get("direction")?;
    Ok(Message {
        mid: Mid(row.get("mid")?),
        page: PageId(row.get("page_id")?),
        person: PersonId(row.get("person_id")?),
        direction: if direction == "in" { Direction::Inbound } else { Direction::Outbound },
        app: row.get::<_, Option<String>>("app_id")?.map(AppId),
        text: row.get("text")?,
        metadata: row.get("metadata")?,
        attachment: row.get("attachment")?,
        quick_replies: row.get("quick_replies")?,
        reply_to: row.get::<_, Option<String>>("reply_to")?.map(Mid),
        persona: row.get("persona_id")?,
        person_reaction: row.get("person_reaction")?,
        page_reaction: row.get("page_reaction")?,
        created_at: row.get("created_at")?,
    })
}

pub fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
    }
}

pub fn token(row: &Row<'_>) -> rusqlite::Result<Option<TokenRecord>> {
    let kind: String = row.get("kind")?;
    let person = row.get::<_, Option<i64>>("person_id")?.map(PersonId);
    let page = row.get::<_, Option<String>>("page_id")?.map(PageId);
    let app = row.get::<_, Option<String>>("app_id")?.map(AppId);
    let grant = match (kind.as_str(), person, page, app) {
        ("user", Some(person), _, Some(app)) => TokenGrant::User { person, app },
        ("page", Some(person), Some(page), Some(app)) => TokenGrant::Page { page, app, person },
        ("session", Some(person), _, _) => TokenGrant::Session { person },
        ("operator", _, _, _) => TokenGrant::Operator,
        _ => return Ok(None),
    };
    Ok(Some(TokenRecord {
        hash: row.get("digest")?,
        grant,
        issued_at: row.get("issued_at")?,
        expires_at: row.get("expires_at")?,
    }))
}

/// An outbox event from `id, app_id, page_id, person_id, field, body, created_at,
/// failures, first_failure_at`, in that order.
pub fn outbox_event(r: &Row<'_>) -> rusqlite::Result<switchboard_store::OutboxEvent> {
    Ok(switchboard_store::OutboxEvent {
        id: r.get(0)?,
        app: AppId(r.get(1)?),
        page: PageId(r.get(2)?),
        person: PersonId(r.get(3)?),
        field: WebhookField::parse(&r.get::<_, String>(4)?).unwrap_or(WebhookField::Messages),
        body: r.get(5)?,
        created_at: r.get(6)?,
        failures: r.get(7)?,
        first_failure_at: r.get(8)?,
    })
}

/// An opt-in request from its columns, in `optin_requests` order.
pub fn optin_request(r: &Row<'_>) -> rusqlite::Result<switchboard_store::OptinRequest> {
    Ok(switchboard_store::OptinRequest {
        mid: Mid(r.get(0)?),
        kind: switchboard_store::OptinKind::parse(&r.get::<_, String>(1)?).unwrap_or(switchboard_store::OptinKind::OneTime),
        page: PageId(r.get(2)?),
        person: PersonId(r.get(3)?),
        title: r.get(4)?,
        payload: r.get(5)?,
        created_at: r.get(6)?,
        tapped_at: r.get(7)?,
        token_expires_at: r.get(8)?,
        stopped_at: r.get(9)?,
        last_sent_at: r.get(10)?,
    })
}
