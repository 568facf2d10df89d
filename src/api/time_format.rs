//! Instants as each surface prints them; uses only `time`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// UTC with milliseconds, as the Clustered API prints instants (`2024-05-01T12:00:00.123Z`).
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// RFC 3339 in UTC with the fractional seconds Go prints (`2024-05-01T12:00:00.123456Z`).
pub fn rfc3339_nano(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn milliseconds_for_v0_and_go_fractions_for_v2() {
        let at = datetime!(2024-05-01 14:00:00.123456 +02:00);
        assert_eq!(rfc3339(at), "2024-05-01T12:00:00.123Z");
        assert_eq!(rfc3339_nano(at), "2024-05-01T12:00:00.123456Z");
    }
}
