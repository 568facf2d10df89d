//! Storage: one trait per aggregate (`TokenStore`, `TenantStore`, `UserStore`, `AuditStore`),
//! implemented once for both engines by [`SqlStore`]. All SQL lives under this module; it
//! uses the domain's entity types and nothing above them.
//!
//! The SQL is written once: PostgreSQL and SQLite both take `$N` placeholders and
//! `RETURNING`; what differs (row locks, how a write transaction starts, connecting and
//! migrating) is in [`Engine`].

mod audit;
mod engine;
mod error;
mod listener;
mod tenants;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, DatabaseUrl, Engine as EngineName};
use crate::token::TokenId;

pub use audit::AuditStore;
pub use engine::Engine;
pub use error::{OnConstraint, StoreError, constraint};
pub use tenants::{Deleted, TenantStore};
pub use tokens::{NotRotatable, OwnedTokens, Page, Revocation, Rotation, TokenStore};
pub use users::UserStore;

/// Every aggregate's store, as one handle.
pub trait Backend: TokenStore + TenantStore + UserStore + AuditStore + Lifecycle {}

impl<T: TokenStore + TenantStore + UserStore + AuditStore + Lifecycle> Backend for T {}

/// The store the services share: cheap to clone.
pub type Store = Arc<dyn Backend>;

/// Told about committed changes that can alter a decision about a token: whoever caches
/// decisions implements it.
pub trait TokenChanges: Send + Sync {
    /// These tokens changed (revoked, status, owner, …); `remote`: another replica made it.
    fn changed(&self, ids: &[TokenId], remote: bool);
    /// Changes may have been missed (the listener was not connected): forget everything.
    /// `reconnected`: after a lost connection, rather than at the first connect.
    fn missed(&self, reconnected: bool);
}

/// Readiness, shutdown, and change notification.
#[async_trait::async_trait]
pub trait Lifecycle: Send + Sync {
    fn engine(&self) -> EngineName;
    /// Tells `changes` about every change this store commits, and on PostgreSQL about every
    /// change other replicas commit (`LISTEN`, reconnecting with backoff). Once per store.
    fn watch_changes(&self, changes: Arc<dyn TokenChanges>);
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
    async fn close(&self);
}

#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// Connects and applies the embedded migrations (safe when replicas start together).
pub async fn open(config: &Config) -> Result<Store, StoreError> {
    let options = PoolOptions {
        max_connections: config.database_max_connections,
        acquire_timeout: Duration::from_secs(config.database_acquire_timeout_seconds),
    };
    open_url(&config.database_url, options).await
}

pub async fn open_url(url: &DatabaseUrl, options: PoolOptions) -> Result<Store, StoreError> {
    Ok(match url.engine() {
        EngineName::Postgres => Arc::new(SqlStore::<sqlx::Postgres>::open(url, options).await?),
        EngineName::Sqlite => Arc::new(SqlStore::<sqlx::Sqlite>::open(url, options).await?),
    })
}

/// The store on one engine. Each aggregate's impl states the sqlx bounds its queries need:
/// Rust does not carry a trait's where-clauses to its users (rust-lang/rust#20671), so they
/// cannot be written once on [`Engine`].
struct SqlStore<E: Engine> {
    pool: sqlx::Pool<E>,
    changes: std::sync::OnceLock<Arc<dyn TokenChanges>>,
}

impl<E: Engine> SqlStore<E> {
    async fn open(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, StoreError> {
        let pool = E::connect(url.expose(), options).await?;
        E::migrate(&pool).await?;
        Ok(SqlStore {
            pool,
            changes: std::sync::OnceLock::new(),
        })
    }

    /// Commits a change to the tokens `ids`: other replicas are told inside the transaction
    /// (so only a committed change is announced), this one right after the commit.
    async fn commit_changes(
        &self,
        mut tx: sqlx::Transaction<'static, E>,
        ids: &[TokenId],
    ) -> Result<(), StoreError> {
        if !ids.is_empty() {
            E::announce(&mut tx, ids).await?;
        }
        tx.commit().await?;
        if !ids.is_empty()
            && let Some(changes) = self.changes.get()
        {
            changes.changed(ids, false);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<E: Engine> Lifecycle for SqlStore<E>
where
    for<'c> &'c mut E::Connection: sqlx::Executor<'c, Database = E>,
{
    fn engine(&self) -> EngineName {
        <E as Engine>::NAME
    }

    fn watch_changes(&self, changes: Arc<dyn TokenChanges>) {
        if self.changes.set(changes.clone()).is_ok() {
            E::listen(self.pool.clone(), changes);
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether text can be stored at all: PostgreSQL text cannot hold NUL, so no stored name has
/// one, and a lookup by such a name finds nothing (rather than failing on PostgreSQL).
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// An id column read back into its domain type.
fn stored_id<K>(text: &str, what: &'static str) -> Result<crate::token::model::Id<K>, StoreError> {
    crate::token::model::Id::parse(text).map_err(|_| StoreError::Corrupt(what))
}

/// The token ids a write returned (`RETURNING id`), for whoever caches decisions.
fn stored_token_ids(ids: &[String]) -> Result<Vec<crate::token::model::TokenId>, StoreError> {
    ids.iter().map(|id| stored_id(id, "token id")).collect()
}
