//! The Graph API face: Meta's paths, versioned (`/v21.0/...`, any version) or not.
//! One readable table maps (method, node, edge) to a handler; each handler is
//! named after the endpoint it implements.

mod batch;
mod conversations;
mod features;
mod handover;
mod identity;
mod labels;
mod insights;
mod linking;
mod messages;
mod nodes;
mod oauth;
mod pickups;
mod profiles;
mod subscriptions;

use crate::error::{HttpError, HttpResult};
use crate::request::GraphRequest;
use axum::extract::State;
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use switchboard_app::{AppError, Caller, Platform, RefusedRequest, Usage};
use switchboard_domain::{PageRef, Refusal};
use switchboard_wire::graph;

/// A Graph request with its token resolved, once, before it is metered and routed.
pub(crate) struct GraphCall {
    pub request: GraphRequest,
    auth: Authentication,
}

/// What the request's token turned out to be. A refused token is kept, not answered
/// at once: an endpoint that needs no token (OAuth's) still answers.
enum Authentication {
    Missing,
    Refused(Refusal),
    Caller(Caller),
}

impl GraphCall {
    pub(crate) async fn authenticate(platform: &Platform, request: GraphRequest) -> HttpResult<Self> {
        let auth = match request.token.as_deref().filter(|token| !token.is_empty()) {
            None => Authentication::Missing,
            Some(token) => match switchboard_app::timing::timed("auth", platform.authenticate(Some(token), request.proof.as_deref())).await {
                Ok(caller) => Authentication::Caller(caller),
                Err(AppError::Refused(refusal)) => Authentication::Refused(refusal),
                Err(failure) => return Err(failure.into()),
            },
        };
        Ok(Self { request, auth })
    }

    /// The caller, who must hold an app's token (app, user or Page token). A person's
    /// session and the operator credential are for the person and console APIs only.
    pub(crate) fn caller(&self) -> Result<&Caller, Refusal> {
        match &self.auth {
            Authentication::Missing if self.request.segments.first().map(String::as_str) != Some("me") => Err(Refusal::token_missing()),
            Authentication::Missing => Err(Refusal::token_required()),
            Authentication::Refused(refusal) => Err(refusal.clone()),
            Authentication::Caller(caller) if caller.app().is_none() => Err(Refusal::wrong_token_kind("an app, user or Page access token")),
            Authentication::Caller(caller) => Ok(caller),
        }
    }

    /// Counts the call when its token authenticated (a token that did not is refused
    /// by the endpoint that needs it, with the error that explains it).
    pub(crate) async fn meter(&self, platform: &Platform) -> HttpResult<Option<Usage>> {
        let Authentication::Caller(caller) = &self.auth else { return Ok(None) };
        let request = &self.request;
        let send = request.method == Method::POST && request.segments.len() == 2 && request.segments[1] == "messages";
        Ok(Some(platform.rate_limits.meter(caller, send).await?))
    }
}

impl std::ops::Deref for GraphCall {
    type Target = GraphRequest;

    fn deref(&self) -> &GraphRequest {
        &self.request
    }
}

/// Every Graph request lands here (the router's fallback): its token resolved once,
/// counted against the caller's rate limits, routed, and answered with the usage
/// headers.
pub async fn dispatch(State(platform): State<Platform>, request: GraphRequest) -> HttpResult<Response> {
    let call = GraphCall::authenticate(&platform, request).await?;
    let answer = async {
        let usage = call.meter(&platform).await?;
        let mut response = route(&platform, &call).await?;
        if let Some(usage) = usage {
            usage_headers(&mut response, &usage);
        }
        Ok::<_, HttpError>(response)
    };
    Ok(answer.await.unwrap_or_else(|refusal| call.refused(&platform, refusal)))
}

/// The edges whose node is a Page (`POST /{page}/messages` only: `GET` lists a
/// conversation's), for the Page a refused call named.
const PAGE_EDGES: [&str; 17] = [
    "message_attachments",
    "messenger_profile",
    "custom_user_settings",
    "custom_labels",
    "personas",
    "conversations",
    "notification_message_tokens",
    "messaging_feature_review",
    "insights",
    "subscribed_apps",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "release_thread_control",
    "thread_owner",
    "secondary_receivers",
    "unlink_accounts",
];

