//! Where a request came from: the peer address, the audit log's `Origin`, the request id,
//! the route it matched. Uses axum's request parts and `audit`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;

use crate::audit::Origin;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The client a request is from: the connection's peer, or, when the peer is a trusted
/// proxy, what its `X-Forwarded-For` says (see [`client_address`]).
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    if let Some(Client(address)) = parts.extensions.get::<Client>() {
        return Some(*address);
    }
    socket_peer(parts)
}

fn socket_peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client address, resolved once per request by [`resolve_client`].
#[derive(Debug, Clone, Copy)]
struct Client(IpAddr);

/// The client behind `peer`: `peer` itself unless it is one of `trusted`; then the rightmost
/// `X-Forwarded-For` entry that is not trusted (entries left of it could be forged by the
/// client). An unreadable entry stops the walk at the last proxy that vouched for it.
pub fn client_address(
    peer: IpAddr,
    forwarded_for: &[&axum::http::HeaderValue],
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`; IPv4 CIDRs must match them.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in forwarded_for.iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for entry in text.rsplit(',') {
            let Some(ip) = parse_forwarded(entry.trim()).map(|ip| ip.to_canonical()) else {
                return client;
            };
            client = ip;
            if !is_trusted(&ip) {
                return ip;
            }
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// Middleware: resolves the client address once (trusted proxies from the state).
pub async fn resolve_client(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<ipnet::IpNet>>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !trusted.is_empty() {
        let (mut parts, body) = request.into_parts();
        if let Some(peer) = socket_peer(&parts) {
            let forwarded: Vec<&axum::http::HeaderValue> =
                parts.headers.get_all("x-forwarded-for").iter().collect();
            let client = client_address(peer, &forwarded, &trusted);
            parts.extensions.insert(Client(client));
        }
        request = axum::extract::Request::from_parts(parts, body);
    }
    next.run(request).await
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

/// Middleware: counts each answered request by route template, method and status, with its
/// latency (`tollgate_http_request_duration_seconds`).
pub async fn observe(
    axum::extract::State(metrics): axum::extract::State<crate::telemetry::Metrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics.request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.7");
        assert_eq!(
            client_address(ip("10.0.0.1"), &[&xff], &trusted),
            ip("1.2.3.4")
        );
        // An untrusted peer's header is not believed.
        assert_eq!(
            client_address(ip("9.9.9.9"), &[&xff], &trusted),
            ip("9.9.9.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.1"), &[], &trusted),
            ip("10.0.0.1")
        );
        // Several header lines read as one list; ports and IPv6 are accepted.
        let first = HeaderValue::from_static("[2001:db8::1]:443");
        let second = HeaderValue::from_static("10.1.1.1:80");
        assert_eq!(
            client_address(ip("10.0.0.1"), &[&first, &second], &trusted),
            ip("2001:db8::1")
        );
        // IPv4 peers of a dual-stack listener match IPv4 CIDRs.
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &[&xff], &trusted),
            ip("1.2.3.4")
        );
        // Garbage stops at the last proxy that vouched.
        let garbage = HeaderValue::from_static("nonsense, 10.0.0.9");
        assert_eq!(
            client_address(ip("10.0.0.1"), &[&garbage], &trusted),
            ip("10.0.0.9")
        );
    }
}
