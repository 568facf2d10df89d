//! What the commands print: go-pretty style tables (influxctl's), JSON, and stdout writing
//! that survives a closed pipe.

use std::io::Write;

use serde::Serialize;

use super::Error;

/// `s` safe for a terminal: control characters (escape sequences, newlines) are shown escaped.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn border(widths: &[usize]) -> String {
    let mut line = String::from("+");
    for w in widths {
        line.push_str(&"-".repeat(w + 2));
        line.push('+');
    }
    line
}

fn row(cells: &[String], widths: &[usize], right_first: bool) -> String {
    let mut line = String::from("|");
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        let pad = " ".repeat(w - width(cell));
        if i == 0 && right_first {
            line.push_str(&format!(" {pad}{cell} |"));
        } else {
            line.push_str(&format!(" {cell}{pad} |"));
        }
    }
    line
}

/// A table with a header row, as go-pretty's default style renders it.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let mut out = vec![
        border(&widths),
        row(&headers, &widths, false),
        border(&widths),
    ];
    for r in &rows {
        out.push(row(r, &widths, false));
    }
    if !rows.is_empty() {
        out.push(border(&widths));
    }
    out.join("\n")
}

/// A two-column key/value table without header, keys right-aligned (influxctl 2.11+'s create
/// output).
pub fn key_value(rows: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, v)| vec![(*k).to_owned(), clean(v)])
        .collect();
    let mut widths = vec![0, 0];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let mut out = vec![border(&widths)];
    for r in &rows {
        out.push(row(r, &widths, true));
    }
    out.push(border(&widths));
    out.join("\n")
}

/// JSON as influxctl prints it: indented, on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Error::new(format!("cannot encode the output as JSON: {e}")))
}

/// Writes `text` and a newline to stdout. A reader that went away (`| head`) is not an error.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_look_like_go_pretty() {
        let t = table(
            &["id", "description"],
            &[vec![
                "000x0000-000x-0000-X0x0-X0X00000x000".into(),
                "read/write for mydb1".into(),
            ]],
        );
        assert_eq!(
            t,
            "\
+--------------------------------------+----------------------+
| ID                                   | DESCRIPTION          |
+--------------------------------------+----------------------+
| 000x0000-000x-0000-X0x0-X0X00000x000 | read/write for mydb1 |
+--------------------------------------+----------------------+"
        );
        let kv = key_value(&[
            ("id", "11111111-1111-1111-1111-111111111111".into()),
            ("description", "Example Token".into()),
            ("expires at", "2025-10-24T00:00:00Z".into()),
            ("revoked at", String::new()),
        ]);
        assert_eq!(
            kv,
            "\
+-------------+--------------------------------------+
|          id | 11111111-1111-1111-1111-111111111111 |
| description | Example Token                        |
|  expires at | 2025-10-24T00:00:00Z                 |
|  revoked at |                                      |
+-------------+--------------------------------------+"
        );
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(clean("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert_eq!(clean("é ok"), "é ok");
    }
}
