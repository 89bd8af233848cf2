//! The one row codec of every engine: how each value is written to a column and read
//! back. An engine reads a row through [`Columns`] (by column name) and hands it to
//! the decoders here, so SQLite and PostgreSQL map rows alike. Reading never guesses:
//! a stored value the code does not know (an unknown mode, field, kind) is a
//! [`StoreError::Corrupt`], never a default, and nothing here panics.

use crate::*;
use serde_json::Value;
use switchboard_domain::messages::Feedback;
use switchboard_domain::privacy::CallbackKind;
use switchboard_domain::*;

/// A row as an engine reads it, column by name. Each engine implements it for its
/// own row type; a missing column or a value of the wrong type is an error, not a
/// panic.
pub trait Columns {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn real(&self, column: &str) -> StoreResult<f64>;

    /// A count or small number, which must fit in a `u32`.
    fn count(&self, column: &str) -> StoreResult<u32> {
        let value = self.int(column)?;
        u32::try_from(value).map_err(|_| StoreError::corrupt(column, value.to_string()))
    }

    /// A total, which cannot be negative.
    fn total(&self, column: &str) -> StoreResult<u64> {
        let value = self.int(column)?;
        u64::try_from(value).map_err(|_| StoreError::corrupt(column, value.to_string()))
    }

    /// A value kept as text from a closed set.
    fn known<T: StoredText>(&self, column: &str) -> StoreResult<T> {
        decode(column, &self.text(column)?)
    }

    fn opt_known<T: StoredText>(&self, column: &str) -> StoreResult<Option<T>> {
        self.opt_text(column)?.map(|text| decode(column, &text)).transpose()
    }

    /// A value kept as JSON text.
    fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> StoreResult<Option<T>> {
        self.opt_text(column)?
            .map(|text| serde_json::from_str(&text).map_err(|_| StoreError::corrupt(column, truncated(&text))))
            .transpose()
    }
}

/// A value stored as text from a closed set: each spelling is written here once.
pub trait StoredText: Sized + Copy {
    fn to_stored(self) -> &'static str;
    fn from_stored(text: &str) -> Option<Self>;
}

/// Reads a closed-set value from `column`; an unknown spelling is `Corrupt`.
pub fn decode<T: StoredText>(column: &str, text: &str) -> StoreResult<T> {
    T::from_stored(text).ok_or_else(|| StoreError::corrupt(column, truncated(text)))
}

fn truncated(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Stores each of these types by its own name (`as_str`), read back strictly
/// (`ALL`, the one list of its values).
macro_rules! impl_stored_text_by_name {
    ($($type:ty),*) => {
        $(impl StoredText for $type {
            fn to_stored(self) -> &'static str {
                self.as_str()
            }
            fn from_stored(text: &str) -> Option<Self> {
                <$type>::ALL.iter().copied().find(|value| value.as_str() == text)
            }
        })*
    };
}

/// Declares the stored spellings of an enum, both ways, from one list.
macro_rules! stored_text {
    ($type:ty { $($variant:path => $text:literal,)* }) => {
        impl StoredText for $type {
            fn to_stored(self) -> &'static str {
                match self { $($variant => $text,)* }
            }
            fn from_stored(text: &str) -> Option<Self> {
                match text { $($text => Some($variant),)* _ => None }
            }
        }
    };
}

// Values whose spelling the domain already gives (the APIs show the same words).
impl_stored_text_by_name!(Folder, DeliveryMode, PickupKind, AppMode, PolicyState, AppRole, PageFeature, WebhookField, FailureKind, AlertKind, ReceiverRole, Permission, ReviewStatus, CallbackKind, CallbackOutcome, Feedback);

// Values only the store spells.
stored_text!(PageRole { PageRole::Admin => "admin", PageRole::Agent => "agent", });
stored_text!(Direction { Direction::Inbound => "in", Direction::Outbound => "out", });
stored_text!(FeatureStatus { FeatureStatus::Applied => "applied", FeatureStatus::Approved => "approved", });
stored_text!(Outcome { Outcome::Delivered => "delivered", Outcome::Dead => "dead", });
stored_text!(Answer { Answer::Granted => "granted", Answer::Declined => "declined", });
stored_text!(TokenKind { TokenKind::User => "user", TokenKind::Page => "page", TokenKind::Session => "session", TokenKind::Operator => "operator", });

