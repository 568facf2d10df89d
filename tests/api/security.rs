//! What an attacker observes: each test replays one attack found against the release binary
//! and asserts the answer it gets now.

use std::time::Duration;

use crate::helpers::{Credential, Engine, TestDatabase, TestServer, with_wrong_secret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PRODUCTION: &[&str] = &["production"];

on_both_engines! {
    async fn a_v2_token_cannot_grant_a_database_it_does_not_hold(server: TestServer) {
        let admin = server.onboard().await;
        let org = admin.org_id.as_str();
        let user = server.v2_user(&admin.token, "delegate").await;
        let delegate = |bucket: Value| json!([
            {"action": "write", "resource": bucket},
            {"action": "write", "resource": {"type": "authorizations", "orgID": org}},
            {"action": "write", "resource": {"type": "users"}},
        ]);
        let by_id = server
            .v2_authorization(&admin.token, org, &user, delegate(json!({"type": "buckets", "orgID": org, "id": "00000000000000cc"})))
            .await;
        let by_name = server
            .v2_authorization(&admin.token, org, &user, delegate(json!({"type": "buckets", "orgID": org, "name": "sensors"})))
            .await;
        let before = server.audit_len().await;

        for holder in [&by_id, &by_name] {
            let holder = holder["token"].as_str().unwrap();
            // Naming the held bucket and another one in the same permission.
            let (status, code, body) = server
                .request(Method::POST, "/api/v2/authorizations", Credential::Token(holder), Some(json!({
                    "orgID": org, "userID": user,
                    "permissions": [{"action": "write", "resource": {"type": "buckets", "orgID": org, "id": "00000000000000cc", "name": "production"}}]
                })))
                .await;
            assert_eq!((status, code.as_deref()), (StatusCode::BAD_REQUEST, Some("invalid")), "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("by id or by name, not both"), "{message}");
            // Naming only the database it does not hold.
            let (status, _, body) = server
                .request(Method::POST, "/api/v2/authorizations", Credential::Token(holder), Some(json!({
                    "orgID": org, "userID": user,
                    "permissions": [{"action": "write", "resource": {"type": "buckets", "orgID": org, "name": "production"}}]
                })))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert!(server.granted(holder, "write", PRODUCTION).await.is_empty());
        }
        // Refused, nothing written: only the refusals are in the audit log.
        let (_, _, list) = server.request(Method::GET, "/api/v0/tokens", Credential::Operator, None).await;
        assert_eq!(list.as_array().unwrap().len(), 3, "setup's token and the two holders: {list}");
        assert_eq!(server.audit_len().await, before + 2, "the two 403s of verified callers");
    }

    async fn an_unauthenticated_setup_is_refused_once_the_store_is_in_use(server: TestServer) {
        let (_, database_token) = server.create_token(json!([{"action": "read", "resource": "db1"}])).await;
        let (_, _, allowed) = server.request(Method::GET, "/api/v2/setup", Credential::Anonymous, None).await;
        assert_eq!(allowed, json!({"allowed": false}));
        let body = json!({"username": "mallory", "org": "mine"});
        for credential in [Credential::Anonymous, Credential::Token(&database_token)] {
            let (status, code, answer) = server.request(Method::POST, "/api/v2/setup", credential, Some(body.clone())).await;
            assert_eq!((status, code.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("conflict")), "{answer}");
            assert_eq!(answer["message"], "onboarding has already been completed");
        }
        let (status, _, answer) = server
            .request(Method::POST, "/api/v2/setup", Credential::Token("M.V1.not-a-real-token"), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");

        // The operator may run it, once.
        let setup = server.onboard_as(Credential::Token(&server.operator_token)).await;
        let (status, _, _) = server.request(Method::GET, "/api/v2/me", Credential::Token(&setup.token), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, code, _) = server
            .request(Method::POST, "/api/v2/setup", Credential::Token(&server.operator_token), Some(json!({"username": "b", "org": "c"})))
            .await;
        assert_eq!((status, code.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("conflict")));
        let (_, _, log) = server.request(Method::GET, "/api/v0/audit?limit=1000", Credential::Operator, None).await;
        let setups: Vec<&Value> = log.as_array().unwrap().iter().filter(|e| e["action"] == "setup.complete").collect();
        assert_eq!(setups.len(), 1);
        assert!(setups[0]["actor"].as_str().unwrap().starts_with("token:"), "{}", setups[0]);
    }

    async fn an_org_wide_bucket_permission_grants_only_databases_in_its_org(server: TestServer) {
        let admin = server.onboard().await;
        let (status, _, second) = server
            .request(Method::POST, "/api/v2/orgs", Credential::Token(&admin.token), Some(json!({"name": "second"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let second = second["id"].as_str().unwrap().to_owned();
        let org_wide = |org: &str| json!([{"action": "write", "resource": {"type": "buckets", "orgID": org}}]);
        let in_default = server.v2_authorization(&admin.token, &admin.org_id, &admin.user_id, org_wide(&admin.org_id)).await;
        let in_default = in_default["token"].as_str().unwrap();
        let in_second = server.v2_authorization(&admin.token, &second, &admin.user_id, org_wide(&second)).await;
        let in_second = in_second["token"].as_str().unwrap();

        // A request naming no org is in the org setup made.
        assert_eq!(server.granted_in(in_default, "write", PRODUCTION, None).await, PRODUCTION);
        assert_eq!(server.granted_in(in_default, "write", PRODUCTION, Some("my-org")).await, PRODUCTION);
        assert_eq!(server.granted_in(in_default, "write", PRODUCTION, Some(&admin.org_id)).await, PRODUCTION);
        assert!(server.granted_in(in_default, "write", PRODUCTION, Some("second")).await.is_empty());
        assert!(server.granted_in(in_default, "write", PRODUCTION, Some("no-such-org")).await.is_empty());
        assert!(server.granted_in(in_second, "write", PRODUCTION, None).await.is_empty());
        assert_eq!(server.granted_in(in_second, "write", PRODUCTION, Some(&second)).await, PRODUCTION);

        // Permissions naming a database, and the Clustered `*`, are unaffected.
        let (_, named) = server.create_token(json!([{"action": "write", "resource": "production"}])).await;
        let (_, every) = server.create_token(json!([{"action": "write", "resource": "*"}])).await;
        for token in [&named, &every] {
            assert_eq!(server.granted_in(token, "write", PRODUCTION, Some("second")).await, PRODUCTION);
            assert_eq!(server.granted_in(token, "write", PRODUCTION, None).await, PRODUCTION);
        }
        // The org is echoed with what was granted.
        let decision = server
            .authorize(in_second, json!([{"action": "write", "database": "production", "org": "second"}]))
            .await;
        assert_eq!(decision["permissions"], json!([{"action": "write", "database": "production", "org": "second"}]));
    }

    async fn refusals_of_unverified_credentials_are_counted_and_write_no_audit_rows(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "read", "resource": "db1"}])).await;
        let before = server.audit_len().await;
        let forged = with_wrong_secret(&token);
        let missing = with_wrong_secret(&format!("apiv1_deadbeefdeadbeef{}", &token[22..]));
        for credential in [forged.as_str(), missing.as_str(), "M.V1.garbage", "eyJ.e30.sig"] {
            // Five of each: the forged ones stay under the per-address limit of wrong secrets.
            for _ in 0..5 {
                let (status, _, _) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(credential), None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                let (status, _, _) = server.request(Method::GET, "/api/v2/authorizations", Credential::Token(credential), None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED);
            }
        }
        let (status, _, _) = server.request(Method::GET, "/api/v0/tokens", Credential::Anonymous, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(server.audit_len().await, before, "no row for a credential that did not verify");
        for (surface, reason) in [("v0", "not_found"), ("v2", "not_found"), ("v0", "wrong_secret"), ("v2", "wrong_secret"), ("v0", "malformed")] {
            let sample = format!("tollgate_auth_refusals_total{{surface=\"{surface}\",reason=\"{reason}\"}}");
            assert!(server.metric(&sample).await >= 5.0, "{sample}");
        }

        // Verified callers' refusals stay audited, naming the verified actor.
        let (status, _, _) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let admin = server.onboard_as(Credential::Token(&server.operator_token)).await;
        let reader = server
            .v2_authorization(&admin.token, &admin.org_id, &admin.user_id, json!([{"action": "read", "resource": {"type": "buckets"}}]))
            .await;
        let user_path = format!("/api/v2/users/{}", admin.user_id);
        let (status, _, _) = server.request(Method::GET, &user_path, Credential::Token(reader["token"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, _, log) = server.request(Method::GET, "/api/v0/audit?limit=1000", Credential::Operator, None).await;
        let refused: Vec<(String, String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "refused")
            .map(|e| (e["actor"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap().to_owned(), e["detail"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(refused, vec![
            (format!("token:{id}"), "GET /api/v0/tokens".to_owned(), "database tokens cannot use the management API; use a management token".to_owned()),
            (format!("token:{}", reader["id"].as_str().unwrap()), "GET /api/v2/users/{userID}".to_owned(), format!("read:users/{} is unauthorized", admin.user_id)),
        ]);
        assert!(!log.to_string().contains("deadbeefdeadbeef"));
    }

    async fn a_wrong_secret_reads_as_an_unknown_token_whatever_the_tokens_state(server: TestServer) {
        let (status, _, created) = server
            .request(Method::POST, "/api/v0/management-tokens", Credential::Operator, Some(json!({"description": "automation"})))
            .await;
        assert_eq!(status, StatusCode::OK);
        let management = created["accessToken"].as_str().unwrap().to_owned();
        let (_, _, unknown) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer("M.V1.garbage"), None).await;
        let path = format!("/api/v0/management-tokens/{}", created["id"].as_str().unwrap());
        let (status, _, _) = server.request(Method::DELETE, &path, Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, answer) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&with_wrong_secret(&management)), None).await;
        assert_eq!((status, &answer), (StatusCode::UNAUTHORIZED, &unknown));
        let (_, _, answer) = server.request(Method::GET, "/api/v0/tokens", Credential::Bearer(&management), None).await;
        assert_eq!(answer["message"], "management token has been revoked", "the holder of the secret is told");

        let admin = server.onboard_as(Credential::Token(&server.operator_token)).await;
        let auth = server
            .v2_authorization(&admin.token, &admin.org_id, &admin.user_id, json!([{"action": "read", "resource": {"type": "users"}}]))
            .await;
        let token = auth["token"].as_str().unwrap();
        let path = format!("/api/v2/authorizations/{}", auth["id"].as_str().unwrap());
        server.request(Method::PATCH, &path, Credential::Token(&admin.token), Some(json!({"status": "inactive"}))).await;
        let (status, _, answer) = server.request(Method::GET, "/api/v2/me", Credential::Token(&with_wrong_secret(token)), None).await;
        assert_eq!((status, answer["message"].clone()), (StatusCode::UNAUTHORIZED, json!("unauthorized access")));
        let (_, _, answer) = server.request(Method::GET, "/api/v2/me", Credential::Token(token), None).await;
        assert_eq!(answer["message"], "token is inactive");
        // The decision API names the reason, which tells nothing of the token's state.
        let decision = server.authorize(&with_wrong_secret(token), json!([])).await;
        assert_eq!(decision, json!({"valid": false, "reason": "wrong_secret", "permissions": []}));
    }

    async fn out_of_range_instants_and_nul_bytes_are_400s_that_name_the_field(server: TestServer) {
        let late = "9999-12-31T23:59:59-01:00";
        let early = "0000-01-01T00:00:00+01:00";
        let permissions = json!([{"action": "read", "resource": "db1"}]);
        for at in [late, early] {
            let (status, _, body) = server
                .request(Method::POST, "/api/v0/tokens", Credential::Operator, Some(json!({"description": "d", "permissions": permissions, "expiresAt": at})))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(body["message"].as_str().unwrap().starts_with("expiresAt"), "{body}");
            let (status, _, body) = server
                .request(Method::POST, "/api/v0/management-tokens", Credential::Operator, Some(json!({"description": "d", "expiresAt": at})))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(body["message"].as_str().unwrap().starts_with("expiresAt"), "{body}");
            let (status, _, body) = server.request(Method::GET, &format!("/api/v0/audit?since={}", at.replace('+', "%2B")), Credential::Operator, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(body["message"].as_str().unwrap().starts_with("since"), "{body}");
        }
        let (status, _, body) = server
            .request(Method::POST, "/api/v0/tokens", Credential::Operator, Some(json!({"description": "a\u{0}b", "permissions": permissions})))
            .await;
        assert_eq!((status, body["message"].clone()), (StatusCode::BAD_REQUEST, json!("description must not contain NUL characters")));
        let (status, _, body) = server
            .request(Method::POST, "/api/v0/management-tokens", Credential::Operator, Some(json!({"description": "a\u{0}b"})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        let admin = server.onboard_as(Credential::Token(&server.operator_token)).await;
        for (path, body) in [
            ("/api/v2/users", json!({"name": "a\u{0}b"})),
            ("/api/v2/orgs", json!({"name": "a\u{0}b"})),
            ("/api/v2/orgs", json!({"name": "ok", "description": "a\u{0}b"})),
            ("/api/v2/authorizations", json!({"orgID": admin.org_id, "userID": admin.user_id, "description": "a\u{0}b",
                "permissions": [{"action": "read", "resource": {"type": "buckets"}}]})),
        ] {
            let (status, code, answer) = server.request(Method::POST, path, Credential::Token(&admin.token), Some(body)).await;
            assert_eq!((status, code.as_deref()), (StatusCode::BAD_REQUEST, Some("invalid")), "{path}: {answer}");
        }
        for path in ["/api/v2/users?name=a%00b", "/api/v2/orgs?org=a%00b", "/api/v2/authorizations?org=a%00b", "/api/v2/authorizations?user=a%00b"] {
            let (status, _, answer) = server.request(Method::GET, path, Credential::Token(&admin.token), None).await;
            assert!(status.is_client_error(), "{path}: {status} {answer}");
        }
        let (id, _) = server.create_token(permissions.clone()).await;
        let (status, _, body) = server
            .request(Method::PATCH, &format!("/api/v0/tokens/{id}"), Credential::Operator, Some(json!({"description": "a\u{0}b"})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let path = format!("/api/v2/authorizations/{}", admin.authorization_id);
        let (status, _, body) = server.request(Method::PATCH, &path, Credential::Token(&admin.token), Some(json!({"description": "a\u{0}b"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let scoped = server
            .v2_authorization(&admin.token, &admin.org_id, &admin.user_id, json!([{"action": "read", "resource": {"type": "buckets", "orgID": admin.org_id}}]))
            .await;
        let decision = server
            .authorize(scoped["token"].as_str().unwrap(), json!([{"action": "read", "database": "db1", "org": "a\u{0}b"}]))
            .await;
        assert_eq!(decision["valid"], true);
        assert_eq!(decision["permissions"], json!([]));
        assert_eq!(server.metric("tollgate_handler_panics_total").await, 0.0);
    }
}

/// A server whose connections are limited as `adjust` says.
async fn limited(header_timeout_seconds: u64, max_connections: usize) -> TestServer {
    let db = TestDatabase::new(Engine::Sqlite).await;
    TestServer::start_with(db, |config| {
        config.http_header_read_timeout_seconds = header_timeout_seconds;
        config.http_body_read_timeout_seconds = header_timeout_seconds;
        config.http_max_connections = max_connections;
    })
    .await
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection or `within` passes.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut seen))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn a_client_that_stalls_its_request_head_or_body_or_idles_is_disconnected() {
    let server = limited(1, 16).await;
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut stalled_body = connect(&server).await;
    stalled_body
        .write_all(b"POST /api/v0/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{")
        .await
        .unwrap();
    let mut silent = connect(&server).await;
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 204");
    // Both are closed by the server well within this bound (the timeout is 1 s).
    let answer = read_to_close(&mut slow, Duration::from_secs(10)).await;
    assert!(
        answer.is_some(),
        "a partial request head held the connection open"
    );
    assert!(
        read_to_close(&mut silent, Duration::from_secs(10))
            .await
            .is_some(),
        "a silent connection"
    );
    assert!(
        read_to_close(&mut idle, Duration::from_secs(10))
            .await
            .is_some(),
        "an idle keep-alive connection"
    );
    assert!(
        read_to_close(&mut stalled_body, Duration::from_secs(10))
            .await
            .is_some(),
        "a request whose body stalls"
    );
    let (status, _, _) = server
        .request(Method::GET, "/ping", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let server = limited(30, 1).await;
    let mut holder = connect(&server).await;
    holder
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut waiting = connect(&server).await;
    waiting
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut waiting, Duration::from_millis(500))
            .await
            .is_none(),
        "a second connection was served past a cap of one"
    );
    drop(holder);
    let answer = read_to_close(&mut waiting, Duration::from_secs(10))
        .await
        .expect("served once the first connection closed");
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
}

#[tokio::test]
async fn a_leaked_low_privilege_token_cannot_flood_the_audit_log() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "telegraf"}]))
        .await;
    let before = server.audit_len().await;
    for _ in 0..40 {
        let response = server
            .client
            .get(format!("{}/api/v0/tokens", server.base))
            .bearer_auth(&token)
            .header("X-Request-Id", "user:admin")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_ne!(response.headers()["x-request-id"], "user:admin");
    }
    let written = server.audit_len().await - before;
    assert!((1..=30).contains(&written), "{written} refusals written");
    assert!(
        server
            .metric("tollgate_audit_refusals_suppressed_total")
            .await
            >= 10.0
    );
    let (_, _, log) = server
        .request(
            Method::GET,
            "/api/v0/audit?order=desc&limit=1",
            Credential::Operator,
            None,
        )
        .await;
    assert_ne!(
        log[0]["requestId"], "user:admin",
        "a request id shaped like an actor is not kept"
    );
}

#[tokio::test]
async fn ambiguous_names_pasted_tokens_and_costly_requests_are_refused_clearly() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    // An org name that reads as an org id would make `org` ambiguous.
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/orgs",
            Credential::Token(&admin.token),
            Some(json!({"name": admin.org_id.to_uppercase()})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // `*` is not a bucket name: it would read as every database.
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/authorizations",
            Credential::Token(&admin.token),
            Some(json!({"orgID": admin.org_id, "userID": admin.user_id,
            "permissions": [{"action": "read", "resource": {"type": "buckets", "name": "*"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A token pasted into a query or a body never comes back in the error.
    let pasted = server.operator_token.clone();
    let (status, _, body) = server
        .request(
            Method::GET,
            &format!("/api/v2/orgs?org={pasted}"),
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains(&pasted[5..]), "{body}");
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Operator,
            Some(
                json!({"description": "d", "permissions": [{"action": pasted, "resource": "db"}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains(&pasted[5..]), "{body}");
    // Each distinct org costs a lookup: one request names at most 16.
    let scoped = server
        .v2_authorization(
            &admin.token,
            &admin.org_id,
            &admin.user_id,
            json!([{"action": "read", "resource": {"type": "buckets", "orgID": admin.org_id}}]),
        )
        .await;
    let many: Vec<Value> = (0..17)
        .map(|n| json!({"action": "read", "database": "db", "org": format!("org-{n}")}))
        .collect();
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/authorize",
            Credential::Anonymous,
            Some(json!({"token": scoped["token"], "permissions": many})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn an_address_that_keeps_presenting_wrong_secrets_is_refused_before_any_hashing() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.verify.failures_per_address_per_minute = 20;
    })
    .await;
    let (_, database_token) = server
        .create_token(json!([{"action": "read", "resource": "db1"}]))
        .await;
    let ask = json!([{"action": "read", "database": "db1"}]);
    assert_eq!(
        server.authorize(&database_token, ask.clone()).await["valid"],
        true
    );
    let forged = with_wrong_secret(&server.operator_token);
    for _ in 0..20 {
        let (status, _, _) = server
            .request(
                Method::GET,
                "/api/v0/tokens",
                Credential::Bearer(&forged),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = server
        .client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v2/me",
            Credential::Token(&with_wrong_secret(&database_token)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        server
            .metric("tollgate_auth_refusals_total{surface=\"v0\",reason=\"rate_limited\"}")
            .await
            >= 1.0
    );
    // A cached valid token is never slowed by a flood from its address.
    assert_eq!(server.authorize(&database_token, ask).await["valid"], true);
}

#[tokio::test]
async fn a_request_that_takes_longer_than_the_stall_timeout_to_answer_still_gets_its_answer() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.http_header_read_timeout_seconds = 1;
        // A management token whose hashing alone takes well over a second.
        config.argon2.management_tokens.iterations = 200;
    })
    .await;
    let started = std::time::Instant::now();
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/management-tokens",
            Credential::Operator,
            Some(json!({"description": "slow"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the case needs a slow answer: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_sqlite_store_and_its_journal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(Engine::Sqlite).await;
    // A write, so that the write-ahead log holds something.
    server
        .create_token(json!([{"action": "read", "resource": "db1"}]))
        .await;
    let dir = server.data_dir();
    for name in ["tollgate.db", "tollgate.db-wal", "tollgate.db-shm"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

#[tokio::test]
async fn metrics_require_the_configured_bearer_token_and_say_so() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let file = db.dir.path().join("metrics-token");
    std::fs::write(&file, "scrape-sekret\n").unwrap();
    let server = TestServer::start_with(db, |config| {
        config.metrics_token_file = Some(file.clone());
    })
    .await;
    let scrape = |authorization: Option<&'static str>| {
        let mut request = server.client.get(format!("{}/metrics", server.base));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    for refused in [None, Some("Bearer scrape-sekreT"), Some("Basic c2NyYXBl")] {
        let response = scrape(refused).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{refused:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("metrics_token_file"),
            "{body}"
        );
    }
    let response = scrape(Some("Bearer scrape-sekret")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("# EOF"));
    // Probes are not scrapes: they stay open.
    let (status, _, _) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);
}
