//! The application: the surfaces' routers merged, and `launch`, which serves a bound listener
//! until a shutdown future resolves (tests start the real server through it).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rand::RngExt;
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::api::body::{BodyDeadline, MAX_BODY_BYTES};
use crate::api::request::REQUEST_ID_HEADER;
use crate::api::v0::ApiError;
use crate::api::v2::{V2Code, V2Error};
use crate::api::{authorize, ops, v0, v2};
use crate::audit::Origin;
use crate::bootstrap::{self, Bootstrap, BootstrapError};
use crate::config::Config;
use crate::connections::Slots;
use crate::oauth::OAuth;
use crate::state::{AppState, ClusterIds, MetricsToken, Services};
use crate::store::StoreError;
use crate::telemetry::{LimitedLog, Metrics};
use crate::token::hashing::{HashPool, PoolError};

/// How long shutdown waits for the store's connections to close.
const STORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Domain(#[from] crate::error::Error),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("hashing pool: {0}")]
    Pool(#[from] PoolError),
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
    #[error("cache key: {0}")]
    Randomness(#[from] crate::token::format::RandomnessError),
}

/// A prepared application: store open and migrated, operator token ensured.
pub struct App {
    state: AppState,
    pub bootstrap: Bootstrap,
    drain: Duration,
    grace: Duration,
    http: HttpLimits,
}

impl App {
    pub async fn prepare(config: &Config) -> Result<App, LaunchError> {
        let store = crate::store::open(config).await?;
        let (database, management) = config.hash_lanes();
        let pool = HashPool::new(
            database,
            management,
            config.argon2.database_tokens,
            config.argon2.management_tokens,
        )?;
        let oauth = OAuth::new(&config.oauth);
        if let Some(oauth) = &oauth {
            oauth.spawn_key_maintenance(Duration::from_secs(config.oauth.jwks_refresh_seconds));
        }
        let mut services = Services::new(store, pool, oauth, config)?;
        services.cluster = Arc::new(ClusterIds {
            account_id: config.account_id.clone(),
            cluster_id: config.cluster_id.clone(),
        });
        if let Some(path) = &config.metrics_token_file {
            services.metrics_token = Some(MetricsToken::new(&read_metrics_token(path)?)?);
        }
        let state = AppState::from(services);
        let users = config
            .users()
            .map_err(|e| LaunchError::Config(e.to_string()))?;
        let changes = state.directory.sync(&users, &Origin::default()).await?;
        for change in &changes {
            tracing::info!(
                action = %change.action,
                user = change.target.as_deref().unwrap_or_default(),
                "users synced from configuration"
            );
        }
        let bootstrap = bootstrap::ensure_operator_token(&state.tokens, &config.data_dir).await?;
        Ok(App {
            state,
            bootstrap,
            drain: Duration::from_secs(config.shutdown_drain_seconds),
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            http: HttpLimits {
                header_read_timeout: Duration::from_secs(config.http_header_read_timeout_seconds),
                first_byte_timeout: Duration::from_secs(
                    config
                        .http_first_byte_timeout_seconds
                        .min(config.http_header_read_timeout_seconds),
                ),
                body_deadline: BodyDeadline {
                    authenticated: Duration::from_secs(config.http_body_read_timeout_seconds),
                    unauthenticated: Duration::from_secs(
                        config.http_unauthenticated_body_read_timeout_seconds,
                    ),
                },
                max_connections: config.http_max_connections,
                max_connections_per_client: config.http_max_connections_per_client,
                max_head_bytes: config.http_max_head_bytes,
                trusted_proxies: Arc::new(config.verify.trusted_proxies.clone()),
            },
        })
    }

    /// Serves until `shutdown` resolves; then reports not ready while still serving for the
    /// drain period, stops accepting, finishes in-flight requests within the grace period,
    /// and closes the store.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LaunchError> {
        let state = self.state;
        let router = router(state.clone());
        let draining = state.drain_flag();
        tracing::info!(
            address = %listener.local_addr()?,
            engine = ?state.engine(),
            "listening"
        );
        let (drain, grace) = (self.drain, self.grace);
        // Before routing: InfluxDB treats `/api/v2/users/` as `/api/v2/users`, and scripts rely on it.
        let app = NormalizePathLayer::trim_trailing_slash().layer(router);
        let stop = async move {
            shutdown.await;
            // Readiness turns false first, so load balancers stop sending before we stop taking.
            draining.store(true, Ordering::Relaxed);
            tracing::info!(
                drain_seconds = drain.as_secs(),
                "draining: not ready, still serving"
            );
            tokio::time::sleep(drain).await;
            tracing::info!("shutting down: finishing in-flight requests");
        };
        let (stopping, connections) = tokio::sync::watch::channel(());
        accept(listener, app, &self.http, connections, stop).await;
        let _ = stopping.send(());
        // Every connection holds a receiver until it has closed.
        if tokio::time::timeout(grace, stopping.closed())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "grace period over; dropping remaining connections"
            );
        }
        if tokio::time::timeout(STORE_CLOSE_TIMEOUT, state.verifier.flush_last_used())
            .await
            .is_err()
        {
            tracing::warn!("last-use times not written: the store is not answering");
        }
        // Closing waits for checked-out connections; a request still hung after the grace
        // period must not hold the process past it.
        if tokio::time::timeout(STORE_CLOSE_TIMEOUT, state.close_store())
            .await
            .is_err()
        {
            tracing::warn!("store connections still busy; exiting without waiting for them");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The token in `metrics_token_file`, its surrounding whitespace (a trailing newline) ignored.
fn read_metrics_token(path: &std::path::Path) -> Result<String, LaunchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LaunchError::Config(format!("metrics_token_file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(LaunchError::Config(format!(
            "metrics_token_file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// How connections are served.
#[derive(Debug, Clone)]
struct HttpLimits {
    header_read_timeout: Duration,
    first_byte_timeout: Duration,
    body_deadline: BodyDeadline,
    max_connections: usize,
    max_connections_per_client: usize,
    max_head_bytes: usize,
    trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

/// Accepts connections until `stop` resolves: at most `max_connections` at once, at most
/// `max_connections_per_client` from one client (the rest answered 429). When all are taken,
/// the idlest keep-alive is closed to make room; if none is idle, new clients wait in the
/// listen backlog. Each connection ends when `stopping` changes, once between requests.
async fn accept<S>(
    listener: TcpListener,
    app: S,
    limits: &HttpLimits,
    stopping: tokio::sync::watch::Receiver<()>,
    stop: impl Future<Output = ()>,
) where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // HTTP/1.1 only: every client of these APIs speaks it, and an HTTP/2 connection could
    // sit idle past any header timeout.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper's default lets each connection buffer ~400 KiB of an unfinished head; the
        // header size is the exact limit (431), the buffer size what it may allocate for it.
        .max_header_size(limits.max_head_bytes)
        .max_buf_size(limits.max_head_bytes);
    let slots = Slots::new(
        limits.max_connections,
        limits.max_connections_per_client,
        limits.trusted_proxies.clone(),
    );
    let over_share_log = LimitedLog::every(Duration::from_secs(10));
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(share) = slots.share(peer.ip()) else {
            refuse_over_share(&stream);
            if let Some(suppressed) = over_share_log.may_log() {
                tracing::warn!(
                    client = %peer.ip(),
                    limit = limits.max_connections_per_client,
                    suppressed,
                    "a client address holds its whole share of connections; new ones get 429. \
                     If it is a proxy or a mesh sidecar, list it in [verify] trusted_proxies"
                );
            }
            continue;
        };
        let permit = match slots.try_slot() {
            Some(permit) => permit,
            None => {
                slots.shed_idlest();
                let slot = tokio::select! {
                    slot = slots.slot() => slot,
                    () = &mut stop => break,
                };
                let Some(slot) = slot else { break };
                slot
            }
        };
        let held = Arc::new(slots.hold(share, permit));
        let _ = stream.set_nodelay(true);
        let body_deadline = limits.body_deadline;
        let (starts, ends) = (held.clone(), held.clone());
        let service = tower::ServiceExt::map_response(
            tower::ServiceExt::map_request(app.clone(), move |mut request: Request<Incoming>| {
                starts.started();
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(body_deadline);
                request.map(axum::body::Body::new)
            }),
            move |response| {
                ends.answered();
                response
            },
        );
        let builder = builder.clone();
        let mut stopping = stopping.clone();
        let first_byte = limits.first_byte_timeout;
        let write_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            // A connection that says nothing holds a slot only briefly, and no buffer.
            let mut byte = [0u8; 1];
            tokio::select! {
                // Not `readable()`: it may report readiness without data.
                first = tokio::time::timeout(first_byte, stream.peek(&mut byte)) => {
                    if !matches!(first, Ok(Ok(1..))) {
                        return;
                    }
                }
                _ = stopping.changed() => return,
            }
            // A write that makes no progress for this long ends the connection (a client that
            // never reads its answer). Reads are bounded by the header timeout and the body
            // deadline instead: a read timeout would also cut a slow answer, during which hyper
            // keeps a read pending to notice the client leaving.
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(write_timeout));
            let connection = builder.serve_connection(
                TokioIo::new(Box::pin(stream)),
                TowerToHyperService::new(service),
            );
            tokio::pin!(connection);
            let mut closing = false;
            let result = loop {
                tokio::select! {
                    result = connection.as_mut() => break result,
                    // Closes at once when between requests, else after the current answer.
                    () = held.activity.shed.notified(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = stopping.changed(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(held);
        });
    }
}

/// The answer to a connection past its client's share: best effort, never waiting on the client.
fn refuse_over_share(stream: &tokio::net::TcpStream) {
    const BODY: &str = r#"{"code":429,"message":"too many connections from this client address"}"#;
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// How long to wait after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Prepares the application and serves `listener` until `shutdown` resolves.
pub async fn launch(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    App::prepare(config).await?.serve(listener, shutdown).await
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tollgate",
        description = "Token authority for InfluxDB-style clusters: database tokens, management tokens, data-path decisions, and the InfluxDB v2 authorizations API."
    ),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "management_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(
                        "A management token (M.V1.…, also as `Token <t>`) or an OAuth access token (JWT)",
                    )
                    .build(),
            ),
        );
        components.add_security_scheme(
            "v2_token",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "Authorization",
                    "`Token <token>` or `Bearer <token>`: a v2 authorization, or a management token acting as operator",
                ),
            )),
        );
    }
}