impl StoredText for OptinKind {
    fn to_stored(self) -> &'static str {
        match self {
            OptinKind::OneTime => "one_time",
            OptinKind::Recurring(frequency) => frequency.as_str(),
        }
    }
    fn from_stored(text: &str) -> Option<Self> {
        match text {
            "one_time" => Some(OptinKind::OneTime),
            other => NotificationFrequency::parse(other).map(OptinKind::Recurring),
        }
    }
}

/// A Page feature's `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureStatus {
    Applied,
    Approved,
}

/// The outbox's `outcome` column, set when an event is settled (`NULL` while pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Dead,
}

impl Outcome {
    /// The outcome a settled state is stored with (`None`: pending).
    pub fn of(state: EventState) -> Option<Outcome> {
        match state {
            EventState::Pending => None,
            EventState::Delivered => Some(Outcome::Delivered),
            EventState::Dead => Some(Outcome::Dead),
        }
    }

    pub fn state(outcome: Option<Outcome>) -> EventState {
        match outcome {
            None => EventState::Pending,
            Some(Outcome::Delivered) => EventState::Delivered,
            Some(Outcome::Dead) => EventState::Dead,
        }
    }
}

/// A person's answer about one permission, in `user_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Granted,
    Declined,
}

/// The tokens table's `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    User,
    Page,
    Session,
    Operator,
}

/// The stored text of a value from a closed set.
pub fn text<T: StoredText>(value: T) -> &'static str {
    value.to_stored()
}

/// Webhook fields as one column: comma-separated names.
pub fn fields_text(fields: &[WebhookField]) -> String {
    fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

/// Reads a fields column; an unknown name is `Corrupt`.
pub fn fields(column: &str, text: &str) -> StoreResult<Vec<WebhookField>> {
    text.split(',').filter(|name| !name.is_empty()).map(|name| decode(column, name)).collect()
}

/// A message's attachment as its column holds it (JSON).
pub fn attachment_text(message: &Message) -> Option<String> {
    message.attachment.as_ref().map(json_text)
}

/// A message's quick replies as their column holds them (a JSON array, `NULL` when none).
pub fn quick_replies_text(message: &Message) -> Option<String> {
    (!message.quick_replies.is_empty()).then(|| json_text(&message.quick_replies))
}

/// Any value the domain made, as JSON text (it always serializes).
pub fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialize to JSON")
}

/// Token grants as the tokens table's columns: (kind, person, Page, app).
pub fn grant_columns(grant: &TokenGrant) -> (&'static str, Option<i64>, Option<&str>, Option<&str>) {
    match grant {
        TokenGrant::User { person, app } => (text(TokenKind::User), Some(person.0), None, Some(app.as_str())),
        TokenGrant::Page { page, app, person } => (text(TokenKind::Page), Some(person.0), Some(page.as_str()), Some(app.as_str())),
        TokenGrant::Session { person } => (text(TokenKind::Session), Some(person.0), None, None),
        TokenGrant::Operator => (text(TokenKind::Operator), None, None, None),
    }
}

// --- decoders, by entity: each reads the columns its table names ------------------

/// `id, name, login`.
pub fn person(row: &impl Columns) -> StoreResult<Person> {
    Ok(Person { id: PersonId(row.int("id")?), name: row.text("name")?, login: row.text("login")? })
}

/// `id, name, username`.
pub fn page(row: &impl Columns) -> StoreResult<Page> {
    Ok(Page { id: PageId(row.text("id")?), name: row.text("name")?, username: row.text("username")? })
}

/// `id, name, mode, secret_generation, require_proof, approved` (the approved
/// permissions' names, comma-separated, or NULL).
pub fn app(row: &impl Columns) -> StoreResult<App> {
    Ok(App {
        id: AppId(row.text("id")?),
        name: row.text("name")?,
        mode: row.known("mode")?,
        secret_generation: row.count("secret_generation")?,
        require_proof: row.flag("require_proof")?,
        approved: scopes(row.opt_text("approved")?.as_deref().unwrap_or("")),
        policy: row.known("policy_state")?,
    })
}

