//! The pure readers of client input, fed generated input: none may panic, however
//! deep, wide or malformed it is. (The reliability suite in the test kit sends the
//! same kind of input through real HTTP.)

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchboard_domain::content::parse_message;
use switchboard_domain::params::{parse_field_selection, parse_lenient_json, Params};
use switchboard_domain::labels::{parse_label_name, MAX_LABEL_NAME_CHARS};
use switchboard_domain::profile::{parse_profile_update, parse_user_setting_params, validate_persistent_menu};
use switchboard_domain::send::parse_send;

/// Keys of Meta's message shapes, so that generated input reaches past the first check.
const KEYS: &[&str] = &[
    "recipient", "message", "id", "text", "attachment", "attachments", "payload", "type", "template_type", "elements", "buttons",
    "quick_replies", "url", "title", "subtitle", "image_url", "default_action", "messaging_type", "tag", "sender_action", "metadata",
    "content_type", "is_reusable", "attachment_id", "phone_number", "user_ref", "one_time_notif_token", "notification_messages_token",
    "greeting", "get_started", "persistent_menu", "ice_breakers", "call_to_actions", "locale", "question", "whitelisted_domains",
    "summary", "total_cost", "address", "order_number", "currency", "payment_method", "recipient_name", "media_type", "reply_to",
    "persona_id", "notification_type", "webview_height_ratio", "fallback_url", "top_element_style", "sharable", "image_aspect_ratio",
    "psid", "params", "page_label_name", "name", "user",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        prop::sample::select(vec!["template", "generic", "button", "media", "receipt", "postback", "web_url", "image", "RESPONSE", "MESSAGE_TAG", "https://example.com/x", "typing_on"])
            .prop_map(Value::from),
    ];
    let key = prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_string), 1 => any::<String>()];
    leaf.prop_recursive(10, 256, 12, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..14).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..14).prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn params() -> impl Strategy<Value = Params> {
    prop::collection::btree_map(prop::sample::select(KEYS).prop_map(str::to_string), prop_oneof![json(), json().prop_map(|v| Value::String(v.to_string()))], 0..8)
        .prop_map(|map| Params(map.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn field_selections_never_panic(text in any::<String>(), nested in "[a-z_{},.()0-9 ]{0,200}") {
        let _ = parse_field_selection(&text);
        let _ = parse_field_selection(&nested);
    }

    #[test]
    fn lenient_json_never_panics(text in any::<String>(), value in json()) {
        let _ = parse_lenient_json(&text);
        let _ = parse_lenient_json(&value.to_string().replace('"', "'"));
    }

    #[test]
    fn send_requests_never_panic(params in params()) {
        let _ = parse_send(&params);
    }

    #[test]
    fn messages_never_panic(message in prop::collection::btree_map(prop::sample::select(KEYS).prop_map(str::to_string), json(), 0..6)) {
        let _ = parse_message(&message.into_iter().collect());
    }

    #[test]
    fn profile_updates_never_panic(params in params()) {
        let _ = parse_profile_update(&params);
    }

    #[test]
    fn user_settings_never_panic(params in params(), menu in json()) {
        let _ = parse_user_setting_params(&params);
        let _ = validate_persistent_menu(&menu);
        let _ = validate_persistent_menu(&Value::String(menu.to_string()));
    }

    #[test]
    fn label_names_are_bounded_or_refused(params in params(), text in any::<String>()) {
        for params in [params, Params([("page_label_name".to_string(), Value::String(text))].into_iter().collect())] {
            if let Ok(name) = parse_label_name(&params) {
                prop_assert!(!name.is_empty() && name.trim() == name && name.chars().count() <= MAX_LABEL_NAME_CHARS, "{name:?}");
                prop_assert!(!name.chars().any(char::is_control));
            }
        }
    }
}
