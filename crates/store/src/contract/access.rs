//! Who may hold what, and for how long: a Page keeps an admin, revocations last,
//! quotas hold however many requests race.

use super::*;

pub async fn a_page_keeps_an_admin_whoever_races_to_leave(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    let bob = store.create_person(person("Bob")).await.unwrap();
    store.create_page(page("100", "shop"), Some(Owner { person: ann.id, quota: 0 })).await.unwrap();
    let shop = PageId("100".into());
    assert_eq!(store.page_role(&shop, ann.id).await.unwrap(), Some(PageRole::Admin), "the creator is its admin");
    assert!(matches!(store.set_page_role(&shop, ann.id, None).await, Err(StoreError::Conflict(_))), "the last admin stays");
    store.set_page_role(&shop, bob.id, None).await.unwrap();
    // Two admins remove themselves at once: exactly one stays.
    store.set_page_role(&shop, bob.id, Some(PageRole::Admin)).await.unwrap();
    let (first, second) = tokio::join!(store.set_page_role(&shop, ann.id, None), store.set_page_role(&shop, bob.id, None));
    assert_eq!([first.is_ok(), second.is_ok()].iter().filter(|ok| **ok).count(), 1, "{first:?} {second:?}");
    let left = [store.page_role(&shop, ann.id).await.unwrap(), store.page_role(&shop, bob.id).await.unwrap()];
    assert_eq!(left.iter().flatten().count(), 1);
}

pub async fn revoked_page_tokens_stay_revoked(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    let bob = store.create_person(person("Bob")).await.unwrap();
    store.create_page(page("100", "shop"), Some(Owner { person: ann.id, quota: 0 })).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    store.create_app(app("901"), None).await.unwrap();
    let (shop, bot, other) = (PageId("100".into()), AppId("900".into()), AppId("901".into()));
    store.set_page_role(&shop, bob.id, Some(PageRole::Admin)).await.unwrap();
    assert_eq!(store.grant_page(grant("100", "900", ann.id, 0), minter("ann-bot")).await.unwrap(), 0, "granting registers the token");
    store.grant_page(grant("100", "901", ann.id, 0), minter("ann-other")).await.unwrap();
    assert_eq!(store.register_page_token(&shop, &bot, bob.id, 1, minter("bob-bot")).await.unwrap(), 0);
    assert_eq!(store.register_page_token(&shop, &other, bob.id, 1, minter("bob-other")).await.unwrap(), 0);
    assert_eq!(store.register_page_token(&shop, &bot, bob.id, 2, minter("bob-bot")).await.unwrap(), 0, "asked again: the same token");
    let resolved = store.token("ann-bot@0").await.unwrap().expect("a registered Page token resolves");
    assert_eq!(resolved.grant, TokenGrant::Page { page: shop.clone(), app: bot.clone(), person: ann.id });

    // Bob loses his role: the tokens issued through him go, Ann's stay.
    store.set_page_role(&shop, bob.id, None).await.unwrap();
    assert_eq!(store.token("bob-bot@0").await.unwrap(), None);
    assert_eq!(store.token("bob-other@0").await.unwrap(), None);
    assert!(store.token("ann-bot@0").await.unwrap().is_some());
    // Restoring the role brings nothing back: the next token of Bob's is a new one.
    store.set_page_role(&shop, bob.id, Some(PageRole::Admin)).await.unwrap();
    assert_eq!(store.register_page_token(&shop, &bot, bob.id, 3, minter("bob-bot")).await.unwrap(), 1);
    assert_eq!(store.token("bob-bot@0").await.unwrap(), None);
    assert!(store.token("bob-bot@1").await.unwrap().is_some());

    // The app is removed from the Page: its grant, subscription and tokens go.
    store.put_page_subscription(PageSubscription { page: shop.clone(), app: bot.clone(), fields: vec![WebhookField::Messages] }).await.unwrap();
    assert!(store.revoke_page_grant(&shop, &bot, removal("app_removed")).await.unwrap());
    assert!(!store.page_granted(&shop, &bot).await.unwrap());
    assert!(store.page_subscriptions(&shop).await.unwrap().iter().all(|s| s.app != bot));
    assert_eq!(store.token("ann-bot@0").await.unwrap(), None);
    assert!(store.page_granted(&shop, &other).await.unwrap(), "another app keeps its grant");
    assert!(!store.revoke_page_grant(&shop, &bot, removal("app_removed")).await.unwrap(), "nothing left to revoke");
    // The removal's audit record and callback were stored with it, once.
    assert_eq!(store.privacy_audit(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.privacy_callbacks(&bot, 10).await.unwrap().len(), 1);
    // Granted again, the old token stays dead and a new one is minted.
    assert_eq!(store.grant_page(grant("100", "900", ann.id, 0), minter("ann-bot")).await.unwrap(), 1);
    assert_eq!(store.token("ann-bot@0").await.unwrap(), None);
    assert!(store.token("ann-bot@1").await.unwrap().is_some());
}

/// Tokens registered while a revocation runs are either minted for the new epoch or
/// revoked with the others: none of the old epoch survives it.
pub async fn page_tokens_registered_during_a_revocation_do_not_survive_it(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "shop"), Some(Owner { person: ann.id, quota: 0 })).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    let (shop, bot) = (PageId("100".into()), AppId("900".into()));
    store.grant_page(grant("100", "900", ann.id, 0), minter("t")).await.unwrap();
    for round in 0..5u32 {
        let registering: Vec<_> = (0..4)
            .map(|_| {
                let (store, shop, bot) = (store.clone(), shop.clone(), bot.clone());
                tokio::spawn(async move { store.register_page_token(&shop, &bot, ann.id, 10, minter("t")).await.unwrap() })
            })
            .collect();
        let mut reset = app("900");
        reset.secret_generation = round + 1;
        store.update_app(&reset, None, true).await.unwrap();
        for task in registering {
            task.await.unwrap();
        }
        let current = store.register_page_token(&shop, &bot, ann.id, 20, minter("t")).await.unwrap();
        for epoch in 0..current {
            assert_eq!(store.token(&format!("t@{epoch}")).await.unwrap(), None, "round {round}: epoch {epoch} of {current} survived");
        }
    }
}