/// Permissions stored as comma-separated names.
pub fn scopes(text: &str) -> Scopes {
    Scopes::from_names(text.split(',').filter(|name| !name.is_empty()))
}

/// `permission, status, note, reason, submitted_at, decided_at`.
pub fn permission_review(row: &impl Columns) -> StoreResult<PermissionReview> {
    Ok(PermissionReview {
        permission: row.known("permission")?,
        status: row.known("status")?,
        note: row.text("note")?,
        reason: row.opt_text("reason")?,
        submitted_at: row.int("submitted_at")?,
        decided_at: row.opt_int("decided_at")?,
    })
}

/// `app_id, person_id, redirect_uri, expires_at`.
pub fn login_code(row: &impl Columns) -> StoreResult<LoginCode> {
    Ok(LoginCode {
        app: AppId(row.text("app_id")?),
        person: PersonId(row.int("person_id")?),
        redirect_uri: row.text("redirect_uri")?,
        expires_at: row.int("expires_at")?,
    })
}

/// `id, name, admin_id`.
pub fn business(row: &impl Columns) -> StoreResult<Business> {
    Ok(Business { id: row.text("id")?, name: row.text("name")?, admin: row.opt_int("admin_id")?.map(PersonId) })
}

/// `at, actor, change`.
pub fn audit_record(row: &impl Columns) -> StoreResult<AuditRecord> {
    Ok(AuditRecord { at: row.int("at")?, actor: row.text("actor")?, change: row.text("change")? })
}

/// `feature, status, applied_by, applied_at, approved_at`.
pub fn page_feature(row: &impl Columns) -> StoreResult<PageFeatureState> {
    Ok(PageFeatureState {
        feature: row.known("feature")?,
        approved: row.known::<FeatureStatus>("status")? == FeatureStatus::Approved,
        applied_by: row.opt_int("applied_by")?.map(PersonId),
        applied_at: row.int("applied_at")?,
        approved_at: row.opt_int("approved_at")?,
    })
}

/// `digest, kind, person_id, page_id, app_id, issued_at, expires_at`. A kind without
/// the ids it needs is `Corrupt`.
pub fn token(row: &impl Columns) -> StoreResult<TokenRecord> {
    let kind: TokenKind = row.known("kind")?;
    let person = row.opt_int("person_id")?.map(PersonId);
    let page = row.opt_text("page_id")?.map(PageId);
    let app = row.opt_text("app_id")?.map(AppId);
    let grant = match (kind, person, page, app) {
        (TokenKind::User, Some(person), _, Some(app)) => TokenGrant::User { person, app },
        (TokenKind::Page, Some(person), Some(page), Some(app)) => TokenGrant::Page { page, app, person },
        (TokenKind::Session, Some(person), _, _) => TokenGrant::Session { person },
        (TokenKind::Operator, _, _, _) => TokenGrant::Operator,
        // A kind without the ids it needs is as unknown as a kind never written.
        (kind, ..) => return Err(StoreError::corrupt("kind", format!("{} (without its ids)", text(kind)))),
    };
    Ok(TokenRecord { hash: row.text("digest")?, grant, issued_at: row.int("issued_at")?, expires_at: row.opt_int("expires_at")? })
}

/// `app_id, object, callback_url, verify_token, fields, version, active, delivery`.
pub fn app_subscription(row: &impl Columns) -> StoreResult<AppSubscription> {
    Ok(AppSubscription {
        app: AppId(row.text("app_id")?),
        object: row.text("object")?,
        callback_url: row.text("callback_url")?,
        verify_token: row.text("verify_token")?,
        fields: fields("fields", &row.text("fields")?)?,
        version: row.text("version")?,
        active: row.flag("active")?,
        delivery: row.known("delivery")?,
    })
}

/// `id, app_id, kind, since, expires_at`.
pub fn pickup(row: &impl Columns) -> StoreResult<Pickup> {
    Ok(Pickup { id: row.text("id")?, app: AppId(row.text("app_id")?), kind: row.known("kind")?, since: row.int("since")?, expires_at: row.int("expires_at")? })
}

