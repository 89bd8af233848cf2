//! A file's text cut as Botium's text compiler cuts it: the header (the name on the
//! first line, the description up to the first section), the sections (`#me`,
//! `#bot`, `#begin`, `#end`, `#include NAME`, and Switchboard's `#wait` and
//! `#silence`) with their numbered lines, an utterance list's name and utterances,
//! and the `|`-separated arguments of a line. What the lines of a section mean is
//! `steps`' business, not this module's.

use crate::{FormatError, Location};
use std::path::Path;
use std::time::Duration;

/// A line of a file and its 1-based number.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub number: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SectionKind {
    Me,
    Bot,
    Begin,
    End,
    /// `#include NAME`: the name on the section's line, if any (more in its lines).
    Include(Option<String>),
    Wait(Duration),
    Silence(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct Section {
    /// The section's own line.
    pub at: Location,
    pub kind: SectionKind,
    pub lines: Vec<Line>,
}

/// A conversation or partial conversation file, cut into its parts.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    /// The first line, unless the file opens with a section (or the line is empty).
    pub name: Option<String>,
    pub description: Option<String>,
    pub sections: Vec<Section>,
}

/// The lines of a file: `\r\n`, `\r` and `\n` all end one, as in Botium.
pub(crate) fn lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = text;
    let mut number = 1;
    loop {
        match rest.find(['\r', '\n']) {
            Some(at) => {
                lines.push(Line { number, text: rest[..at].to_string() });
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
                number += 1;
            }
            None => {
                lines.push(Line { number, text: rest.to_string() });
                return lines;
            }
        }
    }
}

const SECTIONS: &str = "#me, #bot, #begin, #end, #include, #wait, #silence";

/// Cuts a conversation file. A line `#word` whose word is made of letters only and
/// is no section is refused, where Botium would take it for text: a misspelt
/// `#bto` would otherwise join the previous step's text unseen. Other lines
/// beginning with `#` (`# one`, `##tag`, `#1`) are text, as in Botium.
pub(crate) fn script(file: &Path, lines: &[Line]) -> Result<Script, FormatError> {
    let mut header: Vec<&Line> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for line in lines {
        match section_line(file, line)? {
            Some(kind) => sections.push(Section { at: at(file, line.number), kind, lines: Vec::new() }),
            None => match sections.last_mut() {
                Some(section) => section.lines.push(line.clone()),
                None => header.push(line),
            },
        }
    }
    let name = header.first().map(|line| line.text.clone()).filter(|name| !name.is_empty());
    let description = header.get(1..).map(|rest| rest.iter().map(|line| line.text.as_str()).collect::<Vec<_>>()).and_then(|rest| {
        let text = rest.join("\n");
        let text = text.trim_matches(['\n', ' ', '\t']);
        (!text.is_empty()).then(|| text.to_string())
    });
    Ok(Script { name, description, sections })
}

fn section_line(file: &Path, line: &Line) -> Result<Option<SectionKind>, FormatError> {
    let Some(rest) = line.text.trim_end().strip_prefix('#') else { return Ok(None) };
    let (word, argument) = match rest.split_once(' ') {
        Some((word, argument)) => (word, Some(argument.trim()).filter(|a| !a.is_empty())),
        None => (rest, None),
    };
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        return Ok(None);
    }
    let error = |message: String| Err(FormatError { at: at(file, line.number), message });
    let plain = |kind: SectionKind| match argument {
        None => Ok(Some(kind)),
        Some(channel) => error(format!("`#{word} {channel}`: Botium's channels are not supported; write `#{word}` alone")),
    };
    match word {
        "me" => plain(SectionKind::Me),
        "bot" => plain(SectionKind::Bot),
        "begin" => plain(SectionKind::Begin),
        "end" => plain(SectionKind::End),
        "include" => Ok(Some(SectionKind::Include(argument.map(str::to_string)))),
        "wait" | "silence" => {
            let Some(argument) = argument else { return error(format!("`#{word}` needs a duration, e.g. `#{word} 25h`, `#{word} 1d2h`, `#{word} 500ms`")) };
            let Some(duration) = duration(argument) else {
                return error(format!("`#{word} {argument}`: a duration is a number and a unit (ms, s, m, h, d), combined as `1d2h`"));
            };
            Ok(Some(if word == "wait" { SectionKind::Wait(duration) } else { SectionKind::Silence(duration) }))
        }
        _ => error(format!("unknown section `#{word}` (sections: {SECTIONS})")),
    }
}

