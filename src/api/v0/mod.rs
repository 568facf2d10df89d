//! The Clustered-shaped management API under `/api/v0`: its router, handlers, extractors and
//! `{"code": <status>, …}` errors. Uses `api`'s shared helpers and the services; never `v2`.

pub mod audit;
pub mod auth;
pub mod dedicated;
pub mod error;
pub mod extract;
pub mod management_tokens;
pub mod tokens;
pub mod users;

use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::panic::catch_panic;
use crate::state::AppState;
use crate::telemetry::Metrics;

pub use error::ApiError;

/// The management API's routes, registered with their OpenAPI descriptions.
pub fn router(metrics: &Metrics) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tokens::create_token, tokens::list_tokens))
        .routes(routes!(
            tokens::get_token,
            tokens::update_token,
            tokens::delete_token
        ))
        .routes(routes!(tokens::rotate_token))
        .routes(routes!(
            management_tokens::create_management_token,
            management_tokens::list_management_tokens
        ))
        .routes(routes!(
            management_tokens::get_management_token,
            management_tokens::delete_management_token
        ))
        .routes(routes!(dedicated::create_token, dedicated::list_tokens))
        .routes(routes!(
            dedicated::get_token,
            dedicated::update_token,
            dedicated::delete_token
        ))
        .routes(routes!(users::list_users))
        .routes(routes!(audit::list_audit))
        .layer(catch_panic(metrics, panic_answer))
}

/// What a panicking handler answers on this API (and on those that share its error body).
pub fn panic_answer() -> Response {
    ApiError::internal("handler panicked").into_response()
}
