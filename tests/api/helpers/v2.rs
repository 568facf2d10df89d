//! Helpers for the v2 API: calls with `Authorization: Token`, and an onboarded server.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::TestServer;

/// What `POST /api/v2/setup` created.
pub struct Onboarded {
    pub token: String,
    pub user_id: String,
    pub org_id: String,
    pub authorization_id: String,
}

impl TestServer {
    /// Sends a v2 request with `Authorization: Token <token>`; returns status, the
    /// `X-Platform-Error-Code` header and the body.
    pub async fn v2(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let code = response
            .headers()
            .get("x-platform-error-code")
            .map(|v| v.to_str().expect("header").to_owned());
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, code, value)
    }

    /// Runs `POST /api/v2/setup` for user `admin` in org `my-org`, with no credential.
    pub async fn onboard(&self) -> Onboarded {
        self.onboard_as(None).await
    }

    /// Runs `POST /api/v2/setup` presenting `credential` (a management credential may set up
    /// a store already in use).
    pub async fn onboard_as(&self, credential: Option<&str>) -> Onboarded {
        let (status, _, body) = self
            .v2(
                Method::POST,
                "/api/v2/setup",
                credential,
                Some(json!({"username": "admin", "org": "my-org", "bucket": "sensors", "password": "secret-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Onboarded {
            token: body["auth"]["token"].as_str().expect("token").to_owned(),
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            org_id: body["org"]["id"].as_str().expect("org id").to_owned(),
            authorization_id: body["auth"]["id"].as_str().expect("auth id").to_owned(),
        }
    }

    /// Creates a v2 user as `token`; returns its id.
    pub async fn v2_user(&self, token: &str, name: &str) -> String {
        let (status, _, body) = self
            .v2(
                Method::POST,
                "/api/v2/users",
                Some(token),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a v2 authorization as `token`; returns the response body.
    pub async fn v2_authorization(
        &self,
        token: &str,
        org_id: &str,
        user_id: &str,
        permissions: Value,
    ) -> Value {
        let (status, _, body) = self
            .v2(
                Method::POST,
                "/api/v2/authorizations",
                Some(token),
                Some(json!({"orgID": org_id, "userID": user_id, "permissions": permissions})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// The databases (from `candidates`) on which the decision API grants `action`.
    pub async fn granted(&self, token: &str, action: &str, candidates: &[&str]) -> Vec<String> {
        self.granted_in(token, action, candidates, None).await
    }

    /// As [`granted`](Self::granted), for requests made in `org` (an id or a name).
    pub async fn granted_in(
        &self,
        token: &str,
        action: &str,
        candidates: &[&str],
        org: Option<&str>,
    ) -> Vec<String> {
        let wanted: Vec<Value> = candidates
            .iter()
            .map(|db| match org {
                Some(org) => json!({"action": action, "database": db, "org": org}),
                None => json!({"action": action, "database": db}),
            })
            .collect();
        let decision = self.authorize(token, Value::Array(wanted)).await;
        decision["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .map(|p| p["database"].as_str().expect("database").to_owned())
            .collect()
    }
}
