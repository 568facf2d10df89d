//! What every handler gets: the services (and the store only for readiness and shutdown),
//! cheap to clone. Uses the services; the surfaces use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;

use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::identity::directory::Directory;
use crate::oauth::OAuth;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::telemetry::Readings;
use crate::tenant::authorizations::Authorizations;
use crate::tenant::service::Tenants;
use crate::token::TokenKind;
use crate::token::format::RandomnessError;
use crate::token::hashing::HashPool;
use crate::token::service::TokenService;
use crate::verify::Verifier;

/// Everything a handler needs, behind one reference count: axum clones the state for every
/// extractor and middleware of every request, and a struct of services (each a struct of
/// `Arc`s) made that a hundred contended atomic operations a request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl From<Services> for AppState {
    fn from(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

/// The services and settings the state shares.
pub struct Services {
    /// Only for readiness and shutdown: handlers reach the store through the services.
    store: Store,
    pub tokens: TokenService,
    /// The v2 API's use cases: users, orgs, setup; and authorizations.
    pub tenants: Tenants,
    pub authorizations: Authorizations,
    /// Who a credential is, for every surface.
    pub authenticator: Authenticator,
    pub started_at: OffsetDateTime,
    /// Identity providers, when `[[oauth.issuers]]` are configured.
    pub oauth: Option<OAuth>,
    pub metrics: Metrics,
    /// The users of `[[users]]`.
    pub directory: Directory,
    pub audit: AuditLog,
    /// The verified-token cache, for what is not a credential check (shutdown's flush).
    pub verifier: Verifier,
    /// Peers whose `X-Forwarded-For` is believed (`[verify] trusted_proxies`).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The configured Cloud Dedicated account and cluster ids, if any.
    pub cluster: Arc<ClusterIds>,
    /// The keyed digest of the token `/metrics` requires, when one is configured.
    pub metrics_token: Option<MetricsToken>,
    draining: Arc<AtomicBool>,
}

/// A Cloud Dedicated account and cluster: the ones this cluster answers to (configured), or
/// the ones a request named in its path.
#[derive(Debug, Clone, Default)]
pub struct ClusterIds {
    pub account_id: Option<String>,
    pub cluster_id: Option<String>,
}

/// The token a `/metrics` scrape must present, kept as a keyed digest so that comparing it
/// takes the same time whatever the guess.
#[derive(Clone)]
pub struct MetricsToken {
    key: [u8; 32],
    digest: blake3::Hash,
}

impl MetricsToken {
    pub fn new(token: &str) -> Result<Self, RandomnessError> {
        let mut key = [0u8; 32];
        crate::token::format::os_random(&mut key)?;
        let digest = blake3::keyed_hash(&key, token.as_bytes());
        Ok(MetricsToken { key, digest })
    }

    /// `blake3::Hash` equality is constant-time.
    pub fn matches(&self, presented: &str) -> bool {
        blake3::keyed_hash(&self.key, presented.as_bytes()) == self.digest
    }
}

impl Services {
    pub fn new(
        store: Store,
        pool: HashPool,
        oauth: Option<OAuth>,
        config: &Config,
    ) -> Result<Self, RandomnessError> {
        let tokens = TokenService::new(store.clone(), pool.clone());
        let metrics = Metrics::new();
        let verifier = Verifier::new(
            store.clone(),
            pool.clone(),
            &config.verify,
            [
                (TokenKind::Database, config.argon2.database_tokens),
                (TokenKind::Management, config.argon2.management_tokens),
            ],
            metrics.cache_counters(),
        )?;
        let cached = verifier.clone();
        metrics.read_gauges(move || {
            let load = pool.load();
            Readings {
                cache_entries: cached.cached(),
                hashing: [
                    ("database", load.database.busy, load.database.queued),
                    ("management", load.management.busy, load.management.queued),
                ],
            }
        });
        let directory = Directory::new(store.clone());
        let trusted_proxies = Arc::new(config.verify.trusted_proxies.clone());
        Ok(Services {
            verifier: verifier.clone(),
            trusted_proxies,
            authenticator: Authenticator::new(verifier, oauth.clone(), directory.clone()),
            directory,
            audit: AuditLog::new(store.clone(), metrics.clone()),
            tenants: Tenants::new(store.clone(), tokens.clone()),
            authorizations: Authorizations::new(store.clone(), tokens.clone()),
            tokens,
            store,
            started_at: OffsetDateTime::now_utc(),
            oauth,
            metrics,
            cluster: Arc::new(ClusterIds::default()),
            metrics_token: None,
            draining: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// A cheap round trip to the store, for readiness.
    pub async fn store_answers(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    pub fn engine(&self) -> crate::config::Engine {
        self.store.engine()
    }

    /// Set when shutdown begins: readiness turns false.
    pub(crate) fn drain_flag(&self) -> Arc<AtomicBool> {
        self.draining.clone()
    }

    pub(crate) async fn close_store(&self) {
        self.store.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloning_the_state_is_one_reference_count() {
        assert_eq!(
            std::mem::size_of::<AppState>(),
            std::mem::size_of::<usize>()
        );
    }
}
