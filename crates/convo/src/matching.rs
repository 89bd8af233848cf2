//! How Botium compares texts: `SCRIPTING_NORMALIZE_TEXT`'s normalization, the
//! matching modes (`wildcard*`, `include*`, `equals*`, `regexp*`) and the
//! `util.format` that fills an utterance list's `%s` from the words after its
//! name. Pure functions over strings; they know nothing of files or messages.

use crate::MatchingMode;
use regex::{Regex, RegexBuilder};
use std::str::FromStr;
use std::sync::OnceLock;

impl MatchingMode {
    /// Botium's name for the mode, as `botium.json` and `--matching-mode` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchingMode::Wildcard => "wildcard",
            MatchingMode::WildcardIgnoreCase => "wildcardIgnoreCase",
            MatchingMode::WildcardExact => "wildcardExact",
            MatchingMode::WildcardExactIgnoreCase => "wildcardExactIgnoreCase",
            MatchingMode::Include => "include",
            MatchingMode::IncludeIgnoreCase => "includeIgnoreCase",
            MatchingMode::IncludeLowerCase => "includeLowerCase",
            MatchingMode::Equals => "equals",
            MatchingMode::EqualsIgnoreCase => "equalsIgnoreCase",
            MatchingMode::Regexp => "regexp",
            MatchingMode::RegexpIgnoreCase => "regexpIgnoreCase",
        }
    }

    pub(crate) fn is_regexp(self) -> bool {
        matches!(self, MatchingMode::Regexp | MatchingMode::RegexpIgnoreCase)
    }

    /// Whether the bot's text matches the expected one (both already normalized
    /// when the settings say so). `None` is a message without text: only a lone
    /// `*` matches it, as in Botium, where an absent text is `undefined`.
    pub fn matches(self, actual: Option<&str>, expected: &str) -> Result<bool, regex::Error> {
        use MatchingMode::*;
        let Some(actual) = actual else {
            return Ok(matches!(self, Wildcard | WildcardIgnoreCase | WildcardExact | WildcardExactIgnoreCase) && expected.trim() == "*");
        };
        Ok(match self {
            Wildcard => wildcard(expected, false, false)?.is_match(actual),
            WildcardIgnoreCase => wildcard(expected, true, false)?.is_match(actual),
            WildcardExact => wildcard(expected, false, true)?.is_match(actual),
            WildcardExactIgnoreCase => wildcard(expected, true, true)?.is_match(actual),
            Include => actual.contains(expected),
            IncludeIgnoreCase | IncludeLowerCase => actual.to_lowercase().contains(&expected.to_lowercase()),
            Equals => actual == expected,
            EqualsIgnoreCase => actual.to_lowercase() == expected.to_lowercase(),
            Regexp => regexp(expected, false)?.is_match(actual),
            RegexpIgnoreCase => regexp(expected, true)?.is_match(actual),
        })
    }
}

impl std::fmt::Display for MatchingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MatchingMode {
    type Err = String;

    /// Botium's names; `wildcardLowerCase` is Botium's other name for `wildcardIgnoreCase`.
    fn from_str(name: &str) -> Result<Self, String> {
        let all = MatchingMode::ALL;
        if name == "wildcardLowerCase" {
            return Ok(MatchingMode::WildcardIgnoreCase);
        }
        if name == "wer" {
            return Err("the matching mode `wer` (word error rate) is not supported".into());
        }
        all.into_iter()
            .find(|mode| mode.as_str() == name)
            .ok_or_else(|| format!("unknown matching mode `{name}` (one of {})", all.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")))
    }
}

impl crate::Expansion {
    pub fn as_str(self) -> &'static str {
        match self {
            crate::Expansion::All => "all",
            crate::Expansion::First => "first",
            crate::Expansion::Random => "random",
        }
    }
}

impl FromStr for crate::Expansion {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "all" => Ok(crate::Expansion::All),
            "first" => Ok(crate::Expansion::First),
            "random" => Ok(crate::Expansion::Random),
            "index" => Err("the utterance expansion mode `index` is not supported (use all, first or random)".into()),
            other => Err(format!("unknown utterance expansion mode `{other}` (one of all, first, random)")),
        }
    }
}

/// Botium's wildcard: the text quoted, each `*` any run of characters (not across
/// a line break, like JavaScript's `.`); found anywhere unless `exact`.
fn wildcard(expected: &str, ignore_case: bool, exact: bool) -> Result<Regex, regex::Error> {
    let body = expected.split('*').map(regex::escape).collect::<Vec<_>>().join("([^\\n\\r\\u{2028}\\u{2029}]*)");
    let pattern = if exact { format!("^{body}$") } else { body };
    RegexBuilder::new(&pattern).case_insensitive(ignore_case).build()
}

/// A `regexp` mode's expression, unanchored as JavaScript's `RegExp.test`.
pub(crate) fn regexp(expected: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(expected).case_insensitive(ignore_case).build()
}

