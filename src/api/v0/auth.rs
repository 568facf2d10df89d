//! Who is calling the management API, and whether they may: `Authorization: Bearer|Token`
//! with the operator token, a manual management token, or (Bearer only) an OAuth JWT, as
//! `auth` verifies them. Refusals of verified callers are written to the audit log; refusals
//! of credentials that did not verify are only counted (`/metrics`) and logged at a bounded
//! rate.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;
use crate::api::auth::{authenticate, record};
use crate::api::body::CredentialChecked;
use crate::api::request::{origin, route_target};
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::auth::credential::TOKEN_OR_BEARER;
use crate::auth::{AuthFailure, Authenticated, CredentialError, Outage, Reason};
use crate::identity::{Principal, Right};
use crate::state::AppState;
use crate::token::TokenKind;

/// An authenticated management caller and where the call came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub origin: Origin,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = origin(parts);
        let authenticated = authenticate(parts, state, TOKEN_OR_BEARER)
            .await
            .and_then(Authenticated::into_management);
        let failure = match authenticated {
            Ok(principal) => {
                parts.extensions.insert(CredentialChecked);
                return Ok(Caller { principal, origin });
            }
            Err(failure) => failure,
        };
        let error = refusal(&failure);
        if let Some(actor) = failure.actor {
            let event = AuditEvent::new(actor, AuditAction::AuthRefused, &origin)
                .target(route_target(parts))
                .refused(error.message.clone());
            record(state, &event).await;
        } else if failure.counted() {
            state
                .metrics
                .unverified_refusal("v0", failure.reason.as_str());
        }
        Err(error)
    }
}

/// The management API's words for a refused credential.
fn refusal(failure: &AuthFailure) -> ApiError {
    let kind = failure.kind.unwrap_or(TokenKind::Management).as_str();
    match &failure.reason {
        Reason::NoCredential(CredentialError::Missing) => ApiError::unauthorized(
            "missing Authorization header; send `Authorization: Bearer <management token>`",
        ),
        Reason::NoCredential(e) => ApiError::unauthorized(e.to_string()),
        Reason::Malformed | Reason::Unknown | Reason::WrongSecret => {
            ApiError::unauthorized(format!("invalid {kind} token"))
        }
        Reason::RateLimited(wait) => ApiError::too_many_requests(*wait),
        Reason::Revoked => ApiError::unauthorized(format!("{kind} token has been revoked")),
        Reason::Expired => ApiError::unauthorized(format!("{kind} token has expired")),
        Reason::Inactive => ApiError::unauthorized(format!("{kind} token is inactive")),
        Reason::OwnerInactive => {
            ApiError::unauthorized(format!("the user of this {kind} token is inactive"))
        }
        Reason::DatabaseToken => ApiError::forbidden(
            "database tokens cannot use the management API; use a management token",
        ),
        Reason::UnlistedUser(user) => {
            ApiError::forbidden(format!("user {user} is not authorized for this cluster"))
        }
        Reason::JwtScheme => ApiError::unauthorized(
            "OAuth access tokens must be sent as `Authorization: Bearer <token>`",
        ),
        Reason::OAuthOff => ApiError::unauthorized(
            "OAuth is not configured on this cluster; use a management token",
        ),
        Reason::JwtInvalid(e) => ApiError::unauthorized(e.to_string()),
        Reason::Unavailable(Outage::Internal(detail)) => ApiError::unavailable(detail),
        Reason::Unavailable(Outage::IdentityProvider(e)) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later"))
        }
    }
}

impl Caller {
    /// 403 (and an audit entry) unless the caller holds `right`.
    pub async fn require(
        &self,
        state: &AppState,
        right: Right,
        target: Option<&str>,
    ) -> Result<(), ApiError> {
        if self.principal.may(right) {
            return Ok(());
        }
        let message = format!("{} may not {}", self.principal.describe(), right.describe());
        let mut event = AuditEvent::new(
            self.principal.actor(),
            AuditAction::CallRefused,
            &self.origin,
        )
        .refused(message.clone());
        if let Some(target) = target {
            event = event.target(target.to_owned());
        }
        record(state, &event).await;
        Err(ApiError::forbidden(message))
    }
}
