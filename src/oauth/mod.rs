//! OAuth/OIDC access tokens (JWTs) from the cluster's identity providers.
//!
//! Each issuer's keys come from its JWKS (configured, or found by OIDC discovery) and are
//! cached. An unknown `kid` refetches at most once per `jwks_min_refetch_seconds`, coalesced,
//! so a flood of bogus key ids cannot hammer the provider; a failed fetch keeps the last good
//! keys. `exp`, `nbf`, `iss` and `aud` are always checked and `exp`, `iss`, `aud` required.

mod jwks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{IssuerConfig, OAuthConfig};
pub use jwks::KeySet;

/// Verified JWTs kept until they expire; past this many, expired ones are dropped first.
const CACHE_CAPACITY: usize = 10_000;

/// Why a JWT was refused. Messages name the failure class and never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("JWT algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("JWT issuer is not trusted")]
    UntrustedIssuer,
    #[error("JWT is signed with an unknown key")]
    UnknownKey,
    #[error("JWT signature is invalid")]
    Signature,
    #[error("JWT has expired")]
    Expired,
    #[error("JWT is not yet valid")]
    NotYetValid,
    #[error("JWT audience is not accepted")]
    Audience,
    #[error("JWT is missing the {0} claim")]
    MissingClaim(String),
    #[error("JWT names no user: none of the claims {0} is a string")]
    NoUser(String),
    /// The provider's keys never loaded: our outage, not the caller's fault.
    #[error("the keys of identity provider {0} have not loaded yet")]
    KeysUnavailable(String),
}

/// An identity provider as `/ready?verbose` reports it.
#[derive(Debug, Clone)]
pub struct ProviderState {
    pub issuer: String,
    pub loaded: bool,
    pub last_error: Option<String>,
}

/// Who a verified JWT names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    pub user_id: String,
    /// Group names from the issuer's groups claim, if one is configured.
    pub claimed_groups: Vec<String>,
}

struct CachedIdentity {
    identity: JwtIdentity,
    expires_at: i64,
    /// Which issuer and key verified it: a hit counts only while that key is still published.
    issuer: usize,
    kid: Option<String>,
}

struct Issuer {
    config: IssuerConfig,
    algorithms: Vec<Algorithm>,
    keys: KeySet,
}

/// All configured issuers. Cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    issuers: Arc<Vec<Issuer>>,
    cache: Arc<Mutex<HashMap<[u8; 32], CachedIdentity>>>,
}

impl OAuth {
    /// `None` when no issuer is configured.
    pub fn new(config: &OAuthConfig) -> Option<OAuth> {
        if config.issuers.is_empty() {
            return None;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let issuers = config
            .issuers
            .iter()
            .map(|c| Issuer {
                algorithms: c
                    .algorithms
                    .iter()
                    .filter_map(|a| a.parse::<Algorithm>().ok())
                    .collect(),
                keys: KeySet::new(
                    http.clone(),
                    c.issuer.clone(),
                    c.jwks_url.clone(),
                    Duration::from_secs(config.jwks_min_refetch_seconds),
                ),
                config: c.clone(),
            })
            .collect();
        Some(OAuth {
            issuers: Arc::new(issuers),
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Loads every issuer's keys, retrying until each has loaded once, then refreshes them
    /// every `refresh`. Runs until the process ends.
    pub fn spawn_key_maintenance(&self, refresh: Duration) {
        for index in 0..self.issuers.len() {
            let oauth = self.clone();
            tokio::spawn(async move {
                let keys = &oauth.issuers[index].keys;
                let mut backoff = Duration::from_millis(250);
                while !keys.refresh().await {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                loop {
                    tokio::time::sleep(refresh.max(Duration::from_secs(1))).await;
                    keys.refresh().await;
                }
            });
        }
    }

    /// True once every issuer's keys have loaded at least once.
    pub fn keys_loaded(&self) -> bool {
        self.issuers.iter().all(|i| i.keys.loaded())
    }

    /// Each issuer, whether its keys have loaded, and why the last fetch failed.
    pub fn providers(&self) -> Vec<ProviderState> {
        self.issuers
            .iter()
            .map(|i| ProviderState {
                issuer: i.keys.issuer().to_owned(),
                loaded: i.keys.loaded(),
                last_error: i.keys.last_error(),
            })
            .collect()
    }

    /// Verifies signature, `exp`, `nbf`, `iss` and `aud`, and names the user.
    pub async fn verify(&self, jwt: &str) -> Result<JwtIdentity, JwtError> {
        let digest: [u8; 32] = Sha256::digest(jwt.as_bytes()).into();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(&digest)
            && hit.expires_at > now
            && self.issuers[hit.issuer].keys.has(hit.kid.as_deref())
        {
            return Ok(hit.identity.clone());
        }
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| JwtError::Malformed)?;
        let (issuer_index, issuer) = self.issuer_of(jwt)?;
        if !issuer.algorithms.contains(&header.alg) {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        let key = issuer
            .keys
            .key_for(header.kid.as_deref())
            .await?
            .ok_or(JwtError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer.config.issuer]);
        validation.set_audience(&issuer.config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = issuer.config.leeway_seconds;
        let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::InvalidIssuer => JwtError::UntrustedIssuer,
                ErrorKind::InvalidAudience => JwtError::Audience,
                ErrorKind::InvalidSignature => JwtError::Signature,
                ErrorKind::InvalidAlgorithm => JwtError::Algorithm(format!("{:?}", header.alg)),
                ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
                _ => JwtError::Malformed,
            })?
            .claims;
        let identity = identity(&issuer.config, &claims)?;
        let expires_at = claims["exp"].as_i64().unwrap_or(now);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| c.expires_at > now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(
                digest,
                CachedIdentity {
                    identity: identity.clone(),
                    expires_at,
                    issuer: issuer_index,
                    kid: header.kid.clone(),
                },
            );
        }
        Ok(identity)
    }

    /// The configured issuer the (not yet verified) `iss` claim names.
    fn issuer_of(&self, jwt: &str) -> Result<(usize, &Issuer), JwtError> {
        let payload = jwt.split('.').nth(1).ok_or(JwtError::Malformed)?;
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            payload.trim_end_matches('='),
        )
        .map_err(|_| JwtError::Malformed)?;
        let claims: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| JwtError::MissingClaim("iss".to_owned()))?;
        self.issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.config.issuer == iss)
            .ok_or(JwtError::UntrustedIssuer)
    }
}

fn identity(config: &IssuerConfig, claims: &Value) -> Result<JwtIdentity, JwtError> {
    let user_id = config
        .user_claims
        .iter()
        .find_map(|claim| claims.get(claim).and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| JwtError::NoUser(config.user_claims.join(", ")))?
        .to_owned();
    // Groups may be an array (Keycloak, Entra ID) or a space-separated string (scopes).
    let claimed_groups = match config.groups_claim.as_deref().and_then(|c| claims.get(c)) {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Ok(JwtIdentity {
        user_id,
        claimed_groups,
    })
}

/// Whether a credential is shaped like a JWT (three base64url parts).
pub fn looks_like_jwt(credential: &str) -> bool {
    let parts: Vec<&str> = credential.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}
