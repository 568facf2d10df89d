//! The data path: `/authz` forward auth, the verified-token cache, failure limits, reasons,
//! invalidation across replicas and store outages, last use and rehashing.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate::token::{TokenKind, format};

use crate::helpers::cut_proxy::{CutProxy, host_port};
use crate::helpers::{
    Credential, Engine, TestDatabase, TestServer, pg_admin_url, store_directly, with_wrong_secret,
};

/// How a token is presented.
#[derive(Debug, Clone, Copy)]
enum Form {
    Token,
    Bearer,
    Basic,
    Query,
}

/// How a proxy tells `/authz` about the original request.
#[derive(Debug, Clone, Copy)]
enum Proxy {
    /// nginx `auth_request`: `X-Original-URI` and (configured) `X-Original-Method`.
    Nginx,
    /// ingress-nginx: `X-Original-URL` and `X-Original-Method`.
    IngressNginx,
    /// Traefik: `GET` with `X-Forwarded-Method` and `X-Forwarded-Uri`.
    Traefik,
    /// Envoy and Gateway API: the original method, the path after `/authz`.
    Envoy,
}

/// Asks `/authz` about `method target` as `proxy` would, presenting `token` in `form`.
async fn ask(
    server: &TestServer,
    proxy: Proxy,
    method: &str,
    target: &str,
    token: Option<(&str, Form)>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut target = target.to_owned();
    let mut headers: Vec<(&str, String)> = Vec::new();
    match token {
        Some((token, Form::Token)) => headers.push(("authorization", format!("Token {token}"))),
        Some((token, Form::Bearer)) => headers.push(("authorization", format!("Bearer {token}"))),
        Some((token, Form::Basic)) => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("telegraf:{token}"));
            headers.push(("authorization", format!("Basic {encoded}")));
        }
        Some((token, Form::Query)) => {
            let separator = if target.contains('?') { '&' } else { '?' };
            target = format!("{target}{separator}u=telegraf&p={token}");
        }
        None => {}
    }
    let (own_method, path) = match proxy {
        Proxy::Nginx => {
            headers.push(("x-original-uri", target.clone()));
            headers.push(("x-original-method", method.to_owned()));
            (Method::GET, "/authz".to_owned())
        }
        Proxy::IngressNginx => {
            headers.push((
                "x-original-url",
                format!("https://influx.example.com{target}"),
            ));
            headers.push(("x-original-method", method.to_owned()));
            (Method::GET, "/authz".to_owned())
        }
        Proxy::Traefik => {
            headers.push(("x-forwarded-uri", target.clone()));
            headers.push(("x-forwarded-method", method.to_owned()));
            (Method::GET, "/authz".to_owned())
        }
        Proxy::Envoy => (
            Method::from_bytes(method.as_bytes()).expect("method"),
            format!("/authz{target}"),
        ),
    };
    server.authz(own_method, &path, &headers).await
}

/// The family's refusal body: v1 `{"error"}`, v2 and v3 `{"code", "message"}`.
fn assert_refusal(
    target: &str,
    status: StatusCode,
    want: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
) -> String {
    assert_eq!(status, want, "{target}: {body}");
    if target.starts_with("/api/") {
        let code = match want {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::TOO_MANY_REQUESTS => "too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "forbidden",
        };
        assert_eq!(body["code"], code, "{target}: {body}");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(2),
            "{target}: {body}"
        );
        if target.starts_with("/api/v2/") {
            assert_eq!(headers["x-platform-error-code"], code);
        }
        body["message"].as_str().expect("message").to_owned()
    } else {
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "{target}: {body}"
        );
        body["error"].as_str().expect("error").to_owned()
    }
}

const PROXIES: [Proxy; 4] = [
    Proxy::Nginx,
    Proxy::IngressNginx,
    Proxy::Traefik,
    Proxy::Envoy,
];

/// (method, target with `{db}`, whether it is a v1 path that takes `p=`).
const OPERATIONS: [(&str, &str, bool); 6] = [
    ("POST", "/write?db={db}&rp=autogen&precision=ns", true),
    ("GET", "/query?db={db}&q=SELECT+1", true),
    (
        "POST",
        "/api/v2/write?org=my-org&bucket={db}&precision=ns",
        false,
    ),
    ("POST", "/api/v3/write_lp?db={db}", false),
    ("GET", "/api/v3/query_sql?db={db}&q=SELECT+1", false),
    (
        "GET",
        "/api/v3/query_influxql?db={db}&q=SELECT+*+FROM+cpu",
        false,
    ),
];

