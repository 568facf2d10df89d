//! The Clustered-shaped management API for database tokens, over real HTTP.

use crate::helpers::{Credential, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_engines! {
    async fn creating_a_token_returns_it_once_and_never_again(server: TestServer) {
        let (status, _, created) = server
            .request(Method::POST, "/api/v0/tokens", Credential::Operator, Some(json!({
                "description": "read/write for mydb",
                "permissions": [
                    {"action": "read", "resource": "mydb"},
                    {"action": "write", "resource": "mydb"}
                ],
                "expiresAt": "2099-01-01T00:00:00Z"
            })))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let token = created["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 16);
        assert!(token.starts_with("apiv1_") && token.len() >= 70, "{token}");
        assert!(token.contains(&id), "the token carries its lookup id");
        assert_eq!(created["description"], "read/write for mydb");
        assert_eq!(created["permissions"], json!([
            {"action": "read", "resource": "mydb"},
            {"action": "write", "resource": "mydb"}
        ]));
        assert_eq!(created["expiresAt"], "2099-01-01T00:00:00.000Z");
        assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

        let (_, _, one) = server.request(Method::GET, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        let (_, _, all) = server.request(Method::GET, "/api/v0/tokens", Credential::Operator, None).await;
        let (_, _, patched) = server
            .request(Method::PATCH, &format!("/api/v0/tokens/{id}"), Credential::Operator, Some(json!({"description": "renamed"})))
            .await;
        for later in [&one, &all, &patched] {
            assert!(!later.to_string().contains(&token), "token leaked in {later}");
            assert!(!later.to_string().contains("accessToken"));
        }
        assert_eq!(one["id"], id.as_str());
        assert_eq!(patched["description"], "renamed");
        assert_eq!(patched["permissions"], created["permissions"]);
    }

    async fn a_revoked_token_stops_at_once_and_is_listed_only_when_asked(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "db1"}])).await;
        let ask = json!([{"action": "write", "database": "db1"}]);
        assert_eq!(server.authorize(&token, ask.clone()).await["valid"], true);

        let (status, _, body) = server.request(Method::DELETE, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(body, Value::Null);
        assert_eq!(server.authorize(&token, ask).await, json!({"valid": false, "reason": "revoked", "permissions": []}));

        let (_, _, listed) = server.request(Method::GET, "/api/v0/tokens", Credential::Operator, None).await;
        assert_eq!(listed, json!([]));
        let (_, _, listed) = server.request(Method::GET, "/api/v0/tokens?include_revoked=true", Credential::Operator, None).await;
        assert_eq!(listed[0]["id"], id.as_str());
        assert!(listed[0]["revokedAt"].is_string());

        let (status, _, body) = server.request(Method::GET, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"code": 404, "message": "token not found"})));
        let (status, _, body) = server
            .request(Method::GET, &format!("/api/v0/tokens/{id}?include_revoked=true"), Credential::Operator, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["revokedAt"], listed[0]["revokedAt"]);

        // Revoking again is idempotent; a revoked token's description is frozen.
        let (status, _, _) = server.request(Method::DELETE, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = server
            .request(Method::PATCH, &format!("/api/v0/tokens/{id}"), Credential::Operator, Some(json!({"description": "x"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn a_database_token_cannot_call_the_management_api(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "*"}])).await;
        for (method, path) in [
            (Method::GET, "/api/v0/tokens".to_owned()),
            (Method::GET, format!("/api/v0/tokens/{id}")),
            (Method::DELETE, format!("/api/v0/tokens/{id}")),
        ] {
            let (status, _, body) = server.request(method, &path, Credential::Bearer(&token), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(body, json!({
                "code": 403,
                "message": "database tokens cannot use the management API; use a management token"
            }));
        }
        let (status, _, _) = server
            .request(Method::POST, "/api/v0/tokens", Credential::Bearer(&token), Some(json!({"description": "x", "permissions": []})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The token was not revoked by its own attempt.
        assert_eq!(server.authorize(&token, json!([{"action": "write", "database": "a"}])).await["valid"], true);
    }
}

#[tokio::test]
async fn management_calls_without_a_valid_management_token_get_401_with_a_reason() {
    let server = TestServer::start(Engine::Sqlite).await;
    let url = format!("{}/api/v0/tokens", server.base);
    let mut tampered = server.operator_token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let cases: Vec<(Option<String>, &str)> = vec![
        (
            None,
            "missing Authorization header; send `Authorization: Bearer <management token>`",
        ),
        (
            Some("Basic Zm9vOmJhcg==".into()),
            "unsupported authorization scheme; use `Bearer <token>` or `Token <token>`",
        ),
        (Some("Bearer".into()), "Authorization header has no token"),
        (
            Some("Bearer not-a-token".into()),
            "invalid management token",
        ),
        (
            Some(format!("Bearer {tampered}")),
            "invalid management token",
        ),
        (
            Some(format!("Bearer {}", "M.V1.".to_owned() + &"a".repeat(9000))),
            "Authorization header is too long",
        ),
    ];
    for (header, message) in cases {
        let mut request = server.client.get(&url);
        if let Some(header) = &header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"code": 401, "message": message}), "{header:?}");
    }
    // `Token` works as well as `Bearer`, in any case.
    let response = server
        .client
        .get(&url)
        .header("Authorization", format!("token {}", server.operator_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_list_larger_than_a_stream_page_arrives_whole_and_pages_with_limit_and_after() {
    let server = TestServer::start(Engine::Sqlite).await;
    let store = server.db.open_store().await;
    let total = 1203;
    for n in 0..total {
        let id = tollgate::token::TokenId::parse(&format!("{:016x}", n + 1)).unwrap();
        store
            .create_token(
                &tollgate::token::NewToken {
                    id: id.clone(),
                    kind: tollgate::token::TokenKind::Database,
                    description: format!("token {n}"),
                    permissions: vec![],
                    operator: false,
                    token_prefix: "apiv1_0000".into(),
                    secret_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                        .into(),
                    created_by: None,
                    created_at: tollgate::token::now(),
                    expires_at: None,
                    status: tollgate::token::Status::Active,
                    user_id: None,
                    org_id: None,
                },
                &tollgate::audit::AuditEvent::new(
                    "test",
                    tollgate::audit::AuditAction::TokenCreate,
                    &Default::default(),
                ),
            )
            .await
            .unwrap();
    }
    let (status, _, all) = server
        .request(Method::GET, "/api/v0/tokens", Credential::Operator, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), total as usize);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ordered by id, no duplicates"
    );

    let response = server
        .client
        .get(format!(
            "{}/api/v0/tokens?limit=2&after={}",
            server.base, ids[9]
        ))
        .bearer_auth(&server.operator_token)
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["id"], ids[10]);
    assert_eq!(page[1]["id"], ids[11]);
    assert_eq!(
        link,
        format!(
            "</api/v0/tokens?limit=2&after={}&include_revoked=false>; rel=\"next\"",
            ids[11]
        )
    );
}

