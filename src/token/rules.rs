//! What a token may be created or changed with. Messages name the field and the problem.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::Status;
use super::permission::{Action, Permission};

pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_DATABASE_NAME_CHARS: usize = 64;
pub const WILDCARD: &str = "*";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("description must not be empty")]
    DescriptionEmpty,
    #[error("description must be at most {MAX_DESCRIPTION_CHARS} characters, got {0}")]
    DescriptionTooLong(usize),
    #[error(
        "permissions[{index}].resource must be a database name of 1 to {MAX_DATABASE_NAME_CHARS} characters or \"*\", got {chars} characters"
    )]
    DatabaseNameLength { index: usize, chars: usize },
    #[error(
        "permissions[{index}].resource must be a database name: ASCII letters, digits, _, - and at most one / (not last), starting with a letter or digit"
    )]
    DatabaseNameCharacters { index: usize },
    #[error(
        "permissions must list at least one permission; a token that may do nothing is refused"
    )]
    NoPermissions,
    #[error(
        "expiresAt must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z (offsets Z, +hh:mm or +hhmm)"
    )]
    ExpiryFormat,
    #[error("expiresAt must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC")]
    ExpiryRange,
    #[error("description must not contain NUL characters")]
    DescriptionNul,
    #[error("expiresAt must be in the future")]
    ExpiryInPast,
    #[error("token permissions cannot be updated; create a new token")]
    PermissionsImmutable,
    #[error("expiresAt cannot be updated; create a new token")]
    ExpiryImmutable,
    #[error("request body must contain a description to update")]
    NothingToUpdate,
    #[error("invalid status: must be active or inactive")]
    Status,
    #[error("expiresAt is required when expirationType is datetime")]
    ExpiresAtMissing,
    #[error("expiresAt must be omitted when expirationType is noExpiration")]
    ExpiresAtUnexpected,
    #[error("invalid bucket name: * means every database; omit the name to grant every bucket")]
    BucketWildcard,
    #[error(
        "invalid bucket name: a bucket (database) name is 1 to {MAX_DATABASE_NAME_CHARS} characters without control characters"
    )]
    BucketName,
}

impl From<RuleError> for crate::error::Error {
    fn from(err: RuleError) -> Self {
        crate::error::Error::Invalid(err.to_string())
    }
}

pub fn description(text: &str) -> Result<String, RuleError> {
    if text.trim().is_empty() {
        return Err(RuleError::DescriptionEmpty);
    }
    optional_description(text)
}

/// A description that may be empty (v2 authorizations and orgs).
pub fn optional_description(text: &str) -> Result<String, RuleError> {
    let chars = text.chars().count();
    if text.contains('\0') {
        Err(RuleError::DescriptionNul)
    } else if chars > MAX_DESCRIPTION_CHARS {
        Err(RuleError::DescriptionTooLong(chars))
    } else {
        Ok(text.to_owned())
    }
}

/// A v2 status: `active` or `inactive`.
pub fn status(text: &str) -> Result<Status, RuleError> {
    Status::parse(text).ok_or(RuleError::Status)
}

/// A bucket (database) name as v2 requests give it: looser than Clustered's database names
/// (v2 buckets are named freely), but bounded and without control characters. Empty names
/// are handled by the caller.
pub fn bucket_name(name: &str) -> Result<String, RuleError> {
    if name == WILDCARD {
        return Err(RuleError::BucketWildcard);
    }
    if name.chars().count() > MAX_DATABASE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(RuleError::BucketName);
    }
    Ok(name.to_owned())
}

/// Turns Clustered `{action, resource: "<db>" | "*"}` pairs into stored permissions,
/// dropping exact duplicates and keeping the caller's order.
pub fn database_permissions(
    requested: impl IntoIterator<Item = (Action, String)>,
) -> Result<Vec<Permission>, RuleError> {
    let mut permissions: Vec<Permission> = Vec::new();
    for (index, (action, resource)) in requested.into_iter().enumerate() {
        let chars = resource.chars().count();
        if chars == 0 || chars > MAX_DATABASE_NAME_CHARS {
            return Err(RuleError::DatabaseNameLength { index, chars });
        }
        if resource != WILDCARD && !is_database_name(&resource) {
            return Err(RuleError::DatabaseNameCharacters { index });
        }
        let database = (resource != WILDCARD).then_some(resource.as_str());
        let permission = Permission::database(action, database);
        if !permissions.contains(&permission) {
            permissions.push(permission);
        }
    }
    if permissions.is_empty() {
        return Err(RuleError::NoPermissions);
    }
    Ok(permissions)
}

/// InfluxDB Clustered's database names: ASCII letters, digits, `_`, `-` and at most one `/`
/// (a v1 retention policy separator, never last), starting with a letter or digit. The
/// length is checked apart, so its message can give it.
pub fn is_database_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'))
        && bytes.iter().filter(|b| **b == b'/').count() <= 1
        && bytes.last() != Some(&b'/')
}

/// RFC 3339 with `Z`, `±hh:mm`, or the `±hhmm` that `date +%z` prints, as a UTC instant in
/// years 1 to 9999 (what both engines store and order).
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, RuleError> {
    let at = parse_rfc3339(text)?;
    at.checked_to_offset(time::UtcOffset::UTC)
        .filter(|utc| (1..=9999).contains(&utc.year()))
        .ok_or(RuleError::ExpiryRange)
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, RuleError> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let bytes = text.as_bytes();
    let n = bytes.len();
    let compact_offset = n > 5
        && matches!(bytes[n - 5], b'+' | b'-')
        && bytes[n - 4..].iter().all(u8::is_ascii_digit);
    if compact_offset {
        let with_colon = format!("{}:{}", &text[..n - 2], &text[n - 2..]);
        if let Ok(at) = OffsetDateTime::parse(&with_colon, &Rfc3339) {
            return Ok(at);
        }
    }
    Err(RuleError::ExpiryFormat)
}

