//! The Messenger Profile API, a person's own settings (`custom_user_settings`) and
//! the Personas API (Page token).

use super::{json, success, GraphCall};
use crate::error::HttpResult;
use switchboard_domain::PageRef;
use axum::response::Response;
use switchboard_app::Platform;
use switchboard_domain::profile::{parse_profile_fields, require_profile_fields};
use switchboard_store::Persona;
use switchboard_wire::graph;

fn result_success() -> Response {
    json(graph::RESULT_SUCCESS)
}

/// `GET /{page-id}/messenger_profile?fields=...`.
pub async fn get_profile(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let fields = parse_profile_fields(&request.params)?;
    Ok(json(platform.profiles.messenger_profile(caller, page, fields).await?))
}

/// `POST /{page-id}/messenger_profile`: `{"result": "success"}`.
pub async fn set_profile(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.profiles.set_messenger_profile(caller, page, &request.params).await?;
    Ok(result_success())
}

/// `DELETE /{page-id}/messenger_profile` with `fields` (JSON body or query).
pub async fn delete_profile(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let fields = require_profile_fields(&request.params)?;
    platform.profiles.delete_messenger_profile(caller, page, fields).await?;
    Ok(result_success())
}

pub fn persona_node(persona: &Persona) -> graph::Persona {
    graph::Persona { name: persona.name.clone(), profile_picture_url: persona.profile_picture_url.clone(), id: persona.id.clone() }
}

/// `POST /{page-id}/personas` `{"name","profile_picture_url"}`: `{"id"}`.
pub async fn create_persona(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    Ok(json(graph::Created { id: platform.profiles.create_persona(caller, page, &request.params).await? }))
}

/// `GET /{page-id}/personas`.
pub async fn personas(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let data = platform.profiles.personas(caller, page).await?.iter().map(persona_node).collect();
    Ok(json(graph::Data { data }))
}

/// `DELETE /{persona-id}`: `{"success": true}`.
pub async fn delete_node(platform: &Platform, request: &GraphCall, id: &str) -> HttpResult<Response> {
    let caller = request.caller()?;
    if platform.profiles.delete_persona(caller, id).await? {
        return Ok(success());
    }
    Err(switchboard_domain::Refusal::unknown_object(id).into())
}

/// `POST /{page-id}/custom_user_settings` `{"psid", "persistent_menu"}`: `{"result": "success"}`.
pub async fn set_user_settings(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.profiles.set_user_settings(caller, page, &request.params).await?;
    Ok(result_success())
}

/// `GET /{page-id}/custom_user_settings?psid=`: the person's and the Page's menus.
pub async fn user_settings(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    Ok(json(platform.profiles.user_settings(caller, page, &request.params).await?))
}

/// `DELETE /{page-id}/custom_user_settings?psid=&params=["persistent_menu"]`: `{"result": "success"}`.
pub async fn delete_user_settings(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    platform.profiles.delete_user_settings(caller, page, &request.params).await?;
    Ok(result_success())
}
