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
use prometheus_client::registry::Registry;
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
/// servers in one process, as in the tests, count apart).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    refusals: Family<RefusalLabels, Counter>,
    panics: Counter,
    unaudited: Counter,
    hashes: Gauge,
    /// Reads the hashing pool's load when `/metrics` is rendered.
    hash_load: Arc<std::sync::OnceLock<Box<dyn Fn() -> usize + Send + Sync>>>,
    refusal_log: Arc<LimitedLog>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    surface: &'static str,
    reason: &'static str,
}

/// A log line written at most once per period, counting the occurrences not logged since:
/// a flood must not become a flood of log lines.
struct LimitedLog {
    limiter: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
}

impl LimitedLog {
    fn every(period: Duration) -> Self {
        LimitedLog {
            limiter: RateLimiter::direct(
                Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)),
            ),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(occurrences not logged since the last line)` when a line may be written now.
    fn may_log(&self) -> Option<u64> {
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
        let hashes = Gauge::default();
        registry.register(
            "argon2_in_flight",
            "argon2 hashes running or waiting for a hashing thread",
            hashes.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            refusals,
            panics,
            unaudited,
            hashes,
            hash_load: Arc::default(),
            refusal_log: Arc::new(LimitedLog::every(Duration::from_secs(
                REFUSAL_LOG_INTERVAL_SECONDS,
            ))),
        }
    }

    /// A call refused before its credential was verified: counted, and logged at most once
    /// per interval with the number of refusals not logged since.
    pub fn unverified_refusal(&self, surface: &'static str, reason: &'static str) {
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

    /// Where `tollgate_argon2_in_flight` is read from (the first call wins).
    pub fn track_hashes(&self, in_flight: impl Fn() -> usize + Send + Sync + 'static) {
        let _ = self.hash_load.set(Box::new(in_flight));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        if let Some(in_flight) = self.hash_load.get() {
            self.hashes
                .set(i64::try_from(in_flight()).unwrap_or(i64::MAX));
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
