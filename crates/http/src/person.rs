//! The person API: what the Messenger app does for a person. Sign in, find a Page,
//! write to it, receive its messages live (server-sent events), report delivery and
//! reading. Bot developers' tests use it to play a person; README documents it.

use crate::error::HttpResult;
use crate::extract::{ClientIp, JsonBody, MultipartBody, Path, Query};
use crate::session::{BearerToken, SignedPerson};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use switchboard_app::views::*;
use switchboard_app::{EntryRef, PersonMessage, Platform, PostbackTap, Upload};
use switchboard_domain::entry::ReferralSource;
use switchboard_domain::messages::Feedback;
use switchboard_domain::{Mid, Millis, Page, PageRef, Refusal};
use switchboard_store::Receipt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

pub fn routes() -> Router<Platform> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/me/phone", get(phone).put(set_phone).delete(remove_phone))
        .route("/pages/{page}", get(find_page))
        .route("/threads", get(threads))
        .route("/me/profile", get(profile).put(set_profile))
        .route("/pages", get(search_pages))
        .route("/pages/{page}/welcome", get(welcome))
        .route("/threads/{page}/messages", get(messages).post(send))
        .route("/threads/{page}/attachments", post(send_attachment))
        .route("/threads/{page}/postbacks", post(postback))
        .route("/threads/{page}/get-started", post(get_started))
        .route("/threads/{page}/messages/{mid}", put(edit))
        .route("/threads/{page}/messages/{mid}/reaction", put(react).delete(unreact))
        .route("/threads/{page}/messages/{mid}/feedback", put(rate))
        .route("/threads/{page}/messages/{mid}/notify-me", post(notify_me))
        .route("/threads/{page}/messages/{mid}/notifications", post(accept_notifications))
        .route("/threads/{page}/messages/{mid}/notifications/stop", post(stop_notifications))
        .route("/threads/{page}/messages/{mid}/notifications/resume", post(resume_notifications))
        .route("/threads/{page}/delivered", post(delivered))
        .route("/threads/{page}/read", post(read))
        .route("/events", get(events))
}

#[derive(Deserialize)]
pub struct Login {
    login: String,
    password: String,
}

/// `POST /person/v1/login` `{"login","password"}` → `{"access_token","person"}`.
pub async fn login(State(platform): State<Platform>, ClientIp(address): ClientIp, JsonBody(body): JsonBody<Login>) -> HttpResult<Json<SessionView>> {
    let (person, token) = platform.sessions.sign_in(&body.login, &body.password, address).await?;
    Ok(Json(SessionView { access_token: token, person: person.into() }))
}

/// `POST /person/v1/logout` (and `/console/v1/logout`): ends the session whose token
/// authorizes the call; the token stops working at once.
pub async fn logout(State(platform): State<Platform>, BearerToken(token): BearerToken) -> HttpResult<Json<Success>> {
    platform.sessions.sign_out(&token).await?;
    Ok(Json(SUCCESS))
}