/// Botium's `normalizeText` with `SCRIPTING_NORMALIZE_TEXT`: paragraph and line
/// break tags become blanks, other tags go, control characters become blanks, the
/// five common entities are decoded, runs of blanks become one, the ends trimmed.
pub fn normalize(text: &str) -> String {
    static RULES: OnceLock<[Regex; 6]> = OnceLock::new();
    let [paragraph, paragraph_end, line_break, tag, control, blanks] = RULES.get_or_init(|| {
        [r"<p[^>]*>", r"</p>", r"<br[^>]*>", r"<[^>]*>", r"[\x00-\x1F\x7F]", r"[\s\u{FEFF}]+"].map(|rule| Regex::new(rule).expect("a valid rule"))
    });
    let text = paragraph.replace_all(text, " ");
    let text = paragraph_end.replace_all(&text, " ");
    let text = line_break.replace_all(&text, " ");
    let text = tag.replace_all(&text, "");
    let text = control.replace_all(&text, " ");
    let text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&quot;", "\"");
    let text = blanks.replace_all(&text, " ");
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').to_string()
}

/// The text as the settings compare it.
pub(crate) fn prepared(text: &str, normalize_text: bool) -> String {
    if normalize_text {
        normalize(text)
    } else {
        text.to_string()
    }
}

/// Node's `util.format` as Botium applies it to an utterance named with words after
/// it (`GREETING Joe`): each `%s`, `%d`, `%i` or `%f` takes the next word, `%%` is a
/// percent sign, and the words left over are appended, each after a blank.
pub(crate) fn format_utterance(template: &str, words: &[&str]) -> String {
    if words.is_empty() {
        return template.to_string();
    }
    let mut out = String::new();
    let mut words = words.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
                out.push('%');
            }
            Some('s' | 'd' | 'i' | 'f') => match words.next() {
                Some(word) => {
                    chars.next();
                    out.push_str(word);
                }
                None => out.push('%'),
            },
            _ => out.push('%'),
        }
    }
    for word in words {
        out.push(' ');
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use MatchingMode::*;

    #[test]
    fn normalization_drops_tags_entities_and_repeated_blanks() {
        assert_eq!(normalize("  <p>Hello</p><b>big</b>\n\t world &amp; you<br/>! "), "Hello big world & you !");
        assert_eq!(normalize("a&lt;b&gt; &quot;c&quot; &#39;d&#39;"), "a<b> \"c\" 'd'");
        assert_eq!(normalize("line one\r\nline two"), "line one line two");
    }

    #[test]
    fn the_modes_differ_as_botiums() {
        let text = Some("Hello World, how are you?");
        let cases: &[(&str, [bool; 11])] = &[
            // wildcard, wildcardIC, exact, exactIC, include, includeIC, includeLC, equals, equalsIC, regexp, regexpIC
            ("Hello*you?", [true, true, true, true, false, false, false, false, false, false, false]),
            ("hello*", [false, true, false, true, false, false, false, false, false, false, true]),
            ("World", [true, true, false, false, true, true, true, false, false, true, true]),
            ("world", [false, true, false, false, false, true, true, false, false, false, true]),
            ("hello world, how are you?", [false, true, false, true, false, true, true, false, true, false, true]),
            ("Hello World, how are you?", [true, true, true, true, true, true, true, true, true, true, true]),
            ("^Hello W.rld", [false, false, false, false, false, false, false, false, false, true, true]),
        ];
        let modes = MatchingMode::ALL;
        for (expected, results) in cases {
            for (mode, result) in modes.iter().zip(results) {
                assert_eq!(mode.matches(text, expected).unwrap(), *result, "{mode} of {expected:?}");
            }
        }
    }

    #[test]
    fn a_message_without_text_matches_only_a_lone_wildcard() {
        assert!(WildcardIgnoreCase.matches(None, " * ").unwrap());
        assert!(!WildcardIgnoreCase.matches(None, "a*").unwrap());
        assert!(!Regexp.matches(None, ".*").unwrap());
        assert!(!Include.matches(None, "").unwrap());
    }

    #[test]
    fn wildcards_quote_everything_else() {
        assert!(Wildcard.matches(Some("costs $5 (really?)"), "$5 (really?)").unwrap());
        assert!(!Wildcard.matches(Some("costs 5"), "c.sts").unwrap());
        assert!(!WildcardExact.matches(Some("one\ntwo"), "one*two").unwrap());
    }

    #[test]
    fn modes_by_botiums_names() {
        for mode in MatchingMode::ALL {
            assert_eq!(mode.as_str().parse::<MatchingMode>().unwrap(), mode);
        }
        assert_eq!("wildcardLowerCase".parse::<MatchingMode>().unwrap(), WildcardIgnoreCase);
        assert!("wer".parse::<MatchingMode>().unwrap_err().contains("not supported"));
        assert!("fuzzy".parse::<MatchingMode>().unwrap_err().contains("unknown matching mode `fuzzy`"));
    }

    #[test]
    fn utterance_arguments_fill_the_placeholders() {
        assert_eq!(format_utterance("hello %s, 100%%", &["Joe"]), "hello Joe, 100%");
        assert_eq!(format_utterance("hi %s and %s", &["a"]), "hi a and %s");
        assert_eq!(format_utterance("hi", &["a", "b"]), "hi a b");
        assert_eq!(format_utterance("100%% %s", &[]), "100%% %s");
    }
}
