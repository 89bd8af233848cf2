//! Plays one conversation: each `#me` step through the person API, each `#bot` step
//! against the next message on the person's live stream, the virtual clock moved for
//! `#wait`. A step that fails stops the conversation with what was expected and what
//! arrived; when the bot's own Graph call was refused, with the error it received and
//! the body it sent; when the platform could not deliver the webhook, with what the
//! bot answered.

use super::person::{bot_message, Person};
use super::world::{Api, CallError, Fixture};
use super::PlayRules;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_convo::{Action, BotStep, Conversation, MediaSource, MeStep, PersonInput, Step};

/// The Page inbox's app id, the same on every Page (as on Meta's platform).
const PAGE_INBOX_APP_ID: &str = "263902037430900";

/// A media file sent by a `MEDIA` step at most (Meta's attachment limit).
const MEDIA_LIMIT: usize = 25 * 1024 * 1024;

/// How often the refused calls and the thread's owner are looked at while a step waits.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// How a conversation ended.
#[derive(Debug, Clone)]
pub(crate) struct Played {
    pub name: String,
    pub file: String,
    pub elapsed: Duration,
    pub failure: Option<Failure>,
    /// Who played it, to open it in the web messenger.
    pub login: Option<(String, String)>,
}

/// Where and why a conversation failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure {
    pub at: Option<String>,
    pub step: String,
    pub reason: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The bot's refused Graph calls and failed webhook deliveries that explain it.
    pub evidence: Vec<String>,
}

impl Failure {
    fn at(step: &Step, reason: impl Into<String>) -> Self {
        Self { at: Some(step.at.to_string()), step: describe(&step.action), reason: reason.into(), ..Default::default() }
    }
}

/// One conversation's run.
pub(crate) struct Player<'a> {
    pub api: &'a Api,
    pub fixture: &'a Fixture,
    pub rules: &'a PlayRules,
}

