//! Test harness: the real server on port 0 over a fresh SQLite file or a fresh PostgreSQL
//! database, and small HTTP helpers. Nothing is shared between tests.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tollgate::App;
use tollgate::config::{Config, DatabaseUrl};
use tollgate::store::{PoolOptions, Store};

pub mod cut_proxy;
pub mod idp;
pub mod v2;

const PG_ENV: &str = "TOLLGATE_TEST_DATABASE_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; PostgreSQL ones are dropped afterwards.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    pub dir: TempDir,
    pg_name: Option<String>,
}

pub fn pg_admin_url() -> String {
    std::env::var(PG_ENV).unwrap_or_else(|_| PG_DEFAULT.to_owned())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDatabase {
    pub async fn new(engine: Engine) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match engine {
            Engine::Sqlite => TestDatabase {
                url: DatabaseUrl::new(format!(
                    "sqlite://{}",
                    dir.path().join("tollgate.db").display()
                )),
                dir,
                pg_name: None,
            },
            Engine::Postgres => {
                let name = format!("tollgate_test_{:016x}", rand_u64());
                let admin = pg_admin_url();
                let mut conn = sqlx_connect(&admin).await;
                sqlx::Executor::execute(
                    &mut conn,
                    sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
                )
                .await
                .unwrap_or_else(|e| {
                    panic!("cannot create a test database on {PG_ENV} or {PG_DEFAULT}: {e}")
                });
                TestDatabase {
                    url: DatabaseUrl::new(with_database(&admin, &name)),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The PostgreSQL database's name (`None` on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    pub async fn open_store(&self) -> Store {
        tollgate::store::open_url(
            &self.url,
            PoolOptions {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(5),
            },
        )
        .await
        .expect("open store")
    }
}

async fn sqlx_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL tests need a server: set {PG_ENV} or run one at 127.0.0.1:5432 \
             (scripts/test starts a local cluster). Connecting failed: {e}"
        )
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = pg_admin_url();
        // Drop runs outside any runtime we may block, so use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = sqlx_connect(&admin).await;
                let _ = sqlx::Executor::execute(
                    &mut conn,
                    sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
                )
                .await;
            });
        })
        .join();
    }
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    tollgate::token::format::os_random(&mut bytes).expect("random");
    u64::from_le_bytes(bytes)
}

fn test_config(db: &TestDatabase) -> Config {
    Config {
        database_url: db.url.clone(),
        data_dir: db.dir.path().to_path_buf(),
        database_max_connections: 4,
        ..Config::default()
    }
}

