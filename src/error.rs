//! The domain's one error: what went wrong, in terms each surface maps to its own body
//! (`api::v0::ApiError`, `api::v2::V2Error`). Our own failures keep their source for the log;
//! no message here ever carries a secret.

pub type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The caller lacks a permission the operation needs (InfluxDB v2 answers 401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what exists; `constraint` names the store's rule that
    /// refused it, when one did.
    #[error("{message}")]
    Conflict {
        constraint: Option<&'static str>,
        message: String,
    },
    /// Well-formed, but refused as a whole (InfluxDB v2's `unprocessable entity`).
    #[error("{0}")]
    Unprocessable(String),
    /// Our own outage (the store, the hashing pool): callers answer 503 with Retry-After.
    #[error("unavailable: {0}")]
    Unavailable(#[source] Source),
    /// Our own bug or a corrupt row: 500 with no detail.
    #[error("internal: {0}")]
    Internal(#[source] Source),
}

impl Error {
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            constraint: None,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Error::Internal(detail.into().into())
    }
}
