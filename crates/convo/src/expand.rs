//! From a conversation's items to the conversations played: partial conversations
//! played in place (by name, across every file read; a cycle or a depth over
//! [`MAX_INCLUDE_DEPTH`] refused), then each `#me` text that names an utterance
//! list expanded as Botium's `SCRIPTING_UTTEXPANSION_MODE` says, the expanded
//! conversations named as Botium names them (`NAME/LIST-L1`), in all at most
//! [`MAX_CONVERSATIONS`].

use crate::steps::{resolve_utterance, Item};
use crate::{Action, Expansion, FormatError, Location, Step};
use rand::seq::SliceRandom;
use std::collections::HashMap;

pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;
pub(crate) const MAX_CONVERSATIONS: usize = 100_000;

/// The steps with every include replaced by the partial's steps.
pub(crate) fn inline(items: &[Item], partials: &HashMap<String, Vec<Item>>) -> Result<Vec<Step>, FormatError> {
    let mut steps = Vec::new();
    inline_into(items, partials, &mut Vec::new(), &mut steps)?;
    Ok(steps)
}

fn inline_into(items: &[Item], partials: &HashMap<String, Vec<Item>>, stack: &mut Vec<String>, steps: &mut Vec<Step>) -> Result<(), FormatError> {
    for item in items {
        match item {
            Item::Step(step) => steps.push(step.clone()),
            Item::Include { name, at } => {
                let error = |message: String| Err(FormatError { at: at.clone(), message });
                if stack.contains(name) {
                    return error(format!("partial conversations include each other: {} → {name}", stack.join(" → ")));
                }
                if stack.len() >= MAX_INCLUDE_DEPTH {
                    return error(format!("includes nested deeper than {MAX_INCLUDE_DEPTH}: {} → {name}", stack.join(" → ")));
                }
                let Some(partial) = partials.get(name) else {
                    let mut known: Vec<&str> = partials.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    let known = if known.is_empty() { "there are none".to_string() } else { format!("there are {}", known.join(", ")) };
                    return error(format!("no partial conversation (*.pconvo.txt) is named `{name}`; {known}"));
                };
                stack.push(name.clone());
                inline_into(partial, partials, stack, steps)?;
                stack.pop();
            }
        }
    }
    Ok(())
}

/// How utterance lists named in `#me` are played.
pub(crate) struct Expander<'a> {
    pub utterances: &'a HashMap<String, Vec<String>>,
    pub mode: Expansion,
    /// How many utterances `random` picks (Botium's `SCRIPTING_UTTEXPANSION_RANDOM_COUNT`).
    pub random_count: usize,
    /// Botium's `utterance` naming mode: the name ends with the utterance, cut to this length.
    pub name_with_utterance: Option<usize>,
    /// Conversations made so far, across the suite.
    pub made: usize,
}

