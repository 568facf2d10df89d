//! Request bodies decoded as a client reads the schema: a struct comes only from a JSON
//! object (serde would also fill one from an array, positionally), and error messages speak
//! JSON, never Rust (`expected struct CreateTokenBody`, `expected u32`).

use serde::de::value::{MapDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// Why a body did not decode, with the JSON path of the offending value when there is one.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// Decodes `bytes` (JSON) into `T`, objects only where `T` has structs.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError(json_words(&e)))?;
    serde_path_to_error::deserialize(Strict(value)).map_err(|err| {
        let path = err.path().to_string();
        let message = json_words(err.inner());
        if path == "." || path.starts_with('?') {
            DecodeError(message)
        } else {
            DecodeError(format!("{path}: {message}"))
        }
    })
}

/// serde's wording with Rust type names replaced by JSON ones.
fn json_words(err: &dyn std::fmt::Display) -> String {
    let text = err.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("expected ") {
        let (head, tail) = rest.split_at(at + "expected ".len());
        out.push_str(head);
        let word_end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let (word, after) = tail.split_at(word_end);
        let replacement = match word {
            "u8" | "u16" | "u32" | "u64" | "usize" => Some("a non-negative integer"),
            "i8" | "i16" | "i32" | "i64" | "isize" => Some("an integer"),
            "f32" | "f64" => Some("a number"),
            "struct" => Some("a JSON object"),
            _ => None,
        };
        match replacement {
            Some(words) => {
                out.push_str(words);
                rest = after;
                // `struct Name` and `struct Name with N elements`: the Rust name goes too.
                if word == "struct" {
                    rest = rest.trim_start();
                    let name_end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    rest = &rest[name_end..];
                    if let Some(stripped) = strip_with_elements(rest) {
                        rest = stripped;
                    }
                }
            }
            None => {
                out.push_str(word);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    // serde's data-model words, in JSON's.
    out.replace("a sequence", "an array")
        .replace("type: sequence", "type: array")
        .replace("a map", "an object")
        .replace("type: map", "type: object")
}

fn strip_with_elements(text: &str) -> Option<&str> {
    let tail = text.strip_prefix(" with ")?;
    let end = tail.find(" element")?;
    let after = &tail[end + " element".len()..];
    Some(after.strip_prefix('s').unwrap_or(after))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A `serde_json::Value` that refuses to become a struct unless it is an object.
struct Strict(Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Strict {
    type Deserializer = Strict;

    fn into_deserializer(self) -> Strict {
        self
    }
}

type StrictItems = std::iter::Map<std::vec::IntoIter<Value>, fn(Value) -> Strict>;

fn seq(items: Vec<Value>) -> SeqDeserializer<StrictItems, serde_json::Error> {
    SeqDeserializer::new(items.into_iter().map(Strict as fn(Value) -> Strict))
}

type StrictEntries =
    std::iter::Map<serde_json::map::IntoIter, fn((String, Value)) -> (String, Strict)>;

fn map(entries: Map<String, Value>) -> MapDeserializer<'static, StrictEntries, serde_json::Error> {
    let strict: fn((String, Value)) -> (String, Strict) = |(key, value)| (key, Strict(value));
    MapDeserializer::new(entries.into_iter().map(strict))
}

impl<'de> Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let mut access = seq(items);
                let value = visitor.visit_seq(&mut access)?;
                access.end()?;
                Ok(value)
            }
            Value::Object(entries) => {
                let mut access = map(entries);
                let value = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::custom(format!(
                "expected a JSON object, got {}",
                kind(&other)
            ))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) => {
                let variant: StringDeserializer<serde_json::Error> = s.into_deserializer();
                visitor.visit_enum(variant)
            }
            other => Err(de::Error::custom(format!(
                "expected a string, got {}",
                kind(&other)
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Body {
        description: String,
        limit: Option<u32>,
        items: Vec<Item>,
        kind: Option<Kind>,
        value: Option<Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        action: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Read,
    }

    #[test]
    fn objects_decode_as_before() {
        let body: Body = from_slice(
            br#"{"description":"d","limit":3,"items":[{"action":"a"}],"kind":"read","value":[1,{"x":null}]}"#,
        )
        .unwrap();
        assert_eq!(body.limit, Some(3));
        assert_eq!(body.kind, Some(Kind::Read));
        assert_eq!(body.items, vec![Item { action: "a".into() }]);
        assert_eq!(body.value, Some(serde_json::json!([1, {"x": null}])));
    }

    #[test]
    fn arrays_never_fill_structs() {
        let err = from_slice::<Body>(br#"["d", null, [], null, null]"#).unwrap_err();
        assert_eq!(err.0, "expected a JSON object, got an array");
        let err = from_slice::<Body>(br#"{"description":"d","items":[["a"]]}"#).unwrap_err();
        assert_eq!(err.0, "items[0]: expected a JSON object, got an array");
    }

    #[test]
    fn messages_name_json_types_not_rust_ones() {
        let err = from_slice::<Body>(br#"{"description":"d","items":[],"limit":-1}"#).unwrap_err();
        assert_eq!(
            err.0,
            "limit: invalid value: integer `-1`, expected a non-negative integer"
        );
        let err =
            from_slice::<Body>(br#"{"description":"d","items":[],"kind":"write"}"#).unwrap_err();
        assert_eq!(err.0, "kind: unknown variant `write`, expected `read`");
        let err = from_slice::<Body>(br#"{"items":[]}"#).unwrap_err();
        assert_eq!(err.0, "missing field `description`");
        let err = from_slice::<Body>(b"[1,").unwrap_err();
        assert!(err.0.starts_with("EOF while parsing"), "{}", err.0);
    }

    #[test]
    fn serde_words_become_json_words_and_an_empty_body_is_named() {
        let err = from_slice::<Body>(br#"{"description":"d","items":{}}"#).unwrap_err();
        assert_eq!(err.0, "items: invalid type: object, expected an array");
        let err = from_slice::<Body>(b"  ").unwrap_err();
        assert_eq!(err.0, "the request body is empty; send a JSON object");
    }
}
