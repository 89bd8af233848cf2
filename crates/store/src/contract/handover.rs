//! Checks of the Handover Protocol's state: receiver roles, who owns a thread and
//! who hears of its events, and changes of control that happen only once.

use super::*;

fn install(page: &str, app: &str) -> PageSubscription {
    PageSubscription { page: PageId(page.into()), app: AppId(app.into()), fields: vec![WebhookField::Messages, WebhookField::Standby] }
}

fn on(field: WebhookField, event: NewOutboxEvent) -> NewOutboxEvent {
    NewOutboxEvent { field, ..event }
}

/// The pending events, delivered, as (app, field, body): by app, each app's in the
/// order they are claimed.
async fn pending(store: &Shared) -> Vec<(String, WebhookField, String)> {
    let mut all = Vec::new();
    loop {
        let mut claimed = store.claim_outbox(10, 20, &ClaimLimits::heads(100)).await.unwrap();
        claimed.sort_by_key(|e| e.id);
        if claimed.is_empty() {
            all.sort_by(|a: &(String, WebhookField, String), b| a.0.cmp(&b.0));
            return all;
        }
        for event in &claimed {
            all.push((event.app.0.clone(), event.field, String::from_utf8(event.body.clone()).unwrap()));
        }
        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
        store.outbox_delivered(&ids, 11).await.unwrap();
    }
}

pub async fn the_first_app_installed_is_the_primary_receiver(store: Shared) {
    store.create_page(page("100", "shop"), None).await.unwrap();
    for id in ["900", "901", "902"] {
        store.create_app(app(id), None).await.unwrap();
        store.put_page_subscription(install("100", id)).await.unwrap();
    }
    // Installing again changes the fields, not the role.
    store.put_page_subscription(install("100", "900")).await.unwrap();
    let shop = PageId("100".into());
    let roles = |receivers: Vec<Receiver>| receivers.into_iter().map(|r| (r.app.0, r.role)).collect::<Vec<_>>();
    use ReceiverRole::*;
    assert_eq!(
        roles(store.receivers(&shop).await.unwrap()),
        vec![("900".into(), Some(Primary)), ("901".into(), Some(Secondary)), ("902".into(), Some(Secondary))]
    );
    // A new primary makes the old one secondary; an app may hold no role.
    assert!(store.set_receiver_role(&shop, &AppId("902".into()), Some(Primary), Vec::new()).await.unwrap());
    assert!(store.set_receiver_role(&shop, &AppId("901".into()), None, Vec::new()).await.unwrap());
    assert_eq!(roles(store.receivers(&shop).await.unwrap()), vec![("900".into(), Some(Secondary)), ("901".into(), None), ("902".into(), Some(Primary))]);
    assert!(!store.set_receiver_role(&shop, &AppId("903".into()), Some(Primary), Vec::new()).await.unwrap(), "not installed");
    // Uninstalled, the primary's threads are no one's.
    let ann = store.create_person(person("Ann")).await.unwrap().id;
    let opening = Message { opens_to: Some(AppId("902".into())), ..message("m_1", "100", ann, Direction::Inbound, 5) };
    store.append_message(opening, Vec::new()).await.unwrap();
    assert_eq!(store.thread_control(&shop, ann).await.unwrap().unwrap().owner, Some(AppId("902".into())));
    store.delete_page_subscription(&shop, &AppId("902".into())).await.unwrap();
    assert_eq!(store.thread_control(&shop, ann).await.unwrap().unwrap().owner, None);
    // Routing rules by ref.
    store.put_routing_rule(RoutingRule { page: shop.clone(), reference: "sales".into(), app: AppId("901".into()) }).await.unwrap();
    store.put_routing_rule(RoutingRule { page: shop.clone(), reference: "sales".into(), app: AppId("900".into()) }).await.unwrap();
    assert_eq!(store.routing_rules(&shop).await.unwrap(), vec![RoutingRule { page: shop.clone(), reference: "sales".into(), app: AppId("900".into()) }]);
    assert!(store.delete_routing_rule(&shop, "sales").await.unwrap());
    assert!(store.routing_rules(&shop).await.unwrap().is_empty());
}

