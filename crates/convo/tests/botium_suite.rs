//! The fixture suite (`tests/fixtures/botium/`, written in Botium's documented
//! format) read through `load` as the runner reads it: its steps exactly, its
//! expansion, its settings from `botium.json` and over them the options; and its
//! `#bot` steps checked against messages built as the runner builds them, passing
//! and failing, negated too, with what the report would show.

use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_convo::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/botium")
}

fn suite(options: Options) -> Suite {
    load(&[fixtures()], &options).unwrap_or_else(|error| panic!("the fixtures load: {error}"))
}

fn conversation<'a>(suite: &'a Suite, name: &str) -> &'a Conversation {
    suite.conversations.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no conversation {name}"))
}

fn at(file: &str, line: usize) -> Location {
    Location { file: fixtures().join(file), line }
}

fn me(file: &str, line: usize, inputs: Vec<PersonInput>, text: Option<&str>) -> Step {
    Step { at: at(file, line), action: Action::Me(MeStep { inputs, text: text.map(str::to_string) }) }
}

fn bot(file: &str, line: usize, text: &[&str], not: bool, asserters: Vec<Asserter>, wait: Option<Duration>) -> Step {
    let text = (!text.is_empty()).then(|| TextExpectation { alternatives: text.iter().map(|t| t.to_string()).collect(), not });
    Step { at: at(file, line), action: Action::Bot(BotStep { text, asserters, wait }) }
}

fn is(kind: AsserterKind) -> Asserter {
    Asserter { kind, not: false }
}

