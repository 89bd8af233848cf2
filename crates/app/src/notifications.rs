//! One-time and recurring notifications: a Page asks (a template message), the person
//! accepts in their client, the Page's apps get a token in a `messaging_optins` event,
//! and the token lets the Page send outside the window (once ever, or once a period)
//! until it expires or the person stops the topic.

use crate::events;
use crate::core::Core;
use crate::AppResult;
use std::sync::Arc;
use crate::conversations::{cursor, read_cursor, refuse_before};
use crate::{Caller, Paged};
use switchboard_domain::credentials::{new_access_token, token_digest};
use switchboard_domain::params::Params;
use switchboard_domain::*;
use switchboard_store::{OptinKind, OptinRequest, OptinTap, TokenSpend};
use switchboard_wire::graph;

/// The token inventory's page size: Meta's default and bound.
const TOKENS_PAGE: u32 = 100;
const MAX_TOKENS_PAGE: u32 = 1000;

/// Which token a send names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    OneTime,
    Recurring,
}

/// A fact a message is stored with, in the same store call: both or neither.
pub(crate) enum Companion {
    Nothing,
    /// The opt-in request the message asks.
    OptinRequest(OptinRequest),
    /// The notification token the message is sent with, and the refusal to give if
    /// another send spent it first.
    Token { spend: TokenSpend, if_spent: Refusal },
    /// The checkbox plugin's `user_ref` the message is sent by (it takes one).
    UserRef(String),
}

const WEEK_MS: Millis = 7 * 24 * 3_600_000;

/// Notification opt-ins: what a Page's message asks, and what the person does with it.
#[derive(Clone)]
pub struct Notifications {
    pub(crate) core: Arc<Core>,
}

impl Notifications {
    /// Checks a notification token of the Page, with Meta's errors when it cannot be
    /// used: answers the person, their PSID and the spend to store with the message
    /// (the store decides, whichever sends race for the token).
    pub(crate) async fn notification_token(&self, page: &PageId, token: &str, kind: TokenKind) -> AppResult<(PersonId, Psid, Companion)> {
        if kind == TokenKind::OneTime && !self.core.page_feature_approved(page, PageFeature::OneTimeNotif).await? {
            return Err(Refusal::one_time_notif_not_permitted().into());
        }
        let refuse = |problem: &str| match kind {
            TokenKind::OneTime => Refusal::one_time_notif_token(problem),
            TokenKind::Recurring => Refusal::notification_messages_token(problem),
        };
        let digest = token_digest(token);
        let request = self.core.store.optin_by_token(page, &digest).await?;
        let request = request.filter(|r| (r.kind == OptinKind::OneTime) == (kind == TokenKind::OneTime)).ok_or_else(|| refuse("is invalid"))?;
        let now = self.core.now();
        if request.token_expires_at.is_none_or(|expires| now >= expires) {
            return Err(refuse("has expired").into());
        }
        let (period_start, if_spent) = match request.kind {
            OptinKind::OneTime if request.last_sent_at.is_some() => return Err(refuse("has already been used").into()),
            OptinKind::OneTime => (None, refuse("has already been used")),
            OptinKind::Recurring(_) if request.stopped_at.is_some() => return Err(Refusal::notifications_stopped().into()),
            OptinKind::Recurring(frequency) => (Some(now - policy::notification_period_ms(frequency)), Refusal::notification_frequency_exceeded()),
        };
        // Used within the period already: refused before anything else is done.
        if let (Some(last_sent_at), Some(start)) = (request.last_sent_at, period_start) {
            if last_sent_at > start {
                return Err(if_spent.into());
            }
        }
        let psid = self.core.store.psid(request.person, page).await?;
        let spend = TokenSpend { page: page.clone(), digest, period_start };
        Ok((request.person, psid, Companion::Token { spend, if_spent }))
    }

