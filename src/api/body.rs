//! Reading a JSON request body, shared by the API surfaces; each phrases the failure its way.
//! Uses axum and `strict_json`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Largest JSON body accepted by any surface.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a body could not be read as `T`.
pub enum BodyError {
    /// Larger than the router's body limit.
    TooLarge,
    /// The body did not arrive within its [`BodyDeadline`].
    TimedOut,
    /// The body could not be read; the text says why.
    Unreadable(String),
    /// Not JSON, or not `T` (a struct only from an object): the error, prefixed with its
    /// JSON path when it has one.
    Invalid(String),
}

/// How long a whole request body may take to arrive; the server puts it on each request.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// Once the request's credential has been checked (`http_body_read_timeout_seconds`).
    pub authenticated: std::time::Duration,
    /// Before any credential was checked: anyone can send such a body, so it may hold the
    /// connection only briefly (`http_unauthenticated_body_read_timeout_seconds`).
    pub unauthenticated: std::time::Duration,
}

/// Put on a request by the surfaces' caller extractors once its credential verified.
#[derive(Debug, Clone, Copy)]
pub struct CredentialChecked;

/// Without a [`BodyDeadline`] on the request (a router driven by hand, as in unit tests).
const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<T, BodyError> {
    // A body trickled a byte at a time, or not sent at all, must not hold the connection: the
    // whole body (at most 64 KiB) arrives within the deadline or the request ends with 408.
    let checked = req.extensions().get::<CredentialChecked>().is_some();
    let deadline = req
        .extensions()
        .get::<BodyDeadline>()
        .map_or(DEFAULT_BODY_DEADLINE, |d| {
            if checked {
                d.authenticated
            } else {
                d.unauthenticated.min(d.authenticated)
            }
        });
    let bytes = tokio::time::timeout(deadline, Bytes::from_request(req, state))
        .await
        .map_err(|_| BodyError::TimedOut)?
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                BodyError::TooLarge
            }
            other => BodyError::Unreadable(other.body_text()),
        })?;
    crate::api::strict_json::from_slice(&bytes).map_err(|e| BodyError::Invalid(e.0))
}

/// A query-string rejection in words a client can act on: the parameter, then what it must be.
pub fn query_problem(rejection: &str) -> String {
    let text = rejection
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(rejection);
    let (parameter, why) = text.split_once(": ").unwrap_or(("", text));
    let why = match why {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a non-negative integer"
        }
        "number too large to fit in target type" => "is too large",
        "provided string was not `true` or `false`" => "must be true or false",
        other => other,
    };
    if parameter.is_empty() {
        format!("invalid query string: {why}")
    } else {
        format!("invalid query parameter {parameter}: {why}")
    }
}

#[cfg(test)]
mod tests {
    use super::query_problem;

    #[test]
    fn query_problems_name_the_parameter_and_what_it_must_be() {
        assert_eq!(
            query_problem(
                "Failed to deserialize query string: limit: invalid digit found in string"
            ),
            "invalid query parameter limit: must be a non-negative integer"
        );
        assert_eq!(
            query_problem(
                "Failed to deserialize query string: unknown field `x`, expected `limit`"
            ),
            "invalid query string: unknown field `x`, expected `limit`"
        );
    }
}
