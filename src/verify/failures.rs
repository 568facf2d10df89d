//! Wrong secrets per client address: each costs an argon2 verification, so an address that
//! keeps presenting them is refused (429) before any more hashing, for the rest of its window.
//! Used where callers connect directly (the management and v2 APIs), not on the decision
//! endpoint, whose callers are proxies that many clients share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong secrets one address may present per window.
pub const MAX_FAILURES: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; past this, finished windows are dropped, and if none has
/// finished, new addresses are not tracked (a flood of addresses must not grow memory).
const MAX_ADDRESSES: usize = 65_536;

#[derive(Default)]
pub struct FailureLimit {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLimit {
    /// How long `address` must wait, when it has used up its wrong secrets.
    pub fn retry_after(&self, address: IpAddr) -> Option<Duration> {
        let windows = self.windows.lock().ok()?;
        let window = windows.get(&address)?;
        let elapsed = window.started.elapsed();
        (elapsed < WINDOW && window.failures >= MAX_FAILURES).then(|| WINDOW - elapsed)
    }

    /// Counts one wrong secret from `address`.
    pub fn failed(&self, address: IpAddr) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&address) {
            windows.retain(|_, w| w.started.elapsed() < WINDOW);
            if windows.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let window = windows.entry(address).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_only_after_its_failures_and_others_are_not() {
        let limit = FailureLimit::default();
        let (one, other): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..MAX_FAILURES - 1 {
            limit.failed(one);
        }
        assert_eq!(limit.retry_after(one), None);
        limit.failed(one);
        assert!(limit.retry_after(one).is_some_and(|d| d <= WINDOW));
        assert_eq!(limit.retry_after(other), None);
    }
}
