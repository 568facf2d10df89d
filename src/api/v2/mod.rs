//! The InfluxDB v2 API surface: setup, authorizations, users, orgs, me; its router,
//! extractors and errors with v2's string codes. Callers authenticate with `Token` or
//! `Bearer`. Uses `api`'s shared helpers and the services; never `v0`.

pub mod auth;
pub mod authorizations;
pub mod error;
pub mod extract;
pub mod orgs;
pub mod setup;
pub mod users;

use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::panic::catch_panic;
use crate::state::AppState;
use crate::telemetry::Metrics;

pub use error::{V2Code, V2Error};

/// Page sizes of the users and orgs lists, as InfluxDB bounds them.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// InfluxDB answers a `limit` outside 1..=100 with 400.
pub fn limit(requested: Option<u32>) -> Result<u32, V2Error> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(V2Error::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// The v2 API's routes, registered with their OpenAPI descriptions; refusals of verified
/// callers are audited.
pub fn router(metrics: &Metrics) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup::get_setup, setup::post_setup))
        .routes(routes!(
            authorizations::create_authorization,
            authorizations::list_authorizations
        ))
        .routes(routes!(
            authorizations::get_authorization,
            authorizations::update_authorization,
            authorizations::delete_authorization
        ))
        .routes(routes!(authorizations::list_resources))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(users::me))
        .routes(routes!(orgs::create_org, orgs::list_orgs))
        .routes(routes!(orgs::get_org, orgs::delete_org))
        .layer(axum::middleware::from_fn(auth::audit_refusals))
        .layer(catch_panic(metrics, panic_answer))
}

/// What a panicking handler answers on this API.
pub fn panic_answer() -> Response {
    V2Error::internal("handler panicked").into_response()
}
