//! Consent: login codes, what persons grant, App Review, test users, businesses.

use super::*;

fn scopes(list: &[Permission]) -> Scopes {
    list.iter().copied().collect()
}

pub async fn login_codes_are_spent_once_even_under_races(store: Shared) {
    let code = LoginCode { app: AppId("900".into()), person: PersonId(7), redirect_uri: "https://bot.example/cb".into(), expires_at: 50 };
    store.insert_login_code("code-digest", code.clone()).await.unwrap();
    assert_eq!(store.redeem_login_code("unknown").await.unwrap(), Redemption::Unknown);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.redeem_login_code("code-digest").await.unwrap() })
        })
        .collect();
    let mut redeemed = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Redemption::Redeemed(found) => {
                assert_eq!(found, code);
                redeemed += 1;
            }
            Redemption::Used(found) => assert_eq!(found, code),
            Redemption::Unknown => panic!("the code exists"),
        }
    }
    assert_eq!(redeemed, 1, "exactly one exchange spends the code");
}

pub async fn consent_is_recorded_withdrawn_and_deauthorized(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    store.create_page(page("100", "shop"), None).await.unwrap();
    store.set_page_role(&PageId("100".into()), ann.id, Some(PageRole::Admin)).await.unwrap();
    let app_id = AppId("900".into());
    assert_eq!(store.consent(ann.id, &app_id).await.unwrap(), Consent::default());

    let asked = scopes(&[Permission::PublicProfile, Permission::PagesMessaging, Permission::PagesShowList]);
    let granted = scopes(&[Permission::PublicProfile, Permission::PagesMessaging]);
    store.record_consent(ann.id, &app_id, granted, asked, 10).await.unwrap();
    let consent = store.consent(ann.id, &app_id).await.unwrap();
    assert_eq!((consent.granted, consent.declined), (granted, scopes(&[Permission::PagesShowList])));

    // A later dialog asking for more keeps the earlier answers about the rest.
    store.record_consent(ann.id, &app_id, scopes(&[Permission::PagesShowList]), Scopes::NONE, 11).await.unwrap();
    assert_eq!(store.consent(ann.id, &app_id).await.unwrap().granted, asked);

    assert!(store.withdraw_permission(ann.id, &app_id, Permission::PagesMessaging, 12).await.unwrap());
    assert!(!store.withdraw_permission(ann.id, &app_id, Permission::PagesMessaging, 13).await.unwrap(), "withdrawn already");
    let consent = store.consent(ann.id, &app_id).await.unwrap();
    assert!(!consent.granted.contains(Permission::PagesMessaging) && consent.declined.contains(Permission::PagesMessaging));

    // Removing the app: answers go, user tokens and Page tokens through Ann end.
    let user = TokenRecord { hash: "user-token".into(), grant: TokenGrant::User { person: ann.id, app: app_id.clone() }, issued_at: 1, expires_at: None };
    store.insert_token(user).await.unwrap();
    let with_consent = PageGrant { consent: granted, ..grant("100", "900", ann.id, 0) };
    store.grant_page(with_consent, minter("page")).await.unwrap();
    assert!(store.token("page@0").await.unwrap().is_some());
    assert!(store.consent(ann.id, &app_id).await.unwrap().granted.contains(Permission::PagesMessaging), "a grant records its consent");
    store.deauthorize(ann.id, &app_id, removal("app_deauthorized")).await.unwrap();
    assert_eq!(store.privacy_callbacks(&app_id, 10).await.unwrap()[0].kind, switchboard_domain::privacy::CallbackKind::Deauthorize);
    assert_eq!(store.consent(ann.id, &app_id).await.unwrap(), Consent::default());
    assert_eq!(store.token("user-token").await.unwrap(), None);
    assert_eq!(store.token("page@0").await.unwrap(), None);
    assert_eq!(store.register_page_token(&PageId("100".into()), &app_id, ann.id, 20, minter("page")).await.unwrap(), 1, "a new epoch");
}

