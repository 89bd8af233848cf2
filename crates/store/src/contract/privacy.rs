//! Checks of privacy: an erasure that leaves nothing of the person but a PSID digest
//! and refuses a last admin, a blocked thread that takes no message either way,
//! callbacks claimed once and settled without their payload, and retention that
//! deletes only what is older than its cutoff, in batches.

use super::*;
use switchboard_domain::privacy::{erased_psid_digest, CallbackKind};

fn record(action: &str) -> PrivacyRecord {
    PrivacyRecord { at: 50, actor: "test".into(), action: action.into(), subject: "person:1".into(), detail: String::new() }
}

/// What removing app "900" owes: its deauthorize callback and an audit record.
pub(crate) fn removal(action: &str) -> PrivacyTrail {
    PrivacyTrail { record: record(action), callbacks: vec![NewPrivacyCallback { kind: CallbackKind::Deauthorize, ..callback("900", 5) }] }
}

fn callback(app: &str, at: Millis) -> NewPrivacyCallback {
    NewPrivacyCallback { app: AppId(app.into()), kind: CallbackKind::DataDeletion, url: Some("https://bot.example/deletion".into()), payload: "{\"user_id\":\"7\"}".into(), created_at: at }
}

pub async fn an_erased_person_leaves_only_a_psid_digest(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob, hundred) = (ids[0], ids[1], PageId("100".into()));
    store.create_app(app("900"), None).await.unwrap();
    let psid = store.psid(ann, &hundred).await.unwrap();
    store.append_message(message("m-ann-1", "100", ann, Direction::Inbound, 10), vec![event("900", "100", ann, "ann's event", 10)]).await.unwrap();
    store.append_message(message("m-ann-2", "100", ann, Direction::Outbound, 11), vec![]).await.unwrap();
    store.append_message(message("m-bob-1", "100", bob, Direction::Inbound, 12), vec![event("900", "100", bob, "bob's event", 12)]).await.unwrap();
    let sent = AttachmentRecord {
        id: "a-ann".into(),
        page: hundred.clone(),
        kind: "image".into(),
        digest: "cd".repeat(32),
        mime: "image/png".into(),
        size: 3,
        file_name: None,
        reusable: false,
        created_at: 10,
        sent_by: Some(ann),
    };
    store.insert_attachment(sent).await.unwrap();
    let menu = serde_json::json!([{"locale": "default", "call_to_actions": []}]);
    for person in [ann, bob] {
        store.update_custom_user_settings(&hundred, person, vec![("persistent_menu".into(), menu.clone())], vec![], 10).await.unwrap();
    }
    store.create_label(Label { id: "7".into(), page: hundred.clone(), name: "vip".into(), created_at: 10 }, 10).await.unwrap();
    store.add_to_label("7", ann, 10).await.unwrap();
    store.add_to_label("7", bob, 10).await.unwrap();

    // The last admin of a Page is refused, and nothing changes.
    store.create_page(page("200", "kept"), Some(Owner { person: bob, quota: 0 })).await.unwrap();
    let refused = store.erase_person(Erasure { person: bob, callbacks: vec![callback("900", 20)], record: record("account_deleted") }).await;
    assert!(matches!(refused, Err(StoreError::Conflict(Conflict::LastPageAdmin))), "{refused:?}");
    assert!(store.person(bob).await.unwrap().is_some());
    assert!(store.privacy_callbacks(&AppId("900".into()), 10).await.unwrap().is_empty(), "the refused erasure owes nothing");

    let erased = store.erase_person(Erasure { person: ann, callbacks: vec![callback("900", 20)], record: record("account_deleted") }).await.unwrap();
    assert_eq!((erased.messages, erased.attachments), (2, 1));
    assert_eq!(erased.files, vec!["cd".repeat(32)], "no record names her file any more");
    assert_eq!(store.person(ann).await.unwrap(), None);
    assert_eq!(store.person_by_psid(&hundred, psid.as_str()).await.unwrap(), None);
    assert!(store.psid_erased(&hundred, &erased_psid_digest("100", psid.as_str())).await.unwrap());
    assert!(!store.psid_erased(&hundred, &erased_psid_digest("100", "123")).await.unwrap());
    assert_eq!(store.thread_state(&hundred, ann).await.unwrap(), None);
    assert_eq!(store.message(&Mid("m-ann-1".into())).await.unwrap(), None);
    assert!(store.message(&Mid("m-bob-1".into())).await.unwrap().is_some(), "others' messages stay");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "only bob's event is left to deliver");
    assert_eq!(store.attachment("a-ann").await.unwrap(), None);
    assert_eq!(store.privacy_callbacks(&AppId("900".into()), 10).await.unwrap().len(), 1);
    assert_eq!(store.privacy_audit(None, 10).await.unwrap()[0].1.action, "account_deleted");
    assert!(store.custom_user_settings(&hundred, ann).await.unwrap().is_empty(), "her own menu went with her");
    assert_eq!(store.custom_user_settings(&hundred, bob).await.unwrap().len(), 1);
    assert!(store.labels(&hundred, Some(ann), None, 10).await.unwrap().is_empty(), "and her labels");
    assert_eq!(store.label_counts(&hundred).await.unwrap()[0].members, 1, "bob stays under the label");
}

