//! v2 tenants: first-time setup, v2 users and orgs. Deleting a user or an org revokes the
//! tokens it owns in the same transaction, and says which.

use sqlx::{Executor, FromRow};
use time::OffsetDateTime;

use super::tokens::{self, TokenRow};
use super::{Engine, SqlStore, StoreError, audit, storable, stored_id, stored_token_ids};
use crate::audit::AuditEvent;
use crate::tenant::model::{Org, V2User};
use crate::token::model::{NewToken, OrgId, Status, Token, TokenId, UserId};
use crate::token::permission::Permission;

/// What deleting a v2 user or org did: the tokens it revoked, for whoever caches decisions.
#[derive(Debug)]
pub struct Deleted {
    pub revoked: Vec<TokenId>,
}

#[async_trait::async_trait]
pub trait TenantStore: Send + Sync {
    /// Whether nothing stops an unauthenticated setup: setup not done, and no token but
    /// operator tokens, no user of either kind, no org.
    async fn setup_allowed(&self) -> Result<bool, StoreError>;

    /// Whether `/api/v2/setup` has run.
    async fn setup_done(&self) -> Result<bool, StoreError>;

    /// The org `/api/v2/setup` made, while it exists.
    async fn default_org(&self) -> Result<Option<OrgId>, StoreError>;

    /// Stores the first user, org and operator authorization in one transaction, returning
    /// the stored token; `None` when, with `pristine_only`, anything but the operator token
    /// exists. A setup that already ran fails on `setup_pkey`.
    async fn complete_setup(
        &self,
        user: &V2User,
        org: &Org,
        token: &NewToken,
        audit: &AuditEvent,
        pristine_only: bool,
    ) -> Result<Option<Token>, StoreError>;

    async fn find_v2_user(&self, id: &UserId) -> Result<Option<V2User>, StoreError>;

    async fn find_v2_user_by_name(&self, name: &str) -> Result<Option<V2User>, StoreError>;

