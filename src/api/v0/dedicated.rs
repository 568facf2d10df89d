//! The database tokens under the paths of the Cloud Dedicated Management API,
//! `/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens[/{tokenId}]`: the same resources
//! as `/api/v0/tokens`, with `accountId` and `clusterId` in every body, as that API returns them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorBody;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::tokens::{
    self, CreateTokenBody, GetParams, ListParams, Scope, TokenView, UpdateTokenBody,
};
use crate::state::AppState;
use crate::token::TokenKind;

/// Longest account or cluster id accepted (Cloud Dedicated's are UUIDs).
const MAX_ID_CHARS: usize = 64;

/// The ids as given, or 404 when this cluster is configured with others.
fn scope(state: &AppState, account: &str, cluster: &str) -> Result<Scope, ApiError> {
    for (what, id) in [("accountId", account), ("clusterId", cluster)] {
        let plain = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if id.is_empty() || id.len() > MAX_ID_CHARS || !plain {
            return Err(ApiError::bad_request(format!(
                "{what} must be 1 to {MAX_ID_CHARS} letters, digits, - or _"
            )));
        }
    }
    let configured = &state.cluster;
    let differs = |mine: &Option<String>, given: &str| mine.as_deref().is_some_and(|m| m != given);
    if differs(&configured.account_id, account) || differs(&configured.cluster_id, cluster) {
        return Err(ApiError::not_found(
            "account or cluster not found: this server answers for other ids",
        ));
    }
    Ok(Scope {
        account_id: Some(account.to_owned()),
        cluster_id: Some(cluster.to_owned()),
    })
}

/// Create a database token (Cloud Dedicated path).
#[utoipa::path(
    post, path = "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens", tag = "database tokens",
    params(("accountId" = String, Path), ("clusterId" = String, Path)),
    request_body = CreateTokenBody,
    responses(
        (status = 200, description = "Created; `accessToken` is shown only now", body = TokenView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account, cluster)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    let scope = scope(&state, &account, &cluster)?;
    tokens::create(&state, &caller, body, &scope).await
}

/// List database tokens (Cloud Dedicated path).
#[utoipa::path(
    get, path = "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens", tag = "database tokens",
    params(("accountId" = String, Path), ("clusterId" = String, Path), ListParams),
    responses(
        (status = 200, description = "A JSON array", body = [TokenView]),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account, cluster)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &account, &cluster)?;
    tokens::list_scoped(&state, &caller, &params, scope).await
}

/// Get one database token (Cloud Dedicated path).
#[utoipa::path(
    get, path = "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}", tag = "database tokens",
    params(("accountId" = String, Path), ("clusterId" = String, Path),
        ("tokenId" = String, Path, pattern = "^[0-9a-f]{16}$"), GetParams),
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
    ApiPath((account, cluster, id)): ApiPath<(String, String, String)>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Json<TokenView>, ApiError> {
    let scope = scope(&state, &account, &cluster)?;
    tokens::get(&state, &caller, &id, &params, &scope).await
}

/// Change a database token's description (Cloud Dedicated path).
#[utoipa::path(
    patch, path = "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}", tag = "database tokens",
    params(("accountId" = String, Path), ("clusterId" = String, Path),
        ("tokenId" = String, Path, pattern = "^[0-9a-f]{16}$")),
    request_body = UpdateTokenBody,
    responses(
        (status = 200, body = TokenView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn update_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account, cluster, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<UpdateTokenBody>,
) -> Result<Json<TokenView>, ApiError> {
    let scope = scope(&state, &account, &cluster)?;
    tokens::update(&state, &caller, &id, body, &scope).await
}

/// Revoke a database token (Cloud Dedicated path).
#[utoipa::path(
    delete, path = "/api/v0/accounts/{accountId}/clusters/{clusterId}/tokens/{tokenId}", tag = "database tokens",
    params(("accountId" = String, Path), ("clusterId" = String, Path),
        ("tokenId" = String, Path, pattern = "^[0-9a-f]{16}$")),
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
    ApiPath((account, cluster, id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    scope(&state, &account, &cluster)?;
    tokens::revoke(&state, &caller, TokenKind::Database, &id).await
}
