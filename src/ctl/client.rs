//! The `/api/v0` HTTP client: TLS from the profile, the management credential as `Bearer`,
//! the server's `{"code", "message"}` errors turned into messages, a refused cached login
//! dropped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::config::{Profile, Secret};
use super::output::clean;
use super::{Error, Log, format_go_duration};

/// Where the management credential came from: said in errors, never the credential itself.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--token`, `INFLUXCTL_TOKEN` or `--token-file`.
    Override,
    /// The profile's `mgmt_token`.
    MgmtToken,
    /// `[profile.auth.token] token_file`.
    TokenFile(PathBuf),
    /// A device-flow login, cached in this file.
    OAuth(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Override => f.write_str("--token, INFLUXCTL_TOKEN or --token-file"),
            Source::MgmtToken => f.write_str("the profile's mgmt_token"),
            Source::TokenFile(p) => write!(f, "token_file {}", p.display()),
            Source::OAuth(_) => f.write_str("the OAuth login"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: Secret,
    pub source: Source,
}

/// An HTTP client for one profile's server.
pub struct Api {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    credential: Credential,
    log: Log,
}

/// A successful answer's JSON body (`Null` when empty).
pub struct Reply {
    pub body: Value,
}

/// A reqwest client for the profile's server: its TLS settings and the timeout.
pub fn http_client(
    profile: &Profile,
    timeout: Duration,
    log: Log,
) -> Result<reqwest::Client, Error> {
    // No redirects: the credential goes to the configured server and nowhere else.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!(
            "influxctl (tollgate ",
            env!("CARGO_PKG_VERSION"),
            ")"
        ));
    let tls = &profile.tls;
    if !tls.disable {
        if tls.insecure {
            log.warn("[profile.tls] insecure: the server's certificate is not verified");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(ca) = &tls.ca {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::new(format!(
                    "cannot read [profile.tls] ca {}: {e}",
                    ca.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::new(format!(
                    "[profile.tls] ca {} holds no PEM certificate: {e}",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(Error::new(format!(
                    "[profile.tls] ca {} holds no PEM certificate",
                    ca.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            let mut pem = std::fs::read(cert).map_err(|e| {
                Error::new(format!(
                    "cannot read [profile.tls] cert {}: {e}",
                    cert.display()
                ))
            })?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).map_err(|e| {
                Error::new(format!(
                    "cannot read [profile.tls] key {}: {e}",
                    key.display()
                ))
            })?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                Error::new(format!(
                    "[profile.tls] cert and key are not a PEM pair: {e}"
                ))
            })?;
            builder = builder.identity(identity);
        }
    }
    builder
        .build()
        .map_err(|e| Error::new(format!("cannot set up the HTTP client: {}", chain(&e))))
}

/// An error and its causes on one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A transport failure, said plainly.
pub fn transport_error(e: &reqwest::Error, what: &str, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::new(format!(
            "{what}: no answer within {} (--timeout)",
            format_go_duration(timeout)
        ));
    }
    let detail = chain(e);
    Error::new(format!("{what}: {detail}"))
}

/// Credential-bearing keys left out of traced bodies.
const SECRET_KEYS: [&str; 6] = [
    "accessToken",
    "access_token",
    "refresh_token",
    "id_token",
    "device_code",
    "token",
];

/// `value` with every secret-bearing field replaced, for trace logs.
pub fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        (k.clone(), Value::String("<redacted>".into()))
                    } else {
                        (k.clone(), redacted(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

impl Api {
    pub fn new(
        http: reqwest::Client,
        base: Url,
        timeout: Duration,
        credential: Credential,
        log: Log,
    ) -> Api {
        Api {
            http,
            base,
            timeout,
            credential,
            log,
        }
    }

    /// The log switches this client was made with.
    pub fn log(&self) -> Log {
        self.log
    }

    /// `segments` joined under the base URL, each percent-encoded (an id cannot add a path).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::new("the server URL cannot have a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one request; a non-2xx answer is an error with the server's message.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, Error> {
        let url = self.url(segments, query)?;
        self.log.debug(format_args!("{method} {url}"));
        if let Some(body) = body {
            self.log
                .trace(format_args!("request body: {}", redacted(body)));
        }
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.credential.secret.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            transport_error(
                &e,
                &format!(
                    "cannot reach the server at {}",
                    self.base.as_str().trim_end_matches('/')
                ),
                self.timeout,
            )
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&e, "cannot read the server's answer", self.timeout))?;
        self.log.debug(format_args!(
            "{status} from {method} {} in {} ms",
            url.path(),
            started.elapsed().as_millis()
        ));
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if !status.is_success() => Value::String(text),
                Err(e) => {
                    return Err(Error::new(format!(
                        "the server's answer to {method} {} is not JSON: {e}",
                        url.path()
                    )));
                }
            }
        };
        if self.log.tracing() {
            self.log
                .trace(format_args!("response body: {}", redacted(&body)));
        }
        if status.is_success() {
            return Ok(Reply { body });
        }
        Err(self.refusal(status, &body))
    }

    fn refusal(&self, status: StatusCode, body: &Value) -> Error {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| body.as_str())
            .map(|m| clean(m.chars().take(500).collect::<String>().trim()))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_lowercase()
            });
        if status == StatusCode::UNAUTHORIZED {
            if let Source::OAuth(cache) = &self.credential.source {
                let removed = match std::fs::remove_file(cache) {
                    Ok(()) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                };
                self.log
                    .debug(format_args!("dropped the cached login {}", cache.display()));
                return Error::new(format!(
                    "the server refused the cached login (401: {message}); {}; run the \
                     command again to log in",
                    if removed {
                        "it was removed"
                    } else {
                        "it could not be removed"
                    }
                ));
            }
            return Error::new(format!(
                "the server refused the credential from {} (401: {message})",
                self.credential.source
            ));
        }
        Error::new(format!("{message} (HTTP {})", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_never_show_tokens() {
        let body = serde_json::json!({
            "id": "x", "accessToken": "apiv1_secret",
            "nested": [{"access_token": "jwt", "ok": 1}]
        });
        let shown = redacted(&body).to_string();
        assert!(
            !shown.contains("apiv1_secret") && !shown.contains("jwt"),
            "{shown}"
        );
        assert!(shown.contains("\"ok\":1"));
    }
}
