//! The contract of what rich messages need beside the messages themselves:
//! reactions, edits and ratings, a Page's thread list, media attachments, the Messenger Profile,
//! personas and person profiles.

use super::{event, message, page, person, seed, Shared};
use crate::*;
use switchboard_domain::*;

fn reaction(person: PersonId, mid: &str, by: Direction, emoji: Option<String>, at: Millis) -> Reaction {
    Reaction { page: PageId("100".into()), person, mid: Mid(mid.into()), by, emoji, at }
}

pub async fn reactions_mark_messages_and_open_the_window(store: Shared) {
    let ids = seed(&store, 2).await;
    let one = PageId("100".into());
    let mut sent = message("p1", "100", ids[0], Direction::Outbound, 1_000);
    sent.quick_replies = vec![QuickReply { content_type: QuickReplyType::Text, title: Some("Yes".into()), payload: Some("Y".into()), image_url: None }];
    sent.attachment = Some(MessageAttachment::template(serde_json::json!({"template_type": "button", "text": "Sure?", "buttons": []})));
    sent.persona = Some("77".into());
    store.append_message(sent.clone(), vec![]).await.unwrap();
    let mut reply = message("r1", "100", ids[0], Direction::Inbound, 1_500);
    reply.reply_to = Some(Mid("p1".into()));
    store.append_message(reply.clone(), vec![]).await.unwrap();
    assert_eq!(store.message(&Mid("r1".into())).await.unwrap(), Some(reply), "reply_to is kept");

    let events = vec![event("900", "100", ids[0], "{\"reaction\":1}", 5_000)];
    assert!(store.react(reaction(ids[0], "p1", Direction::Inbound, Some("\u{2764}".into()), 5_000), events).await.unwrap());
    let stored = store.message(&Mid("p1".into())).await.unwrap().unwrap();
    assert_eq!((stored.person_reaction.as_deref(), stored.page_reaction.as_deref()), (Some("\u{2764}"), None));
    assert_eq!((stored.quick_replies, stored.persona, stored.attachment), (sent.quick_replies, sent.persona, sent.attachment), "content reads back as written");
    let state = store.thread_state(&one, ids[0]).await.unwrap().unwrap();
    assert_eq!(state.last_person_at, Some(5_000), "a person's reaction is an interaction");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "the reaction's event is stored with it");

    assert!(store.react(reaction(ids[0], "r1", Direction::Outbound, Some("\u{1F44D}".into()), 6_000), vec![]).await.unwrap());
    assert_eq!(store.thread_state(&one, ids[0]).await.unwrap().unwrap().last_person_at, Some(5_000), "the Page's reaction is not");
    assert!(store.react(reaction(ids[0], "p1", Direction::Inbound, None, 7_000), vec![]).await.unwrap());
    assert_eq!(store.message(&Mid("p1".into())).await.unwrap().unwrap().person_reaction, None, "unreact");

    let elsewhere = vec![event("900", "100", ids[1], "{}", 8_000)];
    assert!(!store.react(reaction(ids[1], "p1", Direction::Inbound, Some("x".into()), 8_000), elsewhere).await.unwrap(), "not their thread");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "a refused reaction stores no event");
}

