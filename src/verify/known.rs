//! The token ids this replica knows exist. An id outside them is read from the store only
//! within a replica-wide budget, so unknown ids cost a bounded number of store reads however
//! many addresses send them (the per-address limits alone let 200 addresses make 12 000).
//! Ids are added by every committed creation, here and, through the change notifications,
//! on other replicas; a token created a moment ago elsewhere, before its notification
//! arrives, is read within the budget, which only a flood of unknown ids uses up.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub struct KnownIds {
    keys: RwLock<HashSet<u64>>,
    /// Set by a completed load and cleared when notifications may have been missed: until
    /// then every id may exist.
    current: AtomicBool,
    loading: AtomicBool,
    /// Bumped when notifications may have been missed, so a load that began before cannot
    /// claim to be current.
    epoch: AtomicU64,
    budget: DefaultDirectRateLimiter,
}

impl KnownIds {
    pub fn new(reads_per_second: u32) -> Self {
        let rate = NonZeroU32::new(reads_per_second).unwrap_or(NonZeroU32::MIN);
        KnownIds {
            keys: RwLock::new(HashSet::new()),
            current: AtomicBool::new(false),
            loading: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            budget: RateLimiter::direct(Quota::per_second(rate)),
        }
    }

    pub fn add(&self, keys: impl IntoIterator<Item = u64>) {
        if let Ok(mut known) = self.keys.write() {
            known.extend(keys);
        }
    }

    /// Notifications may have been missed: every id may exist until the next load.
    pub fn lost_track(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.current.store(false, Ordering::Release);
    }

    /// Whether the store may be asked for `key` now: a known id always, any id while the
    /// set is not current, another only within the budget.
    pub fn may_read(&self, key: u64) -> bool {
        if !self.current.load(Ordering::Acquire) {
            return true;
        }
        let known = self.keys.read().map_or(true, |keys| keys.contains(&key));
        known || self.budget.check().is_ok()
    }

    /// `Some(epoch)` when a load should start now (none is running and the set is not
    /// current); the caller then loads and calls [`KnownIds::loaded`] or [`KnownIds::failed`].
    pub fn claim_load(&self) -> Option<u64> {
        if self.current.load(Ordering::Acquire) {
            return None;
        }
        self.loading
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| self.epoch.load(Ordering::Acquire))
    }

    pub fn loaded(&self, keys: impl IntoIterator<Item = u64>, epoch: u64) {
        self.add(keys);
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.current.store(true, Ordering::Release);
        }
        self.loading.store(false, Ordering::Release);
    }

    pub fn failed(&self) {
        self.loading.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ids_are_read_within_the_budget_once_the_set_is_loaded() {
        let known = KnownIds::new(3);
        assert!((0..100).all(|key| known.may_read(key)), "not loaded: all");
        let epoch = known.claim_load().unwrap();
        assert_eq!(known.claim_load(), None, "one load at a time");
        known.loaded([7], epoch);
        assert!((0..100).all(|_| known.may_read(7)), "a known id: always");
        let unknown = (100..200).filter(|&key| known.may_read(key)).count();
        assert_eq!(unknown, 3);
        known.add([150]);
        assert!(known.may_read(150), "a created id: at once");
    }

    #[test]
    fn a_load_that_began_before_missed_changes_does_not_count_as_current() {
        let known = KnownIds::new(1);
        let epoch = known.claim_load().unwrap();
        known.lost_track();
        known.loaded([1], epoch);
        assert!((0..10).all(|key| known.may_read(key)));
        assert!(known.claim_load().is_some());
    }
}