/// `page_id, app_id, fields`.
pub fn page_subscription(row: &impl Columns) -> StoreResult<PageSubscription> {
    Ok(PageSubscription { page: PageId(row.text("page_id")?), app: AppId(row.text("app_id")?), fields: fields("fields", &row.text("fields")?)? })
}

/// An installed app's receiver role: `app_id, receiver_role`.
pub fn receiver(row: &impl Columns) -> StoreResult<Receiver> {
    Ok(Receiver { app: AppId(row.text("app_id")?), role: row.opt_known("receiver_role")? })
}

/// `page_id, ref, app_id`.
pub fn routing_rule(row: &impl Columns) -> StoreResult<crate::RoutingRule> {
    Ok(crate::RoutingRule { page: PageId(row.text("page_id")?), reference: row.text("ref")?, app: AppId(row.text("app_id")?) })
}

/// Who controls a thread: `owner_app_id, owner_since, agent_id`.
pub fn thread_control(row: &impl Columns) -> StoreResult<ThreadControlState> {
    Ok(ThreadControlState {
        owner: row.opt_text("owner_app_id")?.map(AppId),
        since: row.opt_int("owner_since")?,
        agent: row.opt_int("agent_id")?.map(PersonId),
    })
}

/// `id, name, username, role, waiting`.
pub fn inbox_page(row: &impl Columns) -> StoreResult<crate::InboxPage> {
    Ok(crate::InboxPage { page: page(row)?, role: row.opt_known("role")?, waiting: row.total("waiting")? })
}

/// A thread of a Page's inbox (without its last message): `person_id,
/// owner_app_id, owner_since, agent_id, last_message_at, unread`.
pub fn inbox_thread(row: &impl Columns) -> StoreResult<crate::InboxThread> {
    Ok(crate::InboxThread {
        person: PersonId(row.int("person_id")?),
        control: thread_control(row)?,
        last_message_at: row.int("last_message_at")?,
        unread: row.total("unread")?,
        folder: row.known("folder")?,
        last_message: None,
    })
}

/// A message: `mid, page_id, person_id, direction, app_id, text, metadata,
/// attachment, quick_replies, reply_to, persona_id, person_reaction, page_reaction,
/// edit_count, feedback, created_at`.
pub fn message(row: &impl Columns) -> StoreResult<Message> {
    Ok(Message {
        mid: Mid(row.text("mid")?),
        page: PageId(row.text("page_id")?),
        person: PersonId(row.int("person_id")?),
        direction: row.known("direction")?,
        app: row.opt_text("app_id")?.map(AppId),
        text: row.opt_text("text")?,
        metadata: row.opt_text("metadata")?,
        attachment: row.json("attachment")?,
        quick_replies: row.json("quick_replies")?.unwrap_or_default(),
        reply_to: row.opt_text("reply_to")?.map(Mid),
        persona: row.opt_text("persona_id")?,
        opens_to: None,
        person_reaction: row.opt_text("person_reaction")?,
        page_reaction: row.opt_text("page_reaction")?,
        edits: row.count("edit_count")?,
        feedback: row.opt_known("feedback")?,
        created_at: row.int("created_at")?,
    })
}

/// The message columns [`message`] reads, for `SELECT`s (prefixed with `m.` where
/// the message table is aliased so).
pub const MESSAGE_COLUMNS: &str = "mid, page_id, person_id, direction, app_id, text, metadata, attachment, quick_replies, reply_to, persona_id, \
     person_reaction, page_reaction, edit_count, feedback, created_at";
pub const MESSAGE_COLUMNS_OF_M: &str = "m.mid, m.page_id, m.person_id, m.direction, m.app_id, m.text, m.metadata, m.attachment, \
     m.quick_replies, m.reply_to, m.persona_id, m.person_reaction, m.page_reaction, m.edit_count, m.feedback, m.created_at";

