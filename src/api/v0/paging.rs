//! Explicit paging shared by the list endpoints: the `limit` bound and `Link: rel="next"`.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiError;

pub const MAX_PAGE: u32 = 1000;

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

/// A JSON array, with `Link: <next>; rel="next"` when a following page may exist.
pub fn json_page<T: Serialize>(items: Vec<T>, next: Option<String>) -> Response {
    let mut response = Json(items).into_response();
    if let Some(next) = next
        && let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}
