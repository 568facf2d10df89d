//! Tokens: database and management tokens, the operator token, and v2 authorizations (database
//! tokens owned by a v2 user in an org). Every change is written with its audit entry in one
//! transaction; changes that can alter a decision return the ids of the tokens they affect.

use sqlx::types::Json;
use sqlx::{Executor, FromRow};
use time::OffsetDateTime;

use super::{Engine, SqlStore, StoreError, audit, stored_id, stored_token_ids};
use crate::audit::AuditEvent;
use crate::token::model::{NewToken, OrgId, Owner, Status, Token, TokenId, TokenKind, UserId};
use crate::token::permission::Permission;

/// What a revoke found.
#[derive(Debug)]
pub enum Revocation {
    Revoked(Token),
    AlreadyRevoked(Token),
    NotFound,
}

/// What a rotation did.
#[derive(Debug)]
pub enum Rotation {
    /// The successor, and the old token as it now stands.
    Rotated {
        created: Box<Token>,
        old: Box<Token>,
    },
    /// The old token exists but may not be rotated; nothing was written.
    Refused(NotRotatable),
    NotFound,
}

/// Why a token may not be rotated: a successor would revive it, or be a second one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRotatable {
    AlreadyRotated,
    Revoked,
    Expired,
    Inactive,
    /// Its v2 user is inactive or deleted, or its org deleted.
    OwnerUnusable,
}

/// Which v2 authorizations to list; `None` filters nothing.
#[derive(Debug, Default)]
pub struct OwnedTokens<'a> {
    pub user_id: Option<&'a UserId>,
    pub org_id: Option<&'a OrgId>,
}

/// One page of a keyset-paged list, ordered by id.
pub struct Page<'a> {
    pub after: Option<&'a TokenId>,
    pub limit: u32,
}

