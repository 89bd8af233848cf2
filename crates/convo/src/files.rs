//! Finding and reading the files: the paths given (files, or directories walked
//! recursively in name order, hidden entries and Botium's `skip.`/`skip-`/`skip_`
//! files left out), each file's bytes within the bounds (1 MiB, UTF-8, a BOM
//! ignored), and the nearest `botium.json` above the paths with the capabilities
//! Switchboard reads. It reads files only; what they say is `parse`'s business.

use crate::parse::{self, Line};
use crate::{Expansion, FormatError, Location, MatchingMode};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file may be at most this long.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Convo,
    Partial,
    Utterances,
}

/// A file to read, and the name Botium gives a conversation that has none: its
/// path below the directory given (its file name when the file itself was given).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub path: PathBuf,
    pub kind: FileKind,
    pub fallback_name: String,
}

/// Botium's file names that Switchboard does not read, with what to do instead.
const OTHER_BOTIUM_FORMATS: &[(&str, &str)] = &[
    (".scriptingmemory.txt", "scripting memory is not supported"),
    (".convo.csv", "Switchboard reads BotiumScript's text files only: write it as a .convo.txt"),
    (".pconvo.csv", "Switchboard reads BotiumScript's text files only: write it as a .pconvo.txt"),
    (".utterances.csv", "Switchboard reads BotiumScript's text files only: write it as an .utterances.txt"),
    (".utterance.csv", "Switchboard reads BotiumScript's text files only: write it as an .utterances.txt"),
    (".xlsx", "Switchboard reads BotiumScript's text files only, not spreadsheets"),
    (".xlsm", "Switchboard reads BotiumScript's text files only, not spreadsheets"),
];

fn kind_of(name: &str) -> Option<FileKind> {
    if name.ends_with(".pconvo.txt") {
        Some(FileKind::Partial)
    } else if name.ends_with(".convo.txt") {
        Some(FileKind::Convo)
    } else if name.ends_with(".utterances.txt") {
        Some(FileKind::Utterances)
    } else {
        None
    }
}

fn whole_file(path: &Path, message: String) -> FormatError {
    FormatError { at: Location { file: path.to_path_buf(), line: 1 }, message }
}

/// Botium leaves out files (when walking a directory) and conversations whose name
/// begins with `skip` and a `.`, `-` or `_`.
pub(crate) fn is_skipped(name: &str) -> bool {
    let lower = name.to_lowercase();
    ["skip.", "skip-", "skip_"].iter().any(|prefix| lower.starts_with(prefix))
}

/// Every file under the paths, each once, in the order given, directories sorted by name.
pub(crate) fn discover(paths: &[PathBuf]) -> Result<Vec<Found>, FormatError> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| whole_file(path, format!("cannot read: {error}")))?;
        if metadata.is_dir() {
            let mut visited = HashSet::new();
            walk(path, path, &mut visited, &mut found, &mut seen)?;
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            refuse_other_formats(path, &name)?;
            let Some(kind) = kind_of(&name) else {
                return Err(whole_file(path, "not a BotiumScript file (*.convo.txt, *.pconvo.txt, *.utterances.txt)".into()));
            };
            if seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
                found.push(Found { path: path.clone(), kind, fallback_name: name });
            }
        }
    }
    Ok(found)
}

fn refuse_other_formats(path: &Path, name: &str) -> Result<(), FormatError> {
    match OTHER_BOTIUM_FORMATS.iter().find(|(suffix, _)| name.to_lowercase().ends_with(suffix)) {
        Some((_, why)) => Err(whole_file(path, why.to_string())),
        None => Ok(()),
    }
}