    /// v2 users ordered by id: after the cursor, skipping `offset`, at most `limit`.
    async fn list_v2_users(
        &self,
        after: Option<&UserId>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<V2User>, StoreError>;

    /// Fails on `v2_users_name_unique` when the name is taken.
    async fn create_v2_user(&self, user: &V2User, audit: &AuditEvent)
    -> Result<V2User, StoreError>;

    /// Renames and/or changes the status; with a status, also returns the user's live
    /// tokens, whose decisions change with it.
    async fn update_v2_user(
        &self,
        id: &UserId,
        name: Option<&str>,
        status: Option<Status>,
        audit: &AuditEvent,
    ) -> Result<Option<(V2User, Vec<TokenId>)>, StoreError>;

    /// Deletes a v2 user and revokes every token it owns, in one transaction; `None` when
    /// there is no such user.
    async fn delete_v2_user(
        &self,
        id: &UserId,
        audit: &AuditEvent,
    ) -> Result<Option<Deleted>, StoreError>;

    async fn find_org(&self, id: &OrgId) -> Result<Option<Org>, StoreError>;

    async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError>;

    /// Orgs ordered by id (or the reverse), skipping `offset`, at most `limit`.
    async fn list_orgs(
        &self,
        offset: u32,
        limit: u32,
        descending: bool,
    ) -> Result<Vec<Org>, StoreError>;

    /// Fails on `orgs_name_unique` when the name is taken.
    async fn create_org(&self, org: &Org, audit: &AuditEvent) -> Result<Org, StoreError>;

    /// Deletes an org and revokes every token in it, in one transaction.
    async fn delete_org(
        &self,
        id: &OrgId,
        audit: &AuditEvent,
    ) -> Result<Option<Deleted>, StoreError>;
}

#[derive(FromRow)]
pub(super) struct OrgRow {
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
            id: stored_id(&row.id, "org id")?,
            name: row.name,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct V2UserRow {
    id: String,
    name: String,
    status: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<V2UserRow> for V2User {
    type Error = StoreError;

    fn try_from(row: V2UserRow) -> Result<Self, StoreError> {
        Ok(V2User {
            id: stored_id(&row.id, "v2 user id")?,
            name: row.name,
            status: Status::parse(&row.status).ok_or(StoreError::Corrupt("v2 user status"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// What stops an unauthenticated setup, counted: zero on a pristine store. Each term stops
/// at its first row, so the cost does not grow with the tables (anyone may ask).
const PRISTINE_USES: &str = "SELECT \
     (SELECT COUNT(*) FROM (SELECT 1 FROM setup LIMIT 1) s) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE NOT operator LIMIT 1) t) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) u) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM v2_users LIMIT 1) v) \
     + (SELECT COUNT(*) FROM (SELECT 1 FROM orgs LIMIT 1) o)";

#[async_trait::async_trait]
impl<E: Engine> TenantStore for SqlStore<E>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    bool: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    i64: for<'q> sqlx::Encode<'q, E> + for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    String: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    sqlx::types::Json<Vec<Permission>>: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
    TokenRow: for<'r> FromRow<'r, E::Row>,
    OrgRow: for<'r> FromRow<'r, E::Row>,
    V2UserRow: for<'r> FromRow<'r, E::Row>,
{
    async fn setup_allowed(&self) -> Result<bool, StoreError> {
        let used: i64 = sqlx::query_scalar(PRISTINE_USES)
            .fetch_one(&self.pool)
            .await?;
        Ok(used == 0)
    }

    async fn setup_done(&self) -> Result<bool, StoreError> {
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setup")
            .fetch_one(&self.pool)
            .await?;
        Ok(done > 0)
    }

    async fn default_org(&self) -> Result<Option<OrgId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT orgs.id FROM setup JOIN orgs ON orgs.id = setup.org_id")
                .fetch_optional(&self.pool)
                .await?;
        id.map(|id| stored_id(&id, "setup org id")).transpose()
    }

    async fn complete_setup(
        &self,
        user: &V2User,
        org: &Org,
        token: &NewToken,
        audit: &AuditEvent,
        pristine_only: bool,
    ) -> Result<Option<Token>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        // The single setup row makes a concurrent second setup fail on its key.
        sqlx::query("INSERT INTO setup (id, completed_at, org_id) VALUES (1, $1, $2)")
            .bind(audit.at)
            .bind(org.id.as_str())
            .execute(&mut *tx)
            .await?;
        if pristine_only {
            let used: i64 = sqlx::query_scalar(PRISTINE_USES)
                .fetch_one(&mut *tx)
                .await?;
            // The setup row just inserted is the one use allowed.
            if used > 1 {
                return Ok(None);
            }
        }
        insert_v2_user(&mut *tx, user).await?;
        insert_org(&mut *tx, org).await?;
        let token = tokens::insert(&mut *tx, token).await?;
        audit::append(&mut *tx, audit).await?;
        self.commit_changes(tx, std::slice::from_ref(&token.id))
            .await?;
        Ok(Some(token))
    }

    async fn find_v2_user(&self, id: &UserId) -> Result<Option<V2User>, StoreError> {
        let row: Option<V2UserRow> = sqlx::query_as(
            "SELECT id, name, status, created_at, updated_at FROM v2_users WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(V2User::try_from).transpose()
    }

    async fn find_v2_user_by_name(&self, name: &str) -> Result<Option<V2User>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let row: Option<V2UserRow> = sqlx::query_as(
            "SELECT id, name, status, created_at, updated_at FROM v2_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(V2User::try_from).transpose()
    }

    async fn list_v2_users(
        &self,
        after: Option<&UserId>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<V2User>, StoreError> {
        let rows: Vec<V2UserRow> = sqlx::query_as(
            "SELECT id, name, status, created_at, updated_at FROM v2_users \
             WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3",
        )
        .bind(after.map_or("", UserId::as_str))
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(V2User::try_from).collect()
    }

    async fn create_v2_user(
        &self,
        user: &V2User,
        audit: &AuditEvent,
    ) -> Result<V2User, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let user = insert_v2_user(&mut *tx, user).await?;
        audit::append(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn update_v2_user(
        &self,
        id: &UserId,
        name: Option<&str>,
        status: Option<Status>,
        audit: &AuditEvent,
    ) -> Result<Option<(V2User, Vec<TokenId>)>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
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
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let affected: Vec<String> = if status.is_some() {
            sqlx::query_scalar("SELECT id FROM tokens WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        };
        audit::append(&mut *tx, audit).await?;
        let affected = stored_token_ids(&affected)?;
        self.commit_changes(tx, &affected).await?;
        Ok(Some((V2User::try_from(row)?, affected)))
    }

    async fn delete_v2_user(
        &self,
        id: &UserId,
        audit: &AuditEvent,
    ) -> Result<Option<Deleted>, StoreError> {
        delete_owner(
            self,
            "DELETE FROM v2_users WHERE id = $1 RETURNING id",
            "UPDATE tokens SET revoked_at = $2, updated_at = $2 \
             WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
            id.as_str(),
            audit,
        )
        .await
    }

    async fn find_org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        let row: Option<OrgRow> = sqlx::query_as(
            "SELECT id, name, description, created_at, updated_at FROM orgs WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Org::try_from).transpose()
    }

    async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let row: Option<OrgRow> = sqlx::query_as(
            "SELECT id, name, description, created_at, updated_at FROM orgs WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Org::try_from).transpose()
    }

    async fn list_orgs(
        &self,
        offset: u32,
        limit: u32,
        descending: bool,
    ) -> Result<Vec<Org>, StoreError> {
        let rows: Vec<OrgRow> = sqlx::query_as(if descending {
            "SELECT id, name, description, created_at, updated_at FROM orgs \
             ORDER BY id DESC LIMIT $1 OFFSET $2"
        } else {
            "SELECT id, name, description, created_at, updated_at FROM orgs \
             ORDER BY id LIMIT $1 OFFSET $2"
        })
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Org::try_from).collect()
    }

    async fn create_org(&self, org: &Org, audit: &AuditEvent) -> Result<Org, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let org = insert_org(&mut *tx, org).await?;
        audit::append(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn delete_org(
        &self,
        id: &OrgId,
        audit: &AuditEvent,
    ) -> Result<Option<Deleted>, StoreError> {
        delete_owner(
            self,
            "DELETE FROM orgs WHERE id = $1 RETURNING id",
            "UPDATE tokens SET revoked_at = $2, updated_at = $2 \
             WHERE org_id = $1 AND revoked_at IS NULL RETURNING id",
            id.as_str(),
            audit,
        )
        .await
    }
}

/// Deletes a v2 user or org (`delete`) and revokes the live tokens it owns (`revoke`), in
/// one transaction; `None` when there was nothing to delete.
async fn delete_owner<E: Engine>(
    store: &SqlStore<E>,
    delete: &'static str,
    revoke: &'static str,
    id: &str,
    audit: &AuditEvent,
) -> Result<Option<Deleted>, StoreError>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    String: for<'r> sqlx::Decode<'r, E> + sqlx::Type<E>,
    usize: sqlx::ColumnIndex<E::Row>,
{
    let mut tx = E::begin_write(&store.pool).await?;
    let deleted: Option<String> = sqlx::query_scalar(delete)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if deleted.is_none() {
        return Ok(None);
    }
    let revoked: Vec<String> = sqlx::query_scalar(revoke)
        .bind(id)
        .bind(audit.at)
        .fetch_all(&mut *tx)
        .await?;
    audit::append(&mut *tx, audit).await?;
    let revoked = stored_token_ids(&revoked)?;
    store.commit_changes(tx, &revoked).await?;
    Ok(Some(Deleted { revoked }))
}

async fn insert_v2_user<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
    user: &V2User,
) -> Result<V2User, StoreError>
where
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    V2UserRow: for<'r> FromRow<'r, E::Row>,
{
    let row: V2UserRow = sqlx::query_as(
        "INSERT INTO v2_users (id, name, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id, name, status, created_at, updated_at",
    )
    .bind(user.id.as_str())
    .bind(user.name.as_str())
    .bind(user.status.as_str())
    .bind(user.created_at)
    .fetch_one(executor)
    .await?;
    V2User::try_from(row)
}

async fn insert_org<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
    org: &Org,
) -> Result<Org, StoreError>
where
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    OrgRow: for<'r> FromRow<'r, E::Row>,
{
    let row: OrgRow = sqlx::query_as(
        "INSERT INTO orgs (id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id, name, description, created_at, updated_at",
    )
    .bind(org.id.as_str())
    .bind(org.name.as_str())
    .bind(org.description.as_str())
    .bind(org.created_at)
    .fetch_one(executor)
    .await?;
    Org::try_from(row)
}
