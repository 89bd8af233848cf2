//! What a Page may send to a person, and when (reference §4.3, §2.3): the 24-hour
//! standard messaging window, message tags and HUMAN_AGENT's seven days (who may be
//! messaged at all is in `permissions`). Pure functions of the request, the state
//! and now.

use crate::send::MessagingType;
use crate::{Millis, NotificationFrequency, Refusal};

/// The standard messaging window: after the person's last interaction.
pub const STANDARD_WINDOW_MS: Millis = 24 * 3_600_000;
/// How long after the person's last interaction a human agent may still answer.
pub const HUMAN_AGENT_WINDOW_MS: Millis = 7 * 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageTag {
    ConfirmedEventUpdate,
    PostPurchaseUpdate,
    AccountUpdate,
    HumanAgent,
}

/// Tags Meta retired on 4 March 2020 that old SDKs still send.
const RETIRED_TAGS: [&str; 15] = [
    "COMMUNITY_ALERT",
    "CONFIRMED_EVENT_REMINDER",
    "NON_PROMOTIONAL_SUBSCRIPTION",
    "PAIRING_UPDATE",
    "APPLICATION_UPDATE",
    "PAYMENT_UPDATE",
    "PERSONAL_FINANCE_UPDATE",
    "SHIPPING_UPDATE",
    "RESERVATION_UPDATE",
    "ISSUE_RESOLUTION",
    "APPOINTMENT_UPDATE",
    "GAME_EVENT",
    "TRANSPORTATION_UPDATE",
    "FEATURE_FUNCTIONALITY_UPDATE",
    "TICKET_UPDATE",
];

impl MessageTag {
    pub fn parse(name: &str) -> Result<Self, Refusal> {
        match name {
            "CONFIRMED_EVENT_UPDATE" => Ok(Self::ConfirmedEventUpdate),
            "POST_PURCHASE_UPDATE" => Ok(Self::PostPurchaseUpdate),
            "ACCOUNT_UPDATE" => Ok(Self::AccountUpdate),
            "HUMAN_AGENT" => Ok(Self::HumanAgent),
            retired if RETIRED_TAGS.contains(&retired) => Err(Refusal::invalid_param(format!(
                "Param tag {retired} is no longer supported since March 4, 2020: use CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, ACCOUNT_UPDATE or HUMAN_AGENT"
            ))),
            other => Err(Refusal::invalid_param(format!(
                "Param tag must be one of {{CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, ACCOUNT_UPDATE, HUMAN_AGENT}} - got \"{other}\""
            ))),
        }
    }
}

/// What the Page wants to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// A message of this type, with its tag when `MESSAGE_TAG`.
    Message(MessagingType, Option<MessageTag>),
    /// A sender action (typing, seen): it follows the standard window.
    Action,
}

/// Whether the message may go now, given the person's last interaction with the Page
/// (`None`: never). Inside the window anything goes; outside it only a valid tag
/// (HUMAN_AGENT within seven days).
pub fn may_send(outgoing: Outgoing, last_interaction: Option<Millis>, now: Millis) -> Result<(), Refusal> {
    let since = last_interaction.map(|at| now - at);
    let within = |window: Millis| since.is_some_and(|elapsed| elapsed <= window);
    let allowed = match outgoing {
        Outgoing::Message(MessagingType::MessageTag, Some(MessageTag::HumanAgent)) => within(HUMAN_AGENT_WINDOW_MS),
        Outgoing::Message(MessagingType::MessageTag, Some(_)) => true,
        Outgoing::Message(_, _) | Outgoing::Action => within(STANDARD_WINDOW_MS),
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::outside_window())
    }
}

/// Meta's `can_reply` on a conversation: whether the Page can reply at all. The
/// window decides which messages may go, not whether one may: outside it a tagged
/// message still may (`may_send`), so only a block stops the Page (an erased person
/// has no thread left to ask about).
pub fn can_reply(blocked: bool, last_interaction: Option<Millis>, now: Millis) -> bool {
    let tagged = Outgoing::Message(MessagingType::MessageTag, Some(MessageTag::AccountUpdate));
    !blocked && may_send(tagged, last_interaction, now).is_ok()
}

/// How long a one-time notification token may be used after the person asked.
pub const ONE_TIME_NOTIF_TTL_MS: Millis = 365 * 24 * 3_600_000;

const DAY_MS: Millis = 24 * 3_600_000;

/// How long after one recurring notification the next may go.
pub fn notification_period_ms(frequency: NotificationFrequency) -> Millis {
    match frequency {
        NotificationFrequency::Daily => DAY_MS,
        NotificationFrequency::Weekly => 7 * DAY_MS,
        NotificationFrequency::Monthly => 30 * DAY_MS,
    }
}

/// How long a recurring-notification token lives (Meta: 6, 9 and 12 months).
pub fn notification_token_ttl_ms(frequency: NotificationFrequency) -> Millis {
    match frequency {
        NotificationFrequency::Daily => 182 * DAY_MS,
        NotificationFrequency::Weekly => 273 * DAY_MS,
        NotificationFrequency::Monthly => 365 * DAY_MS,
    }
}

