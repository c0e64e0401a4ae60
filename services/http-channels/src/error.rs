//! Requests the connector refuses: [`Malformed`] says why a request cannot be parsed, and
//! JSON error bodies, whose [`ErrorCode`] gives the status and the `code` of
//! `{"error": {"code": "...", "message": "..."}}`, as in the API.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use seedgate_proto::ErrorCode;

/// `{"error": {"code": "...", "message": "..."}}` with the status of `code`.
pub fn json_error(code: ErrorCode, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({"error": {"code": code.as_str(), "message": message.into()}});
    (status, Json(body)).into_response()
}

/// Why an aggregator's request cannot be parsed (answered 400 `bad_request` with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl From<String> for Malformed {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for Malformed {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}

impl From<seedgate_runtime::json::BadJson> for Malformed {
    fn from(e: seedgate_runtime::json::BadJson) -> Self {
        Self(e.to_string())
    }
}

/// `Err(malformed!("field `{name}` …"))`: a [`Malformed`] from a format string.
macro_rules! malformed {
    ($($arg:tt)*) => {
        $crate::error::Malformed(format!($($arg)*))
    };
}
