//! The real nginx (Debian's package, pinned, with `auth_request`; installed into
//! `target/nginx` by scripts/nginx) in front of a recording stand-in for InfluxDB, asking
//! tollgate's `/authz` about every request. nginx runs the README's configuration, read from
//! the README itself, so the documented snippet is the tested one.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{Engine, TestDatabase, TestServer, with_wrong_secret};

fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("TOLLGATE_TEST_NGINX").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/nginx/usr/sbin/nginx"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "the pinned nginx is not installed at {}: run scripts/nginx (scripts/test does)",
        path.display()
    );
    path
}

/// `LD_LIBRARY_PATH` for the libraries scripts/nginx unpacked beside nginx when this machine
/// lacked them (`<root>/lib/<multiarch>`, `<root>/usr/lib/<multiarch>`); `None` when it
/// needed none.
fn library_path(binary: &Path) -> Option<OsString> {
    let root = binary.parent()?.parent()?.parent()?;
    let mut directories: Vec<PathBuf> = ["lib", "usr/lib"]
        .iter()
        .filter_map(|lib| std::fs::read_dir(root.join(lib)).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && path.to_string_lossy().ends_with("-linux-gnu"))
        .collect();
    if directories.is_empty() {
        return None;
    }
    directories.extend(std::env::var_os("LD_LIBRARY_PATH").map(PathBuf::from));
    std::env::join_paths(directories).ok()
}

/// The README's nginx configuration (what goes inside `http { … }`).
fn readme_nginx_snippet() -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Forward auth (`/authz`)")
        .nth(1)
        .expect("README has the forward auth section");
    let nginx = section
        .split("### nginx `auth_request`")
        .nth(1)
        .expect("the section has an nginx part");
    let block = nginx.split("```nginx\n").nth(1).expect("an nginx block");
    block.split("```").next().expect("closed block").to_owned()
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the README's nginx snippet should contain `{from}` once:\n{text}"
    );
    text.replacen(from, to, 1)
}

/// One request as the stand-in for InfluxDB received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A stand-in for InfluxDB: records every request it receives, whole, and answers 204 with a
/// header of its own, so a client can tell its answer from anyone else's.
struct Upstream {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

const UPSTREAM_MARK: &str = "x-recorded-by";

impl Upstream {
    async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let address = listener.local_addr().expect("upstream address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(received.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("upstream");
        });
        Upstream { address, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn record(
    State(received): State<Arc<Mutex<Vec<Received>>>>,
    request: Request,
) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the whole body");
    received.lock().expect("lock").push(Received {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, |pq| pq.as_str().to_owned()),
        headers: parts.headers,
        body,
    });
    (
        StatusCode::NO_CONTENT,
        [(UPSTREAM_MARK, HeaderValue::from_static("upstream"))],
    )
}

/// nginx in the foreground on a port of its own, killed when dropped.
struct Nginx {
    base: String,
    child: Child,
    dir: TempDir,
}

impl Nginx {
    /// Serves the README's snippet, pointing at `upstream` and at tollgate (`host:port`).
    async fn start(upstream: SocketAddr, tollgate: &str) -> Nginx {
        let binary = nginx_binary();
        let snippet = readme_nginx_snippet();
        let snippet = replace_once(
            &snippet,
            "server influxdb:8086;",
            &format!("server {upstream};"),
        );
        let snippet = replace_once(
            &snippet,
            "server tollgate:8086;",
            &format!("server {tollgate};"),
        );
        // The port is free when we look; another process may take it before nginx binds it,
        // in which case nginx exits saying so and we try another.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let snippet = replace_once(
                &snippet,
                "listen 8086;",
                &format!("listen 127.0.0.1:{port};"),
            );
            match Nginx::spawn(&binary, &snippet, port).await {
                Ok(nginx) => return nginx,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx found no free port in 5 tries");
    }