/// Opt-in requests to one person from one Page: at most one a day, and one with the
/// same title a week. `recent` holds the (title, sent at) of the last week's requests.
pub fn may_request_recurring(recent: &[(String, Millis)], title: &str, now: Millis) -> Result<(), Refusal> {
    let too_many = recent.iter().any(|(sent_title, at)| now - at < DAY_MS || (sent_title == title && now - at < 7 * DAY_MS));
    if too_many {
        Err(Refusal::too_many_optin_requests())
    } else {
        Ok(())
    }
}

/// How long a phone number must have been verified before a Page may reach its
/// person by it.
pub const PHONE_SETTLE_MS: Millis = 24 * 3_600_000;

/// Whether a person found by phone number may be reached: the number was verified at
/// least a day ago. Otherwise the number matches nobody, as Meta answers.
pub fn may_reach_by_phone(verified_at: Millis, now: Millis) -> Result<(), Refusal> {
    if now - verified_at >= PHONE_SETTLE_MS {
        Ok(())
    } else {
        Err(Refusal::no_matching_user())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurring_opt_in_requests_are_limited() {
        let recent = vec![("Deals".to_string(), 0)];
        assert_eq!(may_request_recurring(&recent, "News", DAY - 1).unwrap_err().subcode, Some(2018352), "one a day");
        assert!(may_request_recurring(&recent, "News", DAY).is_ok());
        assert!(may_request_recurring(&recent, "Deals", 7 * DAY - 1).is_err(), "the same title once a week");
        assert!(may_request_recurring(&recent, "Deals", 7 * DAY).is_ok());
        assert_eq!(notification_period_ms(NotificationFrequency::Weekly), 7 * DAY);
        assert!(notification_token_ttl_ms(NotificationFrequency::Daily) < notification_token_ttl_ms(NotificationFrequency::Monthly));
    }

    #[test]
    fn a_phone_number_reaches_its_person_a_day_after_verification() {
        assert_eq!(may_reach_by_phone(0, PHONE_SETTLE_MS - 1).unwrap_err().subcode, Some(2018001));
        assert!(may_reach_by_phone(0, PHONE_SETTLE_MS).is_ok());
    }

    const SECOND: Millis = 1_000;
    const HOUR: Millis = 3_600 * SECOND;
    const DAY: Millis = 24 * HOUR;

    fn message(kind: MessagingType, tag: Option<MessageTag>) -> Outgoing {
        Outgoing::Message(kind, tag)
    }

    #[test]
    fn the_standard_window_is_twenty_four_hours_from_the_last_interaction() {
        let last = 1_000_000;
        for kind in [MessagingType::Response, MessagingType::Update] {
            assert_eq!(may_send(message(kind, None), Some(last), last + DAY - SECOND), Ok(()), "23:59:59");
            assert_eq!(may_send(message(kind, None), Some(last), last + DAY), Ok(()), "24:00:00 is still inside");
            let refusal = may_send(message(kind, None), Some(last), last + DAY + SECOND).unwrap_err();
            assert_eq!((refusal.code, refusal.subcode, refusal.status), (10, Some(2018278), 400), "24:00:01");
        }
        assert!(may_send(Outgoing::Action, Some(last), last + HOUR).is_ok());
        assert!(may_send(Outgoing::Action, Some(last), last + DAY + SECOND).is_err(), "sender actions follow the window");
        assert!(may_send(message(MessagingType::Response, None), None, last).is_err(), "no interaction, no window");
    }

    #[test]
    fn tags_allow_messages_outside_the_window() {
        let last = 0;
        let late = 30 * DAY;
        for tag in [MessageTag::ConfirmedEventUpdate, MessageTag::PostPurchaseUpdate, MessageTag::AccountUpdate] {
            assert_eq!(may_send(message(MessagingType::MessageTag, Some(tag)), Some(last), late), Ok(()));
        }
        assert!(may_send(message(MessagingType::Response, Some(MessageTag::AccountUpdate)), Some(last), late).is_err(), "a tag needs MESSAGE_TAG");
    }

    #[test]
    fn human_agent_has_seven_days() {
        let human = message(MessagingType::MessageTag, Some(MessageTag::HumanAgent));
        assert_eq!(may_send(human, Some(0), 7 * DAY - SECOND), Ok(()), "the seventh day");
        assert_eq!(may_send(human, Some(0), 7 * DAY), Ok(()));
        assert_eq!(may_send(human, Some(0), 7 * DAY + SECOND).unwrap_err().subcode, Some(2018278), "the eighth day");
        assert!(may_send(human, None, 0).is_err());
    }

    #[test]
    fn tags_are_parsed_and_retired_ones_refused() {
        assert_eq!(MessageTag::parse("HUMAN_AGENT"), Ok(MessageTag::HumanAgent));
        let retired = MessageTag::parse("SHIPPING_UPDATE").unwrap_err();
        assert_eq!(retired.code, 100);
        assert!(retired.message.contains("no longer supported"), "{}", retired.message);
        let unknown = MessageTag::parse("BIRTHDAY").unwrap_err();
        assert!(unknown.message.contains("must be one of"), "{}", unknown.message);
    }
}
