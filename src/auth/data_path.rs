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
/// could reach beyond `?db=` (see [`crate::auth::influxql`]) and a repeated `db`, `bucket`,
/// `rp` or `q`.
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
    // Keys and values decoded, as InfluxDB reads them (`%71=` is `q`); borrowed unless
    // they needed decoding.
    let parameters: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let influxql = path == "/query" || path == "/api/v3/query_influxql";
    let mut read = vec![parameter];
    read.extend(v1.then_some("rp"));
    read.extend(influxql.then_some("q"));
    // Go's InfluxDB reads the first of a repeated parameter, IOx refuses the request: sent
    // twice, the one decided on might not be the one InfluxDB reads.
    if let Some(twice) = read
        .iter()
        .find(|key| parameters.iter().filter(|(k, _)| k == *key).count() > 1)
    {
        return Err(format!(
            "{} {path} sends ?{twice}= more than once; forward auth decides only one",
            printable(method)
        ));
    }
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
    let database = match first("rp") {
        // IOx stores a v1 write with a named retention policy in `db/rp`, the name
        // lowercased; no rp, `''`, `autogen` and `default` (any case) are `db` itself.
        Some(rp) if action == Action::Write && v1 => match rp.to_lowercase().as_str() {
            "" | "''" | "autogen" | "default" => database.to_owned(),
            named => format!("{database}/{named}"),
        },
        // A v1 query's rp only sets its statements' default retention policy: InfluxDB 3
        // runs them on `db`.
        _ => database.to_owned(),
    };
    if influxql {
        crate::auth::influxql::stays_in_database(first("q").unwrap_or_default())?;
    }
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
            // A write's named retention policy is a database of its own in InfluxDB 3,
            // lowercased; none, '', autogen and default are the database itself.
            (
                "POST",
                "/write",
                "db=d&rp=weekly",
                op(Action::Write, "d/weekly"),
            ),
            (
                "POST",
                "/write",
                "db=d&rp=Weekly",
                op(Action::Write, "d/weekly"),
            ),
            ("POST", "/write", "db=d&rp=default", op(Action::Write, "d")),
            ("POST", "/write", "db=d&rp=DEFAULT", op(Action::Write, "d")),
            ("POST", "/write", "db=d&rp=Autogen", op(Action::Write, "d")),
            ("POST", "/write", "db=d&rp=%27%27", op(Action::Write, "d")),
            ("POST", "/write", "db=d&rp=", op(Action::Write, "d")),
            // A query's rp sets only its statements' retention policy: it runs on d.
            (
                "GET",
                "/query",
                "db=d&rp=weekly&q=SELECT+*+FROM+cpu",
                op(Action::Read, "d"),
            ),
            // rp means nothing to the v2 and v3 paths.
            (
                "POST",
                "/api/v3/write_lp",
                "db=d&rp=x",
                op(Action::Write, "d"),
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
    fn influxql_is_decided_on_both_influxql_paths_with_its_query_decoded() {
        for path in ["/query", "/api/v3/query_influxql"] {
            let message = operation(
                "GET",
                path,
                "db=d&q=SELECT+*+FROM+%2F*%27*%2Fsecret..cpu%2F*%27*%2F",
            )
            .unwrap_err();
            assert!(message.contains("qualified"), "{path}: {message}");
            assert!(!message.contains("secret"), "{message}");
            assert_eq!(
                operation("GET", path, "db=d&q=SELECT+*+FROM+%2F%5Ecpu%2F"),
                op(Action::Read, "d")
            );
        }
        // SQL is not InfluxQL.
        assert_eq!(
            operation("GET", "/api/v3/query_sql", "db=d&q=SELECT+*+FROM+a.b.c"),
            op(Action::Read, "d")
        );
    }

    #[test]
    fn a_parameter_the_decision_reads_may_be_sent_once() {
        for (method, path, query) in [
            ("POST", "/write", "db=a&db=b"),
            ("POST", "/write", "db=a&%64b=b"),
            ("POST", "/write", "db=a&rp=x&rp=y"),
            ("POST", "/api/v2/write", "bucket=a&bucket=b"),
            ("GET", "/query", "db=a&q=SELECT+1&q=SHOW+DATABASES"),
            (
                "GET",
                "/api/v3/query_influxql",
                "db=a&q=SELECT+1&%71=SELECT+2",
            ),
        ] {
            let message = operation(method, path, query).unwrap_err();
            assert!(message.contains("more than once"), "{query}: {message}");
        }
        // Parameters the decision does not read may repeat.
        assert_eq!(
            operation("POST", "/write", "db=a&precision=s&precision=ns"),
            op(Action::Write, "a")
        );
    }

    #[test]
    fn families_follow_the_path_prefix() {
        assert_eq!(Family::of("/write"), Family::V1);
        assert_eq!(Family::of("/api/v2/write"), Family::V2);
        assert_eq!(Family::of("/api/v3/query_sql"), Family::V3);
        assert_eq!(Family::of("/api/v2x"), Family::V1);
    }
}