pub async fn edits_count_once_under_races_and_ratings_replace_the_last(store: Shared) {
    let ids = seed(&store, 2).await;
    let one = PageId("100".into());
    store.append_message(message("p1", "100", ids[0], Direction::Inbound, 1_000), vec![]).await.unwrap();
    store.append_message(message("b1", "100", ids[0], Direction::Outbound, 1_500), vec![]).await.unwrap();
    let edit = |mid: &str, person: PersonId, text: &str, num_edit: u32| Edit { page: one.clone(), person, mid: Mid(mid.into()), text: text.into(), num_edit };
    // The events the edit causes, one for the owner's channel and one for standby:
    // the thread is idle, so only the first reaches its app.
    let edited = |n: u32| vec![event("900", "100", ids[0], &format!("edit {n}"), 2_000), NewOutboxEvent { field: WebhookField::Standby, ..event("900", "100", ids[0], "standby", 2_000) }];

    let racers: Vec<_> = (0..6)
        .map(|n| {
            let (store, edit, events) = (store.clone(), edit("p1", ids[0], &format!("racer {n}"), 1), edited(n));
            tokio::spawn(async move { store.edit_message(edit, events).await.unwrap() })
        })
        .collect();
    let mut won = Vec::new();
    for (n, racer) in racers.into_iter().enumerate() {
        if racer.await.unwrap() {
            won.push(n);
        }
    }
    assert_eq!(won.len(), 1, "exactly one racer becomes edit 1");
    let stored = store.message(&Mid("p1".into())).await.unwrap().unwrap();
    assert_eq!((stored.text, stored.edits), (Some(format!("racer {}", won[0])), 1));
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "the winner's event only, and not its standby twin");

    assert!(!store.edit_message(edit("p1", ids[0], "stale", 1), edited(9)).await.unwrap(), "a count seen before the last edit");
    assert!(store.edit_message(edit("p1", ids[0], "second", 2), vec![]).await.unwrap());
    assert!(!store.edit_message(edit("b1", ids[0], "not mine", 1), edited(9)).await.unwrap(), "a Page message");
    assert!(!store.edit_message(edit("p1", ids[1], "not my thread", 3), edited(9)).await.unwrap(), "another person's");
    let stored = store.message(&Mid("p1".into())).await.unwrap().unwrap();
    assert_eq!((stored.text.as_deref(), stored.edits), (Some("second"), 2));
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "refused edits store no event");
    assert_eq!(store.thread_state(&one, ids[0]).await.unwrap().unwrap().last_person_at, Some(1_000), "an edit is no interaction");

    let rating = |mid: &str, person: PersonId, feedback| Rating { page: one.clone(), person, mid: Mid(mid.into()), feedback };
    use switchboard_domain::messages::Feedback;
    assert!(store.rate_message(rating("b1", ids[0], Feedback::Good), vec![event("900", "100", ids[0], "good", 3_000)]).await.unwrap());
    assert_eq!(store.message(&Mid("b1".into())).await.unwrap().unwrap().feedback, Some(Feedback::Good));
    assert!(store.rate_message(rating("b1", ids[0], Feedback::Bad), vec![event("900", "100", ids[0], "bad", 3_100)]).await.unwrap());
    assert_eq!(store.message(&Mid("b1".into())).await.unwrap().unwrap().feedback, Some(Feedback::Bad), "a new rating replaces the last");
    assert!(!store.rate_message(rating("p1", ids[0], Feedback::Good), vec![event("900", "100", ids[0], "own", 3_200)]).await.unwrap(), "the person's own");
    assert!(!store.rate_message(rating("b1", ids[1], Feedback::Good), vec![event("900", "100", ids[1], "other", 3_300)]).await.unwrap(), "another's thread");
    assert_eq!(store.outbox_pending().await.unwrap(), 3, "each rating stored its event, the refused ones none");
    assert_eq!(store.message(&Mid("p1".into())).await.unwrap().unwrap().feedback, None);
}

/// A Page's threads in recency order whatever minutes their last messages fall in
/// (each engine's index keeps them by the minute, and a listing sorts within it),
/// walked one at a time by the cursor, before and after a thread moves on.
pub async fn page_threads_keep_their_order_across_minutes(store: Shared) {
    let ids = seed(&store, 3).await;
    let dee = store.create_person(person("Dee")).await.unwrap().id;
    let one = PageId("100".into());
    const MINUTE: Millis = 60_000;
    let last_messages = [(ids[0], 2 * MINUTE + 59_999), (ids[1], 3 * MINUTE), (ids[2], 2 * MINUTE + 1), (dee, 3 * MINUTE)];
    for (n, (person, at)) in last_messages.iter().enumerate() {
        // An earlier message first: the thread moves on within its life too.
        store.append_message(message(&format!("early{n}"), "100", *person, Direction::Inbound, at - 2 * MINUTE), vec![]).await.unwrap();
        store.append_message(message(&format!("last{n}"), "100", *person, Direction::Inbound, *at), vec![]).await.unwrap();
    }
    let walk = || async {
        let mut seen = Vec::new();
        let mut after = None;
        while let Some(thread) = store.page_threads(&one, None, after, 1).await.unwrap().pop() {
            after = Some((thread.last_message_at, thread.person));
            seen.push((thread.person, thread.last_message_at));
        }
        seen
    };
    let (first, second) = if ids[1] > dee { (ids[1], dee) } else { (dee, ids[1]) };
    let expected = vec![(first, 3 * MINUTE), (second, 3 * MINUTE), (ids[0], 2 * MINUTE + 59_999), (ids[2], 2 * MINUTE + 1)];
    assert_eq!(walk().await, expected, "newest first, a tie by person, across the minute");
    assert_eq!(persons_of(&store.page_threads(&one, None, None, 10).await.unwrap()), expected.iter().map(|(p, _)| *p).collect::<Vec<_>>());

    // The oldest thread moves on two minutes, into the newest ones' minute, a
    // millisecond after them.
    store.append_message(message("later", "100", ids[2], Direction::Outbound, 3 * MINUTE + 1), vec![]).await.unwrap();
    let expected = vec![(ids[2], 3 * MINUTE + 1), (first, 3 * MINUTE), (second, 3 * MINUTE), (ids[0], 2 * MINUTE + 59_999)];
    assert_eq!(walk().await, expected, "a thread that moved on comes first");
}

