//! The storage suite: every case runs on SQLite and on PostgreSQL, each on a fresh database.

use crate::helpers::StoreCase;
use time::{Duration, OffsetDateTime};
use tollgate::audit::{AuditAction, AuditEvent, Origin};
use tollgate::identity::{Group, User};
use tollgate::store::{Page, Revocation, StoreError};
use tollgate::token::{
    Action, NewToken, OrgId, Permission, Status, TokenId, TokenKind, UserId, now,
};

const FAKE_HASH: &str = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

fn new_token(kind: TokenKind, id: &str) -> NewToken {
    NewToken {
        id: TokenId::parse(id).unwrap(),
        kind,
        description: format!("token {id}"),
        permissions: vec![
            Permission::database(Action::Read, Some("db1")),
            Permission::database(Action::Write, None),
        ],
        operator: false,
        token_prefix: format!("{}{}", kind.prefix(), &id[..4]),
        secret_hash: FAKE_HASH.to_owned(),
        created_by: Some("00000000000000aa".to_owned()),
        created_at: now(),
        expires_at: Some(now() + Duration::days(30)),
        status: tollgate::token::Status::Active,
        user_id: None,
        org_id: None,
    }
}

fn operator(id: &str) -> NewToken {
    NewToken {
        operator: true,
        permissions: vec![],
        expires_at: None,
        created_by: None,
        ..new_token(TokenKind::Management, id)
    }
}

fn audit(action: &'static str) -> AuditEvent {
    AuditEvent::new(
        "token:00000000000000aa",
        AuditAction::parse(action),
        &Origin::default(),
    )
}

fn audit_at(action: &'static str, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        at,
        ..audit(action)
    }
}

fn id(n: u64) -> String {
    format!("{n:016x}")
}

