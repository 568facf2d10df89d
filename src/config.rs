//! Configuration: defaults, then a TOML file, then `TOLLGATE_*` variables, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::identity::{Group, User};

mod report;
pub use crate::token::hashing::{HashParams, Lane};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// `postgres://…`, `sqlite://…`, or a path to a SQLite file (relative paths are under `data_dir`).
    pub database_url: DatabaseUrl,
    /// Where the SQLite default and the bootstrap operator token live.
    pub data_dir: PathBuf,
    /// A tracing filter: `info`, `debug`, `tollgate=trace,sqlx=warn`, …
    pub log_level: String,
    pub log_format: LogFormat,
    /// Maximum connections in the store's pool.
    pub database_max_connections: u32,
    /// How long a request waits for a store connection before answering 503.
    pub database_acquire_timeout_seconds: u64,
    /// After SIGTERM: seconds of reporting not ready while still serving (for load balancers).
    pub shutdown_drain_seconds: u64,
    /// Then: seconds in-flight requests get to finish before connections are dropped.
    pub shutdown_grace_seconds: u64,
    /// A connection that has not sent a whole request head within this many seconds is
    /// closed (slow clients must not hold connections forever).
    pub http_header_read_timeout_seconds: u64,
    /// A request body must arrive whole within this many seconds (else 408).
    pub http_body_read_timeout_seconds: u64,
    /// Connections served at once; further clients wait in the listen backlog.
    pub http_max_connections: usize,
    /// Largest request head (request line and headers) buffered per connection; a longer
    /// one is answered 431 and the connection closed. At least 8192.
    pub http_max_head_bytes: usize,
    /// Connections one client address (an IPv6 /64) may hold at once; `[verify]
    /// trusted_proxies` are exempt. Past it, a new connection is answered 429 and closed.
    pub http_max_connections_per_client: usize,
    /// A new connection that sends nothing within this many seconds is closed.
    pub http_first_byte_timeout_seconds: u64,
    /// The body deadline of requests whose body is read before any credential is checked
    /// (`POST /api/v0/authorize`, `POST /api/v2/setup` without one).
    pub http_unauthenticated_body_read_timeout_seconds: u64,
    pub argon2: Argon2Config,
    /// The verified-token cache, failure limits and client addresses.
    pub verify: VerifyConfig,
    /// The people allowed to administer this cluster (Clustered's admin user list).
    pub users: Vec<UserConfig>,
    /// Identity providers whose access tokens (JWTs) authenticate management calls.
    pub oauth: OAuthConfig,
    /// The Cloud Dedicated account and cluster ids this cluster answers to under
    /// `/api/v0/accounts/{accountId}/clusters/{clusterId}/…`; unset accepts any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// A file holding the bearer token `/metrics` requires (as Prometheus's
    /// `authorization.credentials_file` sends it); unset, `/metrics` is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// An unknown `kid` refetches the JWKS at most once per this many seconds.
    pub jwks_min_refetch_seconds: u64,
    /// Key sets are refreshed in the background this often.
    pub jwks_refresh_seconds: u64,
    pub issuers: Vec<IssuerConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            jwks_min_refetch_seconds: 30,
            jwks_refresh_seconds: 600,
            issuers: Vec::new(),
        }
    }
}

/// One `[[oauth.issuers]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Compared byte for byte with `iss` (Auth0's ends with `/`).
    pub issuer: String,
    /// Accepted `aud` values; a token must carry at least one.
    pub audience: Vec<String>,
    /// The JWKS address; without it, OIDC discovery from the issuer finds it.
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Claims that name the user, tried in order (`sub`; Entra ID: `oid`).
    #[serde(default = "default_user_claims")]
    pub user_claims: Vec<String>,
    /// A claim whose values (`Admin`, `Member`, `Auditor`) add to the user's configured groups.
    #[serde(default)]
    pub groups_claim: Option<String>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}

fn default_leeway() -> u64 {
    60
}

fn default_user_claims() -> Vec<String> {
    vec!["sub".to_owned()]
}

/// Algorithms a JWKS key may verify: asymmetric only, so a public key is never an HMAC secret.
pub const JWKS_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// One `[[users]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The identity provider's id for the user: Keycloak/Auth0 `sub`, Entra ID object id (`oid`).
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `Admin`, `Member` and/or `Auditor`.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Database-token hashing threads; 0 means one per core.
    pub threads: usize,
    /// Database-token hashes allowed to wait for a thread before callers get 503 +
    /// Retry-After.
    pub queue: usize,
    /// Threads and queue for management-token checks and for minting tokens of either kind,
    /// apart from the data path's, so that administration (or forged management tokens)
    /// never makes a data-path check wait.
    pub management_threads: usize,
    pub management_queue: usize,
    pub database_tokens: HashParams,
    pub management_tokens: HashParams,
}

