//! Reading a JSON request body, shared by the API surfaces; each phrases the failure its way.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Why a body could not be read as `T`.
pub enum BodyError {
    /// Larger than the router's body limit.
    TooLarge,
    /// The body could not be read; the text says why.
    Unreadable(String),
    /// Not JSON, or not `T`: the error, prefixed with its JSON path when it has one.
    Invalid(String),
}

pub async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<T, BodyError> {
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                BodyError::TooLarge
            }
            other => BodyError::Unreadable(other.body_text()),
        })?;
    let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            BodyError::Invalid(inner.to_string())
        } else {
            BodyError::Invalid(format!("{path}: {inner}"))
        }
    })
}
