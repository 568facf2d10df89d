//! `/api/v2/users` and `/api/v2/me`: the v2 users that own authorizations.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::V2Caller;
use super::authorizations::SelfLink;
use super::error::V2ErrorBody;
use super::extract::{V2Json, V2Path, V2Query, optional_id, status, v2_id};
use super::{V2Error, limit};
use crate::state::AppState;
use crate::tenant::V2User;
use crate::token::Status;

/// A v2 user (named apart from `/api/v0/users`' view, which the document also holds).
#[derive(Serialize, ToSchema)]
#[schema(as = V2User)]
pub struct UserView {
    pub links: SelfLink,
    pub id: String,
    pub name: String,
    #[schema(example = "active")]
    pub status: &'static str,
}

impl From<&V2User> for UserView {
    fn from(user: &V2User) -> Self {
        UserView {
            links: SelfLink {
                this: format!("/api/v2/users/{}", user.id),
            },
            id: user.id.to_string(),
            name: user.name.clone(),
            status: user.status.as_str(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UsersView {
    pub links: SelfLink,
    pub users: Vec<UserView>,
}

/// Unknown keys (`id`, `links`, …) are ignored.
#[derive(Deserialize, ToSchema)]
pub struct UserBody {
    pub name: Option<String>,
    #[schema(example = "active")]
    pub status: Option<String>,
}

/// A user's empty `status` counts as absent.
fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.filter(|s| !s.is_empty())
}

/// Create a v2 user (needs `write:users`).
#[utoipa::path(
    post, path = "/api/v2/users", tag = "v2", request_body = UserBody,
    responses(
        (status = 201, body = UserView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody),
        (status = 422, description = "The name is taken", body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn create_user(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Json(body): V2Json<UserBody>,
) -> Result<(StatusCode, Json<UserView>), V2Error> {
    let status = status(non_empty(body.status.as_deref()))?.unwrap_or(Status::Active);
    let user = state
        .tenants
        .create_user(
            &caller.holder,
            &caller.origin,
            body.name.as_deref().unwrap_or_default(),
            status,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// One user by name; an unknown name is 404.
    pub name: Option<String>,
    /// One user by id; an unknown id is 404.
    pub id: Option<String>,
    pub offset: Option<u32>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Users whose id sorts after this one.
    pub after: Option<String>,
}

/// List v2 users the caller may read.
#[utoipa::path(
    get, path = "/api/v2/users", tag = "v2", params(UsersParams),
    responses(
        (status = 200, body = UsersView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody),
        (status = 404, description = "`name` or `id` names no user", body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Query(params): V2Query<UsersParams>,
) -> Result<Json<UsersView>, V2Error> {
    let users = if let Some(id) = optional_id(params.id.as_deref())? {
        match state.tenants.user(&caller.holder, &id).await {
            Ok(user) => vec![user],
            Err(crate::error::Error::Unauthorized(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        }
    } else if let Some(name) = params.name.as_deref().filter(|n| !n.is_empty()) {
        state.tenants.user_by_name(&caller.holder, name).await?
    } else {
        let after = optional_id(params.after.as_deref())?;
        state
            .tenants
            .users(
                &caller.holder,
                after.as_ref(),
                params.offset.unwrap_or(0),
                limit(params.limit)?,
            )
            .await?
    };
    Ok(Json(UsersView {
        links: SelfLink {
            this: "/api/v2/users".into(),
        },
        users: users.iter().map(UserView::from).collect(),
    }))
}

/// Get one v2 user.
#[utoipa::path(
    get, path = "/api/v2/users/{userID}", tag = "v2",
    params(("userID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 200, body = UserView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<Json<UserView>, V2Error> {
    let id = v2_id(&id)?;
    let user = state.tenants.user(&caller.holder, &id).await?;
    Ok(Json(UserView::from(&user)))
}

/// Rename a v2 user or change its status; an inactive user's authorizations stop working.
#[utoipa::path(
    patch, path = "/api/v2/users/{userID}", tag = "v2",
    params(("userID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    request_body = UserBody,
    responses(
        (status = 200, body = UserView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 422, body = V2ErrorBody), (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn update_user(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
    V2Json(body): V2Json<UserBody>,
) -> Result<Json<UserView>, V2Error> {
    let id = v2_id(&id)?;
    let status = status(non_empty(body.status.as_deref()))?;
    let user = state
        .tenants
        .update_user(
            &caller.holder,
            &caller.origin,
            &id,
            body.name.as_deref(),
            status,
        )
        .await?;
    Ok(Json(UserView::from(&user)))
}

/// Delete a v2 user: every authorization it owns stops working at once.
#[utoipa::path(
    delete, path = "/api/v2/users/{userID}", tag = "v2",
    params(("userID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 204, description = "Deleted"), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<StatusCode, V2Error> {
    let id = v2_id(&id)?;
    state
        .tenants
        .delete_user(&caller.holder, &caller.origin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user that owns the calling token.
#[utoipa::path(
    get, path = "/api/v2/me", tag = "v2",
    responses(
        (status = 200, body = UserView), (status = 401, body = V2ErrorBody),
        (status = 404, description = "A management token has no v2 user", body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn me(
    State(state): State<AppState>,
    caller: V2Caller,
) -> Result<Json<UserView>, V2Error> {
    let user = state.tenants.me(&caller.holder).await?;
    Ok(Json(UserView::from(&user)))
}