pub fn expiry(
    text: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, RuleError> {
    let Some(text) = text else { return Ok(None) };
    let at = parse_timestamp(text)?;
    if at <= now {
        return Err(RuleError::ExpiryInPast);
    }
    Ok(Some(at))
}

// Cloud Dedicated's `expirationType`, as its clients send it (no doc comment: it would
// become the OpenAPI schema's description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpirationType {
    Datetime,
    #[serde(rename = "noExpiration")]
    NoExpiration,
}

/// The `expiresAt` to use when `expirationType` was also given: `datetime` needs one,
/// `noExpiration` forbids one; without a type, `expiresAt` decides alone.
pub fn expiration_type<T>(
    declared: Option<ExpirationType>,
    expires_at: Option<T>,
) -> Result<Option<T>, RuleError> {
    match (declared, expires_at) {
        (Some(ExpirationType::Datetime), None) => Err(RuleError::ExpiresAtMissing),
        (Some(ExpirationType::NoExpiration), Some(_)) => Err(RuleError::ExpiresAtUnexpected),
        (_, expires_at) => Ok(expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_accept_z_colon_and_compact_offsets() {
        let expected = datetime!(2030-01-01 00:00 UTC);
        for text in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T02:00:00+02:00",
            "2030-01-01T02:00:00+0200",
            "2029-12-31T19:00:00-0500",
        ] {
            assert_eq!(parse_timestamp(text), Ok(expected), "{text}");
        }
        for text in [
            "2030-01-01",
            "tomorrow",
            "2030-01-01T00:00:00+2",
            "2030-01-01T00:00:00",
        ] {
            assert_eq!(
                parse_timestamp(text),
                Err(RuleError::ExpiryFormat),
                "{text}"
            );
        }
    }

    #[test]
    fn duplicate_permissions_are_kept_once() {
        let got = database_permissions([
            (Action::Read, "db".to_owned()),
            (Action::Read, "db".to_owned()),
            (Action::Write, "*".to_owned()),
        ])
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].database_name(), Some("*"));
    }

    #[test]
    fn instants_outside_years_1_to_9999_in_utc_are_refused_not_panicking() {
        for text in [
            "9999-12-31T23:59:59-01:00",
            "0000-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00+00:01",
        ] {
            assert_eq!(parse_timestamp(text), Err(RuleError::ExpiryRange), "{text}");
        }
        assert!(parse_timestamp("9999-12-31T23:59:59Z").is_ok());
        assert!(parse_timestamp("0001-01-01T00:00:00Z").is_ok());
    }

    mod never_panics {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text(text in ".{0,40}") {
                let _ = parse_timestamp(&text);
            }

            #[test]
            fn any_rfc3339_shape(
                year in 0u32..=9999, month in 0u32..=13, day in 0u32..=32,
                hour in 0u32..=25, minute in 0u32..=61, second in 0u32..=61,
                sign in prop_oneof![Just('+'), Just('-')], oh in 0u32..=25, om in 0u32..=61,
                colon: bool, fraction in proptest::option::of(0u32..1_000_000_000),
            ) {
                let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
                let offset = if colon { format!("{sign}{oh:02}:{om:02}") } else { format!("{sign}{oh:02}{om:02}") };
                let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{offset}");
                if let Ok(at) = parse_timestamp(&text) {
                    prop_assert_eq!(at.offset(), time::UtcOffset::UTC);
                    prop_assert!((1..=9999).contains(&at.year()));
                }
            }
        }
    }

    #[test]
    fn database_names_follow_clustered_restrictions() {
        for good in [
            "mydb",
            "sensor_data",
            "prod-metrics",
            "logs/application",
            "9lives",
            &"a".repeat(64),
        ] {
            assert!(
                database_permissions([(Action::Read, good.to_owned())]).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "a b",
            "a/b/",
            "a/b/c",
            "/a",
            "_internal",
            "sensor.data",
            "app@server",
            "é",
        ] {
            assert_eq!(
                database_permissions([(Action::Read, bad.to_owned())]),
                Err(RuleError::DatabaseNameCharacters { index: 0 }),
                "{bad}"
            );
        }
        let long = "é".repeat(64);
        assert!(database_permissions([(Action::Read, long)]).is_err());
        assert_eq!(database_permissions([]), Err(RuleError::NoPermissions));
    }

    #[test]
    fn expiration_type_requires_or_forbids_expires_at() {
        use ExpirationType::{Datetime, NoExpiration};
        assert_eq!(expiration_type(Some(Datetime), Some("t")), Ok(Some("t")));
        assert_eq!(
            expiration_type::<&str>(Some(Datetime), None),
            Err(RuleError::ExpiresAtMissing)
        );
        assert_eq!(expiration_type::<&str>(Some(NoExpiration), None), Ok(None));
        assert_eq!(
            expiration_type(Some(NoExpiration), Some("t")),
            Err(RuleError::ExpiresAtUnexpected)
        );
        assert_eq!(expiration_type(None, Some("t")), Ok(Some("t")));
        assert_eq!(expiration_type::<&str>(None, None), Ok(None));
        assert_eq!(
            RuleError::ExpiresAtMissing.to_string(),
            "expiresAt is required when expirationType is datetime"
        );
    }
}
