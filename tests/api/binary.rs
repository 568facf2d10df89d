//! The built `tollgate` binary, as operators and Kubernetes run it.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{Engine, TestDatabase};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// A running `tollgate serve`, its address read from its own "listening" log line.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
    logs: Arc<Mutex<String>>,
    events: mpsc::Receiver<Value>,
}

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("TOLLGATE_CONFIG");
    cmd
}

fn serve(dir: &Path, args: &[&str]) -> Running {
    serve_with_env(dir, args, &[])
}

pub(crate) fn serve_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = command(dir)
        .envs(env.iter().copied())
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    let stderr = child.stderr.take().expect("stderr");
    let logs = Arc::new(Mutex::new(String::new()));
    let (tx, events) = mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(event);
            }
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let mut running = Running {
        child,
        base: String::new(),
        logs,
        events,
    };
    let listening = running.wait_for("listening");
    running.base = format!("http://{}", listening["address"].as_str().unwrap());
    running
}

impl Running {
    /// The next log event with this message (waits on the process's own output).
    fn wait_for(&mut self, message: &str) -> Value {
        loop {
            match self.events.recv_timeout(Duration::from_secs(60)) {
                Ok(event) if event["message"] == message => return event,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no {message:?} log line:\n{}", self.logs.lock().unwrap())
                }
            }
        }
    }

    fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then the exit status must be success.
    fn terminate(mut self) -> String {
        self.signal_term();
        self.wait_exit()
    }

    fn wait_exit(&mut self) -> String {
        let exit = self.child.wait().expect("wait");
        assert!(
            exit.success(),
            "exit {exit:?}\n{}",
            self.logs.lock().unwrap()
        );
        // The reader thread ends at EOF and drops its sender: then every line is in `logs`.
        while self.events.recv_timeout(Duration::from_secs(10)).is_ok() {}
        std::mem::take(&mut *self.logs.lock().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_operator_token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("operator-token"))
        .expect("operator token file")
        .trim()
        .to_owned()
}

