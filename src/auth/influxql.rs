//! Whether an InfluxQL query stays in the database of its request (`?db=`): a lexer that
//! splits the query as InfluxDB 3's parser (`influxdb_influxql_parser`) does, and a check of
//! every statement. No I/O.
//!
//! The lexer must end every comment, string, quoted name and regex exactly where InfluxDB
//! does, or text InfluxDB runs could pass for text it skips; where InfluxDB's parsers (Go
//! 1.x, Rust 3.x) could split differently, the query is refused instead.

/// InfluxDB 3's reserved words (`influxdb_influxql_parser::keywords`): after one of them the
/// grammar expects an operand, so a `/` opens a regex; after a name it divides.
const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BY",
    "CARDINALITY",
    "CREATE",
    "CONTINUOUS",
    "DATABASE",
    "DATABASES",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESTINATIONS",
    "DIAGNOSTICS",
    "DISTINCT",
    "DROP",
    "DURATION",
    "END",
    "EVERY",
    "EXACT",
    "EXPLAIN",
    "FIELD",
    "FOR",
    "FROM",
    "GRANT",
    "GRANTS",
    "GROUP",
    "GROUPS",
    "IN",
    "INF",
    "INSERT",
    "INTO",
    "KEY",
    "KEYS",
    "KILL",
    "LIMIT",
    "MEASUREMENT",
    "MEASUREMENTS",
    "NAME",
    "OFFSET",
    "OR",
    "ON",
    "ORDER",
    "PASSWORD",
    "POLICY",
    "POLICIES",
    "PRIVILEGES",
    "QUERIES",
    "QUERY",
    "READ",
    "REPLICATION",
    "RESAMPLE",
    "RETENTION",
    "REVOKE",
    "SELECT",
    "SERIES",
    "SET",
    "SHOW",
    "SHARD",
    "SHARDS",
    "SLIMIT",
    "SOFFSET",
    "STATS",
    "SUBSCRIPTION",
    "SUBSCRIPTIONS",
    "TAG",
    "TO",
    "USER",
    "USERS",
    "VALUES",
    "WHERE",
    "WITH",
    "WRITE",
];

