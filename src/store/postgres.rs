//! PostgreSQL, for clusters: several replicas share one database.

use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
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
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }

    /// sqlx takes an advisory lock around migrations, so replicas starting together are safe.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

token_queries!(PgStore, Postgres, share_lock = " FOR SHARE");
