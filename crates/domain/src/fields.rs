//! Webhook fields of `object=page` (reference §3.3): what an app subscribes to, and
//! which field each event belongs to.

use serde::{Deserialize, Serialize};

macro_rules! webhook_fields {
    ($($variant:ident => $name:literal,)*) => {
        /// A webhook field an app can subscribe to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum WebhookField {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl WebhookField {
            pub const ALL: &'static [WebhookField] = &[$(WebhookField::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(WebhookField::$variant => $name,)* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(WebhookField::$variant),)* _ => None }
            }
        }
    };
}

webhook_fields! {
    Messages => "messages",
    MessageEchoes => "message_echoes",
    MessageDeliveries => "message_deliveries",
    MessageReads => "message_reads",
    MessageReactions => "message_reactions",
    MessageEdits => "message_edits",
    MessagingPostbacks => "messaging_postbacks",
    MessagingOptins => "messaging_optins",
    MessagingReferrals => "messaging_referrals",
    MessagingAccountLinking => "messaging_account_linking",
    MessagingHandovers => "messaging_handovers",
    Standby => "standby",
    MessagingPolicyEnforcement => "messaging_policy_enforcement",
    MessagingGamePlays => "messaging_game_plays",
    ResponseFeedback => "response_feedback",
    MessagingFeedback => "messaging_feedback",
}

/// Parses a field list, refusing unknown names with the parameter they came in.
pub fn parse_fields(items: &[String], param: &str) -> Result<Vec<WebhookField>, crate::Refusal> {
    let mut fields = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = WebhookField::parse(item).ok_or_else(|| {
            crate::Refusal::invalid_param(format!(
                "Param {param}[{index}] must be one of {{{}}} - got \"{item}\"",
                WebhookField::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    fields.sort();
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_and_refuses_others() {
        let names = vec!["messages".to_string(), "message_echoes".into(), "messages".into()];
        assert_eq!(
            parse_fields(&names, "fields").unwrap(),
            vec![WebhookField::Messages, WebhookField::MessageEchoes]
        );
        let refusal = parse_fields(&["mesages".into()], "fields").unwrap_err();
        assert_eq!(refusal.code, 100);
        assert!(refusal.message.contains("fields[0]"));
    }

    #[test]
    fn names_round_trip() {
        for field in WebhookField::ALL {
            assert_eq!(WebhookField::parse(field.as_str()), Some(*field));
        }
    }
}
