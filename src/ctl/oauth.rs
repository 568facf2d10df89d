//! Logging in with the OAuth 2.0 Device Authorization Grant (RFC 8628) and the token cache.
//!
//! The cache is one JSON file per profile, `<cache dir>/influxctl/<profile>.json`, where the
//! cache dir is `$XDG_CACHE_HOME` or `~/.cache` (Go's `os.UserCacheDir`). The directory is
//! created 0700 and the file written 0600 through a temporary file and a rename, so no reader
//! ever sees a partial or world-readable token.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::{redacted, transport_error};
use super::config::{OAuth2, Secret};
use super::output::clean;
use super::{Error, Log};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the polling interval when the provider gives none.
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: what `slow_down` adds to the interval.
const SLOW_DOWN_STEP: u64 = 5;
/// How long a device code lasts when the provider does not say.
const DEFAULT_DEVICE_LIFETIME: u64 = 600;
/// A cached token this close to its expiry is not used.
const EXPIRY_MARGIN: time::Duration = time::Duration::seconds(30);

/// The user's cache directory for influxctl.
pub fn cache_dir() -> Result<PathBuf, Error> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Caches"))
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("influxctl")).ok_or_else(|| {
        Error::new("cannot find a cache directory: neither $XDG_CACHE_HOME nor $HOME is set")
    })
}

/// The cache file of one profile. Profile names become file names only through a safe
/// spelling: other bytes are hex-escaped.
pub fn cache_file(profile: &str) -> Result<PathBuf, Error> {
    let mut name = String::new();
    for b in profile.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02x}"));
        }
    }
    if name.is_empty() {
        name.push('%');
    }
    Ok(cache_dir()?.join(format!("{name}.json")))
}

/// What the cache file holds.
#[derive(Serialize, Deserialize)]
struct Cached {
    access_token: String,
    token_type: String,
    /// RFC 3339; absent when the provider gave no lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry: Option<String>,
    /// The login is used only with the provider and client it came from.
    client_id: String,
    token_url: String,
}

/// The cached token for this profile's provider, unless missing, expired or for another one.
pub fn load(path: &Path, oauth: &OAuth2, log: Log) -> Option<Secret> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                log.warn(format_args!(
                    "cannot read the login cache {}: {e}",
                    path.display()
                ));
            }
            return None;
        }
    };
    let Ok(cached) = serde_json::from_str::<Cached>(&text) else {
        log.warn(format_args!(
            "ignoring the unreadable login cache {}",
            path.display()
        ));
        return None;
    };
    if cached.client_id != oauth.client_id || cached.token_url != oauth.token_url {
        log.debug("the cached login is for another identity provider or client");
        return None;
    }
    if let Some(expiry) = &cached.expiry {
        let fresh = OffsetDateTime::parse(expiry, &Rfc3339)
            .is_ok_and(|t| t - EXPIRY_MARGIN > OffsetDateTime::now_utc());
        if !fresh {
            log.debug("the cached login has expired");
            return None;
        }
    }
    if cached.access_token.is_empty() {
        return None;
    }
    log.debug(format_args!("using the cached login {}", path.display()));
    Some(Secret::new(cached.access_token))
}

/// Writes the cache file: directory 0700, file 0600, atomically.
fn store(path: &Path, cached: &Cached) -> Result<(), Error> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::new("the login cache path has no directory"))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let json = serde_json::to_vec_pretty(cached)
        .map_err(|e| Error::new(format!("cannot encode the login cache: {e}")))?;
    let nonce = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let tmp = dir.join(format!(".login.{}.{nonce}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::new(format!(
            "cannot write the login cache {}: {e}",
            path.display()
        ))
    })
}

/// Removes the cache file; `false` when there was none.
pub fn remove(path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(format!("cannot remove {}: {e}", path.display()))),
    }
}

/// Numbers some providers send as strings.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::Number(n)) => Some(n),
        Some(N::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

#[derive(Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    /// Google says `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    timeout: Duration,
    log: Log,
) -> Result<(reqwest::StatusCode, serde_json::Value), Error> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    log.debug(format_args!("POST {url}"));
    let response = http
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            transport_error(
                &e,
                &format!("cannot reach the identity provider at {url}"),
                timeout,
            )
        })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| transport_error(&e, "cannot read the identity provider's answer", timeout))?;
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    log.trace(format_args!("{status} from {url}: {}", redacted(&value)));
    Ok((status, value))
}

fn provider_refusal(status: reqwest::StatusCode, value: &serde_json::Value, what: &str) -> Error {
    match serde_json::from_value::<OAuthError>(value.clone()) {
        Ok(e) => Error::new(format!(
            "the identity provider refused {what}: {}{}",
            clean(&e.error),
            e.error_description
                .map(|d| format!(" ({})", clean(&d.chars().take(300).collect::<String>())))
                .unwrap_or_default()
        )),
        Err(_) => Error::new(format!(
            "the identity provider refused {what} with HTTP {}",
            status.as_u16()
        )),
    }
}

