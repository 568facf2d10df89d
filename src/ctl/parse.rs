//! Go durations (`--timeout`, `--grace`) and RFC 3339 timestamps (`--expires-at`, the
//! server's times), read and written as influxctl does.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses a Go `time.ParseDuration` string: `0`, or numbers each with a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`, `1.5s`. Negative durations are refused.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let mut s = input;
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if s.starts_with('-') {
        return Err(format!("negative duration {input:?} is not allowed"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let (unit, rest) = rest.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration {input:?}")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {other:?} in duration {input:?}"
                ));
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Enough digits for nanosecond precision at the largest unit.
            let digits = &frac_part[..frac_part.len().min(18)];
            let numerator: u128 = digits.parse().map_err(|_| invalid())?;
            let scale = 10u128.pow(u32::try_from(digits.len()).map_err(|_| invalid())?);
            value = value
                .checked_add(numerator * nanos_per_unit / scale)
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        s = rest;
    }
    // Go durations are int64 nanoseconds.
    if total > i64::MAX as u128 {
        return Err(invalid());
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid())?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| invalid())?;
    Ok(Duration::new(secs, nanos))
}

/// Formats as Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `0s`.
pub fn format_go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    if d < Duration::from_secs(1) {
        let nanos = d.as_nanos();
        return if nanos < 1_000 {
            format!("{nanos}ns")
        } else if nanos < 1_000_000 {
            format!("{}µs", trim_fraction(nanos, 1_000))
        } else {
            format!("{}ms", trim_fraction(nanos, 1_000_000))
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let seconds = if d.subsec_nanos() == 0 {
        s.to_string()
    } else {
        trim_fraction(
            u128::from(s) * 1_000_000_000 + u128::from(d.subsec_nanos()),
            1_000_000_000,
        )
    };
    if h > 0 {
        format!("{h}h{m}m{seconds}s")
    } else if m > 0 {
        format!("{m}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

fn trim_fraction(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses an RFC 3339 timestamp, also accepting a `±hhmm` offset (what `date +%z` prints, as
/// in influxctl's own examples). Returns the instant in UTC.
pub fn parse_rfc3339(input: &str) -> Option<OffsetDateTime> {
    let s = input.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    // 2030-01-01T00:00:00+0000 → 2030-01-01T00:00:00+00:00
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n > 5 && matches!(bytes[n - 5], b'+' | b'-') && bytes[n - 4..].iter().all(u8::is_ascii_digit)
    {
        let fixed = format!("{}:{}", &s[..n - 2], &s[n - 2..]);
        return OffsetDateTime::parse(&fixed, &Rfc3339)
            .ok()
            .map(|t| t.to_offset(time::UtcOffset::UTC));
    }
    None
}

/// `--expires-at` as the API takes it, or an error naming the flag and the value.
pub fn expires_at(flag_value: &str) -> Result<String, super::Error> {
    parse_rfc3339(flag_value)
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| {
            super::Error::new(format!(
                "invalid --expires-at {:?}: not an RFC 3339 timestamp (e.g. 2030-01-01T00:00:00Z, \
                 2030-01-01T00:00:00+01:00 or 2030-01-01T00:00:00+0100)",
                super::output::clean(flag_value)
            ))
        })
}

/// A server time as influxctl's tables show it: RFC 3339 in UTC to the second, e.g.
/// `2025-10-24T00:00:00Z`. Unparseable input is shown as it came.
pub fn table_time(value: &str) -> String {
    parse_rfc3339(value)
        .and_then(|t| {
            t.replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
        })
        .unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = |s: &str, secs: u64, nanos: u32| {
            assert_eq!(parse_go_duration(s), Ok(Duration::new(secs, nanos)), "{s}");
        };
        ok("0", 0, 0);
        ok("0s", 0, 0);
        ok("1m", 60, 0);
        ok("90m", 5400, 0);
        ok("1h", 3600, 0);
        ok("24h30m", 88200, 0);
        ok("1h0m0s", 3600, 0);
        ok("1.5s", 1, 500_000_000);
        ok(".5s", 0, 500_000_000);
        ok("300ms", 0, 300_000_000);
        ok("2us", 0, 2_000);
        ok("2µs", 0, 2_000);
        ok("7ns", 0, 7);
        ok("+10s", 10, 0);
        for bad in ["", "1", "5x", "1h5", "-1s", "s", ".s", "1..5s", "h1"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse_go_duration("5x"),
            Err(r#"time: unknown unit "x" in duration "5x""#.to_owned())
        );
        assert!(parse_go_duration("9999999999h").is_err());
    }

    #[test]
    fn go_duration_strings() {
        let f = |secs, nanos| format_go_duration(Duration::new(secs, nanos));
        assert_eq!(f(0, 0), "0s");
        assert_eq!(f(60, 0), "1m0s");
        assert_eq!(f(3600, 0), "1h0m0s");
        assert_eq!(f(88200, 0), "24h30m0s");
        assert_eq!(f(1, 500_000_000), "1.5s");
        assert_eq!(f(0, 300_000_000), "300ms");
        assert_eq!(f(0, 1_500), "1.5µs");
    }

    #[test]
    fn rfc3339_with_every_offset_style() {
        let utc = |s| {
            parse_rfc3339(s)
                .map(|t| t.format(&Rfc3339).unwrap())
                .unwrap_or_default()
        };
        assert_eq!(utc("2030-01-01T00:00:00Z"), "2030-01-01T00:00:00Z");
        assert_eq!(utc("2030-01-01T02:00:00+02:00"), "2030-01-01T00:00:00Z");
        assert_eq!(utc("2030-01-01T02:00:00+0200"), "2030-01-01T00:00:00Z");
        assert_eq!(utc("2029-12-31T23:00:00-0100"), "2030-01-01T00:00:00Z");
        for bad in [
            "",
            "tomorrow",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-13-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad:?} parsed");
        }
        assert_eq!(
            table_time("2030-01-01T00:00:00.123Z"),
            "2030-01-01T00:00:00Z"
        );
        assert_eq!(table_time("garbage"), "garbage");
    }
}
