//! The contract of the console's listings and the Page search.

use super::{app, event, failure, page, person, Shared};
use crate::*;
use switchboard_domain::*;

pub async fn listings_show_what_each_person_may_see(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    let bob = store.create_person(person("Bob")).await.unwrap();
    store.create_app(app("1"), None).await.unwrap();
    store.create_app(app("2"), None).await.unwrap();
    store.set_app_role(&AppId("1".into()), ann.id, Some(AppRole::Developer)).await.unwrap();
    store.set_app_role(&AppId("1".into()), bob.id, Some(AppRole::Tester)).await.unwrap();
    let mine: Vec<_> = store.apps_for(Some(ann.id)).await.unwrap().into_iter().map(|(a, role)| (a.id.0, role)).collect();
    assert_eq!(mine, vec![("1".to_string(), Some(AppRole::Developer))]);
    let all: Vec<_> = store.apps_for(None).await.unwrap().into_iter().map(|(a, role)| (a.id.0, role)).collect();
    assert_eq!(all, vec![("1".to_string(), None), ("2".to_string(), None)]);
    let members = store.app_members(&AppId("1".into())).await.unwrap();
    assert_eq!(members, vec![(ann.clone(), AppRole::Developer), (bob.clone(), AppRole::Tester)]);
    assert!(store.app_members(&AppId("2".into())).await.unwrap().is_empty());

    store.create_page(page("100", "hats_shop"), None).await.unwrap();
    store.create_page(page("200", "shoes"), None).await.unwrap();
    store.set_page_role(&PageId("200".into()), bob.id, Some(PageRole::Admin)).await.unwrap();
    assert_eq!(store.pages_for(Some(bob.id)).await.unwrap(), vec![page("200", "shoes")]);
    assert_eq!(store.pages_for(Some(ann.id)).await.unwrap(), vec![]);
    assert_eq!(store.pages_for(None).await.unwrap().len(), 2);
    store.set_page_role(&PageId("200".into()), ann.id, Some(PageRole::Agent)).await.unwrap();
    assert_eq!(store.page_members(&PageId("200".into())).await.unwrap(), vec![(ann.clone(), PageRole::Agent), (bob.clone(), PageRole::Admin)]);
    assert_eq!(store.pages_for(Some(ann.id)).await.unwrap(), vec![], "an agent administers nothing");

    assert_eq!(store.search_pages("HATS", 10).await.unwrap(), vec![page("100", "hats_shop")], "by username, any case");
    assert_eq!(store.search_pages("page s", 10).await.unwrap(), vec![page("200", "shoes")], "by name");
    assert_eq!(store.search_pages("s_s", 10).await.unwrap(), vec![page("100", "hats_shop")], "_ matches itself");
    assert_eq!(store.search_pages("%", 10).await.unwrap(), vec![], "% matches itself");
    assert_eq!(store.search_pages("page", 1).await.unwrap().len(), 1, "limited");

    assert_eq!(store.person_by_login("ann").await.unwrap(), Some(ann));
    assert_eq!(store.person_by_login("nobody").await.unwrap(), None);
}

pub async fn delivery_statistics_by_bucket(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "one"), None).await.unwrap();
    let message = super::message("m1", "100", ann.id, Direction::Inbound, 1_000);
    let events = vec![event("900", "100", ann.id, "{}", 1_000), event("900", "100", ann.id, "{}", 1_500), event("900", "100", ann.id, "{}", 61_000)];
    store.append_message(message, events).await.unwrap();
    let claimed = store.claim_outbox(1_000, 100_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[claimed[0].id], 1_100).await.unwrap();
    let next = store.claim_outbox(1_600, 100_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_failed(failure("900", 2_000, vec![(next[0].id, Some(5_000))])).await.unwrap();
    let again = store.claim_outbox(5_000, 100_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[again[0].id], 5_300).await.unwrap();
    let last = store.claim_outbox(61_000, 100_000, &ClaimLimits::heads(10)).await.unwrap();
    store.outbox_delivered(&[last[0].id], 61_010).await.unwrap();

    let stats = store.delivery_stats(&AppId("900".into()), 0, 120_000, 60_000).await.unwrap();
    assert_eq!(
        stats,
        vec![
            DeliveryBucket { start: 0, delivered: 2, failed: 1, latency_avg_ms: (100 + 3_800) / 2, latency_max_ms: 3_800 },
            DeliveryBucket { start: 60_000, delivered: 1, failed: 0, latency_avg_ms: 10, latency_max_ms: 10 },
        ]
    );
    assert!(store.delivery_stats(&AppId("900".into()), 120_000, 180_000, 60_000).await.unwrap().is_empty());
    assert!(store.delivery_stats(&AppId("901".into()), 0, 120_000, 60_000).await.unwrap().is_empty());
}
