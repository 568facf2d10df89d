//! Verified tokens held in memory, keyed by token id and confirmed by a keyed BLAKE3 digest
//! of the whole presented string, so a hit decides with no I/O and no argon2.
//!
//! quick_cache was chosen over moka by `benches/cache.rs` (hits from 8 threads). Its
//! placeholder guards give the single flight: concurrent misses for one id wait for the
//! first one's store read and argon2 check. Entries outlive their TTL by
//! `stale_if_error_seconds`, so they can still answer while the store is unreachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, PlaceholderGuard};
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter};

use super::known::KnownIds;
use crate::config::VerifyConfig;
use crate::store::TokenChanges;
use crate::telemetry::CacheCounters;
use crate::token::{Token, TokenId};

/// A token whose secret was verified, with when that stops being trusted.
pub struct Entry {
    digest: blake3::Hash,
    pub token: Arc<Token>,
    /// Until then the entry decides alone; after, the store is asked again.
    fresh_until: Instant,
    /// Until then the entry may still answer when the store cannot.
    usable_until: Instant,
    /// Until then a re-read that finds the same hash renews the entry with no argon2.
    refreshable_until: Instant,
    /// One caller at a time re-reads a stale entry; the others answer from it meanwhile
    /// within `stale_if_error_seconds`, and past that wait for the re-read.
    refreshing: tokio::sync::Mutex<()>,
}

impl Entry {
    /// Whether `digest` is this entry's (constant-time: `blake3::Hash` compares so).
    pub fn matches(&self, digest: &blake3::Hash) -> bool {
        self.digest == *digest
    }

    pub fn digest(&self) -> &blake3::Hash {
        &self.digest
    }

    /// Whether the entry may still answer, at `now`, for a store that cannot.
    pub fn serves_stale(&self, now: Instant) -> bool {
        now < self.usable_until
    }

    /// Makes this caller the one that re-reads the stale entry, if no other is: the claim
    /// ends when dropped (a re-read that failed, or whose caller went away, frees it).
    pub fn claim_refresh(&self) -> Option<RefreshClaim<'_>> {
        self.refreshing.try_lock().ok()
    }

    /// Waits until no caller holds the claim (its re-read has ended, however it ended).
    pub async fn refreshed(&self) {
        drop(self.refreshing.lock().await);
    }
}

/// One caller's right to re-read a stale entry.
pub type RefreshClaim<'a> = tokio::sync::MutexGuard<'a, ()>;

/// What the cache holds for a token id, as of `now`.
pub enum Lookup {
    /// Verified and within its TTL.
    Fresh(Arc<Entry>),
    /// Past its TTL: re-read (with no argon2), or served if the store is down and it is
    /// within `stale_if_error_seconds`.
    Stale(Arc<Entry>),
    /// Nothing usable.
    Missing,
}

type Entries = Cache<u64, Arc<Entry>, UnitWeighter, DefaultHashBuilder, Evictions>;

/// The guard a miss holds while it reads the store and verifies: others for the same id wait.
pub type MissGuard<'a> =
    PlaceholderGuard<'a, u64, Arc<Entry>, UnitWeighter, DefaultHashBuilder, Evictions>;

/// Counts entries pushed out by capacity (not removals).
#[derive(Clone)]
pub struct Evictions(CacheCounters);

impl Lifecycle<u64, Arc<Entry>> for Evictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut Self::RequestState, _key: u64, _val: Arc<Entry>) {
        self.0.evictions.inc();
    }
}

pub struct TokenCache {
    entries: Entries,
    /// Token ids the store does not know, until when.
    unknown: Cache<u64, Instant>,
    /// The per-process key of the digest: never stored, never shown.
    digest_key: [u8; 32],
    /// Bumped by every invalidation: a miss that began before one must not cache what it read.
    generation: AtomicU64,
    ttl: Duration,
    stale: Duration,
    unknown_ttl: Duration,
    counters: CacheCounters,
    known: KnownIds,
}

impl TokenCache {
    pub fn new(
        config: &VerifyConfig,
        counters: CacheCounters,
    ) -> Result<Self, crate::token::format::RandomnessError> {
        let mut digest_key = [0u8; 32];
        crate::token::format::os_random(&mut digest_key)?;
        let capacity = config.cache_entries.max(1);
        Ok(TokenCache {
            entries: Cache::with(
                capacity,
                capacity as u64,
                UnitWeighter,
                DefaultHashBuilder::default(),
                Evictions(counters.clone()),
            ),
            unknown: Cache::new((capacity / 10).max(1024)),
            digest_key,
            generation: AtomicU64::new(0),
            ttl: Duration::from_secs(config.cache_ttl_seconds),
            stale: Duration::from_secs(config.stale_if_error_seconds),
            unknown_ttl: Duration::from_secs(config.unknown_ttl_seconds),
            counters,
            known: KnownIds::new(config.unknown_id_reads_per_second),
        })
    }

    /// The keyed digest of a presented token (about 0.1 µs).
    pub fn digest(&self, presented: &str) -> blake3::Hash {
        blake3::keyed_hash(&self.digest_key, presented.as_bytes())
    }

