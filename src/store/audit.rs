//! The audit log: appended in the same transaction as the change it records (see the other
//! aggregates), or alone for a refusal; read back newest or oldest first.

use sqlx::{Executor, FromRow};
use time::OffsetDateTime;

use super::{Engine, SqlStore, StoreError};
use crate::audit::{AuditAction, AuditEvent, AuditRecord, Origin, Outcome};

#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Records an entry that goes with no change (a refusal).
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Entries at or after `since`, after (or, newest first, before) the entry `after`.
    async fn list_audit(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<i64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

#[derive(FromRow)]
pub(super) struct AuditRow {
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

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditRecord {
            id: row.id,
            event: AuditEvent {
                at: row.at,
                actor: row.actor,
                action: AuditAction::parse(&row.action),
                target: row.target,
                outcome: Outcome::parse(&row.outcome)
                    .ok_or(StoreError::Corrupt("audit outcome"))?,
                origin: Origin {
                    client: row.client,
                    request_id: row.request_id,
                },
                detail: row.detail,
            },
        })
    }
}

/// Appends `event`, inside the caller's transaction or on its own.
pub(super) async fn append<'c, E: Engine>(
    executor: impl Executor<'c, Database = E>,
    event: &AuditEvent,
) -> Result<(), StoreError>
where
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, outcome, client, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.at)
    .bind(event.actor.as_str())
    .bind(event.action.as_str())
    .bind(event.target.as_deref())
    .bind(event.outcome.as_str())
    .bind(event.origin.client.as_deref())
    .bind(event.origin.request_id.as_deref())
    .bind(event.detail.as_deref())
    .execute(executor)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl<E: Engine> AuditStore for SqlStore<E>
where
    for<'c> &'c mut E::Connection: Executor<'c, Database = E>,
    for<'q> &'q str: sqlx::Encode<'q, E> + sqlx::Type<E>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, E>,
    OffsetDateTime: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    Option<OffsetDateTime>: for<'q> sqlx::Encode<'q, E>,
    i64: for<'q> sqlx::Encode<'q, E> + sqlx::Type<E>,
    AuditRow: for<'r> FromRow<'r, E::Row>,
{
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        append(&self.pool, event).await
    }

    async fn list_audit(
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
        .bind(
            since
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
                .to_offset(time::UtcOffset::UTC),
        )
        .bind(after.unwrap_or(if newest_first { i64::MAX } else { 0 }))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}
