//! Cross-replica invalidation on PostgreSQL: each change is announced with `NOTIFY` inside
//! its transaction, and every replica `LISTEN`s. Notifications are not replayed, so each
//! (re)connect forgets every cached decision; the cache TTL bounds what a lost one costs.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::TokenChanges;
use crate::token::TokenId;

pub const CHANNEL: &str = "tollgate_tokens";

/// Ids per notification: 17 bytes each stays well under PostgreSQL's 8000-byte payload.
const IDS_PER_PAYLOAD: usize = 400;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Every replica notifies an empty payload this often, so each listener hears something.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A listener that hears nothing, not even a heartbeat, for this long is taken as dead (a
/// half-open connection after a failover or a NAT timeout says nothing otherwise).
const SILENCE: Duration = Duration::from_secs(35);

/// `ids` as comma-separated payloads.
pub fn payloads(ids: &[TokenId]) -> impl Iterator<Item = String> + '_ {
    ids.chunks(IDS_PER_PAYLOAD).map(|chunk| {
        chunk
            .iter()
            .map(TokenId::as_str)
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn parse(payload: &str) -> Vec<TokenId> {
    payload
        .split(',')
        .filter_map(|id| TokenId::parse(id).ok())
        .collect()
}

/// Sends the heartbeat until the pool closes.
pub async fn heartbeat(pool: PgPool) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    while !pool.is_closed() {
        ticks.tick().await;
        let sent = tokio::time::timeout(
            HEARTBEAT,
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool),
        )
        .await;
        if let Ok(Err(e)) = sent {
            tracing::debug!(error = %e, "change heartbeat not sent");
        }
    }
}

/// Listens until the pool closes, reconnecting with backoff.
pub async fn run(pool: PgPool, changes: Arc<dyn TokenChanges>) {
    let mut backoff = FIRST_BACKOFF;
    let mut connected_before = false;
    while !pool.is_closed() {
        let mut listener = match subscribe(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "change listener cannot connect");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        // Listening first, then forgetting: a change committed after this is notified.
        changes.missed(connected_before);
        if connected_before {
            tracing::info!("change listener reconnected; cached decisions flushed");
        }
        connected_before = true;
        backoff = FIRST_BACKOFF;
        loop {
            // A timed-out receive may leave the connection mid-message: it is dropped.
            let Ok(received) = tokio::time::timeout(SILENCE, listener.try_recv()).await else {
                tracing::warn!(
                    silent_seconds = SILENCE.as_secs(),
                    "change listener heard nothing, not even a heartbeat; reconnecting"
                );
                break;
            };
            match received {
                Ok(Some(notification)) => {
                    let ids = parse(notification.payload());
                    if !ids.is_empty() {
                        changes.changed(&ids, true);
                    }
                }
                Ok(None) => {
                    tracing::warn!("change listener lost its connection");
                    break;
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "change listener failed");
                    break;
                }
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnects are ours (with the flush); sqlx's would hide the gap.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_under_postgres_limit() {
        let ids: Vec<TokenId> = (1..=1000u64).map(TokenId::from_key).collect();
        let payloads: Vec<String> = payloads(&ids).collect();
        assert_eq!(payloads.len(), 3);
        assert!(payloads.iter().all(|p| p.len() < 8000));
        let back: Vec<TokenId> = payloads.iter().flat_map(|p| parse(p)).collect();
        assert_eq!(back, ids);
    }
}
