//! The HTTP side of authentication, shared by the surfaces: a request's `Authorization`
//! header into `auth`, and refusals written to the audit log. Uses `auth`, `audit`,
//! `api::request` and the application state; each surface words its own answers.

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::request::peer;
use crate::audit::AuditEvent;
use crate::auth::{AuthFailure, Authenticated, Scheme, credential};
use crate::state::AppState;

/// Who the request's credential is, when sent with one of `accepted`.
pub async fn authenticate(
    parts: &Parts,
    state: &AppState,
    accepted: &'static [Scheme],
) -> Result<Authenticated, AuthFailure> {
    let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let credential =
        credential::from_header(header, accepted).map_err(AuthFailure::no_credential)?;
    state
        .authenticator
        .authenticate(&credential, peer(parts))
        .await
}

/// Records the refusal of a verified caller (within its budget; see [`crate::audit::AuditLog`]).
pub async fn record(state: &AppState, event: &AuditEvent) {
    state.audit.record_refusal(event).await;
}
