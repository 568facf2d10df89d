//! Storage: one interface of use-case-sized methods, one implementation per engine.
//! All SQL lives under this module.

mod postgres;
mod sqlite;

use std::time::Duration;

use sqlx::types::Json;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditRecord, Origin, Outcome};
use crate::config::{Config, DatabaseUrl, Engine};
use crate::identity::{Group, User};
use crate::tenant::{Org, V2User};
use crate::token::{NewToken, Owner, Permission, Status, Token, TokenId, TokenKind};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or is overloaded; callers answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A named constraint refused the change.
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("store error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db.kind() == ErrorKind::UniqueViolation {
                    let name = db
                        .constraint()
                        .or_else(|| sqlite_unique_constraint(db.message()))
                        .unwrap_or(db.message());
                    return StoreError::Conflict(name.to_owned());
                }
                // PostgreSQL: connection, resources, operator intervention, serialization.
                // SQLite: BUSY and LOCKED (with extended codes). Each engine's codes are read
                // only for its own errors: SQLSTATE 22021 would otherwise read as BUSY.
                let transient = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6))
                } else {
                    ["08", "53", "57"].iter().any(|c| code.starts_with(c))
                        || matches!(code.as_ref(), "40001" | "40P01")
                };
                if transient {
                    StoreError::Unavailable(err.to_string())
                } else {
                    StoreError::Internal(err.to_string())
                }
            }
            _ => StoreError::Internal(err.to_string()),
        }
    }
}

/// SQLite names the columns, not the constraint, of a unique violation; map them back to
/// the constraint names the PostgreSQL migrations give, so callers match one name.
fn sqlite_unique_constraint(message: &str) -> Option<&'static str> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "tokens.id" => "tokens_pkey",
        "tokens.operator" => "tokens_one_active_operator",
        "orgs.id" => "orgs_pkey",
        "orgs.name" => "orgs_name_unique",
        "v2_users.id" => "v2_users_pkey",
        "v2_users.name" => "v2_users_name_unique",
        "setup.id" => "setup_pkey",
        "users.id" => "users_pkey",
        _ => return None,
    })
}

/// What a revoke found.
#[derive(Debug)]
pub enum Revocation {
    Revoked(Token),
    AlreadyRevoked(Token),
    NotFound,
}

/// Which v2 authorizations to list; `None` filters nothing.
#[derive(Debug, Default)]
pub struct OwnedTokens<'a> {
    pub user_id: Option<&'a TokenId>,
    pub org_id: Option<&'a TokenId>,
}

/// One page of a keyset-paged list, ordered by id.
pub struct Page<'a> {
    pub after: Option<&'a TokenId>,
    pub limit: u32,
}

#[derive(Clone)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Postgres($store) => $call,
            Store::Sqlite($store) => $call,
        }
    };
}

impl Store {
    /// Connects and applies the embedded migrations (safe when replicas start together).
    pub async fn open(config: &Config) -> Result<Store, StoreError> {
        let options = PoolOptions {
            max_connections: config.database_max_connections,
            acquire_timeout: Duration::from_secs(config.database_acquire_timeout_seconds),
        };
        Self::open_url(&config.database_url, options).await
    }

    pub async fn open_url(url: &DatabaseUrl, options: PoolOptions) -> Result<Store, StoreError> {
        let store = match url.engine() {
            Engine::Postgres => Store::Postgres(PgStore::connect(url.expose(), options).await?),
            Engine::Sqlite => Store::Sqlite(SqliteStore::connect(url.expose(), options).await?),
        };
        let migrated = &store;
        dispatch!(migrated, s => s.migrate().await)?;
        Ok(store)
    }