    /// Starts nginx; ready when it has written its pid file (it does once its port is bound)
    /// and its port accepts connections. `Err` holds its error log when it exits first.
    async fn spawn(binary: &Path, snippet: &str, port: u16) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().expect("nginx dir");
        let at = |name: &str| dir.path().join(name).display().to_string();
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {pid};\n\
             error_log {log} warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {body};\n\
             proxy_temp_path {proxy};\n\
             fastcgi_temp_path {fastcgi};\n\
             uwsgi_temp_path {uwsgi};\n\
             scgi_temp_path {scgi};\n\
             {snippet}\n\
             }}\n",
            pid = at("nginx.pid"),
            log = at("error.log"),
            body = at("client_body"),
            proxy = at("proxy"),
            fastcgi = at("fastcgi"),
            uwsgi = at("uwsgi"),
            scgi = at("scgi"),
        );
        std::fs::write(dir.path().join("nginx.conf"), &config).expect("write nginx.conf");
        let mut command = Command::new(binary);
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(path) = library_path(binary) {
            command.env("LD_LIBRARY_PATH", path);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut nginx = Nginx {
            base: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = nginx.child.try_wait().expect("nginx status") {
                return Err(format!(
                    "nginx exited ({status})\n{}\nconfiguration:\n{config}",
                    nginx.log()
                ));
            }
            if nginx.dir.path().join("nginx.pid").exists()
                && tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            {
                return Ok(nginx);
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port} within 15 s:\n{}",
                nginx.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tollgate, the stand-in for InfluxDB, and nginx in front of both.
struct Rig {
    tollgate: TestServer,
    upstream: Upstream,
    nginx: Nginx,
    client: reqwest::Client,
}

impl Rig {
    async fn start() -> Rig {
        Rig::with(TestServer::start(Engine::Sqlite).await).await
    }

    async fn with(tollgate: TestServer) -> Rig {
        let upstream = Upstream::start().await;
        let nginx = Nginx::start(
            upstream.address,
            tollgate.base.trim_start_matches("http://"),
        )
        .await;
        Rig {
            tollgate,
            upstream,
            nginx,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` to nginx at `target`, with `authorization` if any; returns the status,
    /// the headers and the body text.
    async fn post(
        &self,
        target: &str,
        authorization: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        self.post_from(&self.client, target, authorization, &[], body)
            .await
    }

    async fn post_from(
        &self,
        client: &reqwest::Client,
        target: &str,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let mut request = client
            .post(format!("{}{target}", self.nginx.base))
            .header("content-type", "text/plain; charset=utf-8")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request through nginx");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        (status, headers, text)
    }
}

fn basic(token: &str) -> String {
    let pair = format!("telegraf:{token}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Line protocol with what a byte-for-byte comparison should catch: escapes, quotes, UTF-8,
/// a carriage return and no trailing newline.
const LINES: &[u8] = b"cpu,host=a\\ b,region=eu usage_idle=98.5,msg=\"caf\xc3\xa9 \\\"ok\\\"\" 1700000000000000000\r\nmem,host=a used=1024i 1700000000000000000";

#[tokio::test]
async fn allowed_writes_reach_influxdb_byte_identical_with_the_token_id_and_the_client_gets_influxdb_s_answer()
 {
    let rig = Rig::start().await;
    let (id, token) = rig
        .tollgate
        .create_token(json!([{"action": "write", "resource": "telegraf"}]))
        .await;
    let v2 = "/api/v2/write?org=o&bucket=telegraf&precision=ns";
    let v1_query = format!("/write?db=telegraf&rp=autogen&u=telegraf&p={token}");
    let writes: [(&str, &str, Option<String>); 3] = [
        (
            "v2, Authorization: Token",
            v2,
            Some(format!("Token {token}")),
        ),
        ("v1, ?p=", &v1_query, None),
        (
            "v1, Basic",
            "/write?db=telegraf&precision=s",
            Some(basic(&token)),
        ),
    ];
    for (how, target, authorization) in &writes {
        // A client's own X-Tollgate-Subject never reaches InfluxDB: nginx sets it.
        let (status, headers, body) = rig
            .post_from(
                &rig.client,
                target,
                authorization.as_deref(),
                &[("x-tollgate-subject", "0000000000000000")],
                LINES,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{how}: {body}");
        assert_eq!(headers[UPSTREAM_MARK], "upstream", "{how}");
        let received = rig.upstream.received();
        let last = received.last().expect("a request reached the upstream");
        assert_eq!(last.method, "POST", "{how}");
        assert_eq!(last.target, *target, "{how}");
        assert_eq!(last.body.as_ref(), LINES, "{how}");
        let subjects: Vec<&HeaderValue> =
            last.headers.get_all("x-tollgate-subject").iter().collect();
        assert_eq!(subjects, [id.as_str()], "{how}");
        assert!(!subjects[0].to_str().expect("text").contains(&token));
        // InfluxDB still gets the credential to check it itself.
        assert_eq!(
            last.headers
                .get("authorization")
                .map(|v| v.to_str().expect("text")),
            authorization.as_deref(),
            "{how}"
        );
    }
    assert_eq!(rig.upstream.received().len(), writes.len());
}

#[tokio::test]
async fn refused_writes_never_reach_influxdb_and_the_client_gets_nginx_s_401_or_403() {
    let rig = Rig::start().await;
    let (_, token) = rig
        .tollgate
        .create_token(json!([{"action": "write", "resource": "telegraf"}]))
        .await;
    let (_, reader) = rig
        .tollgate
        .create_token(json!([{"action": "read", "resource": "telegraf"}]))
        .await;
    let unknown = tollgate::token::format::mint(tollgate::token::TokenKind::Database)
        .expect("mint")
        .plain;
    let wrong_secret = with_wrong_secret(&token);
    let cases: Vec<(&str, String, Option<String>, StatusCode)> = vec![
        (
            "another database",
            "/api/v2/write?org=o&bucket=other".into(),
            Some(format!("Token {token}")),
            StatusCode::FORBIDDEN,
        ),
        (
            "another database, v1 ?p=",
            format!("/write?db=other&p={token}"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "a read-only token writing",
            "/api/v2/write?org=o&bucket=telegraf".into(),
            Some(format!("Token {reader}")),
            StatusCode::FORBIDDEN,
        ),
        (
            "an unknown token",
            "/api/v2/write?org=o&bucket=telegraf".into(),
            Some(format!("Token {unknown}")),
            StatusCode::FORBIDDEN,
        ),
        (
            "a wrong secret, Basic",
            "/write?db=telegraf".into(),
            Some(basic(&wrong_secret)),
            StatusCode::FORBIDDEN,
        ),
        (
            "no token",
            "/api/v2/write?org=o&bucket=telegraf".into(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no token, v1",
            "/write?db=telegraf".into(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (how, target, authorization, want) in &cases {
        let (status, headers, body) = rig.post(target, authorization.as_deref(), LINES).await;
        assert_eq!(status, *want, "{how}: {body}");
        assert!(headers.get(UPSTREAM_MARK).is_none(), "{how}");
        // nginx answers with its own page: auth_request passes the status, not tollgate's body.
        assert!(body.contains("nginx"), "{how}: {body}");
    }
    assert!(
        rig.upstream.received().is_empty(),
        "{:?}",
        rig.upstream.received()
    );
    // The allowed write still goes through afterwards.
    let (status, _, _) = rig
        .post(
            "/api/v2/write?org=o&bucket=telegraf",
            Some(&format!("Token {token}")),
            LINES,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(rig.upstream.received().len(), 1);
}

#[tokio::test]
async fn a_write_of_several_mebibytes_streams_through_byte_identical_because_the_decision_never_needs_the_body()
 {
    let rig = Rig::start().await;
    let (id, token) = rig
        .tollgate
        .create_token(json!([{"action": "write", "resource": "telegraf"}]))
        .await;
    // 5 MiB of line protocol, every line different, more than nginx's default 1 MiB body limit.
    let mut lines = Vec::with_capacity(5 << 20);
    let mut n = 0u64;
    while lines.len() < 5 << 20 {
        lines.extend_from_slice(
            format!(
                "disk,host=h{},path=/var/{} free={}i,used={}i {}\n",
                n % 97,
                n % 13,
                n.wrapping_mul(2_654_435_761) % 1_000_000_007,
                n,
                1_700_000_000_000_000_000u64 + n
            )
            .as_bytes(),
        );
        n += 1;
    }
    let sent = Bytes::from(lines);
    let (status, headers, body) = rig
        .post(
            "/api/v2/write?org=o&bucket=telegraf",
            Some(&format!("Token {token}")),
            sent.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(headers[UPSTREAM_MARK], "upstream");
    let received = rig.upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body.len(), sent.len());
    assert!(received[0].body == sent, "the body changed on the way");
    assert_eq!(received[0].headers["x-tollgate-subject"], id.as_str());
}

#[tokio::test]
async fn behind_nginx_the_failure_limit_counts_each_end_client_and_its_429_reaches_the_client_as_500()
 {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let tollgate = TestServer::start_with(db, |config| {
        config.verify.failures_per_address_per_minute = 2;
        config.verify.failures_per_token_per_minute = 1000;
        config.verify.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let rig = Rig::with(tollgate).await;
    // Two end clients on two loopback addresses; nginx reaches tollgate from 127.0.0.1.
    let from = |address: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(IpAddr::from(address))
            .build()
            .expect("client")
    };
    let (flooder, other) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    let unknown = || {
        let token = tollgate::token::format::mint(tollgate::token::TokenKind::Database)
            .expect("mint")
            .plain;
        format!("Token {token}")
    };
    let target = "/api/v2/write?org=o&bucket=telegraf";
    let mut statuses = Vec::new();
    let mut retry_after = Vec::new();
    for _ in 0..5 {
        let (status, headers, _) = rig
            .post_from(&flooder, target, Some(&unknown()), &[], LINES)
            .await;
        statuses.push(status);
        retry_after.push(headers.get("retry-after").cloned());
    }
    assert_eq!(statuses[..2], [StatusCode::FORBIDDEN; 2], "{statuses:?}");
    // tollgate answers 429 with Retry-After; auth_request passes only 401 and 403, so the
    // client sees nginx's 500 and no Retry-After.
    assert!(
        statuses[3..]
            .iter()
            .all(|s| *s == StatusCode::INTERNAL_SERVER_ERROR),
        "{statuses:?}"
    );
    assert!(retry_after.iter().all(Option::is_none), "{retry_after:?}");
    assert!(
        rig.tollgate
            .metric("tollgate_rate_limited_refusals_total")
            .await
            >= 2.0
    );
    // Another client behind the same nginx has its own budget.
    let (status, _, body) = rig
        .post_from(&other, target, Some(&unknown()), &[], LINES)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(rig.upstream.received().is_empty());
}