#[tokio::test]
async fn the_store_going_away_turns_into_503_with_retry_after_not_a_4xx() {
    let server = TestServer::start(Engine::Postgres).await;
    let (_, token) = server
        .create_token(json!([{"action": "read", "resource": "db"}]))
        .await;
    // Terminate every connection of this test's database and forbid new ones.
    let admin = crate::helpers::pg_admin_url();
    let name = server
        .db
        .url
        .expose()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    }
    let response = server
        .client
        .post(format!("{}/api/v0/authorize", server.base))
        .json(&json!({"token": token, "permissions": [{"action": "read", "database": "db"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 503, "message": "service temporarily unavailable; retry later"})
    );

    let (status, _, _) = server
        .request(Method::GET, "/api/v0/tokens", Credential::Operator, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Asked by anyone, with no credential: still our outage, not our bug.
    let response = server
        .client
        .get(format!("{}/api/v2/setup", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = server
        .client
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = server
        .client
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "liveness never touches the store"
    );
}

/// A server whose management lane has one thread and no queue, with management-token hashes
/// slow enough (64 MiB, 12 passes: most of a second) that a check is still hashing when the
/// next request comes; `adjust` sizes the rest.
async fn slow_management_server(adjust: impl FnOnce(&mut tollgate::config::Config)) -> TestServer {
    let db = crate::helpers::TestDatabase::new(Engine::Sqlite).await;
    TestServer::start_with(db, |config| {
        config.argon2.management_threads = 1;
        config.argon2.management_queue = 0;
        config.argon2.management_tokens = tollgate::config::HashParams {
            memory_kib: 64 * 1024,
            iterations: 12,
            parallelism: 1,
        };
        adjust(config);
    })
    .await
}

/// A manual management token the server has not verified yet (so not cached).
async fn uncached_management_token(server: &TestServer) -> String {
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/management-tokens",
            Credential::Operator,
            Some(json!({"description": "automation"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["accessToken"].as_str().unwrap().to_owned()
}

/// Starts a management call as `token` (not yet cached) and returns once the pool says it
/// holds the lane's only thread.
async fn management_call_hashing(
    server: &TestServer,
    token: &str,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let call = server
        .client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(token)
        .send();
    let call = tokio::spawn(call);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.metric(IN_FLIGHT).await < 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the management check never reached the pool"
        );
        tokio::task::yield_now().await;
    }
    call
}

const IN_FLIGHT: &str = "tollgate_argon2_in_flight";

#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_with_retry_after_instead_of_queueing() {
    let server = slow_management_server(|_| {}).await;
    let (one, other) = (
        uncached_management_token(&server).await,
        uncached_management_token(&server).await,
    );
    assert_eq!(server.metric(IN_FLIGHT).await, 0.0);
    let first = management_call_hashing(&server, &one).await;
    // Another token: a check of the same one would wait for the first (single flight).
    let second = server
        .client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "refused at once, not queued"
    );
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.unwrap();
    assert_eq!(
        body["message"],
        "service temporarily unavailable; retry later"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "the admitted check succeeds"
    );
    assert_eq!(
        server.metric(IN_FLIGHT).await,
        0.0,
        "its permit is returned"
    );
}

#[tokio::test]
async fn a_busy_management_lane_never_makes_a_data_path_decision_wait_or_fail() {
    // The data path's lane as small as the management one: only their separation can let
    // the decision through.
    let server = slow_management_server(|config| {
        config.argon2.threads = 1;
        config.argon2.queue = 0;
    })
    .await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "telegraf"}]))
        .await;
    let automation = uncached_management_token(&server).await;
    let management = management_call_hashing(&server, &automation).await;
    let decision = server
        .authorize(&token, json!([{"action": "write", "database": "telegraf"}]))
        .await;
    assert_eq!(decision["valid"], true, "{decision}");
    assert_eq!(management.await.unwrap().unwrap().status(), StatusCode::OK);
}

