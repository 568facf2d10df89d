//! Compatibility with real clients: the official InfluxDB v2 Python client (pinned, installed
//! by scripts/python-clients) and the documentation's curl + jq recipe, run as written.

use std::path::PathBuf;
use std::process::Output;

use crate::helpers::{Credential, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::Command;

const DATABASES: &[&str] = &["sensors", "other"];

fn python() -> PathBuf {
    let path = std::env::var_os("TOLLGATE_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-clients/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "the pinned Python client is not installed at {}: run scripts/python-clients (scripts/test does)",
        path.display()
    );
    path
}

fn client_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "client failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn last_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("output")
}

on_both_engines! {
    async fn the_official_python_client_onboards_and_manages_orgs_users_and_authorizations(server: TestServer) {
        let output = Command::new(python())
            .arg(client_script("influxdb_client_v2.py"))
            .arg(&server.base)
            .output()
            .await
            .expect("run python");
        let stdout = succeeded(&output);
        let summary: Value = serde_json::from_str(last_line(&stdout)).expect("summary line");
        let token = |key: &str| summary[key].as_str().expect(key).to_owned();

        // What the client created works on the data path exactly as it should.
        assert_eq!(server.granted(&token("iot_token"), "write", DATABASES).await, ["sensors"]);
        assert!(server.granted(&token("iot_token"), "read", DATABASES).await.is_empty());
        assert!(server.granted(&token("inactive_token"), "write", DATABASES).await.is_empty());
        assert!(server.granted(&token("cloned_token"), "write", DATABASES).await.is_empty(), "deleted");
    }

    async fn the_documented_curl_and_jq_recipe_prints_a_token_that_reads_buckets_and_nothing_else(server: TestServer) {
        let admin = server.onboard().await;
        let recipe = std::fs::read_to_string(client_script("create_token_with_user.sh")).expect("recipe");
        // Filled in as a reader of the page would: host, API token and org id.
        let filled = recipe
            .replace("https://cloud2.influxdata.com", &server.base)
            .replace("API_TOKEN", &admin.token)
            .replace("ORG_ID", &admin.org_id);
        let run = |script: String| async move {
            let output = Command::new("bash").arg("-c").arg(script).output().await.expect("run bash");
            let stdout = succeeded(&output);
            // curl prints the created user without a newline, so the token follows it on the
            // same line: read the output as the JSON values it is and take the last.
            let last = serde_json::Deserializer::from_str(&stdout)
                .into_iter::<Value>()
                .map(|v| v.expect("the recipe prints JSON"))
                .last()
                .expect("output");
            last.as_str().expect("the recipe prints the token as a JSON string").to_owned()
        };

        let token = run(filled.clone()).await;
        assert!(token.starts_with("apiv1_"), "{token}");
        assert_eq!(server.granted(&token, "read", DATABASES).await, DATABASES);
        assert!(server.granted(&token, "write", DATABASES).await.is_empty());
        let (status, _, body) = server.request(Method::POST, "/api/v2/users", Credential::Token(&token), Some(json!({"name": "x"}))).await;
        assert_eq!((status, body["message"].clone()), (StatusCode::UNAUTHORIZED, json!("write:users is unauthorized")));
        let (_, _, found) = server.request(Method::GET, "/api/v2/users?name=iot_user_1", Credential::Token(&admin.token), None).await;
        let user_id = found["users"][0]["id"].as_str().expect("the recipe created its user").to_owned();

        // The same recipe naming a bucket: the token reads that bucket and no other. The user
        // exists by now, which the recipe handles ("new or existing").
        let named = filled.replace(r#"{"type": "buckets"}"#, r#"{"type": "buckets", "name": "sensors"}"#);
        assert_ne!(named, filled);
        let token = run(named).await;
        assert_eq!(server.granted(&token, "read", DATABASES).await, ["sensors"]);
        assert!(server.granted(&token, "write", DATABASES).await.is_empty());
        let (_, _, owned) = server
            .request(Method::GET, &format!("/api/v2/authorizations?userID={user_id}"), Credential::Token(&admin.token), None)
            .await;
        assert_eq!(owned["authorizations"].as_array().unwrap().len(), 2);
        assert!(owned["authorizations"].as_array().unwrap().iter().all(|a| a["description"] == "iot_user_1"));
    }
}
