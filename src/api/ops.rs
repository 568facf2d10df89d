//! Operations endpoints: liveness, readiness, ping, metrics. Uses the application state;
//! errors (a panic) in the management API's body.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::panic::catch_panic;
use crate::api::retry::RETRY_AFTER_SECONDS;
use crate::api::time_format::rfc3339;
use crate::api::v0;
use crate::api::v0::auth::Caller;
use crate::state::AppState;
use crate::telemetry::Metrics;

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
    /// With `?verbose`: each check's name and status; with a management credential also
    /// each check's message and the identity providers' issuers. Identity providers never
    /// make the server unready: the data path does not depend on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<Check>>,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    /// `store`, `migrations`, `draining` or `identity provider <issuer>`.
    pub name: String,
    /// `pass`, `fail`, or `warn` (reported, does not affect readiness).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: &'static str, message: Option<String>) -> Self {
        Check {
            name: name.into(),
            status,
            message,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadyParams {
    /// Present (any value): list each check.
    pub verbose: Option<String>,
}

/// Readiness, meaning "send me data-path traffic": the store answers, its migrations are
/// applied (the server does not start otherwise), and the server is not draining. Identity
/// providers are reported with `?verbose` but never make the server unready.
#[utoipa::path(get, path = "/ready", tag = "operations", params(ReadyParams),
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 401, description = "A credential was sent and is not a valid management credential"),
        (status = 503, description = "Store unreachable or draining", body = Readiness),
    ))]
pub async fn ready(State(state): State<AppState>, mut parts: Parts) -> Response {
    let Ok(Query(params)) = Query::<ReadyParams>::try_from_uri(&parts.uri) else {
        return v0::ApiError::bad_request("malformed query string").into_response();
    };
    // Probes send no credential and get pass/fail; the causes (store errors, identity
    // providers and their fetch errors) are for an administrator.
    let detailed = if parts.headers.contains_key(header::AUTHORIZATION) {
        match Caller::from_request_parts(&mut parts, &state).await {
            Ok(_) => true,
            Err(refused) => return refused.into_response(),
        }
    } else {
        false
    };
    let started = rfc3339(state.started_at);
    let draining = state.is_draining();
    let store = match tokio::time::timeout(READY_PROBE_TIMEOUT, state.store_answers()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            Err("store unreachable")
        }
        Err(_) => Err("store did not answer in time"),
    };
    let problem = if draining {
        Some("shutting down")
    } else {
        store.err()
    };
    let checks = params.verbose.is_some().then(|| {
        let mut checks = vec![
            match store {
                Ok(()) => Check::new("store", "pass", None),
                Err(why) => Check::new("store", "fail", Some(why.to_owned())),
            },
            Check::new("migrations", "pass", Some("applied at start".to_owned())),
            if draining {
                Check::new("draining", "fail", Some("shutting down".to_owned()))
            } else {
                Check::new("draining", "pass", None)
            },
        ];
        let providers = state.oauth.iter().flat_map(|o| o.providers());
        for (n, provider) in providers.enumerate() {
            if !detailed {
                let status = if provider.loaded { "pass" } else { "warn" };
                checks.push(Check::new(
                    format!("identity provider {}", n + 1),
                    status,
                    None,
                ));
                continue;
            }
            let name = format!("identity provider {}", provider.issuer);
            checks.push(if provider.loaded {
                Check::new(name, "pass", Some("keys loaded".to_owned()))
            } else {
                let why = provider
                    .last_error
                    .unwrap_or_else(|| "not fetched yet".to_owned());
                Check::new(name, "warn", Some(format!("keys not loaded: {why}")))
            });
        }
        if !detailed {
            for check in &mut checks {
                check.message = None;
            }
        }
        checks
    });
    let body = Readiness {
        status: if problem.is_none() {
            "ready"
        } else {
            "unavailable"
        },
        started,
        message: problem,
        checks,
    };
    match problem {
        None => Json(body).into_response(),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS))],
            Json(body),
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
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "`metrics_token_file` is configured and the bearer token is missing or wrong"),
    ))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(required) = &state.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !presented.is_some_and(|token| required.matches(token)) {
            let mut refused = v0::ApiError::unauthorized(
                "/metrics needs `Authorization: Bearer <the token in metrics_token_file>`",
            )
            .into_response();
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
            return refused;
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The operations routes; a panic answers in the management API's error body.
pub fn router(counters: &Metrics) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(ping))
        .routes(routes!(metrics))
        .layer(catch_panic(counters, v0::panic_answer))
}
