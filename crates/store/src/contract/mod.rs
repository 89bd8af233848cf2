//! The store contract: behaviour every engine must show, written once and run by
//! each engine's tests against a real database: `contract_tests!(fresh)` declares one
//! test per check.
//!
//! Each check starts from an empty store made by the engine's factory.

use crate::*;
use switchboard_domain::*;
use std::sync::Arc;

mod access;
mod consent;
mod content;
mod entry_points;
mod handover;
mod labels;
mod listings;
mod pickup;
mod privacy;

pub type Shared = Arc<dyn Store>;

/// A store for one check, and whatever must live as long as it (its temporary
/// directory, say).
pub struct Fresh {
    pub store: Shared,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// Declares one `#[tokio::test]` per contract check, so that each passes or fails
/// on its own, each on a fresh store from `$fresh` (an async function answering
/// `Option<Fresh>`: `None` only when an explicit opt-out says to skip the engine).
/// The one list of the checks.
#[macro_export]
macro_rules! contract_tests {
    ($fresh:path) => {
        $crate::contract_tests!(@each $fresh;
            persons_have_unique_logins,
            pages_have_unique_usernames,
            apps_and_roles,
            granted_pages_need_admin_and_grant,
            tokens_resolve_by_digest_until_revoked,
            operator_is_created_once,
            subscriptions_and_webhook_targets,
            scoped_ids_are_stable_and_scoped,
            scoped_ids_are_created_once_under_races,
            messages_threads_and_window,
            paging_by_message_reaches_every_message_of_a_millisecond,
            engaged_persons_wrote_lately,
            a_failed_write_stores_nothing,
            receipts_only_move_forward,
            outbox_keeps_thread_order_and_leases,
            outbox_failures_are_rescheduled,
            a_delivery_leases_its_threads_next_events,
            running_leases_move_with_the_clock,
            times_stamped_by_a_clock_ahead_are_brought_back,
            a_long_backlog_stamped_ahead_is_brought_back_in_one_write,
            a_threads_run_is_leased_whole_and_in_order,
            a_run_stops_before_an_event_that_is_not_due,
            claims_keep_to_each_apps_cap_and_the_total,
            phones_and_page_features,
            one_time_notification_tokens_are_spent_once,
            recurring_notification_tokens_send_once_per_period,
            given_up_events_are_dead_and_their_thread_moves_on,
            failing_endpoints_alert_then_are_disabled_once,
            a_failing_spell_breaks_at_a_silence_and_starts_at_its_earliest_failure,
            replay_queues_the_same_bytes_again,
            pruning_keeps_pending_and_recent_events,
            concurrent_writes_are_all_durable,
            a_refused_member_leaves_the_rest_of_its_group_written,
            reactions_mark_messages_and_open_the_window,
            edits_count_once_under_races_and_ratings_replace_the_last,
            page_threads_most_recent_first,
            page_threads_keep_their_order_across_minutes,
            threads_are_filed_in_folders_and_a_message_brings_a_done_one_back,
            messaging_insights_count_each_day,
            attachments_profiles_and_personas,
            listings_show_what_each_person_may_see,
            a_page_keeps_an_admin_whoever_races_to_leave,
            revoked_page_tokens_stay_revoked,
            a_secret_reset_revokes_the_apps_tokens,
            quotas_hold_under_concurrent_creations,
            page_tokens_registered_during_a_revocation_do_not_survive_it,
            test_users_are_created_with_their_role_or_not_at_all,
            delivery_statistics_by_bucket,
            the_first_app_installed_is_the_primary_receiver,
            the_owner_decides_who_hears_and_who_may_write,
            login_codes_are_spent_once_even_under_races,
            consent_is_recorded_withdrawn_and_deauthorized,
            review_decisions_make_the_apps_approved_permissions,
            policy_enforcement_changes_only_what_was_seen,
            the_token_inventory_lists_usable_tokens_of_one_page,
            deleted_test_users_cannot_sign_in_or_use_tokens,
            id_matching_stays_within_a_business,
            thread_events_open_the_window_only_when_they_are_interactions,
            a_user_ref_takes_one_message_whichever_sends_race,
            a_linking_token_ends_once_and_links_the_thread,
            an_erased_person_leaves_only_a_psid_digest,
            a_blocked_thread_takes_no_message_either_way,
            privacy_callbacks_are_claimed_once_and_settle_without_their_payload,
            retention_deletes_only_what_is_older_than_its_cutoff,
            one_poller_at_a_time_and_listeners_that_expire,
            a_claim_of_one_app_and_answers_that_touch_only_its_events,
            a_pull_hands_out_in_order_again_until_acknowledged_by_offset,
            labels_keep_one_name_per_page_and_their_members_once,
            a_pages_label_limit_holds_under_concurrent_creations,
            a_persons_settings_are_their_own_on_each_page,
        );
    };
    (@each $fresh:path; $($check:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(fresh) = $fresh().await else { return };
                $crate::contract::$check(fresh.store.clone()).await;
                drop(fresh);
            }
        )*
    };
}

pub use access::*;
pub use consent::*;
pub use content::*;
pub use entry_points::*;
pub use handover::*;
pub use labels::*;
pub use listings::*;
pub use pickup::*;
pub use privacy::*;

pub(crate) fn person(name: &str) -> NewPerson {
    NewPerson { name: name.into(), login: name.to_lowercase(), password_hash: "$argon2id$x".into(), created_at: 1 }
}

pub(crate) fn page(id: &str, username: &str) -> Page {
    Page { id: PageId(id.into()), name: format!("Page {username}"), username: username.into() }
}

pub(crate) fn app(id: &str) -> App {
    App { id: AppId(id.into()), name: format!("App {id}"), mode: AppMode::Development, secret_generation: 0, require_proof: false, approved: Scopes::NONE, policy: PolicyState::Clear }
}

pub(crate) fn message(mid: &str, page: &str, person: PersonId, direction: Direction, at: Millis) -> Message {
    let app = (direction == Direction::Outbound).then(|| AppId("900".into()));
    Message { text: Some(format!("text of {mid}")), ..Message::new(Mid(mid.into()), PageId(page.into()), person, direction, app, at) }
}

/// A Page "100" and persons, for checks about threads and the outbox.
pub(crate) async fn seed(store: &Shared, persons: usize) -> Vec<PersonId> {
    store.create_page(page("100", "one"), None).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..persons {
        ids.push(store.create_person(person(&format!("P{n}"))).await.unwrap().id);
    }
    ids
}

/// A failed POST of app's events at `at`: HTTP 500, with each event's next attempt.
pub(crate) fn failure(app: &str, at: Millis, retries: Vec<(i64, Option<Millis>)>) -> FailedAttempt {
    FailedAttempt {
        app: AppId(app.into()),
        url: "http://127.0.0.1:1/hook".into(),
        attempted_at: at,
        latency_ms: 3,
        kind: FailureKind::HttpStatus,
        status: Some(500),
        error: "HTTP 500".into(),
        excerpt: "{\"oops\":true}".into(),
        retries,
        longest_silence: 3_600_000,
    }
}

/// A grant of Page `page` to `app` by `by`, within `max_apps`.
pub(crate) fn grant(page: &str, app: &str, by: PersonId, max_apps: u32) -> PageGrant {
    PageGrant { page: PageId(page.into()), app: AppId(app.into()), by, at: 5, max_apps, consent: Scopes::NONE }
}