/// `[verify]`: how the data path remembers verified tokens and refuses floods.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// Verified tokens held in memory (each a few hundred bytes).
    pub cache_entries: usize,
    /// A cached decision is re-read from the store after this long: the bound on staleness
    /// when a change notification is lost.
    pub cache_ttl_seconds: u64,
    /// While the store is unreachable, cached decisions keep being served this long past
    /// their TTL (0: never); a revocation made elsewhere meanwhile reaches this replica when
    /// its listener reconnects.
    pub stale_if_error_seconds: u64,
    /// An unknown token id is remembered this long, so repeating it costs no store read.
    pub unknown_ttl_seconds: u64,
    /// Failed verifications (unknown id, wrong secret) one client address may make per
    /// minute before it gets 429.
    pub failures_per_address_per_minute: u32,
    /// Failed verifications one token id may see per minute before further uncached
    /// attempts at it get 429.
    pub failures_per_token_per_minute: u32,
    /// Peers (CIDRs, or single addresses) whose `X-Forwarded-For` is believed: the client is
    /// then the rightmost address not in this list.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How often last-use times are written, in one statement per batch.
    pub last_used_flush_seconds: u64,
    /// Store reads per second, for the whole replica, of token ids it does not know exist.
    pub unknown_id_reads_per_second: u32,
}

/// CIDRs, where a bare address stands for itself (`10.0.0.1` = `10.0.0.1/32`).
fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{entry:?} is neither an address nor a CIDR (e.g. 10.0.0.0/8)"
                    ))
                })
        })
        .collect()
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            cache_entries: 100_000,
            cache_ttl_seconds: 60,
            stale_if_error_seconds: 300,
            unknown_ttl_seconds: 5,
            failures_per_address_per_minute: 60,
            failures_per_token_per_minute: 30,
            trusted_proxies: Vec::new(),
            last_used_flush_seconds: 60,
            unknown_id_reads_per_second: 50,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8086)),
            database_url: DatabaseUrl("tollgate.db".to_owned()),
            data_dir: PathBuf::from("./data"),
            log_level: "info".to_owned(),
            log_format: LogFormat::Text,
            database_max_connections: 16,
            database_acquire_timeout_seconds: 5,
            shutdown_drain_seconds: 0,
            shutdown_grace_seconds: 30,
            http_header_read_timeout_seconds: 10,
            http_body_read_timeout_seconds: 30,
            http_max_connections: 4096,
            http_max_head_bytes: 64 * 1024,
            http_max_connections_per_client: 1024,
            http_first_byte_timeout_seconds: 5,
            http_unauthenticated_body_read_timeout_seconds: 5,
            argon2: Argon2Config {
                threads: 0,
                queue: 64,
                management_threads: 1,
                management_queue: 64,
                database_tokens: HashParams::DATABASE,
                management_tokens: HashParams::MANAGEMENT,
            },
            verify: VerifyConfig::default(),
            users: Vec::new(),
            oauth: OAuthConfig::default(),
            account_id: None,
            cluster_id: None,
            metrics_token_file: None,
        }
    }
}

