//! What a new user meets in the first hour: readiness that does not wait for an identity
//! provider, the Cloud Dedicated paths, the audit log newest first, and one time format per API.

use crate::helpers::{Credential, Engine, TestDatabase, TestServer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate::config::IssuerConfig;

/// An issuer whose keys can never load: nothing listens on port 1.
const UNREACHABLE_ISSUER: &str = "http://127.0.0.1:1/realms/tollgate";

async fn with_unreachable_provider() -> TestServer {
    let db = TestDatabase::new(Engine::Sqlite).await;
    TestServer::start_with(db, |config| {
        config.oauth.issuers.push(IssuerConfig {
            issuer: UNREACHABLE_ISSUER.to_owned(),
            audience: vec!["tollgate".to_owned()],
            // A query string may carry a credential: it must never be shown.
            jwks_url: Some("http://127.0.0.1:1/jwks?api_key=sekret-jwks-key".to_owned()),
            algorithms: vec!["RS256".to_owned()],
            leeway_seconds: 60,
            user_claims: vec!["sub".to_owned()],
            groups_claim: None,
        });
    })
    .await
}

/// A JWT-shaped credential naming the issuer (its signature is never reached).
fn jwt_from(issuer: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        part(json!({"iss": issuer, "sub": "u1", "aud": "tollgate", "exp": 4_102_444_800_i64}))
    )
}

