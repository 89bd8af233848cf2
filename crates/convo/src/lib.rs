//! Conversations written as files, in BotiumScript's text format (`*.convo.txt`,
//! `*.pconvo.txt`, `*.utterances.txt`, `botium.json`) with Switchboard's documented
//! extension (docs/testing.md): reading them into typed steps, and checking what a
//! bot sent against a `#bot` step. Plain data and pure functions: no network, no
//! clock; the only I/O is reading the files named.

use std::path::PathBuf;
use std::time::Duration;

mod check;
mod display;
mod expand;
mod files;
mod load;
mod matching;
mod parse;
mod steps;

pub use matching::normalize;

/// Overrides of what `botium.json` says (or of Botium's defaults without one).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub matching: Option<MatchingMode>,
    pub expansion: Option<Expansion>,
}

/// How the text of a `#bot` step is compared (Botium's `SCRIPTING_MATCHING_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchingMode {
    Wildcard,
    WildcardIgnoreCase,
    WildcardExact,
    WildcardExactIgnoreCase,
    Include,
    IncludeIgnoreCase,
    IncludeLowerCase,
    Equals,
    EqualsIgnoreCase,
    Regexp,
    RegexpIgnoreCase,
}

impl MatchingMode {
    /// Every mode, in Botium's order.
    pub const ALL: [MatchingMode; 11] = [
        MatchingMode::Wildcard,
        MatchingMode::WildcardIgnoreCase,
        MatchingMode::WildcardExact,
        MatchingMode::WildcardExactIgnoreCase,
        MatchingMode::Include,
        MatchingMode::IncludeIgnoreCase,
        MatchingMode::IncludeLowerCase,
        MatchingMode::Equals,
        MatchingMode::EqualsIgnoreCase,
        MatchingMode::Regexp,
        MatchingMode::RegexpIgnoreCase,
    ];
}

/// How an utterance list named in a `#me` step is played (`SCRIPTING_UTTEXPANSION_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    /// One conversation per utterance.
    All,
    First,
    Random,
}

/// The settings the conversations are checked with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub matching: MatchingMode,
    /// `SCRIPTING_NORMALIZE_TEXT`: HTML tags and repeated blanks removed before comparing.
    pub normalize: bool,
    /// `WAITFORBOTTIMEOUT`, when `botium.json` sets it.
    pub bot_timeout: Option<Duration>,
}

/// Every conversation under the paths, includes and utterances resolved.
#[derive(Debug, Clone)]
pub struct Suite {
    pub conversations: Vec<Conversation>,
    pub settings: Settings,
}

/// A file and a line in it (1-based), shown as `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A file that cannot be played, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {message}")]
pub struct FormatError {
    pub at: Location,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The first line of the file; with utterance expansion, suffixed as Botium does.
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// `#begin` steps first, then the conversation, then `#end`; partials in place.
    pub steps: Vec<Step>,
}

impl Conversation {
    /// A `#wait` moves the shared virtual clock: such a conversation runs alone.
    pub fn moves_clock(&self) -> bool {
        self.steps.iter().any(|step| matches!(step.action, Action::Wait(_)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The line of the section that holds the step (in a partial: the partial's).
    pub at: Location,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// What the person does.
    Me(MeStep),
    /// One message the bot sends (or its refused attempt).
    Bot(BotStep),
    /// `#wait 25h`: the virtual clock moves forward.
    Wait(Duration),
    /// `#silence 3s`: the bot sends nothing for that long (real time).
    Silence(Duration),
    /// The `PAUSE` logic hook: real time passes.
    Pause(Duration),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeStep {
    /// Done in order, before the text is sent.
    pub inputs: Vec<PersonInput>,
    /// The message, utterances expanded.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PersonInput {
    /// `BUTTON`: a postback button or a quick reply, by title, else by payload.
    Button(String),
    /// `QUICK_REPLY`: a quick reply only.
    QuickReply(String),
    Media(MediaSource),
    Location { lat: f64, long: f64 },
    /// `GET_STARTED [ref]`.
    GetStarted(Option<String>),
    /// `REF ref`.
    Referral(String),
    Read,
    Delivered,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// Resolved against the conversation file's directory.
    File(PathBuf),
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BotStep {
    pub text: Option<TextExpectation>,
    pub asserters: Vec<Asserter>,
    /// `WAITFORBOT`: this step's wait instead of the run's.
    pub wait: Option<Duration>,
}

/// The bot's text must match one of the alternatives (several when an utterance
/// list is named), or with `not` none of them.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExpectation {
    pub alternatives: Vec<String>,
    pub not: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Asserter {
    pub kind: AsserterKind,
    /// `!` before the asserter.
    pub not: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AsserterKind {
    Buttons(Vec<String>),
    ButtonsCount(Count),
    /// `BUTTONS_COUNT_REC`: the cards' buttons counted too.
    ButtonsCountRec(Count),
    QuickReplies(Vec<String>),
    Media(Vec<String>),
    MediaCount(Count),
    /// `MEDIA_COUNT_REC`: the cards' images counted too.
    MediaCountRec(Count),
    Cards(Vec<String>),
    CardsCount(Count),
    /// The `TEXT_*` asserters.
    Text { op: TextOp, ignore_case: bool, all: bool, args: Vec<String> },
    /// `REFUSED [code][|text]`: checked by the runner, against the refused call.
    Refused { code: Option<i64>, text: Option<String> },
    /// `INBOX`: checked by the runner, against the thread's owner.
    Inbox,
}

/// A count as Botium's `*_COUNT` asserters take it: `3`, `>2`, `<=4`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub op: CountOp,
    pub value: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountOp {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Contains,
    Wildcard,
    WildcardExact,
    Regexp,
    Equals,
}

/// What the bot sent, as the person's client received it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotMessage {
    pub text: Option<String>,
    /// The buttons of a button or media template.
    pub buttons: Vec<Choice>,
    pub quick_replies: Vec<Choice>,
    /// Attachment URLs (image, video, audio, file, media template).
    pub media: Vec<String>,
    /// The elements of a generic template.
    pub cards: Vec<Card>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choice {
    pub title: String,
    pub payload: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    pub title: String,
    pub subtitle: Option<String>,
    pub image_url: Option<String>,
    pub buttons: Vec<Choice>,
}

/// Why a message did not do: what the step expected and what arrived, each as lines
/// to print side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub expected: String,
    pub actual: String,
}

/// Reads every conversation under the paths (files or directories, recursively).
pub fn load(paths: &[PathBuf], overrides: &Options) -> Result<Suite, FormatError> {
    load::load(paths, overrides)
}

impl BotStep {
    /// The step's `REFUSED` asserter, when it expects a refused call instead of a message.
    pub fn expected_refusal(&self) -> Option<(Option<i64>, Option<&str>)> {
        self.asserters.iter().find_map(|asserter| match &asserter.kind {
            AsserterKind::Refused { code, text } if !asserter.not => Some((*code, text.as_deref())),
            _ => None,
        })
    }

    pub fn expects_inbox(&self) -> bool {
        self.asserters.iter().any(|asserter| asserter.kind == AsserterKind::Inbox && !asserter.not)
    }
}
