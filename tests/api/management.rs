//! Manual management tokens, the audit log and the users list, over real HTTP.

use crate::helpers::{Credential, Engine, TestDatabase, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate::config::UserConfig;

async fn mint_manual(server: &TestServer, description: &str) -> (String, String) {
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/management-tokens",
            Credential::Operator,
            Some(json!({"description": description})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["accessToken"].as_str().unwrap().to_owned(),
    )
}

fn operator_id(server: &TestServer) -> String {
    server.operator_token["M.V1.".len().."M.V1.".len() + 16].to_owned()
}

on_both_engines! {
    async fn a_manual_management_token_acts_as_admin_until_revoked_but_cannot_mint_another(server: TestServer) {
        let (status, _, created) = server
            .request(Method::POST, "/api/v0/management-tokens", Credential::Operator, Some(json!({"description": "CI pipeline", "expiresAt": "2099-01-01T00:00:00Z"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let manual = created["accessToken"].as_str().unwrap().to_owned();
        assert!(manual.starts_with("M.V1."));
        assert_eq!(created["tokenPrefix"], &manual[..9]);
        assert_eq!(created["createdBy"], operator_id(&server));
        assert_eq!(created["expiresAt"], "2099-01-01T00:00:00.000Z");

        // Admin rights on database tokens.
        let (status, _, db) = server
            .request(Method::POST, "/api/v0/tokens", Credential::Bearer(&manual), Some(json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}]})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(db["id"].as_str().map(str::len), Some(16));
        let (status, _, _) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&manual), None).await;
        assert_eq!(status, StatusCode::OK);
        let path = format!("/api/v0/tokens/{}", db["id"].as_str().unwrap());
        let (status, _, _) = server.request(Method::DELETE, &path, Credential::Bearer(&manual), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // But never another management token.
        let (status, _, body) = server
            .request(Method::POST, "/api/v0/management-tokens", Credential::Bearer(&manual), Some(json!({"description": "x"})))
            .await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, json!({
            "code": 403, "message": "a manual management token may not create management tokens"
        })));

        // The list shows it (and not the operator token); revoking it stops it at once.
        let (_, _, listed) = server.request(Method::GET, "/api/v0/management-tokens", Credential::Operator, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], id.as_str());
        assert!(listed[0].get("accessToken").is_none());
        let (status, _, _) = server.request(Method::DELETE, &format!("/api/v0/management-tokens/{id}"), Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, body) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&manual), None).await;
        assert_eq!((status, body["message"].clone()), (StatusCode::UNAUTHORIZED, json!("management token has been revoked")));
        let (_, _, one) = server.request(Method::GET, &format!("/api/v0/management-tokens/{id}"), Credential::Operator, None).await;
        assert!(one["revokedAt"].is_string(), "revoked tokens stay listed: {one}");
        let (_, _, listed) = server.request(Method::GET, "/api/v0/management-tokens", Credential::Operator, None).await;
        assert!(listed[0]["revokedAt"].is_string());
    }

    async fn the_audit_log_shows_each_change_and_refusal_with_no_secret(server: TestServer) {
        let (manual_id, manual) = mint_manual(&server, "automation").await;
        let response = server
            .client
            .post(format!("{}/api/v0/tokens", server.base))
            .bearer_auth(&manual)
            .header("X-Request-Id", "trace-4711")
            .json(&json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "trace-4711");
        let created: Value = response.json().await.unwrap();
        let db_id = created["id"].as_str().unwrap().to_owned();
        let db_token = created["accessToken"].as_str().unwrap().to_owned();
        // A live database token is a verified caller: its refusal is audited.
        server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&db_token), None).await;
        server
            .request(Method::PATCH, &format!("/api/v0/tokens/{db_id}"), Credential::Bearer(&manual), Some(json!({"description": "e"})))
            .await;
        server.request(Method::DELETE, &format!("/api/v0/tokens/{db_id}"), Credential::Bearer(&manual), None).await;
        server
            .request(Method::POST, "/api/v0/management-tokens", Credential::Bearer(&manual), Some(json!({"description": "x"})))
            .await;
        // A revoked token and garbage did not verify: counted, never written row by row.
        server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&db_token), None).await;
        server.request(Method::GET, "/api/v0/tokens", Credential::Bearer("M.V1.garbage"), None).await;

        let (status, _, log) = server.request(Method::GET, "/api/v0/audit", Credential::Operator, None).await;
        assert_eq!(status, StatusCode::OK);
        let entries: Vec<(String, String, String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (s("actor"), s("action"), s("target"), s("outcome"))
            })
            .collect();
        let operator = format!("token:{}", operator_id(&server));
        let manual_actor = format!("token:{manual_id}");
        let expected = vec![
            ("system".to_owned(), "operator_token.bootstrap".to_owned(), operator_id(&server), "success".to_owned()),
            (operator.clone(), "management_token.create".into(), manual_id.clone(), "success".into()),
            (manual_actor.clone(), "token.create".into(), db_id.clone(), "success".into()),
            (format!("token:{db_id}"), "auth.refused".into(), "GET /api/v0/tokens".into(), "refused".into()),
            (manual_actor.clone(), "token.update".into(), db_id.clone(), "success".into()),
            (manual_actor.clone(), "token.revoke".into(), db_id.clone(), "success".into()),
            (manual_actor.clone(), "call.refused".into(), String::new(), "refused".into()),
        ];
        assert_eq!(entries, expected);
        let create = &log[2];
        assert_eq!(create["clientAddress"], "127.0.0.1");
        assert_eq!(create["requestId"], "trace-4711");
        assert_eq!(log[6]["detail"], "a manual management token may not create management tokens");

        let text = log.to_string();
        for secret in [&manual, &db_token, &server.operator_token] {
            assert!(!text.contains(secret.as_str()), "a token is in the audit log");
        }
        let (_, _, page) = server.request(Method::GET, "/api/v0/audit?limit=3&after=2", Credential::Operator, None).await;
        assert_eq!(page.as_array().unwrap().len(), 3);
        assert_eq!(page[0]["id"], 3);
    }
}

