//! What differs between PostgreSQL and SQLite: connecting, migrating, starting a write
//! transaction, and row locks. Everything else is written once over [`Engine`].

use std::future::Future;
use std::str::FromStr;

use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Pool, Transaction};

use std::sync::Arc;

use super::{PoolOptions, StoreError, TokenChanges, listener};
use crate::config::Engine as EngineName;
use crate::token::TokenId;

pub trait Engine: sqlx::Database<Arguments: sqlx::IntoArguments<Self>> {
    const NAME: EngineName;
    /// Whether a read that must hold its rows until commit says `FOR SHARE` (PostgreSQL);
    /// SQLite has no row locks and needs none, as its write transactions are serialised.
    const SHARE_ROWS: bool;

    fn connect(
        url: &str,
        options: PoolOptions,
    ) -> impl Future<Output = Result<Pool<Self>, StoreError>> + Send;

    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A transaction that will write.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, StoreError>> + Send;

    /// Tells the other replicas, inside `tx`, that the tokens `ids` changed.
    fn announce(
        tx: &mut Transaction<'static, Self>,
        ids: &[TokenId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Starts telling `changes` what the other replicas announce.
    fn listen(pool: Pool<Self>, changes: Arc<dyn TokenChanges>);
}

fn migrations_failed(err: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Unavailable(format!("migrations failed: {err}").into())
}

/// PostgreSQL, for clusters: several replicas share one database.
impl Engine for Postgres {
    const NAME: EngineName = EngineName::Postgres;
    const SHARE_ROWS: bool = true;

    async fn connect(url: &str, options: PoolOptions) -> Result<Pool<Self>, StoreError> {
        Ok(PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await?)
    }

    /// sqlx takes an advisory lock around migrations, so replicas starting together are safe.
    async fn migrate(pool: &Pool<Self>) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .map_err(migrations_failed)
    }

    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, StoreError> {
        Ok(pool.begin().await?)
    }

    /// `NOTIFY` is delivered at commit, and not at all on rollback.
    async fn announce(
        tx: &mut Transaction<'static, Self>,
        ids: &[TokenId],
    ) -> Result<(), StoreError> {
        for payload in listener::payloads(ids) {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(listener::CHANNEL)
                .bind(payload)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    fn listen(pool: Pool<Self>, changes: Arc<dyn TokenChanges>) {
        tokio::spawn(listener::heartbeat(pool.clone()));
        tokio::spawn(listener::run(pool, changes));
    }
}

/// Creates a missing SQLite file readable by its owner only: it holds hashes and the audit
/// log, and SQLite gives its `-wal` and `-shm` files the database file's mode.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cannot_create(path, &e)),
    }
}

fn cannot_create(path: &std::path::Path, e: &std::io::Error) -> StoreError {
    let context = format!("cannot create {}: {e}", path.display());
    StoreError::Unavailable(Box::new(std::io::Error::new(e.kind(), context)))
}

/// SQLite, the embedded single-node default.
impl Engine for Sqlite {
    const NAME: EngineName = EngineName::Sqlite;
    const SHARE_ROWS: bool = false;

    async fn connect(url: &str, options: PoolOptions) -> Result<Pool<Self>, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed token change survives power loss, as it would on PostgreSQL.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent() {
            std::fs::create_dir_all(dir).map_err(|e| cannot_create(dir, &e))?;
        }
        create_private(connect.get_filename())?;
        Ok(SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?)
    }

    async fn migrate(pool: &Pool<Self>) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite")
            .run(pool)
            .await
            .map_err(migrations_failed)
    }

    /// IMMEDIATE takes the write lock up front, so a read-then-write transaction waits on
    /// busy_timeout instead of failing when another writer got there first.
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, StoreError> {
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// One process owns a SQLite file: there is no other replica to tell.
    async fn announce(
        _tx: &mut Transaction<'static, Self>,
        _ids: &[TokenId],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    fn listen(_pool: Pool<Self>, _changes: Arc<dyn TokenChanges>) {}
}
