//! `/api/v0/tokens`: database tokens in the InfluxDB Clustered REST shape.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery, page_limit, token_id};
use crate::api::paging::{json_page, next_cursor};
use crate::api::stream::{Chunk, stream_pages};
use crate::api::time_format::rfc3339;
use crate::error::Error;
use crate::identity::Right;
use crate::state::{AppState, ClusterIds};
use crate::token::rules::{self, RuleError};
use crate::token::service::DatabaseTokenRequest;
use crate::token::{Action, Token, TokenId, TokenKind};

pub use crate::token::rules::ExpirationType;

/// Page size when streaming a whole list.
const STREAM_PAGE: u32 = 500;

/// One database permission: an action on a database, or on every database with `*`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabasePermission {
    pub action: Action,
    /// A database name (InfluxDB Clustered's rules) or `*` for every database.
    #[schema(
        example = "mydb",
        max_length = 64,
        pattern = r"^(\*|[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9_-]+)?)$"
    )]
    pub resource: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenBody {
    /// 1–1024 characters.
    #[schema(example = "read/write for mydb", min_length = 1, max_length = 1024)]
    pub description: String,
    #[schema(min_items = 1)]
    pub permissions: Vec<DatabasePermission>,
    /// RFC 3339 instant in the future (`Z`, `±hh:mm` or `±hhmm`); omit for a token that never expires.
    #[schema(example = "2030-01-01T00:00:00Z", format = DateTime)]
    pub expires_at: Option<String>,
    /// Accepted as Cloud Dedicated clients send it: `datetime` needs `expiresAt`.
    pub expiration_type: Option<ExpirationType>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTokenBody {
    pub description: Option<String>,
    /// Refused: permissions never change after creation.
    #[schema(value_type = Option<Vec<DatabasePermission>>)]
    pub permissions: Option<serde_json::Value>,
    /// Refused: expiry never changes after creation.
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    #[schema(example = "0f3c5a9e12d4b6a8")]
    pub id: String,
    pub description: String,
    pub permissions: Vec<DatabasePermission>,
    #[schema(example = "2026-11-23T10:00:00.000Z")]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// When the token last verified, to within `[verify] last_used_flush_seconds` (it is
    /// written behind); absent when it never has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Only in the create response: the token itself, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Only under `/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens` (Cloud Dedicated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// The Cloud Dedicated account and cluster a request named in its path (none on `/api/v0/tokens`).
pub type Scope = ClusterIds;

impl TokenView {
    /// The view as seen under `scope`.
    pub fn scoped(token: &Token, scope: &Scope) -> Self {
        TokenView {
            account_id: scope.account_id.clone(),
            cluster_id: scope.cluster_id.clone(),
            ..TokenView::from(token)
        }
    }
}

impl From<&Token> for TokenView {
    fn from(token: &Token) -> Self {
        TokenView {
            id: token.id.to_string(),
            description: token.description.clone(),
            permissions: token
                .permissions
                .iter()
                .filter_map(|p| {
                    p.database_name().map(|name| DatabasePermission {
                        action: p.action,
                        resource: name.to_owned(),
                    })
                })
                .collect(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
            access_token: None,
            account_id: None,
            cluster_id: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Also list revoked tokens.
    pub include_revoked: Option<bool>,
    /// Return at most this many (1–1000); without it, every matching token is streamed.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Return tokens whose id sorts after this one (for paging with `limit`).
    #[param(pattern = "^[0-9a-f]{16}$")]
    pub after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// Return the token even when it is revoked.
    pub include_revoked: Option<bool>,
}

/// Create a database token. The response is the only place the token appears.
#[utoipa::path(
    post, path = "/api/v0/tokens", tag = "database tokens",
    request_body = CreateTokenBody,
    responses(
        (status = 200, description = "Created; `accessToken` is shown only now", body = TokenView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "No or invalid management token", body = ErrorBody),
        (status = 403, description = "Not a management token", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 503, description = "Store or hashing unavailable; see Retry-After", body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    create(&state, &caller, body, &Scope::default()).await
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    body: CreateTokenBody,
    scope: &Scope,
) -> Result<Json<TokenView>, ApiError> {
    caller
        .require(state, Right::CreateDatabaseTokens, None)
        .await?;
    let expires_at = rules::expiration_type(body.expiration_type, body.expires_at)
        .map_err(crate::error::Error::from)?;
    let request = DatabaseTokenRequest {
        description: body.description,
        permissions: body
            .permissions
            .into_iter()
            .map(|p| (p.action, p.resource))
            .collect(),
        expires_at,
    };
    let (token, minted) = state
        .tokens
        .create_database_token(&caller.principal, &caller.origin, request)
        .await?;
    let mut view = TokenView::scoped(&token, scope);
    view.access_token = Some(minted.plain);
    Ok(Json(view))
}

/// List database tokens, ordered by id. Revoked ones only with `include_revoked=true`.
#[utoipa::path(
    get, path = "/api/v0/tokens", tag = "database tokens",
    params(ListParams),
    responses(
        (status = 200, description = "A JSON array; with `limit`, a `Link: rel=\"next\"` header when more may follow", body = [TokenView]),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    list_scoped(&state, &caller, &params, Scope::default()).await
}

pub async fn list_scoped(
    state: &AppState,
    caller: &Caller,
    params: &ListParams,
    scope: Scope,
) -> Result<Response, ApiError> {
    caller.require(state, Right::ReadTokens, None).await?;
    let include_revoked = params.include_revoked.unwrap_or(false);
    let path = match (&scope.account_id, &scope.cluster_id) {
        (Some(account), Some(cluster)) => {
            format!("/api/v0/accounts/{account}/clusters/{cluster}/tokens")
        }
        _ => "/api/v0/tokens".to_owned(),
    };
    list(
        state,
        TokenKind::Database,
        include_revoked,
        params,
        &path,
        move |t| TokenView::scoped(t, &scope),
    )
    .await
}

/// A token list: one page with `limit` (and a `Link: rel="next"` to `path` when full), else
/// a stream.
pub async fn list<V: Serialize + Send + 'static>(
    state: &AppState,
    kind: TokenKind,
    include_revoked: bool,
    params: &ListParams,
    path: &str,
    view: impl Fn(&Token) -> V + Clone + Send + Sync + 'static,
) -> Result<Response, ApiError> {
    let after = params.after.as_deref().map(token_id).transpose()?;
    if let Some(limit) = params.limit {
        let limit = page_limit(limit)?;
        let page = state
            .tokens
            .list(kind, include_revoked, after.as_ref(), limit)
            .await?;
        let next = next_cursor(&page, limit, |last| {
            format!(
                "{path}?limit={limit}&after={}&include_revoked={include_revoked}",
                last.id
            )
        });
        return Ok(json_page(page.iter().map(view).collect(), next));
    }
    let service = state.tokens.clone();
    let fetch = move |after: Option<TokenId>| {
        let (service, view) = (service.clone(), view.clone());
        async move {
            let page = service
                .list(kind, include_revoked, after.as_ref(), STREAM_PAGE)
                .await?;
            let next = next_cursor(&page, STREAM_PAGE, |last| last.id.clone());
            Chunk::serialize(page.iter().map(view), next).map_err(|e| Error::Internal(Box::new(e)))
        }
    };
    Ok(stream_pages("[", "]", after, fetch).await?)
}

/// Get one database token. A revoked one only with `include_revoked=true`.
#[utoipa::path(
    get, path = "/api/v0/tokens/{id}", tag = "database tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$"), GetParams),
    responses(
        (status = 200, body = TokenView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Json<TokenView>, ApiError> {
    get(&state, &caller, &id, &params, &Scope::default()).await
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: &str,
    params: &GetParams,
    scope: &Scope,
) -> Result<Json<TokenView>, ApiError> {
    caller.require(state, Right::ReadTokens, None).await?;
    let id = token_id(id)?;
    let include_revoked = params.include_revoked.unwrap_or(false);
    let token = state
        .tokens
        .get(TokenKind::Database, &id, include_revoked)
        .await?;
    Ok(Json(TokenView::scoped(&token, scope)))
}

/// Change a database token's description. Permissions and expiry never change.
#[utoipa::path(
    patch, path = "/api/v0/tokens/{id}", tag = "database tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$")),
    request_body = UpdateTokenBody,
    responses(
        (status = 200, body = TokenView),
        (status = 400, description = "Invalid input, or an attempt to change permissions", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn update_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    update(&state, &caller, &id, body, &Scope::default()).await
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: UpdateTokenBody,
    scope: &Scope,
) -> Result<Json<TokenView>, ApiError> {
    let id = token_id(id)?;
    caller
        .require(state, Right::ChangeDatabaseTokens, Some(id.as_str()))
        .await?;
    if body.permissions.is_some() {
        return Err(RuleError::PermissionsImmutable.into_api());
    }
    if body.expires_at.is_some() {
        return Err(RuleError::ExpiryImmutable.into_api());
    }
    let description = body
        .description
        .ok_or_else(|| RuleError::NothingToUpdate.into_api())?;
    let token = state
        .tokens
        .update_description(
            &caller.principal,
            &caller.origin,
            TokenKind::Database,
            &id,
            &description,
        )
        .await?;
    Ok(Json(TokenView::scoped(&token, scope)))
}

/// Revoke a database token: it stops working at once and stays listable with `include_revoked`.
#[utoipa::path(
    delete, path = "/api/v0/tokens/{id}", tag = "database tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$")),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &caller, TokenKind::Database, &id).await
}

