//! `/api/v0/users`: the users allowed on this cluster, as configured in `[[users]]`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorBody;
use crate::identity::{Group, Right, User};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The identity provider's user id.
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub groups: Vec<Group>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            id: user.id,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            groups: user.groups,
        }
    }
}

/// List the users allowed on this cluster.
#[utoipa::path(
    get, path = "/api/v0/users", tag = "users",
    responses(
        (status = 200, body = [UserView]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("management_token" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(&state, Right::ReadUsers, None).await?;
    let users = state.directory.list().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}