pub async fn page_threads_most_recent_first(store: Shared) {
    let ids = seed(&store, 3).await;
    let one = PageId("100".into());
    store.append_message(message("a1", "100", ids[0], Direction::Inbound, 1_000), vec![]).await.unwrap();
    store.append_message(message("b1", "100", ids[1], Direction::Inbound, 2_000), vec![]).await.unwrap();
    store.append_message(message("b2", "100", ids[1], Direction::Outbound, 2_500), vec![]).await.unwrap();
    store.append_message(message("c1", "100", ids[2], Direction::Inbound, 3_000), vec![]).await.unwrap();
    // A fourth thread at the same time as another: the cursor keeps both.
    let dee = store.create_person(person("Dee")).await.unwrap().id;
    store.append_message(message("d1", "100", dee, Direction::Inbound, 1_000), vec![]).await.unwrap();
    let all = store.page_threads(&one, None, None, 10).await.unwrap();
    let order: Vec<_> = all.iter().map(|t| (t.person, t.last_message_at, t.message_count)).collect();
    assert_eq!(order, vec![(ids[2], 3_000, 1), (ids[1], 2_500, 2), (dee, 1_000, 1), (ids[0], 1_000, 1)]);
    let next = store.page_threads(&one, None, Some((2_500, ids[1])), 1).await.unwrap();
    assert_eq!(next.iter().map(|t| t.person).collect::<Vec<_>>(), vec![dee], "strictly after the cursor");
    let last = store.page_threads(&one, None, Some((1_000, dee)), 5).await.unwrap();
    assert_eq!(last.iter().map(|t| t.person).collect::<Vec<_>>(), vec![ids[0]], "a tie in time is ordered by person");
    assert!(store.page_threads(&PageId("200".into()), None, None, 10).await.unwrap().is_empty());
    let one_thread = store.page_thread(&one, ids[1]).await.unwrap();
    let expected = PageThread { person: ids[1], last_message_at: 2_500, message_count: 2, unread_count: 1, folder: Folder::Inbox, answered: true, blocked: false };
    assert_eq!(one_thread, Some(expected));
    assert_eq!(store.page_thread(&PageId("200".into()), ids[1]).await.unwrap(), None);
}

fn persons_of(threads: &[PageThread]) -> Vec<PersonId> {
    threads.iter().map(|t| t.person).collect()
}

