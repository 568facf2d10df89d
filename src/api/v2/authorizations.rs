//! `/api/v2/authorizations`: InfluxDB v2's token API on tollgate's store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::V2Error;
use super::auth::V2Caller;
use super::error::V2ErrorBody;
use super::extract::{V2Json, V2Path, V2Query, optional_id, status, v2_id};
use crate::api::stream::{Chunk, stream_pages};
use crate::api::time_format::rfc3339_nano;
use crate::state::AppState;
use crate::tenant::authorizations::{CreateAuthorization, RequestedPermission};
use crate::tenant::service::Names;
use crate::token::{OrgId, Token, TokenId, UserId};

/// Authorizations read from the store per round trip while listing.
const LIST_PAGE: u32 = 500;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResourceBody {
    /// One of the 23 InfluxDB OSS resource types (`buckets`, `authorizations`, `users`, …).
    #[serde(rename = "type")]
    #[schema(example = "buckets")]
    pub kind: Option<String>,
    pub id: Option<String>,
    #[serde(rename = "orgID")]
    pub org_id: Option<String>,
    /// For `buckets`: the database name this permission binds to. Ignored for other types.
    #[schema(example = "sensors")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PermissionBody {
    #[schema(example = "write")]
    pub action: Option<String>,
    pub resource: Option<ResourceBody>,
}

/// Unknown keys are ignored, as InfluxDB ignores them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateAuthorizationBody {
    #[serde(rename = "orgID")]
    pub org_id: Option<String>,
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<PermissionBody>>,
    /// Refused unless empty: tollgate mints every token itself.
    #[schema(value_type = Option<String>)]
    pub token: Option<serde_json::Value>,
}

/// Only `status` and `description` change; every other key is ignored (clients send the
/// whole object back).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateAuthorizationBody {
    pub status: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "orgID", skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    #[schema(example = "write")]
    pub action: &'static str,
    pub resource: ResourceView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub user: String,
}

/// InfluxDB 2.x's Authorization, key for key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationView {
    pub id: String,
    /// The token on creation only; `""` afterwards (tollgate stores only a hash).
    pub token: String,
    #[schema(example = "active")]
    pub status: &'static str,
    pub description: String,
    #[serde(rename = "orgID")]
    pub org_id: String,
    pub org: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub user: String,
    pub permissions: Vec<PermissionView>,
    pub links: AuthorizationLinks,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub this: String,
}

/// The list wrapper (no paging: every visible authorization).
#[derive(Serialize, ToSchema)]
pub struct AuthorizationsView {
    pub links: SelfLink,
    pub authorizations: Vec<AuthorizationView>,
}

/// The v2 view of a token, decorated with user and org names. `None` when its user or org
/// can no longer be loaded (InfluxDB skips those).
pub async fn view(token: &Token, names: &mut Names) -> Result<Option<AuthorizationView>, V2Error> {
    let (Some(user_id), Some(org_id)) = (&token.user_id, &token.org_id) else {
        return Ok(None);
    };
    let (Some(user), Some(org)) = (names.user(user_id).await?, names.org(org_id).await?) else {
        return Ok(None);
    };
    let mut permissions = Vec::with_capacity(token.permissions.len());
    for p in &token.permissions {
        let r = &p.resource;
        let id = r.id.as_deref();
        // Names come from a lookup by id for orgs and users; a bucket keeps the name it binds.
        let (name, found) = match (r.kind.as_str(), id) {
            ("orgs", Some(id)) => match OrgId::parse(id) {
                Ok(id) => names
                    .org(&id)
                    .await?
                    .map_or((None, false), |n| (Some(n), true)),
                Err(_) => (None, true),
            },
            ("users", Some(id)) => match UserId::parse(id) {
                Ok(id) => names
                    .user(&id)
                    .await?
                    .map_or((None, false), |n| (Some(n), true)),
                Err(_) => (None, true),
            },
            ("buckets", _) => (r.name.clone(), true),
            _ => (None, true),
        };
        let org = match (&r.org_id, found) {
            (Some(org_id), true) => match OrgId::parse(org_id) {
                Ok(id) => names.org(&id).await?,
                Err(_) => None,
            },
            _ => None,
        };
        permissions.push(PermissionView {
            action: p.action.as_str(),
            resource: ResourceView {
                kind: r.kind.clone(),
                id: r.id.clone(),
                org_id: r.org_id.clone(),
                name,
                org,
            },
        });
    }
    Ok(Some(AuthorizationView {
        id: token.id.to_string(),
        token: String::new(),
        status: token.status.as_str(),
        description: token.description.clone(),
        org_id: org_id.to_string(),
        org,
        user_id: user_id.to_string(),
        user,
        permissions,
        links: AuthorizationLinks {
            this: format!("/api/v2/authorizations/{}", token.id),
            user: format!("/api/v2/users/{user_id}"),
        },
        created_at: rfc3339_nano(token.created_at),
        updated_at: rfc3339_nano(token.updated_at),
    }))
}

