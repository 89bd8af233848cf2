//! Nodes: `/me`, `/{id}` for Pages, apps, users (the User Profile API), personas,
//! custom labels, conversations and messages, and `/me/accounts`.

use super::{json, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use serde_json::{Map, Value};
use switchboard_app::{Caller, Platform};
use switchboard_domain::{Page, PageId, PageRef, Person, Refusal};
use switchboard_wire::graph;

/// Fields a User node may lack (the person did not say): left out, not refused.
const USER_OPTIONAL_FIELDS: &[&str] = &["gender"];

/// Keeps the fields asked for with `fields=` (the node's defaults otherwise); an
/// unknown field is refused as Graph does.
fn select(request: &GraphCall, node_type: &str, available: Map<String, Value>, defaults: &[&str]) -> HttpResult<Response> {
    let wanted = request.params.list("fields")?.unwrap_or_else(|| defaults.iter().map(|s| s.to_string()).collect());
    let optional = if node_type == "User" { USER_OPTIONAL_FIELDS } else { &[] };
    let mut out = Map::new();
    for field in wanted {
        match available.get(&field) {
            Some(value) => {
                out.insert(field, value.clone());
            }
            None if optional.contains(&field.as_str()) => {}
            None => {
                return Err(Refusal::invalid_param(format!("Tried accessing nonexisting field ({field}) on node type ({node_type})")).into())
            }
        }
    }
    if !out.contains_key("id") {
        if let Some(id) = available.get("id") {
            out.insert("id".into(), id.clone());
        }
    }
    Ok(json(Value::Object(out)))
}

/// A node's fields as a map, to select from.
fn object(node: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(node) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn page_fields(page: &Page) -> Map<String, Value> {
    object(&graph::PageNode { id: page.id.0.clone(), name: page.name.clone(), username: page.username.clone() })
}

fn user_fields(person: &Person, id: &str) -> Map<String, Value> {
    let (first, last) = person.first_and_last();
    object(&graph::UserNode { id: id.to_string(), name: person.name.clone(), first_name: first.to_string(), last_name: last.to_string() })
}

/// `GET /me` and `GET /{id}`: a Page (for any token), the token's own app, the
/// token's user (by ASID), or a person by the token Page's PSID.
pub async fn get_node(platform: &Platform, request: &GraphCall, node: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    let unknown = || Refusal::unknown_object(node);
    match (caller, node) {
        (Caller::Page { page, .. }, "me") => {
            select(request, "Page", page_fields(page), &["name", "id"])
        }
        (Caller::User { .. }, id) if switchboard_domain::is_node_id(id) && wants_access_token(request)? => {
            // `GET /{page-id}?fields=access_token` with a user token: the Page token.
            let page = platform.directory.page(&PageRef::Id(PageId(id.to_string()))).await?;
            let mut fields = page_fields(&page);
            fields.insert("access_token".into(), Value::String(platform.consent.page_token_for(caller, &page.id).await?));
            select(request, "Page", fields, &["name", "id"])
        }
        (Caller::User { person, app, .. }, "me") => {
            let asid = platform.directory.asid(*person, &app.id).await?;
            let person = platform.directory.person(*person).await?;
            select(request, "User", user_fields(&person, asid.as_str()), &["name", "id"])
        }
        // (Sessions and the operator credential never get here: `caller` refuses them.)
        (Caller::App(_), "me") => Err(Refusal::token_required().into()),
        (Caller::App(app), id) if app.id.as_str() == id => {
            let fields = object(&graph::ApplicationNode { id: app.id.0.clone(), name: app.name.clone() });
            select(request, "Application", fields, &["name", "id"])
        }
        (Caller::Page { page, .. }, id) if switchboard_domain::is_node_id(id) && page.id.as_str() != id => {
            if let Some(profile) = platform.profiles.user_profile(&page.id, id).await? {
                return select(request, "User", profile, &["first_name", "last_name", "profile_pic", "id"]);
            }
            if let Some(persona) = platform.profiles.persona_of(caller, id).await? {
                let fields = object(&super::profiles::persona_node(&persona));
                return select(request, "Persona", fields, &["name", "profile_picture_url", "id"]);
            }
            if let Some(label) = super::labels::node(platform, request, id).await? {
                return Ok(label);
            }
            page_node(platform, request, id).await
        }
        (Caller::Page { .. }, id) if id.starts_with("t_") => {
            Ok(json(platform.conversations.conversation(caller, id, &request.params).await?.ok_or_else(unknown)?))
        }
        (Caller::Page { .. }, id) if id.starts_with("m_") => {
            Ok(json(platform.conversations.graph_message(caller, id, &request.params).await?.ok_or_else(unknown)?))
        }
        (_, id) if switchboard_domain::is_node_id(id) => page_node(platform, request, id).await,
        _ => Err(unknown().into()),
    }
}

fn wants_access_token(request: &GraphCall) -> Result<bool, Refusal> {
    Ok(request.params.list("fields")?.is_some_and(|fields| fields.iter().any(|f| f == "access_token")))
}

async fn page_node(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let page = platform.directory.page(&PageRef::Id(PageId(id.to_string()))).await?;
    select(request, "Page", page_fields(&page), &["name", "id"])
}

/// `GET /me/accounts`: the Pages the user granted to the app, with Page tokens.
pub async fn accounts(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let caller = request.caller()?;
    let accounts = platform.directory.accounts(caller).await?;
    let data = accounts
        .into_iter()
        .map(|account| graph::Account {
            access_token: account.access_token,
            category: "Business",
            category_list: vec![graph::Category { id: "2500", name: "Business" }],
            name: account.page.name,
            id: account.page.id.0,
            tasks: vec!["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        })
        .collect();
    Ok(json(graph::Data { data }))
}
