//! SQLite, the embedded single-node default.

use std::str::FromStr;

use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::types::Json;
use time::OffsetDateTime;

use super::{
    AuditRow, OrgRow, OwnedTokens, Page, PoolOptions, Revocation, StoreError, TokenRow, UserRow,
    V2UserRow, owned_token_columns, token_columns, token_queries, user_changes,
};
use crate::audit::{AuditEvent, AuditRecord, Origin};
use crate::identity::User;
use crate::tenant::{Org, V2User};
use crate::token::{NewToken, Status, Token, TokenId, TokenKind};

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed token change survives power loss, as it would on PostgreSQL.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))
    }

    /// IMMEDIATE takes the write lock up front, so a read-then-write transaction waits on
    /// busy_timeout instead of failing when another writer got there first.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

token_queries!(SqliteStore, Sqlite, share_lock = "");
