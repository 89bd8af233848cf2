//! What the lines of a section mean, read as Botium's `linesToConvoStep` reads
//! them: a line whose first word is a registered asserter (in `#bot`), person
//! input (in `#me`) or logic hook (anywhere) is one, with `!` before it negating
//! and its arguments after the first blank; every other line is text. Botium's
//! features that need something Switchboard lacks are refused here, with the line
//! that uses them. Includes stay names here: `expand` resolves them.

use crate::matching::{self, format_utterance};
use crate::parse::{arguments, at, Line, Script, SectionKind};
use crate::{
    Action, Asserter, AsserterKind, BotStep, Count, CountOp, FormatError, Location, MeStep, MediaSource, PersonInput, Settings, Step, TextExpectation, TextOp,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// A conversation's steps before its includes are resolved.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Step(Step),
    /// A partial conversation played here, named by the line at `at`.
    Include {
        name: String,
        at: Location,
    },
}

/// What the lines are read against.
pub(crate) struct Context<'a> {
    pub file: &'a Path,
    pub utterances: &'a HashMap<String, Vec<String>>,
    pub settings: &'a Settings,
    pub partial: bool,
}

/// Botium's asserters, logic hooks and person inputs that need what Switchboard
/// does not have, with the reason given.
const REFUSED: &[(&str, &str)] = &[
    ("INTENT", "an NLU engine's intent"),
    ("INTENT_UNIQUE", "an NLU engine's intent"),
    ("INTENT_CONFIDENCE", "an NLU engine's intent"),
    ("ENTITIES", "an NLU engine's entities"),
    ("ENTITY_VALUES", "an NLU engine's entities"),
    ("ENTITY_CONTENT", "an NLU engine's entities"),
    ("JSON_PATH", "a connector's raw JSON"),
    ("JSON_PATH_COUNT", "a connector's raw JSON"),
    ("TEXT_WER", "the word error rate"),
    ("RESPONSE_LENGTH", "response length checks"),
    ("PAUSE_ASSERTER", "timing asserters"),
    ("FORMS", "forms"),
    ("FORM", "forms"),
    ("BOT_CONSUMED", "Botium's queue of unread bot messages"),
    ("BOT_UNCONSUMED_COUNT", "Botium's queue of unread bot messages"),
    ("SET_SCRIPTING_MEMORY", "scripting memory"),
    ("CLEAR_SCRIPTING_MEMORY", "scripting memory"),
    ("ASSIGN_SCRIPTING_MEMORY", "scripting memory"),
    ("UPDATE_CUSTOM", "changing a connector's request"),
    ("SKIP_BOT_UNCONSUMED", "Botium's queue of unread bot messages"),
    ("CONDITIONAL_STEP_TIME_BASED", "conditional steps"),
    ("CONDITIONAL_STEP_BUSINESS_HOURS", "conditional steps"),
    ("CONDITIONAL_STEP_CAPABILITY_VALUE_BASED", "conditional steps"),
    ("CONDITIONAL_STEP_JSON_PATH_BASED", "conditional steps"),
    ("CONVO_STEP_PARAMETERS", "step parameters"),
    ("ORDERED_LIST_TO_BUTTON", "turning lists into buttons"),
];
/// Of those, the person inputs (registered in `#me` only) and asserters (not in `#me`).
const REFUSED_INPUTS: &[&str] = &["FORM"];
const REFUSED_ASSERTERS: &[&str] = &[
    "INTENT",
    "INTENT_UNIQUE",
    "INTENT_CONFIDENCE",
    "ENTITIES",
    "ENTITY_VALUES",
    "ENTITY_CONTENT",
    "JSON_PATH",
    "JSON_PATH_COUNT",
    "TEXT_WER",
    "RESPONSE_LENGTH",
    "PAUSE_ASSERTER",
    "FORMS",
    "BOT_CONSUMED",
    "BOT_UNCONSUMED_COUNT",
];
const INPUTS: &[&str] = &["BUTTON", "QUICK_REPLY", "MEDIA", "LOCATION", "GET_STARTED", "REF", "READ", "DELIVERED"];
const HOOKS: &[&str] = &["PAUSE", "WAITFORBOT", "INCLUDE"];

