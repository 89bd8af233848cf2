//! Checks of events an app picks up itself: one poller at a time and listeners
//! that expire, the apps dispatchers leave alone, claims of one app, answers that
//! touch only the app's own events, leases let go, and the pull API's offsets.

use super::*;

fn subscription(app: &str, callback_url: &str, delivery: DeliveryMode) -> AppSubscription {
    AppSubscription {
        app: AppId(app.into()),
        object: "page".into(),
        callback_url: callback_url.into(),
        verify_token: String::new(),
        fields: vec![WebhookField::Messages],
        version: "v21.0".into(),
        active: true,
        delivery,
    }
}

fn pickup(id: &str, app: &str, kind: PickupKind, since: Millis, expires_at: Millis) -> Pickup {
    Pickup { id: id.into(), app: AppId(app.into()), kind, since, expires_at }
}

pub async fn one_poller_at_a_time_and_listeners_that_expire(store: Shared) {
    for id in ["900", "901", "902", "903"] {
        store.create_app(app(id), None).await.unwrap();
    }
    assert!(store.hold_pickup(&pickup("p1", "900", PickupKind::Poller, 10, 100), 10).await.unwrap());
    assert!(!store.hold_pickup(&pickup("p2", "900", PickupKind::Poller, 20, 200), 20).await.unwrap(), "a second poller while the first holds");
    assert!(store.hold_pickup(&pickup("p3", "901", PickupKind::Poller, 20, 200), 20).await.unwrap(), "another app's poller");
    assert!(store.hold_pickup(&pickup("p2", "900", PickupKind::Poller, 100, 300), 100).await.unwrap(), "the first expired: taken over");
    store.drop_pickup("p2").await.unwrap();
    assert!(store.hold_pickup(&pickup("p4", "900", PickupKind::Poller, 110, 300), 110).await.unwrap(), "dropped: free again");

    // Listeners: several per app, renewed by id, gone once expired or dropped.
    store.hold_pickup(&pickup("l1", "902", PickupKind::Listener, 10, 100), 10).await.unwrap();
    store.hold_pickup(&pickup("l2", "902", PickupKind::Listener, 20, 100), 20).await.unwrap();
    store.hold_pickup(&pickup("l1", "902", PickupKind::Listener, 10, 500), 90).await.unwrap();
    let listening: Vec<String> = store.pickups(&AppId("902".into()), 150).await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(listening, ["l1"], "l2 expired at 100, l1 was renewed");
    assert_eq!(store.pickups(&AppId("902".into()), 150).await.unwrap()[0], pickup("l1", "902", PickupKind::Listener, 10, 500));

    // Held: pull mode, a webhook without a callback, a live listener; not a poller alone.
    store.put_app_subscription(subscription("900", "", DeliveryMode::Pull)).await.unwrap();
    store.put_app_subscription(subscription("901", "https://bot.example/hook", DeliveryMode::Webhook)).await.unwrap();
    store.put_app_subscription(subscription("903", "", DeliveryMode::Webhook)).await.unwrap();
    let held = |at| {
        let store = store.clone();
        async move { store.held_apps(at).await.unwrap().into_iter().map(|a| a.0).collect::<Vec<_>>() }
    };
    assert_eq!(held(150).await, ["900", "902", "903"]);
    store.drop_pickup("l1").await.unwrap();
    assert_eq!(held(150).await, ["900", "903"]);
    assert_eq!(store.app_subscriptions(&AppId("900".into())).await.unwrap()[0].delivery, DeliveryMode::Pull, "the mode is kept");
}

