//! Structured logs to stderr, as text or JSON, and the counters `/metrics` exposes. Tokens,
//! `Authorization` and `p=` never reach a log line or a label: request spans carry only the
//! method and the route template.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use prometheus_client::registry::Unit;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Counters for `/metrics`, one registry per application (no process-wide recorder, so
/// servers in one process, as in the tests, count apart). Behind one reference count:
/// middleware clones it for every request.
#[derive(Clone)]
pub struct Metrics(Arc<Registered>);

impl std::ops::Deref for Metrics {
    type Target = Registered;

    fn deref(&self) -> &Registered {
        &self.0
    }
}

/// The registry and the handles to what it holds.
pub struct Registered {
    registry: Registry,
    refusals: Family<RefusalLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    requests: Family<RequestLabels, Histogram>,
    rate_limited: Counter,
    panics: Counter,
    unaudited: Counter,
    cache: CacheCounters,
    hashes: Gauge,
    hash_busy: Family<LaneLabels, Gauge>,
    hash_queued: Family<LaneLabels, Gauge>,
    cache_entries: Gauge,
    /// Read the hashing pool's load and the cache's size when `/metrics` is rendered.
    gauges: std::sync::OnceLock<Box<dyn Fn() -> Readings + Send + Sync>>,
    refusal_log: LimitedLog,
}

