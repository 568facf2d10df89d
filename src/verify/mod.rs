//! Verifying a presented token: parse (no I/O), one indexed read by id, one argon2id check
//! on the bounded pool.

pub mod failures;

use tracing::instrument;

use crate::store::{Store, StoreError};
use crate::token::hashing::{HashPool, PoolError};
use crate::token::{self, Token, TokenKind, Unusable, format};

/// Why a presented token was not accepted. None of these carry the token.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("malformed token")]
    Malformed,
    #[error("unknown token")]
    Unknown,
    /// A live token id with the wrong secret; answered exactly as [`Rejection::Unknown`].
    #[error("unknown token")]
    WrongSecret,
    /// Too many wrong secrets from this address: retry after this long.
    #[error("too many failed verifications")]
    RateLimited(std::time::Duration),
    #[error("token is {0:?}")]
    Unusable(Unusable),
    #[error("our own failure: {0}")]
    Unavailable(String),
}

impl From<StoreError> for Rejection {
    fn from(err: StoreError) -> Self {
        Rejection::Unavailable(err.to_string())
    }
}

impl From<PoolError> for Rejection {
    fn from(err: PoolError) -> Self {
        Rejection::Unavailable(err.to_string())
    }
}

#[derive(Clone)]
pub struct Verifier {
    store: Store,
    pool: HashPool,
    failures: std::sync::Arc<failures::FailureLimit>,
}

impl Verifier {
    pub fn new(store: Store, pool: HashPool) -> Self {
        Verifier {
            store,
            pool,
            failures: std::sync::Arc::default(),
        }
    }

    /// As [`Verifier::verify`], for a caller connected from `address`: an address that has
    /// presented too many wrong secrets is refused before any hashing.
    pub async fn verify_from(
        &self,
        presented: &str,
        kinds: &[TokenKind],
        address: Option<std::net::IpAddr>,
    ) -> Result<Token, Rejection> {
        if let Some(address) = address
            && let Some(wait) = self.failures.retry_after(address)
        {
            return Err(Rejection::RateLimited(wait));
        }
        let verified = self.verify(presented, kinds).await;
        if let (Some(address), Err(Rejection::WrongSecret)) = (address, &verified) {
            self.failures.failed(address);
        }
        verified
    }

    /// Returns the stored token when `presented` is a live token of one of `kinds`.
    #[instrument(skip_all, fields(token_id))]
    pub async fn verify(&self, presented: &str, kinds: &[TokenKind]) -> Result<Token, Rejection> {
        let parsed = format::parse(presented).map_err(|_| Rejection::Malformed)?;
        if !kinds.contains(&parsed.kind) {
            return Err(Rejection::Unknown);
        }
        tracing::Span::current().record("token_id", parsed.id.as_str());
        let stored = self
            .store
            .find_token(&parsed.id)
            .await?
            .filter(|t| t.kind == parsed.kind)
            .ok_or(Rejection::Unknown)?;
        // The secret is checked before anything about the token is told: without it, a
        // revoked, expired or inactive token reads exactly as an unknown one.
        let matches = self
            .pool
            .verify(
                stored.kind,
                presented.to_owned(),
                stored.secret_hash.clone(),
            )
            .await?;
        if !matches {
            return Err(Rejection::WrongSecret);
        }
        match stored.unusable_at(token::now()) {
            Some(reason) => Err(Rejection::Unusable(reason)),
            None => Ok(stored),
        }
    }
}