pub async fn a_secret_reset_revokes_the_apps_tokens(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "shop"), Some(Owner { person: ann.id, quota: 0 })).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    store.create_app(app("901"), None).await.unwrap();
    store.register_page_token(&PageId("100".into()), &AppId("900".into()), ann.id, 1, minter("page-token")).await.unwrap();
    let user = |app: &str, digest: &str| TokenRecord {
        hash: digest.into(),
        grant: TokenGrant::User { person: ann.id, app: AppId(app.into()) },
        issued_at: 1,
        expires_at: None,
    };
    store.insert_token(user("900", "user-token")).await.unwrap();
    store.insert_token(user("901", "other-app")).await.unwrap();
    store.insert_token(TokenRecord { hash: "session".into(), grant: TokenGrant::Session { person: ann.id }, issued_at: 1, expires_at: None }).await.unwrap();
    let mut reset = app("900");
    reset.secret_generation = 1;
    store.update_app(&reset, None, true).await.unwrap();
    assert_eq!(store.token("page-token@0").await.unwrap(), None);
    assert_eq!(store.token("user-token").await.unwrap(), None);
    assert!(store.token("other-app").await.unwrap().is_some(), "another app's tokens stay");
    assert!(store.token("session").await.unwrap().is_some(), "the person's session stays");
    let next = store.register_page_token(&PageId("100".into()), &AppId("900".into()), ann.id, 2, minter("page-token")).await.unwrap();
    assert_eq!(next, 1, "the next Page token is a new one");
}

pub async fn quotas_hold_under_concurrent_creations(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    let owner = Owner { person: ann.id, quota: 3 };
    let mut apps = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        apps.push(tokio::spawn(async move { store.create_app(app(&format!("9{n:02}")), Some(owner)).await }));
    }
    let mut created = 0;
    for result in apps {
        match result.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::QuotaExceeded(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(created, 3, "exactly the quota of apps");
    assert_eq!(store.apps_for(Some(ann.id)).await.unwrap().len(), 3, "each created app has its administrator");

    let mut pages = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        pages.push(tokio::spawn(async move { store.create_page(page(&format!("1{n:02}"), &format!("page{n}")), Some(owner)).await }));
    }
    let mut created = 0;
    for result in pages {
        if result.await.unwrap().is_ok() {
            created += 1;
        }
    }
    assert_eq!(created, 3, "exactly the quota of Pages");
    assert!(matches!(store.create_app(app("950"), Some(owner)).await, Err(StoreError::QuotaExceeded(_))));
    assert!(store.app(&AppId("950".into())).await.unwrap().is_none(), "a refused app is not stored");
    store.create_app(app("951"), None).await.unwrap();

    // Apps on one Page.
    store.create_page(page("200", "shop"), None).await.unwrap();
    for n in 0..3 {
        store.create_app(app(&format!("96{n}")), None).await.unwrap();
    }
    store.grant_page(grant("200", "960", ann.id, 2), minter("960")).await.unwrap();
    store.grant_page(grant("200", "961", ann.id, 2), minter("961")).await.unwrap();
    assert!(matches!(store.grant_page(grant("200", "962", ann.id, 2), minter("962")).await, Err(StoreError::QuotaExceeded(_))));
    assert_eq!(store.token("962@0").await.unwrap(), None, "a refused grant registers no token");
    store.grant_page(grant("200", "961", ann.id, 2), minter("961")).await.unwrap();
}