#[tokio::test]
async fn management_token_requests_with_bad_input_are_refused_and_write_nothing() {
    let server = TestServer::start(Engine::Sqlite).await;
    for (body, message) in [
        (json!({"description": ""}), "description must not be empty"),
        (
            json!({"description": "d", "expiresAt": "2001-01-01T00:00:00Z"}),
            "expiresAt must be in the future",
        ),
        (
            json!({"description": "d", "permissions": []}),
            "invalid JSON body: permissions: unknown field `permissions`, expected `description` or `expiresAt`",
        ),
        (json!({}), "invalid JSON body: missing field `description`"),
    ] {
        let (status, _, got) = server
            .request(
                Method::POST,
                "/api/v0/management-tokens",
                Credential::Operator,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, got),
            (
                StatusCode::BAD_REQUEST,
                json!({"code": 400, "message": message})
            ),
            "{body}"
        );
    }
    let (_, _, listed) = server
        .request(
            Method::GET,
            "/api/v0/management-tokens",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(listed, json!([]));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/management-tokens/ffffffffffffffff",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let operator = operator_id(&server);
    let (status, _, _) = server
        .request(
            Method::DELETE,
            &format!("/api/v0/management-tokens/{operator}"),
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the operator token is not revoked through the API"
    );
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/audit?since=yesterday",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn configured_users_are_listed() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.users = vec![UserConfig {
            id: "auth0|61f0".into(),
            first_name: "Marty".into(),
            last_name: "McFly".into(),
            email: "mcfly@example.com".into(),
            groups: vec!["Admin".into(), "Auditor".into()],
        }];
    })
    .await;
    let (status, _, users) = server
        .request(Method::GET, "/api/v0/users", Credential::Operator, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        users,
        json!([{
            "id": "auth0|61f0", "firstName": "Marty", "lastName": "McFly",
            "email": "mcfly@example.com", "groups": ["Admin", "Auditor"]
        }])
    );
}

#[tokio::test]
async fn an_expired_manual_management_token_is_refused() {
    use tollgate::token::{TokenKind, now};
    let server = TestServer::start(Engine::Sqlite).await;
    // Stored directly so that its expiry already lies in the past.
    let store = server.db.open_store().await;
    let minted = crate::helpers::store_directly(
        &store,
        TokenKind::Management,
        tollgate::config::HashParams::MANAGEMENT,
        |new| {
            new.description = "short-lived automation".into();
            new.created_at = now() - time::Duration::days(1);
            new.expires_at = Some(now() - time::Duration::seconds(1));
        },
    )
    .await;
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&minted.plain),
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "message": "management token has expired"})
        )
    );
}

#[tokio::test]
async fn the_audit_next_link_can_be_followed_when_since_has_an_offset() {
    let server = TestServer::start(Engine::Sqlite).await;
    for n in 0..3 {
        mint_manual(&server, &format!("automation {n}")).await;
    }
    // `+` in a query string reads as a space unless encoded; the link must survive that.
    let url = format!(
        "{}/api/v0/audit?limit=2&since=2000-01-01T02:00:00%2B02:00",
        server.base
    );
    let first = server
        .client
        .get(url)
        .bearer_auth(&server.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let second = server
        .client
        .get(format!("{}{next}", server.base))
        .bearer_auth(&server.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK, "{link}");
    let page: Value = second.json().await.unwrap();
    // Bootstrap + three creations: the second page holds the last two.
    assert_eq!(page.as_array().unwrap().len(), 2, "{page}");
}
