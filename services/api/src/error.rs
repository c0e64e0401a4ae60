//! The API's errors: an [`ErrorCode`] (which gives the status and the JSON `code`) and a
//! message, answered as `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use seedgate_proto::ErrorCode;
use seedgate_runtime::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// The HTTP status of the error's code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.code();
        match e {
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable for an API request");
                Self::new(
                    code,
                    "the message store is not reachable; nothing was accepted, try again",
                )
            }
            StoreError::Rejected(m) => {
                tracing::error!(error = %m, "store refused an API request");
                Self::new(code, "the store refused the request")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({"error": {"code": self.code.as_str(), "message": self.message}});
        let mut resp = (status, axum::Json(body)).into_response();
        if self.code == ErrorCode::RateLimited {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_answer_as_they_always_have() {
        let unavailable = ApiError::from(StoreError::Unavailable("down".into()));
        assert_eq!(
            (unavailable.status(), unavailable.code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
        );
        let rejected = ApiError::from(StoreError::Rejected("no".into()));
        assert_eq!(
            (rejected.status(), rejected.code.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }
}
