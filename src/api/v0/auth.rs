//! Who is calling the management API: `Authorization: Bearer|Token <management token>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ApiError;
use crate::app::AppState;
use crate::token::{TokenId, TokenKind, Unusable};
use crate::verify::Rejection;

/// Longest credential we look at; anything longer is refused unread.
const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// An authenticated management caller.
#[derive(Debug, Clone)]
pub struct ManagementCaller {
    pub token_id: TokenId,
    pub operator: bool,
}

/// The credential of an `Authorization: Bearer <t>` or `Token <t>` header (scheme
/// case-insensitive). Errors never include the header's value.
pub fn bearer_credential(parts: &Parts) -> Result<&str, ApiError> {
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
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return Err(ApiError::unauthorized(
            "unsupported authorization scheme; use `Bearer <token>` or `Token <token>`",
        ));
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(ApiError::unauthorized("Authorization header has no token"));
    }
    Ok(credential)
}

impl FromRequestParts<AppState> for ManagementCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = bearer_credential(parts)?;
        match TokenKind::from_token(credential) {
            Some(TokenKind::Database) => {
                // Verified first, so that only a real database token learns it is one.
                match state
                    .verifier
                    .verify(credential, &[TokenKind::Database])
                    .await
                {
                    Ok(_) => Err(ApiError::forbidden(
                        "database tokens cannot use the management API; use a management token",
                    )),
                    Err(rejection) => Err(refusal(rejection, "database")),
                }
            }
            Some(TokenKind::Management) => {
                match state
                    .verifier
                    .verify(credential, &[TokenKind::Management])
                    .await
                {
                    Ok(token) => Ok(ManagementCaller {
                        token_id: token.id,
                        operator: token.operator,
                    }),
                    Err(rejection) => Err(refusal(rejection, "management")),
                }
            }
            None => Err(ApiError::unauthorized("invalid management token")),
        }
    }
}

fn refusal(rejection: Rejection, kind: &str) -> ApiError {
    tracing::info!(reason = rejection.reason(), kind, "management call refused");
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
        Rejection::Malformed | Rejection::Unknown => {
            ApiError::unauthorized(format!("invalid {kind} token"))
        }
    }
}