/// Runs the device flow: shows the verification URL and code on stderr, polls until the user
/// confirms, caches the token in `cache` and returns it.
pub async fn login(
    oauth: &OAuth2,
    cache: &Path,
    timeout: Duration,
    log: Log,
) -> Result<Secret, Error> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| Error::new(format!("cannot set up the HTTP client: {e}")))?;
    let scope = oauth
        .scopes
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut form: Vec<(&str, &str)> = vec![("client_id", oauth.client_id.as_str())];
    if !scope.is_empty() {
        form.push(("scope", scope.as_str()));
    }
    for (key, value) in &oauth.parameters {
        if !value.is_empty() {
            form.push((key.as_str(), value.as_str()));
        }
    }
    let (status, value) = post_form(&http, &oauth.device_url, &form, timeout, log).await?;
    if !status.is_success() {
        return Err(provider_refusal(
            status,
            &value,
            "the device authorization request",
        ));
    }
    let device: DeviceAuthorization = serde_json::from_value(value).map_err(|e| {
        Error::new(format!(
            "the identity provider's device authorization answer is not what RFC 8628 describes: {e}"
        ))
    })?;
    let url = device
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&device.verification_uri);
    eprintln!("To log in, open this URL in a browser:");
    eprintln!();
    eprintln!("    {}", clean(url));
    eprintln!();
    eprintln!("and confirm the code {}", clean(&device.user_code));
    eprintln!("Waiting for the login to be confirmed...");

    let mut interval = Duration::from_secs(device.interval.unwrap_or(DEFAULT_INTERVAL).max(1));
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(device.expires_in.unwrap_or(DEFAULT_DEVICE_LIFETIME));
    let poll = [
        ("grant_type", DEVICE_GRANT),
        ("device_code", device.device_code.as_str()),
        ("client_id", oauth.client_id.as_str()),
    ];
    let answer = loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::new(
                "the login code expired before the login was confirmed; run `influxctl auth login` again",
            ));
        }
        let (status, value) = post_form(&http, &oauth.token_url, &poll, timeout, log).await?;
        if status.is_success() {
            break serde_json::from_value::<TokenAnswer>(value).map_err(|e| {
                Error::new(format!(
                    "the identity provider's token answer has no usable access_token: {e}"
                ))
            })?;
        }
        let code = value.get("error").and_then(|e| e.as_str()).unwrap_or("");
        match code {
            "authorization_pending" => log.debug("authorization pending"),
            "slow_down" => {
                interval += Duration::from_secs(SLOW_DOWN_STEP);
                log.debug(format_args!(
                    "slow down: polling every {} s",
                    interval.as_secs()
                ));
            }
            "expired_token" => {
                return Err(Error::new(
                    "the login code expired before the login was confirmed; run `influxctl auth login` again",
                ));
            }
            "access_denied" => {
                return Err(Error::new("the login was denied at the identity provider"));
            }
            _ => return Err(provider_refusal(status, &value, "the login")),
        }
    };
    if answer.access_token.is_empty() {
        return Err(Error::new(
            "the identity provider answered with an empty access_token",
        ));
    }
    let expiry = answer
        .expires_in
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| {
            (OffsetDateTime::now_utc() + time::Duration::seconds(s))
                .format(&Rfc3339)
                .ok()
        });
    store(
        cache,
        &Cached {
            access_token: answer.access_token.clone(),
            token_type: answer.token_type.unwrap_or_else(|| "Bearer".to_owned()),
            expiry,
            client_id: oauth.client_id.clone(),
            token_url: oauth.token_url.clone(),
        },
    )?;
    log.debug(format_args!("login cached in {}", cache.display()));
    Ok(Secret::new(answer.access_token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn oauth() -> OAuth2 {
        OAuth2 {
            client_id: "c".into(),
            scopes: vec![],
            parameters: Default::default(),
            token_url: "https://idp/token".into(),
            device_url: "https://idp/device".into(),
        }
    }

    #[test]
    fn the_cache_is_private_and_bound_to_its_provider() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("influxctl").join("default.json");
        let log = Log {
            debug: false,
            trace: false,
        };
        let cached = |expiry: Option<String>| Cached {
            access_token: "jwt".into(),
            token_type: "Bearer".into(),
            expiry,
            client_id: "c".into(),
            token_url: "https://idp/token".into(),
        };
        store(&path, &cached(None)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(load(&path, &oauth(), log).unwrap().expose(), "jwt");
        let other = OAuth2 {
            client_id: "other".into(),
            ..oauth()
        };
        assert!(load(&path, &other, log).is_none());
        let past = (OffsetDateTime::now_utc() - time::Duration::minutes(1))
            .format(&Rfc3339)
            .unwrap();
        store(&path, &cached(Some(past))).unwrap();
        assert!(load(&path, &oauth(), log).is_none());
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        // Only the file itself: no temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            0
        );
    }

    #[test]
    fn profile_names_make_safe_file_names() {
        let name = |p: &str| {
            cache_file(p)
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(name("default"), "default.json");
        assert_eq!(name("../x"), "%2e%2e%2fx.json");
    }
}
