//! Keyset paging, as every list pages: by id, a page at a time. Uses nothing.

/// The cursor of the page after `page`, read from its last item: only when the page is
/// full, since only then may another follow.
pub fn next_cursor<T, C>(page: &[T], limit: u32, cursor: impl FnOnce(&T) -> C) -> Option<C> {
    let full = usize::try_from(limit).is_ok_and(|limit| page.len() == limit);
    page.last().filter(|_| full).map(cursor)
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
