//! The v2 API's one error type: `{"code": "<string code>", "message": "…"}` with the code
//! repeated in `X-Platform-Error-Code`, and InfluxDB's code → status map.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::RefusalMessage;
use crate::api::retry::{RETRY_AFTER_SECONDS, rate_limited_message, retry_seconds};
use crate::error::Error;

static PLATFORM_ERROR_CODE: HeaderName = HeaderName::from_static("x-platform-error-code");

/// InfluxDB's error codes (`kit/platform/errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Code {
    Invalid,
    EmptyValue,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    UnprocessableEntity,
    RequestTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    TooManyRequests,
    Unavailable,
    NotImplemented,
    Internal,
}

impl V2Code {
    /// The code as InfluxDB spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            V2Code::Invalid => "invalid",
            V2Code::EmptyValue => "empty value",
            V2Code::Unauthorized => "unauthorized",
            V2Code::Forbidden => "forbidden",
            V2Code::NotFound => "not found",
            V2Code::MethodNotAllowed => "method not allowed",
            V2Code::Conflict => "conflict",
            V2Code::UnprocessableEntity => "unprocessable entity",
            V2Code::RequestTooLarge => "request too large",
            V2Code::RequestTimeout => "request timeout",
            V2Code::UnsupportedMediaType => "unsupported media type",
            V2Code::TooManyRequests => "too many requests",
            V2Code::Unavailable => "unavailable",
            V2Code::NotImplemented => "not implemented",
            V2Code::Internal => "internal error",
        }
    }

    /// InfluxDB's `kit/transport/http/error_handler.go` mapping (`conflict` is 422).
    pub fn status(self) -> StatusCode {
        match self {
            V2Code::Invalid | V2Code::EmptyValue => StatusCode::BAD_REQUEST,
            V2Code::Unauthorized => StatusCode::UNAUTHORIZED,
            V2Code::Forbidden => StatusCode::FORBIDDEN,
            V2Code::NotFound => StatusCode::NOT_FOUND,
            V2Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            V2Code::Conflict | V2Code::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            V2Code::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            V2Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            V2Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            V2Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            V2Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            V2Code::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            V2Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl Serialize for V2Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Error body of every `/api/v2` endpoint.
#[derive(Serialize, ToSchema)]
pub struct V2ErrorBody {
    /// One of InfluxDB's codes: `invalid`, `unauthorized`, `forbidden`, `not found`,
    /// `conflict`, `unprocessable entity`, `request too large`, `unavailable`, `internal error`, …
    #[schema(value_type = String, example = "invalid")]
    pub code: V2Code,
    #[schema(example = "authorization must include permissions")]
    pub message: String,
}

#[derive(Debug)]
pub struct V2Error {
    pub code: V2Code,
    pub message: String,
    /// Seconds for `Retry-After`: our own outages (503) and rate limits (429).
    pub retry_after: Option<u64>,
}

/// The message, as the log shows a failure mid-stream.
impl std::fmt::Display for V2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl V2Error {
    pub fn new(code: V2Code, message: impl Into<String>) -> Self {
        V2Error {
            code,
            message: message.into(),
            retry_after: (code == V2Code::Unavailable).then_some(RETRY_AFTER_SECONDS),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(V2Code::Invalid, message)
    }

    pub fn unauthorized_access() -> Self {
        Self::new(V2Code::Unauthorized, "unauthorized access")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(V2Code::NotFound, message)
    }

    /// Our own outage: the detail goes to the log; the client gets 503 with Retry-After.
    pub fn unavailable(detail: &str) -> Self {
        crate::telemetry::unavailable(detail);
        Self::new(
            V2Code::Unavailable,
            "service temporarily unavailable; retry later",
        )
    }

    /// 429 with `Retry-After`: too many wrong secrets from this address (the management
    /// API's words).
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let seconds = retry_seconds(wait);
        V2Error {
            retry_after: Some(seconds),
            ..Self::new(V2Code::TooManyRequests, rate_limited_message(seconds))
        }
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(V2Code::Internal, "internal server error")
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<Error> for V2Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(m) => V2Error::invalid(m),
            Error::Unauthorized(m) => V2Error::new(V2Code::Unauthorized, m),
            Error::Forbidden(m) => V2Error::new(V2Code::Forbidden, m),
            Error::NotFound(m) => V2Error::not_found(m),
            Error::Conflict { message, .. } => V2Error::new(V2Code::Conflict, message),
            Error::Unprocessable(m) => V2Error::new(V2Code::UnprocessableEntity, m),
            Error::Unavailable(source) => V2Error::unavailable(&source.to_string()),
            Error::Internal(source) => V2Error::internal(&source.to_string()),
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = HeaderValue::from_static(self.code.as_str());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_influxdbs_words_and_statuses() {
        for (code, word, status) in [
            (V2Code::Invalid, "invalid", 400),
            (V2Code::Unauthorized, "unauthorized", 401),
            (V2Code::Forbidden, "forbidden", 403),
            (V2Code::NotFound, "not found", 404),
            (V2Code::MethodNotAllowed, "method not allowed", 405),
            (V2Code::Conflict, "conflict", 422),
            (V2Code::UnprocessableEntity, "unprocessable entity", 422),
            (V2Code::RequestTooLarge, "request too large", 413),
            (V2Code::TooManyRequests, "too many requests", 429),
            (V2Code::Unavailable, "unavailable", 503),
            (V2Code::Internal, "internal error", 500),
        ] {
            assert_eq!(code.as_str(), word);
            assert_eq!(serde_json::to_value(code).unwrap(), word);
            assert_eq!(code.status().as_u16(), status, "{word}");
        }
    }
}