/// Every REST route, each surface's router registered with its OpenAPI description.
fn api_routes(metrics: &Metrics) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(v0::router(metrics))
        .merge(authorize::router(metrics))
        .merge(ops::router(metrics))
        .merge(v2::router(metrics))
}

pub fn router(state: AppState) -> Router {
    let (routes, openapi) = api_routes(&state.metrics).split_for_parts();
    let openapi = Arc::new(openapi);
    routes
        .merge(crate::api::authz::router(&state.metrics))
        .route(
            "/api/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(|uri: Uri| async move {
            if is_v2(&uri) {
                V2Error::not_found("path not found").into_response()
            } else {
                ApiError::not_found("path not found").into_response()
            }
        })
        .method_not_allowed_fallback(|uri: Uri| async move {
            if is_v2(&uri) {
                V2Error::new(V2Code::MethodNotAllowed, "method not allowed").into_response()
            } else {
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response()
            }
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-influxdb-version"),
            HeaderValue::from_static(ops::VERSION),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-influxdb-build"),
            HeaderValue::from_static("tollgate"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            // Only the route template is logged: a raw path or query could carry a token.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    tracing::debug_span!("request", method = %request.method(), route = %route)
                })
                .on_request(())
                // A 5xx we answer on purpose (/ready while draining, our own 503s) is logged
                // where it is decided, at the level it deserves, not here as an ERROR.
                .on_failure(())
                .on_response(
                    |response: &axum::response::Response, latency: Duration, _span: &Span| {
                        // debug, not info: a data path answering thousands of checks a
                        // second must not write a line for each.
                        tracing::debug!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "response"
                        );
                    },
                ),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::api::request::observe,
        ))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), RandomRequestId))
        .layer(axum::middleware::map_request(keep_plausible_request_id))
        .layer(axum::middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            crate::api::request::resolve_client,
        ))
        .with_state(state)
}

/// A client's `X-Request-Id` is kept (and echoed, and audited) only when it is plainly one;
/// otherwise, a pasted token say, it is replaced by one tollgate generates.
async fn keep_plausible_request_id(mut request: Request) -> Request {
    let plausible = request
        .headers()
        .get(&REQUEST_ID)
        .map(|id| id.to_str().is_ok_and(crate::audit::plausible_request_id));
    if plausible == Some(false) {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// Unmatched paths under `/api/v2` answer in the v2 error shape.
fn is_v2(uri: &Uri) -> bool {
    uri.path().starts_with("/api/v2/") || uri.path() == "/api/v2"
}

static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Request ids for the audit log and the `X-Request-Id` response header (a client's own is kept).
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        // Correlation ids need not be unpredictable: the thread-local generator, no syscall.
        let id = format!("{:016x}", rand::rng().random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}
