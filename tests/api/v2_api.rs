//! The InfluxDB v2 API over raw HTTP: setup, authorizations, users, orgs, me, and what v2
//! tokens are granted on the data path.

use crate::helpers::{Credential, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DATABASES: &[&str] = &["sensors", "other"];

on_both_engines! {
    async fn setup_runs_once_and_returns_an_operator_authorization_owned_by_the_first_user(server: TestServer) {
        let (status, _, allowed) = server.request(Method::GET, "/api/v2/setup", Credential::Anonymous, None).await;
        assert_eq!((status, allowed), (StatusCode::OK, json!({"allowed": true})));

        let (status, _, body) = server
            .request(Method::POST, "/api/v2/setup", Credential::Anonymous, Some(json!({
                "username": "admin", "org": "my-org", "bucket": "sensors",
                "password": "secret-password", "retentionPeriodSeconds": 0
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["user"]["name"], "admin");
        assert_eq!(body["user"]["status"], "active");
        assert_eq!(body["org"]["name"], "my-org");
        let auth = &body["auth"];
        assert!(auth["token"].as_str().unwrap().starts_with("apiv1_"));
        assert_eq!(auth["description"], "admin's Token");
        assert_eq!(auth["userID"], body["user"]["id"]);
        assert_eq!(auth["orgID"], body["org"]["id"]);
        let permissions = auth["permissions"].as_array().unwrap();
        assert_eq!(permissions.len(), 44, "read and write on 22 types, every org");
        assert!(permissions.iter().all(|p| p["resource"].get("orgID").is_none()));
        assert!(permissions.iter().all(|p| p["resource"]["type"] != "instance"));

        let (_, _, allowed) = server.request(Method::GET, "/api/v2/setup", Credential::Anonymous, None).await;
        assert_eq!(allowed, json!({"allowed": false}));
        let (status, code, again) = server
            .request(Method::POST, "/api/v2/setup", Credential::Anonymous, Some(json!({"username": "x", "org": "y"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code.as_deref(), Some("conflict"));
        assert_eq!(again, json!({"code": "conflict", "message": "onboarding has already been completed"}));

        // The setup token administers the v2 API and writes every database.
        let token = auth["token"].as_str().unwrap();
        let (status, _, me) = server.request(Method::GET, "/api/v2/me", Credential::Token(token), None).await;
        assert_eq!((status, me["name"].clone()), (StatusCode::OK, json!("admin")));
        assert_eq!(server.granted(token, "write", DATABASES).await, DATABASES);
    }

    async fn a_v2_write_token_on_sensors_writes_sensors_only_until_made_inactive_or_its_user_is_deleted(server: TestServer) {
        let admin = server.onboard().await;
        let user = server.v2_user(&admin.token, "iot").await;
        let created = server
            .v2_authorization(&admin.token, &admin.org_id, &user, json!([
                {"action": "write", "resource": {"type": "buckets", "name": "sensors", "orgID": admin.org_id}}
            ]))
            .await;
        let token = created["token"].as_str().unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(created["user"], "iot");
        assert_eq!(created["org"], "my-org");
        assert_eq!(
            created["permissions"][0]["resource"],
            json!({"type": "buckets", "orgID": admin.org_id, "name": "sensors", "org": "my-org"})
        );

        assert_eq!(server.granted(token, "write", DATABASES).await, ["sensors"]);
        assert!(server.granted(token, "read", DATABASES).await.is_empty(), "write does not imply read");

        let path = format!("/api/v2/authorizations/{id}");
        let (status, _, fetched) = server.request(Method::GET, &path, Credential::Token(&admin.token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched["token"], "", "only a hash is stored");

        let (status, _, patched) = server
            .request(Method::PATCH, &path, Credential::Token(&admin.token), Some(json!({"status": "inactive"})))
            .await;
        assert_eq!((status, patched["status"].clone()), (StatusCode::OK, json!("inactive")));
        assert!(server.granted(token, "write", DATABASES).await.is_empty());
        let (status, _, body) = server.request(Method::GET, "/api/v2/me", Credential::Token(token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"code": "unauthorized", "message": "token is inactive"}));

        server.request(Method::PATCH, &path, Credential::Token(&admin.token), Some(json!({"status": "active"}))).await;
        assert_eq!(server.granted(token, "write", DATABASES).await, ["sensors"]);

        let (status, _, _) = server
            .request(Method::DELETE, &format!("/api/v2/users/{user}"), Credential::Token(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(server.granted(token, "write", DATABASES).await.is_empty());
        let (status, _, body) = server.request(Method::GET, &path, Credential::Token(&admin.token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["message"], "authorization not found");
    }

    async fn an_inactive_user_stops_its_tokens_everywhere_until_active_again(server: TestServer) {
        let admin = server.onboard().await;
        let user = server.v2_user(&admin.token, "iot").await;
        let created = server
            .v2_authorization(&admin.token, &admin.org_id, &user, json!([
                {"action": "read", "resource": {"type": "buckets"}},
                {"action": "read", "resource": {"type": "users", "id": user}}
            ]))
            .await;
        let token = created["token"].as_str().unwrap();
        let user_path = format!("/api/v2/users/{user}");
        server.request(Method::PATCH, &user_path, Credential::Token(&admin.token), Some(json!({"status": "inactive"}))).await;
        assert!(server.granted(token, "read", DATABASES).await.is_empty());
        let (status, code, body) = server.request(Method::GET, "/api/v2/me", Credential::Token(token), None).await;
        assert_eq!((status, code.as_deref()), (StatusCode::FORBIDDEN, Some("forbidden")));
        assert_eq!(body["message"], "User is inactive");
        server.request(Method::PATCH, &user_path, Credential::Token(&admin.token), Some(json!({"status": "active"}))).await;
        assert_eq!(server.granted(token, "read", DATABASES).await, DATABASES);
        let (status, _, me) = server.request(Method::GET, "/api/v2/me", Credential::Token(token), None).await;
        assert_eq!((status, me["id"].clone()), (StatusCode::OK, json!(user)));
    }

    async fn deleting_an_org_stops_the_authorizations_in_it(server: TestServer) {
        let admin = server.onboard().await;
        let (status, _, org) = server
            .request(Method::POST, "/api/v2/orgs", Credential::Token(&admin.token), Some(json!({"name": "second", "description": "d"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        let org_id = org["id"].as_str().unwrap();
        let created = server
            .v2_authorization(&admin.token, org_id, &admin.user_id, json!([{"action": "read", "resource": {"type": "buckets", "orgID": org_id}}]))
            .await;
        let token = created["token"].as_str().unwrap();
        assert_eq!(server.granted_in(token, "read", DATABASES, Some(org_id)).await, DATABASES);
        let (status, _, _) = server.request(Method::DELETE, &format!("/api/v2/orgs/{org_id}"), Credential::Token(&admin.token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(server.granted_in(token, "read", DATABASES, Some(org_id)).await.is_empty());
        let (status, _, body) = server.request(Method::GET, &format!("/api/v2/orgs/{org_id}"), Credential::Token(&admin.token), None).await;
        assert_eq!((status, body["message"].clone()), (StatusCode::NOT_FOUND, json!("organization not found")));
    }
}

/// One POST that must fail: who sends it, the body, and InfluxDB's answer.
struct Refusal {
    name: &'static str,
    caller: Caller,
    body: Value,
    status: u16,
    code: &'static str,
    message: String,
}

#[derive(Clone, Copy)]
enum Caller {
    Nobody,
    Garbage,
    Operator,
    Management,
    /// A token with only `read` on buckets.
    BucketReader,
    /// `write:orgs/<org>/authorizations` and nothing else.
    AuthWriter,
    /// `write` on authorizations in the org and on its own user, `read` on the org's buckets.
    Delegate,
}

#[tokio::test]
async fn each_post_authorization_failure_gets_influxdbs_status_code_and_message_in_its_order() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    let org = admin.org_id.clone();
    let user = server.v2_user(&admin.token, "delegate").await;
    let mint = |permissions: Value| {
        let (server, admin, user) = (&server, &admin, user.clone());
        async move {
            server
                .v2_authorization(&admin.token, &admin.org_id, &user, permissions)
                .await["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bucket_reader = mint(json!([{"action": "read", "resource": {"type": "buckets"}}])).await;
    let auth_writer =
        mint(json!([{"action": "write", "resource": {"type": "authorizations", "orgID": org}}]))
            .await;
    let delegate = mint(json!([
        {"action": "write", "resource": {"type": "authorizations", "orgID": org}},
        {"action": "write", "resource": {"type": "users", "id": user}},
        {"action": "read", "resource": {"type": "buckets", "orgID": org}}
    ]))
    .await;
    let (status, _, count_before) = server
        .request(
            Method::GET,
            "/api/v2/authorizations",
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let read_buckets = json!([{"action": "read", "resource": {"type": "buckets", "orgID": org}}]);
    let ok = |permissions: Value| json!({"orgID": org, "userID": admin.user_id, "permissions": permissions});
    let r = |name, caller, body, status, code, message: &str| Refusal {
        name,
        caller,
        body,
        status,
        code,
        message: message.to_owned(),
    };
    let cases = vec![
        r(
            "no token",
            Caller::Nobody,
            ok(read_buckets.clone()),
            401,
            "unauthorized",
            "unauthorized access",
        ),
        r(
            "unknown token",
            Caller::Garbage,
            ok(read_buckets.clone()),
            401,
            "unauthorized",
            "unauthorized access",
        ),
        r(
            "org id too short",
            Caller::Operator,
            json!({"orgID": "abc", "permissions": read_buckets}),
            400,
            "invalid",
            "invalid json structure: id must have a length of 16 bytes",
        ),
        r(
            "org id not hex",
            Caller::Operator,
            json!({"orgID": "zzzzzzzzzzzzzzzz", "permissions": read_buckets}),
            400,
            "invalid",
            "invalid json structure: invalid ID",
        ),
        r(
            "org id zero",
            Caller::Operator,
            json!({"orgID": "0000000000000000", "permissions": read_buckets}),
            400,
            "invalid",
            "invalid json structure: invalid ID",
        ),
        r(
            "resource id malformed",
            Caller::Operator,
            json!({"orgID": org, "permissions": [{"action": "read", "resource": {"type": "buckets", "id": "12"}}]}),
            400,
            "invalid",
            "invalid json structure: id must have a length of 16 bytes",
        ),
        r(
            "bad id beats missing permissions",
            Caller::Operator,
            json!({"userID": "x"}),
            400,
            "invalid",
            "invalid json structure: id must have a length of 16 bytes",
        ),
        r(
            "permissions missing",
            Caller::Operator,
            json!({"orgID": org}),
            400,
            "invalid",
            "authorization must include permissions",
        ),
        r(
            "permissions empty, org missing",
            Caller::Operator,
            json!({"permissions": []}),
            400,
            "invalid",
            "authorization must include permissions",
        ),
        r(
            "unknown resource type",
            Caller::Operator,
            json!({"orgID": org, "permissions": [{"action": "read", "resource": {"type": "flows"}}]}),
            400,
            "invalid",
            "invalid resource type for permission: unknown resource type for permission",
        ),
        r(
            "permission without resource",
            Caller::Operator,
            json!({"orgID": org, "permissions": [{"action": "read"}]}),
            400,
            "invalid",
            "invalid resource type for permission: unknown resource type for permission",
        ),
        r(
            "unknown action",
            Caller::Operator,
            json!({"orgID": org, "permissions": [{"action": "delete", "resource": {"type": "buckets"}}]}),
            400,
            "invalid",
            "invalid action type for permission: unknown action for permission",
        ),
        r(
            "org missing",
            Caller::Operator,
            json!({"permissions": read_buckets}),
            400,
            "invalid",
            "org id required: invalid ID",
        ),
        r(
            "unknown status",
            Caller::Operator,
            json!({"orgID": org, "status": "paused", "permissions": read_buckets}),
            400,
            "invalid",
            "invalid status: must be active or inactive",
        ),
        r(
            "management token without a user",
            Caller::Management,
            json!({"orgID": org, "permissions": read_buckets}),
            400,
            "invalid",
            "unable to create token: a management token has no v2 user; pass userID",
        ),
        r(
            "no write on authorizations",
            Caller::BucketReader,
            ok(read_buckets.clone()),
            401,
            "unauthorized",
            &format!("write:orgs/{org}/authorizations is unauthorized"),
        ),
        r(
            "no write on the target user",
            Caller::AuthWriter,
            ok(read_buckets.clone()),
            401,
            "unauthorized",
            &format!("write:users/{} is unauthorized", admin.user_id),
        ),
        r(
            "no write on the defaulted user either",
            Caller::AuthWriter,
            json!({"orgID": org, "permissions": read_buckets}),
            401,
            "unauthorized",
            &format!("write:users/{user} is unauthorized"),
        ),
        r(
            "cannot grant what it does not hold",
            Caller::Delegate,
            json!({"orgID": org, "permissions": [{"action": "write", "resource": {"type": "buckets", "orgID": org}}]}),
            403,
            "forbidden",
            &format!(
                "permission write:orgs/{org}/buckets is not allowed: write:orgs/{org}/buckets is unauthorized"
            ),
        ),
        r(
            "instance type",
            Caller::Management,
            ok(json!([{"action": "read", "resource": {"type": "instance"}}])),
            400,
            "invalid",
            "authorizations cannot be created with the instance type, it is only used during setup",
        ),
        r(
            "permission for another org",
            Caller::Operator,
            ok(
                json!([{"action": "read", "resource": {"type": "buckets", "orgID": "00000000000000ff"}}]),
            ),
            400,
            "invalid",
            &format!("permission read:orgs/00000000000000ff/buckets is not for org id {org}"),
        ),
        r(
            "unknown user",
            Caller::Operator,
            json!({"orgID": org, "userID": "ffffffffffffffff", "permissions": read_buckets}),
            400,
            "invalid",
            "unable to create token: user not found",
        ),
        r(
            "unknown org",
            Caller::Operator,
            json!({"orgID": "ffffffffffffffff", "userID": admin.user_id, "permissions": [{"action": "read", "resource": {"type": "buckets"}}]}),
            400,
            "invalid",
            "unable to create token: organization not found",
        ),
        r(
            "a chosen token",
            Caller::Operator,
            json!({"orgID": org, "userID": admin.user_id, "token": "my-own-token", "permissions": read_buckets}),
            422,
            "unprocessable entity",
            "tollgate mints every token itself: omit \"token\"; the new token is in the response, shown once",
        ),
        r(
            "not JSON",
            Caller::Operator,
            Value::String("{".into()),
            400,
            "invalid",
            "",
        ),
        r(
            "permissions of the wrong type",
            Caller::Operator,
            json!({"orgID": org, "permissions": "all"}),
            400,
            "invalid",
            "",
        ),
    ];
    let management = server.operator_token.clone();
    for case in cases {
        let token = match case.caller {
            Caller::Nobody => None,
            Caller::Garbage => Some("not-a-token"),
            Caller::Operator => Some(admin.token.as_str()),
            Caller::Management => Some(management.as_str()),
            Caller::BucketReader => Some(bucket_reader.as_str()),
            Caller::AuthWriter => Some(auth_writer.as_str()),
            Caller::Delegate => Some(delegate.as_str()),
        };
        let mut request = server
            .client
            .post(format!("{}/api/v2/authorizations", server.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        request = match &case.body {
            Value::String(raw) => request.body(raw.clone()),
            body => request.json(body),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get("x-platform-error-code")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["code"], case.code, "{}", case.name);
        assert_eq!(header.as_deref(), Some(case.code), "{}", case.name);
        if case.message.is_empty() {
            let message = body["message"].as_str().unwrap();
            assert!(
                message.starts_with("invalid json structure: "),
                "{}: {message}",
                case.name
            );
        } else {
            assert_eq!(body["message"], case.message.as_str(), "{}", case.name);
        }
    }
    let (_, _, count_after) = server
        .request(
            Method::GET,
            "/api/v2/authorizations",
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert_eq!(
        count_after, count_before,
        "no refused request wrote anything"
    );

    // The delegate may hand on what it holds, and the new token is its own user's by default.
    let (status, _, created) = server
        .request(
            Method::POST,
            "/api/v2/authorizations",
            Credential::Token(&delegate),
            Some(json!({"orgID": org, "permissions": read_buckets})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["userID"], user.as_str());
}

#[tokio::test]
async fn lists_filter_by_user_and_org_and_show_each_caller_only_what_it_may_read() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    let org = admin.org_id.clone();
    let iot = server.v2_user(&admin.token, "iot").await;
    let own = server
        .v2_authorization(
            &admin.token,
            &org,
            &iot,
            json!([
                {"action": "read", "resource": {"type": "authorizations", "orgID": org}},
                {"action": "read", "resource": {"type": "users", "id": iot}}
            ]),
        )
        .await;
    let iot_token = own["token"].as_str().unwrap();
    // A database token from the Clustered API has no v2 owner and is not a v2 authorization.
    server
        .create_token(json!([{"action": "read", "resource": "*"}]))
        .await;

    let ids = |body: &Value| -> Vec<String> {
        body["authorizations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |query: &str, token: &str| {
        let path = format!("/api/v2/authorizations{query}");
        let token = token.to_owned();
        let server = &server;
        async move {
            server
                .request(Method::GET, &path, Credential::Token(&token), None)
                .await
        }
    };
    let (status, _, all) = list("", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["links"], json!({"self": "/api/v2/authorizations"}));
    assert_eq!(ids(&all).len(), 2, "the setup token and iot's: {all}");
    assert!(
        all["authorizations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["token"] == "")
    );

    let (_, _, by_user) = list(&format!("?userID={iot}"), &admin.token).await;
    assert_eq!(ids(&by_user), [own["id"].as_str().unwrap()]);
    let (_, _, by_name) = list("?user=iot", &admin.token).await;
    assert_eq!(ids(&by_name), ids(&by_user));
    let (_, _, by_org) = list(&format!("?orgID={org}"), &admin.token).await;
    assert_eq!(ids(&by_org).len(), 2);
    let (_, _, by_org_name) = list("?org=my-org", &admin.token).await;
    assert_eq!(ids(&by_org_name).len(), 2);
    let (status, _, by_id) = list(
        &format!("?id={}", own["id"].as_str().unwrap()),
        &admin.token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["links"], json!({"self": "/api/v2/authorizations"}));
    assert_eq!(ids(&by_id), [own["id"].as_str().unwrap()]);
    let (status, _, none) = list("?orgID=ffffffffffffffff", &admin.token).await;
    assert_eq!(
        (status, none["authorizations"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (status, _, body) = list("?user=nobody", &admin.token).await;
    assert_eq!(
        (status, body["message"].clone()),
        (StatusCode::NOT_FOUND, json!("user not found"))
    );
    let (status, _, body) = list("?org=nowhere", &admin.token).await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::NOT_FOUND,
            json!("organization name \"nowhere\" not found")
        )
    );
    let (status, _, body) = list("?userID=123", &admin.token).await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!("id must have a length of 16 bytes")
        )
    );

    // iot may read authorizations in the org, but only users/<iot>: it sees its own only.
    let (status, _, visible) = list("", iot_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&visible), [own["id"].as_str().unwrap()]);
    let setup_id = ids(&all)
        .into_iter()
        .find(|id| id != own["id"].as_str().unwrap())
        .unwrap();
    let (status, _, body) = server
        .request(
            Method::GET,
            &format!("/api/v2/authorizations/{setup_id}"),
            Credential::Token(iot_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["message"],
        format!("read:users/{} is unauthorized", admin.user_id)
    );
}

#[tokio::test]
async fn get_patch_and_delete_answer_like_influxdb() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    let created = server
        .v2_authorization(
            &admin.token,
            &admin.org_id,
            &admin.user_id,
            json!([
                {"action": "read", "resource": {"type": "orgs", "id": admin.org_id}},
                {"action": "write", "resource": {"type": "users", "id": admin.user_id}},
                {"action": "read", "resource": {"type": "dashboards", "orgID": admin.org_id}}
            ]),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v2/authorizations/{id}");
    // Names decorate orgs and users by id, and org names every resource with an orgID.
    assert_eq!(
        created["permissions"][0]["resource"],
        json!({"type": "orgs", "id": admin.org_id, "name": "my-org"})
    );
    assert_eq!(
        created["permissions"][1]["resource"],
        json!({"type": "users", "id": admin.user_id, "name": "admin"})
    );
    assert_eq!(
        created["permissions"][2]["resource"],
        json!({"type": "dashboards", "orgID": admin.org_id, "org": "my-org"})
    );
    assert_eq!(
        created["links"],
        json!({"self": path, "user": format!("/api/v2/users/{}", admin.user_id)})
    );
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "token",
        "status",
        "description",
        "orgID",
        "org",
        "userID",
        "user",
        "permissions",
        "links",
        "createdAt",
        "updatedAt",
    ];
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);

    // The Python client sends the whole object back; only status and description change.
    let mut whole = created.clone();
    whole["description"] = json!("renamed");
    whole["permissions"] = json!([]);
    whole["orgID"] = json!("00000000000000ff");
    let (status, _, patched) = server
        .request(
            Method::PATCH,
            &path,
            Credential::Token(&admin.token),
            Some(whole),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "renamed");
    assert_eq!(patched["permissions"], created["permissions"]);
    assert_eq!(patched["orgID"], created["orgID"]);
    assert_eq!(patched["token"], "");
    let (status, code, body) = server
        .request(
            Method::PATCH,
            &path,
            Credential::Token(&admin.token),
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::BAD_REQUEST, Some("invalid"))
    );
    assert_eq!(
        body["message"],
        "invalid status: must be active or inactive"
    );

    for (method, bad, status, message) in [
        (Method::GET, "abc", 400, "id must have a length of 16 bytes"),
        (Method::GET, "0000000000000000", 400, "invalid ID"),
        (
            Method::GET,
            "ffffffffffffffff",
            404,
            "authorization not found",
        ),
        (
            Method::DELETE,
            "ffffffffffffffff",
            404,
            "authorization not found",
        ),
        (
            Method::PATCH,
            "ffffffffffffffff",
            404,
            "authorization not found",
        ),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"description": "x"}));
        let (got, _, answer) = server
            .request(
                method.clone(),
                &format!("/api/v2/authorizations/{bad}"),
                Credential::Token(&admin.token),
                body,
            )
            .await;
        assert_eq!(got.as_u16(), status, "{method} {bad}: {answer}");
        assert_eq!(answer["message"], message, "{method} {bad}");
    }

    let (status, _, body) = server
        .request(Method::DELETE, &path, Credential::Token(&admin.token), None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, _, _) = server
        .request(Method::GET, &path, Credential::Token(&admin.token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server
        .request(Method::DELETE, &path, Credential::Token(&admin.token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_orgs_and_me_answer_like_influxdb() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    let t = Credential::Token(&admin.token);
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/users",
            t,
            Some(json!({"name": "admin"})),
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("user with name admin already exists")
        )
    );
    let iot = server.v2_user(&admin.token, "iot").await;

    let (status, code, body) = server
        .request(
            Method::POST,
            "/api/v2/users",
            t,
            Some(json!({"name": "iot"})),
        )
        .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("conflict"))
    );
    assert_eq!(body["message"], "user with name iot already exists");
    let (status, _, found) = server
        .request(Method::GET, "/api/v2/users?name=iot", t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        found,
        json!({"links": {"self": "/api/v2/users"}, "users": [
            {"links": {"self": format!("/api/v2/users/{iot}")}, "id": iot, "name": "iot", "status": "active"}
        ]})
    );
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/users?name=ghost", t, None)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"code": "not found", "message": "user not found"})
        )
    );
    let (_, _, all) = server.request(Method::GET, "/api/v2/users", t, None).await;
    assert_eq!(all["users"].as_array().unwrap().len(), 2);
    let (_, _, one) = server
        .request(Method::GET, "/api/v2/users?limit=1", t, None)
        .await;
    assert_eq!(one["users"].as_array().unwrap().len(), 1);

    let path = format!("/api/v2/users/{iot}");
    let (status, _, renamed) = server
        .request(
            Method::PATCH,
            &path,
            t,
            Some(json!({"name": "iot-2", "id": "ignored"})),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].clone()),
        (StatusCode::OK, json!("iot-2"))
    );
    let (status, _, got) = server.request(Method::GET, &path, t, None).await;
    assert_eq!(
        (status, got["name"].clone()),
        (StatusCode::OK, json!("iot-2"))
    );

    // A bucket-only token may not administer users or read its own user.
    let reader = server
        .v2_authorization(
            &admin.token,
            &admin.org_id,
            &iot,
            json!([{"action": "read", "resource": {"type": "buckets"}}]),
        )
        .await;
    let reader = Credential::Token(reader["token"].as_str().unwrap());
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/users",
            reader,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("write:users is unauthorized")
        )
    );
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/me", reader, None)
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!(format!("read:users/{iot} is unauthorized"))
        )
    );
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/users", reader, None)
        .await;
    assert_eq!(
        (status, body["users"].clone()),
        (StatusCode::OK, json!([])),
        "filtered silently"
    );
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/me", Credential::Anonymous, None)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"code": "unauthorized", "message": "unauthorized access"})
        )
    );

    let (status, _, org) = server
        .request(
            Method::POST,
            "/api/v2/orgs",
            t,
            Some(json!({"name": "second"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        org["links"]["self"],
        format!("/api/v2/orgs/{}", org["id"].as_str().unwrap())
    );
    assert_eq!(org["description"], "");
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/orgs",
            t,
            Some(json!({"name": "second"})),
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("organization with name second already exists")
        )
    );
    let (_, _, orgs) = server.request(Method::GET, "/api/v2/orgs", t, None).await;
    assert_eq!(orgs["orgs"].as_array().unwrap().len(), 2);
    let (_, _, by_name) = server
        .request(Method::GET, "/api/v2/orgs?org=second", t, None)
        .await;
    assert_eq!(by_name["orgs"][0]["id"], org["id"]);
    let (_, _, by_id) = server
        .request(
            Method::GET,
            &format!("/api/v2/orgs?orgID={}", admin.org_id),
            t,
            None,
        )
        .await;
    assert_eq!(by_id["orgs"][0]["name"], "my-org");
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/orgs?org=nowhere", t, None)
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::NOT_FOUND,
            json!("organization name \"nowhere\" not found")
        )
    );
    let (status, _, body) = server
        .request(Method::GET, "/api/v2/orgs?orgID=ffffffffffffffff", t, None)
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (StatusCode::NOT_FOUND, json!("organization not found"))
    );
    let (status, _, _) = server
        .request(
            Method::POST,
            "/api/v2/orgs",
            reader,
            Some(json!({"name": "third"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn v2_paths_take_token_or_bearer_in_any_case_and_management_tokens_act_as_operator() {
    let server = TestServer::start(Engine::Sqlite).await;
    let admin = server.onboard().await;
    for scheme in ["Token", "token", "Bearer", "BEARER"] {
        let response = server
            .client
            .get(format!("{}/api/v2/me", server.base))
            .header("Authorization", format!("{scheme} {}", admin.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    let response = server
        .client
        .get(format!("{}/api/v2/me", server.base))
        .header("Authorization", format!("Basic {}", admin.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The operator (management) token creates users and authorizations for them.
    let operator = server.operator_token.clone();
    let user = server.v2_user(&operator, "automation").await;
    let created = server
        .v2_authorization(
            &operator,
            &admin.org_id,
            &user,
            json!([{"action": "write", "resource": {"type": "buckets", "name": "sensors"}}]),
        )
        .await;
    assert_eq!(
        server
            .granted(created["token"].as_str().unwrap(), "write", DATABASES)
            .await,
        ["sensors"]
    );
    let (status, _, body) = server
        .request(
            Method::GET,
            "/api/v2/me",
            Credential::Token(&operator),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The resource types, as `influx auth create --operator` reads them.
    let (status, _, types) = server
        .request(
            Method::GET,
            "/api/v2/resources",
            Credential::Token(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(types.as_array().unwrap().len(), 23);
    assert_eq!(
        (types[0].clone(), types[22].clone()),
        (json!("authorizations"), json!("instance"))
    );
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v2/resources",
            Credential::Anonymous,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Trailing slashes are ignored, and unknown v2 paths answer in the v2 shape.
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v2/users/",
            Credential::Token(&operator),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, code, body) = server
        .request(
            Method::GET,
            "/api/v2/nothing",
            Credential::Token(&operator),
            None,
        )
        .await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::NOT_FOUND, Some("not found"))
    );
    assert_eq!(
        body,
        json!({"code": "not found", "message": "path not found"})
    );

    // A database token from /api/v0 holds no v2 rights.
    let (_, clustered) = server
        .create_token(json!([{"action": "write", "resource": "*"}]))
        .await;
    let (status, _, body) = server
        .request(
            Method::POST,
            "/api/v2/users",
            Credential::Token(&clustered),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("write:users is unauthorized")
        )
    );
}

#[tokio::test]
async fn setup_refuses_missing_fields_and_a_chosen_token_and_writes_nothing() {
    let server = TestServer::start(Engine::Sqlite).await;
    for (body, message) in [
        (
            json!({"org": "o"}),
            "onboarding failed: missing required fields [username]",
        ),
        (
            json!({"bucket": "b"}),
            "onboarding failed: missing required fields [username,org]",
        ),
        (
            json!({"username": "u", "org": "o", "token": "my-token"}),
            "onboarding failed: tollgate does not accept a chosen token; omit \"token\" and use the operator token in the response (it is shown once)",
        ),
    ] {
        let (status, code, answer) = server
            .request(
                Method::POST,
                "/api/v2/setup",
                Credential::Anonymous,
                Some(body),
            )
            .await;
        assert_eq!(
            (status, code.as_deref()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("unprocessable entity")
            )
        );
        assert_eq!(answer["message"], message);
    }
    let (_, _, allowed) = server
        .request(Method::GET, "/api/v2/setup", Credential::Anonymous, None)
        .await;
    assert_eq!(allowed, json!({"allowed": true}));
}
