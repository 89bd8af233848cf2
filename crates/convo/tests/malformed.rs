//! Files that cannot be played, written to a temporary directory and read through
//! `load`: each malformed line, each Botium feature Switchboard refuses, and each
//! bound gives its `file:line` and why. And what Botium accepts that looks odd:
//! CRLF and a BOM, asserter names in `#me`, paths given one by one.

use std::path::{Path, PathBuf};
use switchboard_convo::*;
use tempfile::TempDir;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn files(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

fn load_dir(dir: &TempDir) -> Result<Suite, FormatError> {
    load(&[dir.path().to_path_buf()], &Options::default())
}

/// The error, its path shown relative to the directory.
fn error_of(given: &[(&str, &str)]) -> String {
    let dir = files(given);
    let error = load_dir(&dir).map(|suite| suite.conversations.len()).expect_err("a refusal");
    error.to_string().replace(&format!("{}/", dir.path().display()), "")
}

fn steps_of(given: &[(&str, &str)]) -> Vec<Step> {
    let dir = files(given);
    let mut suite = load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suite.conversations.len(), 1);
    suite.conversations.remove(0).steps
}

fn bot_asserters(steps: &[Step]) -> Vec<Asserter> {
    steps
        .iter()
        .flat_map(|step| match &step.action {
            Action::Bot(bot) => bot.asserters.clone(),
            _ => vec![],
        })
        .collect()
}

#[test]
fn malformed_sections_and_lines() {
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n\n#me\nhi\n#bto\nx")]),
        "a.convo.txt:5: unknown section `#bto` (sections: #me, #bot, #begin, #end, #include, #wait, #silence)"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nhi\n#bot web\nhello")]),
        "a.convo.txt:4: `#bot web`: Botium's channels are not supported; write `#bot` alone"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nBUTTON Yes\nhello")]),
        "a.convo.txt:4: no text expected here, after `BUTTON Yes`: in `#me`, write the text before the inputs and logic hooks"
    );
    assert_eq!(error_of(&[("a.convo.txt", "A\n#me\n\n#bot\nhi")]), "a.convo.txt:2: this `#me` says and does nothing");
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#begin\nhello\n#me\nhi")]),
        "a.convo.txt:3: text in `#begin` is never sent: `#begin` and `#end` hold logic hooks (PAUSE, INCLUDE)"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nhi\n#wait 1h\nhello")]),
        "a.convo.txt:5: `#wait` and `#silence` hold no lines: start a section (`#me`, `#bot`...) before this one"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nhi\n#silence soon")]),
        "a.convo.txt:4: `#silence soon`: a duration is a number and a unit (ms, s, m, h, d), combined as `1d2h`"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\n{\"text\": \"hi\"}")]),
        "a.convo.txt:3: a JSON message (Botium's sourceData) is not supported: write the text"
    );
    assert_eq!(error_of(&[("a.convo.txt", "A\n#me\nhi\n#bot\n?hello")]), "a.convo.txt:5: optional steps (`?`) are not supported");
    assert_eq!(error_of(&[("a.convo.txt", "A\n#me\nhi\n#bot\n?BUTTONS x")]), "a.convo.txt:5: optional asserters (`?`) are not supported");
    assert_eq!(error_of(&[("a.convo.txt", "A\n")]), "a.convo.txt:1: the conversation `A` has no steps");
    let dir = files(&[("a.utterances.txt", "A\nhi")]);
    assert_eq!(load_dir(&dir).unwrap_err().to_string(), format!("{0}:1: no conversation (*.convo.txt) under {0}", dir.path().display()));
}