fn text_asserter(name: &str) -> Option<(TextOp, bool, bool)> {
    let (name, ignore_case) = match name.strip_suffix("_IC") {
        Some(name) => (name, true),
        None => (name, false),
    };
    let (op, all) = match name {
        "TEXT_CONTAINS_ANY" => (TextOp::Contains, false),
        "TEXT_CONTAINS_ALL" => (TextOp::Contains, true),
        "TEXT_WILDCARD_ANY" => (TextOp::Wildcard, false),
        "TEXT_WILDCARD_ALL" => (TextOp::Wildcard, true),
        "TEXT_WILDCARDEXACT_ANY" => (TextOp::WildcardExact, false),
        "TEXT_WILDCARDEXACT_ALL" => (TextOp::WildcardExact, true),
        "TEXT_REGEXP_ANY" => (TextOp::Regexp, false),
        "TEXT_REGEXP_ALL" => (TextOp::Regexp, true),
        "TEXT_EQUALS" | "TEXT" => (TextOp::Equals, false),
        _ => return None,
    };
    Some((op, ignore_case, all))
}

fn is_asserter(name: &str) -> bool {
    matches!(
        name,
        "BUTTONS"
            | "BUTTONS_COUNT"
            | "BUTTONS_COUNT_REC"
            | "MEDIA"
            | "MEDIA_COUNT"
            | "MEDIA_COUNT_REC"
            | "CARDS"
            | "CARDS_COUNT"
            | "CARDS_COUNT_REC"
            | "QUICK_REPLIES"
            | "REFUSED"
            | "INBOX"
    ) || text_asserter(name).is_some()
}

/// The steps of a conversation or partial: `#begin`'s first, `#end`'s last, the
/// others in order, as Botium runs the hooks of `#begin` and `#end` at the
/// conversation's start and end wherever the sections stand.
pub(crate) fn build(script: &Script, cx: &Context) -> Result<Vec<Item>, FormatError> {
    let (mut begin, mut main, mut end) = (Vec::new(), Vec::new(), Vec::new());
    for section in &script.sections {
        let error = |line: usize, message: String| Err(FormatError { at: at(cx.file, line), message });
        match &section.kind {
            SectionKind::Include(name) => {
                main.extend(name.iter().map(|name| Item::Include { name: name.clone(), at: section.at.clone() }));
                for line in section.lines.iter().filter(|l| !l.text.trim().is_empty()) {
                    main.push(Item::Include { name: line.text.trim().to_string(), at: at(cx.file, line.number) });
                }
            }
            SectionKind::Wait(duration) | SectionKind::Silence(duration) => {
                if let Some(line) = section.lines.iter().find(|l| !l.text.trim().is_empty()) {
                    return error(line.number, "`#wait` and `#silence` hold no lines: start a section (`#me`, `#bot`...) before this one".into());
                }
                let action = if matches!(section.kind, SectionKind::Wait(_)) { Action::Wait(*duration) } else { Action::Silence(*duration) };
                main.push(Item::Step(Step { at: section.at.clone(), action }));
            }
            SectionKind::Begin | SectionKind::End if cx.partial => {
                if let Some(line) = section.lines.iter().find(|l| !l.text.trim().is_empty()) {
                    return error(line.number, "a partial conversation's `#begin` and `#end` are never run (Botium ignores them): move this line".into());
                }
            }
            kind => {
                let items = section_items(kind, &section.at, &section.lines, cx)?;
                match kind {
                    SectionKind::Begin => begin.extend(items),
                    SectionKind::End => end.extend(items),
                    _ => main.extend(items),
                }
            }
        }
    }
    begin.extend(main);
    begin.extend(end);
    Ok(begin)
}