/// `last_person_at, delivered_watermark, read_watermark, page_seen_watermark, blocked_at, hidden_before, reported_at`.
pub fn thread_state(row: &impl Columns) -> StoreResult<ThreadState> {
    Ok(ThreadState {
        last_person_at: row.opt_int("last_person_at")?,
        delivered_watermark: row.int("delivered_watermark")?,
        read_watermark: row.int("read_watermark")?,
        seen_watermark: row.int("page_seen_watermark")?,
        blocked_at: row.opt_int("blocked_at")?,
        hidden_before: row.opt_int("hidden_before")?,
        reported_at: row.opt_int("reported_at")?,
    })
}

/// The columns `page_thread` reads, of `threads t`: the counts are subqueries.
pub const PAGE_THREAD_COLUMNS: &str = "t.person_id, t.last_message_at, t.folder, t.page_answered_at, t.blocked_at,
    (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id) AS message_count,
    (SELECT COUNT(*) FROM messages m WHERE m.page_id = t.page_id AND m.person_id = t.person_id AND m.direction = 'in'
        AND m.created_at > t.page_seen_watermark) AS unread_count";

/// `PAGE_THREAD_COLUMNS`.
pub fn page_thread(row: &impl Columns) -> StoreResult<PageThread> {
    Ok(PageThread {
        person: PersonId(row.int("person_id")?),
        last_message_at: row.int("last_message_at")?,
        message_count: row.total("message_count")?,
        unread_count: row.total("unread_count")?,
        folder: row.known("folder")?,
        answered: row.opt_int("page_answered_at")?.is_some(),
        blocked: row.opt_int("blocked_at")?.is_some(),
    })
}

/// `mid, kind, page_id, person_id, title, payload, created_at, tapped_at,
/// token_expires_at, stopped_at, last_sent_at`.
pub fn optin_request(row: &impl Columns) -> StoreResult<OptinRequest> {
    Ok(OptinRequest {
        mid: Mid(row.text("mid")?),
        kind: row.known("kind")?,
        page: PageId(row.text("page_id")?),
        person: PersonId(row.int("person_id")?),
        title: row.text("title")?,
        payload: row.text("payload")?,
        created_at: row.int("created_at")?,
        tapped_at: row.opt_int("tapped_at")?,
        token_expires_at: row.opt_int("token_expires_at")?,
        stopped_at: row.opt_int("stopped_at")?,
        last_sent_at: row.opt_int("last_sent_at")?,
        reoptin: row.flag("reoptin")?,
    })
}

pub const OPTIN_COLUMNS: &str = "mid, kind, page_id, person_id, title, payload, created_at, tapped_at, token_expires_at, stopped_at, last_sent_at, reoptin";

