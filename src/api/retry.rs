//! `Retry-After` values and the rate-limit wording every surface shares; uses only std.

use std::time::Duration;

/// Seconds a client should wait after our own outage.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Whole seconds to wait, rounded up, at least one.
pub fn retry_seconds(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The message of a 429 for too many failed verifications from one address or for one
/// token id.
pub fn rate_limited_message(seconds: u64) -> String {
    format!(
        "too many failed authentications from this address or for this token; retry after {seconds} seconds"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_to_whole_seconds_and_at_least_one() {
        assert_eq!(retry_seconds(Duration::ZERO), 1);
        assert_eq!(retry_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_seconds(Duration::from_secs(60)), 60);
    }
}
