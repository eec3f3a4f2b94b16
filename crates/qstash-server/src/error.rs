//! The API's error answers: a status and `{"error": "<message>"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qstash_store::{StoreError, StoreErrorKind};

/// An error answer of the HTTP API.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    /// `Retry-After` seconds, sent with the answer when set.
    retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store operation failed");
        match e.kind() {
            StoreErrorKind::Overloaded => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is overloaded: too many writes are waiting for the store; \
                     nothing was accepted, try again shortly",
                )
            },
            StoreErrorKind::Unavailable | StoreErrorKind::Full | StoreErrorKind::Busy => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable; nothing was accepted, try again",
                )
            },
            StoreErrorKind::Invalid => match e {
                StoreError::Invalid(message) | StoreError::Backend { message, .. } => {
                    ApiError::bad_request(message)
                }
                other => ApiError::bad_request(other.to_string()),
            },
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal store error"),
        }
    }
}

impl From<crate::service::Error> for ApiError {
    fn from(e: crate::service::Error) -> ApiError {
        use crate::service::Error;
        match e {
            Error::Invalid(m) => ApiError::bad_request(m),
            Error::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            Error::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            Error::Internal(m) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m),
            Error::Store(e) => ApiError::from(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The result of an API handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
