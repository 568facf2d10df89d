//! Token use cases: mint, read, describe, revoke. Handlers call these; SQL stays in `store`.

use tracing::instrument;

use super::format::{self, MintedToken};
use super::rules::{self, RuleError};
use crate::audit::{AuditEvent, Origin};
use crate::identity::Principal;
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
    #[instrument(skip_all, fields(actor = %actor.actor()))]
    pub async fn create_database_token(
        &self,
        actor: &Principal,
        origin: &Origin,
        request: DatabaseTokenRequest,
    ) -> Result<(Token, MintedToken), ServiceError> {
        let now = super::now();
        let description = rules::description(&request.description)?;
        let permissions = rules::database_permissions(request.permissions)?;
        let expires_at = rules::expiry(request.expires_at.as_deref(), now)?;
        self.create(
            TokenKind::Database,
            actor,
            origin,
            description,
            permissions,
            expires_at,
        )
        .await
    }

    /// Validates, mints and stores a manual management token.
    #[instrument(skip_all, fields(actor = %actor.actor()))]
    pub async fn create_management_token(
        &self,
        actor: &Principal,
        origin: &Origin,
        description: &str,
        expires_at: Option<&str>,
    ) -> Result<(Token, MintedToken), ServiceError> {
        let now = super::now();
        let description = rules::description(description)?;
        let expires_at = rules::expiry(expires_at, now)?;
        self.create(
            TokenKind::Management,
            actor,
            origin,
            description,
            Vec::new(),
            expires_at,
        )
        .await
    }

    async fn create(
        &self,
        kind: TokenKind,
        actor: &Principal,
        origin: &Origin,
        description: String,
        permissions: Vec<Permission>,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(Token, MintedToken), ServiceError> {
        let (new, minted) = self
            .mint(kind, description, permissions, super::now(), expires_at)
            .await?;
        let new = NewToken {
            created_by: Some(actor.creator()),
            ..new
        };
        let action = match kind {
            TokenKind::Database => "token.create",
            TokenKind::Management => "management_token.create",
        };
        let audit = AuditEvent::new(actor.actor(), action, origin).target(new.id.to_string());
        let token = self.store.create_token(&new, &audit).await?;
        tracing::info!(token_id = %token.id, kind = kind.as_str(), "token created");
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
    pub(crate) async fn mint(
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
            status: super::Status::Active,
            user_id: None,
            org_id: None,
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
            .filter(|t| t.kind == kind && !t.operator)
            .filter(|t| include_revoked || t.revoked_at.is_none())
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
        actor: &Principal,
        origin: &Origin,
        kind: TokenKind,
        id: &TokenId,
        description: &str,
    ) -> Result<Token, ServiceError> {
        let description = rules::description(description)?;
        let audit = AuditEvent::new(actor.actor(), "token.update", origin).target(id.to_string());
        self.store
            .update_token_description(id, kind, &description, &audit)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Soft revoke; revoking a revoked token is a no-op that keeps the first `revoked_at`.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke(
        &self,
        actor: &Principal,
        origin: &Origin,
        kind: TokenKind,
        id: &TokenId,
    ) -> Result<Token, ServiceError> {
        let action = match kind {
            TokenKind::Database => "token.revoke",
            TokenKind::Management => "management_token.revoke",
        };
        let audit = AuditEvent::new(actor.actor(), action, origin).target(id.to_string());
        match self.store.revoke_token(id, kind, &audit).await? {
            Revocation::Revoked(token) => {
                tracing::info!("token revoked");
                Ok(token)
            }
            Revocation::AlreadyRevoked(token) => Ok(token),
            Revocation::NotFound => Err(ServiceError::NotFound),
        }
    }
}