    pub fn engine(&self) -> Engine {
        match self {
            Store::Postgres(_) => Engine::Postgres,
            Store::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// Stores a token and its audit entry in one transaction.
    pub async fn create_token(
        &self,
        token: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Token, StoreError> {
        dispatch!(self, s => s.create_token(token, audit).await)
    }

    pub async fn find_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError> {
        dispatch!(self, s => s.find_token(id).await)
    }

    pub async fn list_tokens(
        &self,
        kind: TokenKind,
        include_revoked: bool,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError> {
        dispatch!(self, s => s.list_tokens(kind, include_revoked, page).await)
    }

    /// Changes the description of a token that is not revoked, with its audit entry.
    pub async fn update_token_description(
        &self,
        id: &TokenId,
        kind: TokenKind,
        description: &str,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        dispatch!(self, s => s.update_token_description(id, kind, description, audit).await)
    }

    /// Revokes at `audit.at`, recording the audit entry in the same transaction.
    pub async fn revoke_token(
        &self,
        id: &TokenId,
        kind: TokenKind,
        audit: &AuditEvent,
    ) -> Result<Revocation, StoreError> {
        dispatch!(self, s => s.revoke_token(id, kind, audit).await)
    }

    /// Records an entry that goes with no change (a refusal).
    pub async fn record_audit(&self, audit: &AuditEvent) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_audit(audit).await)
    }

    /// Entries at or after `since`, after the entry `after`, oldest first.
    pub async fn list_audit(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<i64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, s => s.list_audit(since, after, limit, newest_first).await)
    }

    /// Makes the users table match `users`, auditing each addition, change and removal,
    /// in one transaction. Returns the audit entries written.
    pub async fn sync_users(
        &self,
        users: &[User],
        origin: &Origin,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        dispatch!(self, s => s.sync_users(users, origin).await)
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        dispatch!(self, s => s.list_users().await)
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        dispatch!(self, s => s.find_user(id).await)
    }

    /// Whether an operator token was ever minted (revoked ones count).
    pub async fn has_operator_token(&self) -> Result<bool, StoreError> {
        dispatch!(self, s => s.has_operator_token().await)
    }

    /// Stores `operator` unless an operator token was ever minted. True when this call minted it.
    pub async fn bootstrap_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        match dispatch!(self, s => s.bootstrap_operator(operator, audit).await) {
            Err(StoreError::Conflict(_)) => Ok(false),
            other => other,
        }
    }

    /// Revokes every live operator token and stores `operator`, in one transaction.
    pub async fn replace_operator(
        &self,
        operator: &NewToken,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.replace_operator(operator, audit).await)
    }

    /// Stores a v2 authorization, unless its user or org does not exist (then `None`).
    pub async fn create_owned_token(
        &self,
        token: &NewToken,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        dispatch!(self, s => s.create_owned_token(token, audit).await)
    }

    /// Live v2 authorizations (owned by a user and an org), ordered by id, one page.
    pub async fn list_owned_tokens(
        &self,
        filter: &OwnedTokens<'_>,
        page: Page<'_>,
    ) -> Result<Vec<Token>, StoreError> {
        dispatch!(self, s => s.list_owned_tokens(filter, page).await)
    }

    /// Changes a live v2 authorization's status and/or description, with its audit entry.
    pub async fn update_owned_token(
        &self,
        id: &TokenId,
        status: Option<Status>,
        description: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<Option<Token>, StoreError> {
        dispatch!(self, s => s.update_owned_token(id, status, description, audit).await)
    }

    /// Whether `POST /api/v2/setup` may still run: never run, and no v2 user or org exists.
    pub async fn setup_allowed(&self) -> Result<bool, StoreError> {
        dispatch!(self, s => s.setup_allowed().await)
    }

    /// Stores the first user, org and operator authorization in one transaction, returning
    /// the stored token; `None` when setup is no longer allowed (with `pristine_only`, when
    /// anything but the operator token exists).
    pub async fn complete_setup(
        &self,
        user: &V2User,
        org: &Org,
        token: &NewToken,
        audit: &AuditEvent,
        pristine_only: bool,
    ) -> Result<Option<Token>, StoreError> {
        match dispatch!(self, s => s.complete_setup(user, org, token, audit, pristine_only).await) {
            Err(StoreError::Conflict(c)) if c == "setup_pkey" => Ok(None),
            other => other,
        }
    }

    /// Whether `/api/v2/setup` has run.
    pub async fn setup_done(&self) -> Result<bool, StoreError> {
        dispatch!(self, s => s.setup_done().await)
    }

    /// The org `/api/v2/setup` made, while it exists.
    pub async fn default_org(&self) -> Result<Option<TokenId>, StoreError> {
        dispatch!(self, s => s.default_org().await)
    }

    pub async fn find_v2_user(&self, id: &TokenId) -> Result<Option<V2User>, StoreError> {
        dispatch!(self, s => s.find_v2_user(id).await)
    }

    pub async fn find_v2_user_by_name(&self, name: &str) -> Result<Option<V2User>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        dispatch!(self, s => s.find_v2_user_by_name(name).await)
    }

    /// v2 users ordered by id: after the cursor, skipping `offset`, at most `limit`.
    pub async fn list_v2_users(
        &self,
        after: Option<&TokenId>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<V2User>, StoreError> {
        dispatch!(self, s => s.list_v2_users(after, offset, limit).await)
    }

    /// `Conflict("v2_users_name_unique")` when the name is taken.
    pub async fn create_v2_user(
        &self,
        user: &V2User,
        audit: &AuditEvent,
    ) -> Result<V2User, StoreError> {
        dispatch!(self, s => s.create_v2_user(user, audit).await)
    }

    pub async fn update_v2_user(
        &self,
        id: &TokenId,
        name: Option<&str>,
        status: Option<Status>,
        audit: &AuditEvent,
    ) -> Result<Option<V2User>, StoreError> {
        dispatch!(self, s => s.update_v2_user(id, name, status, audit).await)
    }

    /// Deletes a v2 user and revokes every token it owns, in one transaction.
    /// Returns how many tokens were revoked, or `None` when there is no such user.
    pub async fn delete_v2_user(
        &self,
        id: &TokenId,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        dispatch!(self, s => s.delete_v2_user(id, audit).await)
    }

    pub async fn find_org(&self, id: &TokenId) -> Result<Option<Org>, StoreError> {
        dispatch!(self, s => s.find_org(id).await)
    }

    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        dispatch!(self, s => s.find_org_by_name(name).await)
    }

    /// Orgs ordered by id (or the reverse), skipping `offset`, at most `limit`.
    pub async fn list_orgs(
        &self,
        offset: u32,
        limit: u32,
        descending: bool,
    ) -> Result<Vec<Org>, StoreError> {
        dispatch!(self, s => s.list_orgs(offset, limit, descending).await)
    }

    /// `Conflict("orgs_name_unique")` when the name is taken.
    pub async fn create_org(&self, org: &Org, audit: &AuditEvent) -> Result<Org, StoreError> {
        dispatch!(self, s => s.create_org(org, audit).await)
    }

    /// Deletes an org and revokes every token in it, in one transaction.
    pub async fn delete_org(
        &self,
        id: &TokenId,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        dispatch!(self, s => s.delete_org(id, audit).await)
    }

    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// A `tokens` row as both engines return it.
