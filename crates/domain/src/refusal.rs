//! Meta's refusals: every error a client can see, with its Graph code, subcode,
//! message and HTTP status. One home, so the codes stay exact (reference §1.6–1.7).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: u32,
    pub subcode: Option<u32>,
    /// Graph's `type`: `OAuthException` for nearly all Messenger errors.
    pub kind: &'static str,
    pub message: String,
    pub transient: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {}", self.message, self.code)?;
        if let Some(sub) = self.subcode {
            write!(f, ", subcode {sub}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    fn new(status: u16, code: u32, subcode: Option<u32>, message: impl Into<String>) -> Self {
        Self { status, code, subcode, kind: "OAuthException", message: message.into(), transient: false }
    }

    /// 100: a missing or malformed parameter.
    pub fn invalid_param(detail: impl fmt::Display) -> Self {
        Self::new(400, 100, None, format!("(#100) {detail}"))
    }

    /// 100: a Page Insights metric this server does not know (Graph's wording).
    pub fn invalid_metric() -> Self {
        Self::new(400, 100, None, "(#100) The value must be a valid insights metric")
    }

    /// 3001/1504028: an insights request without a metric.
    pub fn no_metric() -> Self {
        Self::new(400, 3001, Some(1504028), "No metric was specified to be fetched. Please specify one or more metrics to be fetched and try again.")
    }

    /// 100: the pull API for an app whose webhook is not in pull mode (a Switchboard
    /// extension).
    pub fn not_pulled() -> Self {
        Self::new(
            400,
            100,
            None,
            "(#100) This app's events are POSTed to its webhook: set its delivery mode to pull (console API `PUT /console/v1/apps/{app}/webhook/delivery`) to read them with /updates",
        )
    }

    /// 409 (as Telegram's getUpdates answers): another request is polling the app's
    /// updates right now.
    pub fn poller_busy() -> Self {
        Self::new(409, 100, None, "(#100) Conflict: another request is polling this app's updates; one poller at a time")
    }

    /// 100/2018001: the recipient is not a PSID of this Page.
    pub fn no_matching_user() -> Self {
        Self::new(400, 100, Some(2018001), "(#100) No matching user found")
    }

    /// 551/1545041: the person blocked the Page, or deleted their account.
    pub fn person_unavailable() -> Self {
        Self::new(400, 551, Some(1545041), "(#551) This person isn't available right now.")
    }

    /// 100/2018001 for a `user_ref` that already took its one message: Meta's code,
    /// with the reason spelled out.
    pub fn user_ref_spent() -> Self {
        Self::new(
            400,
            100,
            Some(2018001),
            "(#100) No matching user found: a user_ref takes one message until the person answers; then write to the PSID their message brings",
        )
    }

    /// 10303: an `account_linking_token` that is unknown, spent or expired.
    pub fn invalid_account_linking_token() -> Self {
        Self::new(400, 10303, None, "Invalid account_linking_token")
    }

    /// 100/2018014: `message` and `sender_action` together.
    pub fn message_and_action() -> Self {
        Self::new(400, 100, Some(2018014), "(#100) Cannot send both message and state at the same time.")
    }

    /// 100/33: the node does not exist or the token may not see it.
    pub fn unknown_object(id: &str) -> Self {
        let mut refusal = Self::new(
            400,
            100,
            Some(33),
            format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        );
        refusal.kind = "GraphMethodException";
        refusal
    }

    /// 100: a path that names no operation.
    pub fn unknown_path(method: &str, path: &str) -> Self {
        let mut refusal = Self::new(400, 100, None, format!("Unknown path components: {method} {path}"));
        refusal.kind = "OAuthException";
        refusal
    }

    /// 190: no token, or one that resolves to nothing.
    pub fn invalid_token() -> Self {
        Self::new(400, 190, None, "Invalid OAuth access token.")
    }

    /// 190/463: the token has expired.
    pub fn expired_token() -> Self {
        Self::new(400, 190, Some(463), "Error validating access token: Session has expired.")
    }

    /// 2500: no token at all where one is needed.
    pub fn token_required() -> Self {
        Self::new(400, 2500, None, "An active access token must be used to query information about the current user.")
    }

    /// 190: a token of the wrong kind for the call (a user token on the Send API, ...).
    pub fn wrong_token_kind(needed: &str) -> Self {
        Self::new(400, 190, None, format!("Invalid OAuth access token: this call requires {needed}."))
    }

    /// 200: the token is valid but may not touch this object.
    pub fn permission(detail: impl fmt::Display) -> Self {
        Self::new(403, 200, None, format!("(#200) {detail}"))
    }

    /// 10: the operation is not permitted for this caller.
    pub fn not_permitted(detail: impl fmt::Display) -> Self {
        Self::new(403, 10, None, format!("(#10) {detail}"))
    }

    /// 10/2018278: the standard messaging window is closed and nothing else allows
    /// the message (reference §4.3). Meta answers it with HTTP 400.
    pub fn outside_window() -> Self {
        Self::new(
            400,
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        )
    }

    /// 200/2018028: an app in development mode messaging a person without a role on it.
    pub fn development_mode_recipient() -> Self {
        Self::new(
            400,
            200,
            Some(2018028),
            "(#200) Cannot message users who are not admins, developers or testers of the app until pages_messaging permission is reviewed and the app is live.",
        )
    }

    /// 230 for `pages_messaging`, 200 for any other: the token's person did not grant
    /// the permission, or the app may not use it for them (reference §2.3).
    pub fn missing_permission(permission: crate::Permission) -> Self {
        let code = if permission == crate::Permission::PagesMessaging { 230 } else { 200 };
        Self::new(403, code, None, format!("(#{code}) Requires {permission} permission to manage the object"))
    }

    /// 10: a feature of the app that App Review has not approved (the HUMAN_AGENT tag).
    pub fn feature_not_reviewed(permission: crate::Permission) -> Self {
        Self::new(400, 10, None, format!("(#10) Application does not have permission for this action: {permission} needs App Review"))
    }

    /// 190/458: the person took every permission back from the app.
    pub fn app_not_authorized(app: &str) -> Self {
        Self::new(400, 190, Some(458), format!("Error validating access token: The user has not authorized application {app}."))
    }

    /// 191: the login dialog's `redirect_uri` is not one the app registered.
    pub fn redirect_uri_not_registered() -> Self {
        Self::new(
            400,
            191,
            None,
            "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.",
        )
    }

    /// 100/36009: a login dialog's code may be exchanged once.
    pub fn code_used() -> Self {
        Self::new(400, 100, Some(36009), "This authorization code has been used.")
    }

    /// 100/36007: the code outlived its ten minutes.
    pub fn code_expired() -> Self {
        Self::new(400, 100, Some(36007), "This authorization code has expired.")
    }

    /// 100/36008: the exchange named another `redirect_uri` than the dialog.
    pub fn code_redirect_mismatch() -> Self {
        Self::new(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        )
    }

    /// 100: a code that was never issued (or not to this app).
    pub fn code_invalid() -> Self {
        Self::new(400, 100, None, "Invalid verification code format.")
    }

    /// 200/2018027: messaging by phone number needs the Page's permission.
    pub fn phone_numbers_not_permitted() -> Self {
        Self::new(
            400,
            200,
            Some(2018027),
            "(#200) Cannot message users by phone number: the Page does not have the pages_messaging_phone_number permission.",
        )
    }

    /// 10/2018300: another app owns the thread (the Handover Protocol). Meta answers
    /// it with HTTP 400.
    pub fn thread_owned_by_another_app() -> Self {
        Self::new(400, 10, Some(2018300), "(#10) Message failed to send because another app is controlling this thread now.")
    }

    /// 100/2534037: a thread-control call only the thread's owner (or, to take it,
    /// the primary receiver) may make.
    pub fn not_thread_owner() -> Self {
        Self::new(400, 100, Some(2534037), "(#100) The action is invalid since it's not the thread owner.")
    }

    /// 100/2018164: `target_app_id` names no receiver of the Page.
    pub fn incorrect_app_id() -> Self {
        Self::new(400, 100, Some(2018164), "(#100) Incorrect App ID.")
    }

    /// 10/2018171: the app holds no receiver role on the Page.
    pub fn not_a_receiver() -> Self {
        Self::new(400, 10, Some(2018171), "(#10) Only available to Primary and Secondary Receivers.")
    }

    /// 10/2018234: only the primary receiver lists the secondary receivers.
    pub fn secondary_receivers_for_primary_only() -> Self {
        Self::new(400, 10, Some(2018234), "(#10) Only the Primary Receiver can see the Secondary Receivers of this Page.")
    }

    /// 10/1404170: the Page may not use one-time notifications.
    pub fn one_time_notif_not_permitted() -> Self {
        Self::new(400, 10, Some(1404170), "(#10) Application does not have permission for this action")
    }

    /// 613/1893016: a request with the same topic is still outstanding for the person.
    pub fn one_time_notif_same_topic() -> Self {
        Self::new(400, 613, Some(1893016), "(#613) You may not send multiple opt-in requests with the same topic to a user")
    }

    /// 100: the one-time notification token cannot be used (unknown, another Page's,
    /// used already, or expired).
    pub fn one_time_notif_token(problem: &str) -> Self {
        Self::new(400, 100, None, format!("(#100) one_time_notif_token {problem}"))
    }

    /// 9/2018352: too many opt-in requests to this person.
    pub fn too_many_optin_requests() -> Self {
        Self::new(400, 9, Some(2018352), "(#9) User is performing too many actions")
    }

    /// 10/1893015: the person stopped this topic.
    /// 10/1893063: the operator blocked the app for policy (`messaging_policy_enforcement`);
    /// Meta's "temporarily restricted" refusal, naming the block.
    pub fn app_policy_blocked() -> Self {
        Self::new(400, 10, Some(1893063), "(#10) You are temporarily restricted from sending messages: this app is blocked for violating the Messenger Platform policies")
    }

    pub fn notifications_stopped() -> Self {
        Self::new(400, 10, Some(1893015), "(#10) This user has currently stopped notification messages for this topic")
    }

    /// 4/2018354: more messages than the topic's frequency allows.
    pub fn notification_frequency_exceeded() -> Self {
        Self::new(400, 4, Some(2018354), "(#4) Notification messages limit reached: one message per period of the topic's frequency")
    }

    /// 100: the recurring-notification token is unknown, another Page's, or expired.
    pub fn notification_messages_token(problem: &str) -> Self {
        Self::new(400, 100, None, format!("(#100) notification_messages_token {problem}"))
    }

    /// A rate limit: 4 (app), 32 (Page), 613 (sends). Graph answers them with HTTP 400.
    pub fn rate_limited(code: u32, subcode: Option<u32>, message: &str) -> Self {
        let mut refusal = Self::new(400, code, subcode, message);
        refusal.transient = true;
        refusal
    }

    /// 100: `appsecret_proof` did not match.
    pub fn invalid_proof() -> Self {
        let mut refusal = Self::new(400, 100, None, "Invalid appsecret_proof provided in the API argument");
        refusal.kind = "GraphMethodException";
        refusal
    }

    /// 100: the app requires `appsecret_proof` and none came.
    pub fn proof_required() -> Self {
        Self::new(400, 100, None, "API calls from the server require an appsecret_proof argument")
    }

    /// 2200: the callback URL did not pass the verification handshake.
    pub fn callback_verification_failed(detail: impl fmt::Display) -> Self {
        Self::new(400, 2200, None, format!("(#2200) callback verification failed: {detail}"))
    }

    /// 1: an internal failure; the cause is logged, never shown.
    pub fn unknown() -> Self {
        let mut refusal = Self::new(500, 1, Some(99), "An unknown error occurred.");
        refusal.transient = true;
        refusal
    }

    /// 2: the store is unreachable; retry later.
    pub fn unavailable() -> Self {
        let mut refusal = Self::new(503, 2, None, "An unexpected error has occurred. Please retry your request later.");
        refusal.transient = true;
        refusal
    }

    /// 2: a disk of the server is full, so nothing was stored; as `unavailable`, a
    /// temporary failure Meta's clients retry, with the cause named.
    pub fn storage_full() -> Self {
        let mut refusal = Self::new(503, 2, None, "(#2) The server's storage is full, so nothing was stored. Please retry your request later.");
        refusal.transient = true;
        refusal
    }

    /// 100: the request body was larger than the documented limit.
    pub fn body_too_large(limit_bytes: usize) -> Self {
        Self::new(413, 100, None, format!("(#100) Request body exceeds the limit of {limit_bytes} bytes"))
    }

    /// 100: the request body did not arrive within the node's deadline.
    pub fn body_timeout() -> Self {
        Self::new(408, 100, None, "(#100) The request body did not arrive in time")
    }

    /// 368: too many failed sign-ins for this login or from this address; retry
    /// after the given number of seconds.
    pub fn sign_in_throttled(retry_after_secs: i64) -> Self {
        let mut refusal = Self::new(
            429,
            368,
            None,
            format!("(#368) Too many failed sign-ins. Try again in {} minutes.", (retry_after_secs + 59) / 60),
        );
        refusal.transient = true;
        refusal
    }

    /// 100: a quota of the installation would be exceeded (apps or Pages a person
    /// holds, apps on a Page).
    pub fn quota_exceeded(detail: impl fmt::Display) -> Self {
        Self::new(400, 100, None, format!("(#100) Quota exceeded: {detail}"))
    }

    /// A Graph error for a missing parameter.
    pub fn missing_param(name: &str) -> Self {
        Self::invalid_param(format!("The parameter {name} is required"))
    }
}