/// What one `#me`, `#bot`, `#begin` or `#end` section holds, in the order Botium
/// runs it: the step, then its `PAUSE` (run once the step is done; several run at
/// once, so the longest counts), then the partials it includes. In `#end` the
/// includes come first: Botium runs `#end`'s hooks after the last step.
fn section_items(kind: &SectionKind, section_at: &Location, lines: &[Line], cx: &Context) -> Result<Vec<Item>, FormatError> {
    let section = match kind {
        SectionKind::Me => "#me",
        SectionKind::Bot => "#bot",
        SectionKind::Begin => "#begin",
        _ => "#end",
    };
    let is_me = *kind == SectionKind::Me;
    let mut text: Vec<&Line> = Vec::new();
    let mut text_closed_by: Option<&Line> = None;
    let mut inputs = Vec::new();
    let mut asserters = Vec::new();
    let mut pause: Option<Duration> = None;
    let mut wait = None;
    let mut includes = Vec::new();
    for line in lines {
        let error = |message: String| Err(FormatError { at: at(cx.file, line.number), message });
        let (optional, not, logic) = modifiers(&line.text);
        let (name, args) = match logic.split_once(' ') {
            Some((name, rest)) => (name, arguments(rest)),
            None => (logic, Vec::new()),
        };
        if let Some((_, feature)) = REFUSED.iter().find(|(refused, _)| *refused == name) {
            let registered = if REFUSED_INPUTS.contains(&name) {
                is_me
            } else if REFUSED_ASSERTERS.contains(&name) {
                !is_me
            } else {
                true
            };
            if registered {
                return error(format!("`{name}` needs {feature}, which Switchboard does not support"));
            }
        }
        if !is_me && is_asserter(name) {
            if optional {
                return error("optional asserters (`?`) are not supported".into());
            }
            if *kind != SectionKind::Bot {
                return error(format!("`{name}` in `{section}`: asserters belong in `#bot`"));
            }
            asserters.push(asserter(name, args, not, line, cx)?);
        } else if is_me && INPUTS.contains(&name) {
            inputs.push(input(name, args, line, cx)?);
            text_closed_by.get_or_insert(line);
        } else if HOOKS.contains(&name) {
            match name {
                "PAUSE" => {
                    let millis = match args.as_slice() {
                        [millis] => millis.parse::<u64>().ok(),
                        _ => None,
                    };
                    let Some(millis) = millis else { return error("PAUSE takes one whole number of milliseconds".into()) };
                    pause = pause.max(Some(Duration::from_millis(millis)));
                }
                "WAITFORBOT" => {
                    if *kind != SectionKind::Bot {
                        return error(format!("WAITFORBOT in `{section}`: it sets how long a `#bot` step waits, so it belongs in `#bot`"));
                    }
                    let millis = match args.as_slice() {
                        [millis] => millis.parse::<u64>().ok().filter(|m| *m > 0),
                        _ => None,
                    };
                    let Some(millis) = millis else {
                        return error("WAITFORBOT takes one number of milliseconds above zero (Switchboard never waits without end)".into());
                    };
                    wait = Some(Duration::from_millis(millis));
                }
                _ => match args.as_slice() {
                    [name] if !name.is_empty() => includes.push(Item::Include { name: name.clone(), at: at(cx.file, line.number) }),
                    _ => return error("INCLUDE takes one partial conversation's name".into()),
                },
            }
            text_closed_by.get_or_insert(line);
        } else if is_me && text_closed_by.is_some() && !line.text.trim().is_empty() {
            let after = text_closed_by.map(|l| l.text.trim().to_string()).unwrap_or_default();
            return error(format!("no text expected here, after `{after}`: in `#me`, write the text before the inputs and logic hooks"));
        } else {
            text.push(line);
        }
    }

    let text = step_text(&text, cx)?;
    let mut items = Vec::new();
    match kind {
        SectionKind::Me => {
            let step = MeStep { inputs, text: text.map(|(text, _, _)| text) };
            if step.text.is_some() || !step.inputs.is_empty() {
                items.push(Item::Step(Step { at: section_at.clone(), action: Action::Me(step) }));
            } else if pause.is_none() && includes.is_empty() {
                return Err(FormatError { at: section_at.clone(), message: "this `#me` says and does nothing".into() });
            }
        }
        SectionKind::Bot => {
            let text = match text {
                Some((text, not, line)) => Some(TextExpectation { alternatives: expected_texts(&text, line, cx)?, not }),
                None => None,
            };
            let step = BotStep { text, asserters, wait };
            let only_includes = step.text.is_none() && step.asserters.is_empty() && step.wait.is_none() && pause.is_none() && !includes.is_empty();
            if !only_includes {
                items.push(Item::Step(Step { at: section_at.clone(), action: Action::Bot(step) }));
            }
        }
        _ => {
            if let Some((_, _, line)) = text {
                return Err(FormatError {
                    at: at(cx.file, line),
                    message: format!("text in `{section}` is never sent: `#begin` and `#end` hold logic hooks (PAUSE, INCLUDE)"),
                });
            }
        }
    }
    let pause = pause.map(|duration| Item::Step(Step { at: section_at.clone(), action: Action::Pause(duration) }));
    if *kind == SectionKind::End {
        items.extend(includes);
        items.extend(pause);
    } else {
        items.extend(pause);
        items.extend(includes);
    }
    Ok(items)
}