#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token and its audit entry in one transaction.
    async fn create_token(&self, token: &NewToken, audit: &AuditEvent)
    -> Result<Token, StoreError>;

    /// The token with its v2 owner's state.
    async fn find_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError>;

    /// Every token id, revoked ones too: what the verifier may read without a budget.
    async fn token_ids(&self) -> Result<Vec<TokenId>, StoreError>;

    /// Tokens of `kind` (never the operator's), ordered by id, one page.
    async fn list_tokens(
        &self,
        kind: TokenKind,
        include_revoked: bool,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError>;

    /// Changes the description of a token that is not revoked, with its audit entry.
    async fn update_token_description(
        &self,
        id: &TokenId,
        kind: TokenKind,
        description: &str,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError>;

    /// Revokes at `audit.at`, recording the audit entry in the same transaction.
    async fn revoke_token(
        &self,
        id: &TokenId,
        kind: TokenKind,
        audit: &AuditEvent,
    ) -> Result<Revocation, StoreError>;

    /// Whether an operator token was ever minted (revoked ones count).
    async fn has_operator_token(&self) -> Result<bool, StoreError>;

    /// Stores `operator` unless an operator token was ever minted; true when this call stored
    /// it. A replica racing this one fails on `tokens_one_active_operator`.
    async fn bootstrap_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Revokes every live operator token and stores `operator`, in one transaction; returns
    /// the revoked ids.
    async fn replace_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Vec<TokenId>, StoreError>;

    /// Stores a v2 authorization, unless its user or org does not exist (then `None`).
    async fn create_owned_token(
        &self,
        token: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError>;

    /// Live v2 authorizations (owned by a user and an org), ordered by id, one page.
    async fn list_owned_tokens(
        &self,
        filter: &OwnedTokens<'_>,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError>;

    /// Rotation, in one transaction: stores `new` (which carries `old`'s v2 owner) and makes
    /// the database token `old` expire at `old_expires_at` when that is earlier than its own
    /// expiry (revoked instead when `revoke` is set), with both audit entries. Only a usable
    /// token never rotated before is rotated, so of concurrent rotations exactly one wins.
    async fn rotate_token(
        &self,
        old: &TokenId,
        new: &NewToken,
        old_expires_at: OffsetDateTime,
        revoke: bool,
        audit_old: &AuditEvent,
        audit_new: &AuditEvent,
    ) -> Result<Rotation, StoreError>;

    /// Records when each token was last used (written behind, one statement per batch); a
    /// later time already stored is kept.
    async fn touch_tokens(&self, uses: &[(TokenId, OffsetDateTime)]) -> Result<(), StoreError>;

    /// Replaces a token's hash, if it is still `old` (a raised argon2 cost); whether it was.
    async fn rehash_token(&self, id: &TokenId, old: &str, new: &str) -> Result<bool, StoreError>;

    /// Changes a live v2 authorization's status and/or description, with its audit entry.
    async fn update_owned_token(
        &self,
        id: &TokenId,
        status: Option<Status>,
        description: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError>;
}

/// A `tokens` row as both engines return it.
#[derive(FromRow)]
pub(super) struct TokenRow {
    id: String,
    kind: String,
    description: String,
    permissions: Json<Vec<Permission>>,
    status: String,
    operator: bool,
    token_prefix: String,
    secret_hash: String,
    created_by: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
    user_id: Option<String>,
    org_id: Option<String>,
    /// Only reads that join the owner have it; elsewhere the column is absent.
    #[sqlx(default)]
    owner_status: Option<String>,
}

impl TryFrom<TokenRow> for Token {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Token {
            id: stored_id(&row.id, "token id")?,
            kind: TokenKind::parse(&row.kind).ok_or(StoreError::Corrupt("token kind"))?,
            description: row.description,
            permissions: row.permissions.0,
            status: Status::parse(&row.status).ok_or(StoreError::Corrupt("token status"))?,
            operator: row.operator,
            token_prefix: row.token_prefix,
            secret_hash: row.secret_hash,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
            user_id: row
                .user_id
                .map(|id| stored_id(&id, "token user id"))
                .transpose()?,
            org_id: row
                .org_id
                .map(|id| stored_id(&id, "token org id"))
                .transpose()?,
            owner: match row.owner_status.as_deref() {
                None => None,
                Some("active") => Some(Owner::Active),
                Some("inactive") => Some(Owner::Inactive),
                Some(_) => Some(Owner::Missing),
            },
        })
    }
}

/// The columns of a `tokens` row, as a literal for `concat!` (sqlx takes `'static` SQL).
macro_rules! columns {
    () => {
        "id, kind, description, permissions, status, operator, token_prefix, secret_hash, \
         created_by, created_at, updated_at, expires_at, revoked_at, last_used_at, user_id, org_id"
    };
}

/// The token columns of `tokens t`, with the owner's status from `LEFT JOIN v2_users u`
/// (`missing` when the token names a user that no longer exists).
macro_rules! owned_columns {
    () => {
        "t.id, t.kind, t.description, t.permissions, t.status, t.operator, t.token_prefix, \
         t.secret_hash, t.created_by, t.created_at, t.updated_at, t.expires_at, t.revoked_at, \
         t.last_used_at, t.user_id, t.org_id, \
         CASE WHEN t.user_id IS NULL THEN NULL ELSE COALESCE(u.status, 'missing') END AS owner_status"
    };
}

/// Inserts `token`, inside the caller's transaction.
pub(super) async fn insert<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
    token: &NewToken,
) -> Result<Token, StoreError>
where
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    bool: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Json<Vec<Permission>>: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    TokenRow: for<'r> FromRow<'r, E::Row>,
{
    let row: TokenRow = sqlx::query_as(concat!(
        "INSERT INTO tokens (id, kind, description, permissions, status, operator, \
         token_prefix, secret_hash, created_by, created_at, updated_at, expires_at, \
         user_id, org_id) \
         VALUES ($1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $9, $10, $12, $13) RETURNING ",
        columns!()
    ))
    .bind(token.id.as_str())
    .bind(token.kind.as_str())
    .bind(token.description.as_str())
    .bind(Json(token.permissions.clone()))
    .bind(token.operator)
    .bind(token.token_prefix.as_str())
    .bind(token.secret_hash.as_str())
    .bind(token.created_by.as_deref())
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.status.as_str())
    .bind(token.user_id.as_ref().map(UserId::as_str))
    .bind(token.org_id.as_ref().map(OrgId::as_str))
    .fetch_one(executor)
    .await?;
    Token::try_from(row)
}