fn walk(root: &Path, dir: &Path, visited: &mut HashSet<PathBuf>, found: &mut Vec<Found>, seen: &mut HashSet<PathBuf>) -> Result<(), FormatError> {
    // A symbolic link back up the tree is walked once.
    if !visited.insert(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|error| whole_file(dir, format!("cannot read the directory: {error}")))?;
    let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || is_skipped(&name) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, visited, found, seen)?;
            continue;
        }
        refuse_other_formats(&path, &name)?;
        let Some(kind) = kind_of(&name) else { continue };
        if seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
            let relative = path.strip_prefix(root).unwrap_or(&path).components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            found.push(Found { path, kind, fallback_name: relative });
        }
    }
    Ok(())
}

/// A file's lines: at most [`MAX_FILE_BYTES`], UTF-8, a leading BOM dropped.
pub(crate) fn read(path: &Path) -> Result<Vec<Line>, FormatError> {
    let length = std::fs::metadata(path).map_err(|error| whole_file(path, format!("cannot read: {error}")))?.len();
    if length > MAX_FILE_BYTES {
        return Err(whole_file(path, format!("the file has {length} bytes; at most {MAX_FILE_BYTES} are read")));
    }
    let bytes = std::fs::read(path).map_err(|error| whole_file(path, format!("cannot read: {error}")))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let line = error.as_bytes()[..valid].iter().filter(|b| **b == b'\n').count() + 1;
        FormatError { at: Location { file: path.to_path_buf(), line }, message: "the file is not UTF-8".into() }
    })?;
    Ok(parse::lines(text.strip_prefix('\u{FEFF}').unwrap_or(&text)))
}

/// What `botium.json` sets of the capabilities Switchboard reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Config {
    pub matching: Option<MatchingMode>,
    pub expansion: Option<Expansion>,
    pub normalize: Option<bool>,
    pub bot_timeout: Option<Duration>,
    /// `SCRIPTING_UTTEXPANSION_RANDOM_COUNT` (Botium's default: 1).
    pub random_count: Option<usize>,
    /// `SCRIPTING_UTTEXPANSION_NAMING_MODE` is `utterance`: expanded conversations'
    /// names end with the utterance, cut to this many characters.
    pub name_with_utterance: Option<usize>,
}

#[derive(Deserialize)]
struct BotiumJson {
    botium: Option<BotiumSection>,
}