#[test]
fn wrong_arguments() {
    let in_bot = |line: &str| error_of(&[("a.convo.txt", &format!("A\n#me\nhi\n#bot\n{line}"))]);
    let in_me = |line: &str| error_of(&[("a.convo.txt", &format!("A\n#me\n{line}"))]);
    assert_eq!(in_bot("BUTTONS_COUNT many"), "a.convo.txt:5: `many` is no count: write 3, >2, >=2, <4, <=4 or =3");
    assert_eq!(in_bot("PAUSE soon"), "a.convo.txt:5: PAUSE takes one whole number of milliseconds");
    assert_eq!(in_bot("WAITFORBOT"), "a.convo.txt:5: WAITFORBOT takes one number of milliseconds above zero (Switchboard never waits without end)");
    assert_eq!(in_me("WAITFORBOT 100"), "a.convo.txt:3: WAITFORBOT in `#me`: it sets how long a `#bot` step waits, so it belongs in `#bot`");
    assert_eq!(in_bot("INCLUDE SUB|other"), "a.convo.txt:5: INCLUDE takes one partial conversation's name");
    assert_eq!(in_bot("REFUSED ten"), "a.convo.txt:5: REFUSED's code `ten` is no number");
    assert_eq!(in_bot("!INBOX"), "a.convo.txt:5: `!INBOX` is not supported: a step without INBOX already expects the opposite");
    let dir = files(&[("a.convo.txt", "A\n#me\nMEDIA missing.png")]);
    let error = load_dir(&dir).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}:3: `MEDIA missing.png`: no file {}", dir.path().join("a.convo.txt").display(), dir.path().join("missing.png").display())
    );
    assert_eq!(
        in_me("MEDIA pictures/*.png"),
        "a.convo.txt:3: `MEDIA pictures/*.png`: a wildcard of files (one conversation per file in Botium) is not supported"
    );
    assert_eq!(in_me("LOCATION 91|0"), "a.convo.txt:3: `LOCATION 91|0`: LOCATION's latitude is within ±90 and its longitude within ±180");
    assert_eq!(in_me("READ now"), "a.convo.txt:3: `READ now`: READ takes no arguments");
    assert_eq!(in_me("REF"), "a.convo.txt:3: `REF`: REF takes one argument");
}

#[test]
fn botiums_features_that_need_what_switchboard_lacks_are_refused() {
    for (line, feature) in [
        ("INTENT greeting", "an NLU engine's intent"),
        ("INTENT_CONFIDENCE 80", "an NLU engine's intent"),
        ("ENTITIES city", "an NLU engine's entities"),
        ("ENTITY_VALUES Berlin", "an NLU engine's entities"),
        ("JSON_PATH $.text", "a connector's raw JSON"),
        ("TEXT_WER hello|10", "the word error rate"),
        ("SET_SCRIPTING_MEMORY name|Joe", "scripting memory"),
        ("ASSIGN_SCRIPTING_MEMORY name|$.a", "scripting memory"),
        ("CONDITIONAL_STEP_TIME_BASED 8:00|17:00", "conditional steps"),
        ("UPDATE_CUSTOM SET_DIALOGFLOW_QUERYPARAMS|a|b", "changing a connector's request"),
        ("SKIP_BOT_UNCONSUMED", "Botium's queue of unread bot messages"),
        ("BOT_CONSUMED", "Botium's queue of unread bot messages"),
        ("CONVO_STEP_PARAMETERS {}", "step parameters"),
        ("!FORMS a", "forms"),
    ] {
        let name = line.trim_start_matches('!').split(' ').next().unwrap();
        assert_eq!(
            error_of(&[("a.convo.txt", &format!("A\n#me\nhi\n\n#bot\nhello\n{line}"))]),
            format!("a.convo.txt:7: `{name}` needs {feature}, which Switchboard does not support"),
        );
    }
    assert_eq!(error_of(&[("a.convo.txt", "A\n#me\nFORM name|Joe")]), "a.convo.txt:3: `FORM` needs forms, which Switchboard does not support");
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#begin\nSET_SCRIPTING_MEMORY a|b\n#me\nhi")]),
        "a.convo.txt:3: `SET_SCRIPTING_MEMORY` needs scripting memory, which Switchboard does not support"
    );
    assert_eq!(
        error_of(&[("memory.scriptingmemory.txt", "|$name\ncase|Joe"), ("a.convo.txt", "A\n#me\nhi")]),
        "memory.scriptingmemory.txt:1: scripting memory is not supported"
    );
    assert_eq!(
        error_of(&[("a.convo.csv", "me,hi"), ("a.convo.txt", "A\n#me\nhi")]),
        "a.convo.csv:1: Switchboard reads BotiumScript's text files only: write it as a .convo.txt"
    );
}

