//! `/api/v2/setup`: the one-time onboarding that creates the first user, its org and an
//! operator authorization. Without credentials only on a pristine store; a management
//! credential may run it once on a store already in use.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::V2Error;
use super::auth::V2Caller;
use super::authorizations::{AuthorizationView, view};
use super::error::V2ErrorBody;
use super::extract::V2Json;
use super::orgs::OrgView;
use super::users::UserView;
use crate::audit::Origin;
use crate::state::AppState;
use crate::tenant::Holder;
use crate::tenant::service::SetupRequest;

#[derive(Serialize, ToSchema)]
pub struct SetupAllowed {
    pub allowed: bool,
}

/// Whether setup may run without credentials: nothing but the operator token exists yet.
#[utoipa::path(
    get, path = "/api/v2/setup", tag = "v2",
    responses((status = 200, body = SetupAllowed), (status = 503, body = V2ErrorBody))
)]
pub async fn get_setup(State(state): State<AppState>) -> Result<Json<SetupAllowed>, V2Error> {
    Ok(Json(SetupAllowed {
        allowed: state.tenants.setup_allowed().await?,
    }))
}

/// Unknown keys are ignored. `password` and `retentionPeriodSeconds` are accepted and not
/// kept: tollgate has no password sign-in and does not hold buckets.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupBody {
    pub username: Option<String>,
    pub org: Option<String>,
    /// A database name; validated, not stored (databases live in the database).
    pub bucket: Option<String>,
    pub password: Option<String>,
    pub retention_period_seconds: Option<i64>,
    /// Refused when set: tollgate mints every token itself.
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SetupResult {
    pub user: UserView,
    pub org: OrgView,
    /// Always null: tollgate does not create buckets.
    #[schema(value_type = Option<Object>)]
    pub bucket: Option<()>,
    /// The operator authorization; its `token` is shown only here.
    pub auth: AuthorizationView,
}

/// Create the first user, org and operator authorization; 422 once done.
#[utoipa::path(
    post, path = "/api/v2/setup", tag = "v2", request_body = SetupBody,
    responses(
        (status = 201, body = SetupResult), (status = 400, body = V2ErrorBody),
        (status = 401, description = "A credential was sent and is not valid", body = V2ErrorBody),
        (status = 422, description = "Already done, or a required field is missing", body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    )
)]
pub async fn post_setup(
    State(state): State<AppState>,
    origin: Origin,
    caller: Option<V2Caller>,
    V2Json(body): V2Json<SetupBody>,
) -> Result<(StatusCode, Json<SetupResult>), V2Error> {
    // Only a management credential may set up a store already in use; a v2 token may not.
    let manager = match caller.map(|c| c.holder) {
        Some(Holder::Management(principal)) => Some(principal),
        _ => None,
    };
    let request = SetupRequest {
        username: body.username,
        org: body.org,
        bucket: body.bucket,
        token: body.token,
    };
    let onboarded = state
        .tenants
        .setup(manager.as_ref(), &origin, request)
        .await?;
    let mut names = state.tenants.names();
    let mut auth = view(&onboarded.token, &mut names)
        .await?
        .ok_or_else(|| V2Error::internal("setup token has no owner"))?;
    auth.token = onboarded.minted.plain;
    Ok((
        StatusCode::CREATED,
        Json(SetupResult {
            user: UserView::from(&onboarded.user),
            org: OrgView::from(&onboarded.org),
            bucket: None,
            auth,
        }),
    ))
}
