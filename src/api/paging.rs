//! Explicit paging shared by the list endpoints: `Link: rel="next"` (where the next page
//! starts is [`crate::paging`]). Uses axum.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::paging::next_cursor;

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
