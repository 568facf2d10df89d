//! Data-path decisions: "may this token do that on this database?"

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::v0::ApiError;
use crate::api::v0::error::ErrorBody;
use crate::api::v0::extract::ApiJson;
use crate::app::AppState;
use crate::token::{Action, TokenKind};
use crate::verify::Rejection;

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedPermission {
    pub action: Action,
    #[schema(example = "mydb")]
    pub database: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The token as the client presented it.
    pub token: String,
    pub permissions: Vec<RequestedPermission>,
}

/// A non-secret identifier of the token, safe to log.
#[derive(Serialize, ToSchema)]
pub struct Subject {
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorizeResponse {
    /// False for an unknown, malformed, expired, revoked or inactive token.
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The requested permissions the token grants (IOx semantics: the intersection).
    pub permissions: Vec<RequestedPermission>,
}

/// Decide which of the requested permissions a database token grants.
#[utoipa::path(
    post, path = "/api/v0/authorize", tag = "decisions",
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "The decision", body = AuthorizeResponse),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 503, description = "Our own failure; retry after Retry-After", body = ErrorBody),
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AuthorizeRequest>,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    if let Some(index) = request
        .permissions
        .iter()
        .position(|p| p.database.is_empty())
    {
        return Err(ApiError::bad_request(format!(
            "permissions[{index}].database must not be empty"
        )));
    }
    let token = match state
        .verifier
        .verify(&request.token, &[TokenKind::Database])
        .await
    {
        Ok(token) => token,
        Err(Rejection::Unavailable(detail)) => return Err(ApiError::unavailable(&detail)),
        Err(rejection) => {
            tracing::debug!(reason = rejection.reason(), "authorize: invalid token");
            return Ok(Json(AuthorizeResponse {
                valid: false,
                subject: None,
                permissions: Vec::new(),
            }));
        }
    };
    let granted = request
        .permissions
        .into_iter()
        .filter(|want| {
            token
                .permissions
                .iter()
                .any(|have| have.grants(want.action, &want.database))
        })
        .collect();
    Ok(Json(AuthorizeResponse {
        valid: true,
        subject: Some(Subject {
            id: token.id.to_string(),
        }),
        permissions: granted,
    }))
}