on_both_engines! {
    async fn a_rotated_token_keeps_working_through_its_grace_beside_its_successor(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "telegraf"}, {"action": "read", "resource": "*"}])).await;
        let ask = json!([{"action": "write", "database": "telegraf"}]);
        assert_eq!(server.authorize(&token, ask.clone()).await["valid"], true);
        let before = time::OffsetDateTime::now_utc();
        let (status, _, rotated) = server
            .request(Method::POST, &format!("/api/v0/tokens/{id}/rotate"), Credential::Operator, Some(json!({"graceSeconds": 3600})))
            .await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let new_token = rotated["accessToken"].as_str().unwrap();
        assert_ne!(rotated["id"], id.as_str());
        assert_eq!(rotated["description"], "test token");
        assert_eq!(rotated["permissions"], json!([{"action": "write", "resource": "telegraf"}, {"action": "read", "resource": "*"}]));
        // Both work during the grace period.
        assert_eq!(server.authorize(new_token, ask.clone()).await["valid"], true);
        assert_eq!(server.authorize(&token, ask.clone()).await["valid"], true);
        let (_, _, old) = server.request(Method::GET, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        let expires = time::OffsetDateTime::parse(old["expiresAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let grace = (expires - before).whole_seconds();
        assert!((3590..=3610).contains(&grace), "old token expires in {grace} s");
        let (_, _, audit) = server.request(Method::GET, "/api/v0/audit?order=desc&limit=2", Credential::Operator, None).await;
        let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.len(), 2);
        assert!(actions.contains(&"token.rotate") && actions.contains(&"token.create"), "{audit}");
    }

    async fn a_rotation_with_no_grace_ends_the_old_token_at_once_even_when_cached(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let ask = json!([{"action": "write", "database": "db"}]);
        assert_eq!(server.authorize(&token, ask.clone()).await["valid"], true);
        let (status, _, rotated) = server
            .request(Method::POST, &format!("/api/v0/tokens/{id}/rotate"), Credential::Operator, Some(json!({"graceSeconds": 0})))
            .await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        assert_eq!(server.authorize(&token, ask.clone()).await["reason"], "revoked");
        assert_eq!(server.authorize(rotated["accessToken"].as_str().unwrap(), ask).await["valid"], true);
        // Rotating it again: it already has its successor.
        let (status, _, body) = server
            .request(Method::POST, &format!("/api/v0/tokens/{id}/rotate"), Credential::Operator, Some(json!({})))
            .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::CONFLICT, Some("conflict: the token was already rotated; rotate its successor instead"))
        );
    }

    async fn a_rotation_with_a_bad_grace_or_for_a_missing_token_is_refused_and_changes_nothing(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let path = format!("/api/v0/tokens/{id}/rotate");
        for (body, status, needle) in [
            (json!({"graceSeconds": -1}), StatusCode::BAD_REQUEST, "graceSeconds"),
            (json!({"graceSeconds": "1h"}), StatusCode::BAD_REQUEST, "graceSeconds"),
            (json!({"graceSeconds": 31_622_401u64}), StatusCode::BAD_REQUEST, "at most 31622400"),
            (json!({"grace": 10}), StatusCode::BAD_REQUEST, "grace"),
        ] {
            let (got, _, answer) = server.request(Method::POST, &path, Credential::Operator, Some(body.clone())).await;
            assert_eq!(got, status, "{body}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains(needle), "{body}: {answer}");
        }
        let (status, _, _) = server
            .request(Method::POST, "/api/v0/tokens/00000000000000ff/rotate", Credential::Operator, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = server.request(Method::POST, &path, Credential::Token(&token), Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a database token cannot rotate");
        let (_, _, listed) = server.request(Method::GET, "/api/v0/tokens", Credential::Operator, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was created");
        assert!(listed[0].get("expiresAt").is_none(), "nothing was changed");
    }
}
