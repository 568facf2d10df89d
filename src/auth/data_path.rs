//! Which database and action an InfluxDB request needs, from its method, path and query
//! (DESIGN.md, "Verifying a token on the data path"). No I/O, no HTTP types.

use crate::token::Action;

/// The API family a path belongs to: it decides the error body a client expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// InfluxDB 1.x paths (`/write`, `/query`): `{"error": …}`.
    V1,
    /// `/api/v2/…`: `{"code", "message"}`.
    V2,
    /// `/api/v3/…`: `{"code", "message"}`.
    V3,
}

impl Family {
    pub fn of(path: &str) -> Family {
        if path == "/api/v2" || path.starts_with("/api/v2/") {
            Family::V2
        } else if path == "/api/v3" || path.starts_with("/api/v3/") {
            Family::V3
        } else {
            Family::V1
        }
    }
}

/// What a data request asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub action: Action,
    pub database: String,
}

/// The operation `method path?query` performs, or why it names none (a message for the
/// client: it names the path and method, never the query, which may carry `p=`).
///
/// Only what the URL fixes is decided: a query whose database or statement InfluxDB reads
/// from the body (POST `/query`, POST `/api/v3/query_*`) is refused, and so is InfluxQL that
/// could reach beyond `?db=` (`ON`, `INTO`, qualified names, schema changes).
pub fn operation(method: &str, path: &str, query: &str) -> Result<Operation, String> {
    let (action, allowed, parameter, v1): (Action, &[&str], &str, bool) = match path {
        "/api/v2/write" => (Action::Write, &["POST"], "bucket", false),
        "/write" => (Action::Write, &["POST"], "db", true),
        "/api/v3/write_lp" => (Action::Write, &["POST"], "db", false),
        "/query" => (Action::Read, &["GET"], "db", true),
        "/api/v3/query_sql" | "/api/v3/query_influxql" => (Action::Read, &["GET"], "db", false),
        "/api/v2/query" => {
            return Err(
                "/api/v2/query names its bucket inside the Flux script, which forward auth does not see; query through /api/v3/query_sql or /query with ?db="
                    .into(),
            );
        }
        _ => {
            return Err(format!(
                "{} is not an InfluxDB write or query path; forward auth decides /api/v2/write, /write, /api/v3/write_lp, /query, /api/v3/query_sql and /api/v3/query_influxql",
                printable(path)
            ));
        }
    };
    if !allowed.iter().any(|m| m.eq_ignore_ascii_case(method)) {
        let why = if action == Action::Read && method.eq_ignore_ascii_case("POST") {
            ": a POST query carries its statement and database in the body, which forward auth does not see, so send queries with GET"
        } else {
            ""
        };
        return Err(format!(
            "{} {} is not a data operation forward auth can decide; it takes {}{why}",
            printable(method),
            path,
            allowed.join(" or "),
        ));
    }
    // Borrowed unless a value needed decoding.
    let parameters: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let first = |key: &str| {
        parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    };
    let Some(database) = first(parameter).filter(|db| !db.is_empty()) else {
        return Err(format!(
            "{} {path} names no database: forward auth needs ?{parameter}= in the URL",
            printable(method)
        ));
    };
    // InfluxDB 3 (IOx) stores a v1 write or query with a named retention policy in `db/rp`.
    let database = match first("rp").filter(|_| v1) {
        Some(rp) if !rp.is_empty() && rp != "autogen" => format!("{database}/{rp}"),
        _ => database.to_owned(),
    };
    if path == "/query" || path == "/api/v3/query_influxql" {
        influxql_stays_in_its_database(first("q").unwrap_or_default())?;
    }
    Ok(Operation { action, database })
}

/// Refuses InfluxQL that could read or change anything beyond the request's `db`: `ON`
/// and `INTO` clauses, qualified names (`db.rp.m`, `db..m`), and statements that change the
/// schema or users. Conservative on purpose: a false refusal says what it found.
fn influxql_stays_in_its_database(q: &str) -> Result<(), String> {
    const REFUSED: [&str; 12] = [
        "ON",
        "INTO",
        "CREATE",
        "DROP",
        "DELETE",
        "ALTER",
        "GRANT",
        "REVOKE",
        "KILL",
        "SET",
        "DATABASES",
        "USERS",
    ];
    let refuse = |found: &str| {
        Err(format!(
            "forward auth decides InfluxQL that stays in ?db=: no ON or INTO, no qualified names (db.rp.measurement), no schema or user statements (found {found})"
        ))
    };
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    // Whether the last token was a name (so a `.` after it qualifies it), or `=~`/`!~`
    // (so a `/` starts a regex).
    let (mut after_name, mut after_match) = (false, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                i = closing(&chars, i);
                // A double-quoted identifier is a name; a single-quoted string is not.
                (after_name, after_match) = (c == '"', false);
            }
            '/' if after_match => {
                i = closing(&chars, i);
                (after_name, after_match) = (false, false);
            }
            '.' if after_name => return refuse("a qualified name"),
            '=' | '!' if chars.get(i + 1) == Some(&'~') => {
                i += 1;
                (after_name, after_match) = (false, true);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '_')
                {
                    i += 1;
                }
                let word: String = chars[start..=i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_uppercase();
                if REFUSED.contains(&word.as_str()) {
                    return refuse(&word);
                }
                (after_name, after_match) = (true, false);
            }
            c if c.is_ascii_digit() => {
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '.')
                {
                    i += 1;
                }
                (after_name, after_match) = (false, false);
            }
            c if c.is_whitespace() => {}
            _ => (after_name, after_match) = (false, false),
        }
        i += 1;
    }
    Ok(())
}

