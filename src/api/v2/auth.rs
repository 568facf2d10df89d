//! Who is calling the v2 API: `Authorization: Token <t>` or `Bearer <t>` (scheme
//! case-insensitive). A v2 authorization (database token) holds its permissions; management
//! identities act as InfluxDB's operator.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, MatchedPath, OptionalFromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::V2Error;
use crate::api::v0::auth::{authenticate, credential, origin, peer, record};
use crate::app::AppState;
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::tenant::Holder;
use crate::token::{TokenKind, Unusable};
use crate::verify::Rejection;

/// An authenticated v2 caller and where the call came from.
pub struct V2Caller {
    pub holder: Holder,
    pub origin: Origin,
}

impl FromRequestParts<AppState> for V2Caller {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V2Error> {
        let origin = origin(parts);
        let presented = credential(parts).map_err(|_| {
            state.metrics.unverified_refusal("v2", "no_credential");
            V2Error::unauthorized_access()
        })?;
        if TokenKind::from_token(presented.value) == Some(TokenKind::Database) {
            return match state
                .verifier
                .verify_from(presented.value, &[TokenKind::Database], peer(parts))
                .await
            {
                Ok(token) => {
                    verified(parts, state, format!("token:{}", token.id), &origin);
                    Ok(V2Caller {
                        holder: Holder::Token(Box::new(token)),
                        origin,
                    })
                }
                Err(rejection) => {
                    if !matches!(rejection, Rejection::Unavailable(_)) {
                        state.metrics.unverified_refusal("v2", rejection.reason());
                    }
                    Err(refusal(rejection))
                }
            };
        }
        match authenticate(parts, state).await {
            Ok(principal) => {
                verified(parts, state, principal.actor(), &origin);
                if principal.is_administrator() {
                    Ok(V2Caller {
                        holder: Holder::Management(principal),
                        origin,
                    })
                } else {
                    Err(V2Error::new(
                        "forbidden",
                        format!(
                            "{} may not use the v2 API; it needs an Admin, a management token or a v2 token",
                            principal.describe()
                        ),
                    ))
                }
            }
            Err(refused) if refused.error.status == StatusCode::SERVICE_UNAVAILABLE => {
                Err(V2Error::new("unavailable", refused.error.message))
            }
            Err(refused) => {
                match refused.actor {
                    Some(actor) => verified(parts, state, actor, &origin),
                    None => state.metrics.unverified_refusal("v2", refused.reason),
                }
                if refused.error.status == StatusCode::FORBIDDEN {
                    Err(V2Error::new("forbidden", refused.error.message))
                } else if refused.error.status == StatusCode::TOO_MANY_REQUESTS {
                    Err(V2Error::from_rate_limit(refused.error))
                } else {
                    Err(V2Error::unauthorized_access())
                }
            }
        }
    }
}

/// Marks the call as made by a verified `actor`, so that a refusal is audited (see
/// [`audit_refusals`]).
fn verified(parts: &Parts, state: &AppState, actor: String, origin: &Origin) {
    if let Some(slot) = parts.extensions.get::<VerifiedCall>() {
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let _ = slot.0.set(Verified {
            state: state.clone(),
            actor,
            origin: origin.clone(),
            target: format!("{} {route}", parts.method),
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

/// InfluxDB's answers: an inactive token is 401 `token is inactive`, an inactive user 403
/// `User is inactive`, anything else unknown 401 `unauthorized access`.
fn refusal(rejection: Rejection) -> V2Error {
    match rejection {
        Rejection::Unavailable(detail) => V2Error::unavailable(&detail),
        Rejection::Unusable(Unusable::Inactive) => {
            V2Error::new("unauthorized", "token is inactive")
        }
        Rejection::Unusable(Unusable::OwnerInactive) => {
            V2Error::new("forbidden", "User is inactive")
        }
        Rejection::RateLimited(wait) => V2Error::too_many_requests(wait),
        Rejection::Malformed
        | Rejection::Unknown
        | Rejection::WrongSecret
        | Rejection::Unusable(_) => V2Error::unauthorized_access(),
    }
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