impl Expander<'_> {
    /// The conversations one conversation's steps become: `(name, steps)`.
    pub(crate) fn expand(&mut self, name: &str, steps: Vec<Step>, file_at: &Location) -> Result<Vec<(String, Vec<Step>)>, FormatError> {
        let mut variants: Vec<(String, Vec<Step>)> = vec![(name.to_string(), Vec::new())];
        for step in steps {
            let list = match &step.action {
                Action::Me(me) => me.text.as_deref().and_then(|text| resolve_utterance(text, self.utterances)),
                _ => None,
            };
            let Some((list_name, utterances)) = list else {
                variants.iter_mut().for_each(|(_, steps)| steps.push(step.clone()));
                continue;
            };
            let mut next = Vec::new();
            for (name, steps) in variants {
                let chosen: Vec<String> = match self.mode {
                    Expansion::All => utterances.clone(),
                    Expansion::First => utterances[..1].to_vec(),
                    Expansion::Random => {
                        let mut shuffled = utterances.clone();
                        shuffled.shuffle(&mut rand::thread_rng());
                        shuffled.truncate(self.random_count.max(1));
                        shuffled
                    }
                };
                if next.len() + chosen.len() + self.made > MAX_CONVERSATIONS {
                    return Err(FormatError {
                        at: step.at.clone(),
                        message: format!("utterance expansion makes over {MAX_CONVERSATIONS} conversations (from {})", file_at.file.display()),
                    });
                }
                let width = chosen.len().to_string().len();
                for (index, utterance) in chosen.iter().enumerate() {
                    let mut step = step.clone();
                    if let Action::Me(me) = &mut step.action {
                        me.text = Some(utterance.clone());
                    }
                    let mut steps = steps.clone();
                    steps.push(step);
                    let name = if chosen.len() > 1 { format!("{name}/{list_name}-{}", self.postfix(index + 1, width, utterance)) } else { name.clone() };
                    next.push((name, steps));
                }
            }
            variants = next;
        }
        self.made += variants.len();
        Ok(variants)
    }

    /// Botium's `L01` (its `justLineTag` naming), or `L01-the utterance` cut to the
    /// length set (its `utterance` naming).
    fn postfix(&self, number: usize, width: usize, utterance: &str) -> String {
        let tag = format!("L{number:0width$}");
        match self.name_with_utterance {
            None => tag,
            Some(max) if max > 3 && utterance.chars().count() > max => format!("{tag}-{}...", utterance.chars().take(max - 3).collect::<String>()),
            Some(_) => format!("{tag}-{utterance}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MeStep;
    use std::path::PathBuf;

    fn at(line: usize) -> Location {
        Location { file: PathBuf::from("a.convo.txt"), line }
    }

    fn me(text: &str) -> Step {
        Step { at: at(2), action: Action::Me(MeStep { inputs: vec![], text: Some(text.into()) }) }
    }

    fn names(expander: &mut Expander, steps: Vec<Step>) -> Vec<String> {
        expander.expand("A", steps, &at(1)).unwrap().into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn names_are_botiums_line_tags_padded_to_the_lists_length() {
        let utterances = HashMap::from([
            ("TEN".to_string(), (1..=10).map(|n| format!("utterance {n}")).collect::<Vec<_>>()),
            ("TWO".to_string(), vec!["yes".to_string(), "a rather long utterance".to_string()]),
            ("ONE".to_string(), vec!["only".to_string()]),
        ]);
        let mut expander = Expander { utterances: &utterances, mode: Expansion::All, random_count: 1, name_with_utterance: None, made: 0 };
        let ten = names(&mut expander, vec![me("TEN")]);
        assert_eq!((ten[0].as_str(), ten[9].as_str()), ("A/TEN-L01", "A/TEN-L10"));
        // Each expansion multiplies, the names nest; a list of one adds nothing.
        assert_eq!(names(&mut expander, vec![me("TWO"), me("ONE"), me("TWO")]), ["A/TWO-L1/TWO-L1", "A/TWO-L1/TWO-L2", "A/TWO-L2/TWO-L1", "A/TWO-L2/TWO-L2"]);
        assert_eq!(expander.made, 14);

        let mut by_utterance = Expander { utterances: &utterances, mode: Expansion::All, random_count: 1, name_with_utterance: Some(16), made: 0 };
        assert_eq!(names(&mut by_utterance, vec![me("TWO")]), ["A/TWO-L1-yes", "A/TWO-L2-a rather long..."]);
    }

    #[test]
    fn first_and_random_pick_without_renaming() {
        let utterances = HashMap::from([("TWO".to_string(), vec!["yes".to_string(), "sure".to_string()])]);
        let mut first = Expander { utterances: &utterances, mode: Expansion::First, random_count: 1, name_with_utterance: None, made: 0 };
        let made = first.expand("A", vec![me("TWO please")], &at(1)).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].0, "A");
        // The words after the name are appended where the utterance has no `%s`.
        assert_eq!(made[0].1, vec![me("yes please")]);
        let mut random = Expander { utterances: &utterances, mode: Expansion::Random, random_count: 2, name_with_utterance: None, made: 0 };
        let mut texts: Vec<String> = random
            .expand("A", vec![me("TWO")], &at(1))
            .unwrap()
            .into_iter()
            .map(|(_, steps)| match &steps[0].action {
                Action::Me(me) => me.text.clone().unwrap(),
                _ => unreachable!(),
            })
            .collect();
        texts.sort();
        assert_eq!(texts, ["sure", "yes"]);
    }
}
