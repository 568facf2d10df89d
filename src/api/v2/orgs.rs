//! `/api/v2/orgs`: the organizations authorizations belong to.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::V2Caller;
use super::authorizations::SelfLink;
use super::error::V2ErrorBody;
use super::extract::{V2Json, V2Path, V2Query, v2_id};
use super::{V2Error, limit};
use crate::api::time_format::rfc3339_nano;
use crate::state::AppState;
use crate::tenant::Org;
use crate::token::OrgId;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    /// InfluxDB's links, keys sorted as Go writes a map.
    pub links: BTreeMap<&'static str, String>,
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Org> for OrgView {
    fn from(org: &Org) -> Self {
        let (id, name) = (&org.id, &org.name);
        let links = BTreeMap::from([
            ("buckets", format!("/api/v2/buckets?org={name}")),
            ("dashboards", format!("/api/v2/dashboards?org={name}")),
            ("labels", format!("/api/v2/orgs/{id}/labels")),
            ("logs", format!("/api/v2/orgs/{id}/logs")),
            ("members", format!("/api/v2/orgs/{id}/members")),
            ("owners", format!("/api/v2/orgs/{id}/owners")),
            ("secrets", format!("/api/v2/orgs/{id}/secrets")),
            ("self", format!("/api/v2/orgs/{id}")),
            ("tasks", format!("/api/v2/tasks?org={name}")),
        ]);
        OrgView {
            links,
            id: id.to_string(),
            name: name.clone(),
            description: org.description.clone(),
            created_at: rfc3339_nano(org.created_at),
            updated_at: rfc3339_nano(org.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrgsView {
    pub links: SelfLink,
    pub orgs: Vec<OrgView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgsParams {
    /// One org by name; an unknown name is 404.
    pub org: Option<String>,
    /// One org by id; an unknown id is 404 (a malformed one is ignored, as InfluxDB does).
    #[serde(rename = "orgID")]
    #[param(rename = "orgID")]
    pub org_id: Option<String>,
    pub offset: Option<u32>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub descending: Option<bool>,
}

/// List the orgs the caller may read.
#[utoipa::path(
    get, path = "/api/v2/orgs", tag = "v2", params(OrgsParams),
    responses(
        (status = 200, body = OrgsView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Query(params): V2Query<OrgsParams>,
) -> Result<Json<OrgsView>, V2Error> {
    let holder = &caller.holder;
    let org_id = params
        .org_id
        .as_deref()
        .and_then(|id| OrgId::parse_v2(id).ok());
    let orgs = if let Some(id) = org_id {
        vec![state.tenants.org(holder, &id).await?]
    } else if let Some(name) = params.org.as_deref().filter(|n| !n.is_empty()) {
        vec![state.tenants.org_by_name(holder, name).await?]
    } else {
        state
            .tenants
            .orgs(
                holder,
                params.offset.unwrap_or(0),
                limit(params.limit)?,
                params.descending.unwrap_or(false),
            )
            .await?
    };
    Ok(Json(OrgsView {
        links: SelfLink {
            this: "/api/v2/orgs".into(),
        },
        orgs: orgs.iter().map(OrgView::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct OrgBody {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Create an org (needs `write:orgs`).
#[utoipa::path(
    post, path = "/api/v2/orgs", tag = "v2", request_body = OrgBody,
    responses(
        (status = 201, body = OrgView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody),
        (status = 422, description = "The name is taken", body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn create_org(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Json(body): V2Json<OrgBody>,
) -> Result<(StatusCode, Json<OrgView>), V2Error> {
    let org = state
        .tenants
        .create_org(
            &caller.holder,
            &caller.origin,
            body.name.as_deref().unwrap_or_default(),
            body.description.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(OrgView::from(&org))))
}

/// Get one org.
#[utoipa::path(
    get, path = "/api/v2/orgs/{orgID}", tag = "v2",
    params(("orgID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 200, body = OrgView), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn get_org(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<Json<OrgView>, V2Error> {
    let id = v2_id(&id)?;
    Ok(Json(OrgView::from(
        &state.tenants.org(&caller.holder, &id).await?,
    )))
}

/// Delete an org: every authorization in it stops working at once.
#[utoipa::path(
    delete, path = "/api/v2/orgs/{orgID}", tag = "v2",
    params(("orgID" = String, Path, description = "16 hex characters", pattern = "^[0-9a-fA-F]{16}$")),
    responses(
        (status = 204, description = "Deleted"), (status = 400, body = V2ErrorBody),
        (status = 401, body = V2ErrorBody), (status = 404, body = V2ErrorBody),
        (status = 503, body = V2ErrorBody),
    ),
    security(("v2_token" = []))
)]
pub async fn delete_org(
    State(state): State<AppState>,
    caller: V2Caller,
    V2Path(id): V2Path<String>,
) -> Result<StatusCode, V2Error> {
    let id = v2_id(&id)?;
    state
        .tenants
        .delete_org(&caller.holder, &caller.origin, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