    pub fn lookup(&self, key: u64, now: Instant) -> Lookup {
        match self.entries.get(&key) {
            Some(entry) if now < entry.fresh_until => Lookup::Fresh(entry),
            Some(entry) if now < entry.refreshable_until => Lookup::Stale(entry),
            Some(_) => {
                self.entries.remove(&key);
                Lookup::Missing
            }
            None => Lookup::Missing,
        }
    }

    /// Waits for another caller's miss on `key`, or becomes the one that reads.
    pub async fn get_or_guard(&self, key: u64) -> Result<Arc<Entry>, MissGuard<'_>> {
        self.entries.get_value_or_guard_async(&key).await
    }

    /// The generation a miss starts at; pass it back to [`TokenCache::fill`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Builds the entry for a token whose secret `digest` was just verified.
    pub fn entry(&self, digest: blake3::Hash, token: Arc<Token>, now: Instant) -> Arc<Entry> {
        let fresh_until = now + self.ttl;
        Arc::new(Entry {
            digest,
            token,
            fresh_until,
            usable_until: fresh_until + self.stale,
            refreshable_until: fresh_until + self.stale.max(self.ttl),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// Caches `entry` through the miss's guard, unless an invalidation happened since the
    /// miss began at `generation` (what it read may already be stale).
    pub fn fill(&self, guard: MissGuard<'_>, entry: Arc<Entry>, generation: u64) {
        if self.generation() == generation {
            let _ = guard.insert(entry);
        }
    }

    /// Replaces a refreshed entry, under the same rule as [`TokenCache::fill`]; when an
    /// invalidation came in between, the entry is dropped instead (its next use reads again).
    pub fn replace(&self, key: u64, entry: Arc<Entry>, generation: u64) {
        // Removed first: quick_cache reports an overwritten value as an eviction.
        self.entries.remove(&key);
        if self.generation() == generation {
            self.entries.insert(key, entry);
        }
    }

    pub fn forget(&self, key: u64) {
        self.entries.remove(&key);
    }

    /// Whether `key` was recently found unknown.
    pub fn known_unknown(&self, key: u64, now: Instant) -> bool {
        match self.unknown.get(&key) {
            Some(until) if now < until => true,
            Some(_) => {
                self.unknown.remove(&key);
                false
            }
            None => false,
        }
    }

    pub fn remember_unknown(&self, key: u64, now: Instant, generation: u64) {
        if self.generation() == generation {
            self.unknown.insert(key, now + self.unknown_ttl);
        }
    }

    /// The ids known to exist (kept here, where the store tells its changes).
    pub fn known(&self) -> &KnownIds {
        &self.known
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    fn invalidate(&self, ids: &[TokenId]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            let key = id.key();
            self.entries.remove(&key);
            self.unknown.remove(&key);
        }
    }
}

impl TokenChanges for TokenCache {
    fn changed(&self, ids: &[TokenId], remote: bool) {
        // A creation is announced as a change too.
        self.known.add(ids.iter().map(TokenId::key));
        self.invalidate(ids);
        if remote {
            self.counters.invalidations.inc_by(ids.len() as u64);
        }
    }

    fn missed(&self, reconnected: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
        self.unknown.clear();
        self.known.lost_track();
        if reconnected {
            self.counters.listener_reconnects.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl: u64, stale: u64) -> TokenCache {
        let config = VerifyConfig {
            cache_ttl_seconds: ttl,
            stale_if_error_seconds: stale,
            ..VerifyConfig::default()
        };
        TokenCache::new(&config, CacheCounters::default()).unwrap()
    }

    #[test]
    fn the_digest_is_keyed_per_process() {
        let (one, other) = (cache(60, 0), cache(60, 0));
        assert_eq!(one.digest("D.V1.x"), one.digest("D.V1.x"));
        assert_ne!(one.digest("D.V1.x"), other.digest("D.V1.x"));
        assert_ne!(one.digest("D.V1.x"), one.digest("D.V1.y"));
    }

    #[test]
    fn an_id_found_unknown_is_remembered_until_its_ttl_and_forgotten_on_change() {
        let cache = cache(60, 0);
        let now = Instant::now();
        let id = TokenId::from_key(7);
        cache.remember_unknown(7, now, cache.generation());
        assert!(cache.known_unknown(7, now));
        assert!(!cache.known_unknown(7, now + Duration::from_secs(6)));
        cache.remember_unknown(7, now, cache.generation());
        cache.changed(&[id], false);
        assert!(!cache.known_unknown(7, now));
    }

    #[test]
    fn a_miss_that_raced_an_invalidation_caches_nothing() {
        let cache = cache(60, 0);
        let before = cache.generation();
        cache.changed(&[TokenId::from_key(9)], true);
        cache.remember_unknown(9, Instant::now(), before);
        assert!(!cache.known_unknown(9, Instant::now()));
        assert_eq!(cache.counters().invalidations.get(), 1);
    }
}
