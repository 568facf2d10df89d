//! `/authz` (any method): forward auth for proxies in front of InfluxDB (nginx
//! `auth_request`, ingress-nginx `auth-url`, Traefik `forwardAuth`, Envoy `ext_authz` in HTTP
//! mode, Gateway API `ExternalAuth`). Reads the original request from the proxy's headers
//! or from the path after `/authz`, decides with `auth`, and answers 204 or a refusal in
//! the body the original path's family expects. Uses `auth` and `api` plumbing.

use axum::Router;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::api::extract::Client;
use crate::api::panic::catch_panic;
use crate::api::retry::{RETRY_AFTER_SECONDS, rate_limited_message, retry_seconds};
use crate::api::v0;
use crate::auth::credential::{self, CredentialError, Scheme};
use crate::auth::data_path::{self, Family};
use crate::auth::{AuthFailure, Reason};
use crate::state::AppState;
use crate::telemetry::Metrics;
use crate::token::Action;

/// The answer header naming the token that was allowed (its id, never the token).
pub static SUBJECT: HeaderName = HeaderName::from_static("x-tollgate-subject");

/// What v1 paths accept: InfluxDB 1.x clients also send `?u=&p=`.
const V1_SCHEMES: &[Scheme] = &[Scheme::Token, Scheme::Bearer, Scheme::Basic, Scheme::Query];
const SCHEMES: &[Scheme] = &[Scheme::Token, Scheme::Bearer, Scheme::Basic];

/// The forward-auth routes: `/authz` and `/authz/<original path>` (Envoy's `path_prefix`).
pub fn router(metrics: &Metrics) -> Router<AppState> {
    Router::new()
        .route("/authz", any(authz))
        .route("/authz/{*original}", any(authz))
        .layer(catch_panic(metrics, v0::panic_answer))
}

/// The request the proxy is asking about.
#[derive(Debug, PartialEq, Eq)]
struct Original {
    method: String,
    path: String,
    query: String,
}

impl Original {
    /// The first of: `X-Original-URI` (nginx), `X-Original-URL` (ingress-nginx),
    /// `X-Forwarded-Uri` less `X-Forwarded-Prefix` (Traefik), the path after `/authz`
    /// (Envoy, Gateway API). The method: `X-Original-Method`, `X-Forwarded-Method`, else
    /// this request's own (Envoy keeps it; Traefik sends GET unless told otherwise).
    fn from_parts(parts: &Parts) -> Original {
        let headers = &parts.headers;
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let method = text("x-original-method")
            .or_else(|| text("x-forwarded-method"))
            .unwrap_or(parts.method.as_str())
            .to_ascii_uppercase();
        let target = if let Some(uri) = text("x-original-uri") {
            uri.to_owned()
        } else if let Some(url) = text("x-original-url") {
            strip_origin(url).to_owned()
        } else if let Some(uri) = text("x-forwarded-uri") {
            match text("x-forwarded-prefix") {
                Some(prefix) if prefix != "/" => uri
                    .strip_prefix(prefix.trim_end_matches('/'))
                    .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
                    .unwrap_or(uri)
                    .to_owned(),
                _ => uri.to_owned(),
            }
        } else {
            let own = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
            own.strip_prefix("/authz").unwrap_or(own).to_owned()
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let path = if path.is_empty() { "/" } else { path };
        Original {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
        }
    }
}

/// `scheme://host/path?query` → `/path?query`.
fn strip_origin(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find(['/', '?']).map_or("/", |at| &rest[at..]),
        None => url,
    }
}

async fn authz(State(state): State<AppState>, Client(client): Client, parts: Parts) -> Response {
    let original = Original::from_parts(&parts);
    let family = Family::of(&original.path);
    let decided = decide(&state, client, &parts.headers, &original, family).await;
    let reason = match &decided {
        Ok(_) => "valid",
        Err(denial) => denial.reason,
    };
    state.metrics.decision("authz", reason);
    match decided {
        Ok(subject) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().insert(SUBJECT.clone(), subject);
            response
        }
        Err(denial) => denial.into_response(),
    }
}

async fn decide(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    original: &Original,
    family: Family,
) -> Result<HeaderValue, Denial> {
    let (accepted, query) = match family {
        Family::V1 => (V1_SCHEMES, Some(original.query.as_str())),
        Family::V2 | Family::V3 => (SCHEMES, None),
    };
    let credential = credential::from_request(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
        query,
        accepted,
    )
    .map_err(|e| Denial::no_credential(family, &e))?;
    let operation = data_path::operation(&original.method, &original.path, &original.query)
        .map_err(|message| Denial::new(family, StatusCode::FORBIDDEN, "forbidden", message))?;
    let token = state
        .authenticator
        .database_token(&credential.secret, client)
        .await
        .map_err(|failure| Denial::refused(family, &failure))?;
    let granted = token
        .permissions
        .iter()
        .any(|p| p.grants_in_any_org(operation.action, &operation.database));
    if !granted {
        let action = match operation.action {
            Action::Read => "read",
            Action::Write => "write",
        };
        return Err(Denial::new(
            family,
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this token may not {action} database {:?}",
                operation.database
            ),
        ));
    }
    // Token ids are 16 hex characters: always a valid header value.
    HeaderValue::from_str(token.id.as_str())
        .map_err(|_| Denial::unavailable(family, "token id is not a header value"))
}