async fn view_or_gone(token: &Token, names: &mut Names) -> Result<AuthorizationView, V2Error> {
    view(token, names)
        .await?
        .ok_or_else(|| V2Error::not_found("user not found"))
}

/// Create an authorization (a database token when it carries bucket permissions).
#[utoipa::path(
    post, path = "/api/v2/authorizations", tag = "v2",
    request_body = CreateAuthorizationBody,
    responses(
        (status = 201, description = "Created; `token` is shown only now", body = AuthorizationView),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 403, description = "A requested permission the caller does not hold", body = V2ErrorBody),
        (status = 422, body = V2ErrorBody), (status = 500, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn create_authorization(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Json(body): V2Json<CreateAuthorizationBody>,
) -> Result<(StatusCode, Json<AuthorizationView>), V2Error> {
    let request = CreateAuthorization {
        chosen_token: body
            .token
            .is_some_and(|t| !(t.is_null() || t.as_str() == Some(""))),
        org_id: body.org_id,
        user_id: body.user_id,
        status: body.status,
        description: body.description,
        permissions: body.permissions.map(|ps| {
            ps.into_iter()
                .map(|p| {
                    let r = p.resource;
                    RequestedPermission {
                        action: p.action,
                        kind: r.as_ref().and_then(|r| r.kind.clone()),
                        id: r.as_ref().and_then(|r| r.id.clone()),
                        org_id: r.as_ref().and_then(|r| r.org_id.clone()),
                        name: r.and_then(|r| r.name),
                    }
                })
                .collect()
        }),
    };
    let (token, minted) = state
        .authorizations
        .create(&caller.holder, &caller.origin, request)
        .await?;
    let mut names = state.tenants.names();
    let mut view = view_or_gone(&token, &mut names).await?;
    view.token = minted.plain;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this user's authorizations (wins over `user`).
    #[serde(rename = "userID")]
    #[param(rename = "userID")]
    pub user_id: Option<String>,
    /// Only this user's, by name; an unknown name is 404.
    pub user: Option<String>,
    /// Only this org's (wins over `org`).
    #[serde(rename = "orgID")]
    #[param(rename = "orgID")]
    pub org_id: Option<String>,
    /// Only this org's, by name; an unknown name is 404.
    pub org: Option<String>,
    /// One authorization by id.
    pub id: Option<String>,
    /// Ignored, as InfluxDB OSS ignores it.
    pub token: Option<String>,
}

/// List the authorizations the caller may read (all matches, no paging).
#[utoipa::path(
    get, path = "/api/v2/authorizations", tag = "v2",
    params(ListParams),
    responses(
        (status = 200, body = AuthorizationsView),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn list_authorizations(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Query(params): V2Query<ListParams>,
) -> Result<Response, V2Error> {
    const OPEN: &str = r#"{"links":{"self":"/api/v2/authorizations"},"authorizations":["#;
    const CLOSE: &str = "]}";
    let holder = caller.holder;
    if let Some(id) = optional_id(params.id.as_deref())? {
        let token = state.authorizations.get(&holder, &id).await?;
        let mut names = state.tenants.names();
        let item = view_or_gone(&token, &mut names).await?;
        return Ok(Json(AuthorizationsView {
            links: SelfLink {
                this: "/api/v2/authorizations".into(),
            },
            authorizations: vec![item],
        })
        .into_response());
    }
    let user_id = match (
        optional_id(params.user_id.as_deref())?,
        params.user.as_deref(),
    ) {
        (Some(id), _) => Some(id),
        (None, Some(name)) if !name.is_empty() => Some(state.tenants.user_named(name).await?.id),
        _ => None,
    };
    let org_id = match (
        optional_id(params.org_id.as_deref())?,
        params.org.as_deref(),
    ) {
        (Some(id), _) => Some(id),
        (None, Some(name)) if !name.is_empty() => Some(state.tenants.org_named(name).await?.id),
        _ => None,
    };
    let fetch = move |after: Option<TokenId>| {
        let state = state.clone();
        let holder = holder.clone();
        let (user_id, org_id) = (user_id.clone(), org_id.clone());
        async move {
            let (page, next) = state
                .authorizations
                .list_page(
                    &holder,
                    user_id.as_ref(),
                    org_id.as_ref(),
                    after.as_ref(),
                    LIST_PAGE,
                )
                .await?;
            let mut names = state.tenants.names();
            let mut items = Vec::with_capacity(page.len());
            for token in &page {
                if let Some(item) = view(token, &mut names).await? {
                    items.push(item);
                }
            }
            Chunk::serialize(items, next).map_err(|e| V2Error::internal(&e.to_string()))
        }
    };
    stream_pages(OPEN, CLOSE, None, fetch).await
}

/// Get one authorization.
#[utoipa::path(
    get, path = "/api/v2/authorizations/{authID}", tag = "v2",
    params(("authID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 200, body = AuthorizationView),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn get_authorization(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<Json<AuthorizationView>, V2Error> {
    let id = v2_id(&id)?;
    let token = state.authorizations.get(&caller.holder, &id).await?;
    let mut names = state.tenants.names();
    Ok(Json(view_or_gone(&token, &mut names).await?))
}

/// Change an authorization's status or description; nothing else ever changes.
#[utoipa::path(
    patch, path = "/api/v2/authorizations/{authID}", tag = "v2",
    params(("authID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    request_body = UpdateAuthorizationBody,
    responses(
        (status = 200, body = AuthorizationView),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn update_authorization(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
    V2Json(body): V2Json<UpdateAuthorizationBody>,
) -> Result<Json<AuthorizationView>, V2Error> {
    let id = v2_id(&id)?;
    let status = status(body.status.as_deref())?;
    let token = state
        .authorizations
        .update(
            &caller.holder,
            &caller.origin,
            &id,
            status,
            body.description.as_deref(),
        )
        .await?;
    let mut names = state.tenants.names();
    Ok(Json(view_or_gone(&token, &mut names).await?))
}

/// Delete an authorization: it stops working at once, everywhere.
#[utoipa::path(
    delete, path = "/api/v2/authorizations/{authID}", tag = "v2",
    params(("authID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = V2ErrorBody), (status = 401, body = V2ErrorBody),
        (status = 404, body = V2ErrorBody), (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn delete_authorization(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<StatusCode, V2Error> {
    let id = v2_id(&id)?;
    state
        .authorizations
        .delete(&caller.holder, &caller.origin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The resource types permissions may name (InfluxDB OSS 2.x's list; `influx auth create
/// --operator` reads it).
#[utoipa::path(
    get, path = "/api/v2/resources", tag = "v2",
    responses(
        (status = 200, body = [String]), (status = 401, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn list_resources(_caller: V2Caller) -> Json<&'static [&'static str]> {
    Json(&crate::token::permission::RESOURCE_TYPES)
}