fn is_not(kind: AsserterKind) -> Asserter {
    Asserter { kind, not: true }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn bot_step(conversation: &Conversation, index: usize) -> &BotStep {
    match &conversation.steps[index].action {
        Action::Bot(step) => step,
        other => panic!("step {index} of {} is {other:?}", conversation.name),
    }
}

fn choice(title: &str, payload: &str) -> Choice {
    Choice { title: title.into(), payload: Some(payload.into()) }
}

fn text(text: &str) -> BotMessage {
    BotMessage { text: Some(text.into()), ..BotMessage::default() }
}

#[test]
fn the_suite_is_every_conversation_sorted_by_name_with_botium_json_settings() {
    let suite = suite(Options::default());
    let names: Vec<&str> = suite.conversations.iter().map(|c| c.name.as_str()).collect();
    // skip-draft.convo.txt (by its file name) and "SKIP_later" (by its name) are left out.
    assert_eq!(
        names,
        [
            "Greeting with buttons/GREETINGS-L1",
            "Greeting with buttons/GREETINGS-L2",
            "Greeting with buttons/GREETINGS-L3",
            "Matching modes",
            "Negation, literals and text asserters",
            "Ordering with a partial, quick replies and a location",
            "subdir/unnamed.convo.txt",
        ]
    );
    assert_eq!(suite.settings, Settings { matching: MatchingMode::WildcardIgnoreCase, normalize: true, bot_timeout: Some(Duration::from_millis(4000)) });
    let greeting = conversation(&suite, "Greeting with buttons/GREETINGS-L2");
    assert_eq!(greeting.description.as_deref(), Some("The person greets in three ways; the bot offers buttons, then a card."));
    assert_eq!(greeting.file, fixtures().join("greeting.convo.txt"));
    assert!(!greeting.moves_clock());
}

#[test]
fn a_conversation_reads_into_these_steps() {
    let suite = suite(Options::default());
    let greeting = conversation(&suite, "Greeting with buttons/GREETINGS-L2");
    let file = "greeting.convo.txt";
    assert_eq!(
        greeting.steps,
        vec![
            Step { at: at(file, 4), action: Action::Pause(Duration::from_millis(100)) },
            me(file, 7, vec![], Some("hi there")),
            bot(
                file,
                10,
                &["Hi! What can I do for you?", "Hello! How can I help?"],
                false,
                vec![
                    is(AsserterKind::Buttons(strings(&["Show a card", "Talk to a human"]))),
                    is(AsserterKind::ButtonsCount(Count { op: CountOp::GreaterOrEqual, value: 2 })),
                ],
                None,
            ),
            me(file, 15, vec![PersonInput::Button("Show a card".into())], None),
            bot(
                file,
                18,
                &[],
                false,
                vec![
                    is(AsserterKind::Cards(strings(&["Switchboard"]))),
                    is(AsserterKind::CardsCount(Count { op: CountOp::Equal, value: 1 })),
                    is(AsserterKind::Media(strings(&["*logo.png"]))),
                    is_not(AsserterKind::Buttons(strings(&["Delete everything"]))),
                ],
                None,
            ),
            // PAUSE runs once the step is done; #end's after the last step.
            Step { at: at(file, 18), action: Action::Pause(Duration::from_millis(250)) },
            Step { at: at(file, 25), action: Action::Pause(Duration::from_millis(50)) },
        ]
    );
}

#[test]
fn partials_play_in_place_and_switchboards_steps_read() {
    let suite = suite(Options::default());
    let order = conversation(&suite, "Ordering with a partial, quick replies and a location");
    let file = "order.convo.txt";
    assert_eq!(order.description, None);
    assert_eq!(
        order.steps,
        vec![
            me(file, 2, vec![PersonInput::GetStarted(Some("welcome-campaign".into()))], None),
            bot("login.pconvo.txt", 3, &["Please log in first."], false, vec![is(AsserterKind::Buttons(strings(&["Log in"])))], None),
            // Botium's `BUTTON payload|text`: the payload is what is tapped.
            me("login.pconvo.txt", 7, vec![PersonInput::Button("LOGIN_PAYLOAD".into())], None),
            bot("login.pconvo.txt", 10, &["Welcome back*"], false, vec![], None),
            bot(file, 7, &["What would you like?"], false, vec![is(AsserterKind::QuickReplies(strings(&["Pizza", "Salad"])))], None),
            me(file, 11, vec![PersonInput::QuickReply("Pizza".into())], None),
            bot(file, 14, &["Where should it go?"], false, vec![], Some(Duration::from_millis(8000))),
            me(file, 18, vec![PersonInput::Location { lat: 52.52, long: 13.405 }], None),
            bot("confirm.pconvo.txt", 5, &["Shall I send it there?"], false, vec![is(AsserterKind::QuickReplies(strings(&["Yes", "No"])))], None),
            me("confirm.pconvo.txt", 9, vec![PersonInput::QuickReply("Yes".into())], None),
            me(file, 22, vec![PersonInput::Media(MediaSource::File(fixtures().join("media/receipt.png"))), PersonInput::Read, PersonInput::Delivered], None),
            Step { at: at(file, 27), action: Action::Wait(Duration::from_secs(25 * 3600)) },
            me(file, 29, vec![PersonInput::Referral("reorder-link".into())], Some("Again, please")),
            bot(file, 33, &[], false, vec![is(AsserterKind::Refused { code: Some(10), text: Some("outside of allowed window".into()) })], None),
            Step { at: at(file, 36), action: Action::Silence(Duration::from_secs(2)) },
            bot(file, 38, &[], false, vec![is(AsserterKind::Inbox)], None),
        ]
    );
    assert!(order.moves_clock());
    assert_eq!(bot_step(order, 13).expected_refusal(), Some((Some(10), Some("outside of allowed window"))));
    assert!(bot_step(order, 15).expects_inbox());
    assert!(!bot_step(order, 13).expects_inbox());
    // The runner's asserters are not the message's to check.
    assert_eq!(bot_step(order, 13).check(&text("anything"), &suite.settings), Ok(()));
}

#[test]
fn negation_literals_and_sections_that_are_text() {
    let suite = suite(Options::default());
    let negation = conversation(&suite, "Negation, literals and text asserters");
    let file = "negation.convo.txt";
    let text_asserter = |op, ignore_case, all, args: &[&str]| AsserterKind::Text { op, ignore_case, all, args: strings(args) };
    assert_eq!(
        negation.steps,
        vec![
            me(file, 3, vec![], Some("!important")),
            bot(
                file,
                6,
                &["Sorry*"],
                true,
                vec![
                    is(text_asserter(TextOp::Contains, false, false, &["important", "urgent"])),
                    is_not(text_asserter(TextOp::Contains, true, true, &["error", "failure"])),
                    is(text_asserter(TextOp::Regexp, false, false, &["^[Gg]ot it"])),
                    is(AsserterKind::Buttons(strings(&["Yes|No"]))),
                ],
                None,
            ),
            me(file, 13, vec![], Some("? what")),
            bot(file, 16, &[], false, vec![], None),
        ]
    );
    let unnamed = conversation(&suite, "subdir/unnamed.convo.txt");
    let file = "subdir/unnamed.convo.txt";
    assert_eq!(unnamed.steps, vec![me(file, 1, vec![], Some("# not a section, just text")), bot(file, 4, &["## also text"], false, vec![], None)]);
}

#[test]
fn utterance_expansion_follows_the_mode() {
    let first = suite(Options { expansion: Some(Expansion::First), ..Options::default() });
    let greeting = conversation(&first, "Greeting with buttons");
    assert_eq!(greeting.steps[1], me("greeting.convo.txt", 7, vec![], Some("hello")));
    assert_eq!(first.conversations.len(), 5);

    let all = suite(Options::default());
    let texts: Vec<Option<String>> = (1..=3)
        .map(|n| match &conversation(&all, &format!("Greeting with buttons/GREETINGS-L{n}")).steps[1].action {
            Action::Me(me) => me.text.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, [Some("hello".into()), Some("hi there".into()), Some("good morning".into())]);

    let random = suite(Options { expansion: Some(Expansion::Random), ..Options::default() });
    let Action::Me(picked) = &conversation(&random, "Greeting with buttons").steps[1].action else { panic!("a #me step") };
    assert!(["hello", "hi there", "good morning"].contains(&picked.text.as_deref().unwrap()), "{picked:?}");
}

#[test]
fn options_override_botium_json() {
    let suite = suite(Options { matching: Some(MatchingMode::Equals), ..Options::default() });
    assert_eq!(suite.settings.matching, MatchingMode::Equals);
    let step = bot_step(conversation(&suite, "Matching modes"), 1);
    // `*` is no wildcard in `equals`.
    assert!(step.check(&text("Hello there, how are you"), &suite.settings).is_err());
    assert_eq!(step.check(&text("Hello*you"), &suite.settings), Ok(()));
    let wildcards = Settings { matching: MatchingMode::WildcardIgnoreCase, ..suite.settings.clone() };
    assert_eq!(step.check(&text("hello there, how are YOU"), &wildcards), Ok(()));
}

#[test]
fn every_matching_mode_compares_as_botiums() {
    use MatchingMode::*;
    let modes = [
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
    ];
    // (expected, actual, whether each mode above accepts it)
    let cases: &[(&str, &str, [bool; 11])] = &[
        ("Hello*you", "Hello there, how are you", [true, true, true, true, false, false, false, false, false, false, false]),
        ("Hello*you", "Well, hello there, how are you today", [false, true, false, false, false, false, false, false, false, false, false]),
        ("how are", "Hello there, how are you", [true, true, false, false, true, true, true, false, false, true, true]),
        ("HOW ARE", "Hello there, how are you", [false, true, false, false, false, true, true, false, false, false, true]),
        ("hello there, how are you", "Hello there, how are you", [false, true, false, true, false, true, true, false, true, false, true]),
        ("^Hello.*you$", "Hello there, how are you", [false, false, false, false, false, false, false, false, false, true, true]),
        // Normalized first: tags and repeated blanks go, in the expected text too.
        ("Hello there, how are you", "<p>Hello   there,</p>how are you ", [true, true, true, true, true, true, true, true, true, true, true]),
    ];
    for (expected, actual, accepted) in cases {
        let step = BotStep { text: Some(TextExpectation { alternatives: vec![expected.to_string()], not: false }), ..BotStep::default() };
        let negated = BotStep { text: Some(TextExpectation { alternatives: vec![expected.to_string()], not: true }), ..BotStep::default() };
        for (mode, accepted) in modes.iter().zip(accepted) {
            let settings = Settings { matching: *mode, normalize: true, bot_timeout: None };
            assert_eq!(step.check(&text(actual), &settings).is_ok(), *accepted, "{mode}: {expected:?} against {actual:?}");
            assert_eq!(negated.check(&text(actual), &settings).is_ok(), !*accepted, "{mode}: !{expected:?} against {actual:?}");
        }
    }
    // Without normalization the blanks count.
    let step = BotStep { text: Some(TextExpectation { alternatives: vec!["a b".into()], not: false }), ..BotStep::default() };
    assert!(step.check(&text("a  b"), &Settings { matching: Include, normalize: false, bot_timeout: None }).is_err());
    assert!(step.check(&text("a  b"), &Settings { matching: Include, normalize: true, bot_timeout: None }).is_ok());
}

#[test]
fn buttons_and_counts_pass_and_fail_with_what_the_report_shows() {
    let suite = suite(Options::default());
    let settings = &suite.settings;
    let step = bot_step(conversation(&suite, "Greeting with buttons/GREETINGS-L1"), 2);
    let offered = BotMessage {
        text: Some("Hi! What can I do for you?".into()),
        buttons: vec![choice("Show a card", "SHOW_CARD"), choice("Talk to a human", "HUMAN")],
        ..BotMessage::default()
    };
    assert_eq!(step.check(&offered, settings), Ok(()));
    // Quick replies count as buttons (Botium's Messenger connectors report them so); text is normalized.
    let as_quick_replies = BotMessage {
        text: Some("<p>Hello!   How can I help?</p>".into()),
        quick_replies: vec![choice("Show a card", "SHOW_CARD"), choice("Talk to a human", "HUMAN")],
        ..BotMessage::default()
    };
    assert_eq!(step.check(&as_quick_replies, settings), Ok(()));

    let wrong_text = BotMessage { text: Some("Bye".into()), ..offered.clone() };
    assert_eq!(
        step.check(&wrong_text, settings),
        Err(Mismatch { expected: "one of:\n  Hi! What can I do for you?\n  Hello! How can I help?".into(), actual: "Bye".into() })
    );
    let one_button = BotMessage { buttons: vec![choice("Show a card", "SHOW_CARD")], ..offered.clone() };
    assert_eq!(
        step.check(&one_button, settings),
        Err(Mismatch {
            expected: "BUTTONS Show a card|Talk to a human (missing: Talk to a human)\nBUTTONS_COUNT >=2 (there are 1)".into(),
            actual: "buttons and quick replies: Show a card (payload SHOW_CARD)\n1 buttons and quick replies: Show a card (payload SHOW_CARD)".into(),
        })
    );

    // BUTTONS finds a payload too, in any mode.
    let by_payload = BotStep { asserters: vec![is(AsserterKind::Buttons(strings(&["HUMAN"])))], ..BotStep::default() };
    for matching in [MatchingMode::Equals, MatchingMode::WildcardIgnoreCase] {
        assert_eq!(by_payload.check(&offered, &Settings { matching, ..settings.clone() }), Ok(()));
    }
    // Without arguments: some buttons; negated, none.
    let some = BotStep { asserters: vec![is(AsserterKind::Buttons(vec![]))], ..BotStep::default() };
    let none = BotStep { asserters: vec![is_not(AsserterKind::Buttons(vec![]))], ..BotStep::default() };
    assert!(some.check(&offered, settings).is_ok() && some.check(&text("plain"), settings).is_err());
    assert!(none.check(&text("plain"), settings).is_ok() && none.check(&offered, settings).is_err());
}

#[test]
fn cards_media_and_negated_buttons() {
    let suite = suite(Options::default());
    let settings = &suite.settings;
    let step = bot_step(conversation(&suite, "Greeting with buttons/GREETINGS-L3"), 4);
    let card = Card {
        title: "Switchboard".into(),
        subtitle: Some("A Messenger platform of your own".into()),
        image_url: Some("https://example.com/img/logo.png".into()),
        buttons: vec![choice("Open", "OPEN")],
    };
    let message = BotMessage { cards: vec![card.clone()], ..BotMessage::default() };
    assert_eq!(step.check(&message, settings), Ok(()));

    let dangerous = Card { buttons: vec![choice("Open", "OPEN"), choice("Delete everything", "DELETE")], ..card.clone() };
    let failure = step.check(&BotMessage { cards: vec![dangerous], ..BotMessage::default() }, settings).unwrap_err();
    assert_eq!(failure.expected, "!BUTTONS Delete everything (found: Delete everything)");
    assert_eq!(failure.actual, "buttons and quick replies: Open (payload OPEN)|Delete everything (payload DELETE)");

    let two = BotMessage { cards: vec![card.clone(), Card { title: "Other".into(), ..Card::default() }], ..BotMessage::default() };
    assert_eq!(step.check(&two, settings).unwrap_err().expected, "CARDS_COUNT 1 (there are 2)");

    let no_logo =
        BotMessage { cards: vec![Card { image_url: None, ..card.clone() }], media: vec!["https://example.com/cat.jpg".into()], ..BotMessage::default() };
    assert_eq!(
        step.check(&no_logo, settings),
        Err(Mismatch { expected: "MEDIA *logo.png (missing: *logo.png)".into(), actual: "media: https://example.com/cat.jpg".into() })
    );
    // A card found by its subtitle.
    let by_subtitle = BotStep { asserters: vec![is(AsserterKind::Cards(strings(&["messenger platform"])))], ..BotStep::default() };
    assert_eq!(by_subtitle.check(&message, settings), Ok(()));
}

#[test]
fn text_asserters_and_a_negated_text() {
    let suite = suite(Options::default());
    let settings = &suite.settings;
    let negation = conversation(&suite, "Negation, literals and text asserters");
    let step = bot_step(negation, 1);
    let good = BotMessage { text: Some("Got it, this is important".into()), buttons: vec![choice("Yes|No", "YES_NO")], ..BotMessage::default() };
    assert_eq!(step.check(&good, settings), Ok(()));
    let sorry = BotMessage { text: Some("Sorry, got it: important".into()), ..good.clone() };
    assert_eq!(step.check(&sorry, settings), Err(Mismatch { expected: "!Sorry*".into(), actual: "Sorry, got it: important".into() }));
    let alarming = BotMessage { text: Some("Got it: urgent ERROR and Failure".into()), ..good.clone() };
    assert_eq!(
        step.check(&alarming, settings),
        Err(Mismatch { expected: "!TEXT_CONTAINS_ALL_IC error|failure (matched: error|failure)".into(), actual: "Got it: urgent ERROR and Failure".into() })
    );
    let vague = BotMessage { text: Some("I see. Important?".into()), ..good.clone() };
    let failure = step.check(&vague, settings).unwrap_err();
    assert_eq!(failure.expected, "TEXT_CONTAINS_ANY important|urgent (not matched: important|urgent)\nTEXT_REGEXP_ANY ^[Gg]ot it (not matched: ^[Gg]ot it)");
    // An empty #bot accepts any message.
    assert_eq!(bot_step(negation, 3).check(&BotMessage::default(), settings), Ok(()));
}

#[test]
fn quick_replies_are_only_quick_replies() {
    let suite = suite(Options::default());
    let order = conversation(&suite, "Ordering with a partial, quick replies and a location");
    let step = bot_step(order, 4);
    let offered = BotMessage {
        text: Some("What would you like?".into()),
        quick_replies: vec![choice("Pizza", "PIZZA"), choice("Salad", "SALAD")],
        ..BotMessage::default()
    };
    assert_eq!(step.check(&offered, &suite.settings), Ok(()));
    let as_buttons = BotMessage { buttons: offered.quick_replies.clone(), quick_replies: vec![], ..offered.clone() };
    assert_eq!(
        step.check(&as_buttons, &suite.settings),
        Err(Mismatch { expected: "QUICK_REPLIES Pizza|Salad (missing: Pizza|Salad)".into(), actual: "quick replies: (none)".into() })
    );
}

#[test]
fn a_message_described_as_botiumscript_lines() {
    let message = BotMessage {
        text: Some("Here you are".into()),
        buttons: vec![choice("Show a card", "SHOW_CARD"), choice("Yes|No", "YN")],
        quick_replies: vec![choice("Pizza", "PIZZA")],
        media: vec!["https://example.com/cat.jpg".into()],
        cards: vec![
            Card {
                title: "Switchboard".into(),
                subtitle: Some("Yours".into()),
                image_url: Some("https://example.com/logo.png".into()),
                buttons: vec![choice("Open", "OPEN")],
            },
            Card { title: "Bare".into(), ..Card::default() },
        ],
    };
    assert_eq!(
        message.describe(),
        "Here you are\nBUTTONS Show a card|Yes\\|No\nQUICK_REPLIES Pizza\nMEDIA https://example.com/cat.jpg\nCARDS Switchboard|Yours\nBUTTONS Open\nMEDIA https://example.com/logo.png\nCARDS Bare"
    );
    assert_eq!(BotMessage::default().describe(), "(an empty message)");
}