on_both_engines! {
    async fn a_created_token_reads_back_with_everything_it_was_given(case: StoreCase) {
        let new = new_token(TokenKind::Database, "0123456789abcdef");
        let created = case.store.create_token(&new, &audit("token.create")).await.unwrap();
        let found = case.store.find_token(&new.id).await.unwrap().expect("found");
        for token in [&created, &found] {
            assert_eq!(token.id, new.id);
            assert_eq!(token.kind, TokenKind::Database);
            assert_eq!(token.description, new.description);
            assert_eq!(token.permissions, new.permissions);
            assert_eq!(token.status, Status::Active);
            assert_eq!(token.secret_hash, FAKE_HASH);
            assert_eq!(token.created_by.as_deref(), Some("00000000000000aa"));
            assert_eq!(token.created_at, new.created_at);
            assert_eq!(token.expires_at, new.expires_at);
            assert_eq!(token.revoked_at, None);
            assert!(!token.operator);
        }
        let missing = TokenId::parse("ffffffffffffffff").unwrap();
        assert!(case.store.find_token(&missing).await.unwrap().is_none());
    }

    async fn a_second_token_with_the_same_id_is_a_conflict_and_changes_nothing(case: StoreCase) {
        let first = new_token(TokenKind::Database, &id(7));
        case.store.create_token(&first, &audit("token.create")).await.unwrap();
        let mut second = new_token(TokenKind::Database, &id(7));
        second.description = "other".to_owned();
        match case.store.create_token(&second, &audit("token.create")).await {
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("expected a conflict, got {other:?}"),
        }
        let stored = case.store.find_token(&first.id).await.unwrap().unwrap();
        assert_eq!(stored.description, first.description);
    }

    async fn lists_page_by_id_and_show_revoked_tokens_only_when_asked(case: StoreCase) {
        for n in (1..=5).rev() {
            case.store.create_token(&new_token(TokenKind::Database, &id(n)), &audit("token.create")).await.unwrap();
        }
        case.store.create_token(&new_token(TokenKind::Management, &id(9)), &audit("token.create")).await.unwrap();
        case.store
            .revoke_token(&TokenId::parse(&id(2)).unwrap(), TokenKind::Database, &audit_at("token.revoke", now()))
            .await
            .unwrap();
        let ids = |tokens: Vec<tollgate::token::Token>| {
            tokens.into_iter().map(|t| t.id.to_string()).collect::<Vec<_>>()
        };
        let live = case.store
            .list_tokens(TokenKind::Database, false, Page { after: None, limit: 10 })
            .await
            .unwrap();
        assert_eq!(ids(live), vec![id(1), id(3), id(4), id(5)]);
        let first = case.store
            .list_tokens(TokenKind::Database, true, Page { after: None, limit: 2 })
            .await
            .unwrap();
        assert_eq!(ids(first), vec![id(1), id(2)]);
        let after = TokenId::parse(&id(2)).unwrap();
        let second = case.store
            .list_tokens(TokenKind::Database, true, Page { after: Some(&after), limit: 2 })
            .await
            .unwrap();
        assert_eq!(ids(second), vec![id(3), id(4)]);
        let management = case.store
            .list_tokens(TokenKind::Management, true, Page { after: None, limit: 10 })
            .await
            .unwrap();
        assert_eq!(ids(management), vec![id(9)]);
    }

    async fn revoking_stamps_revoked_at_once_and_a_second_revoke_keeps_the_first_time(case: StoreCase) {
        let new = new_token(TokenKind::Database, &id(3));
        case.store.create_token(&new, &audit("token.create")).await.unwrap();
        let first_at = now();
        let Revocation::Revoked(token) = case.store.revoke_token(&new.id, TokenKind::Database, &audit_at("token.revoke", first_at)).await.unwrap() else {
            panic!("expected a revocation");
        };
        assert_eq!(token.revoked_at, Some(first_at));
        let later = first_at + Duration::minutes(5);
        let Revocation::AlreadyRevoked(token) = case.store.revoke_token(&new.id, TokenKind::Database, &audit_at("token.revoke", later)).await.unwrap() else {
            panic!("expected already revoked");
        };
        assert_eq!(token.revoked_at, Some(first_at));
        assert!(matches!(
            case.store.revoke_token(&new.id, TokenKind::Management, &audit_at("token.revoke", later)).await.unwrap(),
            Revocation::NotFound
        ));
        let unknown = TokenId::parse(&id(99)).unwrap();
        assert!(matches!(
            case.store.revoke_token(&unknown, TokenKind::Database, &audit_at("token.revoke", later)).await.unwrap(),
            Revocation::NotFound
        ));
    }

    async fn only_a_live_token_of_the_right_kind_has_its_description_changed(case: StoreCase) {
        let new = new_token(TokenKind::Database, &id(4));
        case.store.create_token(&new, &audit("token.create")).await.unwrap();
        let at = now() + Duration::seconds(1);
        let updated = case.store
            .update_token_description(&new.id, TokenKind::Database, "renamed", &audit_at("token.update", at))
            .await
            .unwrap()
            .expect("updated");
        assert_eq!(updated.description, "renamed");
        assert_eq!(updated.updated_at, at);
        assert_eq!(updated.permissions, new.permissions);
        assert!(case.store
            .update_token_description(&new.id, TokenKind::Management, "x", &audit_at("token.update", at))
            .await
            .unwrap()
            .is_none());
        case.store.revoke_token(&new.id, TokenKind::Database, &audit_at("token.revoke", at)).await.unwrap();
        assert!(case.store
            .update_token_description(&new.id, TokenKind::Database, "again", &audit_at("token.update", at))
            .await
            .unwrap()
            .is_none());
        let stored = case.store.find_token(&new.id).await.unwrap().unwrap();
        assert_eq!(stored.description, "renamed");
    }

    async fn the_operator_token_is_bootstrapped_once_and_replaced_atomically(case: StoreCase) {
        assert!(!case.store.has_operator_token().await.unwrap());
        assert!(case.store.bootstrap_operator(&operator(&id(10)), &audit("operator_token.bootstrap")).await.unwrap());
        assert!(!case.store.bootstrap_operator(&operator(&id(11)), &audit("operator_token.bootstrap")).await.unwrap());
        assert!(case.store.has_operator_token().await.unwrap());
        assert!(case.store.find_token(&TokenId::parse(&id(11)).unwrap()).await.unwrap().is_none());

        assert_eq!(case.store.replace_operator(&operator(&id(12)), &audit("operator_token.regenerate")).await.unwrap().len(), 1);
        let old = case.store.find_token(&TokenId::parse(&id(10)).unwrap()).await.unwrap().unwrap();
        assert!(old.revoked_at.is_some());
        let new = case.store.find_token(&TokenId::parse(&id(12)).unwrap()).await.unwrap().unwrap();
        assert!(new.operator && new.revoked_at.is_none());
        // Even with the only operator token revoked, bootstrap never mints a second one.
        assert!(!case.store.bootstrap_operator(&operator(&id(13)), &audit("operator_token.bootstrap")).await.unwrap());
    }

    async fn a_failed_operator_replacement_leaves_the_old_operator_token_live(case: StoreCase) {
        case.store.bootstrap_operator(&operator(&id(20)), &audit("operator_token.bootstrap")).await.unwrap();
        case.store.create_token(&new_token(TokenKind::Database, &id(21)), &audit("token.create")).await.unwrap();
        // The insert half fails on the taken id; the revoke half must roll back with it.
        assert!(case.store.replace_operator(&operator(&id(21)), &audit("operator_token.regenerate")).await.is_err());
        let old = case.store.find_token(&TokenId::parse(&id(20)).unwrap()).await.unwrap().unwrap();
        assert_eq!(old.revoked_at, None);
    }

    async fn reopening_a_migrated_database_applies_nothing_twice(case: StoreCase) {
        case.store.create_token(&new_token(TokenKind::Database, &id(30)), &audit("token.create")).await.unwrap();
        let (a, b) = tokio::join!(case.db.open_store(), case.db.open_store());
        for store in [a, b] {
            assert!(store.find_token(&TokenId::parse(&id(30)).unwrap()).await.unwrap().is_some());
            store.ping().await.unwrap();
        }
    }

    async fn an_expired_token_is_reported_unusable(case: StoreCase) {
        let mut new = new_token(TokenKind::Database, &id(40));
        new.expires_at = Some(now() - Duration::seconds(1));
        case.store.create_token(&new, &audit("token.create")).await.unwrap();
        let token = case.store.find_token(&new.id).await.unwrap().unwrap();
        assert_eq!(
            token.unusable_at(OffsetDateTime::now_utc()),
            Some(tollgate::token::Unusable::Expired)
        );
    }

    async fn a_change_and_its_audit_entry_are_written_together_or_not_at_all(case: StoreCase) {
        let new = new_token(TokenKind::Database, &id(50));
        case.store.create_token(&new, &audit("token.create")).await.unwrap();
        // The second insert fails on the id: its audit entry must not remain either.
        assert!(case.store.create_token(&new, &audit("token.create")).await.is_err());
        case.store
            .revoke_token(&new.id, TokenKind::Database, &audit("token.revoke"))
            .await
            .unwrap();
        // A no-op revoke changes nothing and records nothing.
        case.store
            .revoke_token(&new.id, TokenKind::Database, &audit("token.revoke"))
            .await
            .unwrap();
        let entries = case.store.list_audit(None, None, 100, false).await.unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.event.action.as_str()).collect();
        assert_eq!(actions, ["token.create", "token.revoke"]);
        assert!(entries.iter().all(|e| e.event.actor == "token:00000000000000aa"));
    }

    async fn the_audit_log_pages_by_entry_and_filters_by_time(case: StoreCase) {
        let base = now();
        for n in 0..5 {
            let event = audit_at("auth.refused", base + Duration::seconds(n)).refused("invalid management token");
            case.store.record_audit(&event).await.unwrap();
        }
        let first = case.store.list_audit(None, None, 2, false).await.unwrap();
        assert_eq!(first.len(), 2);
        let rest = case.store.list_audit(None, Some(first[1].id), 10, false).await.unwrap();
        assert_eq!(rest.len(), 3);
        assert!(rest[0].id > first[1].id);
        let recent = case.store.list_audit(Some(base + Duration::seconds(3)), None, 10, false).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].event.detail.as_deref(), Some("invalid management token"));
        let newest = case.store.list_audit(None, None, 2, true).await.unwrap();
        let all = case.store.list_audit(None, None, 10, false).await.unwrap();
        assert_eq!(newest.iter().map(|r| r.id).collect::<Vec<_>>(), vec![all[4].id, all[3].id]);
        let older = case.store.list_audit(None, Some(newest[1].id), 10, true).await.unwrap();
        assert_eq!(older.iter().map(|r| r.id).collect::<Vec<_>>(), vec![all[2].id, all[1].id, all[0].id]);
    }

    async fn syncing_users_adds_changes_and_removes_them_with_an_audit_entry_each(case: StoreCase) {
        let user = |id: &str, groups: &[Group]| User {
            id: id.into(),
            first_name: "Marty".into(),
            last_name: "McFly".into(),
            email: format!("{id}@example.com"),
            groups: groups.to_vec(),
        };
        let origin = Origin::default();
        let first = case.store
            .sync_users(&[user("a", &[Group::Admin]), user("b", &[Group::Member])], &origin)
            .await
            .unwrap();
        assert_eq!(first.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["user.add", "user.add"]);
        let second = case.store
            .sync_users(&[user("a", &[Group::Admin]), user("c", &[Group::Auditor]), user("b", &[Group::Admin])], &origin)
            .await
            .unwrap();
        let summary: Vec<(&str, Option<&str>)> =
            second.iter().map(|e| (e.action.as_str(), e.target.as_deref())).collect();
        assert_eq!(summary, [("user.add", Some("c")), ("user.change", Some("b"))]);
        let third = case.store.sync_users(&[user("c", &[Group::Auditor])], &origin).await.unwrap();
        let summary: Vec<(&str, Option<&str>)> =
            third.iter().map(|e| (e.action.as_str(), e.target.as_deref())).collect();
        assert_eq!(summary, [("user.remove", Some("a")), ("user.remove", Some("b"))]);
        assert_eq!(case.store.list_users().await.unwrap(), vec![user("c", &[Group::Auditor])]);
        assert!(case.store.find_user("a").await.unwrap().is_none());
        let logged = case.store.list_audit(None, None, 100, false).await.unwrap();
        assert_eq!(logged.len(), 6);
        assert!(logged.iter().all(|e| e.event.actor == "config"));
    }
}

