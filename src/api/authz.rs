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
    /// The original request as the proxy reports it: `X-Original-URI` (nginx),
    /// `X-Original-URL` (ingress-nginx), `X-Forwarded-Uri` (Traefik), or the path after
    /// `/authz` (Envoy, Gateway API); the method from `X-Original-Method`,
    /// `X-Forwarded-Method`, else this request's own (Envoy keeps it; Traefik sends GET).
    ///
    /// Proxies pass on headers their client sent, so a client could add a header the proxy
    /// does not set: every source present must name the same request, or nothing is
    /// decided. A header that is present but unreadable refuses too, never falls through.
    /// `X-Forwarded-Prefix` is ignored: a client could send one and have a different path
    /// decided (order Traefik's `stripPrefix` before `forwardAuth` instead).
    fn from_parts(parts: &Parts) -> Result<Original, String> {
        let headers = &parts.headers;
        let text = |name: &'static str| -> Result<Option<&str>, String> {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (None, _) => Ok(None),
                (Some(value), None) => value
                    .to_str()
                    .map(|v| Some(v.trim()).filter(|v| !v.is_empty()))
                    .map_err(|_| format!("{name} holds bytes that are not visible ASCII; forward auth refuses what it cannot read")),
                (Some(_), Some(_)) => Err(format!("{name} is sent more than once")),
            }
        };
        let mut methods = Vec::new();
        for name in ["x-original-method", "x-forwarded-method"] {
            methods.extend(text(name)?.map(|m| (name, m.to_ascii_uppercase())));
        }
        let mut targets = Vec::new();
        if let Some(uri) = text("x-original-uri")? {
            targets.push(("x-original-uri", uri.to_owned()));
        }
        if let Some(url) = text("x-original-url")? {
            targets.push(("x-original-url", strip_origin(url).to_owned()));
        }
        if let Some(uri) = text("x-forwarded-uri")? {
            targets.push(("x-forwarded-uri", uri.to_owned()));
        }
        let own = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
        let suffix = own.strip_prefix("/authz").unwrap_or(own);
        if suffix.starts_with('/') && suffix.len() > 1 {
            targets.push(("the path after /authz", suffix.to_owned()));
        }
        let target = agreed(&targets, "request")?.unwrap_or_else(|| suffix.to_owned());
        let method =
            agreed(&methods, "method")?.unwrap_or_else(|| parts.method.as_str().to_owned());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let path = if path.is_empty() { "/" } else { path };
        Ok(Original {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
        })
    }
}

/// The one value every source gives, or which sources disagree.
fn agreed(sources: &[(&str, String)], what: &str) -> Result<Option<String>, String> {
    let Some((first_name, first)) = sources.first() else {
        return Ok(None);
    };
    match sources.iter().find(|(_, value)| value != first) {
        None => Ok(Some(first.clone())),
        Some((other, _)) => Err(format!(
            "{first_name} and {other} name different original {what}s; forward auth decides only when they agree"
        )),
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
    let decided = match Original::from_parts(&parts) {
        Ok(original) => {
            let family = Family::of(&original.path);
            decide(&state, client, &parts.headers, &original, family).await
        }
        // No readable original request: no family to speak for, so InfluxDB 3's shape.
        Err(message) => Err(Denial::new(
            Family::V3,
            StatusCode::FORBIDDEN,
            "forbidden",
            message,
        )),
    };
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
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let credential = credential::from_request(authorization, query, accepted)
        .map_err(|e| Denial::no_credential(family, &e))?;
    // InfluxDB 3 reads `p=` (its key decoded) before the header, tollgate the header before
    // `p=`: when both name a token they must be the same one, or the decision could be
    // about another token. A `p=` that cannot be read beside a header refuses too.
    if authorization.is_some()
        && let Some(query) = query
    {
        let other = credential::from_query(query).map_err(|e| Denial::no_credential(family, &e))?;
        if let Some(other) = other
            && !bool::from(subtle::ConstantTimeEq::ct_eq(
                other.secret.as_bytes(),
                credential.secret.as_bytes(),
            ))
        {
            return Err(Denial::new(
                family,
                StatusCode::FORBIDDEN,
                "malformed",
                "the Authorization header and ?p= name different tokens; send one",
            ));
        }
    }
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

    fn original(method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<Original, String> {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        Original::from_parts(&parts)
    }

    fn want(method: &str, path: &str, query: &str) -> Result<Original, String> {
        Ok(Original {
            method: method.into(),
            path: path.into(),
            query: query.into(),
        })
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
            // ingress-nginx, with auth-method also X-Original-URI: they agree.
            (
                original(
                    "GET",
                    "/authz",
                    &[
                        (
                            "x-original-url",
                            "https://influx.example.com/api/v2/write?bucket=b",
                        ),
                        ("x-original-uri", "/api/v2/write?bucket=b"),
                        ("x-original-method", "POST"),
                    ],
                ),
                want("POST", "/api/v2/write", "bucket=b"),
            ),
            // Traefik: the prefix header is never applied.
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
    fn a_header_a_client_added_beside_the_proxys_own_refuses_the_decision() {
        let refusals = [
            // Traefik sets X-Forwarded-Uri; the client added X-Original-URI.
            original(
                "GET",
                "/authz",
                &[
                    ("x-forwarded-uri", "/write?db=db2"),
                    ("x-forwarded-method", "POST"),
                    ("x-original-uri", "/write?db=db1"),
                ],
            ),
            // ingress-nginx sets X-Original-URL; the client added X-Forwarded-Uri.
            original(
                "GET",
                "/authz",
                &[
                    ("x-original-url", "http://h/write?db=db2"),
                    ("x-forwarded-uri", "/write?db=db1"),
                ],
            ),
            // Envoy keeps the path; a client header reaching it must agree.
            original(
                "POST",
                "/authz/write?db=db2",
                &[("x-original-uri", "/write?db=db1")],
            ),
            original(
                "GET",
                "/authz",
                &[
                    ("x-original-uri", "/write?db=d"),
                    ("x-original-method", "POST"),
                    ("x-forwarded-method", "GET"),
                ],
            ),
        ];
        for refused in refusals {
            let message = refused.unwrap_err();
            assert!(message.contains("different original"), "{message}");
        }
        let mut request = Request::builder().method("GET").uri("/authz");
        request = request.header(
            "x-original-uri",
            axum::http::HeaderValue::from_bytes(b"/write?db=d&x=\xc3\xa9").unwrap(),
        );
        request = request.header("x-forwarded-uri", "/write?db=db1");
        let (parts, ()) = request.body(()).unwrap().into_parts();
        let message = Original::from_parts(&parts).unwrap_err();
        assert!(message.contains("not visible ASCII"), "{message}");
        let twice = original(
            "GET",
            "/authz",
            &[
                ("x-original-uri", "/write?db=a"),
                ("x-original-uri", "/write?db=b"),
            ],
        );
        assert!(twice.unwrap_err().contains("more than once"));
    }

    #[test]
    fn a_url_loses_its_scheme_and_host() {
        assert_eq!(strip_origin("http://h:8086/query?db=x"), "/query?db=x");
        assert_eq!(strip_origin("http://h"), "/");
        assert_eq!(strip_origin("/write"), "/write");
    }
}
