//! Verifying a presented token, data path and management alike: parse (no I/O); a cache hit
//! decides from memory; a miss makes one indexed read and one argon2id check on the bounded
//! pool, shared by concurrent misses for the same id; failures are rate-limited.

pub mod cache;
pub mod known;
pub mod last_used;
pub mod limits;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::instrument;

use crate::config::{HashParams, VerifyConfig};
use crate::store::{Store, StoreError};
use crate::telemetry::CacheCounters;
use crate::token::hashing::{HashPool, PoolError};
use crate::token::{self, Token, TokenId, TokenKind, Unusable, format};

use cache::{Entry, Lookup, TokenCache};
use last_used::LastUsed;
use limits::FailureLimits;

/// How long a caller waits for another's re-read of a stale entry it may not answer from.
const REFRESH_WAIT: Duration = Duration::from_secs(1);

/// Why a presented token was not accepted. None of these carry the token.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("malformed token")]
    Malformed,
    #[error("unknown token")]
    NotFound,
    /// A live token id with the wrong secret; surfaces answer it exactly as
    /// [`Rejection::NotFound`].
    #[error("unknown token")]
    WrongSecret,
    /// Too many failed verifications from this address or for this id: retry after this long.
    #[error("too many failed verifications")]
    RateLimited(Duration),
    #[error("token is {0:?}")]
    Unusable(Unusable),
    #[error("our own failure: {0}")]
    Unavailable(String),
}

impl From<StoreError> for Rejection {
    fn from(err: StoreError) -> Self {
        Rejection::Unavailable(err.to_string())
    }
}

impl From<PoolError> for Rejection {
    fn from(err: PoolError) -> Self {
        Rejection::Unavailable(err.to_string())
    }
}

/// Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    pool: HashPool,
    cache: Arc<TokenCache>,
    limits: FailureLimits,
    last_used: LastUsed,
    /// The cost new hashes are made with: a verified hash below it is replaced.
    params: [(TokenKind, HashParams); 2],
}

impl Verifier {
    pub fn new(
        store: Store,
        pool: HashPool,
        config: &VerifyConfig,
        params: [(TokenKind, HashParams); 2],
        counters: CacheCounters,
    ) -> Result<Self, format::RandomnessError> {
        let cache = Arc::new(TokenCache::new(config, counters)?);
        store.watch_changes(cache.clone());
        Ok(Verifier {
            inner: Arc::new(Inner {
                last_used: LastUsed::new(
                    store.clone(),
                    Duration::from_secs(config.last_used_flush_seconds),
                ),
                store,
                pool,
                cache,
                limits: FailureLimits::new(
                    config.failures_per_address_per_minute,
                    config.failures_per_token_per_minute,
                ),
                params,
            }),
        })
    }

    /// Verified tokens held in memory now.
    pub fn cached(&self) -> usize {
        self.inner.cache.len()
    }

    /// Writes the pending last-use times now (at shutdown).
    pub async fn flush_last_used(&self) {
        self.inner.last_used.flush().await;
    }

