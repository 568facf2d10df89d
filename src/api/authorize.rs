//! `POST /api/v0/authorize`, data-path decisions: "may this token do that on this
//! database?". Decodes, asks `auth::grant`, encodes. Uses `auth` and the management API's
//! error body and JSON extractor.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::Client;
use crate::api::panic::catch_panic;
use crate::api::v0::error::ErrorBody;
use crate::api::v0::extract::ApiJson;
use crate::api::v0::{self, ApiError};
use crate::auth::Reason;
use crate::auth::grant::{self, Decision, Requested};
use crate::state::AppState;
use crate::telemetry::Metrics;
use crate::token::Action;

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
    /// Why, in one word: `valid`, `malformed`, `not_found`, `wrong_secret`, `expired`,
    /// `revoked`, `inactive`, `user_inactive`, `forbidden` (a live token granting none of
    /// the requested permissions) or `rate_limited`.
    #[schema(example = "valid")]
    pub reason: &'static str,
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
        (status = 429, description = "Too many failed verifications from this client or for this token id; retry after Retry-After", body = ErrorBody),
        (status = 503, description = "Our own failure; retry after Retry-After", body = ErrorBody),
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(request): ApiJson<AuthorizeRequest>,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    let requested = request
        .permissions
        .into_iter()
        .map(|p| Requested {
            action: p.action,
            database: p.database,
            org: p.org,
        })
        .collect();
    let decision = grant::decide(
        &state.authenticator,
        &state.tenants,
        &request.token,
        requested,
        client,
    )
    .await?;
    let reason = decision.reason();
    state.metrics.decision("authorize", reason);
    Ok(Json(match decision {
        Decision::Refused(failure) => {
            if let Some(outage) = failure.outage() {
                return Err(ApiError::unavailable(&outage.to_string()));
            }
            if let Reason::RateLimited(wait) = failure.reason {
                return Err(ApiError::too_many_requests(wait));
            }
            AuthorizeResponse {
                valid: false,
                reason,
                subject: None,
                permissions: Vec::new(),
            }
        }
        Decision::Valid { token_id, granted } => AuthorizeResponse {
            valid: true,
            reason,
            subject: Some(Subject {
                id: token_id.to_string(),
            }),
            permissions: granted
                .into_iter()
                .map(|p| RequestedPermission {
                    action: p.action,
                    database: p.database,
                    org: p.org,
                })
                .collect(),
        },
    }))
}

/// The decision endpoint's route; it answers in the management API's error body.
pub fn router(metrics: &Metrics) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .layer(catch_panic(metrics, v0::panic_answer))
}
