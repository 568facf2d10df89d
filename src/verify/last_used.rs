//! `last_used_at`, written behind: a successful check notes its token at most once per flush
//! interval per replica, and a background task writes each interval's batch in one
//! statement, never a write per request.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use time::OffsetDateTime;

use crate::store::Store;
use crate::token::TokenId;

/// Pending ids per batch at most; past this, uses wait for the next interval's note.
const MAX_BATCH: usize = 10_000;

pub struct LastUsed {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    interval: Duration,
    /// When each token was last noted, so a hot token is noted once per interval.
    noted: Cache<u64, Instant>,
    /// Each noted token with the time of its use.
    pending: Mutex<Vec<(TokenId, OffsetDateTime)>>,
}

impl LastUsed {
    /// Starts the flushing task (it ends when this is dropped).
    pub fn new(store: Store, interval: Duration) -> Self {
        let shared = Arc::new(Shared {
            store,
            interval,
            noted: Cache::new(MAX_BATCH * 4),
            pending: Mutex::new(Vec::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(flush_every(Arc::downgrade(&shared), interval));
        }
        LastUsed { shared }
    }

    /// Notes a successful use of `id`.
    pub fn used(&self, id: &TokenId) {
        let now = Instant::now();
        let key = id.key();
        if self
            .shared
            .noted
            .get(&key)
            .is_some_and(|at| now.duration_since(at) < self.shared.interval)
        {
            return;
        }
        self.shared.noted.insert(key, now);
        if let Ok(mut pending) = self.shared.pending.lock()
            && pending.len() < MAX_BATCH
        {
            pending.push((id.clone(), crate::token::now()));
        }
    }

    pub async fn flush(&self) {
        self.shared.flush().await;
    }
}

impl Shared {
    async fn flush(&self) {
        let batch = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.store.touch_tokens(&batch).await {
            // Last use is informational: a batch lost to an outage is not retried.
            tracing::warn!(error = %e, tokens = batch.len(), "could not record last use");
        }
    }
}

async fn flush_every(shared: Weak<Shared>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.flush().await;
    }
}