#[test]
fn names_botium_registers_elsewhere_are_text() {
    // In `#me` an asserter's name is text; in `#bot` a person input's; an unknown
    // UPPER_CASE word is text everywhere; `$name` without scripting memory is text.
    let steps =
        steps_of(&[("a.convo.txt", "A\n#me\nINTENT greeting\n#bot\nBUTTON Yes\n#me\nHELLO_WORLD 1|2\n#bot\nIt costs $price\n#me\nok\n#bot\nFORM name|Joe")]);
    let texts: Vec<String> = steps
        .iter()
        .map(|s| match &s.action {
            Action::Me(me) => me.text.clone().unwrap(),
            Action::Bot(bot) => bot.text.as_ref().unwrap().alternatives.join("/"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["INTENT greeting", "BUTTON Yes", "HELLO_WORLD 1|2", "It costs $price", "ok", "FORM name|Joe"]);
}

#[test]
fn botium_json_refusals_name_their_line() {
    let convo = ("a.convo.txt", "A\n#me\nhi");
    let json =
        |capabilities: &str| format!("{{\n  \"botium\": {{\n    \"Capabilities\": {{\n      \"PROJECTNAME\": \"x\",\n{capabilities}\n    }}\n  }}\n}}\n");
    assert_eq!(
        error_of(&[("botium.json", &json("      \"SCRIPTING_ENABLE_MEMORY\": true")), convo]),
        "botium.json:5: SCRIPTING_ENABLE_MEMORY: scripting memory is not supported"
    );
    assert_eq!(
        error_of(&[("botium.json", &json("      \"ASSERTERS\": [{\"ref\": \"MY\", \"src\": \"x.js\"}]")), convo]),
        "botium.json:5: ASSERTERS: custom asserters are not supported"
    );
    assert_eq!(
        error_of(&[("botium.json", &json("      \"SCRIPTING_MATCHING_MODE\": \"wer\"")), convo]),
        "botium.json:5: SCRIPTING_MATCHING_MODE: the matching mode `wer` (word error rate) is not supported"
    );
    assert!(error_of(&[("botium.json", &json("      \"SCRIPTING_MATCHING_MODE\": \"fuzzy\"")), convo])
        .starts_with("botium.json:5: SCRIPTING_MATCHING_MODE: unknown matching mode `fuzzy`"));
    assert_eq!(
        error_of(&[("botium.json", &json("      \"SCRIPTING_UTTEXPANSION_MODE\": \"index\"")), convo]),
        "botium.json:5: SCRIPTING_UTTEXPANSION_MODE: the utterance expansion mode `index` is not supported (use all, first or random)"
    );
    assert_eq!(error_of(&[("botium.json", "{ \"botium\": "), convo]), "botium.json:1: not botium.json's JSON: EOF while parsing a value at line 1 column 12");

    // Strings are read as Botium reads them, and a botium.json above the path counts.
    let dir = files(&[
        ("botium.json", &json("      \"SCRIPTING_NORMALIZE_TEXT\": \"false\",\n      \"WAITFORBOTTIMEOUT\": \"2500\"")),
        ("convos/a.convo.txt", "A\n#me\nhi"),
    ]);
    let suite = load(&[dir.path().join("convos")], &Options::default()).unwrap();
    assert_eq!(
        suite.settings,
        Settings { matching: MatchingMode::WildcardIgnoreCase, normalize: false, bot_timeout: Some(std::time::Duration::from_millis(2500)) }
    );
}

#[test]
fn includes_missing_circular_or_too_deep() {
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nhi\nINCLUDE Nope")]),
        "a.convo.txt:4: no partial conversation (*.pconvo.txt) is named `Nope`; there are none"
    );
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#include One"), ("one.pconvo.txt", "One\n#include Two"), ("two.pconvo.txt", "Two\n#bot\nhi\nINCLUDE One")]),
        "two.pconvo.txt:4: partial conversations include each other: One → Two → One"
    );
    let dir = files(&[("a.convo.txt", "A\n#me\nhi"), ("one.pconvo.txt", "Same\n#bot\nhi"), ("two.pconvo.txt", "Same\n#bot\nho")]);
    let error = load_dir(&dir).unwrap_err();
    assert_eq!(error.at, Location { file: dir.path().join("two.pconvo.txt"), line: 1 });
    assert_eq!(error.message, format!("a second partial conversation named `Same` (the first is {})", dir.path().join("one.pconvo.txt").display()));
    assert_eq!(
        error_of(&[("a.convo.txt", "A\n#me\nhi"), ("p.pconvo.txt", "#begin\nPAUSE 10\n#bot\nhi")]),
        "p.pconvo.txt:2: a partial conversation's `#begin` and `#end` are never run (Botium ignores them): move this line"
    );

    let chain = |depth: usize| -> Vec<(String, String)> {
        let mut files = vec![("a.convo.txt".to_string(), "A\n#me\nhi\nINCLUDE P1".to_string())];
        for n in 1..=depth {
            let next = if n == depth { "#bot\nthe bottom".to_string() } else { format!("#include P{}", n + 1) };
            files.push((format!("p{n:02}.pconvo.txt"), format!("P{n}\n{next}")));
        }
        files
    };
    let sixteen = chain(16);
    let given: Vec<(&str, &str)> = sixteen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(steps_of(&given).len(), 2, "sixteen partials deep still play");
    let seventeen = chain(17);
    let given: Vec<(&str, &str)> = seventeen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let path: Vec<String> = (1..=17).map(|n| format!("P{n}")).collect();
    assert_eq!(error_of(&given), format!("p16.pconvo.txt:2: includes nested deeper than 16: {}", path.join(" → ")));
}