pub async fn threads_are_filed_in_folders_and_a_message_brings_a_done_one_back(store: Shared) {
    let ids = seed(&store, 3).await;
    let one = PageId("100".into());
    let (unanswered, answered, junk) = (ids[0], ids[1], ids[2]);
    store.append_message(message("a1", "100", unanswered, Direction::Inbound, 1_000), vec![]).await.unwrap();
    store.append_message(message("a2", "100", unanswered, Direction::Inbound, 1_100), vec![]).await.unwrap();
    store.append_message(message("b1", "100", answered, Direction::Inbound, 2_000), vec![]).await.unwrap();
    store.append_message(message("b2", "100", answered, Direction::Outbound, 2_100), vec![]).await.unwrap();
    store.append_message(message("c1", "100", junk, Direction::Inbound, 3_000), vec![]).await.unwrap();
    store.append_message(message("c2", "100", junk, Direction::Outbound, 3_100), vec![]).await.unwrap();
    assert!(store.set_folder(&one, junk, Folder::Spam).await.unwrap());
    let folder = |f| {
        let store = store.clone();
        let one = one.clone();
        async move { persons_of(&store.page_threads(&one, Some(f), None, 10).await.unwrap()) }
    };
    assert_eq!(folder(FolderFilter::Other).await, vec![unanswered], "never answered: a message request");
    assert_eq!(folder(FolderFilter::Inbox).await, vec![answered]);
    assert_eq!(folder(FolderFilter::Spam).await, vec![junk]);
    assert_eq!(folder(FolderFilter::PageDone).await, Vec::<PersonId>::new());
    assert_eq!(persons_of(&store.page_threads(&one, None, None, 10).await.unwrap()), vec![junk, answered, unanswered], "no filter: every folder");

    // Done, and back when the person writes (not when the Page does).
    assert!(store.set_folder(&one, answered, Folder::PageDone).await.unwrap());
    assert_eq!(folder(FolderFilter::PageDone).await, vec![answered]);
    store.append_message(message("b3", "100", answered, Direction::Outbound, 4_000), vec![]).await.unwrap();
    assert_eq!(folder(FolderFilter::PageDone).await, vec![answered], "the Page's own message leaves it done");
    store.append_message(message("b4", "100", answered, Direction::Inbound, 5_000), vec![]).await.unwrap();
    assert_eq!(folder(FolderFilter::PageDone).await, Vec::<PersonId>::new());
    assert_eq!(folder(FolderFilter::Inbox).await, vec![answered], "the person's message brings it back");
    store.append_message(message("c3", "100", junk, Direction::Inbound, 6_000), vec![]).await.unwrap();
    assert_eq!(folder(FolderFilter::Spam).await, vec![junk], "spam stays spam");

    // The folder composes with the cursor.
    store.append_message(message("a3", "100", unanswered, Direction::Inbound, 5_500), vec![]).await.unwrap();
    assert!(store.set_folder(&one, unanswered, Folder::Spam).await.unwrap());
    let spam = store.page_threads(&one, Some(FolderFilter::Spam), None, 1).await.unwrap();
    assert_eq!(persons_of(&spam), vec![junk]);
    let rest = store.page_threads(&one, Some(FolderFilter::Spam), Some((spam[0].last_message_at, junk)), 5).await.unwrap();
    assert_eq!(persons_of(&rest), vec![unanswered]);

    // Unread: the person's messages after the Page's seen mark; blocked shows.
    let thread = store.page_thread(&one, answered).await.unwrap().unwrap();
    assert_eq!((thread.unread_count, thread.folder, thread.answered, thread.blocked), (2, Folder::Inbox, true, false));
    store.mark_seen(&one, answered, 2_500).await.unwrap();
    assert_eq!(store.page_thread(&one, answered).await.unwrap().unwrap().unread_count, 1);
    let record = PrivacyRecord { at: 7_000, actor: "test".into(), action: "page_blocked".into(), subject: "x".into(), detail: String::new() };
    assert!(store.set_blocked(&one, answered, Some(7_000), record).await.unwrap());
    assert!(store.page_thread(&one, answered).await.unwrap().unwrap().blocked);
    let stranger = store.create_person(person("Stranger")).await.unwrap().id;
    assert!(!store.set_folder(&one, stranger, Folder::PageDone).await.unwrap(), "no thread, nothing filed");
}

