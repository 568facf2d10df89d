//! Closed-loop HTTP load against a running tollgate, used by `scripts/bench`.
//! Usage: loadgen BASE_URL DATABASE_TOKEN [CONNECTIONS] [SECONDS]
//! Prints one line per scenario: requests/s, p50, p99, and the ratio to /ping.

use std::time::{Duration, Instant};

use serde_json::json;

#[derive(Clone)]
enum Scenario {
    Ping,
    Authorize(String),
}

async fn run(
    base: &str,
    scenario: Scenario,
    connections: usize,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let base = base.to_owned();
        let scenario = scenario.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                let response = match &scenario {
                    Scenario::Ping => client.get(format!("{base}/ping")).send().await,
                    Scenario::Authorize(token) => {
                        client
                            .post(format!("{base}/api/v0/authorize"))
                            .json(&json!({"token": token, "permissions": [{"action": "write", "database": "bench"}]}))
                            .send()
                            .await
                    }
                };
                let response = response.expect("request");
                assert!(response.status().is_success(), "status {}", response.status());
                let _ = response.bytes().await;
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (all.len() as f64 / elapsed, all)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).expect("BASE_URL").clone();
    let token = args.get(2).expect("DATABASE_TOKEN").clone();
    let connections: usize = args.get(3).map_or(8, |s| s.parse().unwrap());
    let seconds: u64 = args.get(4).map_or(5, |s| s.parse().unwrap());
    let malformed = "apiv1_not-a-real-token".to_owned();
    let scenarios = [
        ("GET /ping (baseline)", Scenario::Ping),
        (
            "POST /api/v0/authorize, valid token (uncached: read + argon2)",
            Scenario::Authorize(token),
        ),
        (
            "POST /api/v0/authorize, malformed token (offline reject)",
            Scenario::Authorize(malformed),
        ),
    ];
    println!(
        "{connections} connections, {seconds} s per scenario, client and server on this machine"
    );
    let mut baseline = None;
    for (name, scenario) in scenarios {
        let (rps, latencies) = run(&base, scenario, connections, seconds).await;
        let base_rps = *baseline.get_or_insert(rps);
        println!(
            "{name:<66} {rps:>9.0} req/s  p50 {:>8.3} ms  p99 {:>8.3} ms  {:>5.2}x /ping throughput",
            pct(&latencies, 0.50).as_secs_f64() * 1e3,
            pct(&latencies, 0.99).as_secs_f64() * 1e3,
            rps / base_rps
        );
    }
}