/// Page token digests `{prefix}@{epoch}`, as a minter derives them.
pub(crate) fn minter(prefix: &str) -> PageTokenMinter {
    let prefix = prefix.to_string();
    Arc::new(move |epoch| format!("{prefix}@{epoch}"))
}

pub(crate) fn bodies(events: &[OutboxEvent]) -> Vec<String> {
    events.iter().map(|e| String::from_utf8(e.body.clone()).unwrap()).collect()
}

pub(crate) fn event(app: &str, page: &str, person: PersonId, body: &str, at: Millis) -> NewOutboxEvent {
    NewOutboxEvent {
        app: AppId(app.into()),
        page: PageId(page.into()),
        person,
        field: WebhookField::Messages,
        body: body.as_bytes().to_vec(),
        created_at: at,
    }
}

pub async fn persons_have_unique_logins(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    assert_eq!(ann.login, "ann");
    assert!(matches!(store.create_person(person("Ann")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.person(ann.id).await.unwrap(), Some(ann.clone()));
    let (found, hash) = store.person_credentials("ann").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (ann, "$argon2id$x"));
    assert_eq!(store.person_credentials("bob").await.unwrap(), None);
    assert_eq!(store.person(PersonId(9999)).await.unwrap(), None);
}

pub async fn pages_have_unique_usernames(store: Shared) {
    store.create_page(page("100", "shop"), None).await.unwrap();
    assert!(matches!(store.create_page(page("101", "shop"), None).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.page(&PageId("100".into())).await.unwrap(), Some(page("100", "shop")));
    assert_eq!(store.page_by_username("shop").await.unwrap(), Some(page("100", "shop")));
    assert_eq!(store.page(&PageId("101".into())).await.unwrap(), None);
}

pub async fn apps_and_roles(store: Shared) {
    store.create_app(app("900"), None).await.unwrap();
    let mut changed = app("900");
    changed.mode = AppMode::Live;
    changed.secret_generation = 3;
    changed.require_proof = true;
    let audit = AuditRecord { at: 5, actor: "operator".into(), change: "mode: development -> live".into() };
    store.update_app(&changed, Some(audit.clone()), false).await.unwrap();
    assert_eq!(store.app_audit(&changed.id).await.unwrap(), vec![audit]);
    assert_eq!(store.app(&AppId("900".into())).await.unwrap(), Some(changed));
    assert!(matches!(store.update_app(&app("901"), None, false).await, Err(StoreError::NotFound(_))));

    let dev = store.create_person(person("Dev")).await.unwrap();
    let id = AppId("900".into());
    assert_eq!(store.app_role(&id, dev.id).await.unwrap(), None);
    store.set_app_role(&id, dev.id, Some(AppRole::Tester)).await.unwrap();
    store.set_app_role(&id, dev.id, Some(AppRole::Developer)).await.unwrap();
    assert_eq!(store.app_role(&id, dev.id).await.unwrap(), Some(AppRole::Developer));
    store.set_app_role(&id, dev.id, None).await.unwrap();
    assert_eq!(store.app_role(&id, dev.id).await.unwrap(), None);
}

pub async fn granted_pages_need_admin_and_grant(store: Shared) {
    let admin = store.create_person(person("Admin")).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    store.create_page(page("100", "zeta"), None).await.unwrap();
    store.create_page(page("200", "alpha"), None).await.unwrap();
    store.create_page(page("300", "other"), None).await.unwrap();
    let app_id = AppId("900".into());
    for id in ["100", "200"] {
        store.set_page_role(&PageId(id.into()), admin.id, Some(PageRole::Admin)).await.unwrap();
    }
    assert!(store.granted_pages_of(admin.id, &app_id).await.unwrap().is_empty());
    for id in ["100", "200", "300"] {
        store.grant_page(grant(id, "900", admin.id, 0), minter(id)).await.unwrap();
    }
    assert!(store.page_granted(&PageId("300".into()), &app_id).await.unwrap());
    assert!(!store.page_granted(&PageId("300".into()), &AppId("901".into())).await.unwrap());
    // Page 300 is granted but the person is not its admin.
    let names: Vec<_> = store.granted_pages_of(admin.id, &app_id).await.unwrap().into_iter().map(|p| p.username).collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
    assert_eq!(store.page_role(&PageId("100".into()), admin.id).await.unwrap(), Some(PageRole::Admin));
    let other = store.create_person(person("Other")).await.unwrap();
    store.set_page_role(&PageId("100".into()), other.id, Some(PageRole::Admin)).await.unwrap();
    store.set_page_role(&PageId("100".into()), admin.id, None).await.unwrap();
    assert_eq!(store.page_role(&PageId("100".into()), admin.id).await.unwrap(), None);
}

pub async fn test_users_are_created_with_their_role_or_not_at_all(store: Shared) {
    store.create_app(app("900"), None).await.unwrap();
    let tester = store.create_test_user(person("Tess"), &AppId("900".into()), Scopes::NONE).await.unwrap();
    assert_eq!(store.app_role(&AppId("900".into()), tester.id).await.unwrap(), Some(AppRole::Tester));
    assert!(store.create_test_user(person("Theo"), &AppId("999".into()), Scopes::NONE).await.is_err(), "no such app");
    assert_eq!(store.person_by_login("theo").await.unwrap(), None, "a person whose role could not be stored is not stored either");
    assert!(matches!(store.create_test_user(person("Tess"), &AppId("900".into()), Scopes::NONE).await, Err(StoreError::Conflict(_))), "a taken login");
}

pub async fn tokens_resolve_by_digest_until_revoked(store: Shared) {
    let grants = [
        TokenGrant::User { person: PersonId(1), app: AppId("900".into()) },
        TokenGrant::Page { page: PageId("100".into()), app: AppId("900".into()), person: PersonId(1) },
        TokenGrant::Session { person: PersonId(2) },
        TokenGrant::Operator,
    ];
    for (index, grant) in grants.iter().enumerate() {
        let record = TokenRecord { hash: format!("digest-{index}"), grant: grant.clone(), issued_at: 10, expires_at: Some(20 + index as i64) };
        store.insert_token(record.clone()).await.unwrap();
        assert_eq!(store.token(&record.hash).await.unwrap(), Some(record));
    }
    assert_eq!(store.token("digest-unknown").await.unwrap(), None);
    store.revoke_token("digest-1").await.unwrap();
    assert_eq!(store.token("digest-1").await.unwrap(), None);
    assert!(store.token("digest-0").await.unwrap().is_some());
}

pub async fn operator_is_created_once(store: Shared) {
    assert!(store.init_operator("first").await.unwrap());
    assert!(!store.init_operator("second").await.unwrap());
    assert_eq!(store.token("first").await.unwrap().unwrap().grant, TokenGrant::Operator);
    assert_eq!(store.token("second").await.unwrap(), None);
}

pub async fn subscriptions_and_webhook_targets(store: Shared) {
    store.create_page(page("100", "shop"), None).await.unwrap();
    for id in ["900", "901", "902"] {
        store.create_app(app(id), None).await.unwrap();
    }
    let page_id = PageId("100".into());
    let sub = |app: &str, fields: Vec<WebhookField>, active: bool| AppSubscription {
        app: AppId(app.into()),
        object: "page".into(),
        callback_url: format!("http://127.0.0.1:1/{app}"),
        verify_token: "vt".into(),
        fields,
        version: "v21.0".into(),
        active,
        delivery: DeliveryMode::Webhook,
    };
    use switchboard_domain::WebhookField::*;
    store.put_app_subscription(sub("900", vec![Messages, MessageEchoes], true)).await.unwrap();
    store.put_app_subscription(sub("900", vec![Messages, MessageReads], true)).await.unwrap();
    store.put_app_subscription(sub("901", vec![Messages], false)).await.unwrap();
    assert_eq!(store.app_subscriptions(&AppId("900".into())).await.unwrap(), vec![sub("900", vec![Messages, MessageReads], true)]);

    for app in ["900", "901", "902"] {
        store
            .put_page_subscription(PageSubscription { page: page_id.clone(), app: AppId(app.into()), fields: vec![Messages, MessageEchoes] })
            .await
            .unwrap();
    }
    assert_eq!(store.page_subscriptions(&page_id).await.unwrap().len(), 3);
    // 901's webhook is inactive and 902 has none: only 900 receives, with the fields both levels name.
    assert_eq!(
        store.webhook_targets(&page_id).await.unwrap(),
        vec![WebhookTarget { app: AppId("900".into()), fields: vec![Messages] }]
    );
    assert!(store.delete_page_subscription(&page_id, &AppId("900".into())).await.unwrap());
    assert!(!store.delete_page_subscription(&page_id, &AppId("900".into())).await.unwrap());
    assert!(store.webhook_targets(&page_id).await.unwrap().is_empty());
    assert!(store.delete_app_subscription(&AppId("900".into()), "page").await.unwrap());
    assert!(store.app_subscriptions(&AppId("900".into())).await.unwrap().is_empty());
}

pub async fn scoped_ids_are_stable_and_scoped(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    let bob = store.create_person(person("Bob")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    store.create_page(page("200", "two"), None).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    let (one, two) = (PageId("100".into()), PageId("200".into()));
    let ann_one = store.psid(ann.id, &one).await.unwrap();
    assert_eq!(store.psid(ann.id, &one).await.unwrap(), ann_one);
    let ann_two = store.psid(ann.id, &two).await.unwrap();
    let bob_one = store.psid(bob.id, &one).await.unwrap();
    assert_ne!(ann_one, ann_two);
    assert_ne!(ann_one, bob_one);
    assert!(is_node_id(ann_one.as_str()));
    assert_eq!(store.person_by_psid(&one, ann_one.as_str()).await.unwrap(), Some(ann.id));
    // Another Page's PSID names nobody here.
    assert_eq!(store.person_by_psid(&one, ann_two.as_str()).await.unwrap(), None);
    let asid = store.asid(ann.id, &AppId("900".into())).await.unwrap();
    assert_eq!(store.asid(ann.id, &AppId("900".into())).await.unwrap(), asid);
    assert_eq!(store.person_by_psid(&one, asid.as_str()).await.unwrap(), None);
}

pub async fn scoped_ids_are_created_once_under_races(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.psid(ann.id, &PageId("100".into())).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for racer in racers {
        ids.push(racer.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every racer must see the same PSID");
}

pub async fn engaged_persons_wrote_lately(store: Shared) {
    let ids = seed(&store, 3).await;
    store.append_message(message("a", "100", ids[0], Direction::Inbound, 100), vec![]).await.unwrap();
    store.append_message(message("b", "100", ids[1], Direction::Inbound, 200), vec![]).await.unwrap();
    store.append_message(message("c", "100", ids[2], Direction::Outbound, 300), vec![]).await.unwrap();
    let page = PageId("100".into());
    assert_eq!(store.engaged_persons(&page, 0).await.unwrap(), 2, "only persons who wrote");
    assert_eq!(store.engaged_persons(&page, 150).await.unwrap(), 1);
}

pub async fn messages_threads_and_window(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    store.create_page(page("200", "two"), None).await.unwrap();
    let one = PageId("100".into());
    store.append_message(message("m1", "100", ann.id, Direction::Inbound, 1_000), vec![]).await.unwrap();
    store.append_message(message("m2", "100", ann.id, Direction::Outbound, 2_000), vec![]).await.unwrap();
    store.append_message(message("m3", "100", ann.id, Direction::Outbound, 3_000), vec![]).await.unwrap();
    store.append_message(message("x1", "200", ann.id, Direction::Inbound, 1_500), vec![]).await.unwrap();

    let state = store.thread_state(&one, ann.id).await.unwrap().unwrap();
    assert_eq!(state.last_person_at, Some(1_000), "only the person's own messages open the window");
    let all: Vec<_> = store.thread_messages(&one, ann.id, None, 10).await.unwrap().into_iter().map(|m| m.mid.0).collect();
    assert_eq!(all, vec!["m1", "m2", "m3"]);
    let page: Vec<_> = store.thread_messages(&one, ann.id, Some(&Mid("m3".into())), 1).await.unwrap().into_iter().map(|m| m.mid.0).collect();
    assert_eq!(page, vec!["m2"]);
    assert!(store.thread_messages(&one, ann.id, Some(&Mid("nope".into())), 10).await.unwrap().is_empty(), "an unknown cursor names nothing");
    let stored = &store.thread_messages(&one, ann.id, None, 10).await.unwrap()[1];
    assert_eq!(stored, &message("m2", "100", ann.id, Direction::Outbound, 2_000));
    assert_eq!(store.message(&Mid("m2".into())).await.unwrap().as_ref(), Some(stored));
    assert_eq!(store.message(&Mid("nope".into())).await.unwrap(), None);

    let threads = store.threads_of(ann.id).await.unwrap();
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0].page.username, "one", "the most recent thread comes first");
    assert_eq!(threads[0].unread, 2);
    assert_eq!(threads[0].last_message.as_ref().unwrap().mid.0, "m3");
    assert_eq!(threads[1].unread, 0);
}

/// Paging back from each page's oldest message visits every message once, even when
/// many share one millisecond (a cursor by time alone skipped them).
pub async fn paging_by_message_reaches_every_message_of_a_millisecond(store: Shared) {
    let ann = seed(&store, 1).await[0];
    let page = PageId("100".into());
    let mut stored = Vec::new();
    for n in 0..23 {
        let mid = format!("m{n:02}");
        store.append_message(message(&mid, "100", ann, Direction::Inbound, 1_000 + n / 10), vec![]).await.unwrap();
        stored.push(mid);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<Mid> = None;
    loop {
        let batch = store.thread_messages(&page, ann, before.as_ref(), 4).await.unwrap();
        if batch.is_empty() {
            break;
        }
        before = Some(batch[0].mid.clone());
        seen.splice(0..0, batch.into_iter().map(|m| m.mid.0));
    }
    assert_eq!(seen, stored, "every message once, oldest first");
}

pub async fn a_failed_write_stores_nothing(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    store.append_message(message("m1", "100", ann.id, Direction::Inbound, 1_000), vec![event("900", "100", ann.id, "{}", 1_000)]).await.unwrap();
    // The same mid again: refused, and its outbox row must not survive.
    let again = store
        .append_message(message("m1", "100", ann.id, Direction::Inbound, 5_000), vec![event("900", "100", ann.id, "{}", 5_000)])
        .await;
    assert!(again.is_err());
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
    let state = store.thread_state(&PageId("100".into()), ann.id).await.unwrap().unwrap();
    assert_eq!(state.last_person_at, Some(1_000));
}

pub async fn receipts_only_move_forward(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    let one = PageId("100".into());
    let ev = || vec![event("900", "100", ann.id, "{}", 1)];
    assert!(store.advance_receipt(&one, ann.id, Receipt::Delivered, 2_000, ev()).await.unwrap());
    assert!(!store.advance_receipt(&one, ann.id, Receipt::Delivered, 2_000, ev()).await.unwrap());
    assert!(!store.advance_receipt(&one, ann.id, Receipt::Delivered, 1_000, ev()).await.unwrap());
    assert!(store.advance_receipt(&one, ann.id, Receipt::Read, 3_000, ev()).await.unwrap());
    let state = store.thread_state(&one, ann.id).await.unwrap().unwrap();
    assert_eq!((state.delivered_watermark, state.read_watermark), (3_000, 3_000), "reading implies delivery");
    assert_eq!(store.outbox_pending().await.unwrap(), 2, "refused receipts store no events");
}

pub async fn outbox_keeps_thread_order_and_leases(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    store.append_message(message("a1", "100", ann, Direction::Inbound, 1), vec![event("900", "100", ann, "a1", 1)]).await.unwrap();
    store.append_message(message("a2", "100", ann, Direction::Inbound, 2), vec![event("900", "100", ann, "a2", 2)]).await.unwrap();
    store.append_message(message("b1", "100", bob, Direction::Inbound, 3), vec![event("900", "100", bob, "b1", 3)]).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 3);
    assert_eq!(store.outbox_next_due(0).await.unwrap(), Some(1));

    let first = store.claim_outbox(10, 1_000, &ClaimLimits::heads(10)).await.unwrap();
    let bodies: Vec<_> = first.iter().map(|e| String::from_utf8(e.body.clone()).unwrap()).collect();
    assert_eq!(bodies, vec!["a1", "b1"], "a thread's second event waits for its first");
    assert!(store.claim_outbox(20, 1_000, &ClaimLimits::heads(10)).await.unwrap().is_empty(), "leased events are not handed out twice");
    assert_eq!(store.outbox_next_due(20).await.unwrap(), None, "a2 waits behind a1, and leased heads are left out");
    assert_eq!(store.outbox_next_due(1_000).await.unwrap(), Some(1_000), "once the leases end, their heads are due again");

    store.outbox_delivered(&[first[0].id], 30).await.unwrap();
    let next = store.claim_outbox(40, 1_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(next.iter().map(|e| e.body.as_slice()).collect::<Vec<_>>(), vec![b"a2".as_slice()]);
    // b1's lease runs out at 1000: then another dispatcher may take it.
    let retaken = store.claim_outbox(1_000, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(retaken.iter().map(|e| e.body.as_slice()).collect::<Vec<_>>(), vec![b"a2".as_slice(), b"b1".as_slice()]);
    assert_eq!(retaken[0].person, ann);
    assert_eq!(retaken[0].app, AppId("900".into()));
    assert_eq!(retaken[0].field, WebhookField::Messages);
}

pub async fn outbox_failures_are_rescheduled(store: Shared) {
    let ann = seed(&store, 1).await[0];
    store.append_message(message("a1", "100", ann, Direction::Inbound, 1), vec![event("900", "100", ann, "a1", 1)]).await.unwrap();
    let claimed = store.claim_outbox(10, 1_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 15, vec![(claimed[0].id, Some(500))])).await.unwrap();
    assert!(store.claim_outbox(100, 2_000, &ClaimLimits::heads(10)).await.unwrap().is_empty(), "not before its retry time");
    assert_eq!(store.outbox_next_due(100).await.unwrap(), Some(500));
    let again = store.claim_outbox(500, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!((again[0].failures, again[0].first_failure_at), (1, Some(15)));
    store.outbox_failed(failure("900", 600, vec![(again[0].id, Some(700))])).await.unwrap();
    let third = store.claim_outbox(700, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!((third[0].failures, third[0].first_failure_at), (2, Some(15)), "the first failure time is kept");
    store.outbox_delivered(&[third[0].id], 800).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
    assert_eq!(store.outbox_next_due(800).await.unwrap(), None);
}

pub async fn concurrent_writes_are_all_durable(store: Shared) {
    let persons = seed(&store, 7).await;
    let writers: Vec<_> = (0..200)
        .map(|n| {
            let store = store.clone();
            let person = persons[n as usize % 7];
            tokio::spawn(async move {
                store
                    .append_message(message(&format!("c{n}"), "100", person, Direction::Inbound, n), vec![event("900", "100", person, "x", n)])
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 200);
    let mut total = 0;
    for person in persons {
        total += store.thread_messages(&PageId("100".into()), person, None, 1_000).await.unwrap().len();
    }
    assert_eq!(total, 200);
}

pub async fn given_up_events_are_dead_and_their_thread_moves_on(store: Shared) {
    let ann = seed(&store, 1).await[0];
    let app = AppId("900".into());
    store.append_message(message("a1", "100", ann, Direction::Inbound, 1), vec![event("900", "100", ann, "a1", 1)]).await.unwrap();
    store.append_message(message("a2", "100", ann, Direction::Inbound, 2), vec![event("900", "100", ann, "a2", 2)]).await.unwrap();
    let first = store.claim_outbox(10, 1_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(bodies(&first), vec!["a1"]);
    store.outbox_failed(failure("900", 20, vec![(first[0].id, None)])).await.unwrap();
    assert_eq!(bodies(&store.claim_outbox(30, 1_000, &ClaimLimits::heads(10)).await.unwrap()), vec!["a2"], "a given-up event lets its thread move on");
    assert_eq!(store.outbox_pending().await.unwrap(), 1);

    let (dead, attempts) = store.event_history(&app, first[0].id).await.unwrap().unwrap();
    assert_eq!((dead.state, dead.failures, dead.settled_at), (EventState::Dead, 1, Some(20)));
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].kind, attempts[0].status, attempts[0].events), (FailureKind::HttpStatus, Some(500), 1));
    assert_eq!(attempts[0].excerpt, "{\"oops\":true}");
    assert!(store.event_history(&AppId("901".into()), first[0].id).await.unwrap().is_none(), "another app's event is not shown");

    let health = store.endpoint_health(&app).await.unwrap();
    assert_eq!((health.pending, health.oldest_pending_at, health.dead), (1, Some(2), 1));
    assert_eq!((health.failing_since, health.last_error_at, health.last_success_at), (Some(20), Some(20), None));
    let dead_events = store.events_of(&app, Some(EventState::Dead), 0, 100, 10).await.unwrap();
    assert_eq!(dead_events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first[0].id]);
    assert_eq!(store.events_of(&app, None, 0, 100, 10).await.unwrap().len(), 2);
    assert_eq!(store.recent_failures(&app, 10).await.unwrap(), attempts);

    let second = store.claim_outbox(2_000, 3_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[second[0].id], 2_500).await.unwrap();
    let health = store.endpoint_health(&app).await.unwrap();
    assert_eq!((health.pending, health.failing_since, health.last_success_at), (0, None, Some(2_500)), "a success ends the failing spell");
}

/// The longest silence the escalation checks allow: their failures are recorded once,
/// then escalated as time passes.
const SILENCE: Millis = 10 * 3_600_000;

pub async fn failing_endpoints_alert_then_are_disabled_once(store: Shared) {
    let persons = seed(&store, 2).await;
    store.create_app(app("900"), None).await.unwrap();
    let (app_id, page_id) = (AppId("900".into()), PageId("100".into()));
    store.put_page_subscription(PageSubscription { page: page_id.clone(), app: app_id.clone(), fields: vec![WebhookField::Messages] }).await.unwrap();
    for (n, person) in persons.iter().enumerate() {
        let mid = format!("m{n}");
        store.append_message(message(&mid, "100", *person, Direction::Inbound, 1), vec![event("900", "100", *person, &mid, 1)]).await.unwrap();
    }
    let (alert_after, disable_after) = (15 * 60_000, 60 * 60_000);
    assert_eq!(store.escalate_failure(&app_id, 10_000_000, alert_after, disable_after, SILENCE).await.unwrap(), None, "a healthy endpoint");

    let claimed = store.claim_outbox(1_000, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 1_000, claimed.iter().map(|e| (e.id, Some(5_000))).collect())).await.unwrap();
    assert_eq!(store.escalate_failure(&app_id, 1_000 + alert_after - 1, alert_after, disable_after, SILENCE).await.unwrap(), None);
    // Nodes racing to escalate: one alert.
    let racing: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let app_id = app_id.clone();
            tokio::spawn(async move { store.escalate_failure(&app_id, 1_000 + alert_after, alert_after, disable_after, SILENCE).await.unwrap() })
        })
        .collect();
    let mut alerts = Vec::new();
    for task in racing {
        alerts.extend(task.await.unwrap());
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, AlertKind::Failing);
    assert!(alerts[0].message.contains("15 minutes") && alerts[0].message.contains("HTTP 500"), "{}", alerts[0].message);
    assert_eq!(store.escalate_failure(&app_id, 1_000 + alert_after + 5, alert_after, disable_after, SILENCE).await.unwrap(), None, "alerted once");

    let disabled = store.escalate_failure(&app_id, 1_000 + disable_after, alert_after, disable_after, SILENCE).await.unwrap().unwrap();
    assert_eq!((disabled.kind, disabled.pages.clone()), (AlertKind::Disabled, vec![page_id.clone()]));
    assert!(store.page_subscriptions(&page_id).await.unwrap().is_empty(), "the app is unsubscribed from the Page");
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
    let health = store.endpoint_health(&app_id).await.unwrap();
    assert_eq!((health.dead, health.failing_since, health.disabled_at), (2, None, Some(1_000 + disable_after)), "events kept as dead letters");
    assert_eq!(store.escalate_failure(&app_id, 1_000 + 2 * disable_after, alert_after, disable_after, SILENCE).await.unwrap(), None);
    let listed = store.alerts(&app_id, 10).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.kind).collect::<Vec<_>>(), vec![AlertKind::Disabled, AlertKind::Failing], "newest first");
    assert_eq!(listed[0], disabled);
}

pub async fn a_failing_spell_breaks_at_a_silence_and_starts_at_its_earliest_failure(store: Shared) {
    const HOUR: Millis = 3_600_000; // the silence `failure` allows
    let ann = seed(&store, 1).await[0];
    store.append_message(message("a1", "100", ann, Direction::Inbound, 1), vec![event("900", "100", ann, "a1", 1)]).await.unwrap();
    let id = store.claim_outbox(10, 1_000, &ClaimLimits::heads(1)).await.unwrap()[0].id;
    let app_id = AppId("900".into());
    let fail_at = |at: Millis| {
        let (store, app_id) = (store.clone(), app_id.clone());
        async move {
            store.outbox_failed(failure("900", at, vec![(id, Some(at + 100))])).await.unwrap();
            store.endpoint_health(&app_id).await.unwrap().failing_since
        }
    };
    let (alert_after, disable_after) = (15 * 60_000, 4 * HOUR);
    assert_eq!(fail_at(1_000).await, Some(1_000));
    assert_eq!(fail_at(1_000 + HOUR).await, Some(1_000), "failures an hour apart: one spell");
    let judged_later = store.escalate_failure(&app_id, 1_000 + 3 * HOUR, alert_after, disable_after, HOUR).await.unwrap();
    assert_eq!(judged_later, None, "by a clock two hours past the last failure, the spell is not judged");
    assert_eq!(store.escalate_failure(&app_id, 1_000 + HOUR, alert_after, disable_after, SILENCE).await.unwrap().map(|a| a.kind), Some(AlertKind::Failing));
    // Nothing failed for two hours (nothing was tried, or the clock jumped): the next
    // failure starts a new spell, which alerts anew once it has lasted.
    assert_eq!(fail_at(1_000 + 3 * HOUR).await, Some(1_000 + 3 * HOUR), "a new spell");
    assert_eq!(store.escalate_failure(&app_id, 1_000 + 4 * HOUR, alert_after, disable_after, SILENCE).await.unwrap().map(|a| a.kind), Some(AlertKind::Failing), "alerted anew");
    // A failure stamped earlier (a clock that went back) moves the spell's start back
    // to it: the spell counts from its earliest failure.
    assert_eq!(fail_at(1_000 + 3 * HOUR - 20 * 60_000).await, Some(1_000 + 3 * HOUR - 20 * 60_000));
    assert_eq!(store.escalate_failure(&app_id, 1_000 + 3 * HOUR - 20 * 60_000 + disable_after, alert_after, disable_after, SILENCE).await.unwrap().map(|a| a.kind), Some(AlertKind::Disabled));
}

pub async fn replay_queues_the_same_bytes_again(store: Shared) {
    let ann = seed(&store, 1).await[0];
    let app = AppId("900".into());
    for (n, at) in [(1, 100), (2, 200), (3, 300)] {
        let mid = format!("a{n}");
        store.append_message(message(&mid, "100", ann, Direction::Inbound, at), vec![event("900", "100", ann, &mid, at)]).await.unwrap();
    }
    let a1 = store.claim_outbox(1_000, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 1_000, vec![(a1[0].id, None)])).await.unwrap();
    let a2 = store.claim_outbox(1_001, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[a2[0].id], 1_002).await.unwrap();
    let a3 = store.claim_outbox(1_003, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 1_003, vec![(a3[0].id, Some(50_000))])).await.unwrap();

    // A pending event is made due now; a dead one goes again at the end of its thread.
    assert_eq!(store.replay(&app, ReplaySelection::One(a3[0].id), 1_100).await.unwrap(), vec![a3[0].id]);
    let queued = store.replay(&app, ReplaySelection::DeadBetween { from: 0, to: 150 }, 1_100).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(store.replay(&app, ReplaySelection::DeadBetween { from: 0, to: 150 }, 1_100).await.unwrap().is_empty(), "replayed once");
    assert!(store.replay(&AppId("901".into()), ReplaySelection::One(a2[0].id), 1_100).await.unwrap().is_empty(), "only the app's own events");
    let again = store.replay(&app, ReplaySelection::One(a2[0].id), 1_100).await.unwrap();
    assert_eq!(again.len(), 1, "a delivered event can be sent again");

    let next = store.claim_outbox(1_100, 3_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(bodies(&next), vec!["a3"], "the thread's order: a3 was pending first");
    store.outbox_delivered(&[next[0].id], 1_101).await.unwrap();
    let copy = store.claim_outbox(1_102, 3_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!((bodies(&copy), copy[0].id, copy[0].created_at, copy[0].failures), (vec!["a1".to_string()], queued[0], 100, 0));
    store.outbox_delivered(&[copy[0].id], 1_103).await.unwrap();
    assert_eq!(bodies(&store.claim_outbox(1_104, 3_000, &ClaimLimits::heads(10)).await.unwrap()), vec!["a2"]);
    let (original, _) = store.event_history(&app, a1[0].id).await.unwrap().unwrap();
    assert_eq!((original.state, original.replayed_at), (EventState::Dead, Some(1_100)));
    assert_eq!(store.endpoint_health(&app).await.unwrap().dead, 0, "a replayed dead letter no longer counts");
}

pub async fn pruning_keeps_pending_and_recent_events(store: Shared) {
    let ann = seed(&store, 1).await[0];
    let app = AppId("900".into());
    for (n, at) in [(1, 100), (2, 200), (3, 300)] {
        let mid = format!("a{n}");
        store.append_message(message(&mid, "100", ann, Direction::Inbound, at), vec![event("900", "100", ann, &mid, at)]).await.unwrap();
    }
    let a1 = store.claim_outbox(1_000, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[a1[0].id], 1_000).await.unwrap();
    let a2 = store.claim_outbox(1_001, 2_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 1_001, vec![(a2[0].id, None)])).await.unwrap();
    // Delivered events go after 500 ms here, dead ones and attempts are kept longer.
    assert_eq!(store.prune_outbox(1_500, 900).await.unwrap(), 1);
    assert!(store.event_history(&app, a1[0].id).await.unwrap().is_none());
    assert_eq!(store.event_history(&app, a2[0].id).await.unwrap().unwrap().1.len(), 1);
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "pending events are never pruned");
    assert_eq!(store.prune_outbox(1_500, 5_000).await.unwrap(), 1);
    assert!(store.recent_failures(&app, 10).await.unwrap().is_empty(), "old attempts go with them");
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
}

