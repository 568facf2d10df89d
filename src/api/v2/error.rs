//! The v2 API's one error type: `{"code": "<string code>", "message": "…"}` with the code
//! repeated in `X-Platform-Error-Code`, and InfluxDB's code → status map.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::RefusalMessage;
use crate::api::v0::ApiError;
use crate::api::v0::error::RETRY_AFTER_SECONDS;
use crate::error::Error;

static PLATFORM_ERROR_CODE: HeaderName = HeaderName::from_static("x-platform-error-code");

/// Error body of every `/api/v2` endpoint.
#[derive(Serialize, ToSchema)]
pub struct V2ErrorBody {
    /// One of InfluxDB's codes: `invalid`, `unauthorized`, `forbidden`, `not found`,
    /// `conflict`, `unprocessable entity`, `request too large`, `unavailable`, `internal error`, …
    #[schema(example = "invalid")]
    pub code: &'static str,
    #[schema(example = "authorization must include permissions")]
    pub message: String,
}

#[derive(Debug)]
pub struct V2Error {
    pub code: &'static str,
    pub message: String,
    /// Seconds for `Retry-After`: our own outages (503) and rate limits (429).
    pub retry_after: Option<u64>,
}

impl V2Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        V2Error {
            code,
            message: message.into(),
            retry_after: (code == "unavailable").then_some(RETRY_AFTER_SECONDS),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid", message)
    }

    pub fn unauthorized_access() -> Self {
        Self::new("unauthorized", "unauthorized access")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("not found", message)
    }

    /// Our own outage: the detail goes to the log; the client gets 503 with Retry-After.
    pub fn unavailable(detail: &str) -> Self {
        crate::telemetry::unavailable(detail);
        Self::new(
            "unavailable",
            "service temporarily unavailable; retry later",
        )
    }

    /// 429 with `Retry-After`: too many wrong secrets from this address.
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        Self::from_rate_limit(ApiError::too_many_requests(wait))
    }

    /// The management API's 429, same message and `Retry-After`, in v2's shape.
    pub fn from_rate_limit(error: ApiError) -> Self {
        V2Error {
            retry_after: error.retry_after,
            ..Self::new("too many requests", error.message)
        }
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new("internal error", "internal server error")
    }

    /// InfluxDB's `kit/transport/http/error_handler.go` mapping (`conflict` is 422).
    pub fn status(&self) -> StatusCode {
        match self.code {
            "invalid" | "empty value" => StatusCode::BAD_REQUEST,
            "unauthorized" => StatusCode::UNAUTHORIZED,
            "forbidden" => StatusCode::FORBIDDEN,
            "not found" => StatusCode::NOT_FOUND,
            "method not allowed" => StatusCode::METHOD_NOT_ALLOWED,
            "conflict" | "unprocessable entity" => StatusCode::UNPROCESSABLE_ENTITY,
            "request too large" => StatusCode::PAYLOAD_TOO_LARGE,
            "request timeout" => StatusCode::REQUEST_TIMEOUT,
            "unsupported media type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "too many requests" => StatusCode::TOO_MANY_REQUESTS,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "not implemented" => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<Error> for V2Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(m) => V2Error::invalid(m),
            Error::Unauthorized(m) => V2Error::new("unauthorized", m),
            Error::Forbidden(m) => V2Error::new("forbidden", m),
            Error::NotFound(m) => V2Error::not_found(m),
            Error::Conflict { message, .. } => V2Error::new("conflict", message),
            Error::Unprocessable(m) => V2Error::new("unprocessable entity", m),
            Error::Unavailable(source) => V2Error::unavailable(&source.to_string()),
            Error::Internal(source) => V2Error::internal(&source.to_string()),
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = HeaderValue::from_static(self.code);
        let message = crate::token::format::redact_credentials(&self.message).into_owned();
        let message_for_audit = message.clone();
        let mut response = (
            status,
            Json(V2ErrorBody {
                code: self.code,
                message,
            }),
        )
            .into_response();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            response
                .extensions_mut()
                .insert(RefusalMessage(message_for_audit));
        }
        let headers = response.headers_mut();
        headers.insert(PLATFORM_ERROR_CODE.clone(), code);
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
