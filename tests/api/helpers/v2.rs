//! Helpers for the v2 API: an onboarded server, users, authorizations and what they are granted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Credential, TestServer};

/// What `POST /api/v2/setup` created.
pub struct Onboarded {
    pub token: String,
    pub user_id: String,
    pub org_id: String,
    pub authorization_id: String,
}

impl TestServer {
    /// Runs `POST /api/v2/setup` for user `admin` in org `my-org`, with no credential.
    pub async fn onboard(&self) -> Onboarded {
        self.onboard_as(Credential::Anonymous).await
    }

    /// Runs `POST /api/v2/setup` presenting `credential` (a management credential may set up
    /// a store already in use).
    pub async fn onboard_as(&self, credential: Credential<'_>) -> Onboarded {
        let (status, _, body) = self
            .request(
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
            .request(
                Method::POST,
                "/api/v2/users",
                Credential::Token(token),
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
            .request(
                Method::POST,
                "/api/v2/authorizations",
                Credential::Token(token),
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