#[tokio::test]
async fn forward_auth_allows_and_refuses_for_every_proxy_style_path_family_and_token_form() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (id, token) = server
        .create_token(json!([
            {"action": "write", "resource": "telegraf"},
            {"action": "read", "resource": "telegraf"}
        ]))
        .await;
    let (revoked_id, revoked) = server
        .create_token(
            json!([{"action": "write", "resource": "*"}, {"action": "read", "resource": "*"}]),
        )
        .await;
    let (status, _, body) = server
        .request(
            Method::DELETE,
            &format!("/api/v0/tokens/{revoked_id}"),
            Credential::Operator,
            None,
        )
        .await;
    assert!(status.is_success(), "{body}");
    let unknown = format::mint(TokenKind::Database).expect("mint").plain;
    let wrong = with_wrong_secret(&token);
    let management = server.operator_token.clone();

    for proxy in PROXIES {
        for (method, template, v1) in OPERATIONS {
            let allowed = template.replace("{db}", "telegraf");
            let forms: &[Form] = if v1 {
                &[Form::Token, Form::Bearer, Form::Basic, Form::Query]
            } else {
                &[Form::Token, Form::Bearer, Form::Basic]
            };
            for form in forms {
                let (status, headers, body) =
                    ask(&server, proxy, method, &allowed, Some((&token, *form))).await;
                assert_eq!(
                    status,
                    StatusCode::NO_CONTENT,
                    "{proxy:?} {form:?} {method} {allowed}: {body}"
                );
                assert_eq!(headers["x-tollgate-subject"], id.as_str());
                assert_eq!(body, Value::Null);
            }
            let context = format!("{proxy:?} {method} {allowed}");
            let other = template.replace("{db}", "other");
            let (status, headers, body) =
                ask(&server, proxy, method, &other, Some((&token, Form::Token))).await;
            let message = assert_refusal(&other, status, StatusCode::FORBIDDEN, &headers, &body);
            assert!(message.contains("\"other\""), "{context}: {message}");
            assert!(headers.get("x-tollgate-subject").is_none());

            let (status, headers, body) = ask(&server, proxy, method, &allowed, None).await;
            let message =
                assert_refusal(&allowed, status, StatusCode::UNAUTHORIZED, &headers, &body);
            assert!(message.contains("missing token"), "{context}: {message}");

            let mut invalid = Vec::new();
            for presented in [&unknown, &wrong, &management, &"not-a-token".to_owned()] {
                let (status, headers, body) = ask(
                    &server,
                    proxy,
                    method,
                    &allowed,
                    Some((presented, Form::Token)),
                )
                .await;
                invalid.push(assert_refusal(
                    &allowed,
                    status,
                    StatusCode::FORBIDDEN,
                    &headers,
                    &body,
                ));
            }
            assert!(
                invalid.iter().all(|m| m == "invalid database token"),
                "{context}: {invalid:?}"
            );

            let (status, headers, body) = ask(
                &server,
                proxy,
                method,
                &allowed,
                Some((&revoked, Form::Token)),
            )
            .await;
            let message = assert_refusal(&allowed, status, StatusCode::FORBIDDEN, &headers, &body);
            assert!(message.contains("revoked"), "{context}: {message}");
        }
        // Not a data operation: refused, saying so, whatever the token.
        for (method, target) in [
            ("GET", "/api/v2/buckets"),
            ("GET", "/write?db=telegraf"),
            ("POST", "/api/v2/write?org=my-org"),
        ] {
            let (status, headers, body) =
                ask(&server, proxy, method, target, Some((&token, Form::Token))).await;
            let message = assert_refusal(target, status, StatusCode::FORBIDDEN, &headers, &body);
            assert!(
                message.contains("not an InfluxDB write or query path")
                    || message.contains("not a data operation")
                    || message.contains("names no database"),
                "{proxy:?} {target}: {message}"
            );
        }
    }
    // `p=` is read only on the v1 paths, where InfluxDB reads it.
    let (status, headers, body) = ask(
        &server,
        Proxy::Nginx,
        "POST",
        "/api/v2/write?bucket=telegraf",
        Some((&token, Form::Query)),
    )
    .await;
    assert_refusal(
        "/api/v2/write",
        status,
        StatusCode::UNAUTHORIZED,
        &headers,
        &body,
    );
}

