//! The users of `[[users]]`, who may administer the cluster: replaced as a whole from the
//! configuration at start, each change audited.

use sqlx::types::Json;
use sqlx::{Executor, FromRow};
use time::OffsetDateTime;

use super::{Engine, SqlStore, StoreError, audit, storable};
use crate::audit::{AuditEvent, Origin};
use crate::identity::{self, Group, User};

#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Makes the users table match `users`, auditing each addition, change and removal,
    /// in one transaction. Returns the audit entries written.
    async fn sync_users(
        &self,
        users: &[User],
        origin: &Origin,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError>;
}

#[derive(FromRow)]
pub(super) struct UserRow {
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

/// Every configured user, on the pool or inside a transaction.
async fn all_users<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
) -> Result<Vec<User>, StoreError>
where
    UserRow: for<'r> FromRow<'r, E::Row>,
{
    let rows: Vec<UserRow> =
        sqlx::query_as("SELECT id, first_name, last_name, email, groups FROM users ORDER BY id")
            .fetch_all(executor)
            .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

#[async_trait::async_trait]
impl<E: Engine> UserStore for SqlStore<E>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    for<'q> Json<&'q Vec<Group>>: sqlx::Encode<'q, E> + sqlx::Type<E>,
    UserRow: for<'r> FromRow<'r, E::Row>,
{
    async fn sync_users(
        &self,
        users: &[User],
        origin: &Origin,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut tx = E::begin_write(&self.pool).await?;
        let before = all_users(&mut *tx).await?;
        let changes = identity::changes(&before, users, origin);
        for (event, user) in &changes {
            match user {
                Some(user) => {
                    sqlx::query(
                        "INSERT INTO users (id, first_name, last_name, email, groups, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                         ON CONFLICT (id) DO UPDATE SET first_name = $2, last_name = $3, \
                         email = $4, groups = $5, updated_at = $6",
                    )
                    .bind(user.id.as_str())
                    .bind(user.first_name.as_str())
                    .bind(user.last_name.as_str())
                    .bind(user.email.as_str())
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
            audit::append(&mut *tx, event).await?;
        }
        tx.commit().await?;
        Ok(changes.into_iter().map(|(event, _)| event).collect())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        all_users(&self.pool).await
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, first_name, last_name, email, groups FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }
}
