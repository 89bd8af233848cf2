//! Entry points (reference §7) and account linking (§8): what a plugin's `ref` and
//! a site's `user_ref` may hold, which origins may embed a Page's plugins, who sees
//! a plugin of an app in development mode, how long a `user_ref` and an
//! account-linking token last, and the sources a referral names.

use crate::model::AppMode;
use crate::{Millis, Refusal};

/// Longest `ref` of a plugin or a link, in characters.
pub const MAX_REF_CHARS: usize = 250;
/// A checkbox plugin's `user_ref` takes its one message within this time.
pub const USER_REF_TTL_MS: Millis = 24 * 3_600_000;
/// How many live `user_ref`s one person may hold for one Page: the checkbox is
/// one per form, and a script confirming in a loop would flood the Page's apps.
pub const MAX_LIVE_USER_REFS: u32 = 20;
/// An account-linking token lasts this long: long enough to sign in on the site.
pub const LINKING_TOKEN_TTL_MS: Millis = 15 * 60_000;

/// Where a person came into a thread from (`referral.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralSource {
    /// A link to the Page (`/m/{page}?ref=`, Meta's `m.me`).
    Shortlink,
    /// The chat plugin on a business's site.
    CustomerChatPlugin,
}

impl ReferralSource {
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        match text {
            "SHORTLINK" => Ok(Self::Shortlink),
            "CUSTOMER_CHAT_PLUGIN" => Ok(Self::CustomerChatPlugin),
            other => Err(Refusal::invalid_param(format!("source must be SHORTLINK or CUSTOMER_CHAT_PLUGIN - got \"{other}\""))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shortlink => "SHORTLINK",
            Self::CustomerChatPlugin => "CUSTOMER_CHAT_PLUGIN",
        }
    }
}

/// A pass-through `ref`: what Meta allows in a plugin's `data-ref` (letters, digits
/// and `+ - . / : = _`), at most [`MAX_REF_CHARS`].
pub fn validate_ref(reference: &str) -> Result<(), Refusal> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+-./:=_".contains(c);
    if reference.is_empty() || reference.chars().count() > MAX_REF_CHARS || !reference.chars().all(allowed) {
        return Err(Refusal::invalid_param(format!(
            "ref must be 1 to {MAX_REF_CHARS} letters, digits or + - . / : = _ - got \"{}\"",
            reference.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// A site's `user_ref`: printable ASCII without spaces, at most 250 bytes.
pub fn validate_user_ref(user_ref: &str) -> Result<(), Refusal> {
    if user_ref.is_empty() || user_ref.len() > crate::send::MAX_USER_REF_BYTES || !user_ref.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::invalid_param(format!(
            "user_ref must be 1 to {} printable characters without spaces",
            crate::send::MAX_USER_REF_BYTES
        )));
    }
    Ok(())
}

/// The chat plugin's `referer_uri` (the page of the site it was on): an http(s) URL.
pub fn validate_referer_uri(uri: &str) -> Result<String, Refusal> {
    crate::content::validate_url(&serde_json::Value::String(uri.to_string()), "referer_uri", false)
}

/// The origin (`scheme://host[:port]`, lowercase, default port left out) of an
/// http(s) URL or origin; `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    // Host names, IPv4 and bracketed IPv6 with a port: nothing that could end a
    // header value or a policy directive.
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    if authority.is_empty() || !authority.chars().all(allowed) {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

/// The origins of a Page's whitelisted domains, in their order, without repeats.
pub fn whitelisted_origins<'a>(domains: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for origin in domains.into_iter().filter_map(origin_of) {
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    origins
}

/// Whether a page at `origin` may embed the Page's plugins.
pub fn may_embed(whitelisted: &[String], origin: &str) -> Result<(), Refusal> {
    match origin_of(origin) {
        Some(origin) if whitelisted.contains(&origin) => Ok(()),
        Some(origin) => Err(Refusal::not_permitted(format!(
            "{origin} is not one of the Page's whitelisted_domains: a Page admin adds it with POST /me/messenger_profile {{\"whitelisted_domains\": [\"{origin}\"]}}"
        ))),
        None => Err(Refusal::invalid_param("origin must be the http(s) origin of the page showing the plugin")),
    }
}

/// Who sees an app's plugins: everyone once the app is live; in development mode,
/// only the app's role holders (signed in).
pub fn plugin_visible(mode: AppMode, holds_role: bool) -> Result<(), Refusal> {
    if mode == AppMode::Live || holds_role {
        return Ok(());
    }
    Err(Refusal::not_permitted("The app is in development mode: its plugins show only to its admins, developers and testers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_keep_to_metas_characters() {
        assert!(validate_ref("campaign=spring/2026:a_b+c-d.e").is_ok());
        for bad in ["", "with space", "quote\"", "<script>", &"a".repeat(MAX_REF_CHARS + 1)] {
            assert!(validate_ref(bad).is_err(), "{bad}");
        }
        assert!(validate_user_ref("UNIQUE-ref_123").is_ok());
        assert!(validate_user_ref("a b").is_err());
        assert!(validate_user_ref(&"x".repeat(251)).is_err());
    }

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        assert_eq!(origin_of("HTTPS://Shop.Example.com/path?q").as_deref(), Some("https://shop.example.com"));
        assert_eq!(origin_of("https://shop.example.com:443").as_deref(), Some("https://shop.example.com"));
        assert_eq!(origin_of("http://127.0.0.1:8080/").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://user@evil.example"), None);
        assert_eq!(origin_of("https://a.example;script-src *"), None, "nothing that could end a policy directive");
        let whitelisted = whitelisted_origins(["https://shop.example.com/a", "https://shop.example.com/b", "http://localhost:3000"]);
        assert_eq!(whitelisted, vec!["https://shop.example.com", "http://localhost:3000"]);
        assert!(may_embed(&whitelisted, "https://shop.example.com").is_ok());
        assert!(may_embed(&whitelisted, "http://shop.example.com").is_err(), "another scheme is another origin");
        assert!(may_embed(&whitelisted, "https://shop.example.com:8443").is_err(), "another port too");
        assert!(may_embed(&whitelisted, "https://evil.example").unwrap_err().message.contains("whitelisted_domains"));
    }

    #[test]
    fn development_mode_plugins_show_to_role_holders_only() {
        assert!(plugin_visible(AppMode::Live, false).is_ok());
        assert!(plugin_visible(AppMode::Development, true).is_ok());
        assert!(plugin_visible(AppMode::Development, false).is_err());
    }

    #[test]
    fn referral_sources() {
        assert_eq!(ReferralSource::parse("CUSTOMER_CHAT_PLUGIN").unwrap().as_str(), "CUSTOMER_CHAT_PLUGIN");
        assert!(ReferralSource::parse("ADS").is_err());
    }
}
