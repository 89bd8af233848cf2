//! What a run tells people and machines: a line per conversation as it ends; at a
//! failure, the step, then what was expected and what arrived side by side; a
//! summary; JUnit XML for CI systems; one JSON document for tools.

use super::play::{Failure, Played};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// Width of each column of the side-by-side comparison.
const COLUMN: usize = 44;

/// One line for a conversation that ended, with the failure's details under it.
pub(crate) fn conversation(played: &Played) -> String {
    let mut out = String::new();
    let mark = if played.failure.is_none() { "ok    " } else { "FAILED" };
    let _ = writeln!(out, "{mark} {} ({:.2} s)  {}", played.name, played.elapsed.as_secs_f64(), played.file);
    if let Some(failure) = &played.failure {
        out.push_str(&failure_details(failure));
    }
    out
}

fn failure_details(failure: &Failure) -> String {
    let mut out = String::new();
    let at = failure.at.as_deref().map(|at| format!(" at {at}")).unwrap_or_default();
    let _ = writeln!(out, "       {}{at}: {}", failure.step, failure.reason);
    if failure.expected.is_some() || failure.actual.is_some() {
        out.push_str(&side_by_side(failure.expected.as_deref().unwrap_or(""), failure.actual.as_deref().unwrap_or("")));
    }
    for evidence in &failure.evidence {
        for line in evidence.lines() {
            let _ = writeln!(out, "       {}", line.trim_start());
        }
    }
    out
}

/// Two texts in two columns, `expected | arrived`, lines that differ marked.
pub(crate) fn side_by_side(expected: &str, actual: &str) -> String {
    let left: Vec<&str> = expected.lines().collect();
    let right: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    let _ = writeln!(out, "         {:<COLUMN$} | arrived", "expected");
    let _ = writeln!(out, "         {:-<COLUMN$}-+-{:-<COLUMN$}", "", "");
    for i in 0..left.len().max(right.len()) {
        let (l, r) = (left.get(i).copied().unwrap_or(""), right.get(i).copied().unwrap_or(""));
        let mark = if l == r { ' ' } else { '≠' };
        let _ = writeln!(out, "       {mark} {:<COLUMN$} | {}", clip(l), clip(r));
    }
    out
}

/// A cell's text, cut to the column (on a character boundary).
fn clip(text: &str) -> String {
    if text.chars().count() <= COLUMN {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(COLUMN - 1).collect();
    clipped.push('…');
    clipped
}

/// What the run as a whole came to.
pub(crate) struct Summary<'a> {
    pub played: &'a [Played],
    pub elapsed: Duration,
    pub bot_log: Option<String>,
    /// The kept store, with how to open it (a failed run keeps it).
    pub kept: Option<String>,
}

impl Summary<'_> {
    pub fn failed(&self) -> usize {
        self.played.iter().filter(|p| p.failure.is_some()).count()
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let failed = self.failed();
        let _ = writeln!(
            out,
            "\n{} conversation{}: {} passed, {failed} failed in {:.2} s ({:.1} conversations/s)",
            self.played.len(),
            if self.played.len() == 1 { "" } else { "s" },
            self.played.len() - failed,
            self.elapsed.as_secs_f64(),
            self.played.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
        );
        if let Some(log) = &self.bot_log {
            let _ = writeln!(out, "The bot's output: {log}");
        }
        if let Some(kept) = &self.kept {
            out.push_str(kept);
            out.push('\n');
        }
        out
    }

    pub fn json(&self) -> Value {
        let conversations: Vec<Value> = self
            .played
            .iter()
            .map(|played| {
                let failure = played.failure.as_ref().map(|f| {
                    json!({"at": f.at, "step": f.step, "reason": f.reason, "expected": f.expected, "actual": f.actual, "evidence": f.evidence})
                });
                json!({
                    "name": played.name, "file": played.file, "seconds": played.elapsed.as_secs_f64(),
                    "status": if played.failure.is_none() { "passed" } else { "failed" },
                    "failure": failure,
                    "person_login": played.login.as_ref().map(|(login, _)| login),
                })
            })
            .collect();
        json!({
            "passed": self.played.len() - self.failed(), "failed": self.failed(), "seconds": self.elapsed.as_secs_f64(),
            "bot_log": self.bot_log, "kept": self.kept, "conversations": conversations,
        })
    }

    /// JUnit XML: one test suite, a test case per conversation (its file as the class).
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"switchboard test\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            self.played.len(),
            self.failed(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"conversations\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">",
            self.played.len(),
            self.failed(),
            self.elapsed.as_secs_f64()
        );
        for played in self.played {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&played.file),
                xml(&played.name),
                played.elapsed.as_secs_f64()
            );
            match &played.failure {
                None => out.push_str("/>\n"),
                Some(failure) => {
                    let _ = writeln!(out, ">\n      <failure message=\"{}\" type=\"ConversationFailed\">{}</failure>\n    </testcase>", xml(&failure.reason), xml(&failure_details(failure)));
                }
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// Text escaped for XML content and attributes; characters XML 1.0 cannot hold dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn side_by_side_marks_the_lines_that_differ() {
        let out = side_by_side("echo: hello\nBUTTONS a", "echo: hallo\nBUTTONS a");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].starts_with("       ≠ echo: hello"), "{out}");
        assert!(lines[3].starts_with("         BUTTONS a"), "{out}");
    }
}
