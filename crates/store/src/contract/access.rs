//! Who may hold what, and for how long: a Page keeps an admin, revocations last,
//! quotas hold however many requests race.

use super::*;

fn page_token(page: &str, app: &str, person: PersonId, digest: &str) -> TokenRecord {
    TokenRecord {
        hash: digest.into(),
        grant: TokenGrant::Page { page: PageId(page.into()), app: AppId(app.into()), person },
        issued_at: 1,
        expires_at: None,
    }
}

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
    store.grant_page(&shop, &bot, ann.id, 1, 0).await.unwrap();
    store.grant_page(&shop, &other, ann.id, 1, 0).await.unwrap();
    store.insert_token(page_token("100", "900", ann.id, "ann-bot")).await.unwrap();
    store.insert_token(page_token("100", "900", bob.id, "bob-bot")).await.unwrap();
    store.insert_token(page_token("100", "901", bob.id, "bob-other")).await.unwrap();
    assert_eq!(store.page_token_epoch(&shop, &bot, bob.id).await.unwrap(), 0);

    // Bob loses his role: the tokens issued through him go, Ann's stay.
    store.set_page_role(&shop, bob.id, None).await.unwrap();
    assert_eq!(store.token("bob-bot").await.unwrap(), None);
    assert_eq!(store.token("bob-other").await.unwrap(), None);
    assert!(store.token("ann-bot").await.unwrap().is_some());
    assert_eq!(store.page_token_epoch(&shop, &bot, bob.id).await.unwrap(), 1, "the next token of Bob's is a new one");
    // Restoring the role brings nothing back.
    store.set_page_role(&shop, bob.id, Some(PageRole::Admin)).await.unwrap();
    assert_eq!(store.token("bob-bot").await.unwrap(), None);

    // The app is removed from the Page: its grant, subscription and tokens go.
    store.put_page_subscription(PageSubscription { page: shop.clone(), app: bot.clone(), fields: vec![WebhookField::Messages] }).await.unwrap();
    assert!(store.revoke_page_grant(&shop, &bot).await.unwrap());
    assert!(!store.page_granted(&shop, &bot).await.unwrap());
    assert!(store.page_subscriptions(&shop).await.unwrap().iter().all(|s| s.app != bot));
    assert_eq!(store.token("ann-bot").await.unwrap(), None);
    assert_eq!(store.page_token_epoch(&shop, &bot, ann.id).await.unwrap(), 1);
    assert!(store.page_granted(&shop, &other).await.unwrap(), "another app keeps its grant");
    assert!(!store.revoke_page_grant(&shop, &bot).await.unwrap(), "nothing left to revoke");
    // Granted again, the old token stays dead.
    store.grant_page(&shop, &bot, ann.id, 2, 0).await.unwrap();
    assert_eq!(store.token("ann-bot").await.unwrap(), None);
}

pub async fn a_secret_reset_revokes_the_apps_tokens(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_page(page("100", "shop"), Some(Owner { person: ann.id, quota: 0 })).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    store.create_app(app("901"), None).await.unwrap();
    store.insert_token(page_token("100", "900", ann.id, "page-token")).await.unwrap();
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
    assert_eq!(store.token("page-token").await.unwrap(), None);
    assert_eq!(store.token("user-token").await.unwrap(), None);
    assert!(store.token("other-app").await.unwrap().is_some(), "another app's tokens stay");
    assert!(store.token("session").await.unwrap().is_some(), "the person's session stays");
    assert_eq!(store.page_token_epoch(&PageId("100".into()), &AppId("900".into()), ann.id).await.unwrap(), 1);
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
    let shop = PageId("200".into());
    for n in 0..3 {
        store.create_app(app(&format!("96{n}")), None).await.unwrap();
    }
    store.grant_page(&shop, &AppId("960".into()), ann.id, 1, 2).await.unwrap();
    store.grant_page(&shop, &AppId("961".into()), ann.id, 1, 2).await.unwrap();
    assert!(matches!(store.grant_page(&shop, &AppId("962".into()), ann.id, 1, 2).await, Err(StoreError::QuotaExceeded(_))));
    store.grant_page(&shop, &AppId("961".into()), ann.id, 2, 2).await.unwrap();
}