/// `?` (optional) then `!` (negated) before a line; `??` and `!!` stand for the
/// character itself.
fn modifiers(line: &str) -> (bool, bool, &str) {
    let mut rest = line;
    let mut optional = false;
    let mut not = false;
    if let Some(after) = rest.strip_prefix('?') {
        optional = !after.starts_with('?');
        rest = after;
    }
    if let Some(after) = rest.strip_prefix('!') {
        not = !after.starts_with('!');
        rest = after;
    }
    (optional, not, rest)
}

/// The text lines as Botium joins them: blank lines at either end dropped, the
/// first line's `?` and `!` read. Returns the text, whether negated, and its line.
fn step_text(lines: &[&Line], cx: &Context) -> Result<Option<(String, bool, usize)>, FormatError> {
    let first = lines.iter().position(|l| !l.text.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.text.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else { return Ok(None) };
    let lines = &lines[first..=last];
    let number = lines[0].number;
    let mut texts: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
    let (optional, not, rest) = modifiers(&texts[0]);
    if optional {
        return Err(FormatError { at: at(cx.file, number), message: "optional steps (`?`) are not supported".into() });
    }
    // `!!` and `??` have lost one of their two characters.
    texts[0] = rest.to_string();
    let text = texts.join("\n").trim_end_matches(['\n', '\t', '\r']).to_string();
    if let Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_)) = serde_json::from_str::<serde_json::Value>(&texts.join(" ")) {
        return Err(FormatError { at: at(cx.file, number), message: "a JSON message (Botium's sourceData) is not supported: write the text".into() });
    }
    Ok((!text.is_empty()).then_some((text, not, number)))
}

/// An utterance list's utterances when the text names one (alone, or followed by
/// words for its `%s`), else the text itself.
pub(crate) fn resolve_utterance(text: &str, utterances: &HashMap<String, Vec<String>>) -> Option<(String, Vec<String>)> {
    if let Some(list) = utterances.get(text) {
        return Some((text.to_string(), list.clone()));
    }
    let mut words = text.split(' ');
    let name = words.next()?;
    let words: Vec<&str> = words.collect();
    let list = utterances.get(name)?;
    Some((name.to_string(), list.iter().map(|u| format_utterance(u, &words)).collect()))
}

fn expected_texts(text: &str, line: usize, cx: &Context) -> Result<Vec<String>, FormatError> {
    let alternatives = resolve_utterance(text, cx.utterances).map(|(_, list)| list).unwrap_or_else(|| vec![text.to_string()]);
    if cx.settings.matching.is_regexp() {
        for alternative in &alternatives {
            check_regexp(&matching::prepared(alternative, cx.settings.normalize), line, cx)?;
        }
    }
    Ok(alternatives)
}

fn check_regexp(pattern: &str, line: usize, cx: &Context) -> Result<(), FormatError> {
    matching::regexp(pattern, false).map(|_| ()).map_err(|error| FormatError {
        at: at(cx.file, line),
        message: format!("`{pattern}` is no regular expression Switchboard reads (Rust's syntax: no look-around, no back-references): {error}"),
    })
}

