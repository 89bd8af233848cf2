//! Steps written back as the script lines they were read from (asserters, person
//! inputs, sections), for reports that show what a step expected.

use crate::{Action, Asserter, AsserterKind, BotStep, Count, CountOp, MeStep, PersonInput, TextOp};
use std::fmt::{self, Display, Formatter};

/// Arguments joined by `|`, a `|` inside one escaped.
fn args(values: &[String]) -> String {
    values.iter().map(|value| value.replace('|', "\\|")).collect::<Vec<_>>().join("|")
}

impl Display for Count {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            CountOp::Equal => "",
            CountOp::Less => "<",
            CountOp::LessOrEqual => "<=",
            CountOp::Greater => ">",
            CountOp::GreaterOrEqual => ">=",
        };
        write!(f, "{op}{}", self.value)
    }
}

impl Display for Asserter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.not {
            f.write_str("!")?;
        }
        match &self.kind {
            AsserterKind::Buttons(values) => write!(f, "BUTTONS {}", args(values)),
            AsserterKind::ButtonsCount(count) => write!(f, "BUTTONS_COUNT {count}"),
            AsserterKind::ButtonsCountRec(count) => write!(f, "BUTTONS_COUNT_REC {count}"),
            AsserterKind::QuickReplies(values) => write!(f, "QUICK_REPLIES {}", args(values)),
            AsserterKind::Media(values) => write!(f, "MEDIA {}", args(values)),
            AsserterKind::MediaCount(count) => write!(f, "MEDIA_COUNT {count}"),
            AsserterKind::MediaCountRec(count) => write!(f, "MEDIA_COUNT_REC {count}"),
            AsserterKind::Cards(values) => write!(f, "CARDS {}", args(values)),
            AsserterKind::CardsCount(count) => write!(f, "CARDS_COUNT {count}"),
            AsserterKind::Text { op, ignore_case, all, args: values } => {
                let name = match (op, all) {
                    (TextOp::Contains, false) => "TEXT_CONTAINS_ANY",
                    (TextOp::Contains, true) => "TEXT_CONTAINS_ALL",
                    (TextOp::Wildcard, false) => "TEXT_WILDCARD_ANY",
                    (TextOp::Wildcard, true) => "TEXT_WILDCARD_ALL",
                    (TextOp::WildcardExact, false) => "TEXT_WILDCARDEXACT_ANY",
                    (TextOp::WildcardExact, true) => "TEXT_WILDCARDEXACT_ALL",
                    (TextOp::Regexp, false) => "TEXT_REGEXP_ANY",
                    (TextOp::Regexp, true) => "TEXT_REGEXP_ALL",
                    (TextOp::Equals, _) => "TEXT_EQUALS",
                };
                write!(f, "{name}{} {}", if *ignore_case { "_IC" } else { "" }, args(values))
            }
            AsserterKind::Refused { code, text } => {
                f.write_str("REFUSED")?;
                match (code, text) {
                    (Some(code), Some(text)) => write!(f, " {code}|{text}"),
                    (Some(code), None) => write!(f, " {code}"),
                    (None, Some(text)) => write!(f, " |{text}"),
                    (None, None) => Ok(()),
                }
            }
            AsserterKind::Inbox => f.write_str("INBOX"),
        }
    }
}

impl Display for PersonInput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PersonInput::Button(name) => write!(f, "BUTTON {name}"),
            PersonInput::QuickReply(name) => write!(f, "QUICK_REPLY {name}"),
            PersonInput::Media(crate::MediaSource::File(path)) => write!(f, "MEDIA {}", path.display()),
            PersonInput::Media(crate::MediaSource::Url(url)) => write!(f, "MEDIA {url}"),
            PersonInput::Location { lat, long } => write!(f, "LOCATION {lat}|{long}"),
            PersonInput::GetStarted(Some(reference)) => write!(f, "GET_STARTED {reference}"),
            PersonInput::GetStarted(None) => f.write_str("GET_STARTED"),
            PersonInput::Referral(reference) => write!(f, "REF {reference}"),
            PersonInput::Read => f.write_str("READ"),
            PersonInput::Delivered => f.write_str("DELIVERED"),
        }
    }
}

impl Display for MeStep {
    /// The step's lines: its text, then its inputs.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<String> = self.text.iter().cloned().collect();
        lines.extend(self.inputs.iter().map(ToString::to_string));
        f.write_str(&lines.join("\n"))
    }
}

impl Display for BotStep {
    /// The step's lines: its text (alternatives joined by ` | `), then its asserters;
    /// `(any message)` for a step that accepts anything.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        if let Some(text) = &self.text {
            lines.push(format!("{}{}", if text.not { "!" } else { "" }, text.alternatives.join(" | ")));
        }
        lines.extend(self.asserters.iter().map(ToString::to_string));
        if lines.is_empty() {
            lines.push("(any message)".into());
        }
        f.write_str(&lines.join("\n"))
    }
}

impl Display for Action {
    /// The section line of the step (`#me`, `#bot`, `#wait 25h`...).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Action::Me(_) => f.write_str("#me"),
            Action::Bot(_) => f.write_str("#bot"),
            Action::Wait(duration) => write!(f, "#wait {} s", duration.as_secs()),
            Action::Silence(duration) => write!(f, "#silence {} s", duration.as_secs_f64()),
            Action::Pause(duration) => write!(f, "PAUSE {}", duration.as_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn asserters_are_written_as_they_are_read() {
        let negated = Asserter { kind: AsserterKind::Buttons(vec!["a|b".into(), "c".into()]), not: true };
        assert_eq!(negated.to_string(), "!BUTTONS a\\|b|c");
        let count = Asserter { kind: AsserterKind::CardsCount(Count { op: CountOp::GreaterOrEqual, value: 2 }), not: false };
        assert_eq!(count.to_string(), "CARDS_COUNT >=2");
        let text = Asserter { kind: AsserterKind::Text { op: TextOp::Contains, ignore_case: true, all: true, args: vec!["x".into()] }, not: false };
        assert_eq!(text.to_string(), "TEXT_CONTAINS_ALL_IC x");
        let refused = Asserter { kind: AsserterKind::Refused { code: Some(10), text: Some("window".into()) }, not: false };
        assert_eq!(refused.to_string(), "REFUSED 10|window");
    }

    #[test]
    fn steps_are_written_as_lines() {
        let me = MeStep { text: None, inputs: vec![PersonInput::Location { lat: 48.5, long: 2.25 }] };
        assert_eq!(me.to_string(), "LOCATION 48.5|2.25");
        let bot = BotStep { text: Some(TextExpectation { alternatives: vec!["hi".into()], not: true }), ..Default::default() };
        assert_eq!(bot.to_string(), "!hi");
        assert_eq!(BotStep::default().to_string(), "(any message)");
    }
}