/// Where the string, identifier or regex opened at `open` closes (its delimiter again,
/// backslash escapes skipped), or the end.
fn closing(chars: &[char], open: usize) -> usize {
    let mut i = open + 1;
    while i < chars.len() && chars[i] != chars[open] {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i
}

/// Text safe to echo: at most 200 visible characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(action: Action, database: &str) -> Result<Operation, String> {
        Ok(Operation {
            action,
            database: database.into(),
        })
    }

    #[test]
    fn each_write_and_query_path_names_its_database_and_action() {
        let cases = [
            (
                "POST",
                "/api/v2/write",
                "org=o&bucket=b&precision=ns",
                op(Action::Write, "b"),
            ),
            (
                "POST",
                "/write",
                "db=telegraf&rp=autogen",
                op(Action::Write, "telegraf"),
            ),
            (
                "POST",
                "/api/v3/write_lp",
                "db=my%20db",
                op(Action::Write, "my db"),
            ),
            ("GET", "/query", "db=d&q=SELECT+1", op(Action::Read, "d")),
            (
                "GET",
                "/api/v3/query_sql",
                "db=d&q=x",
                op(Action::Read, "d"),
            ),
            (
                "get",
                "/api/v3/query_influxql",
                "db=d",
                op(Action::Read, "d"),
            ),
            // A named retention policy is a database of its own in InfluxDB 3.
            (
                "POST",
                "/write",
                "db=d&rp=weekly",
                op(Action::Write, "d/weekly"),
            ),
            (
                "GET",
                "/query",
                "db=d&rp=weekly&q=SELECT+*+FROM+cpu",
                op(Action::Read, "d/weekly"),
            ),
            // rp means nothing to the v2 and v3 paths.
            (
                "POST",
                "/api/v3/write_lp",
                "db=d&rp=x",
                op(Action::Write, "d"),
            ),
            // Duplicate parameters: the first counts, as InfluxDB (Go) reads them.
            ("POST", "/write", "db=a&db=b", op(Action::Write, "a")),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(
                operation(method, path, query),
                want,
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn what_names_no_data_operation_says_why() {
        let no_db = operation("POST", "/api/v2/write", "org=o").unwrap_err();
        assert!(no_db.contains("?bucket="), "{no_db}");
        let empty = operation("POST", "/write", "db=").unwrap_err();
        assert!(empty.contains("?db="), "{empty}");
        let get_write = operation("GET", "/write", "db=x").unwrap_err();
        assert!(get_write.contains("takes POST"), "{get_write}");
        let other = operation("GET", "/api/v2/buckets", "").unwrap_err();
        assert!(
            other.contains("not an InfluxDB write or query path"),
            "{other}"
        );
        let flux = operation("POST", "/api/v2/query", "org=o").unwrap_err();
        assert!(flux.contains("Flux"), "{flux}");
        for (method, path) in [
            ("POST", "/api/v3/query_sql"),
            ("POST", "/api/v3/query_influxql"),
            ("POST", "/query"),
        ] {
            let body = operation(method, path, "db=d&q=SELECT+1").unwrap_err();
            assert!(body.contains("send queries with GET"), "{body}");
        }
    }

    #[test]
    fn influxql_that_could_reach_another_database_is_refused() {
        let allowed = [
            "SELECT mean(\"value\") FROM cpu WHERE time > now() - 1h GROUP BY time(1m)",
            "SELECT * FROM \"cpu.load\" WHERE host = 'a.b' AND region =~ /us.*/",
            "SHOW MEASUREMENTS",
            "SHOW TAG KEYS FROM cpu",
            "SELECT 1.5 * value FROM cpu",
        ];
        for q in allowed {
            assert_eq!(influxql_stays_in_its_database(q), Ok(()), "{q}");
        }
        let refused = [
            ("SELECT * FROM \"secret\".\"autogen\".\"cpu\"", "qualified"),
            ("SELECT * FROM secret..cpu", "qualified"),
            ("SELECT * FROM secret.autogen.cpu", "qualified"),
            ("SHOW MEASUREMENTS ON secret", "ON"),
            ("show databases", "DATABASES"),
            ("SELECT * INTO other FROM cpu", "INTO"),
            ("DROP MEASUREMENT cpu", "DROP"),
            ("SELECT 1; DELETE FROM cpu", "DELETE"),
            ("CREATE USER x WITH PASSWORD 'y'", "CREATE"),
        ];
        for (q, found) in refused {
            let message = influxql_stays_in_its_database(q).unwrap_err();
            assert!(message.contains(found), "{q}: {message}");
        }
        let message = operation(
            "GET",
            "/query",
            "db=d&q=SELECT+*+FROM+%22s%22.%22autogen%22.%22cpu%22",
        )
        .unwrap_err();
        assert!(message.contains("qualified"), "{message}");
    }

    #[test]
    fn families_follow_the_path_prefix() {
        assert_eq!(Family::of("/write"), Family::V1);
        assert_eq!(Family::of("/api/v2/write"), Family::V2);
        assert_eq!(Family::of("/api/v3/query_sql"), Family::V3);
        assert_eq!(Family::of("/api/v2x"), Family::V1);
    }
}