/// [`OPTIN_COLUMNS`] of a table named `alias` in a join.
pub fn optin_columns_of(alias: &str) -> String {
    OPTIN_COLUMNS.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

pub fn user_ref(row: &impl Columns) -> StoreResult<UserRef> {
    Ok(UserRef {
        page: PageId(row.text("page_id")?),
        user_ref: row.text("user_ref")?,
        app: AppId(row.text("app_id")?),
        person: PersonId(row.int("person_id")?),
        reference: row.opt_text("ref")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        spent_mid: row.opt_text("spent_mid")?.map(Mid),
    })
}

pub const USER_REF_COLUMNS: &str = "page_id, user_ref, app_id, person_id, ref, created_at, expires_at, spent_mid";

pub fn linking_token(row: &impl Columns) -> StoreResult<LinkingToken> {
    Ok(LinkingToken {
        digest: row.text("digest")?,
        page: PageId(row.text("page_id")?),
        person: PersonId(row.int("person_id")?),
        expires_at: row.int("expires_at")?,
        spent_at: row.opt_int("spent_at")?,
    })
}

pub const LINKING_TOKEN_COLUMNS: &str = "digest, page_id, person_id, expires_at, spent_at";

/// `id, page_id, kind, digest, mime, size, file_name, reusable, created_at, sent_by`.
pub fn attachment(row: &impl Columns) -> StoreResult<AttachmentRecord> {
    let kind = row.text("kind")?;
    if switchboard_domain::content::MediaKind::parse(&kind).is_none() {
        return Err(StoreError::corrupt("kind", kind));
    }
    Ok(AttachmentRecord {
        id: row.text("id")?,
        page: PageId(row.text("page_id")?),
        kind,
        digest: row.text("digest")?,
        mime: row.text("mime")?,
        size: row.total("size")?,
        file_name: row.opt_text("file_name")?,
        reusable: row.flag("reusable")?,
        created_at: row.int("created_at")?,
        sent_by: row.opt_int("sent_by")?.map(PersonId),
    })
}

pub const PRIVACY_CALLBACK_COLUMNS: &str =
    "id, app_id, kind, url, payload, created_at, attempts, last_error, status_url, confirmation_code, settled_at, outcome";

/// [`PRIVACY_CALLBACK_COLUMNS`].
pub fn privacy_callback(row: &impl Columns) -> StoreResult<PrivacyCallback> {
    Ok(PrivacyCallback {
        id: row.int("id")?,
        app: AppId(row.text("app_id")?),
        kind: row.known("kind")?,
        url: row.opt_text("url")?,
        payload: row.opt_text("payload")?,
        created_at: row.int("created_at")?,
        attempts: row.count("attempts")?,
        last_error: row.opt_text("last_error")?,
        status_url: row.opt_text("status_url")?,
        confirmation_code: row.opt_text("confirmation_code")?,
        settled_at: row.opt_int("settled_at")?,
        outcome: row.opt_text("outcome")?.map(|text| decode("outcome", &text)).transpose()?,
    })
}

/// `id, at, actor, action, subject, detail`.
pub fn privacy_record(row: &impl Columns) -> StoreResult<(i64, PrivacyRecord)> {
    Ok((
        row.int("id")?,
        PrivacyRecord { at: row.int("at")?, actor: row.text("actor")?, action: row.text("action")?, subject: row.text("subject")?, detail: row.text("detail")? },
    ))
}

/// `field, value`: a Messenger Profile property and its JSON.
pub fn profile_property(row: &impl Columns) -> StoreResult<(String, Value)> {
    let field = row.text("field")?;
    let value = row.json("value")?.ok_or_else(|| StoreError::corrupt("value", "NULL"))?;
    Ok((field, value))
}

/// `id, page_id, name, profile_picture_url, created_at`.
pub fn persona(row: &impl Columns) -> StoreResult<Persona> {
    Ok(Persona {
        id: row.text("id")?,
        page: PageId(row.text("page_id")?),
        name: row.text("name")?,
        profile_picture_url: row.text("profile_picture_url")?,
        created_at: row.int("created_at")?,
    })
}

/// `id, page_id, name, created_at`.
pub fn label(row: &impl Columns) -> StoreResult<Label> {
    Ok(Label { id: row.text("id")?, page: PageId(row.text("page_id")?), name: row.text("name")?, created_at: row.int("created_at")? })
}

/// A label's columns and `members`.
pub fn label_count(row: &impl Columns) -> StoreResult<LabelCount> {
    Ok(LabelCount { label: label(row)?, members: row.int("members")? as u64 })
}

/// `locale, timezone, gender`.
pub fn person_profile(row: &impl Columns) -> StoreResult<PersonProfile> {
    Ok(PersonProfile { locale: row.text("locale")?, timezone: row.real("timezone")?, gender: row.opt_text("gender")? })
}

/// `id, app_id, page_id, person_id, field, body, created_at, failures,
/// first_failure_at`.
pub fn outbox_event(row: &impl Columns) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        id: row.int("id")?,
        app: AppId(row.text("app_id")?),
        page: PageId(row.text("page_id")?),
        person: PersonId(row.int("person_id")?),
        field: row.known("field")?,
        body: row.bytes("body")?,
        created_at: row.int("created_at")?,
        failures: row.count("failures")?,
        first_failure_at: row.opt_int("first_failure_at")?,
    })
}

pub const OUTBOX_EVENT_COLUMNS: &str = "id, app_id, page_id, person_id, field, body, created_at, failures, first_failure_at";

