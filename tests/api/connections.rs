//! What one client can take from the server: memory for unfinished request heads, connection
//! slots, and time with a body nobody has vouched for. Measured as the server's memory and
//! other clients' answers. Loopback lets a test be many clients: 127.x.y.z are all ours.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::binary::serve_with_env;
use crate::helpers::{Engine, TestDatabase, TestServer};

/// A connection from `from` (a loopback address) to `base` (`http://host:port`).
async fn connect_from(from: Ipv4Addr, base: &str) -> TcpStream {
    let to: SocketAddr = base.trim_start_matches("http://").parse().expect("address");
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind");
    socket.connect(to).await.expect("connect")
}

/// What the server sent before closing, or `None` if it kept the connection open `within`.
/// A reset counts as closed.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut seen)).await {
        Ok(_) => Some(String::from_utf8_lossy(&seen).into_owned()),
        Err(_) => None,
    }
}

/// One request on a keep-alive connection; the answer's status line.
async fn ping(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    status_line(stream).await
}

/// Reads one answer's head (bodiless answers only); its status line.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    // /ping is 204: the head is the whole answer.
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// How long another client's `/ping` took, or `None` if it got no answer within `bound`.
async fn ping_time(server: &TestServer, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    let request = server.client.get(format!("{}/ping", server.base)).send();
    match tokio::time::timeout(bound, request).await {
        Ok(Ok(response)) if response.status() == StatusCode::NO_CONTENT => Some(start.elapsed()),
        _ => None,
    }
}

fn kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

fn memory(pid: u32, field: &str) -> u64 {
    kib(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status"),
        field,
    )
}

