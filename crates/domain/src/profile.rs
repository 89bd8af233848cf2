//! The Messenger Profile API's fields, parsed and validated (reference §9.1): Get
//! Started, greeting, persistent menu, ice breakers, whitelisted domains, the account
//! linking URL, commands, description and title; plus the two readings a Page's
//! person-facing side needs (a greeting personalized, the entry of a per-locale list).
//! Values may arrive as JSON or as JSON text (form-encoding SDKs); what comes out is
//! JSON, validated, ready to store. Pure: it must not store, read the clock or know
//! HTTP; buttons are judged by [`crate::content`], so the menu and the Send API agree.

use crate::content::{array, child, invalid, member, object, opt_bool, req_payload, req_string, required, validate_button, validate_url};
use crate::params::{parse_lenient_json, Params};
use crate::Refusal;
use serde_json::{Map, Value};

/// Longest greeting text, in characters.
pub const MAX_GREETING_CHARS: usize = 160;
/// Most items in one locale's persistent menu (Meta's limit is unconfirmed).
pub const MAX_MENU_ITEMS: usize = 20;
/// Most ice-breaker questions per locale (Meta's limit is unconfirmed).
pub const MAX_ICE_BREAKERS: usize = 4;
/// Longest ice-breaker question, in characters.
pub const MAX_QUESTION_CHARS: usize = 80;
/// Most whitelisted domains (Meta's limit is unconfirmed).
pub const MAX_WHITELISTED_DOMAINS: usize = 50;
/// Longest command name, in characters.
pub const MAX_COMMAND_NAME_CHARS: usize = 32;
/// Longest command description, in characters.
pub const MAX_COMMAND_DESCRIPTION_CHARS: usize = 256;
/// Longest Page `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest Page `title`, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

