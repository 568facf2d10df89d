//! The management API's one error type: `{"code": <http status>, "message": "…"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::retry::{RETRY_AFTER_SECONDS, rate_limited_message, retry_seconds};
use crate::error::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After`: our own outages (503) and rate limits (429).
    pub retry_after: Option<u64>,
}

/// Error body of every `/api/v0` endpoint.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    #[schema(example = 400)]
    pub code: u16,
    #[schema(example = "description must not be empty")]
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECONDS),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Our own outage: the detail goes to the log, the client gets 503 and Retry-After.
    pub fn unavailable(detail: &str) -> Self {
        crate::telemetry::unavailable(detail);
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service temporarily unavailable; retry later",
        )
    }

    /// 429 with `Retry-After` (whole seconds, at least one).
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let seconds = retry_seconds(wait);
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: rate_limited_message(seconds),
            retry_after: Some(seconds),
        }
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(message) => ApiError::bad_request(message),
            Error::Unauthorized(message) => ApiError::unauthorized(message),
            Error::Forbidden(message) => ApiError::forbidden(message),
            Error::NotFound(message) => ApiError::not_found(message),
            Error::Conflict { message, .. } => {
                ApiError::new(StatusCode::CONFLICT, format!("conflict: {message}"))
            }
            Error::Unprocessable(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
            Error::Unavailable(source) => ApiError::unavailable(&source.to_string()),
            Error::Internal(source) => ApiError::internal(&source.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.status.as_u16(),
            message: crate::token::format::redact_credentials(&self.message).into_owned(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
