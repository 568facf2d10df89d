//! `influxctl`: the built binary run under that name (a symlink), with a config.toml pointing
//! at a live server, as a user runs it. Every child gets its own HOME and cache directory.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Form, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tollgate::config::UserConfig;

use crate::helpers::idp::{AUDIENCE, Idp, SigningKey, issuer, listed_user};
use crate::helpers::{Credential, Engine, TestDatabase, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// A private HOME with `influxctl` in `bin/`.
struct Ctl {
    dir: TempDir,
    config: PathBuf,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    fn failed(self) -> Out {
        assert_ne!(self.code, 0, "{self:?}");
        assert!(
            !self.stderr.is_empty(),
            "a failure says why on stderr: {self:?}"
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// The profile every test starts from: the server over plain HTTP, `extra` top-level keys.
fn server_profile_with(server: &TestServer, name: &str, extra: &str) -> String {
    let addr = server.base.trim_start_matches("http://");
    let (host, port) = addr.rsplit_once(':').unwrap();
    format!(
        "[[profile]]\nname = \"{name}\"\nproduct = \"clustered\"\nhost = \"{host}\"\nport = \"{port}\"\n\
         {extra}[profile.tls]\ndisable = true\n"
    )
}

fn server_profile(server: &TestServer, name: &str) -> String {
    server_profile_with(server, name, "")
}

/// A profile authenticating with the server's operator token file.
fn operator_profile(server: &TestServer, name: &str) -> String {
    format!(
        "{}[profile.auth.token]\ntoken_file = \"{}\"\n",
        server_profile(server, name),
        server.data_dir().join("operator-token").display()
    )
}

impl Ctl {
    fn new(config: &str) -> Ctl {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::os::unix::fs::symlink(BIN, dir.path().join("bin/influxctl")).unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        Ctl { dir, config: path }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache/influxctl")
    }

    fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn command(&self, env: &[(&str, &str)]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(self.bin_dir().join("influxctl"));
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.home())
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `influxctl --config <config.toml> ARGS` with `stdin`.
    async fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Out {
        let mut cmd = self.command(env);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn influxctl");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("influxctl finished within a minute")
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[], "").await
    }
}

/// The create output: (id from the key/value table, the token on the last stdout line).
fn created(out: &Out) -> (String, String) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 7, "{out:?}");
    let id = lines
        .iter()
        .find_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() == 4 && cells[1] == "id").then(|| cells[2].to_owned())
        })
        .unwrap_or_else(|| panic!("no id row: {out:?}"));
    let token = lines.last().unwrap().to_string();
    (id, token)
}

/// The key/value rows of a table: key → value.
fn rows(table: &str) -> HashMap<String, String> {
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() == 4).then(|| (cells[1].to_owned(), cells[2].to_owned()))
        })
        .collect()
}

/// A table with a header: the header cells and each row's cells.
fn grid(table: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = table.lines().filter(|l| l.starts_with('|')).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect::<Vec<_>>()
    });
    let header = lines.next().unwrap_or_default();
    (header, lines.collect())
}

fn assert_create_layout(out: &Out, token: &str) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "table (6 lines) then the token: {out:?}");
    assert_eq!(
        rows(&out.stdout)
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["description", "expires at", "id", "revoked at"].into()
    );
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        [
            "warn\tplease copy the token and store in a safe place",
            "warn\tthis is the *only time* you will see the token"
        ],
        "{out:?}"
    );
    assert!(!out.stderr.contains(token));
}

async fn decision(server: &TestServer, token: &str, action: &str, db: &str) -> Value {
    server
        .authorize(token, json!([{"action": action, "database": db}]))
        .await
}

async fn allowed(server: &TestServer, token: &str, action: &str, db: &str) -> bool {
    let d = decision(server, token, action, db).await;
    d["valid"] == true && !d["permissions"].as_array().unwrap().is_empty()
}

#[tokio::test]
async fn ctl_token_create_then_use_then_revoke() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));

    let out = ctl
        .run(&[
            "token",
            "create",
            "--read-database",
            "db1",
            "--write-database",
            "db1",
            "--read-database",
            "*",
            "--expires-at",
            "2030-01-01T01:00:00+0100",
            "telegraf on host-1",
        ])
        .await
        .ok();
    let (id, token) = created(&out);
    assert_create_layout(&out, &token);
    assert!(token.starts_with("apiv1_"), "{out:?}");
    let table = rows(&out.stdout);
    assert_eq!(table["id"], id);
    assert_eq!(table["description"], "telegraf on host-1");
    assert_eq!(table["expires at"], "2030-01-01T00:00:00Z");
    assert_eq!(table["revoked at"], "");

    assert!(allowed(&server, &token, "write", "db1").await);
    assert!(allowed(&server, &token, "read", "anything").await);
    assert!(!allowed(&server, &token, "write", "db2").await);

    let out = ctl.run(&["token", "revoke", "--force", &id]).await.ok();
    assert_eq!(out.stdout.trim(), format!("revoked database token {id}"));
    let d = decision(&server, &token, "write", "db1").await;
    assert_eq!(
        (d["valid"].clone(), d["reason"].clone()),
        (json!(false), json!("revoked"))
    );
}

