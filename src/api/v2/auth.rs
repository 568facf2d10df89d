//! Who is calling the v2 API: `Authorization: Token <t>` or `Bearer <t>` (scheme
//! case-insensitive), as `auth` verifies it. A v2 authorization (database token) holds its
//! permissions; management identities act as InfluxDB's operator.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::V2Error;
use super::error::V2Code;
use crate::api::auth::{authenticate, record};
use crate::api::body::CredentialChecked;
use crate::api::request::{origin, route_target};
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::auth::credential::TOKEN_OR_BEARER;
use crate::auth::{AuthFailure, Authenticated, Outage, Reason};
use crate::state::AppState;
use crate::tenant::Holder;
use crate::token::TokenKind;

/// An authenticated v2 caller and where the call came from.
pub struct V2Caller {
    pub holder: Holder,
    pub origin: Origin,
}

impl FromRequestParts<AppState> for V2Caller {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V2Error> {
        let origin = origin(parts);
        let authenticated = match authenticate(parts, state, TOKEN_OR_BEARER).await {
            Ok(authenticated) => authenticated,
            Err(failure) => {
                if let Some(actor) = &failure.actor {
                    verified(parts, state, actor.clone(), &origin);
                } else if failure.counted() {
                    state
                        .metrics
                        .unverified_refusal("v2", failure.reason.as_str());
                }
                return Err(refusal(&failure));
            }
        };
        verified(parts, state, authenticated.actor(), &origin);
        parts.extensions.insert(CredentialChecked);
        let holder = match authenticated {
            Authenticated::Database(token) => Holder::Token(token),
            Authenticated::Management(principal) if principal.is_administrator() => {
                Holder::Management(principal)
            }
            Authenticated::Management(principal) => {
                return Err(V2Error::new(
                    V2Code::Forbidden,
                    format!(
                        "{} may not use the v2 API; it needs an Admin, a management token or a v2 token",
                        principal.describe()
                    ),
                ));
            }
        };
        Ok(V2Caller { holder, origin })
    }
}

/// InfluxDB's answers: an inactive token is 401 `token is inactive`, an inactive user 403
/// `User is inactive`, anything else unknown 401 `unauthorized access`.
fn refusal(failure: &AuthFailure) -> V2Error {
    let database = failure.kind == Some(TokenKind::Database);
    match &failure.reason {
        Reason::Unavailable(Outage::Internal(detail)) => V2Error::unavailable(detail),
        Reason::Unavailable(Outage::IdentityProvider(e)) => {
            V2Error::new(V2Code::Unavailable, format!("{e}; retry later"))
        }
        Reason::RateLimited(wait) => V2Error::too_many_requests(*wait),
        Reason::Inactive if database => V2Error::new(V2Code::Unauthorized, "token is inactive"),
        Reason::OwnerInactive if database => V2Error::new(V2Code::Forbidden, "User is inactive"),
        Reason::UnlistedUser(user) => V2Error::new(
            V2Code::Forbidden,
            format!("user {user} is not authorized for this cluster"),
        ),
        Reason::DatabaseToken => V2Error::new(
            V2Code::Forbidden,
            "database tokens cannot use the management API; use a management token",
        ),
        _ => V2Error::unauthorized_access(),
    }
}

/// Marks the call as made by a verified `actor`, so that a refusal is audited (see
/// [`audit_refusals`]).
fn verified(parts: &Parts, state: &AppState, actor: String, origin: &Origin) {
    if let Some(slot) = parts.extensions.get::<VerifiedCall>() {
        let _ = slot.0.set(Verified {
            state: state.clone(),
            actor,
            origin: origin.clone(),
            target: route_target(parts),
        });
    }
}

struct Verified {
    state: AppState,
    actor: String,
    origin: Origin,
    target: String,
}

/// Who made a v2 call, once verified; filled by [`V2Caller`], read by [`audit_refusals`].
#[derive(Clone, Default)]
pub struct VerifiedCall(Arc<OnceLock<Verified>>);

/// The message of a v2 refusal (401/403), carried on the response for the audit.
#[derive(Clone)]
pub struct RefusalMessage(pub String);

/// Audits every refusal of a verified v2 caller (a missing permission, an inactive user, a
/// Member), as the management API does; unverified refusals are only counted.
pub async fn audit_refusals(mut request: Request, next: Next) -> Response {
    let slot = VerifiedCall::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    if let (Some(call), Some(RefusalMessage(message))) =
        (slot.0.get(), response.extensions().get::<RefusalMessage>())
    {
        let event = AuditEvent::new(call.actor.clone(), AuditAction::CallRefused, &call.origin)
            .target(call.target.clone())
            .refused(message.clone());
        record(&call.state, &event).await;
    }
    response
}

/// `None` when no `Authorization` header was sent; a header that was sent must authenticate.
impl OptionalFromRequestParts<AppState> for V2Caller {
    type Rejection = V2Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, V2Error> {
        if parts.headers.contains_key(AUTHORIZATION) {
            <V2Caller as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
