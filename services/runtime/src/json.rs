//! JSON bodies from outside (aggregators, API clients), decoded with the failing field named.

/// Decodes `body`, or says which field is wrong: "bad JSON body at `to`: invalid type …"
/// (no field for a body that is not JSON at all).
pub fn from_slice_named<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BadJson> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        BadJson(if path == "." || path == "?" {
            format!("bad JSON body: {}", e.inner())
        } else {
            format!("bad JSON body at `{path}`: {}", e.inner())
        })
    })
}

/// A JSON body that does not decode, with the field at fault named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadJson(pub String);

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // read only through Debug
    struct Body {
        to: String,
    }

    #[test]
    fn names_the_field_at_fault() {
        let err = super::from_slice_named::<Body>(br#"{"to": 5}"#).unwrap_err().0;
        assert!(err.starts_with("bad JSON body at `to`: invalid type"), "{err}");
        let err = super::from_slice_named::<Body>(b"{").unwrap_err().0;
        assert!(err.starts_with("bad JSON body: "), "{err}");
    }
}
