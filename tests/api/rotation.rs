//! Rotation of database tokens: one successor per token, and never a successor that revives
//! what was disabled (inactive, expired, revoked, or owned by an inactive v2 user).

use crate::helpers::{Credential, TestServer, store_directly};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use tollgate::token::{Action, Permission, TokenKind, now};

const DATABASES: &[&str] = &["sensors", "other"];

async fn rotate(server: &TestServer, id: &str, grace: u64) -> (StatusCode, Value) {
    let (status, _, body) = server
        .request(
            Method::POST,
            &format!("/api/v0/tokens/{id}/rotate"),
            Credential::Operator,
            Some(json!({"graceSeconds": grace})),
        )
        .await;
    (status, body)
}

/// The ids of the listed database tokens, revoked ones included.
async fn token_ids(server: &TestServer) -> Vec<String> {
    let (status, _, listed) = server
        .request(
            Method::GET,
            "/api/v0/tokens?include_revoked=true",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(status: StatusCode, body: &Value, needle: &str) {
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{body}");
}

on_both_engines! {
    async fn of_six_concurrent_rotations_of_one_token_exactly_one_wins_and_the_others_hear_409(server: TestServer) {
        let (id, _) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let answers = futures_util::future::join_all((0..6).map(|_| rotate(&server, &id, 3600))).await;
        let won: Vec<&Value> = answers.iter().filter(|(s, _)| *s == StatusCode::OK).map(|(_, b)| b).collect();
        assert_eq!(won.len(), 1, "{answers:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
            refused(*status, body, "already rotated");
        }
        let ids = token_ids(&server).await;
        assert_eq!(ids.len(), 2, "the token and one successor: {ids:?}");
        let successor = won[0]["accessToken"].as_str().unwrap();
        assert_eq!(server.authorize(successor, json!([{"action": "write", "database": "db"}])).await["valid"], true);
    }

    async fn a_token_in_its_grace_period_or_rotated_at_once_cannot_be_rotated_again(server: TestServer) {
        let (id, _) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let (status, first) = rotate(&server, &id, 3600).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let (status, body) = rotate(&server, &id, 3600).await;
        refused(status, &body, "already rotated; rotate its successor instead");
        let successor = first["id"].as_str().unwrap();
        let (status, second) = rotate(&server, successor, 0).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let (status, body) = rotate(&server, successor, 0).await;
        refused(status, &body, "already rotated");
        assert_eq!(token_ids(&server).await.len(), 3);
    }

    async fn an_expired_or_revoked_token_cannot_be_rotated(server: TestServer) {
        let store = server.db.open_store().await;
        let expired = store_directly(&store, TokenKind::Database, tollgate::config::HashParams::DATABASE, |new| {
            new.permissions = vec![Permission::database(Action::Read, None)];
            new.created_at = now() - Duration::days(2);
            new.expires_at = Some(now() - Duration::seconds(1));
        }).await;
        let (status, body) = rotate(&server, expired.id.as_str(), 3600).await;
        refused(status, &body, "expired");
        let (revoked, _) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let (status, _, _) = server
            .request(Method::DELETE, &format!("/api/v0/tokens/{revoked}"), Credential::Operator, None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = rotate(&server, &revoked, 3600).await;
        refused(status, &body, "revoked");
        assert_eq!(token_ids(&server).await.len(), 2, "no successor was made");
    }

    async fn an_inactive_v2_authorization_cannot_be_rotated_into_a_working_token(server: TestServer) {
        let admin = server.onboard().await;
        let created = server
            .v2_authorization(&admin.token, &admin.org_id, &admin.user_id, json!([
                {"action": "write", "resource": {"type": "buckets", "name": "sensors", "orgID": admin.org_id}}
            ]))
            .await;
        let id = created["id"].as_str().unwrap();
        let (status, _, _) = server
            .request(Method::PATCH, &format!("/api/v2/authorizations/{id}"), Credential::Token(&admin.token), Some(json!({"status": "inactive"})))
            .await;
        assert_eq!(status, StatusCode::OK);
        let before = token_ids(&server).await.len();
        let (status, body) = rotate(&server, id, 3600).await;
        refused(status, &body, "inactive");
        assert!(body.get("accessToken").is_none(), "{body}");
        assert_eq!(token_ids(&server).await.len(), before, "no successor was made");
    }

    async fn a_token_whose_v2_user_is_inactive_or_whose_org_is_deleted_cannot_be_rotated(server: TestServer) {
        let admin = server.onboard().await;
        let user = server.v2_user(&admin.token, "iot").await;
        let created = server
            .v2_authorization(&admin.token, &admin.org_id, &user, json!([
                {"action": "write", "resource": {"type": "buckets", "name": "sensors", "orgID": admin.org_id}}
            ]))
            .await;
        let id = created["id"].as_str().unwrap();
        let user_path = format!("/api/v2/users/{user}");
        let (status, _, _) = server
            .request(Method::PATCH, &user_path, Credential::Token(&admin.token), Some(json!({"status": "inactive"})))
            .await;
        assert_eq!(status, StatusCode::OK);
        let before = token_ids(&server).await.len();
        let (status, body) = rotate(&server, id, 3600).await;
        refused(status, &body, "v2 user is inactive");
        assert_eq!(token_ids(&server).await.len(), before, "no successor was made");

        // An org's deletion revokes its tokens, and the successor would have no org.
        let (status, _, org) = server
            .request(Method::POST, "/api/v2/orgs", Credential::Token(&admin.token), Some(json!({"name": "doomed"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        let org_id = org["id"].as_str().unwrap();
        let in_org = server
            .v2_authorization(&admin.token, org_id, &admin.user_id, json!([
                {"action": "read", "resource": {"type": "buckets", "orgID": org_id}}
            ]))
            .await;
        let (status, _, _) = server
            .request(Method::DELETE, &format!("/api/v2/orgs/{org_id}"), Credential::Token(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = rotate(&server, in_org["id"].as_str().unwrap(), 3600).await;
        refused(status, &body, "org deleted");
    }

    async fn a_rotated_v2_tokens_successor_is_listed_as_its_users_and_dies_with_that_user(server: TestServer) {
        let admin = server.onboard().await;
        let user = server.v2_user(&admin.token, "iot").await;
        let created = server
            .v2_authorization(&admin.token, &admin.org_id, &user, json!([
                {"action": "write", "resource": {"type": "buckets", "name": "sensors", "orgID": admin.org_id}}
            ]))
            .await;
        let (status, rotated) = rotate(&server, created["id"].as_str().unwrap(), 0).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let successor = rotated["accessToken"].as_str().unwrap();
        let successor_id = rotated["id"].as_str().unwrap();
        assert_eq!(server.granted(successor, "write", DATABASES).await, ["sensors"]);

        let (status, _, listed) = server
            .request(Method::GET, &format!("/api/v2/authorizations?userID={user}"), Credential::Token(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let listed = listed["authorizations"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!((listed[0]["id"].as_str(), listed[0]["userID"].as_str(), listed[0]["orgID"].as_str()),
            (Some(successor_id), Some(user.as_str()), Some(admin.org_id.as_str())));

        let (status, _, _) = server
            .request(Method::DELETE, &format!("/api/v2/users/{user}"), Credential::Token(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(server.granted(successor, "write", DATABASES).await.is_empty());
        assert_eq!(server.authorize(successor, json!([{"action": "write", "database": "sensors"}])).await["reason"], "revoked");
    }
}