/// Flag values; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// `TOLLGATE_*` variables that are not configuration: `TOLLGATE_CONFIG`, the tests' own, and
/// those Kubernetes injects into every pod of a namespace with a Service named `tollgate`
/// (`TOLLGATE_SERVICE_HOST`, `TOLLGATE_PORT`, `TOLLGATE_PORT_8086_TCP_ADDR`, …), which must not
/// stop the server. Any other unknown one is refused by name, as a typo should be.
fn is_config_variable(key: &str) -> bool {
    !(key == "config"
        || key == "port"
        || key.starts_with("port_")
        || key.starts_with("service_")
        || key.starts_with("test_"))
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            // Syntax is checked here so that the error names line and column; the toml
            // crate's own message quotes the source line, which may hold a password.
            let text = std::fs::read_to_string(file)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", file.display())))?;
            if let Err(e) = text.parse::<toml::Table>() {
                return Err(ConfigError(report::toml_syntax(file, &text, &e)));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let env = Env::prefixed("TOLLGATE_")
            .filter(|key| is_config_variable(&key.as_str().to_ascii_lowercase()))
            .split("__");
        figment = figment
            .merge(env)
            .merge(Serialized::defaults(overrides.clone()));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError(report::figment(e)))?;
        config.database_url.check_scheme()?;
        // RUST_LOG, as Rust programs honour it, unless tollgate's own setting is given.
        if overrides.log_level.is_none()
            && std::env::var_os("TOLLGATE_LOG_LEVEL").is_none()
            && let Ok(filter) = std::env::var("RUST_LOG")
            && !filter.trim().is_empty()
        {
            tracing_subscriber::EnvFilter::try_new(&filter)
                .map_err(|e| ConfigError(format!("RUST_LOG {filter:?}: {e}")))?;
            config.log_level = filter;
        }
        config.validate()?;
        config.database_url = config.database_url.resolved(&config.data_dir);
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, p) in [
            ("argon2.database_tokens", self.argon2.database_tokens),
            ("argon2.management_tokens", self.argon2.management_tokens),
        ] {
            argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, None)
                .map_err(|e| ConfigError(format!("{name}: {e}")))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ConfigError(format!("log_level {:?}: {e}", self.log_level)))?;
        self.users()?;
        if self.http_header_read_timeout_seconds == 0 {
            return Err(ConfigError(
                "http_header_read_timeout_seconds must be at least 1".into(),
            ));
        }
        if self.http_body_read_timeout_seconds == 0 {
            return Err(ConfigError(
                "http_body_read_timeout_seconds must be at least 1".into(),
            ));
        }
        if self.http_max_connections == 0 {
            return Err(ConfigError(
                "http_max_connections must be at least 1".into(),
            ));
        }
        // hyper's own floor: it cannot parse a head in less.
        if self.http_max_head_bytes < 8192 {
            return Err(ConfigError(
                "http_max_head_bytes must be at least 8192".into(),
            ));
        }
        for (name, value) in [
            (
                "http_max_connections_per_client",
                self.http_max_connections_per_client as u64,
            ),
            (
                "http_first_byte_timeout_seconds",
                self.http_first_byte_timeout_seconds,
            ),
            (
                "http_unauthenticated_body_read_timeout_seconds",
                self.http_unauthenticated_body_read_timeout_seconds,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        for (i, issuer) in self.oauth.issuers.iter().enumerate() {
            let at = |field: &str| format!("oauth.issuers[{i}].{field}");
            if issuer.issuer.trim().is_empty() {
                return Err(ConfigError(format!("{} must not be empty", at("issuer"))));
            }
            if issuer.audience.is_empty() {
                return Err(ConfigError(format!(
                    "{} must list at least one audience",
                    at("audience")
                )));
            }
            if issuer.user_claims.is_empty() {
                return Err(ConfigError(format!(
                    "{} must name at least one claim",
                    at("user_claims")
                )));
            }
            if issuer.algorithms.is_empty() {
                return Err(ConfigError(format!(
                    "{} must not be empty",
                    at("algorithms")
                )));
            }
            for alg in &issuer.algorithms {
                if !JWKS_ALGORITHMS.contains(&alg.as_str()) {
                    return Err(ConfigError(format!(
                        "{}: {alg:?} is not accepted for JWKS keys; use one of {}",
                        at("algorithms"),
                        JWKS_ALGORITHMS.join(", ")
                    )));
                }
            }
        }
        let verify = &self.verify;
        for (name, value) in [
            ("verify.cache_entries", verify.cache_entries as u64),
            ("verify.cache_ttl_seconds", verify.cache_ttl_seconds),
            ("verify.unknown_ttl_seconds", verify.unknown_ttl_seconds),
            (
                "verify.failures_per_address_per_minute",
                u64::from(verify.failures_per_address_per_minute),
            ),
            (
                "verify.failures_per_token_per_minute",
                u64::from(verify.failures_per_token_per_minute),
            ),
            (
                "verify.last_used_flush_seconds",
                verify.last_used_flush_seconds,
            ),
            (
                "verify.unknown_id_reads_per_second",
                u64::from(verify.unknown_id_reads_per_second),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        for (name, value, most) in [
            (
                "verify.cache_entries",
                verify.cache_entries as u64,
                10_000_000,
            ),
            ("verify.cache_ttl_seconds", verify.cache_ttl_seconds, 86_400),
            (
                "verify.stale_if_error_seconds",
                verify.stale_if_error_seconds,
                604_800,
            ),
            (
                "verify.unknown_ttl_seconds",
                verify.unknown_ttl_seconds,
                3_600,
            ),
            (
                "verify.last_used_flush_seconds",
                verify.last_used_flush_seconds,
                86_400,
            ),
        ] {
            if value > most {
                return Err(ConfigError(format!(
                    "{name} must be at most {most}, got {value}"
                )));
            }
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError(
                "database_max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The effective configuration as TOML, with the database password masked.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = DatabaseUrl(self.database_url.redacted());
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }

    /// The `[[users]]` list as domain users; unknown groups, empty or duplicate ids are errors.
    pub fn users(&self) -> Result<Vec<User>, ConfigError> {
        let mut users: Vec<User> = Vec::with_capacity(self.users.len());
        for (i, entry) in self.users.iter().enumerate() {
            if entry.id.trim().is_empty() {
                return Err(ConfigError(format!("users[{i}].id must not be empty")));
            }
            if users.iter().any(|u| u.id == entry.id) {
                return Err(ConfigError(format!(
                    "users[{i}].id {:?} is listed twice",
                    entry.id
                )));
            }
            let mut groups = Vec::new();
            for name in &entry.groups {
                let group = Group::parse(name).ok_or_else(|| {
                    ConfigError(format!(
                        "users[{i}].groups: unknown group {name:?}; use Admin, Member or Auditor"
                    ))
                })?;
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
            users.push(User {
                id: entry.id.clone(),
                first_name: entry.first_name.clone(),
                last_name: entry.last_name.clone(),
                email: entry.email.clone(),
                groups,
            });
        }
        Ok(users)
    }

    /// The hashing pool's lanes: database tokens, then management tokens.
    pub fn hash_lanes(&self) -> (Lane, Lane) {
        let threads = match self.argon2.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        (
            Lane {
                threads,
                queue: self.argon2.queue,
            },
            Lane {
                threads: self.argon2.management_threads,
                queue: self.argon2.management_queue,
            },
        )
    }
}

/// The store's URL; it may carry a password, so it never prints.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `postgres://`, `postgresql://`, `sqlite:` or a plain path; any other scheme is a
    /// mistake (`postgress://`, `mysql://`), not a SQLite file to create.
    fn check_scheme(&self) -> Result<(), ConfigError> {
        let Some((scheme, _)) = self.0.split_once("://") else {
            return Ok(());
        };
        match scheme {
            "postgres" | "postgresql" | "sqlite" => Ok(()),
            other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') => {
                Err(ConfigError(format!(
                    "database_url has the scheme {other:?}; use postgres://…, sqlite://… or a SQLite file path"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The URL with any password replaced by `***`, in the authority or as a `password=`
    /// query parameter.
    pub fn redacted(&self) -> String {
        let url = self.redacted_authority();
        let Some((base, query)) = url.split_once('?') else {
            return url;
        };
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        format!("{base}?{}", query.join("&"))
    }

    fn redacted_authority(&self) -> String {
        let Some(scheme_end) = self.0.find("://").map(|i| i + 3) else {
            return self.0.clone();
        };
        let rest = &self.0[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &self.0[..scheme_end],
                    &rest[..colon],
                    &rest[at..]
                ),
                None => self.0.clone(),
            },
            None => self.0.clone(),
        }
    }

    pub fn engine(&self) -> Engine {
        if self.0.starts_with("postgres://") || self.0.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    /// The SQLite file this URL names, if it names one.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self
            .0
            .strip_prefix("sqlite://")
            .or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// A bare path becomes a `sqlite://` URL; relative ones are placed under `data_dir`.
    fn resolved(self, data_dir: &Path) -> DatabaseUrl {
        if self.engine() == Engine::Postgres || self.0.starts_with("sqlite:") {
            return self;
        }
        let path = Path::new(&self.0);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            data_dir.join(path)
        };
        DatabaseUrl(format!("sqlite://{}", path.display()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_prints() {
        let url = DatabaseUrl::new("postgres://tollgate:s3cret@db:5432/tollgate?sslmode=require");
        assert_eq!(
            url.redacted(),
            "postgres://tollgate:***@db:5432/tollgate?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let query = DatabaseUrl::new("postgres://u@db/x?sslmode=require&password=abc");
        assert_eq!(
            query.redacted(),
            "postgres://u@db/x?sslmode=require&password=***"
        );
        let plain = DatabaseUrl::new("postgres://postgres@127.0.0.1/postgres");
        assert_eq!(plain.redacted(), plain.expose());
    }

    fn load_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("tollgate-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| ConfigError(e.to_string()))?;
        let file = dir.join(format!("{:x}.toml", crc32fast::hash(text.as_bytes())));
        std::fs::write(&file, text).map_err(|e| ConfigError(e.to_string()))?;
        let loaded = Config::load(Some(&file), &Overrides::default());
        let _ = std::fs::remove_file(&file);
        loaded
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_bare_addresses_and_name_what_is_neither() {
        let config =
            load_toml("[verify]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n")
                .unwrap();
        let shown: Vec<String> = config
            .verify
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
        let err = load_toml("[verify]\ntrusted_proxies = [\"10.0.0.300\"]\n").unwrap_err();
        assert!(
            err.to_string().contains("neither an address nor a CIDR"),
            "{err}"
        );
    }

    #[test]
    fn verify_durations_are_bounded_so_no_instant_can_overflow() {
        let err = load_toml("[verify]\nunknown_ttl_seconds = 9999999999999\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("verify.unknown_ttl_seconds must be at most 3600"),
            "{err}"
        );
        let err = load_toml("[verify]\ncache_ttl_seconds = 0\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("verify.cache_ttl_seconds must be at least 1"),
            "{err}"
        );
    }
}
