//! Errors of the HTTP API and how they are answered: `{"code": <non-zero>, "msg": "…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use thiserror::Error;

/// `code` of a refused revoke (too old, or not the caller's message): PROTOCOL.md, as the
/// client reads it.
pub use imcore::chat::api::CODE_REVOKE_REFUSED;

/// Why a request failed. Each variant has an HTTP status and a `code`.
#[derive(Debug, Error)]
pub enum ApiError {
    /// Malformed JSON, a missing or mistyped field, a value out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Content or body over its size limit.
    #[error("{0}")]
    TooLarge(String),
    /// No bearer token, or a bad or expired one.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is not a member of the conversation or room, or does not own the message.
    #[error("{0}")]
    Forbidden(String),
    /// An unknown user, room, message or path.
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the state (resending a revoked message).
    #[error("{0}")]
    Conflict(String),
    /// A revoke the rules refuse: answered with HTTP 200 and `code` 100 (PROTOCOL.md), so a
    /// client can tell it from a transport error.
    #[error("{0}")]
    RevokeRefused(String),
    /// The broker could not apply a security change in time.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// A bug or a storage failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(msg.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RevokeRefused(_) => StatusCode::OK,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope's `code`: the HTTP status, or 100 for a refused revoke.
    pub fn code(&self) -> i64 {
        match self {
            ApiError::RevokeRefused(_) => CODE_REVOKE_REFUSED,
            other => i64::from(other.status().as_u16()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(_) = self {
            crate::log(&format!("error: {self}"));
        }
        let body = json!({ "code": self.code(), "msg": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<crate::broker::SecurityError> for ApiError {
    fn from(e: crate::broker::SecurityError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}
