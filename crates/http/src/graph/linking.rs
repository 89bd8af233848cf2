//! Account linking's Graph calls (Page token): the PSID behind an
//! `account_linking_token`, for the business's site, and ending a link.

use super::{json, GraphCall};
use crate::error::HttpResult;
use axum::response::Response;
use serde_json::json;
use switchboard_app::Platform;
use switchboard_domain::PageRef;

/// `GET|POST /me?fields=recipient&account_linking_token=` → `{"id": PAGE_ID,
/// "recipient": PSID}` (fbmessenger sends it as a POST).
pub async fn recipient(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let token = request.params.str("account_linking_token")?;
    let (page, psid) = platform.entry_points.linking_recipient(caller, page, token.as_deref()).await?;
    Ok(json(json!({"id": page.0, "recipient": psid.0})))
}

/// `POST /me/unlink_accounts` `{"psid"}` → `{"result": "unlink account success"}`.
pub async fn unlink(platform: &Platform, request: &GraphCall, page: &PageRef) -> HttpResult<Response> {
    let caller = request.caller()?;
    let psid = request.params.str("psid")?;
    platform.entry_points.unlink_accounts(caller, page, psid.as_deref()).await?;
    Ok(json(json!({"result": "unlink account success"})))
}