#[tokio::test]
async fn ctl_token_list_get_update_in_tables_and_json() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));
    let (b_id, _) = created(
        &ctl.run(&["token", "create", "--write-database", "mydb1", "b token"])
            .await
            .ok(),
    );
    let (a_id, _) = created(
        &ctl.run(&[
            "token",
            "create",
            "--read-database",
            "mydb1",
            "--write-database",
            "mydb1",
            "a token",
        ])
        .await
        .ok(),
    );

    // --format json on create: the server's create answer, the token in accessToken.
    let out = ctl
        .run(&[
            "token",
            "create",
            "--format",
            "json",
            "--read-database",
            "x",
            "c token",
        ])
        .await
        .ok();
    let c = out.json();
    let c_id = c["id"].as_str().unwrap().to_owned();
    assert!(c["accessToken"].as_str().unwrap().starts_with("apiv1_"));
    assert_eq!(
        c["permissions"],
        json!([{"action": "read", "resource": "x"}])
    );
    assert_eq!(out.stderr.lines().count(), 2, "{out:?}");

    // List, table: the reference's columns; sorted by id, or by description.
    let mut by_id = vec![a_id.clone(), b_id.clone(), c_id.clone()];
    by_id.sort();
    let (header, body) = grid(&ctl.run(&["token", "list"]).await.ok().stdout);
    assert_eq!(header, ["ID", "DESCRIPTION"]);
    assert_eq!(body.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), by_id);
    let (_, body) = grid(
        &ctl.run(&["token", "list", "--sort", "description"])
            .await
            .ok()
            .stdout,
    );
    assert_eq!(
        body,
        [
            vec![a_id.clone(), "a token".to_owned()],
            vec![b_id.clone(), "b token".to_owned()],
            vec![c_id.clone(), "c token".to_owned()],
        ]
    );

    // List, JSON: influxctl's protobuf field names.
    let list = ctl
        .run(&["token", "list", "--format", "json"])
        .await
        .ok()
        .json();
    let a = listed(&list, &a_id);
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "account_id",
        "cluster_id",
        "id",
        "description",
        "permissions",
        "created_at",
    ] {
        assert!(keys.contains(&key), "{key} missing: {a}");
    }
    assert_eq!(
        (a["account_id"].clone(), a["cluster_id"].clone()),
        (json!(""), json!(""))
    );
    assert_eq!(
        a["permissions"],
        json!([
            {"id": "00000000-0000-0000-0000-000000000000", "action": "read", "resource": "mydb1"},
            {"id": "00000000-0000-0000-0000-000000000000", "action": "write", "resource": "mydb1"},
        ])
    );
    assert!(a["created_at"]["seconds"].as_i64().unwrap() > 1_700_000_000);
    assert!(a.get("expires_at").is_none() && a.get("revoked_at").is_none());

    // Get, table and JSON.
    let got = rows(&ctl.run(&["token", "get", &a_id]).await.ok().stdout);
    assert_eq!(got["id"], a_id);
    assert_eq!(got["description"], "a token");
    assert_eq!(got["permissions"], "read:mydb1, write:mydb1");
    assert_eq!(got["expires at"], "");
    let got = ctl
        .run(&["token", "get", "--format", "json", &a_id])
        .await
        .ok()
        .json();
    assert_eq!(got["id"], a_id.as_str());
    assert_eq!(got["permissions"].as_array().unwrap().len(), 2);

    // Update: the description changes; the server's refusal of new permissions is shown.
    let updated = rows(
        &ctl.run(&["token", "update", "--description", "renamed", &a_id])
            .await
            .ok()
            .stdout,
    );
    assert_eq!(updated["description"], "renamed");
    let json_update = ctl
        .run(&[
            "token",
            "update",
            "--description",
            "again",
            "--format",
            "json",
            &a_id,
        ])
        .await
        .ok()
        .json();
    assert_eq!(json_update["description"], "again");
    let out = ctl
        .run(&["token", "update", "--read-database", "mydb2", &a_id])
        .await
        .failed();
    assert!(
        out.stderr
            .contains("Error: token permissions cannot be updated; create a new token (HTTP 400)"),
        "{out:?}"
    );
    let out = ctl.run(&["token", "update", &a_id]).await.failed();
    assert!(out.stderr.contains("nothing to update"), "{out:?}");

    // Revoked tokens: hidden from list and get unless --include-revoked.
    ctl.run(&["token", "delete", "--force", &b_id]).await.ok();
    let list = ctl
        .run(&["token", "list", "--format", "json"])
        .await
        .ok()
        .json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != b_id.as_str())
    );
    let out = ctl.run(&["token", "get", &b_id]).await.failed();
    assert!(out.stderr.contains("(HTTP 404)"), "{out:?}");
    let list = ctl
        .run(&["token", "list", "--format", "json", "--include-revoked"])
        .await
        .ok()
        .json();
    let b = listed(&list, &b_id);
    assert!(b["revoked_at"]["seconds"].as_i64().is_some(), "{b}");
    let got = rows(
        &ctl.run(&["token", "get", "--include-revoked", &b_id])
            .await
            .ok()
            .stdout,
    );
    assert!(!got["revoked at"].is_empty());

    // Cloud Dedicated paths when the account and cluster are known: they come back in JSON.
    let list = ctl
        .run(&[
            "--account",
            "acct-1",
            "--cluster",
            "clus-1",
            "token",
            "list",
            "--format",
            "json",
        ])
        .await
        .ok()
        .json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["account_id"] == "acct-1" && t["cluster_id"] == "clus-1"),
        "{list}"
    );

    // An empty list is an empty array, not null.
    let empty = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&empty, "default"));
    assert_eq!(
        ctl.run(&["token", "list", "--format", "json"])
            .await
            .ok()
            .json(),
        json!([])
    );
}

