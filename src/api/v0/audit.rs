//! `/api/v0/audit`: the audit log, for Admin and Auditor.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorBody;
use super::extract::{ApiQuery, page_limit};
use crate::api::paging::{json_page, next_cursor};
use crate::api::time_format::rfc3339;
use crate::audit::{AuditRecord, Outcome};
use crate::identity::Right;
use crate::state::AppState;
use crate::token::rules;

const DEFAULT_PAGE: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only entries at or after this RFC 3339 instant.
    pub since: Option<String>,
    /// At most this many entries (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Continue after this entry id, in the chosen order (for paging).
    pub after: Option<i64>,
    /// `asc` (oldest first, the default) or `desc` (newest first).
    pub order: Option<Order>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    pub id: i64,
    pub at: String,
    /// `user:<idp id>`, `token:<token id>`, `config`, `system`, `cli` or `anonymous`.
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(record: AuditRecord) -> Self {
        let event = record.event;
        AuditEntryView {
            id: record.id,
            at: rfc3339(event.at),
            actor: event.actor,
            action: event.action.as_str().to_owned(),
            target: event.target,
            outcome: event.outcome,
            client_address: event.origin.client,
            request_id: event.origin.request_id,
            detail: event.detail,
        }
    }
}

/// Read the audit log, oldest first (or newest first with `order=desc`), paged by entry id.
#[utoipa::path(
    get, path = "/api/v0/audit", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "Entries; a `Link: rel=\"next\"` header when the page is full", body = [AuditEntryView]),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Response, ApiError> {
    caller.require(&state, Right::ReadAudit, None).await?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    let limit = page_limit(limit)?;
    let since = params
        .since
        .as_deref()
        .map(rules::parse_timestamp)
        .transpose()
        .map_err(|e| {
            ApiError::bad_request(match e {
                rules::RuleError::ExpiryRange => {
                    "since must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC"
                }
                _ => "since must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z",
            })
        })?;
    let newest_first = params.order == Some(Order::Desc);
    let records = state
        .audit
        .list(since, params.after, limit, newest_first)
        .await?;
    let next = next_cursor(&records, limit, |last| last.id);
    let views: Vec<AuditEntryView> = records.into_iter().map(AuditEntryView::from).collect();
    let next = next.map(|last| {
        // The parsed instant in UTC: a client's `+hh:mm` would read as a space in a query.
        let since = since
            .and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok())
            .map(|at| format!("&since={at}"))
            .unwrap_or_default();
        let order = if newest_first { "&order=desc" } else { "" };
        format!("/api/v0/audit?limit={limit}&after={last}{since}{order}")
    });
    Ok(json_page(views, next))
}