/// Sends an endless request head, `chunk` bytes at a time, until `total` are sent or the
/// server closes; then waits for the server to close. True if the server closed (answering
/// 431 or resetting) before `total`.
async fn unfinished_head(mut stream: TcpStream, total: usize) -> bool {
    const CHUNK: usize = 16 * 1024;
    let pad = vec![b'a'; CHUNK];
    if stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        .await
        .is_err()
    {
        return true;
    }
    let mut sent = 0;
    while sent < total {
        if stream.write_all(&pad).await.is_err() {
            return true;
        }
        sent += CHUNK;
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    true
}

#[tokio::test]
async fn unfinished_request_heads_on_many_connections_cannot_grow_the_servers_memory_past_a_bound()
{
    const CONNECTIONS: usize = 400;
    const HEAD: usize = 400 * 1024;
    // hyper's default buffered ~400 KiB per connection: 400 of them were ~160 MB. Bounded at
    // 64 KiB, they take at most ~26 MB; allocator slack and tasks stay well under this.
    const BOUND_KIB: u64 = 80 * 1024;
    let dir = tempfile::tempdir().unwrap();
    // A long header timeout: the heads must not be cut by time, only by size.
    let server = serve_with_env(
        dir.path(),
        &[],
        &[("TOLLGATE_HTTP_HEADER_READ_TIMEOUT_SECONDS", "300")],
    );
    let pid = server.child.id();
    let client = reqwest::Client::new();
    let answered = client
        .get(format!("{}/ping", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
    // Start-up (argon2 for the operator token) has its own peak; measure only the attack's.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak RSS");
    let before = memory(pid, "VmRSS:");
    let mut attack = JoinSet::new();
    for i in 0..CONNECTIONS {
        // Spread over 20 addresses, each within its connection share.
        let from = Ipv4Addr::new(127, 0, 1, 1 + (i % 20) as u8);
        let stream = connect_from(from, &server.base).await;
        attack.spawn(unfinished_head(stream, HEAD));
    }
    // Done when the server has closed every connection, or its memory passed the bound
    // (then it buffers too much, whether or not it would ever close them).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak;
    loop {
        peak = memory(pid, "VmHWM:").saturating_sub(before);
        if peak > BOUND_KIB || attack.is_empty() || Instant::now() > deadline {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), attack.join_next()).await;
    }
    assert!(
        peak <= BOUND_KIB,
        "{CONNECTIONS} unfinished heads grew the server's RSS by {peak} KiB (bound {BOUND_KIB} KiB)"
    );
    assert!(
        attack.is_empty(),
        "the server kept unfinished heads open past their size bound"
    );
    // And the server still answers.
    let answered = client
        .get(format!("{}/ping", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_request_head_past_the_bound_is_answered_431_and_a_large_legitimate_one_is_served() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let server = TestServer::start_with(db, |_| {}).await;
    // An 8 KiB credential and a long forwarded URI, as nginx sends /authz: well inside.
    let response = server
        .client
        .get(format!("{}/ping", server.base))
        .header("Authorization", format!("Token {}", "t".repeat(8 * 1024)))
        .header(
            "X-Original-URI",
            format!("/query?db=db1&q={}", "x".repeat(16 * 1024)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, &server.base).await;
    let head = format!(
        "GET /ping HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(80 * 1024)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = read_to_close(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection is closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
}

/// A server with small limits, tuned by `adjust` too.
async fn limited(adjust: impl FnOnce(&mut tollgate::config::Config)) -> TestServer {
    let db = TestDatabase::new(Engine::Sqlite).await;
    TestServer::start_with(db, |config| {
        config.http_header_read_timeout_seconds = 30;
        config.http_body_read_timeout_seconds = 30;
        config.http_first_byte_timeout_seconds = 30;
        adjust(config);
    })
    .await
}

#[tokio::test]
async fn one_address_holding_connections_gets_only_its_share_and_others_are_still_answered() {
    let server = limited(|config| {
        config.http_max_connections = 16;
        config.http_max_connections_per_client = 4;
    })
    .await;
    let attacker = Ipv4Addr::new(127, 0, 2, 1);
    let mut held = Vec::new();
    for _ in 0..16 {
        let mut stream = connect_from(attacker, &server.base).await;
        // Unfinished heads: the header timeout (30 s) would free these slots only much later.
        let _ = stream.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n").await;
        held.push(stream);
    }
    let waited = ping_time(&server, Duration::from_secs(2)).await;
    assert!(
        waited.is_some(),
        "another client got no answer within 2 s while one address held 16 connections"
    );
    // Past its share, each connection is refused at once, saying why.
    let mut refused = 0;
    for stream in &mut held[4..] {
        let answer = read_to_close(stream, Duration::from_secs(5)).await;
        let answer = answer.expect("a connection past the share is closed");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 429"),
            "{answer:?}"
        );
        refused += 1;
    }
    assert_eq!(refused, 12);
    // The share itself is served.
    let mut first = held.swap_remove(0);
    first.write_all(b"\r\n").await.unwrap();
    assert_eq!(status_line(&mut first).await, "HTTP/1.1 204 No Content");
}

#[tokio::test]
async fn with_every_slot_held_by_idle_keep_alives_a_new_client_is_served_at_once() {
    let server = limited(|config| {
        config.http_max_connections = 4;
    })
    .await;
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 3, 1 + i), &server.base).await;
        assert_eq!(ping(&mut stream).await, "HTTP/1.1 204 No Content");
        idle.push(stream);
    }
    // Every slot is taken by a connection between requests (kept for up to 30 s).
    let waited = ping_time(&server, Duration::from_secs(2)).await;
    assert!(
        waited.is_some(),
        "a new client got no answer within 2 s while idle keep-alives held every slot"
    );
    // The idlest, the first, made room; the others were not disturbed.
    assert!(
        read_to_close(&mut idle[0], Duration::from_secs(5))
            .await
            .is_some(),
        "the idlest keep-alive is closed"
    );
    assert_eq!(ping(&mut idle[3]).await, "HTTP/1.1 204 No Content");
}

#[tokio::test]
async fn a_slow_body_nobody_vouched_for_is_cut_at_the_short_deadline_and_a_vouched_one_is_not() {
    let server = limited(|config| {
        config.http_unauthenticated_body_read_timeout_seconds = 1;
    })
    .await;
    let start = Instant::now();
    let base = server.base.clone();
    let stalled = |path: &'static str| {
        let base = base.clone();
        async move {
            let mut stream = connect_from(Ipv4Addr::LOCALHOST, &base).await;
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            stream
        }
    };
    let mut authorize = stalled("/api/v0/authorize").await;
    let mut setup = stalled("/api/v2/setup").await;
    // A body under a verified credential keeps the long deadline (30 s).
    let mut vouched = connect_from(Ipv4Addr::LOCALHOST, &server.base).await;
    let head = format!(
        "POST /api/v0/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        server.operator_token
    );
    vouched.write_all(head.as_bytes()).await.unwrap();
    // Well before the 30 s body and header deadlines.
    let bound = Duration::from_secs(10);
    let answer = read_to_close(&mut authorize, bound).await;
    let answer = answer.expect("a slow body on /api/v0/authorize is cut");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    let answer = read_to_close(&mut setup, bound).await;
    let answer = answer.expect("a slow body on /api/v2/setup is cut");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(start.elapsed() < bound);
    assert!(
        read_to_close(&mut vouched, Duration::from_millis(500))
            .await
            .is_none(),
        "an operator's slow body was cut at the short deadline"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_first_byte_deadline() {
    let server = limited(|config| {
        config.http_first_byte_timeout_seconds = 1;
    })
    .await;
    let mut silent = connect_from(Ipv4Addr::LOCALHOST, &server.base).await;
    // Well before the 30 s header deadline.
    let answer = read_to_close(&mut silent, Duration::from_secs(10)).await;
    assert_eq!(answer.as_deref(), Some(""), "a silent connection is closed");
    // One that speaks at once is served as before.
    let mut prompt = connect_from(Ipv4Addr::LOCALHOST, &server.base).await;
    assert_eq!(ping(&mut prompt).await, "HTTP/1.1 204 No Content");
}