/// Longest grace a rotation may give the old token.
pub const MAX_GRACE_SECONDS: u64 = 366 * 24 * 3600;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateTokenBody {
    /// How long the old token keeps working, in seconds (default 3600; 0 revokes it at
    /// once). Its expiry becomes the earlier of its own and now + grace.
    #[schema(example = 3600, maximum = 31_622_400)]
    pub grace_seconds: Option<u64>,
}

/// Rotate a database token: a new token with the same permissions, description and v2 owner,
/// and the old one expiring when the grace period ends, in one transaction. Only a usable
/// token that was never rotated can be.
#[utoipa::path(
    post, path = "/api/v0/tokens/{id}/rotate", tag = "database tokens",
    params(("id" = String, Path, description = "16 lowercase hex characters", pattern = "^[0-9a-f]{16}$")),
    request_body = RotateTokenBody,
    responses(
        (status = 200, description = "The new token; `accessToken` is shown only now", body = TokenView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No database token with this id", body = ErrorBody),
        (status = 409, description = "The token is not usable (inactive, expired, revoked, its v2 owner inactive or deleted) or was already rotated", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RotateTokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    let id = token_id(&id)?;
    let grace = body.grace_seconds.unwrap_or(3600);
    if grace > MAX_GRACE_SECONDS {
        return Err(ApiError::bad_request(format!(
            "graceSeconds must be at most {MAX_GRACE_SECONDS} (366 days), got {grace}"
        )));
    }
    // Rotation creates a token and ends one: the caller needs both rights.
    caller
        .require(&state, Right::CreateDatabaseTokens, Some(id.as_str()))
        .await?;
    caller
        .require(&state, Right::ChangeDatabaseTokens, Some(id.as_str()))
        .await?;
    let grace = time::Duration::seconds(i64::try_from(grace).unwrap_or(i64::MAX));
    let (token, minted, _) = state
        .tokens
        .rotate(&caller.principal, &caller.origin, &id, grace)
        .await?;
    let mut view = TokenView::from(&token);
    view.access_token = Some(minted.plain);
    Ok(Json(view))
}

/// DELETE of either kind: a soft revoke, 204 also when already revoked.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    kind: TokenKind,
    raw_id: &str,
) -> Result<StatusCode, ApiError> {
    let id = token_id(raw_id)?;
    let right = match kind {
        TokenKind::Database => Right::ChangeDatabaseTokens,
        TokenKind::Management => Right::RevokeManagementTokens,
    };
    caller.require(state, right, Some(id.as_str())).await?;
    state
        .tokens
        .revoke(&caller.principal, &caller.origin, kind, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

trait IntoApi {
    fn into_api(self) -> ApiError;
}

impl IntoApi for RuleError {
    fn into_api(self) -> ApiError {
        ApiError::bad_request(self.to_string())
    }
}
