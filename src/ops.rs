//! Operations endpoints: liveness, readiness, ping, and the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::v0::error::RETRY_AFTER_SECONDS;
use crate::app::AppState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// How long readiness waits for the store before calling it unreachable.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub name: &'static str,
    pub message: &'static str,
    pub status: &'static str,
    pub checks: Vec<String>,
    pub version: &'static str,
}

/// Liveness: the process answers. Never touches the store.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        name: "tollgate",
        message: "alive",
        status: "pass",
        checks: Vec::new(),
        version: VERSION,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// When this process started (RFC 3339).
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

/// Readiness: the store answers, identity provider keys have loaded (when OAuth is
/// configured), and the server is not draining.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Store unreachable or draining", body = Readiness),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let started = crate::api::v0::tokens::rfc3339(state.started_at);
    let problem = if state.is_draining() {
        Some("shutting down")
    } else if state.oauth.as_ref().is_some_and(|o| !o.keys_loaded()) {
        Some("identity provider keys not loaded yet")
    } else {
        match tokio::time::timeout(READY_PROBE_TIMEOUT, state.store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: store unreachable");
                Some("store unreachable")
            }
            Err(_) => Some("store did not answer in time"),
        }
    };
    match problem {
        None => Json(Readiness {
            status: "ready",
            started,
            message: None,
        })
        .into_response(),
        Some(message) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS))],
            Json(Readiness {
                status: "unavailable",
                started,
                message: Some(message),
            }),
        )
            .into_response(),
    }
}

/// InfluxDB's ping: 204 with the version headers, no body, no auth.
#[utoipa::path(method(get, head), path = "/ping", tag = "operations",
    responses((status = 204, description = "Alive; see X-Influxdb-Version and X-Influxdb-Build")))]
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Prometheus/OpenMetrics counters. Never a token or token id as a label.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
