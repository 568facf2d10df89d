//! HTTP load against running tollgate servers, used by `scripts/bench`. Every figure is
//! measured in one run on one machine and read as a ratio (to `/ping` of the same server).
//!
//! Usage:
//!   loadgen http BASE DATABASE_TOKEN CONNECTIONS SECONDS
//!       /ping, /authz (cached, then at half load), /api/v0/authorize, malformed tokens,
//!       unknown ids, and a flood of wrong secrets for the cached token's id beside valid checks.
//!   loadgen create BASE OPERATOR_TOKEN COUNT CONNECTIONS OUT_FILE
//!       token creates per second through /api/v0/tokens; writes the tokens to OUT_FILE.
//!   loadgen cold BASE TOKENS_FILE CONNECTIONS
//!       a fresh replica facing every token of TOKENS_FILE at once: time to admit them all.
//!   loadgen revoke OPERATOR_TOKEN COUNT BASE1 BASE2 [BASE3…]
//!       revocations through BASE1, each timed until every other replica refuses the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

type Latencies = Vec<Duration>;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One request of a scenario, by the connection's request counter.
type MakeRequest = Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// Closed loop: `connections` clients, each sending as fast as answers come, for `seconds`.
/// `expect` is the status every answer must have.
async fn closed(
    request: MakeRequest,
    expect: &[u16],
    connections: usize,
    seconds: f64,
) -> (f64, Latencies) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (request, expect) = (request.clone(), expect.to_vec());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut latencies = Vec::new();
            let mut n = c as u64 * 1_000_000_007;
            while Instant::now() < deadline {
                let start = Instant::now();
                let response = request(&client, n).send().await.expect("request");
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                assert!(expect.contains(&status), "status {status}");
                latencies.push(start.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (all.len() as f64 / elapsed, all)
}

/// Open loop: `rate` requests per second in all, spread over `connections`, for `seconds`.
async fn paced(request: MakeRequest, rate: f64, connections: usize, seconds: f64) -> Latencies {
    let per_connection = Duration::from_secs_f64(connections as f64 / rate);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut ticks = tokio::time::interval(per_connection);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut latencies = Vec::new();
            let mut n = c as u64 * 1_000_000_007;
            while Instant::now() < deadline {
                ticks.tick().await;
                let start = Instant::now();
                let response = request(&client, n).send().await.expect("request");
                let _ = response.bytes().await;
                latencies.push(start.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all.sort();
    all
}

fn line(name: &str, rps: f64, latencies: &[Duration], baseline: f64) {
    println!(
        "{name:<62} {rps:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  {:>5.2}x /ping",
        ms(pct(latencies, 0.50)),
        ms(pct(latencies, 0.99)),
        rps / baseline
    );
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `/authz` as nginx asks it, about a v2 write to `bench`.
fn authz(base: &str, token: &str) -> MakeRequest {
    let (url, header) = (format!("{base}/authz"), format!("Token {token}"));
    Arc::new(move |client, _| {
        client
            .get(&url)
            .header("x-original-uri", "/api/v2/write?org=o&bucket=bench")
            .header("x-original-method", "POST")
            .header("authorization", &header)
    })
}

/// A well-formed token for `id`: a real id with a made-up secret, or an unknown id.
fn forged(kind_prefix: &str, id: &str, n: u64) -> String {
    // 42 digits and an `A`: 43 base64url characters whose last one carries no stray bits.
    let secret = format!("{:042}A", n % 10u64.pow(18));
    let mut token = format!("{kind_prefix}{id}{secret}");
    let checksum = crc32fast::hash(token.as_bytes());
    token.push_str(&format!("{checksum:08x}"));
    token
}

/// `request` for `seconds`, with `/ping` measured just before it for as long: the machine's
/// speed drifts between scenarios, so each ratio is to its own neighbouring baseline.
async fn against_ping(
    base: &str,
    name: &str,
    request: MakeRequest,
    expect: &[u16],
    connections: usize,
    seconds: f64,
) -> f64 {
    let ping_url = format!("{base}/ping");
    let ping: MakeRequest = Arc::new(move |client, _| client.get(&ping_url));
    let (baseline, _) = closed(ping, &[204], connections, seconds).await;
    let (rps, latencies) = closed(request, expect, connections, seconds).await;
    line(name, rps, &latencies, baseline);
    rps
}

async fn http(base: String, token: String, connections: usize, seconds: f64) {
    println!(
        "{connections} connections, {seconds} s per scenario, client and server on this machine"
    );
    println!("(each ratio is to GET /ping measured just before the scenario, for as long)");
    let ping_url = format!("{base}/ping");
    let ping: MakeRequest = Arc::new(move |client, _| client.get(&ping_url));
    let (baseline, latencies) = closed(ping.clone(), &[204], connections, seconds).await;
    line("GET /ping (baseline)", baseline, &latencies, baseline);

    let rps = against_ping(
        &base,
        "/authz, cached valid token",
        authz(&base, &token),
        &[204],
        connections,
        seconds,
    )
    .await;
    let half = paced(authz(&base, &token), rps / 2.0, connections, seconds).await;
    let floor = paced(ping, rps / 2.0, connections, seconds).await;
    for (name, latencies) in [
        (
            format!(
                "/authz, cached valid token at half that load ({:.0}/s)",
                rps / 2.0
            ),
            &half,
        ),
        (
            "GET /ping at that same load (the machine's floor)".to_owned(),
            &floor,
        ),
    ] {
        println!(
            "{name:<62} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
            latencies.len() as f64 / seconds,
            ms(pct(latencies, 0.50)),
            ms(pct(latencies, 0.99)),
        );
    }

    let url = format!("{base}/api/v0/authorize");
    let body = json!({"token": token, "permissions": [{"action": "write", "database": "bench"}]});
    let authorize: MakeRequest = Arc::new(move |client, _| client.post(&url).json(&body));
    against_ping(
        &base,
        "POST /api/v0/authorize, cached valid token",
        authorize,
        &[200],
        connections,
        seconds,
    )
    .await;

    against_ping(
        &base,
        "/authz, malformed token",
        authz(&base, "apiv1_not-a-real-token"),
        &[403],
        connections,
        seconds,
    )
    .await;

    // 1000 unknown ids, cycled: each is read once, then remembered as unknown for a while.
    let unknown: Arc<Vec<String>> = Arc::new(
        (0..1000u64)
            .map(|n| forged("apiv1_", &format!("{:016x}", 0xdead_0000_0000_0000 + n), n))
            .collect(),
    );
    let url = format!("{base}/authz");
    let unknown_request: MakeRequest = Arc::new(move |client, n| {
        client
            .get(&url)
            .header("x-original-uri", "/api/v2/write?bucket=bench")
            .header("x-original-method", "POST")
            .header(
                "authorization",
                format!("Token {}", unknown[(n % 1000) as usize]),
            )
    });
    against_ping(
        &base,
        "/authz, unknown ids (1000, cycled)",
        unknown_request,
        &[403],
        connections,
        seconds,
    )
    .await;

    // A second client floods wrong secrets for the valid token's id at full speed.
    let id = &token[6..22];
    let verified_before = metric(&base, "tollgate_argon2_verifications_total").await;
    let url = format!("{base}/authz");
    let (prefix, id) = ("apiv1_".to_owned(), id.to_owned());
    let flood: MakeRequest = Arc::new(move |client, n| {
        client
            .get(&url)
            .header("x-original-uri", "/api/v2/write?bucket=bench")
            .header("x-original-method", "POST")
            .header(
                "authorization",
                format!("Token {}", forged(&prefix, &id, n)),
            )
    });
    let flooding = tokio::spawn(closed(flood, &[403, 429], connections / 2, seconds));
    let (rps, latencies) = closed(authz(&base, &token), &[204], connections / 2, seconds).await;
    let (flood_rps, _) = flooding.await.expect("flood");
    let verified = metric(&base, "tollgate_argon2_verifications_total").await - verified_before;
    line(
        "/authz, cached valid token beside a wrong-secret flood",
        rps,
        &latencies,
        baseline,
    );
    println!(
        "  the flood: {flood_rps:.0} wrong secrets/s for the cached id, {verified} argon2 verifications"
    );
}

async fn create(base: String, operator: String, count: usize, connections: usize, out: String) {
    let next = Arc::new(AtomicUsize::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/api/v0/tokens");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, url, operator, busy) =
            (next.clone(), url.clone(), operator.clone(), busy.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut made = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                loop {
                    let response = client
                        .post(&url)
                        .bearer_auth(&operator)
                        .json(&json!({"description": "bench", "permissions": [{"action": "write", "resource": "bench"}]}))
                        .send()
                        .await
                        .expect("create");
                    if response.status().as_u16() == 503 {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    assert_eq!(response.status().as_u16(), 200, "create");
                    let body: serde_json::Value = response.json().await.expect("json");
                    made.push(body["accessToken"].as_str().expect("token").to_owned());
                    break;
                }
            }
            made
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "token creates, {connections} clients: {count} in {elapsed:.2} s = {:.0} creates/s ({} answers were 503, retried)",
        count as f64 / elapsed,
        busy.load(Ordering::Relaxed)
    );
    std::fs::write(out, tokens.join("\n")).expect("write tokens");
}

async fn cold(base: String, tokens: String, connections: usize) {
    let tokens: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(tokens)
            .expect("tokens file")
            .lines()
            .map(str::to_owned)
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let (unavailable, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (tokens, next, url) = (tokens.clone(), next.clone(), format!("{base}/authz"));
        let (unavailable, refused) = (unavailable.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                loop {
                    let response = client
                        .get(&url)
                        .header("x-original-uri", "/api/v2/write?bucket=bench")
                        .header("x-original-method", "POST")
                        .header("authorization", format!("Token {token}"))
                        .send()
                        .await
                        .expect("authz");
                    match response.status().as_u16() {
                        204 => break,
                        503 => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    println!(
        "cold start: {} distinct valid tokens, {connections} at a time, all answered in {:.2} s; 4xx: {}, 503s retried: {}",
        tokens.len(),
        started.elapsed().as_secs_f64(),
        refused.load(Ordering::Relaxed),
        unavailable.load(Ordering::Relaxed)
    );
}

async fn revoke(operator: String, count: usize, bases: Vec<String>) {
    let client = client();
    let (first, others) = bases.split_first().expect("replicas");
    let mut delays = Vec::new();
    for _ in 0..count {
        let created: serde_json::Value = client
            .post(format!("{first}/api/v0/tokens"))
            .bearer_auth(&operator)
            .json(&json!({"description": "bench", "permissions": [{"action": "write", "resource": "bench"}]}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let (id, token) = (
            created["id"].as_str().expect("id"),
            created["accessToken"].as_str().expect("token"),
        );
        for base in others {
            let status = authz(base, token)(&client, 0)
                .send()
                .await
                .expect("warm")
                .status();
            assert_eq!(status.as_u16(), 204, "warm");
        }
        let response = client
            .delete(format!("{first}/api/v0/tokens/{id}"))
            .bearer_auth(&operator)
            .send()
            .await
            .expect("revoke");
        let revoked = Instant::now();
        assert_eq!(response.status().as_u16(), 204);
        let mut waits = Vec::new();
        for base in others {
            let (client, request) = (client.clone(), authz(base, token));
            waits.push(tokio::spawn(async move {
                loop {
                    let status = request(&client, 0)
                        .send()
                        .await
                        .expect("poll")
                        .status()
                        .as_u16();
                    if status == 403 {
                        return revoked.elapsed();
                    }
                    assert!(
                        revoked.elapsed() < Duration::from_secs(120),
                        "never refused"
                    );
                }
            }));
        }
        for wait in waits {
            delays.push(wait.await.expect("wait"));
        }
    }
    delays.sort();
    println!(
        "revocation through one replica seen refused by {} others: {} observations, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        others.len(),
        delays.len(),
        ms(pct(&delays, 0.5)),
        ms(pct(&delays, 0.99)),
        ms(*delays.last().unwrap_or(&Duration::ZERO))
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i).cloned().unwrap_or_else(|| {
            panic!("missing argument {i}; see the usage at the top of examples/loadgen.rs")
        })
    };
    let number = |i: usize| arg(i).parse::<usize>().expect("a number");
    match arg(0).as_str() {
        "http" => http(arg(1), arg(2), number(3), arg(4).parse().expect("seconds")).await,
        "create" => create(arg(1), arg(2), number(3), number(4), arg(5)).await,
        "cold" => cold(arg(1), arg(2), number(3)).await,
        "revoke" => revoke(arg(1), number(2), args[3..].to_vec()).await,
        other => panic!("unknown mode {other}; see the usage at the top of examples/loadgen.rs"),
    }
}