pub async fn review_decisions_make_the_apps_approved_permissions(store: Shared) {
    store.create_app(app("900"), None).await.unwrap();
    let app_id = AppId("900".into());
    let submitted = scopes(&[Permission::PagesMessaging, Permission::HumanAgent]);
    store.submit_review(&app_id, submitted, "We answer customers", 10).await.unwrap();
    let reviews = store.reviews(&app_id).await.unwrap();
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|r| r.status == ReviewStatus::Pending && r.note == "We answer customers" && r.decided_at.is_none()));
    assert_eq!(store.pending_reviews().await.unwrap().len(), 1);

    store.decide_review(&app_id, Permission::PagesMessaging, true, None, 20).await.unwrap();
    store.decide_review(&app_id, Permission::HumanAgent, false, Some("No human agents in the screencast"), 21).await.unwrap();
    assert!(matches!(
        store.decide_review(&app_id, Permission::PagesShowList, true, None, 22).await,
        Err(StoreError::NotFound(Missing::Review { .. }))
    ));
    assert_eq!(store.app(&app_id).await.unwrap().unwrap().approved, scopes(&[Permission::PagesMessaging]));
    let declined = store.reviews(&app_id).await.unwrap().into_iter().find(|r| r.permission == Permission::HumanAgent).unwrap();
    assert_eq!((declined.status, declined.reason.as_deref(), declined.decided_at), (ReviewStatus::Declined, Some("No human agents in the screencast"), Some(21)));
    assert!(store.pending_reviews().await.unwrap().is_empty());

    // Submitting again reopens a declined permission, never an approved one.
    store.submit_review(&app_id, submitted, "Now with a screencast", 30).await.unwrap();
    let reviews = store.reviews(&app_id).await.unwrap();
    let status = |p: Permission| reviews.iter().find(|r| r.permission == p).unwrap().status;
    assert_eq!((status(Permission::PagesMessaging), status(Permission::HumanAgent)), (ReviewStatus::Approved, ReviewStatus::Pending));
    let (listed, _) = store.apps_for(None).await.unwrap().into_iter().find(|(a, _)| a.id == app_id).unwrap();
    assert_eq!(listed.approved, scopes(&[Permission::PagesMessaging]), "listings read the same approvals");
}

pub async fn deleted_test_users_cannot_sign_in_or_use_tokens(store: Shared) {
    store.create_app(app("900"), None).await.unwrap();
    let app_id = AppId("900".into());
    let granted: Scopes = [Permission::PublicProfile, Permission::PagesMessaging].into_iter().collect();
    let tess = store.create_test_user(person("Tess"), &app_id, granted).await.unwrap();
    assert_eq!(store.consent(tess.id, &app_id).await.unwrap().granted, granted, "created with what they granted");
    let plain = store.create_person(person("Paul")).await.unwrap();
    assert_eq!(store.test_users(&app_id).await.unwrap(), vec![tess.clone()]);
    store.insert_token(TokenRecord { hash: "tess-session".into(), grant: TokenGrant::Session { person: tess.id }, issued_at: 1, expires_at: None }).await.unwrap();
    assert!(!store.delete_test_user(&app_id, plain.id).await.unwrap(), "not a test user");
    assert!(!store.delete_test_user(&AppId("901".into()), tess.id).await.unwrap(), "another app's");
    assert!(store.delete_test_user(&app_id, tess.id).await.unwrap());
    assert!(!store.delete_test_user(&app_id, tess.id).await.unwrap(), "deleted already");
    assert!(store.test_users(&app_id).await.unwrap().is_empty());
    assert_eq!(store.person_credentials("tess").await.unwrap(), None);
    assert_eq!(store.token("tess-session").await.unwrap(), None);
    assert_eq!(store.app_role(&app_id, tess.id).await.unwrap(), None);
}