#[test]
fn bounds_on_files_and_expansion() {
    let big = format!("A\n#me\n{}", "x".repeat(1024 * 1024));
    assert_eq!(error_of(&[("a.convo.txt", &big)]), format!("a.convo.txt:1: the file has {} bytes; at most 1048576 are read", big.len()));

    let dir = files(&[]);
    std::fs::write(dir.path().join("a.convo.txt"), b"A\n#me\nhi\n#bot\n\xff\xfe").unwrap();
    assert_eq!(load_dir(&dir).unwrap_err().to_string(), format!("{}:5: the file is not UTF-8", dir.path().join("a.convo.txt").display()));

    // 320 × 320 conversations is more than 100,000.
    let many: String = std::iter::once("MANY".to_string()).chain((0..320).map(|n| format!("utterance {n}"))).collect::<Vec<_>>().join("\n");
    let error = error_of(&[("many.utterances.txt", &many), ("a.convo.txt", "A\n#me\nMANY\n#bot\n#me\nMANY\n#bot")]);
    assert!(error.starts_with("a.convo.txt:5: utterance expansion makes over 100000 conversations"), "{error}");
    let dir = files(&[("many.utterances.txt", &many), ("a.convo.txt", "A\n#me\nMANY\n#bot\n#me\nMANY\n#bot")]);
    assert_eq!(load(&[dir.path().to_path_buf()], &Options { expansion: Some(Expansion::First), ..Options::default() }).unwrap().conversations.len(), 1);
}

#[test]
fn crlf_a_bom_and_regular_expressions_checked_when_read() {
    let dir = files(&[("a.convo.txt", "\u{feff}A\r\n#me\r\nhi\r\n#bot\r\nhello\r\n")]);
    let suite = load_dir(&dir).unwrap();
    // Without botium.json, Botium's defaults.
    assert_eq!(suite.settings, Settings { matching: MatchingMode::WildcardIgnoreCase, normalize: true, bot_timeout: None });
    let conversation = &suite.conversations[0];
    assert_eq!(conversation.name, "A");
    assert_eq!(conversation.steps.iter().map(|s| s.at.line).collect::<Vec<_>>(), [2, 4]);
    let Action::Bot(bot) = &conversation.steps[1].action else { panic!() };
    assert_eq!(bot.text.as_ref().unwrap().alternatives, ["hello"]);

    let dir = files(&[("a.convo.txt", "A\n#me\nhi\n#bot\n(?<=a)b")]);
    let error = load(&[dir.path().to_path_buf()], &Options { matching: Some(MatchingMode::Regexp), ..Options::default() }).unwrap_err();
    assert_eq!(error.at.line, 5);
    assert!(error.message.starts_with("`(?<=a)b` is no regular expression Switchboard reads"), "{}", error.message);
    // The same text is fine where `(` is no syntax.
    assert!(load_dir(&dir).is_ok());
    assert_eq!(error_of(&[("a.convo.txt", "A\n#me\nhi\n#bot\nTEXT_REGEXP_ANY (unclosed")]).split(':').nth(1), Some("5"));
}