fn asserter(name: &str, args: Vec<String>, not: bool, line: &Line, cx: &Context) -> Result<Asserter, FormatError> {
    let error = |message: String| FormatError { at: at(cx.file, line.number), message };
    let count = |args: &[String]| -> Result<Count, FormatError> {
        match args {
            [] => Ok(Count { op: CountOp::Greater, value: 0 }),
            [count] if count.is_empty() => Ok(Count { op: CountOp::Greater, value: 0 }),
            [count] => parse_count(count).ok_or_else(|| error(format!("`{count}` is no count: write 3, >2, >=2, <4, <=4 or =3"))),
            _ => Err(error(format!("{name} takes one count"))),
        }
    };
    let matched_by_mode = |args: &[String]| -> Result<(), FormatError> {
        if cx.settings.matching.is_regexp() {
            args.iter().try_for_each(|arg| check_regexp(arg, line.number, cx))?;
        }
        Ok(())
    };
    let kind = match name {
        "BUTTONS" | "QUICK_REPLIES" | "MEDIA" | "CARDS" => {
            matched_by_mode(&args)?;
            match name {
                "BUTTONS" => AsserterKind::Buttons(args),
                "QUICK_REPLIES" => AsserterKind::QuickReplies(args),
                "MEDIA" => AsserterKind::Media(args),
                _ => AsserterKind::Cards(args),
            }
        }
        "BUTTONS_COUNT" => AsserterKind::ButtonsCount(count(&args)?),
        "BUTTONS_COUNT_REC" => AsserterKind::ButtonsCountRec(count(&args)?),
        "MEDIA_COUNT" => AsserterKind::MediaCount(count(&args)?),
        "MEDIA_COUNT_REC" => AsserterKind::MediaCountRec(count(&args)?),
        // Messenger's cards hold no cards: counting recursively counts the same.
        "CARDS_COUNT" | "CARDS_COUNT_REC" => AsserterKind::CardsCount(count(&args)?),
        "REFUSED" | "INBOX" if not => return Err(error(format!("`!{name}` is not supported: a step without {name} already expects the opposite"))),
        "REFUSED" => {
            let code = match args.first().map(String::as_str) {
                None | Some("") => None,
                Some(code) => Some(code.parse::<i64>().map_err(|_| error(format!("REFUSED's code `{code}` is no number")))?),
            };
            let text = match args.get(1..).unwrap_or_default() {
                [] => None,
                [text] => Some(text.clone()).filter(|t| !t.is_empty()),
                _ => return Err(error("REFUSED takes a code and a text: `REFUSED 10|outside the allowed window`".into())),
            };
            AsserterKind::Refused { code, text }
        }
        "INBOX" if !args.is_empty() => return Err(error("INBOX takes no arguments".into())),
        "INBOX" => AsserterKind::Inbox,
        _ => {
            let (op, ignore_case, all) = text_asserter(name).expect("a registered asserter");
            let args: Vec<String> =
                args.iter().flat_map(|arg| resolve_utterance(arg, cx.utterances).map(|(_, list)| list).unwrap_or_else(|| vec![arg.clone()])).collect();
            if op == TextOp::Regexp {
                args.iter().try_for_each(|arg| check_regexp(&matching::prepared(arg, cx.settings.normalize), line.number, cx))?;
            }
            AsserterKind::Text { op, ignore_case, all, args }
        }
    };
    Ok(Asserter { kind, not })
}

/// Botium's count: `3`, `=3`, `==3`, `>2`, `>=2`, `<4`, `<=4`.
fn parse_count(text: &str) -> Option<Count> {
    let text = text.trim();
    let (op, number) = [
        ("<=", CountOp::LessOrEqual),
        ("<", CountOp::Less),
        (">=", CountOp::GreaterOrEqual),
        (">", CountOp::Greater),
        ("==", CountOp::Equal),
        ("=", CountOp::Equal),
    ]
    .into_iter()
    .find_map(|(prefix, op)| text.strip_prefix(prefix).map(|rest| (op, rest)))
    .unwrap_or((CountOp::Equal, text));
    Some(Count { op, value: number.trim().parse().ok()? })
}

