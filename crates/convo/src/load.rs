//! `load`: the settings (the options over `botium.json` over Botium's defaults),
//! every file read, utterance lists merged by name, partial conversations
//! registered by name, and each conversation built, its includes played in place,
//! its utterances expanded; the conversations sorted by name, as Botium sorts them.

use crate::expand::{self, Expander};
use crate::files::{self, FileKind};
use crate::parse::{self, at};
use crate::steps::{self, Context, Item};
use crate::{Conversation, Expansion, FormatError, MatchingMode, Options, Settings, Suite};
use std::collections::HashMap;
use std::path::PathBuf;

pub(crate) fn load(paths: &[PathBuf], overrides: &Options) -> Result<Suite, FormatError> {
    let config = files::config(paths)?;
    let settings = Settings {
        matching: overrides.matching.or(config.matching).unwrap_or(MatchingMode::WildcardIgnoreCase),
        normalize: config.normalize.unwrap_or(true),
        bot_timeout: config.bot_timeout,
    };
    let found = files::discover(paths)?;

    let mut utterances: HashMap<String, Vec<String>> = HashMap::new();
    let mut scripts = Vec::new();
    for file in &found {
        let lines = files::read(&file.path)?;
        if file.kind == FileKind::Utterances {
            // Lists of one name in several files are one list, each utterance once.
            let (name, list) = parse::utterances(&file.path, &lines)?;
            let merged = utterances.entry(name).or_default();
            for utterance in list {
                if !merged.contains(&utterance) {
                    merged.push(utterance);
                }
            }
        } else {
            scripts.push((file, parse::script(&file.path, &lines)?));
        }
    }

    let mut partials: HashMap<String, Vec<Item>> = HashMap::new();
    let mut partial_files: HashMap<String, PathBuf> = HashMap::new();
    for (file, script) in scripts.iter().filter(|(file, _)| file.kind == FileKind::Partial) {
        let name = script.name.clone().unwrap_or_else(|| file.fallback_name.clone());
        let error = |message: String| Err(FormatError { at: at(&file.path, 1), message });
        if name.contains('|') {
            return error(format!("`{name}`: a partial conversation's name holds no `|`"));
        }
        if let Some(first) = partial_files.get(&name) {
            return error(format!("a second partial conversation named `{name}` (the first is {})", first.display()));
        }
        let cx = Context { file: &file.path, utterances: &utterances, settings: &settings, partial: true };
        partials.insert(name.clone(), steps::build(script, &cx)?);
        partial_files.insert(name, file.path.clone());
    }

    let mut expander = Expander {
        utterances: &utterances,
        mode: overrides.expansion.or(config.expansion).unwrap_or(Expansion::All),
        random_count: config.random_count.unwrap_or(1),
        name_with_utterance: config.name_with_utterance,
        made: 0,
    };
    let mut conversations = Vec::new();
    let mut conversation_files = 0;
    for (file, script) in scripts.iter().filter(|(file, _)| file.kind == FileKind::Convo) {
        conversation_files += 1;
        let name = script.name.clone().unwrap_or_else(|| file.fallback_name.clone());
        if files::is_skipped(&name) {
            continue;
        }
        let cx = Context { file: &file.path, utterances: &utterances, settings: &settings, partial: false };
        let steps = expand::inline(&steps::build(script, &cx)?, &partials)?;
        if steps.is_empty() {
            return Err(FormatError { at: at(&file.path, 1), message: format!("the conversation `{name}` has no steps") });
        }
        for (name, steps) in expander.expand(&name, steps, &at(&file.path, 1))? {
            conversations.push(Conversation { name, description: script.description.clone(), file: file.path.clone(), steps });
        }
    }
    if conversation_files == 0 {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let first = paths.first().cloned().unwrap_or_default();
        return Err(FormatError { at: at(&first, 1), message: format!("no conversation (*.convo.txt) under {}", shown.join(", ")) });
    }
    conversations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Suite { conversations, settings })
}