pub async fn id_matching_stays_within_a_business(store: Shared) {
    let ann = store.create_person(person("Ann")).await.unwrap();
    for (id, name) in [("100", "alpha"), ("200", "beta"), ("300", "other")] {
        store.create_page(page(id, name), None).await.unwrap();
    }
    for id in ["900", "901", "902"] {
        store.create_app(app(id), None).await.unwrap();
    }
    for (id, admin) in [("b1", Some(ann.id)), ("b2", None)] {
        store.create_business(Business { id: id.into(), name: format!("Business {id}"), admin }).await.unwrap();
    }
    assert_eq!(store.businesses(Some(ann.id)).await.unwrap().len(), 1);
    assert_eq!(store.businesses(None).await.unwrap().len(), 2);
    for (business, asset) in [
        ("b1", BusinessAsset::Page(PageId("100".into()))),
        ("b1", BusinessAsset::Page(PageId("200".into()))),
        ("b2", BusinessAsset::Page(PageId("300".into()))),
        ("b1", BusinessAsset::App(AppId("900".into()))),
        ("b1", BusinessAsset::App(AppId("901".into()))),
        ("b2", BusinessAsset::App(AppId("902".into()))),
    ] {
        store.assign_to_business(business, asset).await.unwrap();
    }
    assert!(store.assign_to_business("b1", BusinessAsset::Page(PageId("999".into()))).await.is_err());
    assert_eq!(store.business_of(BusinessAsset::Page(PageId("300".into()))).await.unwrap().as_deref(), Some("b2"));
    let psids: Vec<_> = [("100"), ("300")].iter().map(|p| PageId(p.to_string())).collect();
    let mut known = Vec::new();
    for page in &psids {
        known.push(store.psid(ann.id, page).await.unwrap());
    }
    store.asid(ann.id, &AppId("900".into())).await.unwrap();
    store.asid(ann.id, &AppId("902".into())).await.unwrap();
    let pages = store.ids_for_pages(ann.id, "b1").await.unwrap();
    assert_eq!(pages.iter().map(|(p, psid)| (p.id.as_str(), psid.clone())).collect::<Vec<_>>(), vec![("100", known[0].clone())], "Page 200 has no PSID yet, Page 300 is another business's");
    let apps = store.ids_for_apps(ann.id, "b1").await.unwrap();
    assert_eq!(apps.iter().map(|(a, _)| a.id.as_str()).collect::<Vec<_>>(), vec!["900"]);
}

