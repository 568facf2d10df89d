//! The InfluxDB v2 API surface: setup, authorizations, users, orgs, me. Errors carry v2's
//! string codes; callers authenticate with `Token` or `Bearer`.

pub mod auth;
pub mod authorizations;
pub mod error;
pub mod extract;
pub mod orgs;
pub mod setup;
pub mod users;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use error::V2Error;

/// RFC 3339 in UTC with the fractional seconds Go prints (`2024-05-01T12:00:00.123456Z`).
pub fn rfc3339_nano(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Page sizes of the users and orgs lists, as InfluxDB bounds them.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// InfluxDB answers a `limit` outside 1..=100 with 400.
pub fn limit(requested: Option<u32>) -> Result<u32, V2Error> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(V2Error::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}