/// The Graph request's own parameters, never profile properties.
const REQUEST_PARAMS: [&str; 4] = ["access_token", "appsecret_proof", "platform", "fields"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileField {
    AccountLinkingUrl,
    Commands,
    GetStarted,
    Greeting,
    IceBreakers,
    PersistentMenu,
    WhitelistedDomains,
    Description,
    Title,
    Platform,
    /// Removed for all verbs in Graph v7.
    HomeUrl,
    /// Read-only.
    SubjectToNewEuPrivacyRules,
}

impl ProfileField {
    pub const ALL: [Self; 12] = [
        Self::AccountLinkingUrl,
        Self::Commands,
        Self::GetStarted,
        Self::Greeting,
        Self::IceBreakers,
        Self::PersistentMenu,
        Self::WhitelistedDomains,
        Self::Description,
        Self::Title,
        Self::Platform,
        Self::HomeUrl,
        Self::SubjectToNewEuPrivacyRules,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountLinkingUrl => "account_linking_url",
            Self::Commands => "commands",
            Self::GetStarted => "get_started",
            Self::Greeting => "greeting",
            Self::IceBreakers => "ice_breakers",
            Self::PersistentMenu => "persistent_menu",
            Self::WhitelistedDomains => "whitelisted_domains",
            Self::Description => "description",
            Self::Title => "title",
            Self::Platform => "platform",
            Self::HomeUrl => "home_url",
            Self::SubjectToNewEuPrivacyRules => "subject_to_new_eu_privacy_rules",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

fn home_url_removed() -> Refusal {
    invalid("home_url", "was removed in Graph API v7.0")
}

/// The properties a POST sets, each validated (JSON text parsed to JSON). Unknown keys
/// other than the Graph request's own (`access_token`, `appsecret_proof`, `platform`,
/// `fields`) → 100; `home_url` → 100 (removed in v7); at least one property, else 100.
/// The order is that of [`Params`]' map: alphabetical, as serde_json keeps it without
/// its `preserve_order` feature (no property depends on another, so order is moot).
pub fn parse_profile_update(params: &Params) -> Result<Vec<(ProfileField, Value)>, Refusal> {
    let mut set = Vec::new();
    for (key, raw) in &params.0 {
        if REQUEST_PARAMS.contains(&key.as_str()) {
            continue;
        }
        let field = ProfileField::parse(key).ok_or_else(|| invalid(key, "is not a Messenger profile property"))?;
        set.push((field, validate_property(field, raw)?));
    }
    if set.is_empty() {
        return Err(Refusal::invalid_param(
            "Set at least one of get_started, greeting, persistent_menu, ice_breakers, whitelisted_domains, account_linking_url, commands, description, title",
        ));
    }
    Ok(set)
}

/// The `fields` of GET and DELETE (a list param: comma string, JSON array text or JSON
/// array), each a known field name, else 100; `None` when missing or empty (DELETE
/// callers use [`require_profile_fields`]). Repeated names count once.
pub fn parse_profile_fields(params: &Params) -> Result<Option<Vec<ProfileField>>, Refusal> {
    let Some(names) = params.list("fields")? else { return Ok(None) };
    let mut fields = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let field = ProfileField::parse(name).ok_or_else(|| {
            let known: Vec<_> = ProfileField::ALL.iter().filter(|f| **f != ProfileField::HomeUrl).map(|f| f.as_str()).collect();
            invalid(&child("fields", i), format!("must be one of {{{}}} - got \"{name}\"", known.join(", ")))
        })?;
        if field == ProfileField::HomeUrl {
            return Err(home_url_removed());
        }
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    Ok((!fields.is_empty()).then_some(fields))
}

/// DELETE's `fields`: as [`parse_profile_fields`], and required.
pub fn require_profile_fields(params: &Params) -> Result<Vec<ProfileField>, Refusal> {
    parse_profile_fields(params)?.ok_or_else(|| Refusal::invalid_param("Param fields is required"))
}

/// A person's own persistent menu (`custom_user_settings`): the Page's rules.
pub fn validate_persistent_menu(raw: &Value) -> Result<Value, Refusal> {
    validate_property(ProfileField::PersistentMenu, raw)
}

/// What `DELETE custom_user_settings` removes (`params`, a list param, required):
/// `persistent_menu` is the one setting a person may have, else 100.
pub fn parse_user_setting_params(params: &Params) -> Result<Vec<ProfileField>, Refusal> {
    let names = params.list("params")?.filter(|names| !names.is_empty()).ok_or_else(|| Refusal::missing_param("params"))?;
    for (i, name) in names.iter().enumerate() {
        if name != ProfileField::PersistentMenu.as_str() {
            return Err(invalid(&child("params", i), format!("must be one of {{persistent_menu}} - got \"{name}\"")));
        }
    }
    Ok(vec![ProfileField::PersistentMenu])
}

/// The greeting text for a person: `{{user_first_name}}`, `{{user_last_name}}`, `{{user_full_name}}` replaced.
/// One pass, so a name that itself looks like a placeholder stays as it is.
pub fn personalize_greeting(text: &str, first: &str, last: &str) -> String {
    let full = [first, last].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    let placeholders = [("{{user_first_name}}", first), ("{{user_last_name}}", last), ("{{user_full_name}}", full.as_str())];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        match placeholders.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &rest[name.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &rest[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Picks the entry of a per-locale list (`[{"locale": "...", ...}]`) for `locale`, falling back to "default".
pub fn for_locale<'a>(entries: &'a Value, locale: &str) -> Option<&'a Value> {
    let entries = entries.as_array()?;
    let find = |wanted: &str| entries.iter().find(|e| e.get("locale").and_then(Value::as_str) == Some(wanted));
    find(locale).or_else(|| find("default"))
}

fn validate_property(field: ProfileField, raw: &Value) -> Result<Value, Refusal> {
    let path = field.as_str();
    match field {
        ProfileField::HomeUrl => Err(home_url_removed()),
        ProfileField::SubjectToNewEuPrivacyRules => Err(invalid(path, "is read-only")),
        ProfileField::Platform => Err(invalid(path, "selects the surface; it is not a property to set")),
        ProfileField::AccountLinkingUrl => validate_url(raw, path, true).map(Value::String),
        ProfileField::Description => plain_string(raw, path, MAX_DESCRIPTION_CHARS),
        ProfileField::Title => plain_string(raw, path, MAX_TITLE_CHARS),
        ProfileField::GetStarted => {
            let value = json(raw, path)?;
            req_payload(object(&value, path)?, "payload", path)?;
            Ok(value)
        }
        ProfileField::Greeting => {
            let value = json(raw, path)?;
            for (entry, entry_path) in locale_entries(&value, path, true)? {
                req_string(entry, "text", &entry_path, MAX_GREETING_CHARS)?;
            }
            Ok(value)
        }
        ProfileField::PersistentMenu => {
            let value = json(raw, path)?;
            for (entry, entry_path) in locale_entries(&value, path, true)? {
                validate_menu(entry, &entry_path)?;
            }
            Ok(value)
        }
        ProfileField::IceBreakers => {
            let value = json(raw, path)?;
            validate_ice_breakers(&value, path)?;
            Ok(value)
        }
        ProfileField::WhitelistedDomains => {
            let value = match raw {
                // A bare domain or a comma list, as a form field.
                Value::String(text) if !text.trim_start().starts_with('[') => {
                    Value::Array(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect())
                }
                _ => json(raw, path)?,
            };
            for (i, domain) in array(&value, path, 1, MAX_WHITELISTED_DOMAINS)?.iter().enumerate() {
                validate_url(domain, &child(path, i), true)?;
            }
            Ok(value)
        }
        ProfileField::Commands => {
            let value = json(raw, path)?;
            for (entry, entry_path) in locale_entries(&value, path, false)? {
                let commands_path = child(&entry_path, "commands");
                for (i, command) in array(required(entry, "commands", &entry_path)?, &commands_path, 1, usize::MAX)?.iter().enumerate() {
                    let command_path = child(&commands_path, i);
                    let command = object(command, &command_path)?;
                    let name = req_string(command, "name", &command_path, MAX_COMMAND_NAME_CHARS)?;
                    if name.chars().any(char::is_whitespace) {
                        return Err(invalid(&child(&command_path, "name"), "must not contain spaces"));
                    }
                    req_string(command, "description", &command_path, MAX_COMMAND_DESCRIPTION_CHARS)?;
                }
            }
            Ok(value)
        }
    }
}

/// A structured value: JSON as is, or JSON text (possibly single-quoted) parsed.
fn json(raw: &Value, path: &str) -> Result<Value, Refusal> {
    match raw {
        Value::String(text) => parse_lenient_json(text).ok_or_else(|| invalid(path, "must be JSON")),
        other => Ok(other.clone()),
    }
}

fn plain_string(raw: &Value, path: &str, max: usize) -> Result<Value, Refusal> {
    match raw {
        Value::String(s) if s.chars().count() <= max => Ok(raw.clone()),
        Value::String(_) => Err(invalid(path, format!("must be at most {max} characters"))),
        _ => Err(invalid(path, "must be a string")),
    }
}

/// One entry of a per-locale list, with its path for refusals.
type LocaleEntry<'a> = (&'a Map<String, Value>, String);

/// A per-locale list: objects with a unique `locale`, a `default` one when required.
fn locale_entries<'a>(value: &'a Value, path: &str, default_required: bool) -> Result<Vec<LocaleEntry<'a>>, Refusal> {
    let mut seen: Vec<&str> = Vec::new();
    let mut entries = Vec::new();
    for (i, entry) in array(value, path, 1, usize::MAX)?.iter().enumerate() {
        let entry_path = child(path, i);
        let entry = object(entry, &entry_path)?;
        let locale = req_string(entry, "locale", &entry_path, usize::MAX)?;
        if seen.contains(&locale) {
            return Err(invalid(&child(&entry_path, "locale"), format!("repeats the locale \"{locale}\"; each locale appears once")));
        }
        seen.push(locale);
        entries.push((entry, entry_path));
    }
    if default_required && !seen.contains(&"default") {
        return Err(invalid(path, "must have an entry with locale \"default\""));
    }
    Ok(entries)
}

fn validate_menu(entry: &Map<String, Value>, path: &str) -> Result<(), Refusal> {
    opt_bool(entry, "composer_input_disabled", path)?;
    if let Some(surfaces) = member(entry, "disabled_surfaces") {
        let surfaces_path = child(path, "disabled_surfaces");
        for (i, surface) in array(surfaces, &surfaces_path, 0, usize::MAX)?.iter().enumerate() {
            if !surface.is_string() {
                return Err(invalid(&child(&surfaces_path, i), "must be a string"));
            }
        }
    }
    let items_path = child(path, "call_to_actions");
    for (i, item) in array(required(entry, "call_to_actions", path)?, &items_path, 1, MAX_MENU_ITEMS)?.iter().enumerate() {
        let item_path = child(&items_path, i);
        match item.get("type").and_then(Value::as_str) {
            // `nested` is refused by validate_button as retired.
            None | Some("web_url" | "postback" | "nested") => validate_button(item, &item_path)?,
            Some(other) => return Err(invalid(&child(&item_path, "type"), format!("must be web_url or postback in a persistent menu - got \"{other}\""))),
        }
    }
    Ok(())
}

/// Either form: per locale `[{locale, call_to_actions: [{question, payload}]}]` (current)
/// or flat `[{question, payload}]` (older, still sent by messaging-apis).
fn validate_ice_breakers(value: &Value, path: &str) -> Result<(), Refusal> {
    let first = array(value, path, 1, usize::MAX)?.first().and_then(Value::as_object);
    let per_locale = first.is_some_and(|entry| entry.contains_key("locale") || entry.contains_key("call_to_actions"));
    if !per_locale {
        return validate_questions(value, path);
    }
    for (entry, entry_path) in locale_entries(value, path, true)? {
        validate_questions(required(entry, "call_to_actions", &entry_path)?, &child(&entry_path, "call_to_actions"))?;
    }
    Ok(())
}

fn validate_questions(value: &Value, path: &str) -> Result<(), Refusal> {
    for (i, question) in array(value, path, 1, MAX_ICE_BREAKERS)?.iter().enumerate() {
        let question_path = child(path, i);
        let question = object(question, &question_path)?;
        req_string(question, "question", &question_path, MAX_QUESTION_CHARS)?;
        req_payload(question, "payload", &question_path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Params {
        Params(value.as_object().unwrap().clone())
    }

    fn update(value: Value) -> Result<Vec<(ProfileField, Value)>, Refusal> {
        parse_profile_update(&params(value))
    }

    /// The refusal's message, asserting it is a plain 100.
    fn refused(value: Value) -> String {
        let refusal = update(value).unwrap_err();
        assert_eq!((refusal.code, refusal.subcode), (100, None), "{refusal:?}");
        refusal.message
    }

    fn one(value: Value) -> Value {
        let mut set = update(value).unwrap();
        assert_eq!(set.len(), 1);
        set.pop().unwrap().1
    }

    fn postback(title: &str) -> Value {
        json!({"type": "postback", "title": title, "payload": "P"})
    }

    #[test]
    fn field_names_round_trip() {
        for field in ProfileField::ALL {
            assert_eq!(ProfileField::parse(field.as_str()), Some(field));
        }
        assert_eq!(ProfileField::parse("target_audience"), None);
    }

    #[test]
    fn a_post_sets_each_property_present_and_skips_the_requests_own_params() {
        let set = update(json!({"access_token": "t", "appsecret_proof": "p", "platform": "MESSENGER", "fields": "x",
            "get_started": {"payload": "GET_STARTED"}, "title": "Shop"}))
        .unwrap();
        let fields: Vec<_> = set.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec![ProfileField::GetStarted, ProfileField::Title]);
        assert!(refused(json!({"access_token": "t"})).contains("at least one"));
        assert!(refused(json!({"target_audience": {}})).contains("Param target_audience is not"));
        assert!(refused(json!({"home_url": "https://e.com"})).contains("v7"));
        assert!(refused(json!({"subject_to_new_eu_privacy_rules": true})).contains("read-only"));
    }

    #[test]
    fn values_may_be_json_text() {
        assert_eq!(one(json!({"get_started": "{\"payload\":\"GO\"}"})), json!({"payload": "GO"}));
        assert_eq!(one(json!({"get_started": "{'payload':'GO'}"})), json!({"payload": "GO"}), "single-quoted pseudo-JSON");
        let greeting = json!([{"locale": "default", "text": "Hi"}]);
        assert_eq!(one(json!({"greeting": greeting.to_string()})), greeting);
        assert!(refused(json!({"greeting": "[{nope"})).contains("Param greeting must be JSON"));
    }

    #[test]
    fn get_started() {
        assert!(update(json!({"get_started": {"payload": "p".repeat(1000)}})).is_ok());
        assert!(refused(json!({"get_started": {"payload": "p".repeat(1001)}})).contains("get_started[payload]"));
        assert!(refused(json!({"get_started": {"payload": ""}})).contains("get_started[payload]"));
        assert!(refused(json!({"get_started": {}})).contains("get_started[payload]"));
        assert!(refused(json!({"get_started": ["GO"]})).contains("Param get_started must be an object"));
    }

    #[test]
    fn greeting() {
        let greeting = |entries: Value| update(json!({"greeting": entries}));
        assert!(greeting(json!([{"locale": "default", "text": "é".repeat(MAX_GREETING_CHARS)}, {"locale": "fr_FR", "text": "Bonjour !"}])).is_ok());
        assert!(refused(json!({"greeting": [{"locale": "default", "text": "a".repeat(MAX_GREETING_CHARS + 1)}]})).contains("greeting[0][text]"));
        assert!(refused(json!({"greeting": [{"locale": "fr_FR", "text": "Bonjour"}]})).contains("\"default\""));
        let twice = json!({"greeting": [{"locale": "default", "text": "a"}, {"locale": "default", "text": "b"}]});
        assert!(refused(twice).contains("greeting[1][locale] repeats"));
        assert!(refused(json!({"greeting": [{"text": "a"}]})).contains("greeting[0][locale] is required"));
        assert!(refused(json!({"greeting": []})).contains("at least 1"));
    }

    #[test]
    fn persistent_menu() {
        let menu = |items: Value| json!({"persistent_menu": [{"locale": "default", "composer_input_disabled": false,
            "disabled_surfaces": ["CUSTOMER_CHAT_PLUGIN"], "call_to_actions": items}]});
        let web = json!({"type": "web_url", "title": "Shop now", "url": "https://example.com", "webview_height_ratio": "full"});
        assert!(update(menu(json!([postback("Talk to an agent"), web]))).is_ok());
        assert!(update(menu(Value::Array(vec![postback("x"); MAX_MENU_ITEMS]))).is_ok());
        assert!(refused(menu(Value::Array(vec![postback("x"); MAX_MENU_ITEMS + 1]))).contains("persistent_menu[0][call_to_actions][20]"));
        assert!(refused(menu(json!([]))).contains("persistent_menu[0][call_to_actions]"));
        assert!(refused(menu(json!([{"type": "nested", "title": "More", "call_to_actions": []}]))).contains("retired"));
        assert!(refused(menu(json!([{"type": "phone_number", "title": "Call", "payload": "+15105551234"}]))).contains("web_url or postback"));
        assert!(refused(menu(json!([postback(&"t".repeat(21))]))).contains("persistent_menu[0][call_to_actions][0][title]"));
        assert!(refused(json!({"persistent_menu": [{"locale": "default", "call_to_actions": [postback("x")], "composer_input_disabled": "sometimes"}]})).contains("[composer_input_disabled]"));
        assert!(refused(json!({"persistent_menu": [{"locale": "default", "call_to_actions": [postback("x")], "disabled_surfaces": [3]}]})).contains("[disabled_surfaces][0]"));
        assert!(refused(json!({"persistent_menu": [{"locale": "en_US", "call_to_actions": [postback("x")]}]})).contains("\"default\""));
        let twice = json!({"persistent_menu": [{"locale": "default", "call_to_actions": [postback("x")]}, {"locale": "default", "call_to_actions": [postback("y")]}]});
        assert!(refused(twice).contains("persistent_menu[1][locale]"));
    }

    #[test]
    fn ice_breakers_in_both_forms() {
        let question = |q: &str| json!({"question": q, "payload": "P"});
        let current = json!([{"locale": "default", "call_to_actions": [question("Where are you?")]}, {"locale": "fr_FR", "call_to_actions": [question("Où ?")]}]);
        assert_eq!(one(json!({"ice_breakers": current.clone()})), current, "returned as sent");
        let flat = json!([question("Where are you?"), question("When do you open?")]);
        assert_eq!(one(json!({"ice_breakers": flat.clone()})), flat, "the flat form is kept, not converted");
        assert_eq!(one(json!({"ice_breakers": flat.to_string()})), flat);
        let four = Value::Array(vec![question("q"); MAX_ICE_BREAKERS]);
        let five = Value::Array(vec![question("q"); MAX_ICE_BREAKERS + 1]);
        assert!(update(json!({"ice_breakers": four.clone()})).is_ok());
        assert!(refused(json!({"ice_breakers": five.clone()})).contains("ice_breakers[4]"));
        assert!(update(json!({"ice_breakers": [{"locale": "default", "call_to_actions": four}]})).is_ok());
        assert!(refused(json!({"ice_breakers": [{"locale": "default", "call_to_actions": five}]})).contains("ice_breakers[0][call_to_actions][4]"));
        assert!(update(json!({"ice_breakers": [question(&"q".repeat(MAX_QUESTION_CHARS))]})).is_ok());
        assert!(refused(json!({"ice_breakers": [question(&"q".repeat(MAX_QUESTION_CHARS + 1))]})).contains("ice_breakers[0][question]"));
        assert!(update(json!({"ice_breakers": [{"question": "q", "payload": "p".repeat(1000)}]})).is_ok());
        assert!(refused(json!({"ice_breakers": [{"question": "q", "payload": "p".repeat(1001)}]})).contains("ice_breakers[0][payload]"));
        assert!(refused(json!({"ice_breakers": [{"question": "q"}]})).contains("ice_breakers[0][payload]"));
        assert!(refused(json!({"ice_breakers": [{"locale": "en_US", "call_to_actions": [question("q")]}]})).contains("\"default\""));
        assert!(refused(json!({"ice_breakers": [{"locale": "default"}]})).contains("ice_breakers[0][call_to_actions] is required"));
        assert!(refused(json!({"ice_breakers": []})).contains("at least 1"));
    }

    #[test]
    fn whitelisted_domains() {
        let domains = |n: usize| Value::Array((0..n).map(|i| json!(format!("https://d{i}.example.com/path"))).collect());
        assert!(update(json!({"whitelisted_domains": domains(MAX_WHITELISTED_DOMAINS)})).is_ok());
        assert!(refused(json!({"whitelisted_domains": domains(MAX_WHITELISTED_DOMAINS + 1)})).contains("whitelisted_domains[50]"));
        assert!(refused(json!({"whitelisted_domains": ["http://example.com"]})).contains("whitelisted_domains[0]"));
        assert!(refused(json!({"whitelisted_domains": []})).contains("at least 1"));
        assert_eq!(one(json!({"whitelisted_domains": "[\"https://a.com\"]"})), json!(["https://a.com"]));
        assert_eq!(one(json!({"whitelisted_domains": "https://a.com, https://b.com"})), json!(["https://a.com", "https://b.com"]));
    }

    #[test]
    fn account_linking_url_description_and_title() {
        assert_eq!(one(json!({"account_linking_url": "https://example.com/authorize"})), json!("https://example.com/authorize"));
        assert!(refused(json!({"account_linking_url": "http://example.com/authorize"})).contains("Param account_linking_url"));
        assert!(update(json!({"description": "d".repeat(MAX_DESCRIPTION_CHARS)})).is_ok());
        assert!(refused(json!({"description": "d".repeat(MAX_DESCRIPTION_CHARS + 1)})).contains("Param description"));
        assert!(update(json!({"title": "t".repeat(MAX_TITLE_CHARS)})).is_ok());
        assert!(refused(json!({"title": "t".repeat(MAX_TITLE_CHARS + 1)})).contains("Param title"));
        assert!(refused(json!({"title": 5})).contains("must be a string"));
    }

    #[test]
    fn commands() {
        let command = |name: &str, description: &str| json!({"commands": [{"locale": "default", "commands": [{"name": name, "description": description}]}]});
        assert!(update(command("order", "Track an order")).is_ok());
        assert!(update(command(&"n".repeat(MAX_COMMAND_NAME_CHARS), &"d".repeat(MAX_COMMAND_DESCRIPTION_CHARS))).is_ok());
        assert!(refused(command(&"n".repeat(MAX_COMMAND_NAME_CHARS + 1), "d")).contains("commands[0][commands][0][name]"));
        assert!(refused(command("n", &"d".repeat(MAX_COMMAND_DESCRIPTION_CHARS + 1))).contains("commands[0][commands][0][description]"));
        assert!(refused(command("track order", "d")).contains("spaces"));
        assert!(refused(json!({"commands": [{"locale": "default"}]})).contains("commands[0][commands] is required"));
    }

    #[test]
    fn fields_of_get_and_delete() {
        let fields = |value: Value| parse_profile_fields(&params(json!({ "fields": value })));
        let expected = vec![ProfileField::GetStarted, ProfileField::PersistentMenu];
        assert_eq!(fields(json!("get_started,persistent_menu")).unwrap().unwrap(), expected);
        assert_eq!(fields(json!("[\"get_started\",\"persistent_menu\"]")).unwrap().unwrap(), expected);
        assert_eq!(fields(json!(["get_started", "persistent_menu", "get_started"])).unwrap().unwrap(), expected, "once each");
        assert!(fields(json!("get_started,colour")).unwrap_err().message.contains("Param fields[1] must be one of"));
        assert!(fields(json!("home_url")).unwrap_err().message.contains("v7"));
        assert_eq!(fields(json!("")).unwrap(), None);
        assert_eq!(parse_profile_fields(&Params::default()).unwrap(), None);
        let required = require_profile_fields(&Params::default()).unwrap_err();
        assert!(required.code == 100 && required.message.contains("fields is required"));
        assert_eq!(require_profile_fields(&params(json!({"fields": ["greeting"]}))).unwrap(), vec![ProfileField::Greeting]);
    }

    #[test]
    fn greetings_are_personalized() {
        let text = "Hello {{user_first_name}} {{user_last_name}}! Welcome, {{user_full_name}}. {{other}} {{";
        assert_eq!(personalize_greeting(text, "Peter", "Chang"), "Hello Peter Chang! Welcome, Peter Chang. {{other}} {{");
        assert_eq!(personalize_greeting("Hi {{user_full_name}}", "Cher", ""), "Hi Cher");
        assert_eq!(personalize_greeting("Hi {{user_first_name}}", "{{user_last_name}}", "X"), "Hi {{user_last_name}}", "one pass");
        assert_eq!(personalize_greeting("Ça va, {{user_first_name}} ?", "Zoé", "L"), "Ça va, Zoé ?");
    }

    #[test]
    fn per_locale_entries_fall_back_to_default() {
        let greeting = json!([{"locale": "default", "text": "Hello"}, {"locale": "fr_FR", "text": "Bonjour"}]);
        assert_eq!(for_locale(&greeting, "fr_FR").unwrap()["text"], "Bonjour");
        assert_eq!(for_locale(&greeting, "de_DE").unwrap()["text"], "Hello");
        assert_eq!(for_locale(&json!([{"locale": "fr_FR", "text": "Bonjour"}]), "de_DE"), None);
        assert_eq!(for_locale(&json!({"locale": "default"}), "default"), None, "not a list");
    }

    #[test]
    fn a_persons_menu_and_the_settings_deleted() {
        let menu = json!([{"locale": "default", "call_to_actions": [postback("Mine")]}]);
        assert_eq!(validate_persistent_menu(&Value::String(menu.to_string())).unwrap(), menu, "JSON text too");
        assert!(validate_persistent_menu(&json!([{"locale": "fr_FR", "call_to_actions": [postback("x")]}])).is_err(), "default required");
        assert_eq!(parse_user_setting_params(&params(json!({"params": "[\"persistent_menu\"]"}))).unwrap(), [ProfileField::PersistentMenu]);
        assert_eq!(parse_user_setting_params(&params(json!({"params": "persistent_menu"}))).unwrap(), [ProfileField::PersistentMenu]);
        assert!(parse_user_setting_params(&params(json!({"params": ["greeting"]}))).unwrap_err().message.contains("params[0]"));
        assert!(parse_user_setting_params(&params(json!({"params": []}))).is_err());
        assert!(parse_user_setting_params(&params(json!({}))).is_err());
    }
}