/// `GET /person/v1/me`.
async fn me(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<PersonView>> {
    Ok(Json(platform.directory.person(person).await?.into()))
}

/// `GET /person/v1/me/phone`: the person's verified number.
async fn phone(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<PhoneView>> {
    Ok(Json(PhoneView::from(platform.features.phone(person).await?)))
}

#[derive(Deserialize)]
struct PhoneBody {
    phone_number: String,
}

/// `PUT /person/v1/me/phone` `{"phone_number"}`: the person confirms their number
/// (Pages with the phone-number permission reach them by it a day later).
async fn set_phone(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<PhoneBody>) -> HttpResult<Json<PhoneView>> {
    Ok(Json(PhoneView::from(platform.features.set_phone(person, Some(&body.phone_number)).await?)))
}

/// `DELETE /person/v1/me/phone`.
async fn remove_phone(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<PhoneView>> {
    Ok(Json(PhoneView::from(platform.features.set_phone(person, None).await?)))
}

/// `POST /person/v1/threads/{page}/messages/{mid}/notify-me`: the person taps "Notify
/// me" on a one-time notification request.
async fn notify_me(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path((page, mid)): Path<(PageRef, String)>) -> HttpResult<Json<Success>> {
    platform.notifications.notify_me(person, &page, &mid).await?;
    Ok(Json(SUCCESS))
}

/// `POST /person/v1/threads/{page}/messages/{mid}/notifications`: the person accepts a
/// recurring-notification opt-in.
async fn accept_notifications(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path((page, mid)): Path<(PageRef, String)>) -> HttpResult<Json<Success>> {
    platform.notifications.accept_notifications(person, &page, &mid).await?;
    Ok(Json(SUCCESS))
}

/// `POST /person/v1/threads/{page}/messages/{mid}/notifications/stop`.
async fn stop_notifications(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path((page, mid)): Path<(PageRef, String)>) -> HttpResult<Json<Success>> {
    platform.notifications.stop_notifications(person, &page, &mid, true).await?;
    Ok(Json(SUCCESS))
}

/// `POST /person/v1/threads/{page}/messages/{mid}/notifications/resume`.
async fn resume_notifications(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path((page, mid)): Path<(PageRef, String)>) -> HttpResult<Json<Success>> {
    platform.notifications.stop_notifications(person, &page, &mid, false).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct Search {
    q: String,
}

/// `GET /person/v1/pages?q=` → `{"data":[page]}`: Pages by name or username (a Page
/// whose apps are all in development mode shows only to persons with a role on them).
async fn search_pages(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Query(search): Query<Search>) -> HttpResult<Json<Listing<Page>>> {
    Ok(Json(Listing::of(platform.listings.search_pages(person, &search.q).await?)))
}

/// `GET /person/v1/pages/{id-or-username}`.
async fn find_page(State(platform): State<Platform>, _: SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Page>> {
    Ok(Json(platform.directory.page(&page).await?))
}

/// `GET /person/v1/threads`: the person's threads, most recent first.
async fn threads(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<Listing<ThreadSummaryView>>> {
    Ok(Json(Listing { data: platform.threads.threads(person).await? }))
}

#[derive(Deserialize)]
struct HistoryQuery {
    /// The `mid` of the oldest message the client holds.
    before: Option<String>,
    limit: Option<u32>,
}

/// `GET /person/v1/threads/{page}/messages?before={mid}&limit=`.
async fn messages(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    Query(query): Query<HistoryQuery>,
) -> HttpResult<Json<ThreadView>> {
    Ok(Json(platform.threads.thread(person, &page, query.before.map(Mid), query.limit.unwrap_or(50)).await?))
}

/// `POST /person/v1/threads/{page}/messages` `{"text", "reply_to"?}`,
/// `{"sticker_id", "reply_to"?}` or `{"quick_reply": {"mid", "index"}}`: the person
/// writes to the Page, sends a sticker, or taps a quick reply.
async fn send(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(body): JsonBody<PersonMessage>,
) -> HttpResult<Json<MessageView>> {
    Ok(Json(platform.threads.person_send(person, &page, body).await?))
}

/// `POST /person/v1/threads/{page}/attachments`, multipart with one `file` part: the
/// person sends an image, a video, audio or a file.
async fn send_attachment(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    headers: axum::http::HeaderMap,
    MultipartBody(mut multipart): MultipartBody,
) -> HttpResult<Json<MessageView>> {
    let declared = crate::limits::declared_length(&headers);
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(crate::limits::multipart_refusal)? {
        if field.name() == Some("file") {
            let file_name = field.file_name().map(str::to_string);
            let mime = field.content_type().map(str::to_string);
            let bytes = crate::limits::read_part(field, declared).await?;
            upload = Some(Upload { bytes, mime, file_name });
        }
    }
    let upload = upload.ok_or_else(|| Refusal::missing_param("file"))?;
    Ok(Json(platform.threads.person_send_attachment(person, &page, upload).await?))
}

/// `POST /person/v1/threads/{page}/postbacks` `{"mid","button"}` (a JSON pointer to a
/// button of a Page message's payload), `{"menu"}` (a pointer into the persistent
/// menu's `call_to_actions`) or `{"ice_breaker": index}`.
async fn postback(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(tap): JsonBody<PostbackTap>,
) -> HttpResult<Json<MessageView>> {
    Ok(Json(platform.threads.person_postback(person, &page, tap).await?))
}

#[derive(Deserialize, Default)]
struct GetStarted {
    #[serde(rename = "ref")]
    link_ref: Option<String>,
    /// `SHORTLINK` (the default) or `CUSTOMER_CHAT_PLUGIN`.
    source: Option<String>,
    referer_uri: Option<String>,
}

/// `POST /person/v1/threads/{page}/get-started` `{"ref"?,"source"?,"referer_uri"?}`:
/// the person taps Get Started (with the ref of the link or chat plugin that opened
/// the thread, if any).
async fn get_started(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(body): JsonBody<GetStarted>,
) -> HttpResult<Json<MessageView>> {
    let source = body.source.as_deref().map(ReferralSource::parse).transpose()?.unwrap_or(ReferralSource::Shortlink);
    let entry = body.link_ref.map(|reference| EntryRef { reference, source, referer_uri: body.referer_uri });
    Ok(Json(platform.threads.get_started(person, &page, entry).await?))
}

#[derive(Deserialize)]
struct NewReaction {
    emoji: String,
}

/// `PUT /person/v1/threads/{page}/messages/{mid}/reaction` `{"emoji"}`.
async fn react(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path((page, mid)): Path<(PageRef, String)>,
    JsonBody(body): JsonBody<NewReaction>,
) -> HttpResult<Json<Success>> {
    platform.threads.person_react(person, &page, &mid, Some(body.emoji)).await?;
    Ok(Json(SUCCESS))
}

/// `DELETE /person/v1/threads/{page}/messages/{mid}/reaction`.
async fn unreact(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path((page, mid)): Path<(PageRef, String)>) -> HttpResult<Json<Success>> {
    platform.threads.person_react(person, &page, &mid, None).await?;
    Ok(Json(SUCCESS))
}

#[derive(Deserialize)]
struct EditedText {
    text: String,
}

/// `PUT /person/v1/threads/{page}/messages/{mid}` `{"text"}`: the person edits a text
/// message of theirs (within 15 minutes, five times at most); answers the message.
async fn edit(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path((page, mid)): Path<(PageRef, String)>,
    JsonBody(body): JsonBody<EditedText>,
) -> HttpResult<Json<MessageView>> {
    Ok(Json(platform.threads.person_edit(person, &page, &mid, body.text).await?))
}

#[derive(Deserialize)]
struct NewRating {
    /// `good` or `bad`.
    feedback: String,
}

/// `PUT /person/v1/threads/{page}/messages/{mid}/feedback` `{"feedback":"good"|"bad"}`:
/// the person rates a Page message (a new rating replaces the last).
async fn rate(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path((page, mid)): Path<(PageRef, String)>,
    JsonBody(body): JsonBody<NewRating>,
) -> HttpResult<Json<Success>> {
    platform.threads.person_rate(person, &page, &mid, Feedback::parse(&body.feedback)?).await?;
    Ok(Json(SUCCESS))
}

/// `GET /person/v1/pages/{page}/welcome`: the greeting, Get Started, persistent menu
/// and ice breakers to show on the thread.
async fn welcome(State(platform): State<Platform>, SignedPerson(person): SignedPerson, Path(page): Path<PageRef>) -> HttpResult<Json<Welcome>> {
    Ok(Json(platform.profiles.welcome(person, &page).await?))
}

/// `GET /person/v1/me/profile`: locale, timezone and gender, as Pages may see them.
async fn profile(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> HttpResult<Json<PersonDetails>> {
    Ok(Json(platform.profiles.person_profile(person).await?.into()))
}

/// `PUT /person/v1/me/profile` `{"locale","timezone","gender"}`.
async fn set_profile(State(platform): State<Platform>, SignedPerson(person): SignedPerson, JsonBody(body): JsonBody<PersonDetails>) -> HttpResult<Json<PersonDetails>> {
    Ok(Json(platform.profiles.set_person_profile(person, body).await?))
}

#[derive(Deserialize, Default)]
struct Watermark {
    watermark: Option<Millis>,
}

/// `POST /person/v1/threads/{page}/delivered` `{"watermark"?}`.
async fn delivered(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(body): JsonBody<Watermark>,
) -> HttpResult<Json<ReceiptsView>> {
    Ok(Json(platform.threads.person_receipt(person, &page, Receipt::Delivered, body.watermark).await?))
}

/// `POST /person/v1/threads/{page}/read` `{"watermark"?}`.
async fn read(
    State(platform): State<Platform>,
    SignedPerson(person): SignedPerson,
    Path(page): Path<PageRef>,
    JsonBody(body): JsonBody<Watermark>,
) -> HttpResult<Json<ReceiptsView>> {
    Ok(Json(platform.threads.person_receipt(person, &page, Receipt::Read, body.watermark).await?))
}

/// `GET /person/v1/events`: server-sent events, one JSON object per event
/// (`{"type":"message"|"typing"|"seen", ...}`). A client that falls behind gets a
/// `lagged` event and should reload its threads.
async fn events(State(platform): State<Platform>, SignedPerson(person): SignedPerson) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(platform.threads.live_events(person)).map(|item| {
        let event = match item {
            Ok(event) => Event::default().json_data(event).unwrap_or_else(|_| Event::default().data("{}")),
            Err(_) => Event::default().data(r#"{"type":"lagged"}"#),
        };
        Ok(event)
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