fn v2_user(n: u64, name: &str) -> tollgate::tenant::V2User {
    tollgate::tenant::V2User {
        id: UserId::parse(&id(n)).unwrap(),
        name: name.to_owned(),
        status: Status::Active,
        created_at: now(),
        updated_at: now(),
    }
}

fn org(n: u64, name: &str) -> tollgate::tenant::Org {
    tollgate::tenant::Org {
        id: OrgId::parse(&id(n)).unwrap(),
        name: name.to_owned(),
        description: String::new(),
        created_at: now(),
        updated_at: now(),
    }
}

fn owned_token(n: u64, user: u64, org: u64) -> NewToken {
    NewToken {
        user_id: Some(UserId::parse(&id(user)).unwrap()),
        org_id: Some(OrgId::parse(&id(org)).unwrap()),
        ..new_token(TokenKind::Database, &id(n))
    }
}

on_both_engines! {
    async fn concurrent_setups_complete_exactly_once(case: StoreCase) {
        let attempts = (0..4u64).map(|n| {
            let store = case.store.clone();
            tokio::spawn(async move {
                store
                    .complete_setup(&v2_user(100 + n, &format!("admin{n}")), &org(200 + n, &format!("org{n}")), &owned_token(300 + n, 100 + n, 200 + n), &audit("setup.complete"), true)
                    .await
            })
        });
        let mut completed = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(Some(_)) => completed += 1,
                // The losers collide on the one setup row (or, pristine-only, see it used).
                Err(e) if e.constraint() == Some("setup_pkey") => {}
                Ok(None) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(completed, 1);
        assert!(!case.store.setup_allowed().await.unwrap());
        assert_eq!(case.store.list_v2_users(None, 0, 10).await.unwrap().len(), 1);
        assert_eq!(case.store.list_orgs(0, 10, false).await.unwrap().len(), 1);
    }

    async fn taken_names_are_the_same_named_conflict_on_both_engines(case: StoreCase) {
        case.store.create_v2_user(&v2_user(1, "iot"), &audit("v2_user.create")).await.unwrap();
        match case.store.create_v2_user(&v2_user(2, "iot"), &audit("v2_user.create")).await {
            Err(StoreError::Conflict { constraint, .. }) => assert_eq!(constraint, "v2_users_name_unique"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        case.store.create_org(&org(3, "o"), &audit("org.create")).await.unwrap();
        match case.store.create_org(&org(4, "o"), &audit("org.create")).await {
            Err(StoreError::Conflict { constraint, .. }) => assert_eq!(constraint, "orgs_name_unique"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    async fn a_v2_token_reads_back_with_its_owner_state_and_dies_with_its_user(case: StoreCase) {
        case.store.create_v2_user(&v2_user(1, "iot"), &audit("v2_user.create")).await.unwrap();
        case.store.create_org(&org(2, "o"), &audit("org.create")).await.unwrap();
        assert!(case.store.create_owned_token(&owned_token(10, 9, 2), &audit("token.create")).await.unwrap().is_none(), "unknown user");
        assert!(case.store.create_owned_token(&owned_token(10, 1, 9), &audit("token.create")).await.unwrap().is_none(), "unknown org");
        case.store.create_owned_token(&owned_token(10, 1, 2), &audit("token.create")).await.unwrap().expect("created");
        let token_id = TokenId::parse(&id(10)).unwrap();
        let user_id = UserId::parse(&id(1)).unwrap();
        let owner = |case: &StoreCase| {
            let (store, token_id) = (case.store.clone(), token_id.clone());
            async move { store.find_token(&token_id).await.unwrap().unwrap() }
        };
        assert_eq!(owner(&case).await.owner, Some(tollgate::token::Owner::Active));
        case.store.update_v2_user(&user_id, None, Some(Status::Inactive), &audit("v2_user.update")).await.unwrap();
        let token = owner(&case).await;
        assert_eq!(token.unusable_at(now()), Some(tollgate::token::Unusable::OwnerInactive));
        assert_eq!(case.store.delete_v2_user(&user_id, &audit("v2_user.delete")).await.unwrap().map(|d| d.revoked), Some(vec![token_id.clone()]));
        let token = owner(&case).await;
        assert!(token.revoked_at.is_some());
        assert_eq!(token.owner, Some(tollgate::token::Owner::Missing));
        assert!(case.store.delete_v2_user(&user_id, &audit("v2_user.delete")).await.unwrap().is_none());
        let filter = tollgate::store::OwnedTokens::default();
        assert!(case.store.list_owned_tokens(&filter, Page { after: None, limit: 10 }).await.unwrap().is_empty());
    }
}