pub async fn a_blocked_thread_takes_no_message_either_way(store: Shared) {
    let ids = seed(&store, 1).await;
    let (ann, page) = (ids[0], PageId("100".into()));
    store.append_message(message("m-1", "100", ann, Direction::Inbound, 10), vec![]).await.unwrap();
    assert!(store.set_blocked(&page, ann, Some(20), record("page_blocked")).await.unwrap());
    assert!(!store.set_blocked(&page, ann, Some(21), record("page_blocked")).await.unwrap(), "blocked once");
    for (mid, direction) in [("m-2", Direction::Outbound), ("m-3", Direction::Inbound)] {
        let refused = store.append_message(message(mid, "100", ann, direction, 30), vec![event("900", "100", ann, mid, 30)]).await;
        assert!(matches!(refused, Err(StoreError::Conflict(Conflict::Blocked))), "{refused:?}");
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 0, "a refused message stores no event");
    assert!(!store.advance_receipt(&page, ann, Receipt::Read, 40, vec![event("900", "100", ann, "read", 40)]).await.unwrap());
    assert!(store.threads_of(ann).await.unwrap().is_empty(), "hidden from the person");
    assert_eq!(store.blocked_pages(ann).await.unwrap()[0].blocked_at, 20);
    assert!(store.set_blocked(&page, ann, None, record("page_unblocked")).await.unwrap());
    store.append_message(message("m-4", "100", ann, Direction::Outbound, 50), vec![]).await.unwrap();

    // A deleted conversation is hidden until something newer comes.
    assert!(store.hide_thread(&page, ann, 60, record("conversation_deleted")).await.unwrap());
    assert!(store.threads_of(ann).await.unwrap().is_empty());
    assert_eq!(store.thread_state(&page, ann).await.unwrap().unwrap().hidden_before, Some(60));
    store.append_message(message("m-5", "100", ann, Direction::Outbound, 70), vec![]).await.unwrap();
    let listed = store.threads_of(ann).await.unwrap();
    assert_eq!((listed.len(), listed[0].unread), (1, 1), "only what came after counts");
    assert!(!store.hide_thread(&PageId("101".into()), ann, 60, record("conversation_deleted")).await.unwrap());
    let actions: Vec<String> = store.privacy_audit(None, 10).await.unwrap().into_iter().map(|(_, r)| r.action).collect();
    assert_eq!(actions, ["conversation_deleted", "page_unblocked", "page_blocked"], "changes are audited, no-ops are not");
}