fn input(name: &str, args: Vec<String>, line: &Line, cx: &Context) -> Result<PersonInput, FormatError> {
    let error = |message: &str| FormatError { at: at(cx.file, line.number), message: format!("`{}`: {message}", line.text.trim()) };
    let one = |args: &[String]| match args {
        [arg] if !arg.is_empty() => Ok(arg.clone()),
        _ => Err(error(&format!("{name} takes one argument"))),
    };
    Ok(match name {
        // Botium's BUTTON is `payload|text`: the second is what the button said.
        "BUTTON" => match args.as_slice() {
            [payload] | [payload, _] if !payload.is_empty() => PersonInput::Button(payload.clone()),
            _ => return Err(error("BUTTON takes a title or payload (Botium's `payload|text` is read too)")),
        },
        "QUICK_REPLY" => PersonInput::QuickReply(one(&args)?),
        "MEDIA" => PersonInput::Media(
            media(&one(&args).map_err(|_| error("MEDIA takes one file or URL (Botium's lists and wildcards of files are not supported)"))?, cx)
                .map_err(|message| error(&message))?,
        ),
        "LOCATION" => {
            let coordinate = |text: &str, limit: f64| text.parse::<f64>().ok().filter(|v| v.is_finite() && v.abs() <= limit);
            match args.as_slice() {
                [lat, long] => match (coordinate(lat, 90.0), coordinate(long, 180.0)) {
                    (Some(lat), Some(long)) => PersonInput::Location { lat, long },
                    _ => return Err(error("LOCATION's latitude is within ±90 and its longitude within ±180")),
                },
                _ => return Err(error("LOCATION takes `latitude|longitude`")),
            }
        }
        "GET_STARTED" => match args.as_slice() {
            [] => PersonInput::GetStarted(None),
            [reference] => PersonInput::GetStarted(Some(reference.clone()).filter(|r| !r.is_empty())),
            _ => return Err(error("GET_STARTED takes at most a ref")),
        },
        "REF" => PersonInput::Referral(one(&args)?),
        "READ" | "DELIVERED" if !args.is_empty() => return Err(error(&format!("{name} takes no arguments"))),
        "READ" => PersonInput::Read,
        _ => PersonInput::Delivered,
    })
}

/// A `MEDIA` argument: an `http(s)` URL as it is, else a file relative to the file
/// that names it, which must exist.
fn media(arg: &str, cx: &Context) -> Result<MediaSource, String> {
    if arg.starts_with("http://") || arg.starts_with("https://") {
        return Ok(MediaSource::Url(arg.to_string()));
    }
    if arg.contains('*') {
        return Err("a wildcard of files (one conversation per file in Botium) is not supported".into());
    }
    if arg.starts_with("data:") {
        return Err("data URIs are not supported: name a file".into());
    }
    let path = cx.file.parent().unwrap_or(Path::new(".")).join(arg);
    if !path.is_file() {
        return Err(format!("no file {}", path.display()));
    }
    Ok(MediaSource::File(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_read_one_question_mark_then_one_bang() {
        assert_eq!(modifiers("!BUTTONS a"), (false, true, "BUTTONS a"));
        assert_eq!(modifiers("!!text"), (false, false, "!text"));
        assert_eq!(modifiers("?!x"), (true, true, "x"));
        assert_eq!(modifiers("??x"), (false, false, "?x"));
        assert_eq!(modifiers("!?x"), (false, true, "?x"));
    }

    #[test]
    fn counts_as_botium_writes_them() {
        let count = |op, value| Some(Count { op, value });
        assert_eq!(parse_count("3"), count(CountOp::Equal, 3));
        assert_eq!(parse_count("==3"), count(CountOp::Equal, 3));
        assert_eq!(parse_count(" >= 2 "), count(CountOp::GreaterOrEqual, 2));
        assert_eq!(parse_count("<4"), count(CountOp::Less, 4));
        assert_eq!(parse_count("<=4"), count(CountOp::LessOrEqual, 4));
        assert_eq!(parse_count(">0"), count(CountOp::Greater, 0));
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("many"), None);
    }

    #[test]
    fn an_utterance_named_with_words_fills_them_in() {
        let utterances = HashMap::from([("HELLO".to_string(), vec!["hello %s".to_string(), "hi".to_string()])]);
        assert_eq!(resolve_utterance("HELLO Joe", &utterances), Some(("HELLO".to_string(), vec!["hello Joe".to_string(), "hi Joe".to_string()])));
        assert_eq!(resolve_utterance("HELLO", &utterances).unwrap().1, ["hello %s", "hi"]);
        assert_eq!(resolve_utterance("GOODBYE Joe", &utterances), None);
    }
}