/// Why the database token `id` was not rotated at `now`; `None` when there is none.
async fn not_rotatable<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
    id: &TokenId,
    now: OffsetDateTime,
) -> Result<Option<NotRotatable>, StoreError>
where
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    i64: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
{
    // Told in this order: a zero-grace rotation also revokes, and is told as a rotation.
    let why: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(CASE WHEN rotated_at IS NOT NULL THEN 0 WHEN revoked_at IS NOT NULL THEN 1 \
         WHEN expires_at IS NOT NULL AND expires_at <= $2 THEN 2 \
         WHEN status <> 'active' THEN 3 ELSE 0 END AS BIGINT) \
         FROM tokens WHERE id = $1 AND kind = 'database' AND NOT operator",
    )
    .bind(id.as_str())
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(why.map(|why| match why {
        1 => NotRotatable::Revoked,
        2 => NotRotatable::Expired,
        3 => NotRotatable::Inactive,
        // 0, and a row the UPDATE should have matched: a refusal is the safe reading.
        _ => NotRotatable::AlreadyRotated,
    }))
}

/// Whether an operator token was ever minted (revoked ones count).
async fn operator_minted<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
) -> Result<bool, StoreError>
where
    i64: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
{
    let minted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE operator")
        .fetch_one(executor)
        .await?;
    Ok(minted > 0)
}

impl<E: Engine> SqlStore<E>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
{
    /// Commits an update of one token that may have matched no row: audited, and announced
    /// to the cache, only when it did.
    async fn commit_update(
        &self,
        mut tx: sqlx::Transaction<'static, E>,
        row: Option<TokenRow>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        let token = row.map(Token::try_from).transpose()?;
        if token.is_some() {
            audit::append(&mut *tx, audit).await?;
        }
        let changed: Vec<TokenId> = token.iter().map(|t| t.id.clone()).collect();
        self.commit_changes(tx, &changed).await?;
        Ok(token)
    }
}