#[derive(sqlx::FromRow)]
struct TokenRow {
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
    /// Only `find_token` joins the owner; elsewhere the column is absent.
    #[sqlx(default)]
    owner_status: Option<String>,
}

impl TryFrom<TokenRow> for Token {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Internal(format!("stored token has an invalid {what}"));
        Ok(Token {
            id: TokenId::parse(&row.id).map_err(|_| corrupt("id"))?,
            kind: TokenKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
            description: row.description,
            permissions: row.permissions.0,
            status: Status::parse(&row.status).ok_or_else(|| corrupt("status"))?,
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
                .map(|id| TokenId::parse(&id).map_err(|_| corrupt("user id")))
                .transpose()?,
            org_id: row
                .org_id
                .map(|id| TokenId::parse(&id).map_err(|_| corrupt("org id")))
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

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    name: String,
    description: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<OrgRow> for Org {
    type Error = StoreError;

    fn try_from(row: OrgRow) -> Result<Self, StoreError> {
        Ok(Org {
            id: TokenId::parse(&row.id)
                .map_err(|_| StoreError::Internal("stored org has an invalid id".into()))?,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct V2UserRow {
    id: String,
    name: String,
    status: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<V2UserRow> for V2User {
    type Error = StoreError;

    fn try_from(row: V2UserRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Internal(format!("stored v2 user has an invalid {what}"));
        Ok(V2User {
            id: TokenId::parse(&row.id).map_err(|_| corrupt("id"))?,
            name: row.name,
            status: Status::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: OffsetDateTime,
    actor: String,
    action: String,
    target: Option<String>,
    outcome: String,
    client: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

/// Actions are `&'static str` in events; stored ones are matched back to the known set.
const AUDIT_ACTIONS: &[&str] = &[
    "token.create",
    "token.update",
    "token.revoke",
    "management_token.create",
    "management_token.revoke",
    "operator_token.bootstrap",
    "operator_token.regenerate",
    "user.add",
    "user.change",
    "user.remove",
    "auth.refused",
    "call.refused",
    "setup.complete",
    "v2_user.create",
    "v2_user.update",
    "v2_user.delete",
    "org.create",
    "org.delete",
];

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let action = AUDIT_ACTIONS
            .iter()
            .find(|a| **a == row.action)
            .copied()
            .unwrap_or("unknown");
        Ok(AuditRecord {
            id: row.id,
            event: AuditEvent {
                at: row.at,
                actor: row.actor,
                action,
                target: row.target,
                outcome: Outcome::parse(&row.outcome).ok_or_else(|| {
                    StoreError::Internal("stored audit outcome is invalid".into())
                })?,
                origin: Origin {
                    client: row.client,
                    request_id: row.request_id,
                },
                detail: row.detail,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    first_name: String,
    last_name: String,
    email: String,
    groups: Json<Vec<Group>>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            groups: row.groups.0,
        }
    }
}

/// The audit entries that turn `before` into `after`.
fn user_changes(
    before: &[User],
    after: &[User],
    origin: &Origin,
) -> Vec<(AuditEvent, Option<User>)> {
    let mut changes = Vec::new();
    for user in after {
        let action = match before.iter().find(|b| b.id == user.id) {
            None => "user.add",
            Some(old) if old != user => "user.change",
            Some(_) => continue,
        };
        let groups: Vec<&str> = user.groups.iter().map(|g| g.as_str()).collect();
        let groups = if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(", ")
        };
        let event = AuditEvent::new("config", action, origin)
            .target(user.id.clone())
            .detail(format!("groups: {groups}"));
        changes.push((event, Some(user.clone())));
    }
    for old in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
    {
        let event = AuditEvent::new("config", "user.remove", origin).target(old.id.clone());
        changes.push((event, None));
    }
    changes
}

macro_rules! token_columns {
    () => {
        "id, kind, description, permissions, status, operator, token_prefix, secret_hash, \
         created_by, created_at, updated_at, expires_at, revoked_at, last_used_at, user_id, org_id"
    };
}

/// The token columns of `tokens t`, with the owner's status from `LEFT JOIN v2_users u`
/// (`missing` when the token names a user that no longer exists).
macro_rules! owned_token_columns {
    () => {
        "t.id, t.kind, t.description, t.permissions, t.status, t.operator, t.token_prefix, \
         t.secret_hash, t.created_by, t.created_at, t.updated_at, t.expires_at, t.revoked_at, \
         t.last_used_at, t.user_id, t.org_id, \
         CASE WHEN t.user_id IS NULL THEN NULL ELSE COALESCE(u.status, 'missing') END AS owner_status"
    };
}

/// Whether text can be stored at all: PostgreSQL text cannot hold NUL, so no stored name has
/// one, and a lookup by such a name finds nothing (rather than failing on PostgreSQL).
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// What stops an unauthenticated setup: setup done, or any token but operator tokens, any
/// user of either kind, any org. Zero on a pristine store.
/// Each term stops at its first row, so the cost does not grow with the tables (anyone may ask).
pub(crate) const PRISTINE_USES: &str = "SELECT \
     (SELECT COUNT(*) FROM (SELECT 1 FROM setup LIMIT 1) s) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE NOT operator LIMIT 1) t) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) u) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM v2_users LIMIT 1) v) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM orgs LIMIT 1) o)";

/// The token queries, written once: both engines accept `$N` placeholders and `RETURNING`.
/// Each engine module invokes this for its own store type and database.
macro_rules! token_queries {
    ($store:ty, $db:ty, share_lock = $share:literal) => {
        impl $store {
            pub async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            pub async fn create_token(
                &self,
                token: &NewToken,
                audit: &AuditEvent,
            ) -> Result<Token, StoreError> {
                let mut tx = self.begin_write().await?;
                let row = insert_token(token).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Token::try_from(row)
            }

            pub async fn record_audit(&self, audit: &AuditEvent) -> Result<(), StoreError> {
                insert_audit(audit).execute(&self.pool).await?;
                Ok(())
            }

            pub async fn list_audit(
                &self,
                since: Option<OffsetDateTime>,
                after: Option<i64>,
                limit: u32,
                newest_first: bool,
            ) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditRow> = sqlx::query_as(if newest_first {
                    "SELECT id, at, actor, action, target, outcome, client, request_id, detail \
                     FROM audit_log WHERE at >= $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                } else {
                    "SELECT id, at, actor, action, target, outcome, client, request_id, detail \
                     FROM audit_log WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3"
                })
                .bind(since.unwrap_or(OffsetDateTime::UNIX_EPOCH).to_offset(time::UtcOffset::UTC))
                .bind(after.unwrap_or(if newest_first { i64::MAX } else { 0 }))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(AuditRecord::try_from).collect()
            }

            pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                all_users(&self.pool).await
            }

            pub async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, first_name, last_name, email, groups FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(User::from))
            }

            pub async fn sync_users(
                &self,
                users: &[User],
                origin: &Origin,
            ) -> Result<Vec<AuditEvent>, StoreError> {
                let mut tx = self.begin_write().await?;
                let before = all_users(&mut *tx).await?;
                let changes = user_changes(&before, users, origin);
                for (event, user) in &changes {
                    match user {
                        Some(user) => {
                            sqlx::query(
                                "INSERT INTO users (id, first_name, last_name, email, groups, \
                                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                                 ON CONFLICT (id) DO UPDATE SET first_name = $2, last_name = $3, \
                                 email = $4, groups = $5, updated_at = $6",
                            )
                            .bind(&user.id)
                            .bind(&user.first_name)
                            .bind(&user.last_name)
                            .bind(&user.email)
                            .bind(Json(&user.groups))
                            .bind(event.at)
                            .execute(&mut *tx)
                            .await?;
                        }
                        None => {
                            sqlx::query("DELETE FROM users WHERE id = $1")
                                .bind(event.target.as_deref())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    insert_audit(event).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(changes.into_iter().map(|(event, _)| event).collect())
            }

            pub async fn find_token(&self, id: &TokenId) -> Result<Option<Token>, StoreError> {
                let row: Option<TokenRow> = sqlx::query_as(concat!(
                    "SELECT ", owned_token_columns!(),
                    " FROM tokens t LEFT JOIN v2_users u ON u.id = t.user_id WHERE t.id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(Token::try_from).transpose()
            }

            pub async fn list_tokens(
                &self,
                kind: TokenKind,
                include_revoked: bool,
                page: Page<'_>,
            ) -> Result<Vec<Token>, StoreError> {
                let rows: Vec<TokenRow> = sqlx::query_as(concat!(
                    "SELECT ", token_columns!(), " FROM tokens \
                     WHERE kind = $1 AND ($2 OR revoked_at IS NULL) AND id > $3 AND NOT operator \
                     ORDER BY id LIMIT $4"
                ))
                .bind(kind.as_str())
                .bind(include_revoked)
                .bind(page.after.map_or("", TokenId::as_str))
                .bind(i64::from(page.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(Token::try_from).collect()
            }

            pub async fn update_token_description(
                &self,
                id: &TokenId,
                kind: TokenKind,
                description: &str,
                audit: &AuditEvent,
            ) -> Result<Option<Token>, StoreError> {
                let mut tx = self.begin_write().await?;
                let row: Option<TokenRow> = sqlx::query_as(concat!(
                    "UPDATE tokens SET description = $3, updated_at = $4 \
                     WHERE id = $1 AND kind = $2 AND revoked_at IS NULL AND NOT operator RETURNING ",
                    token_columns!()
                ))
                .bind(id.as_str())
                .bind(kind.as_str())
                .bind(description)
                .bind(audit.at)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    insert_audit(audit).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                row.map(Token::try_from).transpose()
            }

            pub async fn revoke_token(
                &self,
                id: &TokenId,
                kind: TokenKind,
                audit: &AuditEvent,
            ) -> Result<Revocation, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked: Option<TokenRow> = sqlx::query_as(concat!(
                    "UPDATE tokens SET revoked_at = $3, updated_at = $3 \
                     WHERE id = $1 AND kind = $2 AND revoked_at IS NULL AND NOT operator RETURNING ",
                    token_columns!()
                ))
                .bind(id.as_str())
                .bind(kind.as_str())
                .bind(audit.at)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = revoked {
                    insert_audit(audit).execute(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(Revocation::Revoked(Token::try_from(row)?));
                }
                tx.commit().await?;
                Ok(match self.find_token(id).await? {
                    Some(token) if token.kind == kind && !token.operator => {
                        Revocation::AlreadyRevoked(token)
                    }
                    _ => Revocation::NotFound,
                })
            }

            pub async fn has_operator_token(&self) -> Result<bool, StoreError> {
                operator_minted(&self.pool).await
            }

            pub async fn bootstrap_operator(
                &self,
                operator: &NewToken,
                audit: &AuditEvent,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                if operator_minted(&mut *tx).await? {
                    return Ok(false);
                }
                insert_token(operator).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn replace_operator(
                &self,
                operator: &NewToken,
                audit: &AuditEvent,
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let revoked = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1, updated_at = $1 \
                     WHERE operator AND revoked_at IS NULL",
                )
                .bind(operator.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                insert_token(operator).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            pub async fn create_owned_token(
                &self,
                token: &NewToken,
                audit: &AuditEvent,
            ) -> Result<Option<Token>, StoreError> {
                let (Some(user_id), Some(org_id)) = (&token.user_id, &token.org_id) else {
                    return Ok(None);
                };
                let mut tx = self.begin_write().await?;
                if !owners_exist(&mut tx, user_id.as_str(), org_id.as_str()).await? {
                    return Ok(None);
                }
                let row = insert_token(token).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Token::try_from(row).map(Some)
            }

            pub async fn list_owned_tokens(
                &self,
                filter: &OwnedTokens<'_>,
                page: Page<'_>,
            ) -> Result<Vec<Token>, StoreError> {
                let rows: Vec<TokenRow> = sqlx::query_as(concat!(
                    "SELECT ", owned_token_columns!(),
                    " FROM tokens t LEFT JOIN v2_users u ON u.id = t.user_id \
                     WHERE t.kind = 'database' AND t.revoked_at IS NULL \
                     AND t.user_id IS NOT NULL AND t.org_id IS NOT NULL \
                     AND ($1 IS NULL OR t.user_id = $1) AND ($2 IS NULL OR t.org_id = $2) \
                     AND t.id > $3 ORDER BY t.id LIMIT $4"
                ))
                .bind(filter.user_id.map(TokenId::as_str))
                .bind(filter.org_id.map(TokenId::as_str))
                .bind(page.after.map_or("", TokenId::as_str))
                .bind(i64::from(page.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(Token::try_from).collect()
            }

            pub async fn update_owned_token(
                &self,
                id: &TokenId,
                status: Option<Status>,
                description: Option<&str>,
                audit: &AuditEvent,
            ) -> Result<Option<Token>, StoreError> {
                let mut tx = self.begin_write().await?;
                let row: Option<TokenRow> = sqlx::query_as(concat!(
                    "UPDATE tokens SET status = COALESCE($2, status), \
                     description = COALESCE($3, description), updated_at = $4 \
                     WHERE id = $1 AND kind = 'database' AND revoked_at IS NULL \
                     AND user_id IS NOT NULL AND org_id IS NOT NULL RETURNING ",
                    token_columns!()
                ))
                .bind(id.as_str())
                .bind(status.map(Status::as_str))
                .bind(description)
                .bind(audit.at)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    insert_audit(audit).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                row.map(Token::try_from).transpose()
            }

            pub async fn setup_allowed(&self) -> Result<bool, StoreError> {
                let used: i64 = sqlx::query_scalar(super::PRISTINE_USES).fetch_one(&self.pool).await?;
                Ok(used == 0)
            }

            pub async fn setup_done(&self) -> Result<bool, StoreError> {
                let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setup")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(done > 0)
            }

            /// The org setup made, while it exists.
            pub async fn default_org(&self) -> Result<Option<TokenId>, StoreError> {
                let id: Option<String> = sqlx::query_scalar(
                    "SELECT orgs.id FROM setup JOIN orgs ON orgs.id = setup.org_id",
                )
                .fetch_optional(&self.pool)
                .await?;
                id.map(|id| TokenId::parse(&id).map_err(|e| StoreError::Internal(e.to_string())))
                    .transpose()
            }

            pub async fn complete_setup(
                &self,
                user: &V2User,
                org: &Org,
                token: &NewToken,
                audit: &AuditEvent,
                pristine_only: bool,
            ) -> Result<Option<Token>, StoreError> {
                let mut tx = self.begin_write().await?;
                // The single setup row makes a concurrent second setup fail on its key.
                sqlx::query("INSERT INTO setup (id, completed_at, org_id) VALUES (1, $1, $2)")
                    .bind(audit.at)
                    .bind(org.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                if pristine_only {
                    let used: i64 = sqlx::query_scalar(super::PRISTINE_USES).fetch_one(&mut *tx).await?;
                    // The setup row just inserted is the one use allowed.
                    if used > 1 {
                        return Ok(None);
                    }
                }
                insert_v2_user(user).fetch_one(&mut *tx).await?;
                insert_org(org).fetch_one(&mut *tx).await?;
                let row = insert_token(token).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Token::try_from(row).map(Some)
            }

            pub async fn find_v2_user(&self, id: &TokenId) -> Result<Option<V2User>, StoreError> {
                let row: Option<V2UserRow> = sqlx::query_as(
                    "SELECT id, name, status, created_at, updated_at FROM v2_users WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(V2User::try_from).transpose()
            }

            pub async fn find_v2_user_by_name(
                &self,
                name: &str,
            ) -> Result<Option<V2User>, StoreError> {
                let row: Option<V2UserRow> = sqlx::query_as(
                    "SELECT id, name, status, created_at, updated_at FROM v2_users WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(V2User::try_from).transpose()
            }

            pub async fn list_v2_users(
                &self,
                after: Option<&TokenId>,
                offset: u32,
                limit: u32,
            ) -> Result<Vec<V2User>, StoreError> {
                let rows: Vec<V2UserRow> = sqlx::query_as(
                    "SELECT id, name, status, created_at, updated_at FROM v2_users \
                     WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3",
                )
                .bind(after.map_or("", TokenId::as_str))
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(V2User::try_from).collect()
            }

            pub async fn create_v2_user(
                &self,
                user: &V2User,
                audit: &AuditEvent,
            ) -> Result<V2User, StoreError> {
                let mut tx = self.begin_write().await?;
                let row = insert_v2_user(user).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                V2User::try_from(row)
            }

            pub async fn update_v2_user(
                &self,
                id: &TokenId,
                name: Option<&str>,
                status: Option<Status>,
                audit: &AuditEvent,
            ) -> Result<Option<V2User>, StoreError> {
                let mut tx = self.begin_write().await?;
                let row: Option<V2UserRow> = sqlx::query_as(
                    "UPDATE v2_users SET name = COALESCE($2, name), status = COALESCE($3, status), \
                     updated_at = $4 WHERE id = $1 \
                     RETURNING id, name, status, created_at, updated_at",
                )
                .bind(id.as_str())
                .bind(name)
                .bind(status.map(Status::as_str))
                .bind(audit.at)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    insert_audit(audit).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                row.map(V2User::try_from).transpose()
            }

            pub async fn delete_v2_user(
                &self,
                id: &TokenId,
                audit: &AuditEvent,
            ) -> Result<Option<u64>, StoreError> {
                self.delete_tenant(
                    "DELETE FROM v2_users WHERE id = $1",
                    "UPDATE tokens SET revoked_at = $2, updated_at = $2 \
                     WHERE user_id = $1 AND revoked_at IS NULL",
                    id,
                    audit,
                )
                .await
            }

            /// Deletes a v2 user or org (`delete`) and revokes the tokens it owns (`revoke`),
            /// in one transaction; `None` when nothing was deleted.
            async fn delete_tenant(
                &self,
                delete: &'static str,
                revoke: &'static str,
                id: &TokenId,
                audit: &AuditEvent,
            ) -> Result<Option<u64>, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query(delete)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    return Ok(None);
                }
                let revoked = sqlx::query(revoke)
                    .bind(id.as_str())
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(revoked))
            }

            pub async fn find_org(&self, id: &TokenId) -> Result<Option<Org>, StoreError> {
                let row: Option<OrgRow> = sqlx::query_as(
                    "SELECT id, name, description, created_at, updated_at FROM orgs WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(Org::try_from).transpose()
            }

            pub async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
                let row: Option<OrgRow> = sqlx::query_as(
                    "SELECT id, name, description, created_at, updated_at FROM orgs WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map(Org::try_from).transpose()
            }

            pub async fn list_orgs(
                &self,
                offset: u32,
                limit: u32,
                descending: bool,
            ) -> Result<Vec<Org>, StoreError> {
                let sql = if descending {
                    "SELECT id, name, description, created_at, updated_at FROM orgs \
                     ORDER BY id DESC LIMIT $1 OFFSET $2"
                } else {
                    "SELECT id, name, description, created_at, updated_at FROM orgs \
                     ORDER BY id LIMIT $1 OFFSET $2"
                };
                let rows: Vec<OrgRow> = sqlx::query_as(sql)
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(Org::try_from).collect()
            }

            pub async fn create_org(&self, org: &Org, audit: &AuditEvent) -> Result<Org, StoreError> {
                let mut tx = self.begin_write().await?;
                let row = insert_org(org).fetch_one(&mut *tx).await?;
                insert_audit(audit).execute(&mut *tx).await?;
                tx.commit().await?;
                Org::try_from(row)
            }

            pub async fn delete_org(
                &self,
                id: &TokenId,
                audit: &AuditEvent,
            ) -> Result<Option<u64>, StoreError> {
                self.delete_tenant(
                    "DELETE FROM orgs WHERE id = $1",
                    "UPDATE tokens SET revoked_at = $2, updated_at = $2 \
                     WHERE org_id = $1 AND revoked_at IS NULL",
                    id,
                    audit,
                )
                .await
            }

            pub async fn close(&self) {
                self.pool.close().await;
            }
        }

        /// Every configured user, on the pool or inside a transaction.
        async fn all_users<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
        ) -> Result<Vec<User>, StoreError> {
            let rows: Vec<UserRow> = sqlx::query_as(
                "SELECT id, first_name, last_name, email, groups FROM users ORDER BY id",
            )
            .fetch_all(executor)
            .await?;
            Ok(rows.into_iter().map(User::from).collect())
        }

        /// Whether an operator token was ever minted (revoked ones count).
        async fn operator_minted<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
        ) -> Result<bool, StoreError> {
            let minted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE operator")
                .fetch_one(executor)
                .await?;
            Ok(minted > 0)
        }

        fn insert_audit(
            event: &AuditEvent,
        ) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments> {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, action, target, outcome, client, request_id, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(event.at)
            .bind(event.actor.as_str())
            .bind(event.action)
            .bind(event.target.as_deref())
            .bind(event.outcome.as_str())
            .bind(event.origin.client.as_deref())
            .bind(event.origin.request_id.as_deref())
            .bind(event.detail.as_deref())
        }

        fn insert_token(
            token: &NewToken,
        ) -> sqlx::query::QueryAs<'_, $db, TokenRow, <$db as sqlx::Database>::Arguments> {
            sqlx::query_as(concat!(
                "INSERT INTO tokens (id, kind, description, permissions, status, operator, \
                 token_prefix, secret_hash, created_by, created_at, updated_at, expires_at, \
                 user_id, org_id) \
                 VALUES ($1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $9, $10, $12, $13) RETURNING ",
                token_columns!()
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
            .bind(token.user_id.as_ref().map(TokenId::as_str))
            .bind(token.org_id.as_ref().map(TokenId::as_str))
        }

        /// Whether the v2 user and org exist; on PostgreSQL the rows are share-locked until
        /// commit, so a concurrent delete waits and then revokes what this transaction adds.
        async fn owners_exist(
            tx: &mut sqlx::Transaction<'static, $db>,
            user_id: &str,
            org_id: &str,
        ) -> Result<bool, StoreError> {
            let user: Option<String> =
                sqlx::query_scalar(concat!("SELECT id FROM v2_users WHERE id = $1", $share))
                    .bind(user_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            let org: Option<String> =
                sqlx::query_scalar(concat!("SELECT id FROM orgs WHERE id = $1", $share))
                    .bind(org_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            Ok(user.is_some() && org.is_some())
        }

        fn insert_v2_user(
            user: &V2User,
        ) -> sqlx::query::QueryAs<'_, $db, V2UserRow, <$db as sqlx::Database>::Arguments> {
            sqlx::query_as(
                "INSERT INTO v2_users (id, name, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id, name, status, created_at, updated_at",
            )
            .bind(user.id.as_str())
            .bind(user.name.as_str())
            .bind(user.status.as_str())
            .bind(user.created_at)
        }

        fn insert_org(
            org: &Org,
        ) -> sqlx::query::QueryAs<'_, $db, OrgRow, <$db as sqlx::Database>::Arguments> {
            sqlx::query_as(
                "INSERT INTO orgs (id, name, description, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id, name, description, created_at, updated_at",
            )
            .bind(org.id.as_str())
            .bind(org.name.as_str())
            .bind(org.description.as_str())
            .bind(org.created_at)
        }
    };
}

pub(crate) use {owned_token_columns, token_columns, token_queries};