pub async fn a_delivery_leases_its_threads_next_events(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    for (mid, person, at) in [("a1", ann, 1), ("a2", ann, 2), ("b1", bob, 3), ("b2", bob, 4_000)] {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event("900", "100", person, mid, at)]).await.unwrap();
    }
    let first = store.claim_outbox(10, 1_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(bodies(&first), vec!["a1", "b1"]);
    let ids: Vec<i64> = first.iter().map(|e| e.id).collect();
    // b2 is not due before 4000: only a2 comes back, leased.
    let next = store.outbox_delivered_then_claim(&ids, 20, Some(NextRuns { lease_until: 1_000, events: 10, run: 1 })).await.unwrap();
    assert_eq!(bodies(&next), vec!["a2"]);
    assert!(store.claim_outbox(30, 1_000, &ClaimLimits::heads(10)).await.unwrap().is_empty(), "a2 is leased, b2 not due");
    assert!(store.outbox_delivered_then_claim(&[next[0].id], 40, None).await.unwrap().is_empty(), "no lease asked, none taken");
    assert_eq!(bodies(&store.claim_outbox(4_000, 5_000, &ClaimLimits::heads(10)).await.unwrap()), vec!["b2"]);
}

pub async fn a_threads_run_is_leased_whole_and_in_order(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    for (mid, person, at) in [("a1", ann, 1), ("a2", ann, 2), ("a3", ann, 3), ("a4", ann, 4), ("a5", ann, 5), ("b1", bob, 6)] {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event("900", "100", person, mid, at)]).await.unwrap();
    }
    let first = store.claim_outbox(10, 1_000, &ClaimLimits::runs(10, 3)).await.unwrap();
    assert_eq!(bodies(&first), vec!["a1", "a2", "a3", "b1"], "a run of three, then the next thread's head");
    assert!(store.claim_outbox(20, 1_000, &ClaimLimits::runs(10, 3)).await.unwrap().is_empty(), "nothing behind a leased run");
    let run: Vec<i64> = first[..3].iter().map(|e| e.id).collect();
    let next = store.outbox_delivered_then_claim(&run, 30, Some(NextRuns { lease_until: 1_000, events: 10, run: 3 })).await.unwrap();
    assert_eq!(bodies(&next), vec!["a4", "a5"], "the thread's next run, leased as the last one is settled");
    assert!(store.claim_outbox(40, 1_000, &ClaimLimits::runs(10, 3)).await.unwrap().is_empty());
    // The leases run out: the whole run is claimed again, in order.
    assert_eq!(bodies(&store.claim_outbox(1_000, 2_000, &ClaimLimits::runs(10, 5)).await.unwrap()), vec!["a4", "a5", "b1"]);
}

