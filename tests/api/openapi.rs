//! `/api/openapi.json` is generated from the route registrations; this keeps it honest.

use std::collections::BTreeSet;

use crate::helpers::{Credential, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/v0/tokens"),
    ("get", "/api/v0/tokens"),
    ("get", "/api/v0/tokens/{id}"),
    ("patch", "/api/v0/tokens/{id}"),
    ("delete", "/api/v0/tokens/{id}"),
    ("post", "/api/v0/tokens/{id}/rotate"),
    ("post", "/api/v0/management-tokens"),
    ("get", "/api/v0/management-tokens"),
    ("get", "/api/v0/management-tokens/{id}"),
    ("delete", "/api/v0/management-tokens/{id}"),
    ("get", "/api/v0/users"),
    ("get", "/api/v0/audit"),
    ("post", "/api/v0/authorize"),
    ("get", "/api/v2/setup"),
    ("post", "/api/v2/setup"),
    ("post", "/api/v2/authorizations"),
    ("get", "/api/v2/authorizations"),
    ("get", "/api/v2/authorizations/{authID}"),
    ("patch", "/api/v2/authorizations/{authID}"),
    ("delete", "/api/v2/authorizations/{authID}"),
    ("get", "/api/v2/resources"),
    ("post", "/api/v2/users"),
    ("get", "/api/v2/users"),
    ("get", "/api/v2/users/{userID}"),
    ("patch", "/api/v2/users/{userID}"),
    ("delete", "/api/v2/users/{userID}"),
    ("get", "/api/v2/me"),
    ("post", "/api/v2/orgs"),
    ("get", "/api/v2/orgs"),
    ("get", "/api/v2/orgs/{orgID}"),
    ("delete", "/api/v2/orgs/{orgID}"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    (
        "post",
        "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens",
    ),
    (
        "get",
        "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens",
    ),
    (
        "get",
        "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}",
    ),
    (
        "patch",
        "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}",
    ),
    (
        "delete",
        "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}",
    ),
    ("get", "/ping"),
    ("head", "/ping"),
];

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_served_rest_endpoints() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (status, _, doc) = server
        .request(
            Method::GET,
            "/api/openapi.json",
            Credential::Anonymous,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "patch", "delete", "put", "head"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Every documented operation is routed: none answers the router's 404 or 405.
    for (method, path) in &documented {
        let path: Vec<&str> = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "0000000000000001"
                } else {
                    segment
                }
            })
            .collect();
        let path = path.join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, _, body) = server
            .request(method.clone(), &path, Credential::Operator, None)
            .await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body["message"] == "path not found"),
            "{method} {path} is documented but not routed"
        );
    }

    // Management operations declare the management-token security scheme.
    let create = &doc["paths"]["/api/v0/tokens"]["post"];
    assert_eq!(
        create["security"][0]["management_token"],
        Value::Array(vec![])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["management_token"]["scheme"],
        "bearer"
    );
    let v2_create = &doc["paths"]["/api/v2/authorizations"]["post"];
    assert_eq!(v2_create["security"][0]["v2_token"], Value::Array(vec![]));
    for schema in [
        "AuthorizationView",
        "CreateAuthorizationBody",
        "V2ErrorBody",
        "UserView",
        "OrgView",
        "TokenView",
        "CreateTokenBody",
        "UpdateTokenBody",
        "ErrorBody",
        "AuthorizeRequest",
        "AuthorizeResponse",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
}

#[tokio::test]
async fn ping_and_health_answer_like_influxdb_without_a_token() {
    let server = TestServer::start(Engine::Sqlite).await;
    for method in [Method::GET, Method::HEAD] {
        let response = server
            .client
            .request(method, format!("{}/ping", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.headers().contains_key("x-influxdb-version"));
        assert_eq!(response.headers()["x-influxdb-build"], "tollgate");
        assert_eq!(response.text().await.unwrap(), "");
    }
    let (status, _, health) = server
        .request(Method::GET, "/health", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "pass");
    let (status, _, ready) = server
        .request(Method::GET, "/ready", Credential::Anonymous, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "ready");
}
