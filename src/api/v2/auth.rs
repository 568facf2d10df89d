//! Who is calling the v2 API: `Authorization: Token <t>` or `Bearer <t>` (scheme
//! case-insensitive). A v2 authorization (database token) holds its permissions; management
//! identities act as InfluxDB's operator.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::V2Error;
use crate::api::v0::auth::{authenticate, credential, origin};
use crate::app::AppState;
use crate::audit::Origin;
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
        let presented = credential(parts).map_err(|_| V2Error::unauthorized_access())?;
        if TokenKind::from_token(presented.value) == Some(TokenKind::Database) {
            let token = state
                .verifier
                .verify(presented.value, &[TokenKind::Database])
                .await
                .map_err(refusal)?;
            return Ok(V2Caller {
                holder: Holder::Token(Box::new(token)),
                origin,
            });
        }
        match authenticate(parts, state).await {
            Ok(principal) if principal.is_administrator() => Ok(V2Caller {
                holder: Holder::Management(principal),
                origin,
            }),
            Ok(principal) => Err(V2Error::new(
                "forbidden",
                format!(
                    "{} may not use the v2 API; it needs an Admin, a management token or a v2 token",
                    principal.describe()
                ),
            )),
            Err((_, error)) if error.status == StatusCode::SERVICE_UNAVAILABLE => Err(
                V2Error::unavailable("management authentication unavailable"),
            ),
            Err((_, error)) if error.status == StatusCode::FORBIDDEN => {
                Err(V2Error::new("forbidden", error.message))
            }
            Err(_) => Err(V2Error::unauthorized_access()),
        }
    }
}

/// InfluxDB's answers: an inactive token is 401 `token is inactive`, an inactive user 403
/// `User is inactive`, anything else unknown 401 `unauthorized access`.
fn refusal(rejection: Rejection) -> V2Error {
    tracing::debug!(reason = rejection.reason(), "v2 call refused");
    match rejection {
        Rejection::Unavailable(detail) => V2Error::unavailable(&detail),
        Rejection::Unusable(Unusable::Inactive) => {
            V2Error::new("unauthorized", "token is inactive")
        }
        Rejection::Unusable(Unusable::OwnerInactive) => {
            V2Error::new("forbidden", "User is inactive")
        }
        Rejection::Malformed | Rejection::Unknown | Rejection::Unusable(_) => {
            V2Error::unauthorized_access()
        }
    }
}
