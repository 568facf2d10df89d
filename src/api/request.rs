//! Where a request came from: the peer address, the audit log's `Origin`, the request id,
//! the route it matched. Uses axum's request parts and `audit`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;

use crate::audit::Origin;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The address the connection came from.
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub fn origin(parts: &Parts) -> Origin {
    Origin {
        client: peer(parts).map(|ip| ip.to_string()),
        request_id: parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// `METHOD /route/{template}`, for the audit log: the template, never the raw path, which
/// can carry a pasted token.
pub fn route_target(parts: &Parts) -> String {
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    format!("{} {route}", parts.method)
}

/// Where an unauthenticated call came from (for the audit log).
impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(origin(parts))
    }
}
