//! Extractors whose rejections are `ApiError`s that say what was wrong, and the management
//! API's parameter rules.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::api::body::{BodyError, MAX_BODY_BYTES, read_json};
use crate::token::TokenId;

/// Largest page a list returns.
pub const MAX_PAGE: u32 = 1000;

/// A JSON body: 415 without `Content-Type: application/json`, 413 over the limit,
/// 400 naming the field for malformed JSON or wrong types.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            ));
        }
        let value = read_json(req, state).await.map_err(|e| match e {
            BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ),
            BodyError::TimedOut => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ),
            BodyError::Unreadable(why) => {
                ApiError::bad_request(format!("cannot read request body: {why}"))
            }
            BodyError::Invalid(why) => ApiError::bad_request(format!("invalid JSON body: {why}")),
        })?;
        Ok(ApiJson(value))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A query string; 400 naming the parameter when it does not parse.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        crate::api::extract::query(parts, state)
            .await
            .map(ApiQuery)
            .map_err(ApiError::bad_request)
    }
}

/// Path parameters; a segment that does not decode is a 400 in this API's body, not echoed.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        crate::api::extract::path(parts, state)
            .await
            .map(ApiPath)
            .map_err(ApiError::bad_request)
    }
}

/// Parses a path id without echoing it (a pasted token must not come back in an error).
pub fn token_id(raw: &str) -> Result<TokenId, ApiError> {
    TokenId::parse(raw)
        .map_err(|_| ApiError::bad_request("token id must be 16 lowercase hexadecimal characters"))
}

/// 400 unless `limit` is within 1..=MAX_PAGE.
pub fn page_limit(limit: u32) -> Result<u32, ApiError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )))
    }
}