pub async fn the_owner_decides_who_hears_and_who_may_write(store: Shared) {
    let ann = seed(&store, 1).await[0];
    let shop = PageId("100".into());
    let (bot, crm) = (AppId("900".into()), AppId("901".into()));
    // Every app gets a messaging and a standby row; the owner at write time keeps one of each.
    let both = |body: &str, at| {
        ["900", "901"].iter().flat_map(|app| [event(app, "100", ann, body, at), on(WebhookField::Standby, event(app, "100", ann, body, at))]).collect::<Vec<_>>()
    };
    let opening = Message { opens_to: Some(bot.clone()), ..message("m_1", "100", ann, Direction::Inbound, 5) };
    store.append_message(opening, both("first", 5)).await.unwrap();
    // Another app's message to the bot's thread is refused, and stores nothing.
    let intruding = Message { app: Some(crm.clone()), opens_to: Some(crm.clone()), ..message("m_2", "100", ann, Direction::Outbound, 6) };
    let refused = store.append_message(intruding, both("intruder", 6)).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::ThreadOwnedBy(ref owner)) if *owner == bot), "{refused:?}");
    assert!(store.message(&Mid("m_2".into())).await.unwrap().is_none());
    assert_eq!(
        pending(&store).await,
        vec![("900".into(), WebhookField::Messages, "first".into()), ("901".into(), WebhookField::Standby, "first".into())]
    );

    // A change of control happens only from what the caller saw, with its events.
    let handover = |app: &str, body: &str| on(WebhookField::MessagingHandovers, event(app, "100", ann, body, 7));
    let pass = ControlChange { page: shop.clone(), person: ann, from: Some(bot.clone()), to: Some(crm.clone()), agent: None, at: 7 };
    assert!(store.change_control(pass.clone(), vec![handover("901", "passed")]).await.unwrap());
    assert!(!store.change_control(pass, vec![handover("901", "passed twice")]).await.unwrap(), "the thread moved on");
    let control = store.thread_control(&shop, ann).await.unwrap().unwrap();
    assert_eq!((control.owner, control.since), (Some(crm.clone()), Some(7)));
    store.append_message(message("m_3", "100", ann, Direction::Inbound, 8), both("second", 8)).await.unwrap();
    assert_eq!(
        pending(&store).await,
        vec![
            ("900".into(), WebhookField::Standby, "second".into()),
            ("901".into(), WebhookField::MessagingHandovers, "passed".into()),
            ("901".into(), WebhookField::Messages, "second".into()),
        ]
    );
    // Receipts follow the owner too; released, the thread is everyone's.
    let release = ControlChange { page: shop.clone(), person: ann, from: Some(crm.clone()), to: None, agent: None, at: 9 };
    assert!(store.change_control(release, Vec::new()).await.unwrap());
    let read = both("read", 9).into_iter().map(|e| on(if e.field == WebhookField::Standby { e.field } else { WebhookField::MessageReads }, e)).collect();
    assert!(store.advance_receipt(&shop, ann, Receipt::Read, 9, read).await.unwrap());
    let delivered: Vec<_> = pending(&store).await.into_iter().map(|(app, field, _)| (app, field)).collect();
    assert_eq!(delivered, vec![("900".into(), WebhookField::MessageReads), ("901".into(), WebhookField::MessageReads)]);

    // The Page Inbox holds a thread with the agent who took it; a thread not opened
    // yet is created by the change, from the owner the caller expected.
    let inbox = AppId(PAGE_INBOX_APP.into());
    let take = ControlChange { page: shop.clone(), person: ann, from: None, to: Some(inbox.clone()), agent: Some(ann), at: 10 };
    assert!(store.change_control(take, Vec::new()).await.unwrap());
    assert_eq!(store.thread_control(&shop, ann).await.unwrap().unwrap().agent, Some(ann));
    let bob = store.create_person(person("Bob")).await.unwrap().id;
    let first = ControlChange { page: shop.clone(), person: bob, from: Some(bot.clone()), to: Some(inbox), agent: None, at: 11 };
    assert!(store.change_control(first, Vec::new()).await.unwrap());
    let threads = store.inbox_threads(&shop, None, 10).await.unwrap();
    assert_eq!(threads.iter().map(|t| (t.person, t.control.agent)).collect::<Vec<_>>(), vec![(bob, None), (ann, Some(ann))]);
    let pages = store.inbox_pages(None).await.unwrap();
    assert_eq!((pages.len(), pages[0].waiting), (1, 1), "Bob's thread waits for an agent");
}

