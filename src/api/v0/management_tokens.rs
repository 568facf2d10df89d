//! `/api/v0/management-tokens`: long-lived manual management tokens for automation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, token_id};
use super::tokens::{ListParams, list, revoke};
use crate::api::time_format::rfc3339;
use crate::identity::Right;
use crate::state::AppState;
use crate::token::{Token, TokenKind};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateManagementTokenBody {
    /// 1–1024 characters.
    #[schema(example = "CI pipeline", min_length = 1, max_length = 1024)]
    pub description: String,
    /// RFC 3339 instant in the future; omit for a token that lasts until revoked.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementTokenView {
    pub id: String,
    pub description: String,
    /// The only part of the token kept in clear, e.g. `M.V1.3fa0`.
    pub token_prefix: String,
    pub created_at: String,
    /// The user id or management token id that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// When the token last verified (written behind; see the database token view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Only in the create response: the token itself, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

impl From<&Token> for ManagementTokenView {
    fn from(token: &Token) -> Self {
        ManagementTokenView {
            id: token.id.to_string(),
            description: token.description.clone(),
            token_prefix: token.token_prefix.clone(),
            created_at: rfc3339(token.created_at),
            created_by: token.created_by.clone(),
            expires_at: token.expires_at.map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
            access_token: None,
        }
    }
}

/// Create a manual management token (Admin users and the operator token only).
#[utoipa::path(
    post, path = "/api/v0/management-tokens", tag = "management tokens",
    request_body = CreateManagementTokenBody,
    responses(
        (status = 200, description = "Created; `accessToken` is shown only now", body = ManagementTokenView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an Admin user or the operator token", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn create_management_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateManagementTokenBody>,
) -> Result<Json<ManagementTokenView>, ApiError> {
    caller
        .require(&state, Right::CreateManagementTokens, None)
        .await?;
    let (token, minted) = state
        .tokens
        .create_management_token(
            &caller.principal,
            &caller.origin,
            &body.description,
            body.expires_at.as_deref(),
        )
        .await?;
    let mut view = ManagementTokenView::from(&token);
    view.access_token = Some(minted.plain);
    Ok(Json(view))
}

/// List manual management tokens, revoked ones included, ordered by id.
#[utoipa::path(
    get, path = "/api/v0/management-tokens", tag = "management tokens",
    params(ListParams),
    responses(
        (status = 200, body = [ManagementTokenView]),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn list_management_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    caller.require(&state, Right::ReadTokens, None).await?;
    list(
        &state,
        TokenKind::Management,
        true,
        &params,
        "/api/v0/management-tokens",
        |t| ManagementTokenView::from(t),
    )
    .await
}

/// Get one manual management token, revoked or not.
#[utoipa::path(
    get, path = "/api/v0/management-tokens/{id}", tag = "management tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$")),
    responses(
        (status = 200, body = ManagementTokenView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn get_management_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ManagementTokenView>, ApiError> {
    let id = token_id(&id)?;
    caller.require(&state, Right::ReadTokens, None).await?;
    let token = state.tokens.get(TokenKind::Management, &id, true).await?;
    Ok(Json(ManagementTokenView::from(&token)))
}

/// Revoke a manual management token: it stops working at once and stays listed.
#[utoipa::path(
    delete, path = "/api/v0/management-tokens/{id}", tag = "management tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$")),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn delete_management_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &caller, TokenKind::Management, &id).await
}