/// `id, app_id, page_id, person_id, field, created_at, failures, next_attempt_at,
/// settled_at, outcome, last_error, replayed_at`.
pub fn event_record(row: &impl Columns) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: row.int("id")?,
        app: AppId(row.text("app_id")?),
        page: PageId(row.text("page_id")?),
        person: PersonId(row.int("person_id")?),
        field: row.known("field")?,
        created_at: row.int("created_at")?,
        failures: row.count("failures")?,
        next_attempt_at: row.int("next_attempt_at")?,
        settled_at: row.opt_int("settled_at")?,
        state: Outcome::state(row.opt_known("outcome")?),
        last_error: row.opt_text("last_error")?,
        replayed_at: row.opt_int("replayed_at")?,
    })
}

pub const EVENT_RECORD_COLUMNS: &str =
    "id, app_id, page_id, person_id, field, created_at, failures, next_attempt_at, settled_at, outcome, last_error, replayed_at";

/// `id, app_id, url, attempted_at, latency_ms, kind, status, error, excerpt, events,
/// event_ids` (comma-separated).
pub fn attempt_record(row: &impl Columns) -> StoreResult<AttemptRecord> {
    let status = row.opt_int("status")?;
    Ok(AttemptRecord {
        id: row.int("id")?,
        app: AppId(row.text("app_id")?),
        url: row.text("url")?,
        attempted_at: row.int("attempted_at")?,
        latency_ms: row.int("latency_ms")?,
        kind: row.known("kind")?,
        status: status.map(|s| u16::try_from(s).map_err(|_| StoreError::corrupt("status", s.to_string()))).transpose()?,
        error: row.text("error")?,
        excerpt: row.text("excerpt")?,
        events: row.count("events")?,
        event_ids: event_ids(row.opt_text("event_ids")?.as_deref().unwrap_or_default())?,
    })
}

fn event_ids(text: &str) -> StoreResult<Vec<i64>> {
    text.split(',').filter(|id| !id.is_empty()).map(|id| id.parse().map_err(|_| StoreError::corrupt("event_ids", text.to_string()))).collect()
}

/// The attempt columns [`attempt_record`] reads, of the table aliased `a`.
/// The same SQL on both engines (SQLite has `string_agg` with `ORDER BY` since 3.44).
pub const ATTEMPT_COLUMNS_OF_A: &str = "a.id, a.app_id, a.url, a.attempted_at, a.latency_ms, a.kind, a.status, a.error, a.excerpt, a.events,
    (SELECT string_agg(CAST(ae.event_id AS TEXT), ',' ORDER BY ae.event_id) FROM attempt_events ae WHERE ae.attempt_id = a.id) AS event_ids";

/// `failing_since, last_error_at, last_error, last_success_at, disabled_at` of the
/// endpoint's health row; the counts are the caller's.
pub fn endpoint_health(row: &impl Columns) -> StoreResult<EndpointHealth> {
    Ok(EndpointHealth {
        failing_since: row.opt_int("failing_since")?,
        last_error_at: row.opt_int("last_error_at")?,
        last_error: row.opt_text("last_error")?,
        last_success_at: row.opt_int("last_success_at")?,
        disabled_at: row.opt_int("disabled_at")?,
        ..EndpointHealth::default()
    })
}

/// `id, app_id, kind, created_at, message, pages` (Page ids, comma-separated).
pub fn alert(row: &impl Columns) -> StoreResult<Alert> {
    Ok(Alert {
        id: row.int("id")?,
        app: AppId(row.text("app_id")?),
        kind: row.known("kind")?,
        created_at: row.int("created_at")?,
        message: row.text("message")?,
        pages: row.text("pages")?.split(',').filter(|p| !p.is_empty()).map(|p| PageId(p.to_string())).collect(),
    })
}