    /// Returns the token when `presented` is a live token of one of `kinds`. `client`, the
    /// address the call came from, pays for failures (see [`limits`]).
    #[instrument(level = "debug", skip_all, fields(token_id))]
    pub async fn verify(
        &self,
        presented: &str,
        kinds: &[TokenKind],
        client: Option<IpAddr>,
    ) -> Result<Arc<Token>, Rejection> {
        let inner = &*self.inner;
        let (kind, key) = format::parse_key(presented).map_err(|_| Rejection::Malformed)?;
        if !kinds.contains(&kind) {
            return Err(Rejection::NotFound);
        }
        let digest = inner.cache.digest(presented);
        let mut waited = false;
        let now = loop {
            let now = Instant::now();
            let entry = match inner.cache.lookup(key, now) {
                Lookup::Fresh(entry) => {
                    inner.cache.counters().hits.inc();
                    return self.decide_cached(&entry, &digest, client);
                }
                Lookup::Stale(entry) => entry,
                Lookup::Missing => break now,
            };
            if !entry.matches(&digest) {
                return self.decide_cached(&entry, &digest, client);
            }
            let Some(_claim) = entry.claim_refresh() else {
                // Another caller is re-reading it: meanwhile the entry answers only within
                // the stale bound; past it, the re-read does (once: a second wait means the
                // store is failing, which the re-reader's answer already told).
                if entry.serves_stale(now) {
                    inner.cache.counters().hits.inc();
                    return self.decide(&entry.token);
                }
                if waited {
                    return Err(Rejection::Unavailable(
                        "a cached token could not be confirmed by the store".into(),
                    ));
                }
                // Bounded: a store that hangs must not hold every caller of a hot token.
                if tokio::time::timeout(REFRESH_WAIT, entry.refreshed())
                    .await
                    .is_err()
                {
                    return Err(Rejection::Unavailable(
                        "a cached token's re-read did not end in time".into(),
                    ));
                }
                waited = true;
                continue;
            };
            // The holder of the secret re-reads: no failure limit applies to it.
            inner.cache.counters().misses.inc();
            if let Some(answer) = self.refresh(key, &entry, now).await {
                return answer;
            }
            break now;
        };
        if let Some(wait) = inner.limits.retry_after(client, Some(key)) {
            return Err(Rejection::RateLimited(wait));
        }
        inner.cache.counters().misses.inc();
        let id = TokenId::from_key(key);
        tracing::Span::current().record("token_id", id.as_str());
        if inner.cache.known_unknown(key, now) {
            inner.limits.failed(client, None);
            return Err(Rejection::NotFound);
        }
        let guard = match inner.cache.get_or_guard(key).await {
            // Another caller's miss for this id filled it meanwhile.
            Ok(entry) => return self.decide_cached(&entry, &digest, client),
            Err(guard) => guard,
        };
        // Waiting for the guard, the caller may have seen others' failures use the limit up,
        // or find the id unknown: asked again, so a queue of wrong secrets runs no argon2.
        if let Some(wait) = inner.limits.retry_after(client, Some(key)) {
            return Err(Rejection::RateLimited(wait));
        }
        if inner.cache.known_unknown(key, now) {
            inner.limits.failed(client, None);
            return Err(Rejection::NotFound);
        }
        self.keep_known_ids_current();
        if !inner.cache.known().may_read(key) {
            inner.cache.counters().unknown_budget_spent.inc();
            inner.limits.failed(client, None);
            return Err(Rejection::NotFound);
        }
        let generation = inner.cache.generation();
        inner.cache.counters().store_reads.inc();
        let Some(stored) = inner.store.find_token(&id).await? else {
            inner.cache.remember_unknown(key, now, generation);
            inner.limits.failed(client, None);
            return Err(Rejection::NotFound);
        };
        // Read within the budget before its notification came: known from now on.
        inner.cache.known().add([key]);
        if stored.kind != kind {
            inner.limits.failed(client, None);
            return Err(Rejection::NotFound);
        }
        // The secret is checked before anything about the token is told: without it, a
        // revoked, expired or inactive token reads exactly as an unknown one.
        inner.cache.counters().argon2_verifications.inc();
        let matches = inner
            .pool
            .verify(kind, presented.to_owned(), stored.secret_hash.clone())
            .await?;
        if !matches {
            inner.limits.failed(client, Some(key));
            return Err(Rejection::WrongSecret);
        }
        self.rehash_if_weak(&stored, presented);
        let token = Arc::new(stored);
        let entry = inner.cache.entry(digest, token.clone(), now);
        inner.cache.fill(guard, entry, generation);
        self.decide(&token)
    }