pub async fn messaging_insights_count_each_day(store: Shared) {
    const DAY: Millis = 86_400_000;
    const HOUR: Millis = 3_600_000;
    let ids = seed(&store, 5).await;
    store.create_page(page("200", "two"), None).await.unwrap();
    let one = PageId("100".into());
    let record = |action: &str| PrivacyRecord { at: 0, actor: "test".into(), action: action.into(), subject: "x".into(), detail: String::new() };
    // Before the range: one connection, and one lost to a block.
    store.append_message(message("a", "100", ids[0], Direction::Inbound, 9 * DAY), vec![]).await.unwrap();
    store.append_message(message("d", "100", ids[3], Direction::Inbound, 8 * DAY), vec![]).await.unwrap();
    assert!(store.set_blocked(&one, ids[3], Some(9 * DAY + HOUR), record("page_blocked")).await.unwrap());
    // Day 10: a new conversation (the Page's answer later that day changes nothing).
    store.append_message(message("b", "100", ids[1], Direction::Inbound, 10 * DAY + HOUR), vec![]).await.unwrap();
    store.append_message(message("b2", "100", ids[1], Direction::Outbound, 10 * DAY + 2 * HOUR), vec![]).await.unwrap();
    // Day 11: another, blocked and reported; the first one's block.
    store.append_message(message("c", "100", ids[2], Direction::Inbound, 11 * DAY), vec![]).await.unwrap();
    assert!(store.report_thread(&one, ids[2], 11 * DAY + 5 * HOUR, record("conversation_reported")).await.unwrap());
    assert!(store.set_blocked(&one, ids[1], Some(11 * DAY + 2 * HOUR), record("page_blocked")).await.unwrap());
    // Another Page's thread, and one after the range, count for nothing here.
    store.append_message(message("e", "200", ids[4], Direction::Inbound, 10 * DAY), vec![]).await.unwrap();
    store.append_message(message("f", "100", ids[4], Direction::Inbound, 13 * DAY), vec![]).await.unwrap();
    assert!(!store.report_thread(&PageId("200".into()), ids[0], 11 * DAY, record("conversation_reported")).await.unwrap(), "no thread there");

    let days = store.messaging_insights(&one, 10 * DAY, 3).await.unwrap();
    let day = |connections, new_conversations, blocked, reported| DayInsights { connections, new_conversations, blocked, reported };
    assert_eq!(days, vec![day(2, 1, 0, 0), day(2, 1, 1, 1), day(2, 0, 0, 0)]);
    assert_eq!(store.messaging_insights(&one, 13 * DAY, 1).await.unwrap(), vec![day(3, 1, 0, 0)]);
    assert_eq!(store.messaging_insights(&PageId("300".into()), 10 * DAY, 2).await.unwrap(), vec![day(0, 0, 0, 0); 2], "a Page without threads");
}

pub async fn attachments_profiles_and_personas(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    let one = PageId("100".into());
    let record = AttachmentRecord {
        id: "5551".into(),
        page: one.clone(),
        kind: "image".into(),
        digest: "ab".repeat(32),
        mime: "image/png".into(),
        size: 68,
        file_name: Some("dot.png".into()),
        reusable: true,
        created_at: 10,
        sent_by: None,
    };
    store.insert_attachment(record.clone()).await.unwrap();
    assert_eq!(store.attachment("5551").await.unwrap(), Some(record.clone()));
    assert_eq!(store.attachment("5552").await.unwrap(), None);
    assert_eq!(store.media_type(&record.digest).await.unwrap().as_deref(), Some("image/png"));
    assert_eq!(store.media_type(&"cd".repeat(32)).await.unwrap(), None);
    assert!(matches!(store.insert_attachment(record).await, Err(StoreError::Conflict(_))));

    let greeting = serde_json::json!([{"locale": "default", "text": "Hi"}]);
    let started = serde_json::json!({"payload": "GO"});
    store.update_messenger_profile(&one, vec![("greeting".into(), greeting.clone()), ("get_started".into(), started.clone())], vec![], 1).await.unwrap();
    assert_eq!(store.messenger_profile(&one).await.unwrap(), vec![("get_started".into(), started.clone()), ("greeting".into(), greeting)]);
    let newer = serde_json::json!([{"locale": "default", "text": "Hello"}]);
    store.update_messenger_profile(&one, vec![("greeting".into(), newer.clone())], vec!["get_started".into()], 2).await.unwrap();
    assert_eq!(store.messenger_profile(&one).await.unwrap(), vec![("greeting".into(), newer)], "set and removed in one call");
    assert!(store.messenger_profile(&PageId("200".into())).await.unwrap().is_empty());

    let persona = |id: &str, at| Persona { id: id.into(), page: one.clone(), name: format!("Agent {id}"), profile_picture_url: "https://example.com/a.png".into(), created_at: at };
    store.create_persona(persona("71", 5)).await.unwrap();
    store.create_persona(persona("72", 6)).await.unwrap();
    assert_eq!(store.persona("71").await.unwrap(), Some(persona("71", 5)));
    assert!(store.delete_persona("71", 7).await.unwrap());
    assert!(!store.delete_persona("71", 8).await.unwrap(), "deleted once");
    assert_eq!(store.persona("71").await.unwrap(), None);
    assert_eq!(store.personas_of(&one).await.unwrap(), vec![persona("72", 6)]);

    assert_eq!(store.person_profile(ann.id).await.unwrap(), None);
    let profile = PersonProfile { locale: "fr_FR".into(), timezone: 5.5, gender: Some("female".into()) };
    store.set_person_profile(ann.id, profile.clone()).await.unwrap();
    store.set_person_profile(ann.id, profile.clone()).await.unwrap();
    assert_eq!(store.person_profile(ann.id).await.unwrap(), Some(profile));
}
