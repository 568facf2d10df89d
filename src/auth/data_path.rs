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
pub fn operation(method: &str, path: &str, query: &str) -> Result<Operation, String> {
    let (action, methods, parameter): (Action, &[&str], &str) = match path {
        "/api/v2/write" => (Action::Write, &["POST"], "bucket"),
        "/write" | "/api/v3/write_lp" => (Action::Write, &["POST"], "db"),
        "/query" | "/api/v3/query_sql" | "/api/v3/query_influxql" => {
            (Action::Read, &["GET", "POST"], "db")
        }
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
    if !methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
        return Err(format!(
            "{} {} is not a data operation; it takes {}",
            printable(method),
            path,
            methods.join(" or ")
        ));
    }
    let database = form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == parameter)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            format!(
                "{method} {path} names no database: forward auth needs ?{parameter}= in the URL{}",
                if parameter == "db" && path.starts_with("/api/v3/query") {
                    " (a database sent only in the JSON body cannot be checked)"
                } else {
                    ""
                },
                method = printable(method),
            )
        })?;
    Ok(Operation { action, database })
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
            ("POST", "/query", "db=d", op(Action::Read, "d")),
            (
                "GET",
                "/api/v3/query_sql",
                "db=d&q=x",
                op(Action::Read, "d"),
            ),
            (
                "post",
                "/api/v3/query_influxql",
                "db=d",
                op(Action::Read, "d"),
            ),
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
        let body_db = operation("POST", "/api/v3/query_sql", "").unwrap_err();
        assert!(body_db.contains("JSON body"), "{body_db}");
    }

    #[test]
    fn families_follow_the_path_prefix() {
        assert_eq!(Family::of("/write"), Family::V1);
        assert_eq!(Family::of("/api/v2/write"), Family::V2);
        assert_eq!(Family::of("/api/v3/query_sql"), Family::V3);
        assert_eq!(Family::of("/api/v2x"), Family::V1);
    }
}
