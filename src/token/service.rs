//! Token use cases: mint, read, describe, revoke. Handlers call these; SQL stays in `store`.

use tracing::instrument;

use time::OffsetDateTime;

use super::format::{self, MintedToken};
use super::hashing::HashPool;
use super::model::{NewToken, Token, TokenId, TokenKind, Unusable};
use super::permission::{Action, Permission};
use super::rules;
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::error::Error;
use crate::identity::Principal;
use crate::store::{NotRotatable, OnConstraint, Page, Revocation, Rotation, Store, constraint};

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
    ) -> Result<(Token, MintedToken), Error> {
        let now = super::model::now();
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
    ) -> Result<(Token, MintedToken), Error> {
        let now = super::model::now();
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
    ) -> Result<(Token, MintedToken), Error> {
        let (new, minted) = self
            .mint(
                kind,
                description,
                permissions,
                super::model::now(),
                expires_at,
            )
            .await?;
        let new = NewToken {
            created_by: Some(actor.creator()),
            ..new
        };
        let action = match kind {
            TokenKind::Database => AuditAction::TokenCreate,
            TokenKind::Management => AuditAction::ManagementTokenCreate,
        };
        let audit = AuditEvent::new(actor.actor(), action, origin).target(new.id.to_string());
        let token = self
            .store
            .create_token(&new, &audit)
            .await
            .on_constraint(constraint::TOKENS_PKEY, || {
                "the token already exists".into()
            })?;
        tracing::info!(token_id = %token.id, kind = kind.as_str(), "token created");
        Ok((token, minted))
    }

    /// Whether an operator token was ever minted (revoked ones count).
    pub async fn has_operator_token(&self) -> Result<bool, Error> {
        Ok(self.store.has_operator_token().await?)
    }

    /// Mints the operator token unless one was ever minted; `None` when one was, by an
    /// earlier start or by a replica starting at the same time.
    pub async fn bootstrap_operator(&self) -> Result<Option<MintedToken>, Error> {
        let (new, minted) = self.new_operator_token().await?;
        let audit = AuditEvent::new(
            "system",
            AuditAction::OperatorTokenBootstrap,
            &Origin::default(),
        )
        .target(new.id.to_string());
        match self.store.bootstrap_operator(&new, &audit).await {
            Ok(true) => Ok(Some(minted)),
            Ok(false) => Ok(None),
            // The racing replica's operator token is live: it won.
            Err(e) if e.constraint() == Some(constraint::ONE_ACTIVE_OPERATOR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes every live operator token and mints a new one (the break-glass path of
    /// `tollgate admin operator-token --regenerate`); returns it with the revoked ids.
    pub async fn regenerate_operator(&self) -> Result<(MintedToken, Vec<TokenId>), Error> {
        let (new, minted) = self.new_operator_token().await?;
        let audit = AuditEvent::new(
            "cli",
            AuditAction::OperatorTokenRegenerate,
            &Origin::default(),
        )
        .target(new.id.to_string());
        let revoked = self
            .store
            .replace_operator(&new, &audit)
            .await
            .on_constraint(constraint::ONE_ACTIVE_OPERATOR, || {
                "another operator token was minted at the same time; run the command again".into()
            })?;
        Ok((minted, revoked))
    }

    async fn new_operator_token(&self) -> Result<(NewToken, MintedToken), Error> {
        let (new, minted) = self
            .mint(
                TokenKind::Management,
                "operator token".to_owned(),
                Vec::new(),
                super::model::now(),
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
    ) -> Result<(NewToken, MintedToken), Error> {
        let minted = format::mint(kind).map_err(|e| Error::Internal(Box::new(e)))?;
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
            status: super::model::Status::Active,
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
    ) -> Result<Token, Error> {
        self.store
            .find_token(id)
            .await?
            .filter(|t| t.kind == kind && !t.operator)
            .filter(|t| include_revoked || t.revoked_at.is_none())
            .ok_or(not_found())
    }

    pub async fn list(
        &self,
        kind: TokenKind,
        include_revoked: bool,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<Token>, Error> {
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
    ) -> Result<Token, Error> {
        let description = rules::description(description)?;
        let audit =
            AuditEvent::new(actor.actor(), AuditAction::TokenUpdate, origin).target(id.to_string());
        self.store
            .update_token_description(id, kind, &description, &audit)
            .await?
            .ok_or(not_found())
    }

    /// Soft revoke; revoking a revoked token is a no-op that keeps the first `revoked_at`.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn revoke(
        &self,
        actor: &Principal,
        origin: &Origin,
        kind: TokenKind,
        id: &TokenId,
    ) -> Result<Token, Error> {
        let action = match kind {
            TokenKind::Database => AuditAction::TokenRevoke,
            TokenKind::Management => AuditAction::ManagementTokenRevoke,
        };
        let audit = AuditEvent::new(actor.actor(), action, origin).target(id.to_string());
        match self.store.revoke_token(id, kind, &audit).await? {
            Revocation::Revoked(token) => {
                tracing::info!("token revoked");
                Ok(token)
            }
            Revocation::AlreadyRevoked(token) => Ok(token),
            Revocation::NotFound => Err(not_found()),
        }
    }
}

impl TokenService {
    /// A new database token with `id`'s permissions, description and v2 owner; `id` then
    /// expires when `grace` ends (or at its own earlier expiry), or is revoked at once for a
    /// zero grace. One transaction: both tokens work during the grace, and no window refuses
    /// writes. Only a usable token that was never rotated can be (409 otherwise): a successor
    /// must not revive what was disabled, and one token has at most one successor.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn rotate(
        &self,
        actor: &Principal,
        origin: &Origin,
        id: &TokenId,
        grace: time::Duration,
    ) -> Result<(Token, MintedToken, Token), Error> {
        let old = self.get(TokenKind::Database, id, true).await?;
        let now = super::model::now();
        // Refused before the argon2 hash of a successor that could not be stored; a revoked
        // token is left to the store, which tells whether a rotation revoked it.
        let refused = match old.unusable_at(now) {
            Some(Unusable::Expired) => Some(NotRotatable::Expired),
            Some(Unusable::Inactive) => Some(NotRotatable::Inactive),
            Some(Unusable::OwnerInactive) => Some(NotRotatable::OwnerUnusable),
            Some(Unusable::Revoked) | None => None,
        };
        if let Some(why) = refused {
            return Err(not_rotatable(why));
        }
        let (new, minted) = self
            .mint(
                TokenKind::Database,
                old.description.clone(),
                old.permissions.clone(),
                now,
                old.expires_at,
            )
            .await?;
        let new = NewToken {
            created_by: Some(actor.creator()),
            user_id: old.user_id.clone(),
            org_id: old.org_id.clone(),
            ..new
        };
        let audit_old =
            AuditEvent::new(actor.actor(), AuditAction::TokenRotate, origin).target(id.to_string());
        let audit_new = AuditEvent::new(actor.actor(), AuditAction::TokenCreate, origin)
            .target(new.id.to_string());
        let rotation = self
            .store
            .rotate_token(
                id,
                &new,
                now + grace,
                grace.is_zero(),
                &audit_old,
                &audit_new,
            )
            .await
            .on_constraint(constraint::TOKENS_PKEY, || {
                "the token already exists".into()
            })?;
        match rotation {
            Rotation::Rotated { created, old } => {
                tracing::info!(new_token_id = %created.id, "token rotated");
                Ok((*created, minted, *old))
            }
            Rotation::Refused(why) => Err(not_rotatable(why)),
            Rotation::NotFound => Err(not_found()),
        }
    }
}

fn not_rotatable(why: NotRotatable) -> Error {
    Error::conflict(match why {
        NotRotatable::AlreadyRotated => {
            "the token was already rotated; rotate its successor instead"
        }
        NotRotatable::Revoked => "the token is revoked; a revoked token cannot be rotated",
        NotRotatable::Expired => "the token has expired; an expired token cannot be rotated",
        NotRotatable::Inactive => "the token is inactive; activate it before rotating it",
        NotRotatable::OwnerUnusable => {
            "the token's v2 user is inactive or deleted, or its org deleted; it cannot be rotated"
        }
    })
}

fn not_found() -> Error {
    Error::NotFound("token not found".into())
}