#[tokio::test]
async fn ctl_revoke_asks_for_each_id_and_keeps_going_past_a_failure() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));
    let (one, one_token) = server
        .create_token(json!([{"action": "read", "resource": "db"}]))
        .await;
    let (two, two_token) = server
        .create_token(json!([{"action": "read", "resource": "db"}]))
        .await;
    let (three, three_token) = server
        .create_token(json!([{"action": "read", "resource": "db"}]))
        .await;

    // yes to the first, no to the second, y to an id that does not exist, YES to the third.
    let out = ctl
        .run_with(
            &["token", "revoke", &one, &two, "00000000000000aa", &three],
            &[],
            "yes\nno\ny\nYES\n",
        )
        .await
        .failed();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr.matches("[y/N]: ").count(), 4, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("database token {two} not revoked")),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("Error: database token 00000000000000aa:"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("2 of 4 database tokens not revoked"),
        "{out:?}"
    );
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            format!("revoked database token {one}"),
            format!("revoked database token {three}")
        ]
    );
    assert!(!allowed(&server, &one_token, "read", "db").await);
    assert!(allowed(&server, &two_token, "read", "db").await);
    assert!(!allowed(&server, &three_token, "read", "db").await);

    // No answer at all (stdin closed) revokes nothing.
    let out = ctl.run(&["token", "revoke", &two]).await.failed();
    assert!(out.stderr.contains("not revoked"), "{out:?}");
    assert!(allowed(&server, &two_token, "read", "db").await);

    // Missing ids and unknown flags: usage errors from the parser.
    let out = ctl.run(&["token", "revoke"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("<TOKEN_ID>"), "{out:?}");
    let out = ctl.run(&["token", "revoke", "--bogus", &two]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unexpected argument '--bogus'"),
        "{out:?}"
    );
}

#[tokio::test]
async fn ctl_management_tokens_create_list_use_revoke() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));

    let out = ctl
        .run(&[
            "management",
            "create",
            "--expires-at",
            "2031-06-01T02:00:00+02:00",
            "--description",
            "CI pipeline",
        ])
        .await
        .ok();
    let (ci_id, ci_token) = created(&out);
    assert_create_layout(&out, &ci_token);
    assert!(ci_token.starts_with("M.V1."), "{out:?}");
    assert_eq!(rows(&out.stdout)["expires at"], "2031-06-01T00:00:00Z");
    let plain = ctl.run(&["management", "create"]).await.ok();
    let (plain_id, _) = created(&plain);
    let json_out = ctl
        .run(&[
            "management",
            "create",
            "--format",
            "json",
            "--description",
            "json one",
        ])
        .await
        .ok()
        .json();
    assert!(
        json_out["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("M.V1.")
    );
    let out = ctl
        .run(&["management", "create", "--description", ""])
        .await
        .failed();
    assert!(
        out.stderr.contains("--description must not be empty"),
        "{out:?}"
    );
    let out = ctl
        .run(&["management", "create", "--expires-at", "next week"])
        .await
        .failed();
    assert!(
        out.stderr.contains("invalid --expires-at \"next week\""),
        "{out:?}"
    );

    // The new token works as a management credential (here through mgmt_token).
    let manual = Ctl::new(&server_profile_with(
        &server,
        "default",
        &format!("mgmt_token = \"{ci_token}\"\n"),
    ));
    manual.run(&["token", "list"]).await.ok();

    // List, table: the reference's columns, Go's zero time for no expiry, created order.
    let (header, body) = grid(&ctl.run(&["management", "list"]).await.ok().stdout);
    assert_eq!(
        header,
        [
            "ID",
            "DESCRIPTION",
            "PREFIX",
            "CREATED AT",
            "EXPIRES AT",
            "REVOKED AT"
        ]
    );
    let ci = body.iter().find(|r| r[0] == ci_id).unwrap();
    assert_eq!(ci[1], "CI pipeline");
    assert!(ci[2].starts_with("M.V1.") && ci[2].len() == 9, "{ci:?}");
    assert_eq!(ci[4], "2031-06-01T00:00:00Z");
    assert_eq!(ci[5], "");
    let plain_row = body.iter().find(|r| r[0] == plain_id).unwrap();
    assert_eq!(plain_row[4], "1970-01-01T00:00:00Z");
    assert_eq!(plain_row[1], "management token created with influxctl");

    // List, JSON: protobuf timestamps, unset ones left out.
    let list = ctl
        .run(&["management", "list", "--format", "json"])
        .await
        .ok()
        .json();
    let ci = listed(&list, &ci_id);
    assert_eq!(ci["expires_at"], json!({"seconds": 1_938_038_400}));
    assert!(ci["created_at"]["seconds"].is_i64());
    assert!(ci["token_prefix"].as_str().unwrap().starts_with("M.V1."));
    assert_eq!(ci["description"], "CI pipeline");
    assert!(ci.get("revoked_at").is_none());
    assert!(ci["created_by"].is_string(), "{ci}");
    for sort in [
        "created",
        "id",
        "description",
        "prefix",
        "expires",
        "revoked",
    ] {
        let (_, body) = grid(
            &ctl.run(&["management", "list", "--sort", sort])
                .await
                .ok()
                .stdout,
        );
        assert_eq!(body.len(), 3, "{sort}");
    }

    // Revoke: it stays listed with its revocation time, and stops working.
    ctl.run(&["management", "revoke", "--force", &ci_id])
        .await
        .ok();
    let list = ctl
        .run(&["management", "list", "--format", "json"])
        .await
        .ok()
        .json();
    let ci = listed(&list, &ci_id);
    assert!(ci["revoked_at"]["seconds"].is_i64(), "{ci}");
    let out = manual.run(&["token", "list"]).await.failed();
    assert!(
        out.stderr
            .contains("the server refused the credential from the profile's mgmt_token (401"),
        "{out:?}"
    );
    assert!(!out.stderr.contains(&ci_token));
}