#[derive(Deserialize)]
struct BotiumSection {
    #[serde(rename = "Capabilities")]
    capabilities: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The nearest `botium.json` in each path's directory or above it. Several found
/// must agree on what Switchboard reads.
pub(crate) fn config(paths: &[PathBuf]) -> Result<Config, FormatError> {
    let mut chosen: Option<(PathBuf, Config)> = None;
    for path in paths {
        let start = if path.is_dir() { path.clone() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
        let start = std::path::absolute(if start.as_os_str().is_empty() { Path::new(".") } else { &start }).unwrap_or(start);
        let Some(file) = start.ancestors().map(|dir| dir.join("botium.json")).find(|file| file.is_file()) else { continue };
        let config = read_config(&file)?;
        match &chosen {
            Some((first, settled)) if *settled != config => {
                return Err(whole_file(&file, format!("its settings differ from those of {}: give paths under one botium.json", first.display())));
            }
            Some(_) => {}
            None => chosen = Some((file, config)),
        }
    }
    Ok(chosen.map(|(_, config)| config).unwrap_or_default())
}

fn read_config(file: &Path) -> Result<Config, FormatError> {
    let lines = read(file)?;
    let text = lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
    let json: BotiumJson = serde_json::from_str(&text).map_err(|error| FormatError {
        at: Location { file: file.to_path_buf(), line: error.line().max(1) },
        message: format!("not botium.json's JSON: {error}"),
    })?;
    let capabilities = json.botium.and_then(|b| b.capabilities).unwrap_or_default();
    // Errors point at the line that names the capability.
    let error = |key: &str, message: String| {
        let line = lines.iter().find(|l| l.text.contains(&format!("\"{key}\""))).map_or(1, |l| l.number);
        FormatError { at: Location { file: file.to_path_buf(), line }, message: format!("{key}: {message}") }
    };
    let text_of = |key: &str| -> Option<String> {
        capabilities.get(key).and_then(|value| match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    let flag = |key: &str| -> Result<Option<bool>, FormatError> {
        match text_of(key).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(error(key, format!("`{other}` is neither true nor false"))),
        }
    };
    let number = |key: &str| -> Result<Option<u64>, FormatError> {
        text_of(key).map(|text| text.trim().parse::<u64>().map_err(|_| error(key, format!("`{text}` is no whole number")))).transpose()
    };

    for (key, feature) in [("ASSERTERS", "custom asserters"), ("LOGIC_HOOKS", "custom logic hooks"), ("USER_INPUTS", "custom user inputs")] {
        if capabilities.get(key).is_some_and(|value| value.as_array().is_some_and(|list| !list.is_empty())) {
            return Err(error(key, format!("{feature} are not supported")));
        }
    }
    if flag("SCRIPTING_ENABLE_MEMORY")? == Some(true) {
        return Err(error("SCRIPTING_ENABLE_MEMORY", "scripting memory is not supported".into()));
    }
    for key in ["SCRIPTING_NORMALIZE_TEXT_REMOVE_CHARACTERES", "SCRIPTING_NORMALIZE_TEXT_REMOVE_REGEXP"] {
        if text_of(key).is_some_and(|v| !v.is_empty() && v != "false") {
            return Err(error(key, "removing characters before comparing is not supported".into()));
        }
    }
    let matching = text_of("SCRIPTING_MATCHING_MODE").map(|mode| mode.parse::<MatchingMode>().map_err(|m| error("SCRIPTING_MATCHING_MODE", m))).transpose()?;
    let expansion =
        text_of("SCRIPTING_UTTEXPANSION_MODE").map(|mode| mode.parse::<Expansion>().map_err(|m| error("SCRIPTING_UTTEXPANSION_MODE", m))).transpose()?;
    let name_with_utterance = match text_of("SCRIPTING_UTTEXPANSION_NAMING_MODE").as_deref() {
        None | Some("justLineTag") => None,
        Some("utterance") => Some(number("SCRIPTING_UTTEXPANSION_NAMING_UTTERANCE_MAX")?.unwrap_or(16) as usize),
        Some(other) => return Err(error("SCRIPTING_UTTEXPANSION_NAMING_MODE", format!("unknown naming mode `{other}` (justLineTag or utterance)"))),
    };
    Ok(Config {
        matching,
        expansion,
        normalize: flag("SCRIPTING_NORMALIZE_TEXT")?,
        bot_timeout: number("WAITFORBOTTIMEOUT")?.map(Duration::from_millis),
        random_count: number("SCRIPTING_UTTEXPANSION_RANDOM_COUNT")?.map(|n| n as usize),
        name_with_utterance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_skips_hidden_and_skipped_entries_and_survives_a_loop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in ["b.convo.txt", "a/c.pconvo.txt", "a/d.utterances.txt", ".hidden/e.convo.txt", "skip_f.convo.txt", "notes.md", "a/SKIP-g.convo.txt"] {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        std::os::unix::fs::symlink(root, root.join("a/loop")).unwrap();
        let found = discover(&[root.to_path_buf(), root.join("b.convo.txt")]).unwrap();
        let names: Vec<(&str, FileKind)> = found.iter().map(|f| (f.fallback_name.as_str(), f.kind)).collect();
        assert_eq!(names, [("a/c.pconvo.txt", FileKind::Partial), ("a/d.utterances.txt", FileKind::Utterances), ("b.convo.txt", FileKind::Convo)]);
    }

    #[test]
    fn the_skip_prefixes() {
        assert!(is_skipped("skip.a") && is_skipped("SKIP-a") && is_skipped("Skip_a"));
        assert!(!is_skipped("skipper") && !is_skipped("a-skip-b"));
    }
}
