//! One issuer's signing keys: fetched, cached, refetched with a cooldown.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use serde::Deserialize;

use super::JwtError;

pub struct KeySet {
    http: reqwest::Client,
    issuer: String,
    jwks_url: Option<String>,
    min_refetch: Duration,
    keys: RwLock<HashMap<String, DecodingKey>>,
    loaded: AtomicBool,
    /// Why the last fetch failed, until one succeeds (for `/ready?verbose`).
    last_error: RwLock<Option<String>>,
    /// Held while fetching, so concurrent misses make one request; records the last attempt.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeySet {
    pub fn new(
        http: reqwest::Client,
        issuer: String,
        jwks_url: Option<String>,
        min_refetch: Duration,
    ) -> Self {
        KeySet {
            http,
            issuer,
            jwks_url,
            min_refetch,
            keys: RwLock::new(HashMap::new()),
            loaded: AtomicBool::new(false),
            last_error: RwLock::new(None),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Why the last fetch failed, while no fetch has succeeded since.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.read().ok().and_then(|e| e.clone())
    }

    /// The key for `kid`; an unknown one triggers at most one rate-limited refetch.
    /// A token without `kid` is accepted only when the set holds exactly one key.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Option<DecodingKey>, JwtError> {
        if let Some(key) = self.lookup(kid) {
            return Ok(Some(key));
        }
        let mut last = self.last_fetch.lock().await;
        let recent = last.is_some_and(|at| at.elapsed() < self.min_refetch);
        if !recent {
            *last = Some(Instant::now());
            self.fetch_and_store().await;
        }
        drop(last);
        if !self.loaded() {
            return Err(JwtError::KeysUnavailable(self.issuer.clone()));
        }
        Ok(self.lookup(kid))
    }

    /// Fetches now (background refresh). True when a key set was loaded.
    pub async fn refresh(&self) -> bool {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch_and_store().await
    }

    /// Whether a key for `kid` is published right now.
    pub fn has(&self, kid: Option<&str>) -> bool {
        self.lookup(kid).is_some()
    }

    fn lookup(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let keys = self.keys.read().ok()?;
        match kid {
            Some(kid) => keys.get(kid).cloned(),
            None if keys.len() == 1 => keys.values().next().cloned(),
            None => None,
        }
    }

    async fn fetch_and_store(&self) -> bool {
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "JWKS loaded");
                if let Ok(mut current) = self.keys.write() {
                    *current = keys;
                }
                self.loaded.store(true, Ordering::Release);
                if let Ok(mut last) = self.last_error.write() {
                    *last = None;
                }
                true
            }
            Err(e) => {
                // Keep the last good keys: a provider outage must not log everyone out.
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS fetch failed");
                if let Ok(mut last) = self.last_error.write() {
                    *last = Some(e);
                }
                false
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => self.discover().await?,
        };
        let set: JwkSet = self.get_json(&url, "a JWK set").await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            // Symmetric keys are never accepted from a JWKS.
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(jwk.common.key_id.clone().unwrap_or_default(), key);
            }
        }
        if keys.is_empty() {
            let shown = url.split_once('?').map_or(url.as_str(), |(base, _)| base);
            return Err(format!("{shown} holds no usable signing key"));
        }
        Ok(keys)
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url, "an OIDC discovery document").await?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "{url} names issuer {:?}, not the configured {:?}",
                discovery.issuer, self.issuer
            ));
        }
        Ok(discovery.jwks_uri)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, String> {
        // A JWKS URL's query may carry a credential: errors (logged, and shown to operators)
        // name the URL without it.
        let shown = url.split_once('?').map_or(url, |(base, _)| base);
        self.http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET {shown}: {}", cause(&e)))?
            .json()
            .await
            .map_err(|e| format!("{shown} is not {what}: {}", e.without_url()))
    }
}

/// What went wrong with a request, named as an operator would look for it: the HTTP status,
/// a time-out, or the innermost cause (DNS, connection refused, TLS, …).
fn cause(err: &reqwest::Error) -> String {
    if let Some(status) = err.status() {
        return format!("HTTP {status}");
    }
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let mut innermost: &dyn std::error::Error = err;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let kind = if err.is_connect() {
        "connect"
    } else {
        "request"
    };
    format!("{kind} failed: {innermost}")
}