/// Page ids as the alerts table's `pages` column.
pub fn pages_text(pages: &[PageId]) -> String {
    pages.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A row of text and integers, as a test builds one.
    #[derive(Default)]
    struct Fake(HashMap<&'static str, Option<String>>);

    impl Columns for Fake {
        fn text(&self, column: &str) -> StoreResult<String> {
            self.opt_text(column)?.ok_or_else(|| StoreError::corrupt(column, "NULL"))
        }
        fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
            self.0.get(column).cloned().ok_or_else(|| StoreError::internal(format!("no column {column}")))
        }
        fn int(&self, column: &str) -> StoreResult<i64> {
            let text = self.text(column)?;
            text.parse().map_err(|_| StoreError::corrupt(column, text))
        }
        fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
            self.opt_text(column)?.map(|t| t.parse().map_err(|_| StoreError::corrupt(column, t))).transpose()
        }
        fn flag(&self, column: &str) -> StoreResult<bool> {
            Ok(self.int(column)? != 0)
        }
        fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
            Ok(self.text(column)?.into_bytes())
        }
        fn real(&self, column: &str) -> StoreResult<f64> {
            let text = self.text(column)?;
            text.parse().map_err(|_| StoreError::corrupt(column, text))
        }
    }

    fn app_row(mode: &str) -> Fake {
        let mut row = Fake::default();
        for (column, value) in [("id", "900"), ("name", "Bot"), ("mode", mode), ("secret_generation", "2"), ("require_proof", "1"), ("policy_state", "clear")] {
            row.0.insert(column, Some(value.to_string()));
        }
        row.0.insert("approved", None);
        row
    }

    #[test]
    fn every_spelling_reads_back_as_written() {
        for mode in [AppMode::Development, AppMode::Live] {
            assert_eq!(decode::<AppMode>("mode", text(mode)).unwrap(), mode);
        }
        for role in [AppRole::Administrator, AppRole::Developer, AppRole::Tester] {
            assert_eq!(decode::<AppRole>("role", text(role)).unwrap(), role);
        }
        for kind in FailureKind::ALL {
            assert_eq!(decode::<FailureKind>("kind", text(kind)).unwrap(), kind);
        }
        for field in WebhookField::ALL {
            assert_eq!(fields("fields", &fields_text(&[*field])).unwrap(), vec![*field]);
        }
        for kind in [OptinKind::OneTime, OptinKind::Recurring(NotificationFrequency::Weekly)] {
            assert_eq!(decode::<OptinKind>("kind", text(kind)).unwrap(), kind);
        }
        assert_eq!(fields("fields", "").unwrap(), vec![]);
    }

    #[test]
    fn unknown_stored_values_are_errors_not_defaults() {
        assert_eq!(app(&app_row("live")).unwrap().mode, AppMode::Live);
        assert!(matches!(app(&app_row("retired")), Err(StoreError::Corrupt { column, value }) if column == "mode" && value == "retired"));
        let mut banned = app_row("live");
        banned.0.insert("policy_state", Some("banished".into()));
        assert!(matches!(app(&banned), Err(StoreError::Corrupt { column, .. }) if column == "policy_state"));
        assert!(matches!(fields("fields", "messages,telepathy"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(decode::<FailureKind>("kind", "gremlins"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(decode::<Direction>("direction", "sideways"), Err(StoreError::Corrupt { .. })));
    }

    /// Both engines' SQL writes these spellings as literals (the Page's unread
    /// messages, a Done thread brought back to the inbox).
    #[test]
    fn the_spellings_sql_names_literally() {
        assert_eq!((text(Direction::Inbound), text(Folder::Inbox), text(Folder::PageDone), text(Folder::Spam)), ("in", "inbox", "page_done", "spam"));
        assert!(matches!(decode::<Folder>("folder", "other"), Err(StoreError::Corrupt { .. })), "other is a filter, never stored");
    }

    #[test]
    fn a_token_without_its_ids_is_corrupt() {
        let mut row = Fake::default();
        for (column, value) in [("digest", Some("d")), ("kind", Some("page")), ("person_id", Some("1")), ("page_id", None), ("app_id", Some("9")), ("issued_at", Some("0")), ("expires_at", None)] {
            row.0.insert(column, value.map(str::to_string));
        }
        assert!(matches!(token(&row), Err(StoreError::Corrupt { .. })));
        row.0.insert("page_id", Some("100".into()));
        assert_eq!(token(&row).unwrap().grant, TokenGrant::Page { page: PageId("100".into()), app: AppId("9".into()), person: PersonId(1) });
    }
}