/// The `SHOW` statements that read only the request's database (when they have no `ON`).
const SHOWN: [&[&str]; 6] = [
    &["MEASUREMENTS"],
    &["SERIES"],
    &["TAG", "KEYS"],
    &["TAG", "VALUES"],
    &["FIELD", "KEYS"],
    &["RETENTION", "POLICIES"],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'q> {
    /// A bare word: a keyword or a name.
    Word(&'q str),
    /// A double-quoted name.
    Quoted,
    /// A single-quoted string, a number, a duration, a regex or a bound parameter.
    Literal,
    Dot,
    Semicolon,
    /// `::`, before a type (`value::field`).
    Cast,
    /// An operator, parenthesis, comma or `*`.
    Op(&'q str),
}

/// Refuses a query with a statement that could read or change anything beyond `?db=`:
/// only `SELECT` (and `EXPLAIN SELECT`) without `INTO`, and the `SHOW` forms that read one
/// database, without `ON`, and no name qualified by a database (`db.rp.m`, `db..m`). A
/// query that cannot be lexed, or a statement of another kind, is refused too. The message
/// never quotes the query (a URL's query may carry `p=`).
pub fn stays_in_database(q: &str) -> Result<(), String> {
    let refuse = |found: &str| {
        Err(format!(
            "forward auth decides InfluxQL that stays in ?db=: SELECT or SHOW MEASUREMENTS, SERIES, TAG KEYS, TAG VALUES, FIELD KEYS or RETENTION POLICIES, with no ON or INTO and no qualified names (db.rp.measurement); found {found}"
        ))
    };
    let tokens = match tokens(q) {
        Ok(tokens) => tokens,
        Err(found) => return refuse(found),
    };
    for statement in tokens.split(|t| *t == Token::Semicolon) {
        if let Err(found) = statement_stays(statement) {
            return refuse(found);
        }
    }
    Ok(())
}

fn statement_stays(statement: &[Token<'_>]) -> Result<(), &'static str> {
    let Some(first) = statement.first() else {
        return Ok(());
    };
    let word = |at: usize| match statement.get(at) {
        Some(Token::Word(w)) => keyword(w),
        _ => None,
    };
    match word(0) {
        Some("SELECT") => {}
        Some("EXPLAIN") => {
            let mut at = 1;
            while matches!(statement.get(at), Some(Token::Word(w)) if w.eq_ignore_ascii_case("ANALYZE") || w.eq_ignore_ascii_case("VERBOSE"))
            {
                at += 1;
            }
            if word(at) != Some("SELECT") {
                return Err("an EXPLAIN of a statement other than SELECT");
            }
        }
        Some("SHOW") => {
            let shown = SHOWN.iter().any(|form| {
                form.iter()
                    .enumerate()
                    .all(|(at, want)| word(at + 1) == Some(*want))
            });
            if !shown {
                return Err(match word(1) {
                    Some("DATABASES") => "SHOW DATABASES",
                    Some("USERS") => "SHOW USERS",
                    _ => "a SHOW statement that does not read one database",
                });
            }
        }
        Some(other) => return Err(other),
        None if matches!(first, Token::Word(_)) => return Err("an unknown statement"),
        None => return Err("a statement that does not start with a keyword"),
    }
    let mut dots = 0;
    let mut previous = None;
    for token in statement {
        match token {
            Token::Word(w) if w.eq_ignore_ascii_case("ON") => return Err("ON"),
            Token::Word(w) if w.eq_ignore_ascii_case("INTO") => return Err("INTO"),
            Token::Dot => {
                if !matches!(previous, Some(Token::Word(_) | Token::Quoted | Token::Dot)) {
                    return Err("a `.` that does not follow a name");
                }
                // `rp.m` stays in ?db= (InfluxDB 3 takes a retention policy without a
                // database as ?db='s); a second dot names a database.
                dots += 1;
                if dots > 1 {
                    return Err("a qualified name");
                }
            }
            Token::Word(_) | Token::Quoted if previous == Some(Token::Dot) => {}
            _ => dots = 0,
        }
        previous = Some(*token);
    }
    Ok(())
}

/// The reserved word `word` is, as the list spells it.
fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(word))
        .copied()
}

/// The query's tokens, or what could not be lexed.
fn tokens(q: &str) -> Result<Vec<Token<'_>>, &'static str> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    // Whether the grammar expects an operand here, so that `/` opens a regex.
    let mut operand_next = true;
    // A keyword run into a character outside every InfluxDB's keyword-follow set (` \n\t;(),=`):
    // some versions read it as a name, after which `/` divides instead of opening a regex.
    let mut keyword_run_on = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        let (token, end, operand_after) = match c {
            b' ' | b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            // Whitespace to InfluxDB 3 but not after a keyword, and an error to 1.x.
            b'\r' => return Err("a carriage return outside a string or comment"),
            b'-' if next == Some(b'-') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                // InfluxDB 3 ends a line comment at `\r` too, InfluxDB 1.x does not.
                if b[i..end].contains(&b'\r') {
                    return Err("a carriage return in a `--` comment");
                }
                i = end;
                continue;
            }
            b'/' if next == Some(b'*') => {
                // Where InfluxDB 1.x reads a regex straight after skipping blanks (a
                // measurement, the right of `=~`), it lexes `/*` as a regex; 3.x and every
                // other place, as a comment.
                let regex_first = matches!(
                    out.last(),
                    Some(Token::Dot | Token::Op("," | "=~" | "!~" | "="))
                ) || matches!(out.last(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("FROM"));
                if regex_first {
                    return Err("`/*` where InfluxDB 1.x reads a regex");
                }
                let close = find(&b[i + 2..], b"*/").ok_or("an unterminated `/*` comment")?;
                i += 2 + close + 2;
                continue;
            }
            b'/' if operand_next && keyword_run_on => {
                return Err("a keyword run into `/`, which InfluxDB versions split differently");
            }
            b'/' if operand_next => (Token::Literal, regex_end(b, i)?, false),
            b'\'' => (Token::Literal, quoted_end(b, i)?, false),
            b'"' => (Token::Quoted, quoted_end(b, i)?, false),
            b'$' => {
                let end = match next {
                    Some(b'"') => quoted_end(b, i + 1)?,
                    Some(c) if c.is_ascii_alphanumeric() || c == b'_' => word_end(b, i + 1),
                    _ => return Err("a `$` that starts no parameter"),
                };
                (Token::Literal, end, false)
            }
            b'0'..=b'9' => {
                let mut end = digits_end(b, i);
                if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
                    end = digits_end(b, end + 1);
                }
                // A duration's unit (`1m`, `10ms`, `5µs`) or an exponent.
                loop {
                    if b.get(end)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        end += 1;
                    } else if b[end..].starts_with("µ".as_bytes()) {
                        end += "µ".len();
                    } else {
                        break;
                    }
                }
                (Token::Literal, end, false)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = word_end(b, i);
                let word = &q[i..end];
                // The type of a cast (`value::field`) ends an operand, keyword or not.
                let operand_after = keyword(word).is_some() && out.last() != Some(&Token::Cast);
                (Token::Word(word), end, operand_after)
            }
            b'.' => (Token::Dot, i + 1, true),
            b';' => (Token::Semicolon, i + 1, true),
            b':' if next == Some(b':') => (Token::Cast, i + 2, true),
            b'(' | b',' | b'+' | b'-' | b'/' | b'%' | b'&' | b'|' | b'^' => {
                (Token::Op(&q[i..=i]), i + 1, true)
            }
            b')' => (Token::Op(")"), i + 1, false),
            // A wildcard where an operand stands, else a product.
            b'*' => (Token::Op("*"), i + 1, !operand_next),
            b'=' | b'<' | b'>' | b'!' => {
                let two = matches!(
                    (c, next),
                    (b'=' | b'!', Some(b'~'))
                        | (b'<' | b'>' | b'!', Some(b'='))
                        | (b'<', Some(b'>'))
                );
                if c == b'!' && !two {
                    return Err("a `!` that is not `!=` or `!~`");
                }
                let end = i + if two { 2 } else { 1 };
                (Token::Op(&q[i..end]), end, true)
            }
            _ => return Err("a character InfluxQL does not use outside strings and names"),
        };
        keyword_run_on = matches!(token, Token::Word(w) if keyword(w).is_some())
            && b.get(end).is_some_and(|c| !b" \n\t;(),=".contains(c));
        out.push(token);
        operand_next = operand_after;
        i = end;
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn word_end(b: &[u8], start: usize) -> usize {
    start
        + b[start..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
}

fn digits_end(b: &[u8], start: usize) -> usize {
    start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Just past the string or quoted name opened at `open`: its escapes are `\\`, `\n` and the
/// delimiter; any other escape, a newline or the end of the query is an error, as in InfluxQL.
fn quoted_end(b: &[u8], open: usize) -> Result<usize, &'static str> {
    let delimiter = b[open];
    let mut i = open + 1;
    loop {
        match b.get(i) {
            None | Some(b'\n') => return Err("an unterminated string or quoted name"),
            Some(b'\\') => match b.get(i + 1) {
                Some(&c) if c == b'\\' || c == b'n' || c == delimiter => i += 2,
                _ => return Err("an escape InfluxQL does not know in a string or quoted name"),
            },
            Some(&c) if c == delimiter => return Ok(i + 1),
            Some(_) => i += 1,
        }
    }
}

/// Just past the regex opened at `open`: `\/` is its only escape (any other `\` is itself,
/// so in `\\/` the second escapes the `/`, as both InfluxDB parsers read it); a newline or
/// the end of the query is an error, as in InfluxQL.
fn regex_end(b: &[u8], open: usize) -> Result<usize, &'static str> {
    let mut i = open + 1;
    loop {
        match b.get(i) {
            None | Some(b'\n') => return Err("an unterminated regex"),
            Some(b'\\') if b.get(i + 1) == Some(&b'/') => i += 2,
            Some(b'/') => return Ok(i + 1),
            Some(_) => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grafana_s_ordinary_queries_stay_in_their_database() {
        let allowed = [
            r#"SELECT mean("value") FROM "cpu" WHERE time >= now() - 1h AND "host" =~ /^server1$/ GROUP BY time(1m), "host" fill(null)"#,
            "SELECT * FROM /^cpu/",
            "SELECT * FROM cpu WHERE t = 'it''s'",
            r#"SELECT * FROM "cpu.load" WHERE host = 'a.b' AND region =~ /us.*/"#,
            r#"SHOW TAG VALUES WITH KEY = "host""#,
            "SHOW TAG VALUES FROM cpu WITH KEY =~ /ho.*/ WHERE host =~ /^a/",
            "SELECT 1.5 * value FROM cpu",
            "SELECT a / b FROM cpu",
            "SELECT count(*) / 2, value::field / 3 FROM cpu",
            r#"SELECT * FROM "autogen"."cpu""#,
            "SELECT * FROM autogen./^cpu/",
            "SHOW MEASUREMENTS WITH MEASUREMENT =~ /x/",
            "SHOW MEASUREMENTS",
            "SHOW TAG KEYS FROM cpu",
            "SHOW FIELD KEYS",
            "SHOW SERIES",
            "SHOW RETENTION POLICIES",
            "select max(v) from cpu where time > now() - 5m; select min(v) from cpu;",
            "SELECT /* c */ * FROM cpu WHERE a = 1 /* c */ AND b = 2",
            "SELECT /* a comment with ' and \" */ * FROM cpu -- and ' here\n WHERE x = 1",
            r#"SELECT * FROM cpu WHERE p = '\'/*' AND "a\"b" = 'c' AND r =~ /a\/b'/"#,
            "SELECT * FROM (SELECT max(v) FROM cpu) WHERE time > 10ms",
            "EXPLAIN ANALYZE SELECT * FROM cpu",
            "SELECT * FROM cpu WHERE host = $host",
            r"SELECT * FROM cpu WHERE host =~ /^a\.b$/ AND p =~ /a\\\/b/",
            "SELECT * FROM cpu GROUP BY /l/",
            "SELECT * FROM cpu\nWHERE a = 1\n\tGROUP BY time(1m)",
            "",
            " ; ",
        ];
        for q in allowed {
            assert_eq!(stays_in_database(q), Ok(()), "{q}");
        }
    }

    #[test]
    fn the_attacks_of_issue_17_and_other_ways_out_of_the_database_are_refused() {
        let refused = [
            ("SELECT * FROM /*'*/secret..cpu/*'*/", "qualified"),
            ("SELECT * FROM -- '\nsecret..cpu -- '", "qualified"),
            ("SHOW MEASUREMENTS /*'*/ ON secret /*'*/", "ON"),
            ("SHOW /*'*/ DATABASES /*'*/", "DATABASES"),
            ("SELECT /*\"*/ * FROM secret.autogen.cpu", "qualified"),
            (
                "SELECT * FROM /'/; SELECT * FROM secret..cpu; SELECT * FROM /'/",
                "qualified",
            ),
            (r#"SELECT * FROM "secret"."autogen"."cpu""#, "qualified"),
            ("SELECT * FROM secret../^c/", "qualified"),
            ("SELECT * FROM (SELECT * FROM secret..cpu)", "qualified"),
            ("SHOW TAG KEYS FROM secret.autogen.cpu", "qualified"),
            ("SHOW MEASUREMENTS ON secret", "ON"),
            ("SHOW RETENTION POLICIES ON secret", "ON"),
            ("show databases", "DATABASES"),
            ("SHOW USERS", "USERS"),
            ("SELECT * INTO other FROM cpu", "INTO"),
            ("DROP MEASUREMENT cpu", "DROP"),
            ("SELECT 1; DELETE FROM cpu", "DELETE"),
            ("CREATE USER x WITH PASSWORD 'y'", "CREATE"),
            ("GRANT ALL TO x", "GRANT"),
            ("KILL QUERY 1", "KILL"),
            ("EXPLAIN DROP MEASUREMENT cpu", "EXPLAIN"),
            ("frobnicate", "unknown statement"),
            // What cannot be lexed as InfluxDB does.
            ("SELECT * FROM cpu WHERE a = 'open", "unterminated"),
            ("SELECT * FROM cpu /* open", "unterminated"),
            ("SELECT * FROM /open", "unterminated"),
            ("SELECT * FROM cpu WHERE a = 'x\\q'", "escape"),
            ("SELECT * FROM cpu WHERE a = 'two\nlines'", "unterminated"),
            ("SELECT * FROM /*x*/ cpu", "`/*`"),
            ("SELECT * FROM cpu -- x\rSELECT", "carriage return"),
            // Found by the outside review of the lexer: `\\/` inside a regex, and a keyword
            // InfluxDB 3 reads as a name before a `/` that then divides.
            (
                r"SELECT * FROM /a\\/ WHERE x = '/; SELECT * FROM secret..cpu; SELECT * FROM /'/",
                "qualified",
            ),
            (
                r"SELECT * FROM cpu WHERE h =~ /a\\/ AND b = '/; SHOW DATABASES; SELECT /'/",
                "DATABASES",
            ),
            (
                "SELECT key\r/1, b FROM secret..cpu WHERE c = 1/1",
                "carriage return",
            ),
            ("SELECT key/1, b FROM secret..cpu WHERE c = 1/1", "keyword"),
            (
                "SELECT key/**/ /1, b FROM secret..cpu WHERE c = 1/1",
                "keyword",
            ),
            ("SELECT * FROM cpu WHERE a = 1 # x", "character"),
            ("SELECT * FROM 'x'.cpu", "`.`"),
        ];
        for (q, found) in refused {
            let message = stays_in_database(q).unwrap_err();
            assert!(message.contains(found), "{q}: {message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    /// Text InfluxDB skips, holding the characters that could throw a lexer off.
    fn noise() -> impl Strategy<Value = String> {
        let text = || proptest::string::string_regex("[a-z '\"/*;.-]{0,12}").expect("regex");
        prop_oneof![
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            text().prop_map(|t| format!(" /*{}*/ ", t.replace("*/", "* /"))),
            text().prop_map(|t| format!(" --{t}\n")),
        ]
    }

    fn noises() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(noise(), 12)
    }

    /// Noise for where InfluxDB 1.x reads a regex straight away: no `/*`.
    fn plain_noise() -> impl Strategy<Value = String> {
        let text = proptest::string::string_regex("[a-z '\"/*;.-]{0,12}").expect("regex");
        prop_oneof![Just(" ".to_owned()), text.prop_map(|t| format!(" --{t}\n")),]
    }

    fn plain_noises() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(plain_noise(), 4)
    }

    fn string_literal() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z '\"/*;.\\\\-]{0,10}")
            .expect("regex")
            .prop_map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")))
    }

    /// A regex as InfluxDB lexes it: `\/` its only escape, any other `\` itself.
    fn regex_literal() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z '\"/*;.\\\\-]{0,10}")
            .expect("regex")
            .prop_map(|t| {
                let t = t.replace('/', "\\/");
                let tail = if t.ends_with('\\') { "x" } else { "" };
                format!("/^{t}{tail}/")
            })
    }

    fn quoted_name() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-z '/*;.-]{1,10}")
            .expect("regex")
            .prop_map(|t| format!("\"{t}\""))
    }

    fn measurement() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("cpu".to_owned()),
            quoted_name(),
            regex_literal(),
            quoted_name().prop_map(|m| format!("\"autogen\".{m}")),
        ]
    }

    /// A Grafana-like SELECT: `(noise, measurement, string, regex)` spliced into a template.
    fn benign() -> impl Strategy<Value = String> {
        (noises(), plain_noises(), measurement(), string_literal(), regex_literal()).prop_map(
            |(n, p, m, s, r)| {
                format!(
                    "SELECT{}mean(\"value\"){}FROM{}{m}{}WHERE time >= now() - 1h AND \"host\" =~{}{r}{}AND \"t\" ={}{s}{}GROUP BY time(1m),{}\"host\"{}fill(null){}",
                    n[0], n[1], p[0], n[3], p[1], n[5], p[2], n[7], p[3], n[9], n[10]
                )
            },
        )
    }

    /// A way to reach database `secret`, as tokens InfluxDB reads.
    fn escape() -> impl Strategy<Value = (usize, String)> {
        prop_oneof![
            Just((0, "secret..cpu".to_owned())),
            Just((0, "secret.autogen.cpu".to_owned())),
            Just((0, "\"secret\".\"autogen\".\"cpu\"".to_owned())),
            regex_literal().prop_map(|r| (0, format!("secret..{r}"))),
            Just((1, "; SELECT * FROM secret..cpu".to_owned())),
            Just((1, "; SHOW MEASUREMENTS ON secret".to_owned())),
            Just((1, "; SHOW DATABASES".to_owned())),
            Just((1, "; DROP MEASUREMENT cpu".to_owned())),
            Just((2, "INTO secret..copy".to_owned())),
        ]
    }

    #[test]
    fn a_keyword_run_into_a_division_never_hides_what_follows() {
        for keyword in KEYWORDS {
            for run_on in ["/", "/**/ /", "--x\n/", "\r/"] {
                let q = format!("SELECT {keyword}{run_on}1, b FROM secret..cpu WHERE c = 1/1");
                assert!(stays_in_database(&q).is_err(), "{q:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Text a lexer that let `\` escape any character would take for the end of a
        /// regex, then for a string hiding the statements InfluxDB runs.
        #[test]
        fn a_backslash_in_a_regex_never_hides_a_statement(
            t in proptest::string::string_regex("[a-z.^$*\\\\]{0,8}").expect("regex"),
            statement in prop_oneof![
                Just("SELECT * FROM secret..cpu"),
                Just("SHOW DATABASES"),
                Just("SHOW MEASUREMENTS ON secret"),
                Just("DROP MEASUREMENT cpu"),
            ],
        ) {
            let q = format!(r"SELECT * FROM /{t}\\/ WHERE x = '/; {statement}; SELECT * FROM /'/");
            prop_assert!(stays_in_database(&q).is_err(), "{}", q);
        }

        #[test]
        fn every_generated_grafana_like_statement_is_allowed(q in benign()) {
            prop_assert_eq!(stays_in_database(&q), Ok(()), "{}", q);
        }

        #[test]
        fn every_generated_statement_reaching_another_database_is_refused(
            n in noises(),
            p in plain_noises(),
            m in measurement(),
            s in string_literal(),
            r in regex_literal(),
            (at, escape) in escape(),
        ) {
            let from = if at == 0 { escape.clone() } else { m };
            let tail = if at == 1 { escape.as_str() } else { "" };
            let into = if at == 2 { escape.as_str() } else { "" };
            let q = format!(
                "SELECT{}*{}{into}{}FROM{}{from}{}WHERE \"host\" =~{}{r}{}AND t ={}{s}{}{tail}{}",
                n[0], n[1], n[2], p[0], n[4], p[1], n[6], p[2], n[8], n[9]
            );
            prop_assert!(stays_in_database(&q).is_err(), "{}", q);
        }
    }
}