impl Refusal {
    /// 15: an app-level call made without the app's own app token.
    pub fn app_token_required() -> Self {
        Self::new(400, 15, None, "(#15) This method must be called with an app access_token.")
    }
}

impl Refusal {
    /// 104: no token on a call that needs one (Meta answers 2500 instead on `/me` paths).
    pub fn token_missing() -> Self {
        Self::new(400, 104, None, "An access token is required to request this resource.")
    }
}

/// Attachments, profiles and the User Profile API (reference §4.4, §9.2, §9.3).
impl Refusal {
    /// 100/2018008: the attachment's URL could not be fetched.
    pub fn attachment_fetch_failed(detail: impl fmt::Display) -> Self {
        Self::new(400, 100, Some(2018008), format!("(#100) Failed to fetch the file from the url. {detail}"))
    }

    /// 100/2018109: the attachment is larger than its kind allows.
    pub fn attachment_too_large(limit_bytes: u64) -> Self {
        Self::new(400, 100, Some(2018109), format!("(#100) Attachment size exceeds allowable limit ({limit_bytes} bytes)"))
    }

    /// 100/2018047: the file does not match the attachment's type, or is unusable.
    pub fn attachment_upload_failed(detail: impl fmt::Display) -> Self {
        Self::new(400, 100, Some(2018047), format!("(#100) Upload attachment failure. {detail}"))
    }

    /// 100/2018074: an `attachment_id` that is unknown, another Page's, not reusable, or expired.
    pub fn attachment_not_owned() -> Self {
        Self::new(400, 100, Some(2018074), "(#100) Possible invalid ID or you do not own the attachment.")
    }

    /// 100/2018294: fetching a video took longer than allowed.
    pub fn video_fetch_timed_out() -> Self {
        Self::new(400, 100, Some(2018294), "(#100) Video upload timed out or the video is corrupt.")
    }

    /// 2018218: the person has no profile this Page may see.
    pub fn no_profile() -> Self {
        Self::new(400, 100, Some(2018218), "(#100) No profile available for this user.")
    }

    /// 2018247: a profile field the Page is not allowed to read.
    pub fn profile_permission() -> Self {
        Self::new(400, 200, Some(2018247), "(#200) Insufficient permission to access user profile.")
    }

    /// 100: the persistent menu needs a Get Started button (Meta's wording).
    pub fn menu_needs_get_started() -> Self {
        Self::new(400, 100, None, "(#100) You must set a Get Started button if you also wish to use persistent menu.")
    }
}