#[async_trait::async_trait]
impl<E: Engine> TokenStore for SqlStore<E>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    bool: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    i64: for<'q> sqlx::Encode<'q, E> + for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    String: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    Json<Vec<Permission>>: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
    TokenRow: for<'r> FromRow<'r, E::Row>,
{
    async fn create_token(
        &self,
        token: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Token, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let token = insert(&mut *tx, token).await?;
        audit::append(&mut *tx, audit).await?;
        // Announced, so that every replica knows the id exists.
        self.commit_changes(tx, std::slice::from_ref(&token.id))
            .await?;
        Ok(token)
    }

    async fn token_ids(&self) -> Result<Vec<TokenId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tokens")
            .fetch_all(&self.pool)
            .await?;
        super::stored_token_ids(&ids)
    }

    async fn find_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            owned_columns!(),
            " FROM tokens t LEFT JOIN v2_users u ON u.id = t.user_id WHERE t.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Token::try_from).transpose()
    }

    async fn list_tokens(
        &self,
        kind: TokenKind,
        include_revoked: bool,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM tokens WHERE kind = $1 AND ($2 OR revoked_at IS NULL) AND id > $3 \
             AND NOT operator ORDER BY id LIMIT $4"
        ))
        .bind(kind.as_str())
        .bind(include_revoked)
        .bind(page.after.map_or("", TokenId::as_str))
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Token::try_from).collect()
    }

    async fn update_token_description(
        &self,
        id: &TokenId,
        kind: TokenKind,
        description: &str,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "UPDATE tokens SET description = $3, updated_at = $4 \
             WHERE id = $1 AND kind = $2 AND revoked_at IS NULL AND NOT operator RETURNING ",
            columns!()
        ))
        .bind(id.as_str())
        .bind(kind.as_str())
        .bind(description)
        .bind(audit.at)
        .fetch_optional(&mut *tx)
        .await?;
        self.commit_update(tx, row, audit).await
    }

    async fn revoke_token(
        &self,
        id: &TokenId,
        kind: TokenKind,
        audit: &AuditEvent,
    ) -> Result<Revocation, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let revoked: Option<TokenRow> = sqlx::query_as(concat!(
            "UPDATE tokens SET revoked_at = $3, updated_at = $3 \
             WHERE id = $1 AND kind = $2 AND revoked_at IS NULL AND NOT operator RETURNING ",
            columns!()
        ))
        .bind(id.as_str())
        .bind(kind.as_str())
        .bind(audit.at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = revoked {
            let token = Token::try_from(row)?;
            audit::append(&mut *tx, audit).await?;
            self.commit_changes(tx, std::slice::from_ref(&token.id))
                .await?;
            return Ok(Revocation::Revoked(token));
        }
        tx.commit().await?;
        Ok(match self.find_token(id).await? {
            Some(token) if token.kind == kind && !token.operator => {
                Revocation::AlreadyRevoked(token)
            }
            _ => Revocation::NotFound,
        })
    }

    async fn has_operator_token(&self) -> Result<bool, StoreError> {
        operator_minted(&self.pool).await
    }

    async fn bootstrap_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        if operator_minted(&mut *tx).await? {
            return Ok(false);
        }
        insert(&mut *tx, operator).await?;
        audit::append(&mut *tx, audit).await?;
        self.commit_changes(tx, std::slice::from_ref(&operator.id))
            .await?;
        Ok(true)
    }

    async fn replace_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Vec<TokenId>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let revoked: Vec<String> = sqlx::query_scalar(
            "UPDATE tokens SET revoked_at = $1, updated_at = $1 \
             WHERE operator AND revoked_at IS NULL RETURNING id",
        )
        .bind(operator.created_at)
        .fetch_all(&mut *tx)
        .await?;
        insert(&mut *tx, operator).await?;
        audit::append(&mut *tx, audit).await?;
        let revoked = stored_token_ids(&revoked)?;
        let changed: Vec<TokenId> = revoked.iter().chain([&operator.id]).cloned().collect();
        self.commit_changes(tx, &changed).await?;
        Ok(revoked)
    }

    async fn create_owned_token(
        &self,
        token: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        let (Some(user_id), Some(org_id)) = (&token.user_id, &token.org_id) else {
            return Ok(None);
        };
        let mut tx = E::begin_write(&self.pool).await?;
        // On PostgreSQL the owners are share-locked until commit, so a concurrent delete
        // waits and then revokes what this transaction adds.
        let user = locked_column(&mut tx, LOCKED_USER_STATUS, user_id.as_str()).await?;
        let org = locked_column(&mut tx, LOCKED_ORG, org_id.as_str()).await?;
        if user.is_none() || org.is_none() {
            return Ok(None);
        }
        let token = insert(&mut *tx, token).await?;
        audit::append(&mut *tx, audit).await?;
        self.commit_changes(tx, std::slice::from_ref(&token.id))
            .await?;
        Ok(Some(token))
    }

    async fn list_owned_tokens(
        &self,
        filter: &OwnedTokens<'_>,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            owned_columns!(),
            " FROM tokens t LEFT JOIN v2_users u ON u.id = t.user_id \
             WHERE t.kind = 'database' AND t.revoked_at IS NULL \
             AND t.user_id IS NOT NULL AND t.org_id IS NOT NULL \
             AND ($1 IS NULL OR t.user_id = $1) AND ($2 IS NULL OR t.org_id = $2) \
             AND t.id > $3 ORDER BY t.id LIMIT $4"
        ))
        .bind(filter.user_id.map(UserId::as_str))
        .bind(filter.org_id.map(OrgId::as_str))
        .bind(page.after.map_or("", TokenId::as_str))
        .bind(i64::from(page.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Token::try_from).collect()
    }

    async fn update_owned_token(
        &self,
        id: &TokenId,
        status: Option<Status>,
        description: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "UPDATE tokens SET status = COALESCE($2, status), \
             description = COALESCE($3, description), updated_at = $4 \
             WHERE id = $1 AND kind = 'database' AND revoked_at IS NULL \
             AND user_id IS NOT NULL AND org_id IS NOT NULL RETURNING ",
            columns!()
        ))
        .bind(id.as_str())
        .bind(status.map(Status::as_str))
        .bind(description)
        .bind(audit.at)
        .fetch_optional(&mut *tx)
        .await?;
        self.commit_update(tx, row, audit).await
    }

    async fn rotate_token(
        &self,
        old: &TokenId,
        new: &NewToken,
        old_expires_at: OffsetDateTime,
        revoke: bool,
        audit_old: &AuditEvent,
        audit_new: &AuditEvent,
    ) -> Result<Rotation, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        // As for a new v2 authorization: the owners are share-locked on PostgreSQL, so a
        // concurrent delete waits and then revokes the successor too.
        if let Some(user_id) = &new.user_id {
            let status = locked_column(&mut tx, LOCKED_USER_STATUS, user_id.as_str()).await?;
            if status.as_deref() != Some(Status::Active.as_str()) {
                return Ok(Rotation::Refused(NotRotatable::OwnerUnusable));
            }
        }
        if let Some(org_id) = &new.org_id
            && locked_column(&mut tx, LOCKED_ORG, org_id.as_str())
                .await?
                .is_none()
        {
            return Ok(Rotation::Refused(NotRotatable::OwnerUnusable));
        }
        // The UPDATE takes the row lock on PostgreSQL (SQLite's write lock is already held);
        // a rotation that waited on it re-checks `rotated_at` and matches nothing.
        let rotated: Option<TokenRow> = sqlx::query_as(concat!(
            "UPDATE tokens SET \
             expires_at = CASE WHEN $3 THEN expires_at \
             WHEN expires_at IS NULL OR expires_at > $2 THEN $2 ELSE expires_at END, \
             revoked_at = CASE WHEN $3 THEN $4 ELSE revoked_at END, \
             rotated_at = $4, updated_at = $4 \
             WHERE id = $1 AND kind = 'database' AND NOT operator AND revoked_at IS NULL \
             AND rotated_at IS NULL AND status = 'active' \
             AND (expires_at IS NULL OR expires_at > $4) RETURNING ",
            columns!()
        ))
        .bind(old.as_str())
        .bind(old_expires_at)
        .bind(revoke)
        .bind(audit_old.at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(rotated) = rotated else {
            let why = not_rotatable(&mut *tx, old, audit_old.at).await?;
            tx.commit().await?;
            return Ok(why.map_or(Rotation::NotFound, Rotation::Refused));
        };
        let created = insert(&mut *tx, new).await?;
        audit::append(&mut *tx, audit_old).await?;
        audit::append(&mut *tx, audit_new).await?;
        let rotated = Token::try_from(rotated)?;
        self.commit_changes(tx, &[rotated.id.clone(), created.id.clone()])
            .await?;
        Ok(Rotation::Rotated {
            created: Box::new(created),
            old: Box::new(rotated),
        })
    }

    async fn touch_tokens(&self, uses: &[(TokenId, OffsetDateTime)]) -> Result<(), StoreError> {
        for chunk in uses.chunks(TOUCH_BATCH) {
            // A use is never moved back in time: another replica may have written a later one.
            let mut update = sqlx::QueryBuilder::<E>::new("UPDATE tokens SET last_used_at = CASE");
            for (id, at) in chunk {
                update.push(" WHEN id = ");
                update.push_bind(id.as_str());
                update.push(" AND (last_used_at IS NULL OR last_used_at < ");
                update.push_bind(*at);
                update.push(") THEN ");
                update.push_bind(*at);
            }
            update.push(" ELSE last_used_at END WHERE id IN (");
            let mut list = update.separated(", ");
            for (id, _) in chunk {
                list.push_bind(id.as_str());
            }
            update.push(")");
            update.build().execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn rehash_token(&self, id: &TokenId, old: &str, new: &str) -> Result<bool, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let replaced: Option<String> = sqlx::query_scalar(
            "UPDATE tokens SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2 RETURNING id",
        )
        .bind(id.as_str())
        .bind(old)
        .bind(new)
        .fetch_optional(&mut *tx)
        .await?;
        // Cached entries compare the stored hash on refresh; tell them it changed.
        let ids = if replaced.is_some() {
            vec![id.clone()]
        } else {
            Vec::new()
        };
        self.commit_changes(tx, &ids).await?;
        Ok(replaced.is_some())
    }
}

/// Uses per `touch_tokens` statement (four parameters each): well under both engines'
/// bound-parameter limits.
const TOUCH_BATCH: usize = 1_000;

/// The v2 user's status and the org's id, each share-locked on PostgreSQL until commit, so
/// that a concurrent delete waits and then revokes what this transaction adds.
const LOCKED_USER_STATUS: [&str; 2] = [
    "SELECT status FROM v2_users WHERE id = $1 FOR SHARE",
    "SELECT status FROM v2_users WHERE id = $1",
];
const LOCKED_ORG: [&str; 2] = [
    "SELECT id FROM orgs WHERE id = $1 FOR SHARE",
    "SELECT id FROM orgs WHERE id = $1",
];

/// One column of the row `id` by `queries` (with `FOR SHARE` where rows can be shared, then
/// without).
async fn locked_column<E: Engine>(
    tx: &mut sqlx::Transaction<'static, E>,
    queries: [&'static str; 2],
    id: &str,
) -> Result<Option<String>, StoreError>
where
    for<'c> &'c mut E::Connection: sqlx::Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    String: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
{
    let query = if E::SHARE_ROWS {
        queries[0]
    } else {
        queries[1]
    };
    Ok(sqlx::query_scalar(query)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?)
}
