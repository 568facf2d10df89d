//! Failed verifications (unknown id, wrong secret) per client address and per token id, with
//! governor's GCRA: past the quota, that address or id is refused (429) before any store read
//! or argon2, until the quota would admit it again. Only failures count, so valid tokens
//! from a busy proxy never use the budget up, and cache hits never consult it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use quick_cache::sync::Cache;

/// Keys each limiter tracks at most; past this, idle keys are dropped, and if none is idle,
/// new keys go uncounted (a spray of addresses must not grow memory without bound).
const MAX_KEYS: usize = 100_000;

/// A client: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(u128);

impl From<IpAddr> for ClientKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => ClientKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(u128::from(u32::from(v4))),
                None => ClientKey((u128::from(v6) >> 64) << 64 | 1 << 32),
            },
        }
    }
}

struct Limit<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    /// Keys over their quota, until when.
    blocked: Cache<K, Instant>,
}

impl<K: std::hash::Hash + Eq + Clone + Send + Sync + 'static> Limit<K> {
    /// `per_minute` failures are allowed; the one that uses the budget up blocks the key, so
    /// the next attempt is refused.
    fn new(per_minute: u32) -> Self {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(per_minute.saturating_sub(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(rate).allow_burst(burst);
        Limit {
            limiter: RateLimiter::keyed(quota),
            blocked: Cache::new(16_384),
        }
    }

    fn retry_after(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.blocked.get(key)?;
        if now < until {
            Some(until - now)
        } else {
            self.blocked.remove(key);
            None
        }
    }

    fn failed(&self, key: K, now: Instant) {
        if self.limiter.len() >= MAX_KEYS {
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_KEYS {
                return;
            }
        }
        if let Err(not_until) = self.limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked
                .insert(key, now + wait.max(Duration::from_secs(1)));
        }
    }
}

pub struct FailureLimits {
    by_address: Limit<ClientKey>,
    by_token: Limit<u64>,
}

impl FailureLimits {
    pub fn new(per_address_per_minute: u32, per_token_per_minute: u32) -> Self {
        FailureLimits {
            by_address: Limit::new(per_address_per_minute),
            by_token: Limit::new(per_token_per_minute),
        }
    }

    /// How long the caller must wait, when its address or the token id it names has used up
    /// its failures.
    pub fn retry_after(&self, address: Option<IpAddr>, token: Option<u64>) -> Option<Duration> {
        let now = Instant::now();
        let by_address = address.and_then(|a| self.by_address.retry_after(&a.into(), now));
        let by_token = token.and_then(|t| self.by_token.retry_after(&t, now));
        by_address.max(by_token)
    }

    /// Counts one failed verification from `address`, naming `token` when it costs a store
    /// read or argon2 (a wrong secret for a cached id costs neither, so it does not count
    /// against the id, which would let anyone lock a valid token out).
    pub fn failed(&self, address: Option<IpAddr>, token: Option<u64>) {
        let now = Instant::now();
        if let Some(address) = address {
            self.by_address.failed(address.into(), now);
        }
        if let Some(token) = token {
            self.by_token.failed(token, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_only_after_its_failures_and_others_are_not() {
        let limits = FailureLimits::new(5, 1000);
        let (one, other): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..5 {
            assert_eq!(limits.retry_after(Some(one), None), None);
            limits.failed(Some(one), None);
        }
        let wait = limits.retry_after(Some(one), None).unwrap();
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(limits.retry_after(Some(other), None), None);
    }

    #[test]
    fn a_token_id_is_refused_after_its_failures_whatever_the_address() {
        let limits = FailureLimits::new(1000, 2);
        for i in 0..2u8 {
            limits.failed(Some(IpAddr::from([10, 0, 0, i])), Some(42));
        }
        assert!(limits.retry_after(None, Some(42)).is_some());
        assert!(limits.retry_after(None, Some(43)).is_none());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let c: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert_eq!(ClientKey::from(a), ClientKey::from(b));
        assert_ne!(ClientKey::from(a), ClientKey::from(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::from(mapped), ClientKey::from(v4));
    }
}
