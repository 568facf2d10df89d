//! Token use cases: mint, read, describe, revoke. Handlers call these; SQL stays in `store`.

use tracing::instrument;

use super::format::{self, MintedToken};
use super::rules::{self, RuleError};
use time::OffsetDateTime;

use super::{Action, NewToken, Permission, Token, TokenId, TokenKind};
use crate::store::{Page, Revocation, Store, StoreError};
use crate::verify::{HashPool, PoolError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("token not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store or the hashing pool cannot serve right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::Internal(m) => ServiceError::Internal(m),
        }
    }
}

impl From<PoolError> for ServiceError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Busy => ServiceError::Unavailable(err.to_string()),
            PoolError::Failed(m) => ServiceError::Internal(m),
        }
    }
}

/// A request for a database token, as any API phrases it.
pub struct DatabaseTokenRequest {
    pub description: String,
    pub permissions: Vec<(Action, String)>,
    pub expires_at: Option<String>,
}

#[derive(Clone)]
pub struct TokenService {
    store: Store,
    pool: HashPool,
}

impl TokenService {
    pub fn new(store: Store, pool: HashPool) -> Self {
        TokenService { store, pool }
    }

    /// Validates, mints and stores a database token. The plain token is returned only here.
    #[instrument(skip_all, fields(created_by = %created_by))]
    pub async fn create_database_token(
        &self,
        created_by: &TokenId,
        request: DatabaseTokenRequest,
    ) -> Result<(Token, MintedToken), ServiceError> {
        let now = super::now();
        let description = rules::description(&request.description)?;
        let permissions = rules::database_permissions(request.permissions)?;
        let expires_at = rules::expiry(request.expires_at.as_deref(), now)?;
        let (new, minted) = self
            .mint(
                TokenKind::Database,
                description,
                permissions,
                now,
                expires_at,
            )
            .await?;
        let new = NewToken {
            created_by: Some(created_by.to_string()),
            ..new
        };
        let token = self.store.create_token(&new).await?;
        tracing::info!(token_id = %token.id, "database token created");
        Ok((token, minted))
    }

    /// A live operator management token, to be stored by `Store::bootstrap_operator` or
    /// `Store::replace_operator`.
    pub async fn new_operator_token(&self) -> Result<(NewToken, MintedToken), ServiceError> {
        let (new, minted) = self
            .mint(
                TokenKind::Management,
                "operator token".to_owned(),
                Vec::new(),
                super::now(),
                None,
            )
            .await?;
        Ok((
            NewToken {
                operator: true,
                ..new
            },
            minted,
        ))
    }

    /// A fresh token string and the row that stores only its hash.
    async fn mint(
        &self,
        kind: TokenKind,
        description: String,
        permissions: Vec<Permission>,
        created_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(NewToken, MintedToken), ServiceError> {
        let minted = format::mint(kind).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let new = NewToken {
            id: minted.id.clone(),
            kind,
            description,
            permissions,
            operator: false,
            token_prefix: format::display_prefix(kind, &minted.id),
            secret_hash: self.pool.hash(kind, minted.plain.clone()).await?,
            created_by: None,
            created_at,
            expires_at,
        };
        Ok((new, minted))
    }

    pub async fn get(
        &self,
        kind: TokenKind,
        id: &TokenId,
        include_revoked: bool,
    ) -> Result<Token, ServiceError> {
        self.store
            .find_token(id)
            .await?
            .filter(|t| t.kind == kind && (include_revoked || t.revoked_at.is_none()))
            .ok_or(ServiceError::NotFound)
    }

    pub async fn list(
        &self,
        kind: TokenKind,
        include_revoked: bool,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<Token>, ServiceError> {
        Ok(self
            .store
            .list_tokens(kind, include_revoked, Page { after, limit })
            .await?)
    }

    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn update_description(
        &self,
        kind: TokenKind,
        id: &TokenId,
        description: &str,
    ) -> Result<Token, ServiceError> {
        let description = rules::description(description)?;
        self.store
            .update_token_description(id, kind, &description, super::now())
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Soft revoke; revoking a revoked token is a no-op that keeps the first `revoked_at`.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke(&self, kind: TokenKind, id: &TokenId) -> Result<Token, ServiceError> {
        match self.store.revoke_token(id, kind, super::now()).await? {
            Revocation::Revoked(token) => {
                tracing::info!("token revoked");
                Ok(token)
            }
            Revocation::AlreadyRevoked(token) => Ok(token),
            Revocation::NotFound => Err(ServiceError::NotFound),
        }
    }
}