/// Appends that race are written in groups; a member the thread refuses fails alone,
/// and its group's other members are stored with their events, each thread's
/// events delivered one head at a time.
pub async fn a_refused_member_leaves_the_rest_of_its_group_written(store: Shared) {
    let persons = seed(&store, 6).await;
    let (bot, crm) = (AppId("900".into()), AppId("901".into()));
    let both = |person, body: &str, at| {
        ["900", "901"].iter().flat_map(|app| [event(app, "100", person, body, at), on(WebhookField::Standby, event(app, "100", person, body, at))]).collect::<Vec<_>>()
    };
    // The bot owns every thread.
    for (n, &person) in persons.iter().enumerate() {
        let opening = Message { opens_to: Some(bot.clone()), ..message(&format!("open-{n}"), "100", person, Direction::Inbound, 1) };
        store.append_message(opening, both(person, &format!("open-{n}"), 1)).await.unwrap();
    }
    // Persons write, the bot answers and the CRM intrudes, all at once.
    let writers: Vec<_> = (0..300)
        .map(|n| {
            let store = store.clone();
            let person = persons[n % persons.len()];
            let (direction, app) = match n % 3 {
                0 => (Direction::Inbound, None),
                1 => (Direction::Outbound, Some(bot.clone())),
                _ => (Direction::Outbound, Some(crm.clone())),
            };
            let events = both(person, &format!("c{n}"), 10 + n as i64);
            tokio::spawn(async move { store.append_message(Message { app, ..message(&format!("c{n}"), "100", person, direction, 10 + n as i64) }, events).await })
        })
        .collect();
    let mut expected: std::collections::BTreeMap<(String, PersonId), Vec<String>> = Default::default();
    for (n, &person) in persons.iter().enumerate() {
        for app in ["900", "901"] {
            expected.entry((app.into(), person)).or_default().push(format!("open-{n}"));
        }
    }
    for (n, writer) in writers.into_iter().enumerate() {
        let written = writer.await.unwrap();
        if n % 3 == 2 {
            assert!(matches!(written, Err(StoreError::Conflict(Conflict::ThreadOwnedBy(ref owner))) if *owner == bot), "c{n}: {written:?}");
            assert!(store.message(&Mid(format!("c{n}"))).await.unwrap().is_none(), "a refused message is not stored");
        } else {
            written.unwrap_or_else(|e| panic!("c{n} was refused with its group: {e:?}"));
            for app in ["900", "901"] {
                expected.entry((app.into(), persons[n % persons.len()])).or_default().push(format!("c{n}"));
            }
        }
    }
    // The owner hears every stored message as `messages`, the other app as
    // `standby`; each claim holds one head per thread, and no event is left behind.
    let mut heard: std::collections::BTreeMap<(String, PersonId), Vec<String>> = Default::default();
    loop {
        let claimed = store.claim_outbox(1_000, 2_000, &ClaimLimits::heads(1_000)).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        let mut heads = std::collections::HashSet::new();
        for event in &claimed {
            assert!(heads.insert((event.app.clone(), event.person)), "two heads of one thread in one claim: {event:?}");
            let field = if event.app == bot { WebhookField::Messages } else { WebhookField::Standby };
            assert_eq!(event.field, field, "{event:?}");
            heard.entry((event.app.0.clone(), event.person)).or_default().push(String::from_utf8(event.body.clone()).unwrap());
        }
        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
        store.outbox_delivered(&ids, 1_001).await.unwrap();
    }
    for bodies in heard.values_mut().chain(expected.values_mut()) {
        bodies.sort();
    }
    assert_eq!(heard, expected);
}