/// `25h`, `1d2h`, `90s`, `500ms`, `1h30m`: numbers each with a unit.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, unit_len): (u64, usize) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.chars().next()? {
                's' => (1_000, 1),
                'm' => (60_000, 1),
                'h' => (3_600_000, 1),
                'd' => (86_400_000, 1),
                _ => return None,
            }
        };
        total = total.checked_add(Duration::from_millis(value.checked_mul(unit_ms)?))?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// An utterance list: its name (the first line) and its utterances, blank lines left out.
pub(crate) fn utterances(file: &Path, lines: &[Line]) -> Result<(String, Vec<String>), FormatError> {
    let name = lines.first().map(|line| line.text.trim().to_string()).unwrap_or_default();
    if name.is_empty() {
        return Err(FormatError { at: at(file, 1), message: "an utterance list's first line is its name, and it is empty".into() });
    }
    let list: Vec<String> = lines[1..].iter().map(|line| line.text.trim_end_matches(['\t', '\r', '\n']).to_string()).filter(|u| !u.trim().is_empty()).collect();
    if list.is_empty() {
        return Err(FormatError { at: at(file, 1), message: format!("the utterance list `{name}` has no utterances") });
    }
    Ok((name, list))
}

/// Botium's arguments: split on `|`, `\|` a literal bar, each trimmed.
pub(crate) fn arguments(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut args = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                args.last_mut().unwrap().push('|');
            }
            '|' => args.push(String::new()),
            c => args.last_mut().unwrap().push(c),
        }
    }
    args.into_iter().map(|arg| arg.trim().to_string()).collect()
}

pub(crate) fn at(file: &Path, line: usize) -> Location {
    Location { file: file.to_path_buf(), line }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str) -> Result<Script, FormatError> {
        script(Path::new("t.convo.txt"), &lines(text))
    }

    #[test]
    fn every_line_end_counts() {
        let numbered: Vec<(usize, String)> = lines("a\r\nb\rc\nd").into_iter().map(|l| (l.number, l.text)).collect();
        assert_eq!(numbered, vec![(1, "a".into()), (2, "b".into()), (3, "c".into()), (4, "d".into())]);
    }

    #[test]
    fn header_and_sections() {
        let script = cut("Name\nA description\n\n#me\nhi\n# not a section\n#bot\nhello\n#include Login\n#wait 1d2h\n#silence 500ms").unwrap();
        assert_eq!(script.name.as_deref(), Some("Name"));
        assert_eq!(script.description.as_deref(), Some("A description"));
        let kinds: Vec<SectionKind> = script.sections.iter().map(|s| s.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                SectionKind::Me,
                SectionKind::Bot,
                SectionKind::Include(Some("Login".into())),
                SectionKind::Wait(Duration::from_secs(26 * 3600)),
                SectionKind::Silence(Duration::from_millis(500)),
            ]
        );
        assert_eq!(script.sections[0].at.line, 4);
        assert_eq!(script.sections[0].lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["hi", "# not a section"]);
    }

    #[test]
    fn a_file_that_opens_with_a_section_has_no_name() {
        assert_eq!(cut("#me\nhi").unwrap().name, None);
        assert_eq!(cut("\n#me\nhi").unwrap().name, None);
    }

    #[test]
    fn unknown_sections_and_channels_are_refused() {
        let error = cut("x\n\n#bto\nhello").unwrap_err();
        assert_eq!(error.to_string(), "t.convo.txt:3: unknown section `#bto` (sections: #me, #bot, #begin, #end, #include, #wait, #silence)");
        let error = cut("x\n#me\nhi\n#bot web\nhello").unwrap_err();
        assert_eq!(error.at.line, 4);
        assert!(error.message.contains("channels are not supported"), "{}", error.message);
        assert_eq!(cut("x\n#wait soon").unwrap_err().at.line, 2);
        assert!(cut("x\n#silence").unwrap_err().message.contains("needs a duration"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("25h"), Some(Duration::from_secs(25 * 3600)));
        assert_eq!(duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(duration("2s500ms"), Some(Duration::from_millis(2500)));
        assert_eq!(duration("3"), None);
        assert_eq!(duration("h"), None);
        assert_eq!(duration("1w"), None);
    }

    #[test]
    fn arguments_split_on_bars_but_not_escaped_ones() {
        assert_eq!(arguments(r"Test\|1|Test\|2"), ["Test|1", "Test|2"]);
        assert_eq!(arguments(" a | b |"), ["a", "b", ""]);
        assert!(arguments("").is_empty());
    }

    #[test]
    fn utterance_lists() {
        let (name, list) = utterances(Path::new("u.utterances.txt"), &lines("GREETING \nhello\n\nhi there\n")).unwrap();
        assert_eq!(name, "GREETING");
        assert_eq!(list, ["hello", "hi there"]);
        assert!(utterances(Path::new("u.utterances.txt"), &lines("EMPTY\n\n")).unwrap_err().message.contains("has no utterances"));
    }
}
