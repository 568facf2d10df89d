//! Extraction plumbing both surfaces phrase their own way: query strings and path segments.
//! Uses axum; each surface wraps these in extractors that answer in its error body.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Why path parameters could not be read; the segment is never echoed (it may be a token).
pub const PATH_NOT_UTF8: &str = "the path holds a segment that is not valid UTF-8";

/// A query string, or the problem in words a client can act on.
pub async fn query<S: Send + Sync, T: DeserializeOwned>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, String> {
    Query::<T>::from_request_parts(parts, state)
        .await
        .map(|Query(value)| value)
        .map_err(|rejection| super::body::query_problem(&rejection.body_text()))
}

/// Path parameters; `Err(PATH_NOT_UTF8)` when a segment does not decode.
pub async fn path<S: Send + Sync, T: DeserializeOwned + Send>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, &'static str> {
    Path::<T>::from_request_parts(parts, state)
        .await
        .map(|Path(value)| value)
        .map_err(|_| PATH_NOT_UTF8)
}

/// The client address of a request (see [`super::request::peer`]).
pub struct Client(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(super::request::peer(parts)))
    }
}