    /// Checks the request a template message carries against its limits: one-time
    /// requests need the Page's permission (one outstanding request per topic is the
    /// store's to decide, as it stores the request); recurring ones at most one a day
    /// and one per title a week.
    pub(crate) async fn may_request_optin(&self, request: &OptinRequest) -> AppResult<()> {
        match request.kind {
            OptinKind::OneTime => {
                if !self.core.page_feature_approved(&request.page, PageFeature::OneTimeNotif).await? {
                    return Err(Refusal::one_time_notif_not_permitted().into());
                }
            }
            OptinKind::Recurring(_) => {
                let recent = self.core.store.optin_requests_since(&request.page, request.person, request.created_at - WEEK_MS).await?;
                let recent: Vec<(String, Millis)> =
                    recent.into_iter().filter(|r| r.kind != OptinKind::OneTime).map(|r| (r.title, r.created_at)).collect();
                policy::may_request_recurring(&recent, &request.title, request.created_at)?;
            }
        }
        Ok(())
    }

    /// The person taps "Notify me" on a one-time notification request: the Page's apps
    /// get a `messaging_optins` event with a token for one message, valid for a year.
    pub async fn notify_me(&self, person: PersonId, page_ref: &PageRef, mid: &str) -> AppResult<()> {
        let (page, request) = self.own_optin_request(person, page_ref, mid, true).await?;
        let (token, digest) = new_access_token();
        let now = self.core.now();
        let psid = self.core.store.psid(person, &page.id).await?;
        let body = events::one_time_optin(&psid, &page.id, &request.payload, &token, now);
        self.accept_optin(&page, &request, &digest, now + policy::ONE_TIME_NOTIF_TTL_MS, body, now).await
    }

    /// The person accepts a recurring-notification opt-in: the Page's apps get a
    /// `messaging_optins` event with the topic's token.
    pub async fn accept_notifications(&self, person: PersonId, page_ref: &PageRef, mid: &str) -> AppResult<()> {
        let (page, mut request) = self.own_optin_request(person, page_ref, mid, false).await?;
        let OptinKind::Recurring(frequency) = request.kind else { unreachable!("own_optin_request checked the kind") };
        let now = self.core.now();
        let expires_at = now + policy::notification_token_ttl_ms(frequency);
        request.token_expires_at = Some(expires_at);
        let token = self.core.key.notification_messages_token(request.mid.as_str());
        let psid = self.core.store.psid(person, &page.id).await?;
        let body = events::recurring_optin(&psid, &page.id, &request, &token, None, now);
        self.accept_optin(&page, &request, &token_digest(&token), expires_at, body, now).await
    }

