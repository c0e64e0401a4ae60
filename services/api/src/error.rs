//! The API's errors: an [`ErrorCode`] (which gives the status and the JSON `code`) and a
//! message, answered as `{"error": {"code", "message"}}`.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
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

/// Middleware: an error axum answers by itself under `/api/` (a body over the limit, a
/// method the path does not take, an extractor's rejection: plain text or empty) gets the
/// API's JSON shape, with its status kept. Pages outside `/api/` answer as they are.
pub(crate) async fn json_rejections(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !api || json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let code = match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::TooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        400..=499 => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    };
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match code {
        ErrorCode::TooLarge => "the request body is larger than this endpoint takes".to_string(),
        ErrorCode::MethodNotAllowed => "the method is not accepted on this path".to_string(),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => String::from_utf8_lossy(&text).into_owned(),
    };
    let body = serde_json::json!({"error": {"code": code.as_str(), "message": message}});
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tower::ServiceExt;

    async fn call(method: &str, path: &str, body: &'static str) -> (StatusCode, String, String) {
        let app = axum::Router::new()
            .route("/api/v1/echo", post(|b: axum::body::Bytes| async move { b }))
            .route("/page", post(|b: axum::body::Bytes| async move { b }))
            .layer(axum::extract::DefaultBodyLimit::max(16))
            .layer(axum::middleware::from_fn(json_rejections));
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::from(body))
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn axums_own_errors_under_api_answer_in_the_json_shape() {
        let big = "x".repeat(64).leak();
        let (status, ct, body) = call("POST", "/api/v1/echo", big).await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "application/json")
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "too_large", "{body}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("larger"),
            "{body}"
        );

        let (status, _, body) = call("GET", "/api/v1/echo", "").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, &v["error"]["code"]),
            (StatusCode::METHOD_NOT_ALLOWED, &"method_not_allowed".into())
        );

        // A small body passes untouched; pages outside /api/ keep axum's answer.
        assert_eq!(call("POST", "/api/v1/echo", "hi").await.2, "hi");
        let (status, ct, _) = call("POST", "/page", big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(ct.starts_with("text/plain"), "{ct}");
    }

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