pub async fn a_claim_of_one_app_and_answers_that_touch_only_its_events(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    for (app, mid, person, at) in [("900", "a1", ann, 1), ("901", "b1", bob, 2), ("900", "a2", ann, 3)] {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event(app, "100", person, mid, at)]).await.unwrap();
    }
    let claimed = store.claim_outbox(10, 1_000, &ClaimLimits::of_app(AppId("901".into()), 10, 10)).await.unwrap();
    assert_eq!(bodies(&claimed), ["b1"], "only the app asked for");
    let theirs = store.claim_outbox(10, 1_000, &ClaimLimits::of_app(AppId("900".into()), 10, 10)).await.unwrap();
    assert_eq!(bodies(&theirs), ["a1", "a2"]);

    // 901's listener names 900's events: nothing of 900's moves.
    let all: Vec<i64> = claimed.iter().chain(&theirs).map(|e| e.id).collect();
    assert_eq!(store.acknowledge(&AppId("901".into()), &all, 20).await.unwrap(), 1);
    store.outbox_failed(failure("901", 20, theirs.iter().map(|e| (e.id, None)).collect())).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 2, "900's events are neither delivered nor given up by 901");
    assert!(store.recent_failures(&AppId("901".into()), 10).await.unwrap()[0].event_ids.is_empty());

    // Let go: due again at once, unless someone else leased them since.
    let heads: Vec<i64> = theirs.iter().map(|e| e.id).collect();
    store.release_leases(&heads, 999).await.unwrap();
    assert!(store.claim_outbox(30, 2_000, &ClaimLimits::runs(10, 10)).await.unwrap().is_empty(), "a lease of another end is kept");
    store.release_leases(&heads, 1_000).await.unwrap();
    assert_eq!(bodies(&store.claim_outbox(30, 2_000, &ClaimLimits::runs(10, 10)).await.unwrap()), ["a1", "a2"]);
    store.outbox_failed(failure("900", 40, vec![(heads[0], Some(5_000)), (heads[1], Some(5_000))])).await.unwrap();
    assert_eq!(store.make_due(&AppId("900".into()), 50).await.unwrap(), 2);
    assert_eq!(bodies(&store.claim_outbox(50, 2_000, &ClaimLimits::runs(10, 10)).await.unwrap()), ["a1", "a2"], "made due before their retry time");
}

fn pull(app: &str, ack_below: Option<i64>, now: Millis, limit: u32) -> PullRequest {
    PullRequest { app: AppId(app.into()), ack_below, now, lease_until: now + 1_000, give_up_before: 0, limit }
}

pub async fn a_pull_hands_out_in_order_again_until_acknowledged_by_offset(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob) = (ids[0], ids[1]);
    for (mid, person, at) in [("a1", ann, 1), ("b1", bob, 2), ("a2", ann, 3)] {
        store.append_message(message(mid, "100", person, Direction::Inbound, at), vec![event("900", "100", person, mid, at)]).await.unwrap();
    }
    let first = store.pull(&pull("900", None, 10, 2)).await.unwrap();
    assert_eq!(bodies(&first), ["a1", "b1"], "by id: each thread's events in order");
    assert!(store.claim_outbox(20, 500, &ClaimLimits::runs(10, 10)).await.unwrap().iter().all(|e| e.body != b"a1"), "handed out: leased");
    // An offset acknowledges only what was handed out below it.
    let again = store.pull(&pull("900", Some(first[0].id + 1), 30, 10)).await.unwrap();
    assert_eq!(bodies(&again), ["b1", "a2"], "a1 settled; b1 again, unacknowledged");
    store.append_message(message("a3", "100", ann, Direction::Inbound, 35), vec![event("900", "100", ann, "a3", 35)]).await.unwrap();
    let after = store.pull(&pull("900", Some(i64::MAX), 40, 10)).await.unwrap();
    assert_eq!(bodies(&after), ["a3"], "a3 was never handed out: no offset acknowledges it");
    assert!(store.pull(&pull("900", Some(after[0].id + 1), 45, 10)).await.unwrap().is_empty());
    assert_eq!(store.outbox_pending().await.unwrap(), 0);

    // Past the retry horizon: given up, not handed out.
    store.append_message(message("a4", "100", ann, Direction::Inbound, 50), vec![event("900", "100", ann, "a4", 50)]).await.unwrap();
    let late = PullRequest { give_up_before: 60, ..pull("900", None, 100, 10) };
    assert!(store.pull(&late).await.unwrap().is_empty());
    let dead = store.events_of(&AppId("900".into()), Some(EventState::Dead), 0, 1_000, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
}