/// The entry of a JSON list with this `id`.
fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|entries| entries.iter().find(|t| t["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not listed: {list}"))
}

/// A listed user named Marty McFly.
fn oauth_user(id: &str, groups: &[&str]) -> UserConfig {
    UserConfig {
        first_name: "Marty".into(),
        last_name: "McFly".into(),
        ..listed_user(id, groups)
    }
}

#[tokio::test]
async fn ctl_user_list_and_version() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |config| {
        config.users = vec![
            oauth_user("admin-1", &["Admin"]),
            oauth_user("auditor-1", &["Auditor", "Member"]),
        ];
    })
    .await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));
    let (header, body) = grid(&ctl.run(&["user", "list"]).await.ok().stdout);
    assert_eq!(header, ["ID", "FIRST NAME", "LAST NAME", "EMAIL", "GROUPS"]);
    assert!(body.contains(&vec![
        "admin-1".to_owned(),
        "Marty".to_owned(),
        "McFly".to_owned(),
        "admin-1@example.com".to_owned(),
        "Admin".to_owned()
    ]));
    let users = ctl
        .run(&["user", "list", "--format", "json"])
        .await
        .ok()
        .json();
    let auditor = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "auditor-1")
        .unwrap();
    assert_eq!(
        auditor,
        &json!({"id": "auditor-1", "first_name": "Marty", "last_name": "McFly",
                "email": "auditor-1@example.com", "groups": ["Auditor", "Member"]})
    );

    let out = ctl.run(&["version"]).await.ok();
    assert!(
        out.stdout.starts_with("influxctl 2.12.0 (tollgate "),
        "{out:?}"
    );
    // `tollgate ctl …` is the same client.
    let out = tokio::process::Command::new(BIN)
        .args(["ctl", "version"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("influxctl 2.12.0"));
}

#[tokio::test]
async fn ctl_token_rotate_with_a_grace_period_and_at_once() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&operator_profile(&server, "default"));
    let (old, old_token) = server
        .create_token(json!([{"action": "write", "resource": "db"}]))
        .await;

    // Default grace (1h): both work; the new one has the same permissions.
    let out = ctl.run(&["token", "rotate", &old]).await.ok();
    let (new, new_token) = created(&out);
    assert_ne!(new, old);
    assert!(new_token.starts_with("apiv1_"));
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warn\t"))
        .collect();
    assert_eq!(warnings.len(), 2, "{out:?}");
    assert!(
        out.stderr.contains("keeps working for 1h0m0s at most"),
        "{out:?}"
    );
    assert!(allowed(&server, &old_token, "write", "db").await);
    assert!(allowed(&server, &new_token, "write", "db").await);
    assert!(!allowed(&server, &new_token, "read", "db").await);

    // --grace 90m, JSON: the create answer's shape.
    let rotated = ctl
        .run(&[
            "token", "rotate", "--grace", "90m", "--format", "json", &new,
        ])
        .await
        .ok()
        .json();
    let newer = rotated["id"].as_str().unwrap().to_owned();
    let newer_token = rotated["accessToken"].as_str().unwrap().to_owned();
    assert!(allowed(&server, &new_token, "write", "db").await);

    // 0s: the old one stops at once.
    let out = ctl
        .run(&["token", "rotate", "--grace", "0s", &newer])
        .await
        .ok();
    let (_, newest_token) = created(&out);
    assert!(!allowed(&server, &newer_token, "write", "db").await);
    assert!(allowed(&server, &newest_token, "write", "db").await);

    let out = ctl
        .run(&["token", "rotate", "--grace", "1.5s", &old])
        .await
        .failed();
    assert!(
        out.stderr.contains("--grace must be whole seconds"),
        "{out:?}"
    );
    let out = ctl.run(&["token", "rotate", "--grace", "soon", &old]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("invalid value 'soon' for '--grace"),
        "{out:?}"
    );
}