/// How a request authenticates: the header a client of each API would send.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// No `Authorization` header.
    Anonymous,
    /// `Authorization: Bearer <token>`, as management clients and JWT holders send it.
    Bearer(&'a str),
    /// `Authorization: Token <token>`, as InfluxDB v2 clients send it.
    Token(&'a str),
    /// The server's operator token, as `Bearer`.
    Operator,
}

/// The real server, in this process, on an ephemeral port.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub operator_token: String,
    /// Shared by replicas; dropped (on PostgreSQL) with the last of them.
    pub db: std::sync::Arc<TestDatabase>,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(engine: Engine) -> TestServer {
        let db = TestDatabase::new(engine).await;
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = test_config(&db);
        adjust(&mut config);
        Self::start_config(std::sync::Arc::new(db), config).await
    }

    /// Another replica on this server's database, configured as this one was, then `adjust`ed.
    pub async fn replica(&self, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = self.config.clone();
        adjust(&mut config);
        Self::start_config(self.db.clone(), config).await
    }

    async fn start_config(db: std::sync::Arc<TestDatabase>, config: Config) -> TestServer {
        let app = App::prepare(&config).await.expect("prepare app");
        let operator_token = std::fs::read_to_string(config.data_dir.join("operator-token"))
            .expect("operator token file")
            .trim()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            app.serve(listener, async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            base,
            client: reqwest::Client::new(),
            operator_token,
            db,
            config,
            shutdown: Some(tx),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.db.dir.path().to_path_buf()
    }

    /// Sends a request to either API; returns the status, the v2 API's
    /// `X-Platform-Error-Code` header and the body (JSON, else its text, `null` when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        credential: Credential<'_>,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        let authorization = match credential {
            Credential::Anonymous => None,
            Credential::Bearer(token) => Some(format!("Bearer {token}")),
            Credential::Token(token) => Some(format!("Token {token}")),
            Credential::Operator => Some(format!("Bearer {}", self.operator_token)),
        };
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
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

    /// Creates a database token as the operator; returns (id, plain token).
    pub async fn create_token(&self, permissions: Value) -> (String, String) {
        let (status, _, body) = self
            .request(
                Method::POST,
                "/api/v0/tokens",
                Credential::Operator,
                Some(json!({"description": "test token", "permissions": permissions})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
        )
    }

    /// Asks the decision API; returns the response body.
    pub async fn authorize(&self, token: &str, permissions: Value) -> Value {
        let (status, _, body) = self
            .request(
                Method::POST,
                "/api/v0/authorize",
                Credential::Anonymous,
                Some(json!({"token": token, "permissions": permissions})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs an async test body once per engine, each on its own database. `main.rs` declares this
/// module first, with `#[macro_use]`, so every test module sees the macro.
macro_rules! on_both_engines {
    ($(async fn $name:ident($arg:ident : $ty:ty) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                async fn case($arg: $ty) $body

                #[tokio::test]
                async fn on_sqlite() {
                    case(<$ty as $crate::helpers::FromEngine>::from_engine($crate::helpers::Engine::Sqlite).await).await
                }

                #[tokio::test]
                async fn on_postgres() {
                    case(<$ty as $crate::helpers::FromEngine>::from_engine($crate::helpers::Engine::Postgres).await).await
                }
            }
        )*
    };
}

/// What an `on_both_engines!` case receives.
pub trait FromEngine: Sized {
    fn from_engine(engine: Engine) -> impl std::future::Future<Output = Self>;
}

impl FromEngine for TestServer {
    async fn from_engine(engine: Engine) -> Self {
        TestServer::start(engine).await
    }
}

/// A store on a fresh database, with the database kept alive alongside.
pub struct StoreCase {
    pub store: Store,
    pub db: TestDatabase,
}

impl FromEngine for StoreCase {
    async fn from_engine(engine: Engine) -> Self {
        let db = TestDatabase::new(engine).await;
        let store = db.open_store().await;
        StoreCase { store, db }
    }
}

/// Writes a freshly minted token of `kind` straight to `store`, hashed with `params`, for a
/// state the API cannot make (already expired, a weak hash); `adjust` changes the row, which
/// starts live, never expiring, with no permissions. Returns the minted token.
pub async fn store_directly(
    store: &Store,
    kind: tollgate::token::TokenKind,
    params: tollgate::config::HashParams,
    adjust: impl FnOnce(&mut tollgate::token::NewToken),
) -> tollgate::token::format::MintedToken {
    use tollgate::audit::{AuditAction, AuditEvent};
    use tollgate::token::format;
    let lane = tollgate::config::Lane {
        threads: 1,
        queue: 1,
    };
    let pool = tollgate::token::hashing::HashPool::new(lane, lane, params, params).expect("pool");
    let minted = format::mint(kind).expect("mint");
    let mut new = tollgate::token::NewToken {
        id: minted.id.clone(),
        kind,
        description: "stored directly".into(),
        permissions: Vec::new(),
        operator: false,
        token_prefix: format::display_prefix(kind, &minted.id),
        secret_hash: pool.hash(kind, minted.plain.clone()).await.expect("hash"),
        created_by: None,
        created_at: tollgate::token::now(),
        expires_at: None,
        status: tollgate::token::Status::Active,
        user_id: None,
        org_id: None,
    };
    adjust(&mut new);
    let action = match kind {
        tollgate::token::TokenKind::Database => AuditAction::TokenCreate,
        tollgate::token::TokenKind::Management => AuditAction::ManagementTokenCreate,
    };
    let audit = AuditEvent::new("test", action, &Default::default());
    store.create_token(&new, &audit).await.expect("store");
    minted
}

/// `token` with its secret replaced and its checksum made valid again: well formed, a real
/// id, the wrong secret.
pub fn with_wrong_secret(token: &str) -> String {
    let prefix = tollgate::token::TokenKind::from_token(token)
        .expect("a token")
        .prefix();
    let id_end = prefix.len() + 16;
    let mut forged = format!("{}{}", &token[..id_end], "A".repeat(43));
    let checksum = crc32fast::hash(forged.as_bytes());
    forged.push_str(&format!("{checksum:08x}"));
    assert_ne!(forged, token);
    forged
}

impl TestServer {
    /// The value of one counter sample on `/metrics`, 0 when it was never incremented.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Asks `/authz` with `headers` (name, value); returns the status, the headers and the
    /// body (JSON, `null` when empty).
    pub async fn authz(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("authz");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, body)
    }

    /// How many audit entries there are.
    pub async fn audit_len(&self) -> usize {
        let (status, _, page) = self
            .request(
                Method::GET,
                "/api/v0/audit?limit=1000",
                Credential::Operator,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page.as_array().expect("entries").len()
    }
}