#[test]
fn recursive_counts_and_odd_but_valid_lines() {
    let steps = steps_of(&[(
        "a.convo.txt",
        "A\n#me\nhi\n#bot\nBUTTONS_COUNT_REC 2\nMEDIA_COUNT_REC >1\nCARDS_COUNT_REC <3\n!MEDIA_COUNT\nTEXT\n!TEXT_EQUALS_IC Bye\nREFUSED |window",
    )]);
    let asserters = bot_asserters(&steps);
    let count = |op, value| Count { op, value };
    assert_eq!(
        asserters.iter().map(|a| (a.kind.clone(), a.not)).collect::<Vec<_>>(),
        vec![
            (AsserterKind::ButtonsCountRec(count(CountOp::Equal, 2)), false),
            (AsserterKind::MediaCountRec(count(CountOp::Greater, 1)), false),
            (AsserterKind::CardsCount(count(CountOp::Less, 3)), false),
            (AsserterKind::MediaCount(count(CountOp::Greater, 0)), true),
            (AsserterKind::Text { op: TextOp::Equals, ignore_case: false, all: false, args: vec![] }, false),
            (AsserterKind::Text { op: TextOp::Equals, ignore_case: true, all: false, args: vec!["Bye".into()] }, true),
            (AsserterKind::Refused { code: None, text: Some("window".into()) }, false),
        ]
    );
    let Action::Bot(step) = &steps[1].action else { panic!() };
    let settings = Settings { matching: MatchingMode::WildcardIgnoreCase, normalize: true, bot_timeout: None };
    let button = |title: &str| Choice { title: title.into(), payload: None };
    let card = |image: Option<&str>, buttons: Vec<Choice>| Card { title: "c".into(), image_url: image.map(str::to_string), buttons, ..Card::default() };
    let good = BotMessage {
        text: Some("hello".into()),
        buttons: vec![button("a")],
        cards: vec![card(Some("https://x/1.png"), vec![button("b")]), card(Some("https://x/2.png"), vec![])],
        ..BotMessage::default()
    };
    assert_eq!(step.check(&good, &settings), Ok(()));
    let failure = step.check(&BotMessage { text: Some("BYE".into()), media: vec!["https://x/3.png".into()], ..good.clone() }, &settings).unwrap_err();
    assert_eq!(failure.expected, "!MEDIA_COUNT >0 (there are 1)\n!TEXT_EQUALS_IC Bye (matched: Bye)");
    assert!(step.check(&BotMessage { text: None, ..good.clone() }, &settings).unwrap_err().expected.contains("TEXT_EQUALS (expected some text)"));
}

#[test]
fn paths_given_one_by_one_share_their_partials_and_utterances() {
    let convos = files(&[("a.convo.txt", "A\n#me\nGREETING\nINCLUDE Shared"), ("b.convo.txt", "B\n#me\nnot read")]);
    let shared = files(&[("shared.pconvo.txt", "Shared\n#bot\nhi"), ("greeting.utterances.txt", "GREETING\nhello\nhey")]);
    let suite = load(&[convos.path().join("a.convo.txt"), shared.path().to_path_buf()], &Options::default()).unwrap();
    let names: Vec<&str> = suite.conversations.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["A/GREETING-L1", "A/GREETING-L2"]);
    assert_eq!(suite.conversations[0].steps[1].at, Location { file: shared.path().join("shared.pconvo.txt"), line: 2 });
    let missing = convos.path().join("nothing-here");
    assert_eq!(load(std::slice::from_ref(&missing), &Options::default()).unwrap_err().at, Location { file: missing, line: 1 });
}
