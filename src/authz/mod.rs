//! Data-path decisions: "may this token do that on this database?"

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::v0::ApiError;
use crate::api::v0::error::ErrorBody;
use crate::api::v0::extract::ApiJson;
use crate::app::AppState;
use crate::token::{Action, OrgId, Permission, TokenKind};
use crate::verify::Rejection;

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedPermission {
    pub action: Action,
    #[schema(example = "mydb")]
    pub database: String,
    /// The org the request is made in, by id or name (v2 paths name one); without it, the
    /// org `/api/v2/setup` made. Only permissions scoped to an org look at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "my-org")]
    pub org: Option<String>,
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
    let scoped = token.permissions.iter().any(Permission::is_org_scoped);
    let mut orgs: Vec<(Option<String>, Option<OrgId>)> = Vec::new();
    let mut granted = Vec::new();
    for want in request.permissions {
        let org = if scoped {
            request_org(&state, &mut orgs, want.org.as_deref()).await?
        } else {
            None
        };
        let org = org.as_ref().map(OrgId::as_str);
        if token
            .permissions
            .iter()
            .any(|have| have.grants(want.action, &want.database, org))
        {
            granted.push(want);
        }
    }
    Ok(Json(AuthorizeResponse {
        valid: true,
        subject: Some(Subject {
            id: token.id.to_string(),
        }),
        permissions: granted,
    }))
}

const MAX_ORGS_PER_REQUEST: usize = 16;

/// The org a requested permission is in, each distinct name resolved once per request.
async fn request_org(
    state: &AppState,
    resolved: &mut Vec<(Option<String>, Option<OrgId>)>,
    named: Option<&str>,
) -> Result<Option<OrgId>, ApiError> {
    if let Some((_, org)) = resolved.iter().find(|(name, _)| name.as_deref() == named) {
        return Ok(org.clone());
    }
    // Each distinct org costs a lookup: bound what one request may ask for.
    if resolved.len() >= MAX_ORGS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "permissions may name at most {MAX_ORGS_PER_REQUEST} distinct orgs in one request"
        )));
    }
    let org = state
        .tenants
        .request_org(named)
        .await
        .map_err(ApiError::from)?;
    resolved.push((named.map(str::to_owned), org.clone()));
    Ok(org)
}