#[tokio::test]
async fn an_unreachable_identity_provider_leaves_the_server_ready_and_only_jwts_waiting() {
    let server = with_unreachable_provider().await;
    let (status, _, ready) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(
        (status, ready["status"].clone()),
        (StatusCode::OK, json!("ready"))
    );
    assert!(ready.get("checks").is_none());

    // A JWT before its provider's keys have loaded: our outage, named, with Retry-After.
    let response = server
        .client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(jwt_from(UNREACHABLE_ISSUER))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(UNREACHABLE_ISSUER), "{message}");

    // Everything else works meanwhile.
    let (_, database_token) = server
        .create_token(json!([{"action": "write", "resource": "db1"}]))
        .await;
    let decision = server
        .authorize(
            &database_token,
            json!([{"action": "write", "database": "db1"}]),
        )
        .await;
    assert_eq!(decision["valid"], true);
    let (status, _, manual) = server
        .request(
            Method::POST,
            "/api/v0/management-tokens",
            Credential::Operator,
            Some(json!({"description": "ci"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(manual["accessToken"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let admin = server
        .onboard_as(Credential::Token(&server.operator_token))
        .await;
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v2/me",
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A probe sees each check pass or fail, and nothing of why or of the providers.
    let (status, _, public) = server
        .request(Method::GET, "/ready?verbose", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let checks = public["checks"].as_array().unwrap();
    let named: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [
            ("store", "pass"),
            ("migrations", "pass"),
            ("draining", "pass"),
            ("identity provider 1", "warn")
        ]
    );
    assert!(
        checks.iter().all(|c| c.get("message").is_none()),
        "{public}"
    );

    // A wrong credential is told so rather than shown less.
    let (status, _, _) = server
        .request(
            Method::GET,
            "/ready?verbose",
            Credential::Bearer("M.V1.nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The operator sees why, per check, and no URL's query string.
    let (status, _, verbose) = server
        .request(Method::GET, "/ready?verbose", Credential::Operator, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !verbose.to_string().contains("sekret-jwks-key"),
        "{verbose}"
    );
    let checks = verbose["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names[..3], ["store", "migrations", "draining"]);
    let provider = &checks[3];
    assert_eq!(
        provider["name"],
        format!("identity provider {UNREACHABLE_ISSUER}")
    );
    assert_eq!(provider["status"], "warn");
    let why = provider["message"].as_str().unwrap();
    assert!(
        why.contains("keys not loaded") && why.to_lowercase().contains("refused"),
        "{why}"
    );
}

on_both_engines! {
    async fn the_cloud_dedicated_token_paths_serve_the_same_tokens_with_account_and_cluster(server: TestServer) {
        let base = "/api/v0/accounts/11111111-2222-3333-4444-555555555555/clusters/c-1/tokens";
        let (status, _, created) = server
            .request(Method::POST, base, Credential::Operator, Some(json!({"description": "dedicated", "permissions": [{"action": "read", "resource": "db1"}], "expirationType": "noExpiration"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        assert_eq!(created["accountId"], "11111111-2222-3333-4444-555555555555");
        assert_eq!(created["clusterId"], "c-1");
        let id = created["id"].as_str().unwrap();
        assert!(created["accessToken"].as_str().unwrap().starts_with("apiv1_"));

        let (status, _, listed) = server.request(Method::GET, base, Credential::Operator, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed[0]["id"], id);
        assert_eq!(listed[0]["clusterId"], "c-1");
        server.create_token(json!([{"action": "read", "resource": "db2"}])).await;
        let page = server
            .client
            .get(format!("{}{base}?limit=1", server.base))
            .bearer_auth(&server.operator_token)
            .send()
            .await
            .unwrap();
        let link = page.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.starts_with(&format!("<{base}?limit=1&after=")), "paging stays on the path: {link}");
        let (_, _, plain) = server.request(Method::GET, &format!("/api/v0/tokens/{id}"), Credential::Operator, None).await;
        assert!(plain.get("accountId").is_none(), "the plain path keeps its own shape");

        let one = format!("{base}/{id}");
        let (status, _, patched) = server.request(Method::PATCH, &one, Credential::Operator, Some(json!({"description": "renamed"}))).await;
        assert_eq!((status, patched["description"].clone(), patched["accountId"].clone()),
            (StatusCode::OK, json!("renamed"), json!("11111111-2222-3333-4444-555555555555")));
        let (status, _, _) = server.request(Method::DELETE, &one, Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = server.request(Method::GET, &one, Credential::Operator, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = server.request(Method::GET, base, Credential::Anonymous, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    async fn the_audit_log_reads_newest_first_with_order_desc(server: TestServer) {
        for n in 0..3 {
            server.create_token(json!([{"action": "read", "resource": format!("db{n}")}])).await;
        }
        let response = server
            .client
            .get(format!("{}/api/v0/audit?order=desc&limit=2", server.base))
            .bearer_auth(&server.operator_token)
            .send()
            .await
            .unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        let newest: Value = response.json().await.unwrap();
        let ids: Vec<i64> = newest.as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids[0] > ids[1], "{ids:?}");
        assert_eq!(newest[0]["action"], "token.create");
        assert!(link.contains("order=desc") && link.contains(&format!("after={}", ids[1])), "{link}");
        let (_, _, oldest) = server.request(Method::GET, "/api/v0/audit?limit=1", Credential::Operator, None).await;
        assert_eq!(oldest[0]["action"], "operator_token.bootstrap");
        let (status, _, body) = server.request(Method::GET, "/api/v0/audit?order=sideways", Credential::Operator, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"].as_str().unwrap().contains("order"), "{body}");
    }
}

#[tokio::test]
async fn configured_account_and_cluster_ids_are_checked() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.account_id = Some("acct".to_owned());
        config.cluster_id = Some("clus".to_owned());
    })
    .await;
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/accounts/acct/clusters/clus/tokens",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v0/accounts/other/clusters/clus/tokens",
        "/api/v0/accounts/acct/clusters/other/tokens",
    ] {
        let (status, _, body) = server
            .request(Method::GET, path, Credential::Operator, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/accounts/a%20b/clusters/clus/tokens",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// `2026-12-01T10:00:00.123Z`: UTC, exactly three fractional digits.
fn is_clustered_instant(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24 && b[19] == b'.' && b[23] == b'Z' && b[20..23].iter().all(u8::is_ascii_digit)
}

/// Go's RFC3339Nano in UTC: fractional digits (1 to 9, no trailing zero) only when non-zero.
fn is_go_rfc3339_nano(text: &str) -> bool {
    let Some(rest) = text.strip_suffix('Z') else {
        return false;
    };
    match rest.split_once('.') {
        None => rest.len() == 19,
        Some((whole, fraction)) => {
            whole.len() == 19
                && (1..=9).contains(&fraction.len())
                && fraction.bytes().all(|b| b.is_ascii_digit())
                && !fraction.ends_with('0')
        }
    }
}

#[tokio::test]
async fn each_api_prints_instants_with_one_precision_as_its_reference_product_does() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    let created = server
        .v2_authorization(
            &admin.token,
            &admin.org_id,
            &admin.user_id,
            json!([{"action": "read", "resource": {"type": "buckets"}}]),
        )
        .await;
    let v2_at = created["createdAt"].as_str().unwrap();
    assert!(is_go_rfc3339_nano(v2_at), "{v2_at}");
    let (_, _, v0) = server
        .request(
            Method::GET,
            &format!("/api/v0/tokens/{}", created["id"].as_str().unwrap()),
            Credential::Operator,
            None,
        )
        .await;
    let v0_at = v0["createdAt"].as_str().unwrap();
    assert!(is_clustered_instant(v0_at), "{v0_at}");
    // The same instant, to the millisecond.
    assert_eq!(&v0_at[..19], &v2_at[..19]);
    let v2_millis = v2_at[19..].trim_end_matches('Z').trim_start_matches('.');
    assert_eq!(&v0_at[20..23], format!("{v2_millis:0<3}")[..3].to_owned());
    let (_, _, log) = server
        .request(
            Method::GET,
            "/api/v0/audit?order=desc&limit=1",
            Credential::Operator,
            None,
        )
        .await;
    assert!(is_clustered_instant(log[0]["at"].as_str().unwrap()));
    let (_, _, org) = server
        .request(
            Method::GET,
            &format!("/api/v2/orgs/{}", admin.org_id),
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert!(is_go_rfc3339_nano(org["createdAt"].as_str().unwrap()));
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_gets_each_apis_json_error() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens/%FF",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 400, "{body}");
    let (status, code, body) = server
        .request(
            Method::GET,
            "/api/v2/users/%FF",
            Credential::Token(&server.operator_token),
            None,
        )
        .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::BAD_REQUEST, Some("invalid")),
        "{body}"
    );
}
