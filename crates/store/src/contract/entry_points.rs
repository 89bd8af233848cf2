//! Checks of entry points and account linking: thread events that open the window,
//! a `user_ref`'s one message whichever sends race, and linking tokens that end once.

use super::*;

/// A `user_ref` of Page "100" for `person`, through app "900".
fn user_ref(name: &str, person: PersonId, expires_at: Millis) -> UserRef {
    UserRef {
        page: PageId("100".into()),
        user_ref: name.into(),
        app: AppId("900".into()),
        person,
        reference: Some("checkout".into()),
        created_at: 10,
        expires_at,
        spent_mid: None,
    }
}

pub async fn thread_events_open_the_window_only_when_they_are_interactions(store: Shared) {
    let ids = seed(&store, 1).await;
    let (ann, page) = (ids[0], PageId("100".into()));
    store.create_app(app("900"), None).await.unwrap();
    let at = |at: Millis, interaction: bool| ThreadEvent { page: page.clone(), person: ann, at, interaction, opens_to: None };
    store.record_thread_event(at(10, false), vec![event("900", "100", ann, "not an interaction", 10)]).await.unwrap();
    let state = store.thread_state(&page, ann).await.unwrap().expect("the event opened the thread");
    assert_eq!(state.last_person_at, None);
    store.record_thread_event(at(20, true), vec![event("900", "100", ann, "a referral", 20)]).await.unwrap();
    assert_eq!(store.thread_state(&page, ann).await.unwrap().unwrap().last_person_at, Some(20));
    store.record_thread_event(at(15, true), vec![]).await.unwrap();
    assert_eq!(store.thread_state(&page, ann).await.unwrap().unwrap().last_person_at, Some(20), "it only moves forward");
    assert_eq!(store.outbox_pending().await.unwrap(), 2, "each event's row is stored with it");
    assert!(store.thread_messages(&page, ann, None, 10).await.unwrap().is_empty(), "no message is made up");
}

pub async fn a_user_ref_takes_one_message_whichever_sends_race(store: Shared) {
    let ids = seed(&store, 1).await;
    let (ann, page) = (ids[0], PageId("100".into()));
    store.create_app(app("900"), None).await.unwrap();
    let added = store.add_user_ref(user_ref("order-1", ann, 1_000), 3, vec![event("900", "100", ann, "optin", 10)]).await.unwrap();
    assert_eq!(added, UserRefAdded::Added);
    let again = store.add_user_ref(user_ref("order-1", ann, 2_000), 3, vec![event("900", "100", ann, "optin again", 11)]).await.unwrap();
    assert_eq!(again, UserRefAdded::AlreadyKnown, "a Page knows a user_ref once");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "the refused opt-in stored no event");
    assert_eq!(store.user_ref(&page, "order-1").await.unwrap(), Some(user_ref("order-1", ann, 1_000)));
    assert_eq!(store.user_ref(&PageId("101".into()), "order-1").await.unwrap(), None, "another Page's");

    let racers: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.send_with_user_ref("order-1", message(&format!("by-ref-{n}"), "100", ann, Direction::Outbound, 20), vec![]).await.unwrap() })
        })
        .collect();
    let mut sent = Vec::new();
    for (n, racer) in racers.into_iter().enumerate() {
        if racer.await.unwrap() {
            sent.push(n);
        }
    }
    assert_eq!(sent.len(), 1, "exactly one send spends the user_ref");
    let spent = store.user_ref(&page, "order-1").await.unwrap().unwrap().spent_mid;
    assert_eq!(spent, Some(Mid(format!("by-ref-{}", sent[0]))));
    assert_eq!(store.thread_messages(&page, ann, None, 10).await.unwrap().len(), 1, "the losers stored no message");

    assert_eq!(store.add_user_ref(user_ref("order-2", ann, 1_000), 3, vec![]).await.unwrap(), UserRefAdded::Added);
    assert!(!store.send_with_user_ref("order-2", message("late", "100", ann, Direction::Outbound, 1_000), vec![]).await.unwrap(), "expired");
    assert!(store.send_with_user_ref("order-2", message("in-time", "100", ann, Direction::Outbound, 999), vec![]).await.unwrap());

    // A person holds a bounded number of live user_refs per Page; expired ones are forgotten.
    assert_eq!(store.add_user_ref(user_ref("order-3", ann, 1_000), 3, vec![]).await.unwrap(), UserRefAdded::Added);
    assert_eq!(store.add_user_ref(user_ref("order-4", ann, 1_000), 3, vec![]).await.unwrap(), UserRefAdded::TooMany);
    let later = UserRef { created_at: 1_000, ..user_ref("order-4", ann, 2_000) };
    assert_eq!(store.add_user_ref(later, 3, vec![]).await.unwrap(), UserRefAdded::Added, "the three expired at 1000");
    assert_eq!(store.user_ref(&page, "order-1").await.unwrap(), None, "forgotten once expired");
}

pub async fn a_linking_token_ends_once_and_links_the_thread(store: Shared) {
    let ids = seed(&store, 1).await;
    let (ann, page) = (ids[0], PageId("100".into()));
    store.create_app(app("900"), None).await.unwrap();
    let token = |digest: &str| LinkingToken { digest: digest.into(), page: page.clone(), person: ann, expires_at: 100, spent_at: None };
    store.add_linking_token(token("d1")).await.unwrap();
    assert_eq!(store.linking_token("d1").await.unwrap(), Some(token("d1")));
    assert_eq!(store.linking_token("unknown").await.unwrap(), None);
    assert!(!store.account_linked(&page, ann).await.unwrap());

    let racers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.finish_linking("d1", LinkingOutcome::Linked, 50, vec![event("900", "100", ann, "linked", 50)]).await.unwrap() })
        })
        .collect();
    let mut finished = 0;
    for racer in racers {
        if let Some(found) = racer.await.unwrap() {
            assert_eq!((found.page, found.person, found.spent_at), (page.clone(), ann, Some(50)));
            finished += 1;
        }
    }
    assert_eq!(finished, 1, "a token ends once");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "with its one event");
    assert!(store.account_linked(&page, ann).await.unwrap());

    store.add_linking_token(token("d2")).await.unwrap();
    store.add_linking_token(token("d2b")).await.unwrap();
    assert_eq!(store.linking_token("d2").await.unwrap(), None, "the latest tap's token replaces the earlier ones");
    store.add_linking_token(token("d2")).await.unwrap();
    assert!(store.finish_linking("d2", LinkingOutcome::Cancelled, 60, vec![]).await.unwrap().is_some());
    assert!(store.account_linked(&page, ann).await.unwrap(), "a cancelled attempt leaves the link as it was");
    store.add_linking_token(token("d3")).await.unwrap();
    assert_eq!(store.finish_linking("d3", LinkingOutcome::Linked, 100, vec![]).await.unwrap(), None, "expired");

    assert!(store.unlink_account(&page, ann, vec![event("900", "100", ann, "unlinked", 70)]).await.unwrap());
    assert!(!store.account_linked(&page, ann).await.unwrap());
    assert!(!store.unlink_account(&page, ann, vec![event("900", "100", ann, "unlinked", 71)]).await.unwrap(), "not linked any more");
    assert_eq!(store.outbox_pending().await.unwrap(), 2, "no event for an unlink that changed nothing");
}
