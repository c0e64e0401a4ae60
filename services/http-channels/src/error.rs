//! JSON error bodies for requests the connector refuses: an [`ErrorCode`] gives the status
//! and the `code` of `{"error": {"code": "...", "message": "..."}}`, as in the API.

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
