//! A bot's message against a `#bot` step, as Botium checks it: the text by the
//! matching mode, then every asserter (all of them, their failures reported
//! together), each reading the fields Botium's asserter reads. And the message as
//! BotiumScript lines, for the report. `REFUSED` and `INBOX` are the runner's: the
//! message alone cannot tell.

use crate::matching::prepared;
use crate::{Asserter, AsserterKind, BotMessage, BotStep, Choice, Count, CountOp, MatchingMode, Mismatch, Settings, TextExpectation, TextOp};

impl BotStep {
    /// The message against the step's text and asserters (all but `REFUSED` and
    /// `INBOX`, which the runner checks).
    pub fn check(&self, message: &BotMessage, settings: &Settings) -> Result<(), Mismatch> {
        if let Some(text) = &self.text {
            check_text(text, message, settings)?;
        }
        let failures: Vec<Mismatch> = self.asserters.iter().filter_map(|asserter| check_asserter(asserter, message, settings).err()).collect();
        if failures.is_empty() {
            return Ok(());
        }
        let mut actual: Vec<String> = Vec::new();
        for failure in &failures {
            if !actual.contains(&failure.actual) {
                actual.push(failure.actual.clone());
            }
        }
        Err(Mismatch { expected: failures.iter().map(|f| f.expected.as_str()).collect::<Vec<_>>().join("\n"), actual: actual.join("\n") })
    }
}

impl BotMessage {
    /// The message as lines, for the side-by-side report: its text, then
    /// BotiumScript's asserter lines for what else it holds (`BUTTONS`,
    /// `QUICK_REPLIES`, `MEDIA`, and per card `CARDS title|subtitle` followed by the
    /// card's `BUTTONS` and `MEDIA`), so a line can be copied into a conversation.
    pub fn describe(&self) -> String {
        let mut lines = Vec::new();
        if let Some(text) = self.text.as_deref().filter(|t| !t.is_empty()) {
            lines.push(text.to_string());
        }
        if !self.buttons.is_empty() {
            lines.push(format!("BUTTONS {}", titles(&self.buttons)));
        }
        if !self.quick_replies.is_empty() {
            lines.push(format!("QUICK_REPLIES {}", titles(&self.quick_replies)));
        }
        if !self.media.is_empty() {
            lines.push(format!("MEDIA {}", join(self.media.iter().map(String::as_str))));
        }
        for card in &self.cards {
            lines.push(format!("CARDS {}", join(std::iter::once(card.title.as_str()).chain(card.subtitle.as_deref()))));
            if !card.buttons.is_empty() {
                lines.push(format!("BUTTONS {}", titles(&card.buttons)));
            }
            if let Some(image) = &card.image_url {
                lines.push(format!("MEDIA {image}"));
            }
        }
        if lines.is_empty() {
            lines.push("(an empty message)".into());
        }
        lines.join("\n")
    }
}

/// Arguments as BotiumScript writes them: `|` between, `\|` within.
fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.map(|item| item.replace('|', "\\|")).collect::<Vec<_>>().join("|")
}

fn titles(choices: &[Choice]) -> String {
    join(choices.iter().map(|c| c.title.as_str()))
}