impl GraphCall {
    /// Answers a refusal, remembered first for the developers of the caller's app
    /// (`RefusedCalls`); a call whose token authenticated as no app's is nobody's.
    /// Only refusals come here: a successful call costs nothing.
    pub(crate) fn refused(&self, platform: &Platform, refusal: HttpError) -> Response {
        let (status, envelope) = refusal.envelope();
        if let Authentication::Caller(caller) = &self.auth {
            if let Some(app) = caller.app() {
                let request = &self.request;
                platform.refused_calls.record(
                    &app.id,
                    RefusedRequest {
                        method: request.method.as_str(),
                        path: &request.path,
                        page: self.named_page(caller),
                        status: status.as_u16(),
                        error: &envelope.error,
                        params: &request.params.0,
                    },
                );
            }
        }
        axum::response::IntoResponse::into_response((status, axum::Json(envelope)))
    }

    /// The Page the call named: in its path (as written) for a Page's edge, else
    /// the Page of a Page token.
    fn named_page(&self, caller: &Caller) -> Option<String> {
        let segments = &self.request.segments;
        if let [node, edge] = segments.as_slice() {
            let page_edge = PAGE_EDGES.contains(&edge.as_str()) || (edge == "messages" && self.request.method == Method::POST);
            if page_edge && node != "me" {
                return Some(node.clone());
            }
        }
        match caller {
            Caller::Page { page, .. } => Some(page.id.to_string()),
            _ => None,
        }
    }
}

/// `X-App-Usage`, `X-Page-Usage` and `X-Business-Use-Case-Usage`, as percentages of the
/// limits (reference §10); only the call count is measured.
pub(crate) fn usage_headers(response: &mut Response, usage: &Usage) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    };
    if let Some(app) = usage.app {
        put("x-app-usage", to_json(&graph::Usage { call_count: app, total_cputime: 0, total_time: 0, estimated_time_to_regain_access: None }));
    }
    if let Some((page, used)) = &usage.page {
        let call_count = *used;
        put("x-page-usage", to_json(&graph::Usage { call_count, total_cputime: 0, total_time: 0, estimated_time_to_regain_access: Some(0) }));
        let business = graph::BusinessUseCase { kind: "messenger", call_count, total_cputime: 0, total_time: 0, estimated_time_to_regain_access: 0 };
        put("x-business-use-case-usage", to_json(&std::collections::BTreeMap::from([(page.as_str(), [business])])));
    }
}

async fn route(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    if request.method == Method::POST && request.segments.is_empty() {
        return batch::run(platform, request).await;
    }
    route_one(platform, request).await
}