pub async fn a_run_stops_before_an_event_that_is_not_due(store: Shared) {
    let ann = seed(&store, 1).await[0];
    for (mid, at) in [("a1", 1), ("a2", 2), ("a3", 3), ("a4", 4)] {
        store.append_message(message(mid, "100", ann, Direction::Inbound, at), vec![event("900", "100", ann, mid, at)]).await.unwrap();
    }
    let run = store.claim_outbox(10, 1_000, &ClaimLimits::runs(10, 3)).await.unwrap();
    assert_eq!(bodies(&run), vec!["a1", "a2", "a3"]);
    // The POST failed: each event has its own next attempt; a3's comes later.
    let retries = vec![(run[0].id, Some(100)), (run[1].id, Some(100)), (run[2].id, Some(5_000))];
    store.outbox_failed(failure("900", 20, retries)).await.unwrap();
    assert!(store.claim_outbox(50, 1_000, &ClaimLimits::runs(10, 3)).await.unwrap().is_empty(), "the head waits for its retry time");
    let due = store.claim_outbox(100, 1_000, &ClaimLimits::runs(10, 10)).await.unwrap();
    assert_eq!(bodies(&due), vec!["a1", "a2"], "a4 is due, but behind a3, which is not");
    assert_eq!((due[0].failures, due[1].failures), (1, 1));
    let ids: Vec<i64> = due.iter().map(|e| e.id).collect();
    let next = store.outbox_delivered_then_claim(&ids, 200, Some(NextRuns { lease_until: 1_000, events: 10, run: 10 })).await.unwrap();
    assert!(next.is_empty(), "a3, the thread's head now, is not due before 5000");
    assert_eq!(bodies(&store.claim_outbox(5_000, 6_000, &ClaimLimits::runs(10, 10)).await.unwrap()), vec!["a3", "a4"]);
}