/// What `/metrics` reads at render time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Readings {
    pub cache_entries: usize,
    /// Per lane (database, management): hashes running, and waiting for a thread.
    pub hashing: [(&'static str, usize, usize); 2],
}

/// The verified-token cache's counters, shared with the cache itself.
#[derive(Clone, Default)]
pub struct CacheCounters {
    pub hits: Counter,
    pub misses: Counter,
    pub evictions: Counter,
    /// Token ids invalidated by notifications from other replicas.
    pub invalidations: Counter,
    pub listener_reconnects: Counter,
    pub argon2_verifications: Counter,
    /// Token reads the verifier made (misses past every limit, and re-reads).
    pub store_reads: Counter,
    /// Ids outside the known set refused because the replica's budget was spent.
    pub unknown_budget_spent: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    surface: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    surface: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabels {
    lane: &'static str,
}

/// Request latency buckets, in seconds: a decision served from memory takes tens of
/// microseconds, so they start at 25 µs.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5,
];

/// A log line written at most once per period, counting the occurrences not logged since:
/// a flood must not become a flood of log lines.
pub struct LimitedLog {
    limiter: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
}

impl LimitedLog {
    pub fn every(period: Duration) -> Self {
        LimitedLog {
            limiter: RateLimiter::direct(
                Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)),
            ),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(occurrences not logged since the last line)` when a line may be written now.
    pub fn may_log(&self) -> Option<u64> {
        if self.limiter.check().is_ok() {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// One refusal line per this many seconds at most.
const REFUSAL_LOG_INTERVAL_SECONDS: u64 = 10;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "auth_refusals",
            "Calls refused before a credential was verified, by surface and reason",
            refusals.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Data-path decisions (/authz, /api/v0/authorize) by surface, outcome and reason",
            decisions.clone(),
        );
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route template, method and status, with their latency",
            Unit::Seconds,
            requests.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited_refusals",
            "Verifications refused (429) because their address or token id failed too often",
            rate_limited.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "handler_panics",
            "Requests whose handler panicked (answered 500)",
            panics.clone(),
        );
        let unaudited = Counter::default();
        registry.register(
            "audit_refusals_suppressed",
            "Refusals of verified callers over their per-minute audit budget, counted instead of written",
            unaudited.clone(),
        );
        let cache = CacheCounters::default();
        for (name, help, counter) in [
            (
                "verify_cache_hits",
                "Verifications decided from the cache",
                &cache.hits,
            ),
            (
                "verify_cache_misses",
                "Verifications that read the store",
                &cache.misses,
            ),
            (
                "verify_cache_evictions",
                "Cached tokens pushed out by the size bound",
                &cache.evictions,
            ),
            (
                "verify_invalidations",
                "Token ids invalidated (or created) by another replica's change notification",
                &cache.invalidations,
            ),
            (
                "verify_listener_reconnects",
                "Reconnections of the change listener (each flushes the cache)",
                &cache.listener_reconnects,
            ),
            (
                "argon2_verifications",
                "argon2id verifications of presented tokens",
                &cache.argon2_verifications,
            ),
            (
                "verify_store_reads",
                "Token reads from the store by the verifier (misses and re-reads)",
                &cache.store_reads,
            ),
            (
                "verify_unknown_budget_refusals",
                "Token ids not known to exist, refused unread: the replica's budget for reading them was spent",
                &cache.unknown_budget_spent,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        let cache_entries = Gauge::default();
        registry.register(
            "verify_cache_entries",
            "Verified tokens held in memory",
            cache_entries.clone(),
        );
        let hashes = Gauge::default();
        registry.register(
            "argon2_in_flight",
            "argon2 hashes running or waiting for a hashing thread",
            hashes.clone(),
        );
        let hash_busy = Family::<LaneLabels, Gauge>::default();
        registry.register(
            "argon2_busy",
            "argon2 hashes running, by lane",
            hash_busy.clone(),
        );
        let hash_queued = Family::<LaneLabels, Gauge>::default();
        registry.register(
            "argon2_queued",
            "argon2 hashes waiting for a thread, by lane",
            hash_queued.clone(),
        );
        Metrics(Arc::new(Registered {
            registry,
            refusals,
            decisions,
            requests,
            rate_limited,
            panics,
            unaudited,
            cache,
            hashes,
            hash_busy,
            hash_queued,
            cache_entries,
            gauges: std::sync::OnceLock::new(),
            refusal_log: LimitedLog::every(Duration::from_secs(REFUSAL_LOG_INTERVAL_SECONDS)),
        }))
    }

    /// The counters the verified-token cache updates.
    pub fn cache_counters(&self) -> CacheCounters {
        self.cache.clone()
    }

    /// A data-path decision.
    pub fn decision(&self, surface: &'static str, reason: &'static str) {
        if reason == "rate_limited" {
            self.rate_limited.inc();
        }
        let outcome = match reason {
            "valid" => "allow",
            "unavailable" => "error",
            _ => "deny",
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                surface,
                outcome,
                reason,
            })
            .inc();
    }

    /// One answered request, by route template (never the raw path, which may carry `p=`).
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: match method {
                    "GET" => "GET",
                    "POST" => "POST",
                    "PUT" => "PUT",
                    "PATCH" => "PATCH",
                    "DELETE" => "DELETE",
                    "HEAD" => "HEAD",
                    "OPTIONS" => "OPTIONS",
                    // Any method reaches `/authz`: a label per invented one would grow without bound.
                    _ => "other",
                },
                status,
            })
            .observe(seconds);
    }

    /// A call refused before its credential was verified: counted, and logged at most once
    /// per interval with the number of refusals not logged since.
    pub fn unverified_refusal(&self, surface: &'static str, reason: &'static str) {
        if reason == "rate_limited" {
            self.rate_limited.inc();
        }
        self.refusals
            .get_or_create(&RefusalLabels { surface, reason })
            .inc();
        if let Some(suppressed) = self.refusal_log.may_log() {
            tracing::info!(
                surface,
                reason,
                suppressed,
                "call refused: credential not verified"
            );
        }
    }

    pub fn refusal_not_audited(&self) {
        self.unaudited.inc();
    }

    pub fn panicked(&self) {
        self.panics.inc();
    }

    /// Where the gauges are read from at render time (the first call wins).
    pub fn read_gauges(&self, read: impl Fn() -> Readings + Send + Sync + 'static) {
        let _ = self.gauges.set(Box::new(read));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        if let Some(read) = self.gauges.get() {
            let readings = read();
            let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.cache_entries.set(gauge(readings.cache_entries));
            let mut in_flight = 0;
            for (lane, busy, queued) in readings.hashing {
                self.hash_busy
                    .get_or_create(&LaneLabels { lane })
                    .set(gauge(busy));
                self.hash_queued
                    .get_or_create(&LaneLabels { lane })
                    .set(gauge(queued));
                in_flight += busy + queued;
            }
            self.hashes.set(gauge(in_flight));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Logs that we answered 503, at most once a second with the number not logged since: an
/// overload must not also flood the logs.
pub fn unavailable(detail: &str) {
    static LOG: std::sync::LazyLock<LimitedLog> =
        std::sync::LazyLock::new(|| LimitedLog::every(Duration::from_secs(1)));
    if let Some(suppressed) = LOG.may_log() {
        tracing::warn!(error = %detail, suppressed, "answering 503");
    }
}