/// The operator's policy action changes the app only from the state they saw, with
/// its audit record and events; of racing actions from one state, one wins.
pub async fn policy_enforcement_changes_only_what_was_seen(store: Shared) {
    store.create_page(page("100", "one"), None).await.unwrap();
    store.create_app(app("900"), None).await.unwrap();
    let audit = |change: &str| AuditRecord { at: 10, actor: "operator".into(), change: change.into() };
    let mut notice = event("900", "100", PersonId(0), "policy", 10);
    notice.field = WebhookField::MessagingPolicyEnforcement;
    assert!(store.enforce_policy(&AppId("900".into()), PolicyState::Clear, PolicyState::Warned, audit("policy warning: w"), vec![notice.clone()]).await.unwrap());
    assert_eq!(store.app(&AppId("900".into())).await.unwrap().unwrap().policy, PolicyState::Warned);
    assert_eq!(store.outbox_pending().await.unwrap(), 1, "the event is stored with the state");

    let racers: Vec<_> = (0..6)
        .map(|n| {
            let (store, notice) = (store.clone(), notice.clone());
            tokio::spawn(async move {
                store.enforce_policy(&AppId("900".into()), PolicyState::Warned, PolicyState::Blocked, audit(&format!("policy block: {n}")), vec![notice]).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        won += racer.await.unwrap() as usize;
    }
    assert_eq!(won, 1, "one block from the warned state");
    assert_eq!(store.app(&AppId("900".into())).await.unwrap().unwrap().policy, PolicyState::Blocked);
    assert_eq!(store.outbox_pending().await.unwrap(), 2, "the losers stored no event");
    let changes: Vec<String> = store.app_audit(&AppId("900".into())).await.unwrap().into_iter().map(|r| r.change).collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[1].starts_with("policy block: "));
    // A stale view changes nothing; an unknown app is missing.
    assert!(!store.enforce_policy(&AppId("900".into()), PolicyState::Clear, PolicyState::Blocked, audit("stale"), vec![]).await.unwrap());
    assert!(matches!(
        store.enforce_policy(&AppId("404".into()), PolicyState::Clear, PolicyState::Blocked, audit("x"), vec![]).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.app_audit(&AppId("900".into())).await.unwrap().len(), 2);
}

/// The token inventory: a Page's accepted recurring tokens that can still send, in
/// the order they were accepted, paged by (accepted at, mid), with the PSIDs.
pub async fn the_token_inventory_lists_usable_tokens_of_one_page(store: Shared) {
    let ids = seed(&store, 3).await;
    store.create_page(page("200", "two"), None).await.unwrap();
    let kind = OptinKind::Recurring(NotificationFrequency::Weekly);
    let mut psids = Vec::new();
    for (n, person) in ids.iter().enumerate() {
        psids.push(store.psid(*person, &PageId("100".into())).await.unwrap());
        let mid = format!("r{n}");
        let mut request = OptinRequest::new(Mid(mid.clone()), kind, PageId("100".into()), *person, format!("Topic {n}"), "P".into(), 10);
        request.reoptin = n == 0;
        assert!(store.send_optin_request(request, message(&mid, "100", *person, Direction::Outbound, 10), vec![]).await.unwrap());
        // Accepted in reverse order, the first two at the same millisecond.
        let at = if n == 2 { 20 } else { 30 };
        let tap = OptinTap { mid: Mid(mid), person: *person, token_digest: format!("t{n}"), expires_at: 1_000, at };
        assert!(store.tap_optin_request(tap, vec![]).await.unwrap());
    }
    // Not accepted, another Page's, and a one-time request: never listed.
    store.psid(ids[0], &PageId("200".into())).await.unwrap();
    let other = OptinRequest::new(Mid("o1".into()), kind, PageId("200".into()), ids[0], "Elsewhere".into(), "P".into(), 10);
    assert!(store.send_optin_request(other, message("o1", "200", ids[0], Direction::Outbound, 10), vec![]).await.unwrap());
    assert!(store.tap_optin_request(OptinTap { mid: Mid("o1".into()), person: ids[0], token_digest: "o".into(), expires_at: 1_000, at: 20 }, vec![]).await.unwrap());
    let waiting = OptinRequest::new(Mid("w1".into()), kind, PageId("100".into()), ids[1], "Waiting".into(), "P".into(), 10);
    assert!(store.send_optin_request(waiting, message("w1", "100", ids[1], Direction::Outbound, 10), vec![]).await.unwrap());
    let once = OptinRequest::new(Mid("x1".into()), OptinKind::OneTime, PageId("100".into()), ids[1], "Once".into(), "P".into(), 10);
    assert!(store.send_optin_request(once, message("x1", "100", ids[1], Direction::Outbound, 10), vec![]).await.unwrap());
    assert!(store.tap_optin_request(OptinTap { mid: Mid("x1".into()), person: ids[1], token_digest: "x".into(), expires_at: 1_000, at: 25 }, vec![]).await.unwrap());

    let page = PageId("100".into());
    let listed = |tokens: Vec<(OptinRequest, Psid)>| tokens.into_iter().map(|(r, psid)| (r.mid.0, psid)).collect::<Vec<_>>();
    let all = store.notification_tokens(&page, 100, None, 10).await.unwrap();
    assert!(all[0].0.tapped_at == Some(20) && !all[0].0.reoptin && all[1].0.reoptin, "{all:?}");
    assert_eq!(listed(all), [("r2".to_string(), psids[2].clone()), ("r0".into(), psids[0].clone()), ("r1".into(), psids[1].clone())]);
    let first = store.notification_tokens(&page, 100, None, 2).await.unwrap();
    assert_eq!(listed(first), [("r2".to_string(), psids[2].clone()), ("r0".into(), psids[0].clone())]);
    let rest = store.notification_tokens(&page, 100, Some((30, Mid("r0".into()))), 2).await.unwrap();
    assert_eq!(listed(rest), [("r1".to_string(), psids[1].clone())], "the cursor's millisecond is not skipped");
    // A stopped topic leaves the list until resumed; an expired token leaves it for good.
    store.set_optin_stopped(&Mid("r0".into()), Some(50), vec![]).await.unwrap();
    assert_eq!(listed(store.notification_tokens(&page, 100, None, 10).await.unwrap()).len(), 2);
    store.set_optin_stopped(&Mid("r0".into()), None, vec![]).await.unwrap();
    assert_eq!(listed(store.notification_tokens(&page, 100, None, 10).await.unwrap()).len(), 3);
    assert!(store.notification_tokens(&page, 1_000, None, 10).await.unwrap().is_empty(), "expired");
}