pub async fn claims_keep_to_each_apps_cap_and_the_total(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    let events = [("900", "a1", ann, 1), ("900", "a2", ann, 2), ("900", "b1", bob, 3), ("901", "c1", ann, 4)];
    for (app, mid, person, at) in events {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event(app, "100", person, mid, at)]).await.unwrap();
    }
    let capped = ClaimLimits { events: 10, run: 5, per_app: vec![(AppId("900".into()), 2)], per_other_app: 10, only_app: None };
    let claimed = store.claim_outbox(10, 1_000, &capped).await.unwrap();
    assert_eq!(bodies(&claimed), vec!["a1", "a2", "c1"], "app 900's endpoint can take two events now: b1 waits");
    assert_eq!(claimed[2].app, AppId("901".into()));

    // The leases run out at 1000.
    let total = ClaimLimits { events: 2, run: 5, per_app: Vec::new(), per_other_app: 10, only_app: None };
    assert_eq!(bodies(&store.claim_outbox(1_000, 1_500, &total).await.unwrap()), vec!["a1", "a2"], "no more than the total, in due order");
    let left_out = ClaimLimits { events: 10, run: 5, per_app: vec![(AppId("900".into()), 0)], per_other_app: 10, only_app: None };
    assert_eq!(bodies(&store.claim_outbox(1_100, 1_500, &left_out).await.unwrap()), vec!["c1"], "an endpoint with no free slot is left out");
}

