//! Who is calling the management API, and whether they may: `Authorization: Bearer|Token`
//! with the operator token, a manual management token, or (Bearer only) an OAuth JWT.
//! Refusals of verified callers are written to the audit log; refusals of credentials that
//! did not verify are only counted (`/metrics`) and logged at a bounded rate.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ApiError;
use crate::app::AppState;
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::identity::{Group, Principal, Right};
use crate::oauth::{self, JwtError};
use crate::token::{TokenKind, Unusable};
use crate::verify::Rejection;

/// Longest credential we look at; anything longer is refused unread.
const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An authenticated management caller and where the call came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub origin: Origin,
}

/// A presented credential: its scheme (`bearer` or `token`) and value.
pub struct Credential<'a> {
    pub bearer: bool,
    pub value: &'a str,
}

/// The credential of an `Authorization: Bearer <t>` or `Token <t>` header (scheme
/// case-insensitive). Errors never include the header's value.
pub fn credential(parts: &Parts) -> Result<Credential<'_>, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "missing Authorization header; send `Authorization: Bearer <management token>`",
        )
    })?;
    if header.len() > MAX_CREDENTIAL_BYTES {
        return Err(ApiError::unauthorized("Authorization header is too long"));
    }
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, credential) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let bearer = scheme.eq_ignore_ascii_case("bearer");
    if !bearer && !scheme.eq_ignore_ascii_case("token") {
        return Err(ApiError::unauthorized(
            "unsupported authorization scheme; use `Bearer <token>` or `Token <token>`",
        ));
    }
    let value = credential.trim();
    if value.is_empty() {
        return Err(ApiError::unauthorized("Authorization header has no token"));
    }
    Ok(Credential { bearer, value })
}

/// The address the connection came from.
pub fn peer(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub fn origin(parts: &Parts) -> Origin {
    Origin {
        client: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        request_id: parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// Where an unauthenticated call came from (for the audit log).
impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(origin(parts))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = origin(parts);
        match authenticate(parts, state).await {
            Ok(principal) => Ok(Caller { principal, origin }),
            Err(refused) => {
                if let Some(actor) = refused.actor {
                    // The route template, never the raw path: a path can carry a pasted token.
                    let route = parts
                        .extensions
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let event = AuditEvent::new(actor, AuditAction::AuthRefused, &origin)
                        .target(format!("{} {route}", parts.method))
                        .refused(refused.error.message.clone());
                    record(state, &event).await;
                } else if refused.error.status != axum::http::StatusCode::SERVICE_UNAVAILABLE {
                    state.metrics.unverified_refusal("v0", refused.reason);
                }
                Err(refused.error)
            }
        }
    }
}

/// Audit writes for refusals are best effort: a failing store must not turn a 401 into a 500.
/// Each actor's refusals are written up to a budget per minute, then only counted.
pub(crate) async fn record(state: &AppState, event: &AuditEvent) {
    state.audit.record_refusal(event).await;
}

/// A refused credential. `actor` is named only when the credential itself was verified (a
/// live database token on the management API, a valid JWT for an unlisted user): only those
/// refusals are audited, so an unauthenticated flood writes no rows and cannot name actors.
pub(crate) struct Refused {
    pub actor: Option<String>,
    pub error: ApiError,
    /// A stable label for metrics.
    pub reason: &'static str,
}

impl Refused {
    fn unverified(reason: &'static str, error: ApiError) -> Self {
        Refused {
            actor: None,
            error,
            reason,
        }
    }

    fn verified(actor: String, reason: &'static str, error: ApiError) -> Self {
        Refused {
            actor: Some(actor),
            error,
            reason,
        }
    }
}

/// The principal, or why not.
pub(crate) async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, Refused> {
    let presented = credential(parts).map_err(|e| Refused::unverified("no_credential", e))?;
    let Some(kind) = TokenKind::from_token(presented.value) else {
        return authenticate_jwt(&presented, state).await;
    };
    let name = kind.as_str();
    match state
        .verifier
        .verify_from(presented.value, &[kind], peer(parts))
        .await
    {
        Ok(token) if kind == TokenKind::Database => Err(Refused::verified(
            format!("token:{}", token.id),
            "database_token",
            ApiError::forbidden(
                "database tokens cannot use the management API; use a management token",
            ),
        )),
        Ok(token) if token.operator => Ok(Principal::Operator { token_id: token.id }),
        Ok(token) => Ok(Principal::ManagementToken { token_id: token.id }),
        Err(rejection) => Err(Refused::unverified(
            rejection.reason(),
            refusal(rejection, name),
        )),
    }
}

/// An identity provider's access token: Bearer only, from a configured issuer, naming a user
/// listed for this cluster.
async fn authenticate_jwt(
    presented: &Credential<'_>,
    state: &AppState,
) -> Result<Principal, Refused> {
    if !oauth::looks_like_jwt(presented.value) {
        return Err(Refused::unverified(
            "malformed",
            ApiError::unauthorized("invalid management token"),
        ));
    }
    if !presented.bearer {
        return Err(Refused::unverified(
            "jwt_scheme",
            ApiError::unauthorized(
                "OAuth access tokens must be sent as `Authorization: Bearer <token>`",
            ),
        ));
    }
    let Some(oauth) = &state.oauth else {
        return Err(Refused::unverified(
            "oauth_off",
            ApiError::unauthorized(
                "OAuth is not configured on this cluster; use a management token",
            ),
        ));
    };
    let identity = match oauth.verify(presented.value).await {
        Ok(identity) => identity,
        Err(e @ JwtError::KeysUnavailable(_)) => {
            crate::telemetry::unavailable(&e.to_string());
            return Err(Refused::unverified(
                "unavailable",
                ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    format!("{e}; retry later"),
                ),
            ));
        }
        Err(e) => {
            tracing::debug!(reason = %e, "JWT refused");
            return Err(Refused::unverified(
                "jwt_invalid",
                ApiError::unauthorized(e.to_string()),
            ));
        }
    };
    let actor = format!("user:{}", identity.user_id);
    let user = match state.directory.find(&identity.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let error = ApiError::forbidden(format!(
                "user {} is not authorized for this cluster",
                identity.user_id
            ));
            return Err(Refused::verified(actor, "unlisted_user", error));
        }
        Err(e) => return Err(Refused::unverified("unavailable", e.into())),
    };
    let mut groups = user.groups;
    for name in &identity.claimed_groups {
        if let Some(group) = Group::parse(name)
            && !groups.contains(&group)
        {
            groups.push(group);
        }
    }
    Ok(Principal::User {
        id: user.id,
        groups,
    })
}

fn refusal(rejection: Rejection, kind: &str) -> ApiError {
    match rejection {
        Rejection::Unavailable(detail) => ApiError::unavailable(&detail),
        Rejection::Unusable(Unusable::Revoked) => {
            ApiError::unauthorized(format!("{kind} token has been revoked"))
        }
        Rejection::Unusable(Unusable::Expired) => {
            ApiError::unauthorized(format!("{kind} token has expired"))
        }
        Rejection::Unusable(Unusable::Inactive) => {
            ApiError::unauthorized(format!("{kind} token is inactive"))
        }
        Rejection::Unusable(Unusable::OwnerInactive) => {
            ApiError::unauthorized(format!("the user of this {kind} token is inactive"))
        }
        Rejection::RateLimited(wait) => ApiError::too_many_requests(wait),
        Rejection::Malformed | Rejection::Unknown | Rejection::WrongSecret => {
            ApiError::unauthorized(format!("invalid {kind} token"))
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