#[tokio::test]
async fn ctl_configuration_errors_are_named() {
    let server = TestServer::start(Engine::Sqlite).await;
    let good = operator_profile(&server, "default");

    let ctl = Ctl::new(&format!(
        "{good}\n[[profile]]\nname = \"typo\"\nhots = \"x\"\n"
    ));
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(out.stderr.contains("unknown field `hots`"), "{out:?}");
    assert!(
        out.stderr.contains(&ctl.config.display().to_string()),
        "{out:?}"
    );

    // A misspelt key on a line holding a token: where and what, never the line.
    let secret = "M.V1.sekretsekretsekret";
    let ctl = Ctl::new(&format!(
        "{good}\n[[profile]]\nname = \"typo2\"\nmgmt_tokn = \"{secret}\"\n"
    ));
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(
        out.stderr.contains("line ") && out.stderr.contains("unknown field `mgmt_tokn`"),
        "{out:?}"
    );
    assert!(!out.stderr.contains(secret), "{out:?}");
    let ctl = Ctl::new(&format!(
        "{good}\n[[profile]]\nname = \"x\nmgmt_token = \"{secret}\"\n"
    ));
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(out.stderr.contains(", column "), "{out:?}");
    assert!(!out.stderr.contains(secret), "{out:?}");

    let ctl = Ctl::new(&good.replace("disable = true", "disable = true\nverify = false"));
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(out.stderr.contains("unknown field `verify`"), "{out:?}");

    let ctl = Ctl::new(&good);
    let out = ctl
        .run(&["--profile", "prod", "token", "list"])
        .await
        .failed();
    assert!(
        out.stderr.contains(r#"profile "prod" not found"#) && out.stderr.contains(r#""default""#),
        "{out:?}"
    );
    let out = ctl
        .run_with(&["token", "list"], &[("INFLUXCTL_PROFILE", "staging")], "")
        .await
        .failed();
    assert!(
        out.stderr.contains(r#"profile "staging" not found"#),
        "{out:?}"
    );

    let out = ctl.run(&["--timeout", "10", "token", "list"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("missing unit in duration"), "{out:?}");

    let out = ctl
        .run(&[
            "token",
            "create",
            "--expires-at",
            "2030-01-01",
            "--read-database",
            "db",
            "d",
        ])
        .await
        .failed();
    assert!(
        out.stderr.contains("invalid --expires-at \"2030-01-01\""),
        "{out:?}"
    );
    assert!(out.stderr.contains("RFC 3339"), "{out:?}");

    let out = ctl.run(&["token", "create", "--read-database", "db"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("<TOKEN_DESCRIPTION>"), "{out:?}");

    // Nothing listens on the port of a closed listener.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let ctl = Ctl::new(&format!(
        "[[profile]]\nname = \"default\"\nhost = \"127.0.0.1\"\nport = \"{port}\"\nmgmt_token = \"M.V1.x\"\n[profile.tls]\ndisable = true\n"
    ));
    let out = ctl
        .run(&["--timeout", "5s", "token", "list"])
        .await
        .failed();
    assert!(
        out.stderr.contains(&format!(
            "cannot reach the server at http://127.0.0.1:{port}"
        )),
        "{out:?}"
    );

    // HTTPS is the default: a plain HTTP server fails the handshake.
    let ctl = Ctl::new(&good.replace("disable = true", "disable = false"));
    let out = ctl
        .run(&["--timeout", "5s", "token", "list"])
        .await
        .failed();
    assert!(
        out.stderr.contains("cannot reach the server at https://"),
        "{out:?}"
    );

    // No credential of any kind.
    let ctl = Ctl::new(&server_profile(&server, "default"));
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(out.stderr.contains("has no credential"), "{out:?}");

    // No config file at the default path.
    let ctl = Ctl::new(&good);
    let mut cmd = ctl.command(&[]);
    let out = cmd.args(["token", "list"]).output().await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no config file at {}",
            ctl.home().join(".config/influxctl/config.toml").display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn ctl_credentials_in_order_and_never_shown() {
    let server = TestServer::start(Engine::Sqlite).await;
    let wrong = "M.V1.wrongwrongwrong";
    let ctl = Ctl::new(&server_profile_with(
        &server,
        "default",
        &format!("mgmt_token = \"{wrong}\"\n"),
    ));

    // mgmt_token (wrong) is refused, without showing it.
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(out.stderr.contains("mgmt_token (401"), "{out:?}");
    assert!(!out.stderr.contains(wrong), "{out:?}");

    // --token and INFLUXCTL_TOKEN come first.
    let op = server.operator_token.clone();
    ctl.run(&["--token", &op, "token", "list"]).await.ok();
    ctl.run_with(&["token", "list"], &[("INFLUXCTL_TOKEN", &op)], "")
        .await
        .ok();

    // --trace shows each request, never a credential or a minted token.
    let out = ctl
        .run_with(
            &[
                "--trace",
                "token",
                "create",
                "--read-database",
                "db",
                "traced",
            ],
            &[("INFLUXCTL_TOKEN", &op)],
            "",
        )
        .await
        .ok();
    let (_, token) = created(&out);
    assert!(out.stderr.contains("debug\tPOST http://"), "{out:?}");
    assert!(out.stderr.contains("request body:"), "{out:?}");
    assert!(!out.stderr.contains(&token), "{out:?}");
    assert!(!out.stderr.contains(&op), "{out:?}");

    // token_file: plain text or JSON with access_token.
    let file = ctl.dir.path().join("token.json");
    std::fs::write(
        &file,
        json!({"access_token": op, "token_type": "Bearer"}).to_string(),
    )
    .unwrap();
    let with_file = Ctl::new(&format!(
        "{}[profile.auth.token]\ntoken_file = \"{}\"\n",
        server_profile(&server, "default"),
        file.display()
    ));
    with_file.run(&["token", "list"]).await.ok();
}

#[tokio::test]
async fn ctl_takes_its_token_from_a_file_and_its_help_says_a_flag_is_visible_to_other_users() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new(&server_profile(&server, "default"));
    let file = ctl.dir.path().join("op-token");
    std::fs::write(&file, format!("{}\n", server.operator_token)).unwrap();
    let path = file.to_str().unwrap();
    ctl.run(&["--token-file", path, "token", "list"]).await.ok();
    ctl.run_with(&["token", "list"], &[("INFLUXCTL_TOKEN_FILE", path)], "")
        .await
        .ok();
    let out = ctl.run(&["--help"]).await.ok();
    assert!(
        out.stdout.contains("process list") && out.stdout.contains("--token-file"),
        "{out:?}"
    );
}

// ---- the device authorization flow, against a provider served by the test ----

const USER_CODE: &str = "WDJB-MJHT";
const DEVICE_CODE: &str = "device-code-1";

struct DeviceState {
    base: String,
    jwt: String,
    /// What each token poll answers, in order; `ok` issues the token.
    script: Mutex<VecDeque<&'static str>>,
    device_requests: Mutex<Vec<HashMap<String, String>>>,
    polls: Mutex<Vec<(Instant, HashMap<String, String>)>>,
}

async fn device(
    State(state): State<Arc<DeviceState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    state.device_requests.lock().unwrap().push(form);
    Json(json!({
        "device_code": DEVICE_CODE,
        "user_code": USER_CODE,
        "verification_uri": format!("{}/activate", state.base),
        "verification_uri_complete": format!("{}/activate?user_code={USER_CODE}", state.base),
        "expires_in": 60,
        "interval": 1,
    }))
}

async fn token(
    State(state): State<Arc<DeviceState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state
        .polls
        .lock()
        .unwrap()
        .push((Instant::now(), form.clone()));
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:device_code")
        || form.get("device_code").map(String::as_str) != Some(DEVICE_CODE)
    {
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let next = state.script.lock().unwrap().pop_front().unwrap_or("ok");
    if next == "ok" {
        return Json(
            json!({"access_token": state.jwt, "token_type": "Bearer", "expires_in": 3600}),
        )
        .into_response();
    }
    (AxumStatus::BAD_REQUEST, Json(json!({"error": next}))).into_response()
}

/// An identity provider for the device flow: the JWKS one from the helpers plus device and
/// token endpoints, and a tollgate that trusts it with `admin-1` in group Admin.
struct DeviceLogin {
    server: TestServer,
    state: Arc<DeviceState>,
    _idp: Idp,
}

impl DeviceLogin {
    async fn start(script: &[&'static str]) -> DeviceLogin {
        let rsa = SigningKey::generate(Algorithm::RS256, "rsa-1");
        let idp = Idp::start("/realms/tollgate", vec![rsa.clone()]).await;
        let db = TestDatabase::new(Engine::Sqlite).await;
        let iss = issuer(&idp);
        let server = TestServer::start_with(db, |config| {
            config.oauth.issuers = vec![iss];
            config.users = vec![oauth_user("admin-1", &["Admin"])];
        })
        .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(DeviceState {
            base,
            jwt: rsa.sign(&idp.claims("admin-1", AUDIENCE)),
            script: Mutex::new(script.iter().copied().collect()),
            device_requests: Mutex::new(Vec::new()),
            polls: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/oauth/device/code", post(device))
            .route("/oauth/token", post(token))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        DeviceLogin {
            server,
            state,
            _idp: idp,
        }
    }

    fn polls(&self) -> usize {
        self.state.polls.lock().unwrap().len()
    }
}

fn oauth_profile(login: &DeviceLogin) -> String {
    let base = &login.state.base;
    format!(
        "{}[profile.auth.oauth2]\nclient_id = \"influxctl-client\"\nscopes = [\"openid\", \"offline_access\"]\n\
         parameters = {{ audience = \"{AUDIENCE}\" }}\ndevice_url = \"{base}/oauth/device/code\"\ntoken_url = \"{base}/oauth/token\"\n",
        server_profile(&login.server, "default"),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn ctl_device_flow_login_polls_slows_down_caches_privately_and_logs_out() {
    let login = DeviceLogin::start(&["authorization_pending", "slow_down", "ok"]).await;
    let ctl = Ctl::new(&oauth_profile(&login));

    // A command with no cached login starts one.
    let started = Instant::now();
    let out = ctl.run(&["token", "list", "--format", "json"]).await.ok();
    assert_eq!(out.json(), json!([]));
    assert!(
        out.stderr.contains(&format!(
            "{}/activate?user_code={USER_CODE}",
            login.state.base
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains(USER_CODE), "{out:?}");

    let device = login.state.device_requests.lock().unwrap().clone();
    assert_eq!(device.len(), 1);
    assert_eq!(device[0]["client_id"], "influxctl-client");
    assert_eq!(device[0]["scope"], "openid offline_access");
    assert_eq!(device[0]["audience"], AUDIENCE);
    let polls = login.state.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 3, "pending, slow_down, then the token");
    assert_eq!(polls[0].1["client_id"], "influxctl-client");
    // The interval the provider gave (1 s), then 5 s more after slow_down.
    let first_gap = polls[1].0 - polls[0].0;
    let slowed_gap = polls[2].0 - polls[1].0;
    assert!(first_gap >= Duration::from_millis(900), "{first_gap:?}");
    assert!(slowed_gap >= Duration::from_millis(5900), "{slowed_gap:?}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // The cache: user-only, and holding the token, which no output showed.
    let cache = ctl.cache_dir().join("default.json");
    assert_eq!(mode(&cache), 0o600);
    assert_eq!(mode(&ctl.cache_dir()), 0o700);
    let cached: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(cached["access_token"], login.state.jwt.as_str());
    assert!(!out.stderr.contains(&login.state.jwt) && !out.stdout.contains(&login.state.jwt));
    assert_eq!(
        std::fs::read_dir(ctl.cache_dir()).unwrap().count(),
        1,
        "no temporary file left"
    );

    // The next command uses the cache: no new login.
    let out = ctl
        .run(&["token", "create", "--read-database", "db", "via OAuth"])
        .await
        .ok();
    let (_, token) = created(&out);
    assert!(allowed(&login.server, &token, "read", "db").await);
    assert_eq!(login.polls(), 3);
    assert_eq!(login.state.device_requests.lock().unwrap().len(), 1);

    // Logout removes it; a second logout has nothing to remove.
    let out = ctl.run(&["auth", "logout"]).await.ok();
    assert!(out.stderr.contains("logged out"), "{out:?}");
    assert!(!cache.exists());
    let out = ctl.run(&["auth", "logout"]).await.ok();
    assert!(out.stderr.contains("not logged in"), "{out:?}");
}

#[tokio::test]
async fn ctl_auth_login_fails_clearly_when_denied_or_expired() {
    let login = DeviceLogin::start(&["access_denied", "expired_token", "ok"]).await;
    let ctl = Ctl::new(&oauth_profile(&login));
    let out = ctl.run(&["auth", "login"]).await.failed();
    assert!(
        out.stderr
            .contains("Error: the login was denied at the identity provider"),
        "{out:?}"
    );
    assert!(!ctl.cache_dir().join("default.json").exists());
    let out = ctl.run(&["auth", "login"]).await.failed();
    assert!(
        out.stderr.contains("Error: the login code expired"),
        "{out:?}"
    );
    let out = ctl.run(&["auth", "login"]).await.ok();
    assert!(out.stderr.contains("logged in"), "{out:?}");
    assert_eq!(mode(&ctl.cache_dir().join("default.json")), 0o600);

    // A profile without [profile.auth.oauth2] cannot log in.
    let plain = Ctl::new(&server_profile(&login.server, "default"));
    let out = plain.run(&["auth", "login"]).await.failed();
    assert!(
        out.stderr.contains("has no [profile.auth.oauth2]"),
        "{out:?}"
    );
}

#[tokio::test]
async fn ctl_a_401_drops_the_cached_login() {
    let login = DeviceLogin::start(&[]).await;
    let ctl = Ctl::new(&oauth_profile(&login));
    std::fs::create_dir_all(ctl.cache_dir()).unwrap();
    let cache = ctl.cache_dir().join("default.json");
    let stale = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    std::fs::write(
        &cache,
        json!({
            "access_token": stale,
            "token_type": "Bearer",
            "client_id": "influxctl-client",
            "token_url": format!("{}/oauth/token", login.state.base),
        })
        .to_string(),
    )
    .unwrap();
    let out = ctl.run(&["token", "list"]).await.failed();
    assert!(
        out.stderr
            .contains("the server refused the cached login (401"),
        "{out:?}"
    );
    assert!(out.stderr.contains("it was removed"), "{out:?}");
    assert!(!out.stderr.contains(stale));
    assert!(!cache.exists());
    assert_eq!(login.polls(), 0, "no login was started for the refused one");
}

#[tokio::test]
async fn ctl_reference_examples_run_unchanged() {
    let server = TestServer::start(Engine::Sqlite).await;
    let ctl = Ctl::new("");
    // The default config path, as the examples give no --config.
    let config_dir = ctl.home().join(".config/influxctl");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        operator_profile(&server, "default"),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ctl/reference-examples.sh");
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", ctl.bin_dir().display());
    let out = tokio::process::Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", ctl.home())
        .env("XDG_CACHE_HOME", ctl.dir.path().join("cache"))
        .current_dir(ctl.dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // Each step's output.
    let mut steps: HashMap<String, String> = HashMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            current = Some(name.to_owned());
            steps.insert(name.to_owned(), String::new());
        } else if let Some(name) = &current {
            let text = steps.get_mut(name).unwrap();
            text.push_str(line);
            text.push('\n');
        }
    }
    let step = |name: &str| {
        steps
            .get(name)
            .unwrap_or_else(|| panic!("no step {name}"))
            .clone()
    };
    let create = |name: &str| {
        created(&Out {
            code: 0,
            stdout: step(name),
            stderr: String::new(),
        })
    };

    // Creates: the table, the token alone on the last line.
    let (several, several_token) = create("token-create-several");
    let (all, all_token) = create("token-create-all");
    let (expiring, expiring_token) = create("token-create-expiring");
    assert!(several_token.starts_with("apiv1_") && expiring_token.starts_with("apiv1_"));
    let expiring_row = rows(&step("token-create-expiring"));
    assert_eq!(expiring_row["description"], "Read/write token for mydb1");
    assert!(
        expiring_row["expires at"].ends_with('Z'),
        "{expiring_row:?}"
    );
    assert_eq!(
        stderr.matches("warn\tplease copy the token").count(),
        5,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("warn\tthis is the *only time*").count(),
        5,
        "{stderr}"
    );

    // Lists and gets, table and JSON; the permissions are the flags'.
    let (header, body) = grid(&step("token-list"));
    assert_eq!(header, ["ID", "DESCRIPTION"]);
    let mut ids: Vec<String> = body.iter().map(|r| r[0].clone()).collect();
    ids.sort();
    let mut expected = vec![several.clone(), all.clone(), expiring.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let list: Value = serde_json::from_str(&step("token-list-json")).unwrap();
    let granted = |id: &str| -> Vec<(String, String)> {
        let entry = listed(&list, id);
        let mut p: Vec<(String, String)> = entry["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["action"].as_str().unwrap().to_owned(),
                    p["resource"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        p.sort();
        p
    };
    let pair = |a: &str, r: &str| (a.to_owned(), r.to_owned());
    assert_eq!(
        granted(&several),
        [
            pair("read", "mydb1"),
            pair("read", "mydb2"),
            pair("write", "mydb2")
        ]
    );
    assert_eq!(granted(&all), [pair("read", "*"), pair("write", "*")]);
    assert_eq!(
        granted(&expiring),
        [pair("read", "mydb1"), pair("write", "mydb1")]
    );
    let expiring_json = listed(&list, &expiring);
    let in_a_week = time::OffsetDateTime::now_utc().unix_timestamp() + 7 * 24 * 3600;
    let expiry = expiring_json["expires_at"]["seconds"].as_i64().unwrap();
    assert!((expiry - in_a_week).abs() < 120, "{expiring_json}");
    assert_eq!(rows(&step("token-get"))["id"], several);
    let got: Value = serde_json::from_str(&step("token-get-json")).unwrap();
    assert_eq!(got["id"], several.as_str());
    assert_eq!(
        got["description"],
        "Read-only on mydb1, Read/write on mydb2"
    );

    // Revoke (two ids): gone from the list and refused; the token not revoked still works.
    assert_eq!(step("token-revoke").lines().count(), 2);
    let after: Value = serde_json::from_str(&step("token-list-after-revoke")).unwrap();
    assert_eq!(
        after
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect::<Vec<_>>(),
        [json!(all)]
    );
    for revoked in [&several_token, &expiring_token] {
        let d = decision(&server, revoked, "read", "mydb1").await;
        assert_eq!(d["reason"], "revoked", "{d}");
    }
    assert!(allowed(&server, &all_token, "write", "any-db").await);
    assert!(allowed(&server, &all_token, "read", "mydb1").await);

    // Management tokens: created, usable, listed, revoked and still listed.
    let (mgmt, mgmt_token) = create("management-create");
    assert!(mgmt_token.starts_with("M.V1."));
    let (_, no_expiry_token) = create("management-create-no-expiry");
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&no_expiry_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (header, body) = grid(&step("management-list"));
    assert_eq!(header[0..3], ["ID", "DESCRIPTION", "PREFIX"]);
    assert_eq!(body.len(), 2);
    let management_list: Value = serde_json::from_str(&step("management-list-json")).unwrap();
    let entry = listed(&management_list, &mgmt);
    assert_eq!(entry["description"], "Client3 token");
    assert!(entry["expires_at"]["seconds"].is_i64());
    let (status, _, _) = server
        .request(
            Method::GET,
            "/api/v0/tokens",
            Credential::Bearer(&mgmt_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked by the script");
    let after: Value = serde_json::from_str(&step("management-list-after-revoke")).unwrap();
    let entry = listed(&after, &mgmt);
    assert!(entry["revoked_at"]["seconds"].is_i64());
}

#[tokio::test]
async fn ctl_install_cli_puts_influxctl_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-cli");
    let install = |extra: &'static [&'static str]| {
        let mut cmd = tokio::process::Command::new(&script);
        cmd.args(extra)
            .arg(&bin)
            .env("TOLLGATE_BIN", BIN)
            .env("HOME", dir.path());
        cmd
    };
    let out = install(&[]).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = bin.join("influxctl");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(BIN));
    let version = tokio::process::Command::new(&link)
        .arg("version")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("influxctl 2.12.0 (tollgate "));
    // Again, as a copy: it replaces its own link.
    let out = install(&["--copy"]).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(mode(&link), 0o755);
    // Someone else's influxctl is left alone.
    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, "#!/bin/sh\necho influxctl 2.9.4\n").unwrap();
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = install(&[]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --force"));
    assert!(
        install(&["--force"])
            .output()
            .await
            .unwrap()
            .status
            .success()
    );
}