/// Choices with their payloads, for a mismatch about them.
fn choices_with_payloads(choices: &[&Choice]) -> String {
    if choices.is_empty() {
        return "(none)".into();
    }
    choices
        .iter()
        .map(|c| match &c.payload {
            Some(payload) if *payload != c.title => format!("{} (payload {payload})", c.title.replace('|', "\\|")),
            _ => c.title.replace('|', "\\|"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn message_text(message: &BotMessage) -> String {
    message.text.clone().unwrap_or_else(|| "(no text)".into())
}

fn check_text(expected: &TextExpectation, message: &BotMessage, settings: &Settings) -> Result<(), Mismatch> {
    let actual = message.text.as_deref().map(|text| prepared(text, settings.normalize));
    let mut found = false;
    for alternative in &expected.alternatives {
        match settings.matching.matches(actual.as_deref(), &prepared(alternative, settings.normalize)) {
            Ok(true) => found = true,
            Ok(false) => {}
            Err(error) => return Err(Mismatch { expected: format!("{alternative}\n(not a regular expression: {error})"), actual: message_text(message) }),
        }
    }
    if found != expected.not {
        return Ok(());
    }
    let expected = match (expected.alternatives.as_slice(), expected.not) {
        ([only], false) => only.clone(),
        ([only], true) => format!("!{only}"),
        (all, not) => format!("{}\n{}", if not { "none of:" } else { "one of:" }, all.iter().map(|a| format!("  {a}")).collect::<Vec<_>>().join("\n")),
    };
    Err(Mismatch { expected, actual: message_text(message) })
}

/// The asserter's line as a conversation writes it.
fn line(asserter: &Asserter) -> String {
    let not = if asserter.not { "!" } else { "" };
    let count = |name: &str, count: &Count| format!("{not}{name} {}", describe_count(count));
    let list =
        |name: &str, args: &[String]| if args.is_empty() { format!("{not}{name}") } else { format!("{not}{name} {}", join(args.iter().map(String::as_str))) };
    match &asserter.kind {
        AsserterKind::Buttons(args) => list("BUTTONS", args),
        AsserterKind::QuickReplies(args) => list("QUICK_REPLIES", args),
        AsserterKind::Media(args) => list("MEDIA", args),
        AsserterKind::Cards(args) => list("CARDS", args),
        AsserterKind::ButtonsCount(c) => count("BUTTONS_COUNT", c),
        AsserterKind::ButtonsCountRec(c) => count("BUTTONS_COUNT_REC", c),
        AsserterKind::MediaCount(c) => count("MEDIA_COUNT", c),
        AsserterKind::MediaCountRec(c) => count("MEDIA_COUNT_REC", c),
        AsserterKind::CardsCount(c) => count("CARDS_COUNT", c),
        AsserterKind::Text { op, ignore_case, all, args } => {
            let op = match op {
                TextOp::Contains => "CONTAINS",
                TextOp::Wildcard => "WILDCARD",
                TextOp::WildcardExact => "WILDCARDEXACT",
                TextOp::Regexp => "REGEXP",
                TextOp::Equals => "EQUALS",
            };
            let quantity = match (op, all) {
                ("EQUALS", _) => "",
                (_, true) => "_ALL",
                (_, false) => "_ANY",
            };
            list(&format!("TEXT_{op}{quantity}{}", if *ignore_case { "_IC" } else { "" }), args)
        }
        AsserterKind::Refused { code, text } => {
            format!(
                "{not}REFUSED{}",
                match (code, text) {
                    (None, None) => String::new(),
                    (code, text) =>
                        format!(" {}{}", code.map(|c| c.to_string()).unwrap_or_default(), text.as_ref().map(|t| format!("|{t}")).unwrap_or_default()),
                }
            )
        }
        AsserterKind::Inbox => format!("{not}INBOX"),
    }
}

fn describe_count(count: &Count) -> String {
    let op = match count.op {
        CountOp::Equal => "",
        CountOp::Less => "<",
        CountOp::LessOrEqual => "<=",
        CountOp::Greater => ">",
        CountOp::GreaterOrEqual => ">=",
    };
    format!("{op}{}", count.value)
}

fn holds(count: &Count, actual: usize) -> bool {
    match count.op {
        CountOp::Equal => actual == count.value,
        CountOp::Less => actual < count.value,
        CountOp::LessOrEqual => actual <= count.value,
        CountOp::Greater => actual > count.value,
        CountOp::GreaterOrEqual => actual >= count.value,
    }
}

fn card_buttons(message: &BotMessage) -> impl Iterator<Item = &Choice> {
    message.cards.iter().flat_map(|card| card.buttons.iter())
}

fn card_images(message: &BotMessage) -> impl Iterator<Item = &String> {
    message.cards.iter().filter_map(|card| card.image_url.as_ref())
}

/// Botium's list asserters: with arguments, each must be found (or with `!`, none
/// may be); without, there must be something (or with `!`, nothing).
fn found_in(args: &[String], not: bool, found: impl Fn(&str) -> Result<bool, regex::Error>, anything: bool) -> Result<(), String> {
    if args.is_empty() {
        return match (anything, not) {
            (false, false) => Err("(there are none)".into()),
            (true, true) => Err("(there are some)".into()),
            _ => Ok(()),
        };
    }
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for arg in args {
        if found(arg).map_err(|error| format!("(`{arg}` is no regular expression: {error})"))? {
            hits.push(arg.as_str());
        } else {
            misses.push(arg.as_str());
        }
    }
    match (not, hits.is_empty(), misses.is_empty()) {
        (false, _, false) => Err(format!("(missing: {})", join(misses.into_iter()))),
        (true, false, _) => Err(format!("(found: {})", join(hits.into_iter()))),
        _ => Ok(()),
    }
}

fn check_asserter(asserter: &Asserter, message: &BotMessage, settings: &Settings) -> Result<(), Mismatch> {
    let mode = settings.matching;
    let normalized = |text: &str| prepared(text, settings.normalize);
    let fail = |why: String, actual: String| Err(Mismatch { expected: format!("{} {why}", line(asserter)), actual });
    let count = |count: &Count, actual: usize, what: &str, shown: String| {
        if holds(count, actual) != asserter.not {
            Ok(())
        } else {
            fail(format!("(there are {actual})"), format!("{actual} {what}: {shown}"))
        }
    };
    match &asserter.kind {
        AsserterKind::Buttons(args) | AsserterKind::QuickReplies(args) => {
            let choices: Vec<&Choice> = match &asserter.kind {
                AsserterKind::Buttons(_) => message.buttons.iter().chain(&message.quick_replies).chain(card_buttons(message)).collect(),
                _ => message.quick_replies.iter().collect(),
            };
            let found = |arg: &str| -> Result<bool, regex::Error> {
                let arg = normalized(arg);
                for choice in &choices {
                    if mode.matches(Some(&normalized(&choice.title)), &arg)?
                        || choice.payload.as_deref().map(|p| mode.matches(Some(p), &arg)).transpose()?.unwrap_or(false)
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            };
            let what = if matches!(asserter.kind, AsserterKind::Buttons(_)) { "buttons and quick replies" } else { "quick replies" };
            found_in(args, asserter.not, found, !choices.is_empty()).or_else(|why| fail(why, format!("{what}: {}", choices_with_payloads(&choices))))
        }
        AsserterKind::Media(args) => {
            let media: Vec<&String> = message.media.iter().chain(card_images(message)).collect();
            let found = |arg: &str| -> Result<bool, regex::Error> {
                for url in &media {
                    if mode.matches(Some(url), arg)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            };
            let shown = if media.is_empty() { "(none)".to_string() } else { join(media.iter().map(|m| m.as_str())) };
            found_in(args, asserter.not, found, !media.is_empty()).or_else(|why| fail(why, format!("media: {shown}")))
        }
        AsserterKind::Cards(args) => {
            let texts: Vec<String> = message
                .cards
                .iter()
                .flat_map(|card| std::iter::once(&card.title).chain(card.subtitle.as_ref()))
                .filter(|t| !t.is_empty())
                .map(|t| normalized(t))
                .collect();
            let found = |arg: &str| -> Result<bool, regex::Error> {
                let arg = normalized(arg);
                for text in &texts {
                    if mode.matches(Some(text), &arg)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            };
            let shown = if texts.is_empty() { "(none)".to_string() } else { join(texts.iter().map(String::as_str)) };
            found_in(args, asserter.not, found, !texts.is_empty()).or_else(|why| fail(why, format!("cards: {shown}")))
        }
        AsserterKind::ButtonsCount(c) | AsserterKind::ButtonsCountRec(c) => {
            let mut choices: Vec<&Choice> = message.buttons.iter().chain(&message.quick_replies).collect();
            if matches!(asserter.kind, AsserterKind::ButtonsCountRec(_)) {
                choices.extend(card_buttons(message));
            }
            count(c, choices.len(), "buttons and quick replies", choices_with_payloads(&choices))
        }
        AsserterKind::MediaCount(c) | AsserterKind::MediaCountRec(c) => {
            let mut media: Vec<&String> = message.media.iter().collect();
            if matches!(asserter.kind, AsserterKind::MediaCountRec(_)) {
                media.extend(card_images(message));
            }
            count(c, media.len(), "media", join(media.iter().map(|m| m.as_str())))
        }
        AsserterKind::CardsCount(c) => count(c, message.cards.len(), "cards", join(message.cards.iter().map(|card| card.title.as_str()))),
        AsserterKind::Text { op, ignore_case, all, args } => check_text_asserter(asserter, (*op, *ignore_case, *all), args, message, settings),
        AsserterKind::Refused { .. } | AsserterKind::Inbox => Ok(()),
    }
}

/// The `TEXT_*` asserters: each with its own matching, whatever the suite's mode.
fn check_text_asserter(
    asserter: &Asserter,
    (op, ignore_case, all): (TextOp, bool, bool),
    args: &[String],
    message: &BotMessage,
    settings: &Settings,
) -> Result<(), Mismatch> {
    let text = prepared(message.text.as_deref().unwrap_or(""), settings.normalize);
    let fail = |why: &str| Err(Mismatch { expected: format!("{} {why}", line(asserter)).trim_end().to_string(), actual: message_text(message) });
    if args.is_empty() {
        // Only TEXT_EQUALS (and TEXT) without arguments checks anything: some text.
        if op != TextOp::Equals {
            return Ok(());
        }
        let some = message.text.as_deref().is_some_and(|t| !t.is_empty());
        return if some == asserter.not { fail(if asserter.not { "(expected no text)" } else { "(expected some text)" }) } else { Ok(()) };
    }
    let mode = match (op, ignore_case) {
        (TextOp::Contains, false) => MatchingMode::Include,
        (TextOp::Contains, true) => MatchingMode::IncludeIgnoreCase,
        (TextOp::Wildcard, false) => MatchingMode::Wildcard,
        (TextOp::Wildcard, true) => MatchingMode::WildcardIgnoreCase,
        (TextOp::WildcardExact, false) => MatchingMode::WildcardExact,
        (TextOp::WildcardExact, true) => MatchingMode::WildcardExactIgnoreCase,
        (TextOp::Regexp, false) => MatchingMode::Regexp,
        (TextOp::Regexp, true) => MatchingMode::RegexpIgnoreCase,
        (TextOp::Equals, false) => MatchingMode::Equals,
        (TextOp::Equals, true) => MatchingMode::EqualsIgnoreCase,
    };
    let mut hits = Vec::new();
    let mut misses = Vec::new();
    for arg in args {
        match mode.matches(Some(&text), &prepared(arg, settings.normalize)) {
            Ok(true) => hits.push(arg.as_str()),
            Ok(false) => misses.push(arg.as_str()),
            Err(error) => return fail(&format!("(`{arg}` is no regular expression: {error})")),
        }
    }
    let found = if all { misses.is_empty() } else { !hits.is_empty() };
    match (found, asserter.not) {
        (false, false) => fail(&format!("(not matched: {})", join(misses.into_iter()))),
        (true, true) => fail(&format!("(matched: {})", join(hits.into_iter()))),
        _ => Ok(()),
    }
}