pub async fn privacy_callbacks_are_claimed_once_and_settle_without_their_payload(store: Shared) {
    store.create_app(app("900"), None).await.unwrap();
    store.record_privacy(record("app_removed"), vec![callback("900", 10), callback("900", 11)]).await.unwrap();
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_privacy_callbacks(100, 1_000, 10).await.unwrap() })
        })
        .collect();
    let mut claimed = Vec::new();
    for claim in claims {
        claimed.extend(claim.await.unwrap());
    }
    assert_eq!(claimed.len(), 2, "each callback is leased to one claimer");
    let (first, second) = (claimed[0].id.min(claimed[1].id), claimed[0].id.max(claimed[1].id));
    let answered = CallbackAttempt::Answered { status_url: Some("https://bot.example/s/1".into()), confirmation_code: Some("c1".into()) };
    store.settle_privacy_callback(first, answered, 200).await.unwrap();
    store.settle_privacy_callback(second, CallbackAttempt::Failed { error: "HTTP 500".into(), next_attempt_at: 5_000 }, 200).await.unwrap();
    assert!(store.claim_privacy_callbacks(2_000, 3_000, 10).await.unwrap().is_empty(), "the failed one waits for its time");
    let again = store.claim_privacy_callbacks(5_000, 6_000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    store.settle_privacy_callback(second, CallbackAttempt::GivenUp { error: "HTTP 500".into() }, 5_000).await.unwrap();
    let listed = store.privacy_callbacks(&AppId("900".into()), 10).await.unwrap();
    assert!(listed.iter().all(|c| c.payload.is_none() && c.settled_at.is_some()), "{listed:?}");
    let answered = listed.iter().find(|c| c.id == first).unwrap();
    assert_eq!((answered.outcome, answered.confirmation_code.as_deref()), (Some(CallbackOutcome::Answered), Some("c1")));
    assert_eq!(listed.iter().find(|c| c.id == second).unwrap().outcome, Some(CallbackOutcome::GivenUp));
}

pub async fn retention_deletes_only_what_is_older_than_its_cutoff(store: Shared) {
    let ids = seed(&store, 2).await;
    let page = PageId("100".into());
    for n in 0..7 {
        let person = ids[n % 2];
        store.append_message(message(&format!("old-{n}"), "100", person, Direction::Inbound, 100 + n as Millis), vec![]).await.unwrap();
        store.append_message(message(&format!("new-{n}"), "100", person, Direction::Inbound, 1_000 + n as Millis), vec![]).await.unwrap();
    }
    let media = |id: &str, digest: &str, reusable: bool, at: Millis| AttachmentRecord {
        id: id.into(),
        page: page.clone(),
        kind: "file".into(),
        digest: digest.repeat(32),
        mime: "application/pdf".into(),
        size: 1,
        file_name: None,
        reusable,
        created_at: at,
        sent_by: None,
    };
    store.insert_attachment(media("old-file", "ee", false, 100)).await.unwrap();
    store.insert_attachment(media("old-but-reusable", "ff", true, 100)).await.unwrap();
    store.insert_attachment(media("new-file", "ee", false, 1_000)).await.unwrap();
    assert!(store.retentions().await.unwrap().contains(&(page.clone(), None)));
    store.set_page_retention(&page, Some(3)).await.unwrap();
    assert_eq!(store.page_retention(&page).await.unwrap(), Some(3));

    let mut total = Erased::default();
    loop {
        let batch = store.prune_page(&page, 500, 10_000, 3).await.unwrap();
        assert!(batch.messages <= 3, "a batch is bounded");
        total.messages += batch.messages;
        total.attachments += batch.attachments;
        total.files.extend(batch.files);
        if batch.messages == 0 && batch.attachments == 0 {
            break;
        }
    }
    assert_eq!((total.messages, total.attachments), (7, 1), "the reusable one may still be sent by its id");
    assert!(total.files.is_empty(), "the newer record still names that file");
    for person in &ids {
        let left = store.thread_messages(&page, *person, None, 100).await.unwrap();
        assert!(left.iter().all(|m| m.created_at >= 1_000), "{left:?}");
    }
    assert_eq!(store.thread_messages(&page, ids[0], None, 100).await.unwrap().len() + store.thread_messages(&page, ids[1], None, 100).await.unwrap().len(), 7);
    assert!(matches!(store.set_page_retention(&PageId("999".into()), Some(1)).await, Err(StoreError::NotFound(Missing::Page(_)))));
}
