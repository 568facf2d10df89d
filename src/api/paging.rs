//! Explicit paging shared by the list endpoints: where the next page starts, and
//! `Link: rel="next"`. Uses axum.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The cursor of the page after `page`, read from its last item: only when the page is
/// full, since only then may another follow.
pub fn next_cursor<T, C>(page: &[T], limit: u32, cursor: impl FnOnce(&T) -> C) -> Option<C> {
    let full = usize::try_from(limit).is_ok_and(|limit| page.len() == limit);
    page.last().filter(|_| full).map(cursor)
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

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        assert_eq!(next_cursor(&[1, 2, 3], 3, |n| *n), Some(3));
        assert_eq!(next_cursor(&[1, 2], 3, |n| *n), None);
        assert_eq!(next_cursor::<i32, i32>(&[], 0, |n| *n), None);
    }
}