/// A refusal, worded for the original path's family.
struct Denial {
    family: Family,
    status: StatusCode,
    reason: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl Denial {
    fn new(
        family: Family,
        status: StatusCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Denial {
            family,
            status,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    fn no_credential(family: Family, error: &CredentialError) -> Self {
        let message = match error {
            CredentialError::Missing => match family {
                Family::V1 => "missing token: send `Authorization: Token <database token>` or ?p=<database token>".to_owned(),
                _ => "missing token: send `Authorization: Token <database token>`".to_owned(),
            },
            other => other.to_string(),
        };
        Denial::new(family, StatusCode::UNAUTHORIZED, "malformed", message)
    }

    fn refused(family: Family, failure: &AuthFailure) -> Self {
        let reason = failure.reason.decision();
        let forbidden = |message: &str| Denial::new(family, StatusCode::FORBIDDEN, reason, message);
        match &failure.reason {
            Reason::RateLimited(wait) => {
                let seconds = retry_seconds(*wait);
                Denial {
                    retry_after: Some(seconds),
                    ..Denial::new(
                        family,
                        StatusCode::TOO_MANY_REQUESTS,
                        reason,
                        rate_limited_message(seconds),
                    )
                }
            }
            Reason::Unavailable(outage) => Denial::unavailable(family, &outage.to_string()),
            Reason::Revoked => forbidden("database token has been revoked"),
            Reason::Expired => forbidden("database token has expired"),
            Reason::Inactive => forbidden("database token is inactive"),
            Reason::OwnerInactive => forbidden("the user of this database token is inactive"),
            // Malformed, unknown and wrong secrets read the same: nothing is told about ids.
            _ => forbidden("invalid database token"),
        }
    }

    /// Our own failure: the detail goes to the log, the client gets 503 + Retry-After.
    fn unavailable(family: Family, detail: &str) -> Self {
        crate::telemetry::unavailable(detail);
        Denial {
            retry_after: Some(RETRY_AFTER_SECONDS),
            ..Denial::new(
                family,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "service temporarily unavailable; retry later",
            )
        }
    }
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let body = match self.family {
            Family::V1 => serde_json::json!({ "error": self.message }),
            Family::V2 | Family::V3 => {
                serde_json::json!({ "code": v2_code(self.status), "message": self.message })
            }
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.family == Family::V2 {
            headers.insert(
                HeaderName::from_static("x-platform-error-code"),
                HeaderValue::from_static(v2_code(self.status)),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// InfluxDB's code for each status a denial can have.
fn v2_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::TOO_MANY_REQUESTS => "too many requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "forbidden",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn original(method: &str, uri: &str, headers: &[(&str, &str)]) -> Original {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        Original::from_parts(&parts)
    }

    fn want(method: &str, path: &str, query: &str) -> Original {
        Original {
            method: method.into(),
            path: path.into(),
            query: query.into(),
        }
    }

    #[test]
    fn each_proxy_style_names_the_original_request() {
        let cases = [
            // nginx auth_request
            (
                original(
                    "GET",
                    "/authz",
                    &[
                        ("x-original-uri", "/write?db=d&p=secret"),
                        ("x-original-method", "POST"),
                    ],
                ),
                want("POST", "/write", "db=d&p=secret"),
            ),
            // ingress-nginx
            (
                original(
                    "GET",
                    "/authz",
                    &[
                        (
                            "x-original-url",
                            "https://influx.example.com/api/v2/write?bucket=b",
                        ),
                        ("x-original-method", "POST"),
                    ],
                ),
                want("POST", "/api/v2/write", "bucket=b"),
            ),
            // Traefik, with a stripped prefix
            (
                original(
                    "GET",
                    "/authz",
                    &[
                        ("x-forwarded-uri", "/influx/api/v3/write_lp?db=d"),
                        ("x-forwarded-prefix", "/influx"),
                        ("x-forwarded-method", "POST"),
                    ],
                ),
                want("POST", "/api/v3/write_lp", "db=d"),
            ),
            // Traefik, prefix already stripped
            (
                original(
                    "GET",
                    "/authz",
                    &[
                        ("x-forwarded-uri", "/api/v3/write_lp?db=d"),
                        ("x-forwarded-prefix", "/influx"),
                        ("x-forwarded-method", "POST"),
                    ],
                ),
                want("POST", "/api/v3/write_lp", "db=d"),
            ),
            // Envoy and Gateway API: the original path after the prefix, the method kept.
            (
                original("POST", "/authz/api/v2/write?org=o&bucket=b", &[]),
                want("POST", "/api/v2/write", "org=o&bucket=b"),
            ),
            (original("GET", "/authz", &[]), want("GET", "/", "")),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_url_loses_its_scheme_and_host() {
        assert_eq!(strip_origin("http://h:8086/query?db=x"), "/query?db=x");
        assert_eq!(strip_origin("http://h"), "/");
        assert_eq!(strip_origin("/write"), "/write");
    }
}
