//! Every kind of bad input gets a 4xx whose message names the problem, and writes nothing.

use crate::helpers::{Credential, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A request body: JSON (with its content type), raw bytes with a given content type, or none.
enum Body {
    Json(Value),
    Raw(Option<&'static str>, Vec<u8>),
    None,
}

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    body: Body,
    status: StatusCode,
    message: String,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    body: Body,
    status: u16,
    message: &str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        body,
        status: StatusCode::from_u16(status).unwrap(),
        message: message.to_owned(),
    }
}

fn create(name: &'static str, body: Value, message: &str) -> Case {
    case(
        name,
        Method::POST,
        "/api/v0/tokens",
        Body::Json(body),
        400,
        message,
    )
}

fn perm(resource: &str) -> Value {
    json!({"description": "d", "permissions": [{"action": "read", "resource": resource}]})
}

#[tokio::test]
async fn each_bad_input_gets_a_4xx_naming_the_problem_and_nothing_is_written() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (id, token) = server
        .create_token(json!([{"action": "read", "resource": "db"}]))
        .await;
    let token_path = format!("/api/v0/tokens/{id}");
    let too_big = format!(
        r#"{{"description": "{}", "permissions": []}}"#,
        "x".repeat(70 * 1024)
    );
    let cases = vec![
        case(
            "malformed JSON",
            Method::POST,
            "/api/v0/tokens",
            Body::Raw(Some("application/json"), br#"{"description": "#.to_vec()),
            400,
            "invalid JSON body: EOF while parsing a value at line 1 column 16",
        ),
        create(
            "wrong type",
            json!({"description": 5, "permissions": []}),
            "invalid JSON body: description: invalid type: integer `5`, expected a string",
        ),
        create(
            "unknown action",
            json!({"description": "d", "permissions": [{"action": "admin", "resource": "db"}]}),
            "invalid JSON body: permissions[0].action: unknown variant `admin`, expected `read` or `write`",
        ),
        create(
            "missing permissions",
            json!({"description": "d"}),
            "invalid JSON body: missing field `permissions`",
        ),
        create(
            "unknown field",
            json!({"description": "d", "permissions": [], "expires": "x"}),
            "invalid JSON body: expires: unknown field `expires`, expected one of `description`, `permissions`, `expiresAt`, `expirationType`",
        ),
        create(
            "empty description",
            json!({"description": "", "permissions": []}),
            "description must not be empty",
        ),
        create(
            "blank description",
            json!({"description": "   ", "permissions": []}),
            "description must not be empty",
        ),
        create(
            "over-long description",
            json!({"description": "é".repeat(1025), "permissions": []}),
            "description must be at most 1024 characters, got 1025",
        ),
        create(
            "empty database name",
            perm(""),
            "permissions[0].resource must be a database name of 1 to 64 characters or \"*\", got 0 characters",
        ),
        create(
            "over-long database name",
            perm(&"d".repeat(65)),
            "permissions[0].resource must be a database name of 1 to 64 characters or \"*\", got 65 characters",
        ),
        create(
            "control character in database name",
            perm("db\n1"),
            "permissions[0].resource must be a database name: ASCII letters, digits, _, - and at most one / (not last), starting with a letter or digit",
        ),
        create(
            "a space in a database name",
            perm("a b"),
            "permissions[0].resource must be a database name: ASCII letters, digits, _, - and at most one / (not last), starting with a letter or digit",
        ),
        create(
            "a trailing slash in a database name",
            perm("a/b/"),
            "permissions[0].resource must be a database name: ASCII letters, digits, _, - and at most one / (not last), starting with a letter or digit",
        ),
        create(
            "a database name of 64 non-ASCII characters",
            perm(&"é".repeat(64)),
            "permissions[0].resource must be a database name: ASCII letters, digits, _, - and at most one / (not last), starting with a letter or digit",
        ),
        create(
            "no permissions",
            json!({"description": "d", "permissions": []}),
            "permissions must list at least one permission; a token that may do nothing is refused",
        ),
        create(
            "an array where an object belongs",
            json!(["arr", [{"action": "read", "resource": "db"}], null, null]),
            "invalid JSON body: expected a JSON object, got an array",
        ),
        create(
            "an array where a permission object belongs",
            json!({"description": "d", "permissions": [["read", "db"]]}),
            "invalid JSON body: permissions[0]: expected a JSON object, got an array",
        ),
        create(
            "expiry that is not RFC 3339",
            json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expiresAt": "2030-01-01"}),
            "expiresAt must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z (offsets Z, +hh:mm or +hhmm)",
        ),
        create(
            "expiry in the past",
            json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expiresAt": "2001-01-01T00:00:00+0000"}),
            "expiresAt must be in the future",
        ),
        create(
            "datetime expiry type without a time",
            json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expirationType": "datetime"}),
            "expiresAt is required when expirationType is datetime",
        ),
        case(
            "body over 64 KiB",
            Method::POST,
            "/api/v0/tokens",
            Body::Raw(Some("application/json"), too_big.into_bytes()),
            413,
            "request body is larger than 65536 bytes",
        ),
        case(
            "missing content type",
            Method::POST,
            "/api/v0/tokens",
            Body::Raw(None, br#"{"description": "d", "permissions": []}"#.to_vec()),
            415,
            "Content-Type must be application/json",
        ),
        case(
            "wrong content type",
            Method::POST,
            "/api/v0/tokens",
            Body::Raw(
                Some("text/plain"),
                br#"{"description": "d", "permissions": []}"#.to_vec(),
            ),
            415,
            "Content-Type must be application/json",
        ),
        case(
            "changing permissions",
            Method::PATCH,
            &token_path,
            Body::Json(json!({"permissions": [{"action": "write", "resource": "db"}]})),
            400,
            "token permissions cannot be updated; create a new token",
        ),
        case(
            "changing permissions with a description",
            Method::PATCH,
            &token_path,
            Body::Json(json!({"description": "new", "permissions": []})),
            400,
            "token permissions cannot be updated; create a new token",
        ),
        case(
            "changing expiry",
            Method::PATCH,
            &token_path,
            Body::Json(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
            400,
            "expiresAt cannot be updated; create a new token",
        ),
        case(
            "empty update",
            Method::PATCH,
            &token_path,
            Body::Json(json!({})),
            400,
            "request body must contain a description to update",
        ),
        case(
            "empty description on update",
            Method::PATCH,
            &token_path,
            Body::Json(json!({"description": ""})),
            400,
            "description must not be empty",
        ),
        case(
            "malformed id",
            Method::GET,
            "/api/v0/tokens/xyz",
            Body::None,
            400,
            "token id must be 16 lowercase hexadecimal characters",
        ),
        case(
            "uppercase id",
            Method::DELETE,
            "/api/v0/tokens/ABCDEF0123456789",
            Body::None,
            400,
            "token id must be 16 lowercase hexadecimal characters",
        ),
        case(
            "a token pasted as an id",
            Method::GET,
            &format!("/api/v0/tokens/{token}"),
            Body::None,
            400,
            "token id must be 16 lowercase hexadecimal characters",
        ),
        case(
            "unknown id",
            Method::GET,
            "/api/v0/tokens/ffffffffffffffff",
            Body::None,
            404,
            "token not found",
        ),
        case(
            "zero limit",
            Method::GET,
            "/api/v0/tokens?limit=0",
            Body::None,
            400,
            "limit must be between 1 and 1000",
        ),
        case(
            "limit that is not a number",
            Method::GET,
            "/api/v0/tokens?limit=ten",
            Body::None,
            400,
            "invalid query parameter limit: must be a non-negative integer",
        ),
        case(
            "malformed after",
            Method::GET,
            "/api/v0/tokens?limit=5&after=zz",
            Body::None,
            400,
            "token id must be 16 lowercase hexadecimal characters",
        ),
        case(
            "include_revoked that is not a boolean",
            Method::GET,
            "/api/v0/tokens?include_revoked=maybe",
            Body::None,
            400,
            "invalid query parameter include_revoked: must be true or false",
        ),
        case(
            "authorize without a token",
            Method::POST,
            "/api/v0/authorize",
            Body::Json(json!({"permissions": []})),
            400,
            "invalid JSON body: missing field `token`",
        ),
        case(
            "authorize with an unknown action",
            Method::POST,
            "/api/v0/authorize",
            Body::Json(
                json!({"token": "t", "permissions": [{"action": "delete", "database": "db"}]}),
            ),
            400,
            "invalid JSON body: permissions[0].action: unknown variant `delete`, expected `read` or `write`",
        ),
        case(
            "authorize with an empty database",
            Method::POST,
            "/api/v0/authorize",
            Body::Json(json!({"token": "t", "permissions": [{"action": "read", "database": ""}]})),
            400,
            "permissions[0].database must not be empty",
        ),
        case(
            "authorize without a content type",
            Method::POST,
            "/api/v0/authorize",
            Body::Raw(None, br#"{"token": "t", "permissions": []}"#.to_vec()),
            415,
            "Content-Type must be application/json",
        ),
        case(
            "unknown path",
            Method::GET,
            "/api/v0/nothing",
            Body::None,
            404,
            "path not found",
        ),
        case(
            "wrong method",
            Method::PUT,
            "/api/v0/tokens",
            Body::None,
            405,
            "method not allowed",
        ),
    ];

    let mut failures = Vec::new();
    for case in cases {
        let mut request = server
            .client
            .request(case.method.clone(), format!("{}{}", server.base, case.path))
            .bearer_auth(&server.operator_token);
        request = match case.body {
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, bytes) => {
                let request = match content_type {
                    Some(ct) => request.header("Content-Type", ct),
                    None => request,
                };
                request.body(bytes)
            }
            Body::None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let expected = json!({"code": case.status.as_u16(), "message": case.message});
        if status != case.status || body != expected {
            failures.push(format!(
                "{}: got {status} {body}, want {} {expected}",
                case.name, case.status
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // Nothing was written: only the one good token exists, unchanged.
    let (_, _, all) = server
        .request(
            Method::GET,
            "/api/v0/tokens?include_revoked=true",
            Credential::Operator,
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["description"], "test token");
    assert_eq!(
        all[0]["permissions"],
        json!([{"action": "read", "resource": "db"}])
    );
    assert!(all[0].get("revokedAt").is_none());
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let server = TestServer::start(Engine::Sqlite).await;
    for body in [
        json!({"description": "é".repeat(1024), "permissions": [{"action": "read", "resource": "d".repeat(64)}]}),
        json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expiresAt": "2099-12-31T23:59:59-0500"}),
        json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expiresAt": null, "expirationType": "noExpiration"}),
        json!({"description": "d", "permissions": [{"action": "write", "resource": "*"}], "expiresAt": "2099-01-01T00:00:00+05:30", "expirationType": "datetime"}),
    ] {
        let (status, _, created) = server
            .request(
                Method::POST,
                "/api/v0/tokens",
                Credential::Operator,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body} -> {created}");
    }
    let (_, _, created) = server
        .request(Method::POST, "/api/v0/tokens", Credential::Operator, Some(json!({"description": "d", "permissions": [{"action": "read", "resource": "db"}], "expiresAt": "2099-12-31T23:59:59-0500"})))
        .await;
    assert_eq!(created["expiresAt"], "2100-01-01T04:59:59.000Z");
}