/// Every endpoint but the batch one (a batch's items cannot be batches). A Page named
/// in the path is parsed here, once.
pub(crate) async fn route_one(platform: &Platform, request: &GraphCall) -> HttpResult<Response> {
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["oauth", "access_token"]) => oauth::access_token(platform, request).await,
        (&Method::GET, ["debug_token"]) => oauth::debug_token(platform, request).await,
        (&Method::GET, ["me", "accounts"]) => nodes::accounts(platform, request).await,
        (&Method::GET, [user, "permissions"]) => oauth::permissions(platform, request, user).await,
        (&Method::DELETE, [user, "permissions"]) => oauth::withdraw(platform, request, user, None).await,
        (&Method::DELETE, [user, "permissions", permission]) => oauth::withdraw(platform, request, user, Some(permission)).await,
        (&Method::POST, [app, "accounts", "test-users"]) => identity::create_test_user(platform, request, app).await,
        (&Method::GET, [app, "accounts", "test-users"]) => identity::test_users(platform, request, app).await,
        (&Method::POST, [_user, "accounts"]) => identity::create_test_page(platform, request).await,
        (&Method::GET, [id, "ids_for_pages"]) => identity::ids_for_pages(platform, request, id).await,
        (&Method::GET, [id, "ids_for_apps"]) => identity::ids_for_apps(platform, request, id).await,
        (&Method::GET, [node]) if request.params.contains("account_linking_token") => linking::recipient(platform, request, &PageRef::parse(node)).await,
        // fbmessenger asks for the linking recipient by POST.
        (&Method::POST, [node]) => linking::recipient(platform, request, &PageRef::parse(node)).await,
        (&Method::POST, [page, "unlink_accounts"]) => linking::unlink(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [node]) => nodes::get_node(platform, request, node).await,
        (&Method::DELETE, [node]) => match identity::delete_test_user(platform, request, node).await? {
            Some(deleted) => Ok(deleted),
            None => match labels::delete_node(platform, request, node).await? {
                Some(deleted) => Ok(deleted),
                None => profiles::delete_node(platform, request, node).await,
            },
        },
        (&Method::POST, [node, "messages"]) => messages::send(platform, request, &PageRef::parse(node)).await,
        (&Method::POST, [page, "message_attachments"]) => messages::upload_attachment(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "messenger_profile"]) => profiles::get_profile(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "messenger_profile"]) => profiles::set_profile(platform, request, &PageRef::parse(page)).await,
        (&Method::DELETE, [page, "messenger_profile"]) => profiles::delete_profile(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "custom_user_settings"]) => profiles::user_settings(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "custom_user_settings"]) => profiles::set_user_settings(platform, request, &PageRef::parse(page)).await,
        (&Method::DELETE, [page, "custom_user_settings"]) => profiles::delete_user_settings(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "custom_labels"]) => labels::create(platform, request, &PageRef::parse(page)).await,
        // The Page's labels, or (for a PSID) the person's.
        (&Method::GET, [page, "custom_labels"]) => labels::list(platform, request, page).await,
        (&Method::POST, [label, "label"]) => labels::add_person(platform, request, label).await,
        (&Method::DELETE, [label, "label"]) => labels::remove_person(platform, request, label).await,
        (&Method::POST, [page, "personas"]) => profiles::create_persona(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "personas"]) => profiles::personas(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "conversations"]) => conversations::list(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "notification_message_tokens"]) => features::notification_message_tokens(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "messaging_feature_review"]) => features::messaging_feature_review(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [conversation, "messages"]) => conversations::messages(platform, request, conversation).await,
        (&Method::GET, [page, "insights"]) => insights::page_insights(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [app, "subscriptions"]) => subscriptions::subscribe(platform, request, app).await,
        (&Method::GET, [app, "updates"]) => pickups::updates(platform, request, app).await,
        (&Method::GET, [app, "listen"]) => pickups::listen(platform, request, app).await,
        (&Method::POST, [app, "listen"]) => pickups::answer(platform, request, app).await,
        (&Method::GET, [app, "subscriptions"]) => subscriptions::list(platform, request, app).await,
        (&Method::DELETE, [app, "subscriptions"]) => subscriptions::unsubscribe(platform, request, app).await,
        (&Method::POST, [page, "subscribed_apps"]) => subscriptions::install(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "subscribed_apps"]) => subscriptions::installed(platform, request, &PageRef::parse(page)).await,
        (&Method::DELETE, [page, "subscribed_apps"]) => subscriptions::uninstall(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "pass_thread_control"]) => handover::pass(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "take_thread_control"]) => handover::take(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "request_thread_control"]) => handover::request(platform, request, &PageRef::parse(page)).await,
        (&Method::POST, [page, "release_thread_control"]) => handover::release(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "thread_owner"]) => handover::thread_owner(platform, request, &PageRef::parse(page)).await,
        (&Method::GET, [page, "secondary_receivers"]) => handover::secondary_receivers(platform, request, &PageRef::parse(page)).await,
        _ => Err(Refusal::unknown_path(method.as_str(), &format!("/{}", segments.join("/"))).into()),
    }
}

/// The Graph version a request named, or the default recorded for unversioned ones.
fn version(request: &GraphRequest) -> String {
    request.version.clone().unwrap_or_else(|| crate::DEFAULT_GRAPH_VERSION.to_string())
}

/// An answer, as JSON.
/// This request's URL with the `changed` parameters set anew (paging links): the
/// other parameters as they came, the caller's token last.
fn url_with(platform: &Platform, request: &GraphCall, changed: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let kept = request.params.0.iter().filter(|(key, _)| key.as_str() != "access_token" && !changed.iter().any(|(name, _)| name == key));
    for (key, value) in kept {
        let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        query.append_pair(key, &value);
    }
    if let Some(token) = &request.token {
        query.append_pair("access_token", token);
    }
    for (name, value) in changed {
        query.append_pair(name, value);
    }
    format!("{}{}?{}", platform.ops.public_url(), request.path, query.finish())
}

fn json(value: impl serde::Serialize) -> Response {
    axum::response::IntoResponse::into_response(axum::Json(value))
}

fn success() -> Response {
    json(graph::SUCCESS)
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("Graph shapes serialize to JSON")
}