impl Player<'_> {
    /// Plays with a person who joined for it (or could not).
    pub async fn play(&self, conversation: &Conversation, person: anyhow::Result<Person>) -> Played {
        let started = Instant::now();
        let mut played = Played { name: conversation.name.clone(), file: conversation.file.display().to_string(), elapsed: Duration::ZERO, failure: None, login: None };
        let mut person = match person {
            Ok(person) => person,
            Err(error) => {
                played.failure = Some(Failure { step: "setting up the person".into(), reason: format!("{error:#}"), ..Default::default() });
                played.elapsed = started.elapsed();
                return played;
            }
        };
        played.login = Some((person.login.clone(), person.password.clone()));
        // Refused calls recorded before this conversation began are not its own.
        let mut seen = Cursor { refusals: self.latest_refusal().await, since_ms: self.now_ms().await };
        for step in &conversation.steps {
            if let Err(failure) = self.step(&mut person, step, &mut seen).await {
                played.failure = Some(*failure);
                break;
            }
        }
        if played.failure.is_none() {
            // A refusal no step expected fails the conversation, even after its last step.
            let refused = self.refusals_for(&mut person, &mut seen).await;
            if let Some(first) = refused.first() {
                played.failure = Some(Failure {
                    at: conversation.steps.last().map(|step| step.at.to_string()),
                    step: "the end of the conversation".into(),
                    reason: "the bot's call was refused by the platform".into(),
                    evidence: vec![describe_refusal(first)],
                    ..Default::default()
                });
            }
        }
        played.elapsed = started.elapsed();
        played
    }

    async fn step(&self, person: &mut Person, step: &Step, seen: &mut Cursor) -> Result<(), Box<Failure>> {
        match &step.action {
            Action::Me(me) => self.person_acts(person, step, me).await,
            Action::Bot(expected) => self.bot_answers(person, step, expected, seen).await,
            Action::Wait(duration) => {
                let advance_ms = duration.as_millis() as u64;
                match self.api.console(Method::POST, "/clock", Some(json!({"advance_ms": advance_ms}))).await {
                    Ok(_) => Ok(()),
                    Err(error) => Err(Box::new(Failure::at(step, format!("cannot move the virtual clock: {error} (is the server running with --virtual-clock?)")))),
                }
            }
            Action::Silence(duration) => match person.next_message(*duration).await {
                Ok(None) => Ok(()),
                Ok(Some(message)) => {
                    let mut failure = Failure::at(step, "the bot answered when it should have stayed silent");
                    failure.expected = Some(format!("nothing for {} s", duration.as_secs_f64()));
                    failure.actual = Some(bot_message(&message).describe());
                    Err(Box::new(failure))
                }
                Err(error) => Err(Box::new(Failure::at(step, format!("{error:#}")))),
            },
            Action::Pause(duration) => {
                tokio::time::sleep(*duration).await;
                Ok(())
            }
        }
    }

    async fn person_acts(&self, person: &mut Person, step: &Step, me: &MeStep) -> Result<(), Box<Failure>> {
        let refused = |error: CallError| Box::new(Failure::at(step, format!("the platform refused the person's action: {error}")));
        for input in &me.inputs {
            match input {
                PersonInput::Button(name) => person.tap(self.api, name, false).await.map(drop).map_err(|e| Box::new(Failure::at(step, format!("{e:#}"))))?,
                PersonInput::QuickReply(name) => person.tap(self.api, name, true).await.map(drop).map_err(|e| Box::new(Failure::at(step, format!("{e:#}"))))?,
                PersonInput::Media(source) => {
                    let (name, bytes) = self.media(source).await.map_err(|e| Box::new(Failure::at(step, format!("{e:#}"))))?;
                    person.send_file(self.api, &name, bytes).await.map(drop).map_err(|e| Box::new(Failure::at(step, format!("{e:#}"))))?
                }
                PersonInput::Location { lat, long } => person.share_location(self.api, *lat, *long).await.map(drop).map_err(refused)?,
                PersonInput::GetStarted(reference) => person.get_started(self.api, reference.as_deref()).await.map(drop).map_err(refused)?,
                PersonInput::Referral(reference) => person.open_from_link(self.api, reference).await.map(drop).map_err(refused)?,
                PersonInput::Read => person.mark(self.api, "read").await.map(drop).map_err(refused)?,
                PersonInput::Delivered => person.mark(self.api, "delivered").await.map(drop).map_err(refused)?,
            }
        }
        if let Some(text) = &me.text {
            person.say(self.api, text).await.map_err(refused)?;
        }
        Ok(())
    }

    async fn media(&self, source: &MediaSource) -> anyhow::Result<(String, Vec<u8>)> {
        match source {
            MediaSource::File(path) => {
                let bytes = tokio::fs::read(path).await.map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                anyhow::ensure!(bytes.len() <= MEDIA_LIMIT, "{} is over the 25 MB attachment limit", path.display());
                Ok((path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into()), bytes))
            }
            MediaSource::Url(url) => {
                let mut response = self.api.http.get(url).timeout(Duration::from_secs(30)).send().await?.error_for_status()?;
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    bytes.extend_from_slice(&chunk);
                    anyhow::ensure!(bytes.len() <= MEDIA_LIMIT, "{url} is over the 25 MB attachment limit");
                }
                let name = url.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("file").split('?').next().unwrap_or("file").to_string();
                Ok((name, bytes))
            }
        }
    }

    /// Waits for the bot's next message (or, for `REFUSED`, its refused call) and
    /// checks it.
    async fn bot_answers(&self, person: &mut Person, step: &Step, expected: &BotStep, seen: &mut Cursor) -> Result<(), Box<Failure>> {
        let wait = expected.wait.unwrap_or(self.rules.timeout);
        let deadline = Instant::now() + wait;
        let step_began_ms = self.now_ms().await;
        let only_inbox = expected.expects_inbox() && expected.text.is_none() && expected.asserters.len() == 1;
        if only_inbox {
            return self.thread_in_inbox(person, step, deadline).await;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // A message first: the refused calls are looked at between short waits.
            let message = person.next_message(left.min(LOOK_EVERY)).await.map_err(|e| Box::new(Failure::at(step, format!("{e:#}"))))?;
            if let Some(message) = message {
                let arrived = bot_message(&message);
                if expected.expected_refusal().is_some() {
                    let mut failure = Failure::at(step, "the bot's message was accepted, where the step expects the platform to refuse it");
                    failure.expected = Some(step_lines(expected));
                    failure.actual = Some(arrived.describe());
                    return Err(Box::new(failure));
                }
                if let Err(mismatch) = expected.check(&arrived, &self.rules.matching) {
                    let mut failure = Failure::at(step, "the bot's message is not the one expected");
                    failure.expected = Some(mismatch.expected);
                    failure.actual = Some(mismatch.actual);
                    return Err(Box::new(failure));
                }
                if expected.expects_inbox() {
                    return self.thread_in_inbox(person, step, deadline).await;
                }
                return Ok(());
            }
            let refused = self.refusals_for(person, seen).await;
            if let Some(refusal) = refused.first() {
                return match expected.expected_refusal() {
                    Some((code, text)) => check_refusal(step, refusal, code, text),
                    None => {
                        let mut failure = Failure::at(step, "the bot tried to answer, and the platform refused its call");
                        failure.expected = Some(step_lines(expected));
                        failure.actual = Some("(its call was refused: below)".into());
                        failure.evidence = refused.iter().map(describe_refusal).collect();
                        Err(Box::new(failure))
                    }
                };
            }
            if Instant::now() >= deadline {
                let mut failure = Failure::at(step, format!("no answer from the bot within {} s", wait.as_secs_f64()));
                failure.expected = Some(step_lines(expected));
                failure.actual = Some("(nothing)".into());
                failure.evidence = self.webhook_failures(step_began_ms.min(seen.since_ms)).await;
                return Err(Box::new(failure));
            }
        }
    }

    /// `INBOX`: the thread's owner is the Page inbox, by the deadline.
    async fn thread_in_inbox(&self, person: &mut Person, step: &Step, deadline: Instant) -> Result<(), Box<Failure>> {
        let Some(psid) = person.psid(self.api).await else {
            return Err(Box::new(Failure::at(step, "the person has no thread with the Page yet")));
        };
        let mut owner = Value::Null;
        loop {
            let path = format!("/{}/thread_owner?recipient={psid}", self.fixture.page_id);
            if let Ok(answer) = self.api.graph(Method::GET, &path, &self.fixture.page_token, None).await {
                owner = answer["data"][0]["thread_owner"]["app_id"].clone();
                let owner_id = owner.as_str().map(str::to_string).or_else(|| owner.as_u64().map(|id| id.to_string()));
                if owner_id.as_deref() == Some(PAGE_INBOX_APP_ID) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let mut failure = Failure::at(step, "the bot did not pass the thread to the Page inbox");
                failure.expected = Some(format!("thread owner: the Page inbox ({PAGE_INBOX_APP_ID})"));
                failure.actual = Some(format!("thread owner: {owner}"));
                return Err(Box::new(failure));
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// The app's refused calls since the cursor that name this person (or no
    /// recipient the platform knows), oldest first; the cursor moves past them.
    async fn refusals_for(&self, person: &mut Person, seen: &mut Cursor) -> Vec<Value> {
        let path = format!("/apps/{}/api-errors?since={}", self.fixture.app_id, seen.refusals);
        let Ok(answer) = self.api.console(Method::GET, &path, None).await else { return Vec::new() };
        let mut entries: Vec<Value> = answer["data"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            return entries;
        }
        entries.sort_by_key(|entry| entry["id"].as_i64().unwrap_or(0));
        let psid = person.psid(self.api).await;
        let mine: Vec<Value> = entries
            .iter()
            .filter(|entry| match (entry["recipient"].as_str(), &psid) {
                (Some(recipient), Some(psid)) => recipient == psid || !recipient.chars().all(|c| c.is_ascii_digit()),
                _ => true,
            })
            .cloned()
            .collect();
        // Only this person's are consumed: another conversation's stay for it.
        if let Some(last) = mine.last() {
            seen.refusals = seen.refusals.max(last["id"].as_i64().unwrap_or(seen.refusals));
        }
        mine
    }

    async fn latest_refusal(&self) -> i64 {
        let path = format!("/apps/{}/api-errors?limit=1", self.fixture.app_id);
        match self.api.console(Method::GET, &path, None).await {
            Ok(answer) => answer["data"][0]["id"].as_i64().unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// The platform's time, in ms (the virtual clock's, on an embedded node).
    async fn now_ms(&self) -> i64 {
        match self.api.console(Method::GET, "/clock", None).await {
            Ok(answer) => answer["now"].as_i64().unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Failed webhook deliveries to the bot since `since_ms` (alike ones counted
    /// once): why it may not have answered.
    async fn webhook_failures(&self, since_ms: i64) -> Vec<String> {
        let path = format!("/apps/{}/webhook/errors?limit=10", self.fixture.app_id);
        let Ok(answer) = self.api.console(Method::GET, &path, None).await else { return Vec::new() };
        let mut alike: Vec<(String, usize)> = Vec::new();
        for attempt in answer["data"].as_array().into_iter().flatten().filter(|attempt| attempt["time"].as_i64().is_none_or(|at| at >= since_ms)) {
            let status = attempt["status"].as_i64().map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no answer".into());
            let mut line = status.clone();
            if let Some(error) = attempt["error"].as_str().filter(|e| !e.is_empty() && *e != status) {
                line.push_str(&format!(", {error}"));
            }
            if let Some(excerpt) = attempt["response_excerpt"].as_str().filter(|e| !e.is_empty()) {
                line.push_str(&format!("; the bot answered: {excerpt}"));
            }
            match alike.iter_mut().find(|(known, _)| *known == line) {
                Some((_, count)) => *count += 1,
                None => alike.push((line, 1)),
            }
        }
        alike
            .into_iter()
            .map(|(line, count)| match count {
                1 => format!("a webhook delivery to the bot failed: {line}"),
                n => format!("{n} webhook deliveries to the bot failed: {line}"),
            })
            .collect()
    }
}

/// Which refusals a conversation has seen, and when it began.
struct Cursor {
    refusals: i64,
    since_ms: i64,
}

fn check_refusal(step: &Step, refusal: &Value, code: Option<i64>, text: Option<&str>) -> Result<(), Box<Failure>> {
    let error = &refusal["error"];
    let code_ok = code.is_none_or(|code| error["code"].as_i64() == Some(code));
    let message = error["message"].as_str().unwrap_or_default();
    let text_ok = text.is_none_or(|text| message.to_lowercase().contains(&text.to_lowercase()));
    if code_ok && text_ok {
        return Ok(());
    }
    let mut failure = Failure::at(step, "the bot's call was refused, but not as the step expects");
    let mut expected = String::from("REFUSED");
    if let Some(code) = code {
        expected.push_str(&format!(" {code}"));
    }
    if let Some(text) = text {
        expected.push_str(&format!("|{text}"));
    }
    failure.expected = Some(expected);
    failure.actual = Some(format!("REFUSED {}|{message}", error["code"]));
    failure.evidence = vec![describe_refusal(refusal)];
    Err(Box::new(failure))
}

/// A refused call as the report shows it: the Graph error and the body sent.
pub(crate) fn describe_refusal(refusal: &Value) -> String {
    let error = &refusal["error"];
    let mut line = format!(
        "the platform refused the bot's {} {}: HTTP {} {}",
        refusal["method"].as_str().unwrap_or("call"),
        refusal["path"].as_str().unwrap_or_default(),
        refusal["status"],
        serde_json::to_string(error).unwrap_or_default()
    );
    if !refusal["body"].is_null() {
        line.push_str(&format!("\nthe bot sent: {}", serde_json::to_string(&refusal["body"]).unwrap_or_default()));
    }
    line
}

/// A step as one line: its section and what it does.
fn describe(action: &Action) -> String {
    match action {
        Action::Me(me) => format!("#me {}", me.to_string().replace('\n', " / ")),
        other => other.to_string(),
    }
}

/// What a `#bot` step expects, as its script lines.
fn step_lines(step: &BotStep) -> String {
    step.to_string()
}
