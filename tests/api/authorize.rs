//! The decision API: `POST /api/v0/authorize`, with IOx semantics.

use crate::helpers::{Credential, Engine, TestServer, store_directly};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;
use tollgate::token::{Action, Permission, TokenKind, format, now};

on_both_engines! {
    async fn a_token_is_granted_exactly_the_requested_permissions_it_holds(server: TestServer) {
        let (id, token) = server.create_token(json!([
            {"action": "write", "resource": "db1"},
            {"action": "read", "resource": "db1"}
        ])).await;
        let decision = server.authorize(&token, json!([
            {"action": "write", "database": "db1"},
            {"action": "write", "database": "db2"},
            {"action": "read", "database": "db2"}
        ])).await;
        assert_eq!(decision, json!({
            "valid": true,
            "reason": "valid",
            "subject": {"id": id},
            "permissions": [{"action": "write", "database": "db1"}]
        }));
    }

    async fn a_wildcard_token_is_granted_any_database_but_only_its_action(server: TestServer) {
        let (_, token) = server.create_token(json!([{"action": "write", "resource": "*"}])).await;
        let decision = server.authorize(&token, json!([
            {"action": "write", "database": "telegraf"},
            {"action": "write", "database": "anything-else"},
            {"action": "read", "database": "telegraf"}
        ])).await;
        assert_eq!(decision["permissions"], json!([
            {"action": "write", "database": "telegraf"},
            {"action": "write", "database": "anything-else"}
        ]));
    }

    async fn an_expired_token_is_not_valid(server: TestServer) {
        // Stored directly so that its expiry already lies in the past.
        let store = server.db.open_store().await;
        let minted = store_directly(&store, TokenKind::Database, tollgate::config::HashParams::DATABASE, |new| {
            new.description = "expired".into();
            new.permissions = vec![Permission::database(Action::Read, None)];
            new.created_at = now() - Duration::days(2);
            new.expires_at = Some(now() - Duration::seconds(1));
        }).await;
        let decision = server.authorize(&minted.plain, json!([{"action": "read", "database": "db"}])).await;
        assert_eq!(decision, json!({"valid": false, "reason": "expired", "permissions": []}));
    }
}

#[tokio::test]
async fn malformed_unknown_tampered_and_management_tokens_are_not_valid() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, token) = server
        .create_token(json!([{"action": "read", "resource": "*"}]))
        .await;
    let unknown = format::mint(TokenKind::Database).unwrap().plain;
    let mut tampered: Vec<char> = token.chars().collect();
    let i = 30;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let ask = json!([{"action": "read", "database": "db"}]);
    for (presented, reason) in [
        ("".to_owned(), "malformed"),
        ("garbage".to_owned(), "malformed"),
        (token[..token.len() - 1].to_owned(), "malformed"),
        (tampered, "malformed"),
        (unknown, "not_found"),
        (server.operator_token.clone(), "not_found"),
    ] {
        let decision = server.authorize(&presented, ask.clone()).await;
        assert_eq!(
            decision,
            json!({"valid": false, "reason": reason, "permissions": []}),
            "{presented}"
        );
    }
    assert_eq!(server.authorize(&token, ask).await["valid"], true);
}

#[tokio::test]
async fn a_token_with_no_permissions_cannot_be_created() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Operator,
            Some(json!({"description": "nothing", "permissions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "permissions must list at least one permission; a token that may do nothing is refused"
    );
}
