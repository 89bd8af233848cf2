//! Checks of custom labels (one name per Page, a limit that holds under races,
//! memberships kept once and gone with their label, paging) and of a person's own
//! settings on a Page.

use super::*;

fn label(id: &str, page: &str, name: &str, at: Millis) -> Label {
    Label { id: id.into(), page: PageId(page.into()), name: name.into(), created_at: at }
}

pub async fn labels_keep_one_name_per_page_and_their_members_once(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob, hundred) = (ids[0], ids[1], PageId("100".into()));
    store.create_page(page("200", "two"), None).await.unwrap();

    let vip = store.create_label(label("1", "100", "vip", 10), 3).await.unwrap();
    assert_eq!(vip, label("1", "100", "vip", 10));
    assert_eq!(store.create_label(label("2", "100", "vip", 11), 3).await.unwrap(), vip, "the same name answers the label it names");
    assert_eq!(store.create_label(label("3", "200", "vip", 12), 3).await.unwrap().id, "3", "names are per Page");
    store.create_label(label("4", "100", "new", 13), 3).await.unwrap();
    assert_eq!(store.label("2").await.unwrap(), None);
    assert_eq!(store.label("3").await.unwrap().unwrap().page, PageId("200".into()));

    // Members once, however often added; a label gone takes none.
    assert!(store.add_to_label("1", ann, 20).await.unwrap());
    assert!(store.add_to_label("1", ann, 21).await.unwrap());
    assert!(store.add_to_label("4", ann, 22).await.unwrap());
    assert!(store.add_to_label("1", bob, 23).await.unwrap());
    assert!(!store.add_to_label("nope", ann, 24).await.unwrap());
    let names = |labels: Vec<Label>| labels.into_iter().map(|l| l.name).collect::<Vec<_>>();
    assert_eq!(names(store.labels(&hundred, Some(ann), None, 10).await.unwrap()), ["vip", "new"]);
    assert_eq!(names(store.labels(&hundred, Some(bob), None, 10).await.unwrap()), ["vip"]);
    assert_eq!(names(store.labels(&PageId("200".into()), Some(ann), None, 10).await.unwrap()), Vec::<String>::new());
    let counts: Vec<(String, u64)> = store.label_counts(&hundred).await.unwrap().into_iter().map(|c| (c.label.name, c.members)).collect();
    assert_eq!(counts, [("new".to_string(), 1), ("vip".to_string(), 2)], "by name, each counted");

    // Paging: oldest first, after a (created_at, id) cursor.
    assert_eq!(names(store.labels(&hundred, None, None, 1).await.unwrap()), ["vip"]);
    assert_eq!(names(store.labels(&hundred, None, Some((10, "1".into())), 5).await.unwrap()), ["new"]);
    assert!(store.labels(&hundred, None, Some((13, "4".into())), 5).await.unwrap().is_empty());

    assert!(store.remove_from_label("1", bob).await.unwrap());
    assert!(!store.remove_from_label("1", bob).await.unwrap(), "removed once");
    assert!(store.delete_label("1").await.unwrap());
    assert!(!store.delete_label("1").await.unwrap());
    assert_eq!(store.label("1").await.unwrap(), None);
    assert_eq!(names(store.labels(&hundred, Some(ann), None, 10).await.unwrap()), ["new"], "its members went with it");
    assert!(!store.add_to_label("1", ann, 30).await.unwrap());
    assert_eq!(store.label_counts(&hundred).await.unwrap().len(), 1);
}

pub async fn a_pages_label_limit_holds_under_concurrent_creations(store: Shared) {
    seed(&store, 0).await;
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.create_label(label(&format!("l{n}"), "100", &format!("label {n}"), n), 5).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(error) => assert!(matches!(error, StoreError::QuotaExceeded(Quota::LabelsPerPage(5))), "{error:?}"),
        }
    }
    assert_eq!(created, 5);
    let held = store.label_counts(&PageId("100".into())).await.unwrap();
    assert_eq!(held.len(), 5);
    let again = store.create_label(label("x", "100", &held[0].label.name, 99), 5).await.unwrap();
    assert_eq!(again, held[0].label, "a full Page still answers a name it has");
}

pub async fn a_persons_settings_are_their_own_on_each_page(store: Shared) {
    let ids = seed(&store, 2).await;
    let (ann, bob, hundred, two) = (ids[0], ids[1], PageId("100".into()), PageId("200".into()));
    let menu = |title: &str| serde_json::json!([{"locale": "default", "call_to_actions": [{"type": "postback", "title": title, "payload": "P"}]}]);
    assert!(store.custom_user_settings(&hundred, ann).await.unwrap().is_empty());
    store.update_custom_user_settings(&hundred, ann, vec![("persistent_menu".into(), menu("Ann's"))], vec![], 10).await.unwrap();
    store.update_custom_user_settings(&two, ann, vec![("persistent_menu".into(), menu("Elsewhere"))], vec![], 10).await.unwrap();
    store.update_custom_user_settings(&hundred, ann, vec![("persistent_menu".into(), menu("Ann's again"))], vec![], 11).await.unwrap();
    assert_eq!(store.custom_user_settings(&hundred, ann).await.unwrap(), vec![("persistent_menu".to_string(), menu("Ann's again"))]);
    assert!(store.custom_user_settings(&hundred, bob).await.unwrap().is_empty());
    store.update_custom_user_settings(&hundred, ann, vec![], vec!["persistent_menu".into()], 12).await.unwrap();
    assert!(store.custom_user_settings(&hundred, ann).await.unwrap().is_empty());
    assert_eq!(store.custom_user_settings(&two, ann).await.unwrap().len(), 1, "another Page's stays");
    store.update_custom_user_settings(&hundred, bob, vec![], vec!["persistent_menu".into()], 13).await.unwrap();
}