pub async fn running_leases_move_with_the_clock(store: Shared) {
    let ids = seed(&store, 2).await;
    for (mid, person, at) in [("a1", ids[0], 1), ("b1", ids[1], 2)] {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event("900", "100", person, mid, at)]).await.unwrap();
    }
    let leased = store.claim_outbox(10, 1_000, &ClaimLimits::heads(1)).await.unwrap();
    assert_eq!(bodies(&leased), vec!["a1"]);
    // The clock jumps by a day at 20: a1's lease still runs for 980 ms; b1 had none.
    store.shift_leases(20, 86_400_000).await.unwrap();
    let after = store.claim_outbox(86_400_020, 86_500_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(bodies(&after), vec!["b1"]);
    assert_eq!(bodies(&store.claim_outbox(86_401_000, 86_402_000, &ClaimLimits::heads(10)).await.unwrap()), vec!["a1"], "and then it expires");
}

pub async fn times_stamped_by_a_clock_ahead_are_brought_back(store: Shared) {
    const AHEAD: Millis = 3_600_000;
    let ids = seed(&store, 4).await;
    let (ann, bob, cat, dan) = (ids[0], ids[1], ids[2], ids[3]);
    let append = |mid: &'static str, person: PersonId, at: Millis| {
        let store = store.clone();
        async move { store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event("900", "100", person, mid, at)]).await.unwrap() }
    };
    for (mid, person, at) in [("c1", cat, 1), ("d1", dan, 2), ("a1", ann, 10), ("c2", cat, 11)] {
        append(mid, person, at).await;
    }
    // An hour ahead, the heads are claimed: c1 fails and its retry is set an hour
    // ahead, a1's node dies with its lease, and b1, b2 are written. d1 fails on a
    // clock that is right: its retry is an ordinary one.
    let leased = store.claim_outbox(AHEAD, AHEAD + 1_000, &ClaimLimits::heads(10)).await.unwrap();
    assert_eq!(bodies(&leased), vec!["c1", "d1", "a1"]);
    store.outbox_failed(failure("900", AHEAD, vec![(leased[0].id, Some(AHEAD + 500))])).await.unwrap();
    store.outbox_failed(failure("900", 50, vec![(leased[1].id, Some(400))])).await.unwrap();
    append("b1", bob, AHEAD + 10).await;
    append("b2", bob, AHEAD + 20).await;
    // Back at 100: nothing of that hour is due, until it is brought back.
    assert!(store.claim_outbox(100, 1_000, &ClaimLimits::runs(10, 10)).await.unwrap().is_empty(), "stamped an hour ahead");
    assert_eq!(store.recall_future_times(100, 1_100, 1_100).await.unwrap(), 4, "b1, b2, c1 made due; a1's lease ended");
    let mut claimed = bodies(&store.claim_outbox(100, 1_000, &ClaimLimits::runs(10, 10)).await.unwrap());
    claimed.sort();
    assert_eq!(claimed, vec!["a1", "b1", "b2", "c1", "c2"], "every thread whole and in order; d1 keeps its retry time");
    assert_eq!(store.recall_future_times(100, 1_100, 1_100).await.unwrap(), 0, "leases and retries within the bounds are left alone");
    assert_eq!(bodies(&store.claim_outbox(400, 1_000, &ClaimLimits::heads(10)).await.unwrap()), vec!["d1"]);
}

