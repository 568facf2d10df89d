//! The audit log as a service: refusals recorded within each actor's budget, entries read
//! back in pages. Changes are audited by the store in the same transaction as the change.

use time::OffsetDateTime;

use super::{AuditEvent, AuditRecord, RefusalBudget};
use crate::error::Error;
use crate::store::Store;
use crate::telemetry::Metrics;

#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    /// How many refusals each verified actor may still have written.
    budget: RefusalBudget,
    metrics: Metrics,
}

impl AuditLog {
    pub fn new(store: Store, metrics: Metrics) -> Self {
        AuditLog {
            store,
            budget: RefusalBudget::default(),
            metrics,
        }
    }

    /// Records the refusal of a verified caller, best effort: a failing store must not turn
    /// a 401 into a 500. Past the actor's budget the refusal is only counted.
    pub async fn record_refusal(&self, event: &AuditEvent) {
        if !self.budget.allows(&event.actor) {
            self.metrics.refusal_not_audited();
            return;
        }
        if let Err(e) = self.store.record_audit(event).await {
            tracing::warn!(error = %e, action = %event.action, "could not record audit entry");
        }
    }

    /// Entries at or after `since`, after the entry `after`, oldest or newest first.
    pub async fn list(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<i64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<AuditRecord>, Error> {
        Ok(self
            .store
            .list_audit(since, after, limit, newest_first)
            .await?)
    }
}
