//! Configuration errors worded for an operator: where (file, line and column, or the key and
//! the variable) and what is wrong, never the offending value or the source line, which may
//! hold a database password or a token.

use std::path::Path;

use figment::error::{Actual, Kind};

/// A TOML file that does not parse: `path: line L, column C: problem`.
pub fn toml_syntax(path: &Path, text: &str, error: &toml::de::Error) -> String {
    let at = error
        .span()
        .map(|span| {
            let (line, column) = line_and_column(text, span.start);
            format!(" line {line}, column {column}:")
        })
        .unwrap_or_default();
    format!(
        "{}:{at} {}",
        path.display(),
        without_values(error.message())
    )
}

/// 1-based line and column (in characters) of the byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Each of figment's errors as `key in source: problem`; values never shown.
pub fn figment(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let from_environment = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            // figment's own interpolation adds the profile (`default.`) and drops the prefix.
            let key = if from_environment && !e.path.is_empty() {
                format!("TOLLGATE_{}", e.path.join("__").to_ascii_uppercase())
            } else {
                e.path.join(".")
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match m.source.as_ref().and_then(|s| s.file_path()) {
                    Some(file) => format!(" in {}", file.display()),
                    None if from_environment => " in the environment".to_owned(),
                    None => String::new(),
                })
                .unwrap_or_default();
            let problem = problem(&e.kind);
            if key.is_empty() {
                format!("{problem}{source}")
            } else {
                format!("{key}{source}: {problem}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn problem(kind: &Kind) -> String {
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {}", shape(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("expected {expected}, found another {}", shape(actual))
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown value; expected one of {}", expected.join(", "))
        }
        Kind::UnknownField(field, expected) => {
            format!(
                "unknown key {field:?}; known keys here: {}",
                expected.join(", ")
            )
        }
        Kind::MissingField(field) => format!("missing key {field:?}"),
        Kind::DuplicateField(field) => format!("key {field:?} is given twice"),
        Kind::InvalidLength(length, expected) => format!("expected {expected}, found {length}"),
        Kind::Unsupported(actual) | Kind::UnsupportedKey(actual, _) => {
            format!("a {} is not supported here", shape(actual))
        }
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "number out of range".to_owned(),
        // Ours (validation) or a provider's; a TOML syntax error is reported before figment
        // sees the file, so no source line reaches here.
        Kind::Message(message) => without_values(message),
    }
}

/// What kind of value was given, without the value.
fn shape(actual: &Actual) -> &'static str {
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a float",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "an array",
        Actual::Map => "a table",
        _ => "a value of another kind",
    }
}

/// serde's `invalid type: string "…", expected …` with the value cut out.
fn without_values(message: &str) -> String {
    let message = message.trim_end();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((_, expected)) = rest.rsplit_once(", expected ")
        {
            return format!("{prefix}expected {expected}");
        }
    }
    if message.starts_with("unknown variant") {
        return match message.split_once(", expected ") {
            Some((_, expected)) => format!("unknown value; expected {expected}"),
            None => "unknown value".to_owned(),
        };
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_counts_lines_and_characters_from_one() {
        assert_eq!(line_and_column("a = 1\nbé = x", 10), (2, 4));
        assert_eq!(line_and_column("x", 0), (1, 1));
    }

    #[test]
    fn a_serde_message_loses_its_value() {
        assert_eq!(
            without_values("invalid type: string \"hunter2\", expected u16"),
            "invalid type: expected u16"
        );
        assert_eq!(
            without_values("unknown variant `hunter2`, expected `json` or `text`"),
            "unknown value; expected `json` or `text`"
        );
    }
}