/// A long backlog stamped by a clock that was ahead is brought back in one write,
/// whose undo record is far larger than a message's: on SQLite its savepoint
/// journal spills from memory to a file (a spill size past what SQLite's unix VFS
/// writes in one call once answered SQLITE_FULL here, and the events stayed ahead).
pub async fn a_long_backlog_stamped_ahead_is_brought_back_in_one_write(store: Shared) {
    const AHEAD: Millis = 3_600_000;
    let person = seed(&store, 1).await[0];
    let body = "x".repeat(2_000);
    for n in 0..300 {
        let mid = format!("m{n}");
        let event = NewOutboxEvent { body: body.clone().into_bytes(), ..event("900", "100", person, &mid, AHEAD + n) };
        store.append_message(message(&mid, "100", person, Direction::Inbound, AHEAD + n), vec![event]).await.unwrap();
    }
    assert!(store.claim_outbox(100, 1_000, &ClaimLimits::runs(10, 10)).await.unwrap().is_empty(), "stamped an hour ahead");
    assert_eq!(store.recall_future_times(100, 1_100, 1_100).await.expect("brought back in one write"), 300);
    assert_eq!(store.claim_outbox(100, 1_000, &ClaimLimits::runs(10, 10)).await.unwrap().len(), 10, "the thread's run is due");
}

pub async fn phones_and_page_features(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    store.set_phone(ann, Some("+12125552368"), 100).await.unwrap();
    assert_eq!(store.person_by_phone("+12125552368").await.unwrap(), Some((ann, 100)));
    assert_eq!(store.phone_of(ann).await.unwrap(), Some(("+12125552368".to_string(), 100)));
    assert!(matches!(store.set_phone(bob, Some("+12125552368"), 200).await, Err(StoreError::Conflict(_))), "one person per number");
    store.set_phone(ann, None, 300).await.unwrap();
    assert_eq!(store.person_by_phone("+12125552368").await.unwrap(), None);
    store.set_phone(bob, Some("+12125552368"), 400).await.unwrap();
    assert_eq!(store.person_by_phone("+12125552368").await.unwrap(), Some((bob, 400)));

    let page = PageId("100".into());
    assert!(matches!(store.approve_page_feature(&page, PageFeature::PhoneNumbers, 1).await, Err(StoreError::NotFound(_))), "approval needs an application");
    store.apply_page_feature(&page, PageFeature::PhoneNumbers, Some(ann), 10, false).await.unwrap();
    let applied = store.page_features(&page).await.unwrap();
    assert_eq!((applied.len(), applied[0].approved, applied[0].applied_by), (1, false, Some(ann)));
    store.approve_page_feature(&page, PageFeature::PhoneNumbers, 20).await.unwrap();
    store.apply_page_feature(&page, PageFeature::PhoneNumbers, Some(bob), 30, false).await.unwrap();
    let approved = store.page_features(&page).await.unwrap();
    assert_eq!((approved[0].approved, approved[0].approved_at, approved[0].applied_by), (true, Some(20), Some(ann)), "applying again keeps the approval");
    // Applied and approved at once (an installation that approves by itself).
    store.apply_page_feature(&page, PageFeature::OneTimeNotif, Some(bob), 40, true).await.unwrap();
    let features = store.page_features(&page).await.unwrap();
    let one_time = features.iter().find(|f| f.feature == PageFeature::OneTimeNotif).unwrap();
    assert_eq!((one_time.approved, one_time.approved_at, one_time.applied_by), (true, Some(40), Some(bob)));
}