async fn create_token(client: &reqwest::Client, base: &str, operator: &str) -> String {
    let response = client
        .post(format!("{base}/api/v0/tokens"))
        .bearer_auth(operator)
        .json(&json!({"description": "walkthrough", "permissions": [{"action": "write", "resource": "db1"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["accessToken"].as_str().unwrap().to_owned()
}

/// Whether the decision API grants `token` write on db1.
async fn may_write_db1(client: &reqwest::Client, base: &str, token: &str) -> bool {
    let decision: Value = client
        .post(format!("{base}/api/v0/authorize"))
        .json(&json!({"token": token, "permissions": [{"action": "write", "database": "db1"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    decision["permissions"] == json!([{"action": "write", "database": "db1"}])
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Fails if `haystack` holds any of `tokens`, whole or just their secret segment.
fn assert_no_token(haystack: &[u8], tokens: &[&str], place: &str) {
    for token in tokens {
        for secret in [*token, secret_part(token)] {
            assert!(!contains(haystack, secret), "a token is in {place}");
        }
    }
}

/// The secret segment of a token: what is left after its prefix and 16-hex id.
fn secret_part(token: &str) -> &str {
    let body = token
        .strip_prefix("apiv1_")
        .or(token.strip_prefix("M.V1."))
        .unwrap();
    &body[16..59]
}

#[tokio::test]
async fn a_fresh_start_on_sqlite_needs_no_setup_and_no_token_reaches_a_log_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--log-level", "trace"]);
    let data = dir.path().join("data");
    let operator = read_operator_token(&data);
    let mode = std::fs::metadata(data.join("operator-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let client = reqwest::Client::new();
    let token = create_token(&client, &server.base, &operator).await;
    // Present the tokens every way a client might, including in places we never log.
    assert!(may_write_db1(&client, &server.base, &token).await);
    for url in [
        format!("{}/query?db=db1&p={token}", server.base),
        format!("{}/api/v0/tokens/{token}", server.base),
        format!("{}/api/v0/tokens", server.base),
    ] {
        let _ = client
            .get(url)
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap();
    }

    // The v2 API: the setup token and an authorization created with it.
    let setup: Value = client
        .post(format!("{}/api/v2/setup", server.base))
        .header("Authorization", format!("Bearer {operator}"))
        .json(&serde_json::json!({"username": "admin", "org": "my-org"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = setup["auth"]["token"].as_str().unwrap().to_owned();
    let v2: Value = client
        .post(format!("{}/api/v2/authorizations", server.base))
        .header("Authorization", format!("Token {admin}"))
        .json(&serde_json::json!({"orgID": setup["org"]["id"], "permissions": [{"action": "write", "resource": {"type": "buckets", "name": "db1"}}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v2_token = v2["token"].as_str().unwrap().to_owned();
    assert!(may_write_db1(&client, &server.base, &v2_token).await);
    for url in [
        format!("{}/api/v2/authorizations/{v2_token}", server.base),
        format!("{}/api/v2/authorizations?token={v2_token}", server.base),
    ] {
        let _ = client
            .get(url)
            .header("Authorization", format!("Bearer {v2_token}"))
            .send()
            .await
            .unwrap();
    }

    let logs = server.terminate();
    assert!(logs.contains("\"message\":\"listening\""), "{logs}");
    assert!(
        logs.contains("operator token written"),
        "the token file's path is logged"
    );
    let all = [
        token.as_str(),
        operator.as_str(),
        admin.as_str(),
        v2_token.as_str(),
    ];
    assert_no_token(logs.as_bytes(), &all, "the log");
    let files: Vec<PathBuf> = files_under(&data)
        .into_iter()
        .filter(|p| !p.ends_with("operator-token"))
        .collect();
    assert!(
        files.iter().any(|p| p.ends_with("tollgate.db")),
        "{files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert_no_token(&bytes, &all, &file.display().to_string());
    }
}

#[tokio::test]
async fn two_replicas_starting_together_on_one_fresh_postgres_mint_exactly_one_operator_token() {
    let db = TestDatabase::new(Engine::Postgres).await;
    let url = db.url.expose().to_owned();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (path_a, path_b) = (dir_a.path().to_path_buf(), dir_b.path().to_path_buf());
    let (url_a, url_b) = (url.clone(), url.clone());
    let a =
        std::thread::spawn(move || serve(&path_a, &["--database-url", &url_a, "--data-dir", "."]));
    let b =
        std::thread::spawn(move || serve(&path_b, &["--database-url", &url_b, "--data-dir", "."]));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());

    let files: Vec<PathBuf> = [dir_a.path(), dir_b.path()]
        .iter()
        .map(|d| d.join("operator-token"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "exactly one replica writes the operator token"
    );
    let operator = read_operator_token(files[0].parent().unwrap());

    let client = reqwest::Client::new();
    for server in [&a, &b] {
        let ready = client
            .get(format!("{}/ready", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let listed = client
            .get(format!("{}/api/v0/tokens", server.base))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        assert_eq!(
            listed.status(),
            200,
            "the one operator token works on every replica"
        );
    }
    let store = db.open_store().await;
    assert!(store.has_operator_token().await.unwrap());
    let pool: sqlx::PgPool = sqlx::PgPool::connect(&url).await.unwrap();
    let operators: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE operator")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(operators, 1);

    // A token created on one replica works on the other, and a dump of the database holds no token.
    let token = create_token(&client, &a.base, &operator).await;
    assert!(may_write_db1(&client, &b.base, &token).await);
    let dump = Command::new("pg_dump")
        .arg(&url)
        .output()
        .expect("pg_dump must be installed");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        contains(&dump.stdout, "$argon2id$"),
        "the dump holds the hashes"
    );
    assert_no_token(&dump.stdout, &[&token, &operator], "the PostgreSQL dump");
    pool.close().await;
    a.terminate();
    b.terminate();
}

#[tokio::test]
async fn regenerating_the_operator_token_revokes_the_old_one_and_prints_the_new_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let old = read_operator_token(&dir.path().join("data"));

    let elsewhere = tempfile::tempdir().unwrap();
    let lost = command(elsewhere.path())
        .args(["admin", "operator-token", "--regenerate"])
        .output()
        .unwrap();
    assert!(!lost.status.success());
    assert!(String::from_utf8_lossy(&lost.stderr).contains("there is no store at"));
    assert!(
        !elsewhere.path().join("data").exists(),
        "no store is created by a mistake"
    );

    let refused = command(dir.path())
        .args(["admin", "operator-token"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --regenerate"));

    let out = command(dir.path())
        .args(["admin", "operator-token", "--regenerate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let new = stdout.trim();
    assert_eq!(stdout.lines().count(), 1);
    assert!(new.starts_with("M.V1.") && new != old);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(new),
        "the token is printed once, on stdout"
    );

    let client = reqwest::Client::new();
    let url = format!("{}/api/v0/tokens", server.base);
    let with_old = client.get(&url).bearer_auth(&old).send().await.unwrap();
    assert_eq!(with_old.status(), 401);
    let body: Value = with_old.json().await.unwrap();
    assert_eq!(body["message"], "management token has been revoked");
    let with_new = client.get(&url).bearer_auth(new).send().await.unwrap();
    assert_eq!(with_new.status(), 200);

    // The file the README reads the token from now holds the new one, still private.
    let file = dir.path().join("data").join("operator-token");
    assert_eq!(read_operator_token(&dir.path().join("data")), new);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(String::from_utf8_lossy(&out.stderr).contains("now holds the new operator token"));

    // Two at once: both finish, and the file ends with the token that is live.
    let racing: Vec<_> = (0..2)
        .map(|_| {
            command(dir.path())
                .args(["admin", "operator-token", "--regenerate"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in racing {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let last = read_operator_token(&dir.path().join("data"));
    let with_last = client.get(&url).bearer_auth(&last).send().await.unwrap();
    assert_eq!(with_last.status(), 200, "the file holds the live token");
    server.terminate();
}

#[test]
fn each_subcommand_help_shows_its_own_flags_with_their_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = command(dir.path())
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let serve = help(&["serve"]);
    for flag in [
        "--bind",
        "--data-dir",
        "--database-url",
        "--log-level",
        "--config",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}:\n{serve}");
    }
    for env in [
        "TOLLGATE_BIND",
        "TOLLGATE_DATA_DIR",
        "TOLLGATE_DATABASE_URL",
        "TOLLGATE_LOG_LEVEL",
    ] {
        assert!(
            serve.contains(&format!("[env: {env}")),
            "serve --help lacks {env}:\n{serve}"
        );
    }
    let regenerate = help(&["admin", "operator-token"]);
    assert!(regenerate.contains("--regenerate") && regenerate.contains("TOLLGATE_DATA_DIR"));
    for foreign in ["--bind", "--log-level", "--log-format"] {
        assert!(
            !regenerate.contains(foreign),
            "operator-token --help shows {foreign}:\n{regenerate}"
        );
    }
    // A database password given through the environment never shows in help.
    let out = command(dir.path())
        .env("TOLLGATE_DATABASE_URL", "postgres://u:hunter2@127.0.0.1/db")
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn serve_on_a_port_in_use_fails_at_once_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = command(dir.path())
        .args(["serve", "--bind", &address])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI colour codes in logs written to a pipe: {stderr:?}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing may be created before the port is bound"
    );
}

/// The logs of a server started with `env` that answered one ping and stopped.
async fn logs_of_one_ping(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve_with_env(dir.path(), &[], env);
    reqwest::get(format!("{}/ping", server.base)).await.unwrap();
    server.signal_term();
    server.wait_exit()
}

#[tokio::test]
async fn rust_log_is_honoured_unless_tollgate_log_level_is_given() {
    let debug = "\"level\":\"DEBUG\"";
    let logs = logs_of_one_ping(&[("RUST_LOG", "tollgate=debug")]).await;
    assert!(
        logs.contains(debug),
        "RUST_LOG=tollgate=debug was ignored:\n{logs}"
    );
    let logs = logs_of_one_ping(&[
        ("RUST_LOG", "tollgate=debug"),
        ("TOLLGATE_LOG_LEVEL", "info"),
    ])
    .await;
    assert!(!logs.contains(debug), "{logs}");
}

fn effective_config(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = command(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(["admin", "config"]).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn configuration_layers_are_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:1001\"\nlog_level = \"warn\"\n[argon2.database_tokens]\nmemory_kib = 2048\niterations = 1\nparallelism = 1\n").unwrap();
    let file = file.to_str().unwrap();

    let (ok, out, _) = effective_config(dir.path(), &["--config", file], &[]);
    assert!(ok);
    assert!(out.contains("bind = \"127.0.0.1:1001\"") && out.contains("log_level = \"warn\""));
    assert!(out.contains("memory_kib = 2048"));

    let env = [
        ("TOLLGATE_BIND", "127.0.0.1:1002"),
        ("TOLLGATE_ARGON2__DATABASE_TOKENS__MEMORY_KIB", "4096"),
    ];
    let (_, out, _) = effective_config(dir.path(), &["--config", file], &env);
    assert!(out.contains("bind = \"127.0.0.1:1002\"") && out.contains("log_level = \"warn\""));
    assert!(out.contains("memory_kib = 4096"));

    let (_, out, _) = effective_config(
        dir.path(),
        &["--config", file, "--bind", "127.0.0.1:1003"],
        &env,
    );
    assert!(out.contains("bind = \"127.0.0.1:1003\""));

    // The file may also be named by TOLLGATE_CONFIG.
    let (ok, out, err) = effective_config(dir.path(), &[], &[("TOLLGATE_CONFIG", file)]);
    assert!(ok, "{err}");
    assert!(out.contains("bind = \"127.0.0.1:1001\""));

    let (_, out, _) = effective_config(
        dir.path(),
        &[
            "--database-url",
            "postgres://tollgate:hunter2@db:5432/tollgate",
        ],
        &[],
    );
    assert!(out.contains("postgres://tollgate:***@db:5432/tollgate") && !out.contains("hunter2"));
}

#[test]
fn variables_kubernetes_injects_for_a_service_named_tollgate_are_not_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TOLLGATE_SERVICE_HOST", "10.0.0.1"),
        ("TOLLGATE_PORT", "tcp://10.0.0.1:8086"),
        ("TOLLGATE_PORT_8086_TCP_ADDR", "10.0.0.1"),
    ];
    let (ok, out, err) = effective_config(dir.path(), &[], &env);
    assert!(ok, "{err}");
    assert!(out.contains("bind = \"127.0.0.1:8086\""), "{out}");
}

#[test]
fn a_database_url_with_an_unknown_scheme_is_refused_and_its_password_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://u:sekret1@127.0.0.1/x",
        "postgress://u:sekret1@h/db",
    ] {
        let (ok, _, err) = effective_config(dir.path(), &["--database-url", url], &[]);
        assert!(!ok, "{url}");
        assert!(err.contains("scheme") && !err.contains("sekret1"), "{err}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

#[test]
fn unknown_configuration_keys_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let (ok, _, err) = effective_config(dir.path(), &["--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        err.contains(r#"bnid in "#) && err.contains(r#"unknown key "bnid""#),
        "{err}"
    );
    assert!(!err.contains("default."), "no figment profile: {err}");

    std::fs::write(&file, "[argon2.database_tokens]\nmemory = 1\n").unwrap();
    let (ok, _, err) = effective_config(dir.path(), &["--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains(r#"unknown key "memory""#), "{err}");

    let (ok, _, err) = effective_config(dir.path(), &[], &[("TOLLGATE_DATABASE_URLL", "x")]);
    assert!(!ok);
    assert!(err.contains("TOLLGATE_DATABASE_URLL"), "{err}");

    let (ok, _, err) = effective_config(dir.path(), &["--config", "/nonexistent.toml"], &[]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.toml does not exist"), "{err}");
}

#[test]
fn configuration_errors_say_where_and_what_and_never_show_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    let secret = "hunter2sekret";
    let cases = [
        // Unterminated: the toml crate's own message quotes the line.
        (
            format!("bind = \"127.0.0.1:1\"\ndatabase_url = \"postgres://u:{secret}@h/db\n"),
            "line 2, column",
        ),
        (
            format!("[verify]\ncache_ttl_seconds = \"{secret}\"\n"),
            "verify.cache_ttl_seconds",
        ),
        (format!("log_format = \"{secret}\"\n"), "log_format"),
        (format!("database_url = [\"{secret}\"]\n"), "database_url"),
    ];
    for (text, place) in cases {
        std::fs::write(&file, &text).unwrap();
        let (ok, _, err) = effective_config(dir.path(), &["--config", file.to_str().unwrap()], &[]);
        assert!(!ok, "{text}");
        assert!(
            err.contains(place) && err.contains("t.toml"),
            "{text}: {err}"
        );
        assert!(!err.contains(secret), "{text}: {err}");
    }
    let env = [("TOLLGATE_VERIFY__CACHE_TTL_SECONDS", secret)];
    let (ok, _, err) = effective_config(dir.path(), &[], &env);
    assert!(!ok);
    assert!(
        err.contains("TOLLGATE_VERIFY__CACHE_TTL_SECONDS") && !err.contains(secret),
        "{err}"
    );
}

#[test]
fn the_shipped_configurations_trust_no_wide_range_of_clients() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["tollgate.toml", "cluster.toml"] {
        let path = root.join("config").join(name);
        let config = tollgate::config::Config::load(Some(&path), &Default::default()).unwrap();
        for net in &config.verify.trusted_proxies {
            let narrow = match net {
                ipnet::IpNet::V4(v4) => v4.prefix_len() >= 24,
                ipnet::IpNet::V6(v6) => v6.prefix_len() >= 64,
            };
            assert!(
                narrow,
                "{name} trusts {net}: a client in it can forge X-Forwarded-For"
            );
        }
    }
}

#[test]
fn the_example_configurations_in_config_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["tollgate.toml", "cluster.toml"] {
        let path = root.join("config").join(name);
        let (ok, out, err) = effective_config(root, &["--config", path.to_str().unwrap()], &[]);
        assert!(ok, "{name}: {err}");
        assert!(out.contains("bind ="), "{name}");
    }
}

#[tokio::test]
async fn the_cluster_example_becomes_ready_while_its_identity_provider_is_unreachable() {
    let db = TestDatabase::new(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("config/cluster.toml")).unwrap();
    // The shipped placeholder provider, made unreachable on loopback (no lookup leaves the machine).
    let config = shipped.replace("https://keycloak.example.com", "http://127.0.0.1:1");
    assert_ne!(config, shipped);
    let file = dir.path().join("cluster.toml");
    std::fs::write(&file, config).unwrap();
    let server = serve(
        dir.path(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--database-url",
            db.url.expose(),
            "--data-dir",
            ".",
        ],
    );
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let verbose: Value = client
        .get(format!("{}/ready?verbose", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let provider = &verbose["checks"][3];
    assert_eq!(provider["name"], "identity provider 1");
    assert_eq!(provider["status"], "warn", "{verbose}");
    server.terminate();
}

#[tokio::test]
async fn on_sigterm_readiness_turns_false_while_requests_are_still_served_then_it_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve_with_env(dir.path(), &[], &[("TOLLGATE_SHUTDOWN_DRAIN_SECONDS", "2")]);
    let operator = read_operator_token(&dir.path().join("data"));
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/ready", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    server.signal_term();
    server.wait_for("draining: not ready, still serving");
    let ready = client
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["message"], "shutting down");
    // Still serving during the drain: load balancers that have not noticed lose nothing.
    let listed = client
        .get(format!("{}/api/v0/tokens", server.base))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    let logs = server.wait_exit();
    assert!(logs.contains("\"message\":\"stopped\""), "{logs}");
    // A 503 from /ready is an answer, not a server failure.
    assert!(!logs.contains("\"level\":\"ERROR\""), "{logs}");
}