on_both_engines! {
    async fn a_cached_token_costs_one_argon2_verification_and_a_wrong_secret_for_it_none(server: TestServer) {
        let (_, token) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let before = server.metric("tollgate_argon2_verifications_total").await;
        for _ in 0..20 {
            let (status, _, body) = ask(&server, Proxy::Envoy, "POST", "/write?db=db", Some((&token, Form::Token))).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        assert_eq!(server.metric("tollgate_argon2_verifications_total").await - before, 1.0);
        let wrong = with_wrong_secret(&token);
        for _ in 0..10 {
            let (status, _, _) = ask(&server, Proxy::Envoy, "POST", "/write?db=db", Some((&wrong, Form::Token))).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        assert_eq!(server.metric("tollgate_argon2_verifications_total").await - before, 1.0);
        assert!(server.metric("tollgate_verify_cache_hits_total").await >= 19.0);
        assert_eq!(server.metric("tollgate_decisions_total{surface=\"authz\",outcome=\"allow\",reason=\"valid\"}").await, 20.0);
        assert_eq!(server.metric("tollgate_decisions_total{surface=\"authz\",outcome=\"deny\",reason=\"wrong_secret\"}").await, 10.0);
    }

    async fn management_calls_verify_their_caller_once_while_it_is_cached(server: TestServer) {
        let before = server.metric("tollgate_argon2_verifications_total").await;
        for _ in 0..5 {
            let (status, _, body) = server.request(Method::GET, "/api/v0/tokens", Credential::Operator, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert_eq!(server.metric("tollgate_argon2_verifications_total").await - before, 1.0);
    }

    async fn the_decision_api_names_the_reason_of_each_answer(server: TestServer) {
        let (id, token) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        let (revoked_id, revoked) = server.create_token(json!([{"action": "write", "resource": "db"}])).await;
        server.request(Method::DELETE, &format!("/api/v0/tokens/{revoked_id}"), Credential::Operator, None).await;
        let asked = json!([{"action": "write", "database": "db"}]);
        let reason = |body: Value| body["reason"].as_str().expect("reason").to_owned();
        let valid = server.authorize(&token, asked.clone()).await;
        assert_eq!(valid, json!({"valid": true, "reason": "valid", "subject": {"id": id}, "permissions": asked}));
        assert_eq!(reason(server.authorize(&token, json!([{"action": "read", "database": "db"}])).await), "forbidden");
        assert_eq!(reason(server.authorize("nonsense", asked.clone()).await), "malformed");
        let unknown = format::mint(TokenKind::Database).expect("mint").plain;
        assert_eq!(reason(server.authorize(&unknown, asked.clone()).await), "not_found");
        assert_eq!(reason(server.authorize(&with_wrong_secret(&token), asked.clone()).await), "wrong_secret");
        let refused = server.authorize(&revoked, asked.clone()).await;
        assert_eq!(refused, json!({"valid": false, "reason": "revoked", "permissions": []}));
        assert_eq!(server.metric("tollgate_decisions_total{surface=\"authorize\",outcome=\"deny\",reason=\"not_found\"}").await, 1.0);
    }
}

#[tokio::test]
async fn concurrent_wrong_secrets_for_one_id_run_argon2_no_more_than_its_failure_limit() {
    const LIMIT: u32 = 5;
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.verify.failures_per_address_per_minute = 100_000;
        config.verify.failures_per_token_per_minute = LIMIT;
    })
    .await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let wrong = with_wrong_secret(&token);
    let before = server.metric("tollgate_argon2_verifications_total").await;
    // 32 connections at once: all pass the limit on arrival and queue on the id's miss.
    let answers = futures_util::future::join_all((0..32).map(|_| {
        ask(
            &server,
            Proxy::Envoy,
            "POST",
            "/api/v2/write?bucket=db",
            Some((&wrong, Form::Token)),
        )
    }))
    .await;
    let runs = server.metric("tollgate_argon2_verifications_total").await - before;
    let limited = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        runs <= f64::from(LIMIT + 1),
        "{runs} argon2 runs for a limit of {LIMIT}"
    );
    assert_eq!(limited as f64, 32.0 - runs, "every other attempt hears 429");
}

#[tokio::test]
async fn a_flood_of_failures_from_one_client_becomes_429_while_cached_valid_tokens_pass() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.verify.failures_per_address_per_minute = 5;
        config.verify.failures_per_token_per_minute = 1000;
    })
    .await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let (status, _, _) = ask(
        &server,
        Proxy::Envoy,
        "POST",
        "/write?db=db",
        Some((&token, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let unknown = format::mint(TokenKind::Database).expect("mint").plain;
        let (status, headers, body) = ask(
            &server,
            Proxy::Envoy,
            "POST",
            "/api/v2/write?bucket=db",
            Some((&unknown, Form::Token)),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["code"], "too many requests", "{body}");
            retry_after = headers
                .get("retry-after")
                .map(|v| v.to_str().expect("text").parse::<u64>().expect("seconds"));
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [StatusCode::FORBIDDEN; 5]);
    assert!(
        statuses[6..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    let misses = server.metric("tollgate_verify_cache_misses_total").await;
    // The valid cached token is not slowed, let alone refused, by the flood from its address.
    let (status, _, _) = ask(
        &server,
        Proxy::Envoy,
        "POST",
        "/write?db=db",
        Some((&token, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Refused floods cost no store read.
    let unknown = format::mint(TokenKind::Database).expect("mint").plain;
    let (status, _, _) = ask(
        &server,
        Proxy::Envoy,
        "POST",
        "/write?db=db",
        Some((&unknown, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        server.metric("tollgate_verify_cache_misses_total").await,
        misses
    );
    assert!(server.metric("tollgate_rate_limited_refusals_total").await >= 14.0);
}

#[tokio::test]
async fn wrong_secrets_for_one_token_id_are_limited_across_clients_behind_a_trusted_proxy() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.verify.failures_per_address_per_minute = 2;
        config.verify.failures_per_token_per_minute = 3;
        config.verify.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let wrong = with_wrong_secret(&token);
    let mut statuses = Vec::new();
    for client in 1..=6 {
        // Each attempt from another client address, as the trusted proxy reports it.
        let headers = [
            ("authorization", format!("Token {wrong}")),
            (
                "x-forwarded-for",
                format!("203.0.113.77, 198.51.100.{client}"),
            ),
        ];
        let (status, _, _) = server
            .authz(Method::POST, "/authz/write?db=db", &headers)
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses[..3], [StatusCode::FORBIDDEN; 3], "{statuses:?}");
    assert!(
        statuses[4..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The trade-off: while its id is over the limit and not cached, the owner waits too.
    let other_client = [
        ("authorization", format!("Token {token}")),
        ("x-forwarded-for", "198.51.100.200".to_owned()),
    ];
    let (status, _, _) = server
        .authz(Method::POST, "/authz/write?db=db", &other_client)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn last_use_is_written_behind_and_shown_by_the_token_list() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server =
        TestServer::start_with(db, |config| config.verify.last_used_flush_seconds = 1).await;
    let (id, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let path = format!("/api/v0/tokens/{id}");
    let listed = || async {
        server
            .request(Method::GET, &path, Credential::Operator, None)
            .await
            .2
    };
    assert!(listed().await.get("lastUsedAt").is_none());
    for _ in 0..50 {
        let (status, _, _) = ask(
            &server,
            Proxy::Envoy,
            "POST",
            "/write?db=db",
            Some((&token, Form::Token)),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let last_used = loop {
        if let Some(at) = listed().await.get("lastUsedAt").and_then(Value::as_str) {
            break at.to_owned();
        }
        assert!(Instant::now() < deadline, "lastUsedAt never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at =
        time::OffsetDateTime::parse(&last_used, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
    assert!(
        (time::OffsetDateTime::now_utc() - at).whole_seconds().abs() < 30,
        "{last_used}"
    );
}

#[tokio::test]
async fn a_hash_weaker_than_configured_is_raised_after_it_verifies() {
    use tollgate::config::HashParams;
    let server = TestServer::start(Engine::Sqlite).await;
    let store = server.db.open_store().await;
    let weak = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let minted = store_directly(&store, TokenKind::Database, weak, |new| {
        new.description = "weak".into();
        new.permissions = vec![tollgate::token::Permission::database(
            tollgate::token::Action::Write,
            Some("db"),
        )];
    })
    .await;
    let (status, _, _) = ask(
        &server,
        Proxy::Envoy,
        "POST",
        "/write?db=db",
        Some((&minted.plain, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = store
            .find_token(&minted.id)
            .await
            .expect("read")
            .expect("token");
        if stored.secret_hash.contains(&format!(
            "m={},t={}",
            HashParams::DATABASE.memory_kib,
            HashParams::DATABASE.iterations
        )) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hash never raised: {}",
            stored.secret_hash
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The raised hash verifies the same token, from a cold cache.
    let fresh = server.replica(|_| {}).await;
    let (status, _, _) = ask(
        &fresh,
        Proxy::Envoy,
        "POST",
        "/write?db=db",
        Some((&minted.plain, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn allowed(server: &TestServer, token: &str) {
    let (status, _, body) = ask(
        server,
        Proxy::Envoy,
        "POST",
        "/api/v2/write?bucket=sensors",
        Some((token, Form::Token)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// Polls `server` until `token` is refused at `/authz`, failing after `within`.
async fn refused_within(server: &TestServer, token: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, _, body) = ask(
            server,
            Proxy::Envoy,
            "POST",
            "/api/v2/write?bucket=sensors",
            Some((token, Form::Token)),
        )
        .await;
        if status == StatusCode::FORBIDDEN {
            return started.elapsed();
        }
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert!(started.elapsed() < within, "still allowed after {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_change_through_one_replica_is_refused_by_the_others_within_a_second() {
    let first = TestServer::start(Engine::Postgres).await;
    let second = first.replica(|_| {}).await;
    let third = first.replica(|_| {}).await;
    let onboarded = first.onboard().await;
    let write =
        json!([{"action": "write", "resource": {"type": "buckets", "orgID": onboarded.org_id}}]);

    // Revoked through the management API.
    let (id, token) = first
        .create_token(json!([{"action": "write", "resource": "sensors"}]))
        .await;
    for server in [&first, &second, &third] {
        allowed(server, &token).await;
    }
    first
        .request(
            Method::DELETE,
            &format!("/api/v0/tokens/{id}"),
            Credential::Operator,
            None,
        )
        .await;
    for server in [&second, &third] {
        refused_within(server, &token, Duration::from_secs(1)).await;
    }

    // PATCHed inactive through the v2 API.
    let created = first
        .v2_authorization(
            &onboarded.token,
            &onboarded.org_id,
            &onboarded.user_id,
            write.clone(),
        )
        .await;
    let token = created["token"].as_str().expect("token").to_owned();
    for server in [&second, &third] {
        allowed(server, &token).await;
    }
    let (status, _, body) = first
        .request(
            Method::PATCH,
            &format!(
                "/api/v2/authorizations/{}",
                created["id"].as_str().expect("id")
            ),
            Credential::Token(&onboarded.token),
            Some(json!({"status": "inactive"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for server in [&second, &third] {
        refused_within(server, &token, Duration::from_secs(1)).await;
    }

    // Its v2 user deleted.
    let user = first.v2_user(&onboarded.token, "telegraf").await;
    let created = first
        .v2_authorization(&onboarded.token, &onboarded.org_id, &user, write)
        .await;
    let token = created["token"].as_str().expect("token").to_owned();
    for server in [&second, &third] {
        allowed(server, &token).await;
    }
    let (status, _, body) = first
        .request(
            Method::DELETE,
            &format!("/api/v2/users/{user}"),
            Credential::Token(&onboarded.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for server in [&second, &third] {
        refused_within(server, &token, Duration::from_secs(1)).await;
    }
    assert!(second.metric("tollgate_verify_invalidations_total").await >= 3.0);
}

#[tokio::test]
async fn a_killed_listener_reconnects_and_flushes_the_cache() {
    let server = TestServer::start(Engine::Postgres).await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let check = || {
        ask(
            &server,
            Proxy::Envoy,
            "POST",
            "/write?db=db",
            Some((&token, Form::Token)),
        )
    };
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    let verified = server.metric("tollgate_argon2_verifications_total").await;
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        server.metric("tollgate_argon2_verifications_total").await,
        verified,
        "cached"
    );

    let name = server.db.pg_name().expect("postgres").to_owned();
    let mut admin = {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&pg_admin_url())
            .await
            .expect("admin connection")
    };
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(killed, [true], "one listener per replica");

    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .metric("tollgate_verify_listener_reconnects_total")
        .await
        < 1.0
    {
        assert!(Instant::now() < deadline, "the listener never reconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Flushed: the next check verifies again.
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        server.metric("tollgate_argon2_verifications_total").await,
        verified + 1.0
    );
}

/// A PostgreSQL server reached through a proxy the test can cut, with a 1 s cache TTL, a 1 s
/// wait for a store connection, and `stale_if_error_seconds` as given.
async fn behind_cut_proxy(stale_if_error_seconds: u64) -> (CutProxy, TestServer) {
    let proxy = CutProxy::start(host_port(&pg_admin_url())).await;
    let db = TestDatabase::new(Engine::Postgres).await;
    let direct = db.url.expose().to_owned();
    let proxied = direct.replacen(&host_port(&pg_admin_url()), &proxy.address.to_string(), 1);
    assert_ne!(proxied, direct);
    let server = TestServer::start_with(db, |config| {
        config.database_url = tollgate::config::DatabaseUrl::new(proxied);
        config.database_acquire_timeout_seconds = 1;
        config.verify.cache_ttl_seconds = 1;
        config.verify.stale_if_error_seconds = stale_if_error_seconds;
    })
    .await;
    (proxy, server)
}

#[tokio::test]
async fn with_the_store_cut_off_cached_tokens_keep_working_and_unknown_ones_get_503() {
    let (proxy, server) = behind_cut_proxy(300).await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let server = &server;
    let check = |presented: String| async move {
        ask(
            server,
            Proxy::Nginx,
            "POST",
            "/api/v2/write?bucket=db",
            Some((&presented, Form::Token)),
        )
        .await
    };
    assert_eq!(check(token.clone()).await.0, StatusCode::NO_CONTENT);

    proxy.cut();
    // Past the TTL: the entry is stale and the store cannot say otherwise.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        let (status, _, body) = check(token.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let unknown = format::mint(TokenKind::Database).expect("mint").plain;
    let (status, headers, body) = check(unknown.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["code"], "unavailable");
    let (status, _, body) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, _) = check(unknown.clone()).await;
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(check(token).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn with_stale_if_error_off_a_cached_token_past_its_ttl_needs_the_store() {
    let (proxy, server) = behind_cut_proxy(0).await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let check = || {
        ask(
            &server,
            Proxy::Traefik,
            "POST",
            "/api/v3/write_lp?db=db",
            Some((&token, Form::Bearer)),
        )
    };
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    let verified = server.metric("tollgate_argon2_verifications_total").await;
    // Past the TTL with the store up: re-read, and renewed with no argon2.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        server.metric("tollgate_argon2_verifications_total").await,
        verified
    );
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, headers, body) = check().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["retry-after"], "1");
    proxy.restore();
}

#[tokio::test]
async fn with_stale_if_error_off_no_concurrent_check_is_answered_from_an_entry_past_its_ttl() {
    let (proxy, server) = behind_cut_proxy(0).await;
    let (_, token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;
    let check = || {
        ask(
            &server,
            Proxy::Envoy,
            "POST",
            "/api/v2/write?bucket=db",
            Some((&token, Form::Token)),
        )
    };
    assert_eq!(check().await.0, StatusCode::NO_CONTENT);
    // The entry was filled before that answer: its 1 s TTL ends before `stale_from`.
    let stale_from = Instant::now() + Duration::from_millis(1050);
    // Store reads now hang until the 1 s acquire timeout: a re-read takes that long.
    proxy.stall();
    // The TTL is wall-clock time (1 s at least): nothing to observe but its end.
    tokio::time::sleep_until(stale_from.into()).await;
    // Past the TTL, with no stale bound: one re-reads, and none of the others may answer
    // from the entry meanwhile.
    let answers = futures_util::future::join_all((0..16).map(|_| check())).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|(status, _, _)| *status).collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    proxy.restore();
}

#[tokio::test]
async fn forward_auth_decides_only_what_the_url_fixes_and_refuses_a_client_s_added_headers() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, token) = server
        .create_token(
            json!([{"action": "write", "resource": "db1"}, {"action": "read", "resource": "db1"}]),
        )
        .await;
    let (_, other) = server
        .create_token(json!([{"action": "write", "resource": "*"}]))
        .await;
    let header = format!("Token {token}");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        // Traefik sets X-Forwarded-Uri for the real request; the client added X-Original-URI.
        (
            vec![
                ("x-forwarded-uri", "/write?db=db2".into()),
                ("x-forwarded-method", "POST".into()),
                ("x-original-uri", "/write?db=db1".into()),
            ],
            "different original",
        ),
        // A POST query's statement and database are in the body.
        (
            vec![
                ("x-original-uri", "/query?db=db1".into()),
                ("x-original-method", "POST".into()),
            ],
            "send queries with GET",
        ),
        (
            vec![
                ("x-original-uri", "/api/v3/query_sql?db=db1".into()),
                ("x-original-method", "POST".into()),
            ],
            "send queries with GET",
        ),
        // InfluxQL reaching beyond ?db=.
        (
            vec![
                (
                    "x-original-uri",
                    "/query?db=db1&q=SHOW+MEASUREMENTS+ON+secret".into(),
                ),
                ("x-original-method", "GET".into()),
            ],
            "ON",
        ),
        (
            vec![
                (
                    "x-original-uri",
                    "/query?db=db1&q=SELECT+*+FROM+%22secret%22..cpu".into(),
                ),
                ("x-original-method", "GET".into()),
            ],
            "qualified",
        ),
        // A named retention policy is another database in InfluxDB 3.
        (
            vec![
                ("x-original-uri", "/write?db=db1&rp=weekly".into()),
                ("x-original-method", "POST".into()),
            ],
            "\"db1/weekly\"",
        ),
        // Two tokens in one request.
        (
            vec![
                ("x-original-uri", format!("/write?db=db1&p={other}")),
                ("x-original-method", "POST".into()),
            ],
            "different tokens",
        ),
    ];
    for (mut headers, needle) in cases {
        headers.push(("authorization", header.clone()));
        let (status, _, body) = server.authz(Method::GET, "/authz", &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
        let message = body["message"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{needle}: {body}");
    }
    // The same requests, as the proxy alone names them, are decided.
    let allowed = [
        vec![
            ("x-forwarded-uri", "/write?db=db1".to_owned()),
            ("x-forwarded-method", "POST".to_owned()),
        ],
        vec![
            (
                "x-original-uri",
                "/query?db=db1&q=SHOW+MEASUREMENTS".to_owned(),
            ),
            ("x-original-method", "GET".to_owned()),
        ],
        vec![
            ("x-original-uri", "/write?db=db1&rp=autogen".to_owned()),
            ("x-original-method", "POST".to_owned()),
        ],
        vec![
            ("x-original-uri", format!("/write?db=db1&p={token}")),
            ("x-original-method", "POST".to_owned()),
        ],
    ];
    for mut headers in allowed {
        headers.push(("authorization", header.clone()));
        let (status, _, body) = server.authz(Method::GET, "/authz", &headers).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{headers:?}: {body}");
    }
}

/// `q` as a URL's query carries it.
fn encoded(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn a_read_token_cannot_read_another_database_through_comments_regexes_or_a_second_statement()
{
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, token) = server
        .create_token(json!([{"action": "read", "resource": "db1"}]))
        .await;
    let attacks = [
        "SELECT * FROM /*'*/secret..cpu/*'*/",
        "SELECT * FROM -- '\nsecret..cpu -- '",
        "SHOW MEASUREMENTS /*'*/ ON secret /*'*/",
        "SHOW /*'*/ DATABASES /*'*/",
        "SELECT /*\"*/ * FROM secret.autogen.cpu",
        "SELECT * FROM /'/; SELECT * FROM secret..cpu; SELECT * FROM /'/",
        // Found by a second review: a `\\/` in a regex, a keyword InfluxDB 3 reads as a name.
        r"SELECT * FROM /a\\/ WHERE x = '/; SELECT * FROM secret..cpu; SELECT * FROM /'/",
        "SELECT key\r/1, b FROM secret..cpu WHERE c = 1/1",
        "SELECT key/1, b FROM secret..cpu WHERE c = 1/1",
    ];
    let grafana = [
        r#"SELECT mean("value") FROM "cpu" WHERE time >= now() - 1h AND "host" =~ /^server1$/ GROUP BY time(1m), "host" fill(null)"#,
        "SELECT * FROM /^cpu/",
        "SELECT * FROM cpu WHERE t = 'it''s'",
        r#"SELECT * FROM "cpu.load""#,
        r#"SHOW TAG VALUES WITH KEY = "host""#,
        "SELECT 1.5 * value FROM cpu",
        r#"SELECT * FROM "autogen"."cpu""#,
    ];
    for path in ["/query", "/api/v3/query_influxql"] {
        for proxy in [Proxy::Nginx, Proxy::Envoy] {
            for q in attacks {
                let target = format!("{path}?db=db1&q={}", encoded(q));
                let (status, headers, body) =
                    ask(&server, proxy, "GET", &target, Some((&token, Form::Token))).await;
                let message = assert_refusal(path, status, StatusCode::FORBIDDEN, &headers, &body);
                assert!(
                    message.contains("stays in ?db="),
                    "{proxy:?} {path} {q}: {message}"
                );
                assert!(!message.contains("secret"), "{message}");
            }
            for q in grafana {
                let target = format!("{path}?db=db1&q={}", encoded(q));
                let (status, _, body) =
                    ask(&server, proxy, "GET", &target, Some((&token, Form::Token))).await;
                assert_eq!(
                    status,
                    StatusCode::NO_CONTENT,
                    "{proxy:?} {path} {q}: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_retention_policy_names_the_database_influxdb_3_writes_to_and_a_query_s_rp_none() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, d_default) = server
        .create_token(json!([{"action": "write", "resource": "d/default"}]))
        .await;
    let (_, d) = server
        .create_token(json!([
            {"action": "write", "resource": "d"},
            {"action": "read", "resource": "d"}
        ]))
        .await;
    let (_, d_weekly) = server
        .create_token(json!([
            {"action": "write", "resource": "d/weekly"},
            {"action": "read", "resource": "d/weekly"}
        ]))
        .await;
    let q = encoded("SELECT * FROM cpu");
    let cases = [
        // IOx writes rp=default (any case), autogen and '' into d itself.
        (
            &d_default,
            "POST",
            "/write?db=d&rp=default".to_owned(),
            false,
        ),
        (&d, "POST", "/write?db=d&rp=default".to_owned(), true),
        (&d, "POST", "/write?db=d&rp=Autogen".to_owned(), true),
        (&d, "POST", "/write?db=d&rp=DEFAULT".to_owned(), true),
        (&d, "POST", "/write?db=d&rp=''".to_owned(), true),
        // Other retention policies are databases of their own, lowercased.
        (&d_weekly, "POST", "/write?db=d&rp=Weekly".to_owned(), true),
        (&d, "POST", "/write?db=d&rp=weekly".to_owned(), false),
        // A query runs on d whatever its rp.
        (
            &d_weekly,
            "GET",
            format!("/query?db=d&rp=weekly&q={q}"),
            false,
        ),
        (&d, "GET", format!("/query?db=d&rp=weekly&q={q}"), true),
    ];
    for (token, method, target, allowed) in cases {
        let (status, _, body) = ask(
            &server,
            Proxy::Nginx,
            method,
            &target,
            Some((token, Form::Token)),
        )
        .await;
        let want = if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, want, "{method} {target}: {body}");
    }
}

#[tokio::test]
async fn a_header_and_a_percent_encoded_p_naming_another_token_are_refused() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (_, a) = server
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    let (_, b) = server
        .create_token(json!([{"action": "write", "resource": "*"}]))
        .await;
    for key in ["p", "%70"] {
        let headers = vec![
            ("authorization", format!("Token {a}")),
            ("x-original-uri", format!("/write?db=db1&{key}={b}")),
            ("x-original-method", "POST".to_owned()),
        ];
        let (status, _, body) = server.authz(Method::GET, "/authz", &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{key}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("name different tokens"), "{key}: {body}");
        assert!(!message.contains(&b), "{body}");
    }
    // The same token in both places is one token.
    let headers = vec![
        ("authorization", format!("Token {a}")),
        ("x-original-uri", format!("/write?db=db1&%70={a}")),
        ("x-original-method", "POST".to_owned()),
    ];
    let (status, _, body) = server.authz(Method::GET, "/authz", &headers).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// `/api/v0/authorize` for `token` from `client`; whether it was valid.
async fn valid_from(client: &reqwest::Client, server: &TestServer, token: &str) -> bool {
    let body: Value = client
        .post(format!("{}/api/v0/authorize", server.base))
        .json(&json!({"token": token, "permissions": [{"action": "write", "database": "db1"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["valid"] == true
}

/// Unknown ids from 40 loopback addresses, each under its own failure limit.
async fn flood_of_unknown_ids(server: &TestServer) -> Duration {
    let started = Instant::now();
    let mut sent = Vec::new();
    for n in 0..40u8 {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 1, n + 1]))
            .build()
            .unwrap();
        let base = server.base.clone();
        sent.push(tokio::spawn(async move {
            for _ in 0..20 {
                let unknown = format::mint(TokenKind::Database).unwrap().plain;
                let response = client
                    .post(format!("{base}/api/v0/authorize"))
                    .json(&json!({"token": unknown, "permissions": []}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    for task in sent {
        task.await.unwrap();
    }
    started.elapsed()
}

#[tokio::test]
async fn unknown_ids_from_many_addresses_cost_a_bounded_number_of_store_reads() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.verify.unknown_id_reads_per_second = 5;
    })
    .await;
    let (_, before) = server
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    assert!(valid_from(&server.client, &server, &before).await);
    let reads_before = server.metric("tollgate_verify_store_reads_total").await;
    let took = flood_of_unknown_ids(&server).await;
    let reads = server.metric("tollgate_verify_store_reads_total").await - reads_before;
    // 800 unknown ids, none over its address's limit: the budget's burst (5) and its rate
    // over the flood, plus the reads made before the known ids were loaded.
    let bound = 10.0 + 5.0 * took.as_secs_f64().ceil();
    assert!(
        reads <= bound,
        "{reads} store reads in {took:?} (bound {bound})"
    );
    assert!(
        server
            .metric("tollgate_verify_unknown_budget_refusals_total")
            .await
            > 700.0
    );
    // With the budget spent, a token created here a moment ago verifies at once.
    let (_, created) = server
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    let fresh = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 2, 1]))
        .build()
        .unwrap();
    assert!(valid_from(&fresh, &server, &created).await);
}

#[tokio::test]
async fn a_token_created_on_another_replica_verifies_while_unknown_ids_flood_this_one() {
    let first = TestServer::start(Engine::Postgres).await;
    let second = first
        .replica(|config| config.verify.unknown_id_reads_per_second = 1)
        .await;
    let (_, warm) = first
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    assert!(valid_from(&second.client, &second, &warm).await);
    flood_of_unknown_ids(&second).await;
    let (_, created) = first
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    // Its creation's notification reaches the second replica within milliseconds; a check
    // that beats it is read within the budget, which the flood may have spent.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !valid_from(&second.client, &second, &created).await {
        assert!(
            Instant::now() < deadline,
            "never verified on the other replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