    /// Loads the ids that exist, in the background, at the first miss and after
    /// notifications may have been missed; meanwhile every id may be read.
    fn keep_known_ids_current(&self) {
        let Some(epoch) = self.inner.cache.known().claim_load() else {
            return;
        };
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let known = inner.cache.known();
            match inner.store.token_ids().await {
                Ok(ids) => known.loaded(ids.iter().map(TokenId::key), epoch),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load the token ids; retrying at the next miss");
                    known.failed();
                }
            }
        });
    }

    /// A cached id: the digest says whether this is its secret, with no argon2.
    fn decide_cached(
        &self,
        entry: &Entry,
        digest: &blake3::Hash,
        client: Option<IpAddr>,
    ) -> Result<Arc<Token>, Rejection> {
        if !entry.matches(digest) {
            // Costs nothing, but an address over its limit hears 429 for every failure.
            if let Some(wait) = self.inner.limits.retry_after(client, None) {
                return Err(Rejection::RateLimited(wait));
            }
            self.inner.limits.failed(client, None);
            return Err(Rejection::WrongSecret);
        }
        self.decide(&entry.token)
    }

    fn decide(&self, token: &Arc<Token>) -> Result<Arc<Token>, Rejection> {
        match token.unusable_at(token::now()) {
            Some(reason) => Err(Rejection::Unusable(reason)),
            None => {
                self.inner.last_used.used(&token.id);
                Ok(token.clone())
            }
        }
    }

    /// A verified entry past its TTL: the store says whether it still stands. When the
    /// store cannot answer, the entry does, within `stale_if_error_seconds`. `None`: the
    /// token was deleted or its hash replaced, so it must be verified from scratch.
    async fn refresh(
        &self,
        key: u64,
        entry: &Entry,
        now: Instant,
    ) -> Option<Result<Arc<Token>, Rejection>> {
        let inner = &*self.inner;
        let generation = inner.cache.generation();
        inner.cache.counters().store_reads.inc();
        match inner.store.find_token(&entry.token.id).await {
            Ok(Some(stored)) if stored.secret_hash == entry.token.secret_hash => {
                let token = Arc::new(stored);
                let fresh = inner.cache.entry(*entry.digest(), token.clone(), now);
                inner.cache.replace(key, fresh, generation);
                Some(self.decide(&token))
            }
            Ok(_) => {
                inner.cache.forget(key);
                None
            }
            Err(err) if err.is_unavailable() && entry.serves_stale(now) => {
                tracing::debug!(error = %err, "store unreachable: serving a cached decision");
                Some(self.decide(&entry.token))
            }
            Err(err) => Some(Err(err.into())),
        }
    }

    /// Replaces a hash made with less than the configured cost, in the background: the
    /// raised cost is paid once, not on every cold check.
    fn rehash_if_weak(&self, stored: &Token, presented: &str) {
        let Some(wanted) = self
            .inner
            .params
            .iter()
            .find(|(kind, _)| *kind == stored.kind)
            .map(|(_, params)| *params)
        else {
            return;
        };
        if !hash_is_weaker(&stored.secret_hash, wanted) {
            return;
        }
        let (inner, id, kind, old) = (
            self.inner.clone(),
            stored.id.clone(),
            stored.kind,
            stored.secret_hash.clone(),
        );
        let plain = presented.to_owned();
        tokio::spawn(async move {
            match inner.pool.hash(kind, plain).await {
                Ok(new) => match inner.store.rehash_token(&id, &old, &new).await {
                    Ok(replaced) => {
                        tracing::info!(token_id = %id, replaced, "token hash raised to the configured cost")
                    }
                    Err(e) => {
                        tracing::warn!(token_id = %id, error = %e, "could not store a raised token hash")
                    }
                },
                Err(e) => tracing::debug!(token_id = %id, error = %e, "rehash postponed"),
            }
        });
    }
}

/// Whether a stored PHC string was made with less memory or fewer passes than `wanted`.
fn hash_is_weaker(phc: &str, wanted: HashParams) -> bool {
    let Some(params) = phc.split('$').nth(3) else {
        return false;
    };
    let mut memory = None;
    let mut iterations = None;
    for pair in params.split(',') {
        match pair.split_once('=') {
            Some(("m", v)) => memory = v.parse::<u32>().ok(),
            Some(("t", v)) => iterations = v.parse::<u32>().ok(),
            _ => {}
        }
    }
    match (memory, iterations) {
        (Some(m), Some(t)) => m < wanted.memory_kib || t < wanted.iterations,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_weaker_when_it_has_less_memory_or_fewer_passes() {
        let wanted = HashParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        };
        let phc = |m: u32, t: u32| format!("$argon2id$v=19$m={m},t={t},p=1$c2FsdA$aGFzaA");
        assert!(hash_is_weaker(&phc(1024, 2), wanted));
        assert!(hash_is_weaker(&phc(19_456, 1), wanted));
        assert!(!hash_is_weaker(&phc(19_456, 2), wanted));
        assert!(!hash_is_weaker(&phc(65_536, 3), wanted));
        assert!(!hash_is_weaker("not a phc string", wanted));
    }
}
