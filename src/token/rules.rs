//! What a token may be created or changed with. Messages name the field and the problem.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Action, Permission};

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
    #[error("permissions[{index}].resource must not contain control characters")]
    DatabaseNameControl { index: usize },
    #[error(
        "expiresAt must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z (offsets Z, +hh:mm or +hhmm)"
    )]
    ExpiryFormat,
    #[error("expiresAt must be in the future")]
    ExpiryInPast,
    #[error("token permissions cannot be updated; create a new token")]
    PermissionsImmutable,
    #[error("expiresAt cannot be updated; create a new token")]
    ExpiryImmutable,
    #[error("request body must contain a description to update")]
    NothingToUpdate,
}

pub fn description(text: &str) -> Result<String, RuleError> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        Err(RuleError::DescriptionEmpty)
    } else if chars > MAX_DESCRIPTION_CHARS {
        Err(RuleError::DescriptionTooLong(chars))
    } else {
        Ok(text.to_owned())
    }
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
        if resource.chars().any(char::is_control) {
            return Err(RuleError::DatabaseNameControl { index });
        }
        let database = (resource != WILDCARD).then_some(resource.as_str());
        let permission = Permission::database(action, database);
        if !permissions.contains(&permission) {
            permissions.push(permission);
        }
    }
    Ok(permissions)
}

/// RFC 3339 with `Z`, `±hh:mm`, or the `±hhmm` that `date +%z` prints.
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, RuleError> {
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
    Ok(Some(at.to_offset(time::UtcOffset::UTC)))
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
}