pub async fn one_time_notification_tokens_are_spent_once(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    let page = PageId("100".into());
    let request = |mid: &str, title: &str| {
        OptinRequest::new(Mid(mid.into()), OptinKind::OneTime, page.clone(), ann, title.into(), format!("payload of {mid}"), 10)
    };
    let asking = |mid: &str| message(mid, "100", ann, Direction::Outbound, 10);
    assert!(store.send_optin_request(request("r1", "Back in stock?"), asking("r1"), vec![]).await.unwrap());
    assert!(!store.send_optin_request(request("r2", "Back in stock?"), asking("r2"), vec![]).await.unwrap(), "the same topic is outstanding");
    assert_eq!(store.message(&Mid("r2".into())).await.unwrap(), None, "a request refused stores no message");
    assert!(store.send_optin_request(request("r3", "Price drop?"), asking("r3"), vec![]).await.unwrap());
    assert_eq!(store.message(&Mid("r3".into())).await.unwrap().unwrap().mid, Mid("r3".into()), "the message is stored with its request");

    store.append_message(message("m0", "100", ann, Direction::Inbound, 5), vec![]).await.unwrap();
    let optin = event("900", "100", ann, "optin", 20);
    let tap = |person: PersonId, digest: &str, at: Millis| OptinTap { mid: Mid("r1".into()), person, token_digest: digest.into(), expires_at: 1_000, at };
    assert!(!store.tap_optin_request(tap(bob, "d1", 20), vec![optin.clone()]).await.unwrap(), "not bob's");
    assert!(store.tap_optin_request(tap(ann, "d1", 20), vec![optin.clone()]).await.unwrap());
    assert!(!store.tap_optin_request(tap(ann, "d2", 21), vec![optin]).await.unwrap(), "tapped once");
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "one opt-in event");
    let held = store.optin_by_token(&page, "d1").await.unwrap().unwrap();
    assert_eq!((held.tapped_at, held.token_expires_at, held.kind), (Some(20), Some(1_000), OptinKind::OneTime));
    assert!(store.optin_by_token(&PageId("101".into()), "d1").await.unwrap().is_none(), "another Page's token");

    let spend = |digest: &str, period_start: Option<Millis>| TokenSpend { page: page.clone(), digest: digest.into(), period_start };
    let notice = |mid: &str, at: Millis| message(mid, "100", ann, Direction::Outbound, at);
    // A message that cannot be stored (its mid is taken) spends nothing.
    assert!(store.send_with_token(spend("d1", None), notice("m0", 30), vec![]).await.is_err());
    assert_eq!(store.optin_by_token(&page, "d1").await.unwrap().unwrap().last_sent_at, None, "the token is as it was");
    assert!(!store.send_with_token(spend("d1", None), notice("late", 1_000), vec![]).await.unwrap(), "a year after the tap it has expired");

    // Once ever, whichever requests race.
    let racing: Vec<_> = (0..4)
        .map(|n| {
            let (store, spend, message) = (store.clone(), spend("d1", None), notice(&format!("n{n}"), 30));
            tokio::spawn(async move { store.send_with_token(spend, message, vec![]).await.unwrap() })
        })
        .collect();
    let mut spent = 0;
    for task in racing {
        spent += task.await.unwrap() as usize;
    }
    assert_eq!(spent, 1);
    let stored = store.thread_messages(&page, ann, None, 50).await.unwrap().iter().filter(|m| m.mid.as_str().starts_with('n')).count();
    assert_eq!(stored, 1, "only the send that spent the token stored its message");
    assert!(!store.send_with_token(spend("d1", None), notice("used", 500), vec![]).await.unwrap(), "used");
    assert!(store.send_optin_request(request("r4", "Back in stock?"), asking("r4"), vec![]).await.unwrap(), "a used token frees its topic");
}

pub async fn recurring_notification_tokens_send_once_per_period(store: Shared) {
    let ids = seed(&store, 1).await;
    let ann = ids[0];
    let page = PageId("100".into());
    let kind = OptinKind::Recurring(NotificationFrequency::Daily);
    let request = OptinRequest::new(Mid("n1".into()), kind, page.clone(), ann, "Daily deals".into(), "DEALS".into(), 10);
    let asking = |mid: &str, at: Millis| message(mid, "100", ann, Direction::Outbound, at);
    assert!(store.send_optin_request(request.clone(), asking("n1", 10), vec![]).await.unwrap());
    let again = OptinRequest::new(Mid("n2".into()), kind, page.clone(), ann, "Daily deals".into(), "DEALS".into(), 11);
    assert!(store.send_optin_request(again, asking("n2", 11), vec![]).await.unwrap(), "recurring requests are limited by policy, not by the store");
    // A request whose message cannot be stored (its mid is taken) is not stored either.
    let clashing = OptinRequest::new(Mid("n3".into()), kind, page.clone(), ann, "Weekly digest".into(), "DIGEST".into(), 12);
    assert!(store.send_optin_request(clashing, asking("n1", 12), vec![]).await.is_err());
    assert_eq!(store.optin_request(&Mid("n3".into())).await.unwrap(), None, "nothing is left behind");
    assert_eq!(store.optin_requests_since(&page, ann, 11).await.unwrap().len(), 1);
    assert_eq!(store.optin_requests_since(&page, ann, 0).await.unwrap()[0], request);
    store.append_message(message("m0", "100", ann, Direction::Inbound, 5), vec![]).await.unwrap();
    let optin = event("900", "100", ann, "optin", 20);
    assert!(store.tap_optin_request(OptinTap { mid: request.mid.clone(), person: ann, token_digest: "t1".into(), expires_at: 5_000, at: 20 }, vec![optin.clone()]).await.unwrap());

    let spend = |period_start: Millis| TokenSpend { page: page.clone(), digest: "t1".into(), period_start: Some(period_start) };
    let notice = |mid: &str, at: Millis| message(mid, "100", ann, Direction::Outbound, at);
    assert!(store.send_with_token(spend(0), notice("d1", 100), vec![]).await.unwrap());
    assert!(!store.send_with_token(spend(99), notice("d2", 150), vec![]).await.unwrap(), "the period has not passed");
    assert_eq!(store.message(&Mid("d2".into())).await.unwrap(), None, "a refused send stores no message");
    assert!(store.send_with_token(spend(150), notice("d3", 300), vec![]).await.unwrap(), "the next period");

    store.set_optin_stopped(&request.mid, Some(400), vec![optin.clone()]).await.unwrap();
    assert!(!store.send_with_token(spend(900), notice("d4", 1_000), vec![]).await.unwrap(), "a stopped topic");
    store.set_optin_stopped(&request.mid, None, vec![optin]).await.unwrap();
    assert!(store.send_with_token(spend(900), notice("d5", 1_000), vec![]).await.unwrap(), "resumed");
    assert!(!store.send_with_token(spend(4_000), notice("d6", 5_000), vec![]).await.unwrap(), "expired");
    assert_eq!(store.outbox_pending().await.unwrap(), 3, "the opt-in, stop and resume events");
}
