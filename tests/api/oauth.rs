//! Management calls authenticated by identity-provider JWTs, against a real local provider.

use crate::helpers::idp::{AUDIENCE, Idp, SigningKey, issuer, listed_user as user};
use crate::helpers::{Credential, Engine, TestDatabase, TestServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate::config::IssuerConfig;

/// A tollgate trusting `idp`, with one user per group.
async fn tollgate(
    idp: &Idp,
    min_refetch: u64,
    adjust: impl FnOnce(&mut IssuerConfig),
) -> TestServer {
    let mut issuer = issuer(idp);
    adjust(&mut issuer);
    let db = TestDatabase::new(Engine::Sqlite).await;
    TestServer::start_with(db, |config| {
        config.oauth.issuers = vec![issuer];
        config.oauth.jwks_min_refetch_seconds = min_refetch;
        config.users = vec![
            user("admin-1", &["Admin"]),
            user("member-1", &["Member"]),
            user("auditor-1", &["Auditor"]),
            user("nobody-1", &[]),
        ];
    })
    .await
}

fn db_token_body() -> Value {
    json!({"description": "via OAuth", "permissions": [{"action": "write", "resource": "db"}]})
}

#[tokio::test]
async fn each_group_may_do_exactly_what_the_clustered_table_allows() {
    let rsa = SigningKey::generate(Algorithm::RS256, "rsa-1");
    let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
    let server = tollgate(&idp, 30, |_| {}).await;
    let jwt = |user: &str| rsa.sign(&idp.claims(user, AUDIENCE));
    let (admin, member, auditor) = (jwt("admin-1"), jwt("member-1"), jwt("auditor-1"));

    // Admin: everything.
    let (status, _, created) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Bearer(&admin),
            Some(db_token_body()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let db_path = format!("/api/v0/tokens/{}", created["id"].as_str().unwrap());
    let (status, _, manual) = server
        .request(
            Method::POST,
            "/api/v0/management-tokens",
            Credential::Bearer(&admin),
            Some(json!({"description": "automation"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{manual}");
    assert_eq!(manual["createdBy"], "admin-1");
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/management-tokens",
            Credential::Bearer(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Member: reads and creates database tokens; nothing else.
    let (status, _, _) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Bearer(&member),
            Some(db_token_body()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refusals = [
        (
            Method::POST,
            "/api/v0/management-tokens".to_owned(),
            Some(json!({"description": "x"})),
            "create management tokens",
        ),
        (
            Method::DELETE,
            db_path.clone(),
            None,
            "update or revoke database tokens",
        ),
        (
            Method::PATCH,
            db_path.clone(),
            Some(json!({"description": "x"})),
            "update or revoke database tokens",
        ),
        (
            Method::GET,
            "/api/v0/audit".to_owned(),
            None,
            "read the audit log",
        ),
    ];
    for (method, path, body, what) in refusals {
        let (status, _, got) = server
            .request(method, &path, Credential::Bearer(&member), body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            got["message"],
            format!("user member-1 (groups: Member) may not {what}")
        );
    }

    // Auditor: reads, including the audit log; changes nothing.
    for path in [
        "/api/v0/tokens",
        "/api/v0/management-tokens",
        "/api/v0/users",
        "/api/v0/audit",
    ] {
        let (status, _, _) = server
            .request(Method::GET, path, Credential::Bearer(&auditor), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, got) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Bearer(&auditor),
            Some(db_token_body()),
        )
        .await;
    assert_eq!(
        (status, got["message"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!("user auditor-1 (groups: Auditor) may not create database tokens")
        )
    );

    // A listed user with no group may do nothing.
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&jwt("nobody-1")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Admin revokes; the audit log names the users, and holds no token.
    let (status, _, _) = server
        .request(Method::DELETE, &db_path, Credential::Bearer(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, log) = server
        .request(
            Method::GET,
            "/api/v0/audit",
            Credential::Bearer(&auditor),
            None,
        )
        .await;
    let text = log.to_string();
    let entries: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert!(
        entries.contains(&("user:admin-1", "token.revoke")),
        "{text}"
    );
    assert!(entries.contains(&("user:admin-1", "management_token.create")));
    assert!(entries.contains(&("user:member-1", "call.refused")));
    for secret in [&admin, &member, &auditor] {
        assert!(!text.contains(secret.as_str()));
    }
}

#[tokio::test]
async fn forged_expired_and_misaddressed_jwts_are_refused_by_class_without_hammering_the_provider()
{
    let rsa = SigningKey::generate(Algorithm::RS256, "rsa-1");
    let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
    let server = tollgate(&idp, 30, |_| {}).await;
    let good = rsa.sign(&idp.claims("admin-1", AUDIENCE));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&good),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fetched_before = idp.jwks_requests();

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |changes: Value| {
        let mut claims = idp.claims("admin-1", AUDIENCE);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        rsa.sign(&claims)
    };
    let b64 = |v: Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
        b64(idp.claims("admin-1", AUDIENCE))
    );
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs256_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &idp.claims("admin-1", AUDIENCE),
        &EncodingKey::from_secret(&rsa.public_pem),
    )
    .unwrap();
    // A character well inside the signature: the last one may only carry padding bits.
    let mut tampered: Vec<char> = good.chars().collect();
    let i = tampered.len() - 20;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let rogue =
        SigningKey::generate(Algorithm::ES256, "rogue-kid").sign(&idp.claims("admin-1", AUDIENCE));

    let cases: Vec<(&str, String, &str, StatusCode, String)> = vec![
        (
            "alg none",
            unsigned,
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "malformed JWT".into(),
        ),
        (
            "HS256 with the public key",
            hs256_with_public_key,
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT algorithm HS256 is not accepted".into(),
        ),
        (
            "tampered signature",
            tampered,
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT signature is invalid".into(),
        ),
        (
            "unknown kid",
            rogue,
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT is signed with an unknown key".into(),
        ),
        (
            "expired",
            with(json!({"exp": now - 3600})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT has expired".into(),
        ),
        (
            "not yet valid",
            with(json!({"nbf": now + 3600})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT is not yet valid".into(),
        ),
        (
            "wrong issuer",
            with(json!({"iss": "https://evil.example/"})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT issuer is not trusted".into(),
        ),
        (
            "wrong audience",
            with(json!({"aud": "https://other.example"})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT audience is not accepted".into(),
        ),
        (
            "no audience",
            with(json!({"aud": null})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT is missing the aud claim".into(),
        ),
        (
            "no expiry",
            with(json!({"exp": null})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT is missing the exp claim".into(),
        ),
        (
            "no user claim",
            with(json!({"sub": null})),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "JWT names no user: none of the claims sub is a string".into(),
        ),
        (
            "user not listed",
            with(json!({"sub": "stranger"})),
            "Bearer",
            StatusCode::FORBIDDEN,
            "user stranger is not authorized for this cluster".into(),
        ),
        (
            "garbage",
            "abc.def.ghi".into(),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "malformed JWT".into(),
        ),
        (
            "a JWT in a Token scheme",
            good.clone(),
            "Token",
            StatusCode::UNAUTHORIZED,
            "OAuth access tokens must be sent as `Authorization: Bearer <token>`".into(),
        ),
        (
            "over-long header",
            format!("{good}{}", "A".repeat(9000)),
            "Bearer",
            StatusCode::UNAUTHORIZED,
            "Authorization header is too long".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, jwt, scheme, status, message) in cases {
        let response = server
            .client
            .get(format!("{}/api/v0/tokens", server.base))
            .header("Authorization", format!("{scheme} {jwt}"))
            .send()
            .await
            .unwrap();
        let got_status = response.status();
        let text = response.text().await.unwrap();
        let expected = json!({"code": status.as_u16(), "message": message}).to_string();
        if got_status != status || text != expected {
            failures.push(format!(
                "{name}: got {got_status} {text}, want {status} {expected}"
            ));
        }
        if jwt.len() > 20 && text.contains(&jwt[jwt.len() - 20..]) {
            failures.push(format!("{name}: the response echoes the token"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // A flood of unknown key ids costs the provider at most the one rate-limited refetch.
    for n in 0..20 {
        let rogue = SigningKey::generate(Algorithm::ES256, &format!("flood-{n}"));
        let jwt = rogue.sign(&idp.claims("admin-1", AUDIENCE));
        let (status, _, _) = server
            .request(
                Method::GET,
                "/api/v0/tokens",
                Credential::Bearer(&jwt),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        idp.jwks_requests() - fetched_before <= 1,
        "{} refetches",
        idp.jwks_requests() - fetched_before
    );
}

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_and_the_removed_one_stops_working() {
    let old = SigningKey::generate(Algorithm::RS256, "2026-01");
    let idp = Idp::start("/realms/tollgate", vec![old.clone()]).await;
    let server = tollgate(&idp, 0, |_| {}).await;
    let old_jwt = old.sign(&idp.claims("admin-1", AUDIENCE));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&old_jwt),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let new = SigningKey::generate(Algorithm::ES256, "2026-02");
    idp.publish(vec![new.clone()]);
    let new_jwt = new.sign(&idp.claims("admin-1", AUDIENCE));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&new_jwt),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new kid is fetched on first sight"
    );
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&old_jwt),
            None,
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("JWT is signed with an unknown key")
        )
    );
}

#[tokio::test]
async fn a_provider_outage_keeps_the_last_good_keys_and_readiness_does_not_wait_for_it() {
    let rsa = SigningKey::generate(Algorithm::RS256, "rsa-1");
    let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
    idp.set_jwks_down(true);
    let server = tollgate(&idp, 0, |_| {}).await;
    let jwt = rsa.sign(&idp.claims("admin-1", AUDIENCE));

    // Readiness is about the data path, which needs no identity provider.
    let (status, _, _) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = server
        .client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "our outage is never a 4xx"
    );
    assert_eq!(response.headers()["retry-after"], "1");

    idp.set_jwks_down(false);
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&jwt),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    idp.set_jwks_down(true);
    let fresh = rsa.sign(&json!({"iss": idp.issuer, "sub": "admin-1", "aud": AUDIENCE, "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 60, "jti": "x"}));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&fresh),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "known keys keep working while the provider is down"
    );
    let rogue =
        SigningKey::generate(Algorithm::RS256, "other").sign(&idp.claims("admin-1", AUDIENCE));
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&rogue),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auth0_shaped_tokens_with_a_trailing_slash_issuer_and_audience_array_are_accepted() {
    let rsa = SigningKey::generate(Algorithm::RS256, "auth0-key");
    let idp = Idp::start("/", vec![rsa.clone()]).await;
    assert!(idp.issuer.ends_with('/'));
    let db = TestDatabase::new(Engine::Sqlite).await;
    let issuer = issuer(&idp);
    let server = TestServer::start_with(db, |config| {
        config.oauth.issuers = vec![issuer];
        config.users = vec![user("auth0|61f0c1", &["Admin"])];
    })
    .await;
    let mut claims = idp.claims("auth0|61f0c1", AUDIENCE);
    claims["aud"] = json!([AUDIENCE, format!("{}userinfo", idp.issuer)]);
    claims["scope"] = json!("openid profile email");
    claims["permissions"] = json!(["manage:tokens"]);
    claims["azp"] = json!("influxctl-client");
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Bearer(&rsa.sign(&claims)),
            Some(db_token_body()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn keycloak_groups_claim_adds_to_the_configured_groups() {
    let rsa = SigningKey::generate(Algorithm::RS256, "kc");
    let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
    let server = tollgate(&idp, 30, |i| i.groups_claim = Some("groups".into())).await;
    let mut claims = idp.claims("nobody-1", AUDIENCE);
    claims["aud"] = json!([AUDIENCE, "account"]);
    claims["groups"] = json!(["Auditor", "offline_access"]);
    let jwt = rsa.sign(&claims);
    let (status, _, _) = server
        .request(Method::GET, "/api/v0/audit", Credential::Bearer(&jwt), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server
        .request(
            Method::POST,
            "/api/v0/tokens",
            Credential::Bearer(&jwt),
            Some(db_token_body()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn entra_id_users_are_matched_by_object_id_not_the_pairwise_subject() {
    let rsa = SigningKey::generate(Algorithm::RS256, "entra");
    let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let idp = Idp::start(&format!("/{tenant}/v2.0"), vec![rsa.clone()]).await;
    let oid = "00000000-0000-0000-66f3-3332eca7ea81";
    let db = TestDatabase::new(Engine::Sqlite).await;
    let mut entra = issuer(&idp);
    entra.user_claims = vec!["oid".into()];
    let server = TestServer::start_with(db, |config| {
        config.oauth.issuers = vec![entra];
        config.users = vec![user(oid, &["Admin"])];
    })
    .await;
    let mut claims = idp.claims("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", AUDIENCE);
    claims["oid"] = json!(oid);
    claims["tid"] = json!(tenant);
    claims["ver"] = json!("2.0");
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&rsa.sign(&claims)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    claims.as_object_mut().unwrap().remove("oid");
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&rsa.sign(&claims)),
            None,
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("JWT names no user: none of the claims oid is a string")
        )
    );
}

#[tokio::test]
async fn without_oauth_configured_a_jwt_is_refused_with_a_pointer_to_management_tokens() {
    let server = TestServer::start(Engine::Sqlite).await;
    let rsa = SigningKey::generate(Algorithm::RS256, "k");
    let jwt = rsa.sign(
        &json!({"iss": "https://idp.example/", "sub": "u", "aud": AUDIENCE, "exp": 4102444800i64}),
    );
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&jwt),
            None,
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("OAuth is not configured on this cluster; use a management token")
        )
    );
}

#[tokio::test]
async fn an_oauth_admin_acts_as_operator_on_the_v2_api_and_other_groups_are_refused() {
    let rsa = SigningKey::generate(Algorithm::RS256, "rsa-1");
    let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
    let server = tollgate(&idp, 30, |_| {}).await;
    let admin = rsa.sign(&idp.claims("admin-1", AUDIENCE));
    let member = rsa.sign(&idp.claims("member-1", AUDIENCE));
    let setup = server
        .onboard_as(Credential::Token(&server.operator_token))
        .await;

    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/users",
            Credential::Bearer(&admin),
            Some(json!({"name": "via-oauth"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = server
        .request(Method::POST, "/api/v2/authorizations", Credential::Bearer(&admin), Some(json!({"orgID": setup.org_id, "userID": body["id"], "permissions": [{"action": "read", "resource": {"type": "buckets"}}]})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v2/users",
            Credential::Bearer(&member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    assert_eq!(
        body["message"],
        "user member-1 (groups: Member) may not use the v2 API; it needs an Admin, a management token or a v2 token"
    );
}
