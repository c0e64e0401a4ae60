//! `json(text)`: a webhook's JSON answer as a value expressions read. It is what parsing the
//! text into a `serde_json::Value` and serialising that with `Value::from_serialize` gives,
//! built straight from the parser without the intermediate tree: the same numbers (a
//! non-negative integer unsigned, a negative one signed, a float as it parses), the same
//! strings, lists and maps (the last of duplicate keys). Text with a key serde_json treats
//! specially (`$serde_json::private::…`, with its `raw_value` or `arbitrary_precision`
//! features), and text that does not parse, go the way they always went.

use std::fmt;

use minijinja::Value;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The value of `text`, or none when it is not JSON.
pub(super) fn parse(text: &str) -> Value {
    match serde_json::from_str::<Json>(text) {
        Ok(Json(v)) => v,
        Err(_) => before(text),
    }
}

/// Through `serde_json::Value`.
pub(super) fn before(text: &str) -> Value {
    serde_json::from_str::<serde_json::Value>(text).map_or(Value::from(()), Value::from_serialize)
}

struct Json(Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json(Value::from(b)))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
        // serde_json keeps a non-negative integer as unsigned.
        Ok(Json(match u64::try_from(i) {
            Ok(u) => Value::from(u),
            Err(_) => Value::from(i),
        }))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
        Ok(Json(Value::from(u)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
        // serde_json has no non-finite numbers: they are null.
        Ok(Json(if f.is_finite() {
            Value::from(f)
        } else {
            Value::from(())
        }))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json(Value::from(s)))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json(Value::from(())))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json(Value::from(())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Json(Value::from_iter(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with("$serde_json::private::") {
                return Err(de::Error::custom("a key serde_json treats specially"));
            }
            let Json(v) = map.next_value()?;
            entries.push((key, v));
        }
        // Collected as Value's map: the last of equal keys stays.
        Ok(Json(Value::from_iter(
            entries.into_iter().map(|(k, v)| (Value::from(k.as_str()), v)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_as_through_serde_json_values() {
        let texts = [
            r#"{"id": "REG-1"}"#,
            r#"{"id": 7, "x": [1, -2, 3.5, 1e3, 18446744073709551615, 18446744073709551616]}"#,
            r#"{"b": 1, "a": 2, "b": 3}"#,
            r#"{"nested": {"deep": [{"k": null}, true, false, ""]}, "é": "\u00e9\n"}"#,
            r#"[1, "two", [3], {"four": 4}]"#,
            r#"-9223372036854775808"#,
            r#"-0"#,
            r#"0.1"#,
            r#"1.7976931348623157e308"#,
            r#"1e400"#,
            r#""just a string""#,
            "null",
            "  {}  ",
            "[]",
            r#"{"$serde_json::private::RawValue": "[1, 2]"}"#,
            r#"{"$serde_json::private::Number": "12"}"#,
            r#"{"a": 1,}"#,
            "{",
            "",
            "not json",
            r#"{"a": 1} trailing"#,
            r#"{"a": "\ud800"}"#,
        ];
        for text in texts {
            let (got, want) = (parse(text), before(text));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.kind(), want.kind(), "{text}");
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{text}");
            assert_eq!(got.to_string(), want.to_string(), "{text}");
            if let Ok(keys) = want.try_iter() {
                let got_keys: Vec<Value> = got.try_iter().unwrap().collect();
                assert_eq!(got_keys, keys.collect::<Vec<Value>>(), "{text}");
            }
        }
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse(&deep), before(&deep));
    }
}