    /// Stores the acceptance at `now`, the time its event and its expiry were made
    /// from (the token inventory shows it as the token's creation).
    async fn accept_optin(&self, page: &Page, request: &OptinRequest, digest: &str, expires_at: Millis, body: Vec<u8>, now: Millis) -> AppResult<()> {
        let already = || Refusal::invalid_param("You accepted this request already");
        if request.tapped_at.is_some() {
            return Err(already().into());
        }
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessagingOptins, &page.id, request.person, &body, now);
        let tap = OptinTap { mid: request.mid.clone(), person: request.person, token_digest: digest.to_string(), expires_at, at: now };
        if !self.core.store.tap_optin_request(tap, outbox).await? {
            return Err(already().into());
        }
        self.core.wake_dispatcher();
        Ok(())
    }

    /// The person stops (or resumes) a recurring topic they accepted; the apps hear of it.
    pub async fn stop_notifications(&self, person: PersonId, page_ref: &PageRef, mid: &str, stop: bool) -> AppResult<()> {
        let (page, request) = self.own_optin_request(person, page_ref, mid, false).await?;
        if request.tapped_at.is_none() {
            return Err(Refusal::invalid_param("You have not accepted these notifications").into());
        }
        let now = self.core.now();
        let token = self.core.key.notification_messages_token(request.mid.as_str());
        let psid = self.core.store.psid(person, &page.id).await?;
        let status = if stop { "STOP_NOTIFICATIONS" } else { "RESUME_NOTIFICATIONS" };
        let body = events::recurring_optin(&psid, &page.id, &request, &token, Some(status), now);
        let targets = self.core.webhook_targets(&page.id).await?;
        let outbox = events::fan_out(&targets, WebhookField::MessagingOptins, &page.id, person, &body, now);
        self.core.store.set_optin_stopped(&request.mid, stop.then_some(now), outbox).await?;
        self.core.wake_dispatcher();
        Ok(())
    }

    /// `GET /{page-id}/notification_message_tokens[?limit=][&after=]` (Page token): the
    /// Page's recurring-notification tokens, oldest acceptance first, each token
    /// derived again from the master key (only its digest is stored). As Meta lists
    /// the tokens a Page can send with, an expired token or one whose topic the person
    /// stopped is left out (a resumed topic's token, the same token, is listed again);
    /// an erased person's requests are gone with the erasure.
    pub async fn token_inventory(&self, caller: &Caller, page_ref: &PageRef, params: &Params) -> AppResult<Paged> {
        let (page, _) = self.core.own_page(caller, page_ref, Permission::PagesMessaging)?;
        refuse_before(params)?;
        let limit = match params.str("limit")? {
            Some(text) => text.trim().parse::<u32>().map_err(|_| Refusal::invalid_param("Param limit must be a number"))?.clamp(1, MAX_TOKENS_PAGE),
            None => TOKENS_PAGE,
        };
        let after = params.str("after")?.map(|text| read_cursor(&text)).transpose()?.map(|(at, mid)| (at, Mid(mid)));
        let mut tokens = self.core.store.notification_tokens(&page.id, self.core.now(), after, limit + 1).await?;
        let more = tokens.len() > limit as usize;
        tokens.truncate(limit as usize);
        let mut data = Vec::with_capacity(tokens.len());
        let mut cursors = Vec::with_capacity(tokens.len());
        for (request, psid) in tokens {
            let OptinKind::Recurring(frequency) = request.kind else { continue };
            let (Some(accepted_at), Some(expires_at)) = (request.tapped_at, request.token_expires_at) else { continue };
            cursors.push(cursor(accepted_at, request.mid.as_str()));
            let item = graph::NotificationMessageToken {
                notification_messages_token: self.core.key.notification_messages_token(request.mid.as_str()),
                recipient_id: psid.0,
                topic_title: request.title,
                notification_messages_frequency: Some(frequency.as_str()),
                notification_messages_reoptin: if request.reoptin { "ENABLED" } else { "DISABLED" }.to_string(),
                // Persons have no time zone here: the opt-in webhook says UTC too.
                notification_messages_timezone: "UTC",
                creation_timestamp: accepted_at,
                token_expiry_timestamp: expires_at,
                // A token sends once per period of its frequency (`send_with_token`).
                next_eligible_time: request.last_sent_at.map_or(accepted_at, |at| at + policy::notification_period_ms(frequency)),
                // Nothing renews a token here (no re-opt-in flow), so none is refreshed.
                user_token_status: "NOT_REFRESHED",
            };
            data.push(serde_json::to_value(item).expect("Graph shapes are JSON"));
        }
        Ok(Paged { before: cursors.first().cloned(), after: cursors.last().cloned(), more, data })
    }

    /// The person's own request of this Page, of the kind the call is about.
    async fn own_optin_request(&self, person: PersonId, page_ref: &PageRef, mid: &str, one_time: bool) -> AppResult<(Page, OptinRequest)> {
        let page = self.core.page_for_person(page_ref).await?;
        let request = self.core.store.optin_request(&Mid(mid.to_string())).await?;
        let request = request.filter(|r| r.person == person && r.page == page.id && (r.kind == OptinKind::OneTime) == one_time);
        let request = request.ok_or_else(|| Refusal::unknown_object(mid))?;
        Ok((page, request))
    }
}
