//! influxctl's `config.toml`: `[[profile]]` entries, read strictly (an unknown key is an
//! error naming it, as influxctl does since 2.0.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;
use super::output::clean;

/// A secret read from the configuration; never printed.
#[derive(Clone, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profile: Vec<Profile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// `clustered` or `dedicated`.
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<Port>,
    /// Used by influxctl's `query`/`write`, which tollgate does not serve; accepted.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for influxctl's query and write, not served here"
    )]
    pub database: Option<String>,
    /// Database token for `query`/`write`; accepted, never used here.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for influxctl's query and write, not served here"
    )]
    pub token: Option<Secret>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub mgmt_token: Option<Secret>,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub auth: Auth,
}

/// `port = "8086"` (the documented form) or `port = 8086`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Port {
    Number(i64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Skip verification of the server's certificate.
    #[serde(default)]
    pub insecure: bool,
    /// Plain HTTP.
    #[serde(default)]
    pub disable: bool,
    /// Client certificate (PEM), with `key`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Extra root CA certificates (PEM).
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub oauth2: Option<OAuth2>,
    #[serde(default)]
    pub token: Option<TokenFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Extra parameters sent to the device endpoint (e.g. Auth0's `audience`).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    pub token_url: String,
    pub device_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    pub token_file: PathBuf,
}

/// The default `config.toml`, as influxctl (Go's `os.UserConfigDir`) finds it.
pub fn default_path() -> Result<PathBuf, Error> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    };
    let dir = if cfg!(target_os = "windows") {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".config")))
    };
    dir.map(|d| d.join("influxctl").join("config.toml"))
        .ok_or_else(|| {
            Error::new("cannot find the default config.toml: $HOME is not set; pass --config")
        })
}

/// Where and what, never the line's text nor the value: the toml crate's own message
/// quotes the source line, which may hold `mgmt_token`.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> Error {
    let at = error.span().map_or_else(String::new, |span| {
        let before = text.get(..span.start).unwrap_or(text);
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        format!(
            " line {}, column {}:",
            before.matches('\n').count() + 1,
            column + 1
        )
    });
    let message = error.message().trim_end();
    // serde's `invalid type: string "<value>", expected …`
    let message = match message
        .split_once(": ")
        .zip(message.rsplit_once(", expected "))
    {
        Some(((problem, _), (_, expected))) if problem.starts_with("invalid") => {
            format!("{problem}: expected {expected}")
        }
        _ if message.starts_with("unknown variant") => "unknown value".to_owned(),
        _ => message.to_owned(),
    };
    Error::new(format!("config {}:{at} {message}", path.display()))
}

/// Reads `path` and returns the profile called `name`.
pub fn load(path: &Path, name: &str) -> Result<Profile, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(format!(
                "no config file at {}; create one with a [[profile]] entry or pass --config",
                path.display()
            ))
        } else {
            Error::new(format!("cannot read config {}: {e}", path.display()))
        }
    })?;
    let file: File = toml::from_str(&text).map_err(|e| syntax_error(path, &text, &e))?;
    let names: Vec<&str> = file.profile.iter().map(|p| p.name.as_str()).collect();
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
        .map(|(_, n)| *n)
    {
        return Err(Error::new(format!(
            "config {}: profile {:?} is defined twice",
            path.display(),
            clean(dup)
        )));
    }
    let known = names
        .iter()
        .map(|n| format!("{:?}", clean(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let profile = file
        .profile
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            Error::new(format!(
                "profile {:?} not found in {} (profiles: {})",
                clean(name),
                path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known
                }
            ))
        })?;
    profile.validate(path)?;
    Ok(profile)
}

impl Profile {
    fn validate(&self, path: &Path) -> Result<(), Error> {
        let at = |message: String| {
            Error::new(format!(
                "config {}, profile {:?}: {message}",
                path.display(),
                clean(&self.name)
            ))
        };
        if let Some(product) = &self.product
            && !matches!(product.as_str(), "clustered" | "dedicated" | "")
        {
            return Err(at(format!(
                "product must be \"clustered\" or \"dedicated\", not {:?}",
                clean(product)
            )));
        }
        self.port().map_err(at)?;
        if let Some(host) = &self.host
            && (host.contains("://") || host.contains('/'))
        {
            return Err(at(format!(
                "host must be a host name without a scheme or path, not {:?} (HTTPS is the \
                 default; [profile.tls] disable = true gives HTTP)",
                clean(host)
            )));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(at("[profile.tls] cert and key go together".to_owned()));
        }
        if let Some(oauth) = &self.auth.oauth2 {
            if oauth.client_id.trim().is_empty() {
                return Err(at("[profile.auth.oauth2] client_id is empty".to_owned()));
            }
            for (key, url) in [
                ("device_url", &oauth.device_url),
                ("token_url", &oauth.token_url),
            ] {
                check_idp_url(url).map_err(|m| at(format!("[profile.auth.oauth2] {key}: {m}")))?;
            }
        }
        Ok(())
    }

    /// The port, or `None` for the scheme's default.
    pub fn port(&self) -> Result<Option<u16>, String> {
        let bad = |shown: String| format!("port must be a number from 1 to 65535, not {shown}");
        match &self.port {
            None => Ok(None),
            Some(Port::Text(t)) if t.trim().is_empty() => Ok(None),
            Some(Port::Text(t)) => match t.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(bad(format!("{:?}", clean(t)))),
                Ok(p) => Ok(Some(p)),
            },
            Some(Port::Number(n)) => match u16::try_from(*n) {
                Ok(0) | Err(_) => Err(bad(n.to_string())),
                Ok(p) => Ok(Some(p)),
            },
        }
    }

    /// The server's base URL: `https://host:port/`, or `http://…` with `[profile.tls] disable`.
    pub fn base_url(&self) -> Result<reqwest::Url, Error> {
        let host = self
            .host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::new(format!(
                    "profile {:?} has no host; set host (and port) in config.toml",
                    clean(&self.name)
                ))
            })?;
        let scheme = if self.tls.disable { "http" } else { "https" };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let port = self.port().map_err(Error::new)?;
        let text = match port {
            Some(port) => format!("{scheme}://{host}:{port}/"),
            None => format!("{scheme}://{host}/"),
        };
        reqwest::Url::parse(&text).map_err(|e| {
            Error::new(format!(
                "profile {:?}: host {:?} is not a valid host name: {e}",
                clean(&self.name),
                clean(&host)
            ))
        })
    }
}

/// Identity-provider endpoints carry device codes and tokens: HTTPS, or HTTP to this machine.
fn check_idp_url(url: &str) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{:?} is not a URL: {e}", clean(url)))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(format!(
            "{:?} must be an https URL (plain http only to this machine)",
            clean(url)
        )),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_documented_example_loads() {
        let (_dir, path) = write(
            r#"
[[profile]]
    name = "default"
    product = "clustered"
    host = "cluster-host.com"
    port = "8086"
    [profile.tls]
        insecure = false
    [profile.auth.oauth2]
        client_id  = "OAUTH_CLIENT_ID"
        scopes     = [""]
        parameters = { audience = "" }
        token_url  = "https://idp/oauth2/v2/token"
        device_url = "https://idp/oauth2/v2/auth/device"

[[profile]]
    name = "bypass"
    host = "::1"
    port = 8443
    [profile.auth.token]
        token_file = "/path/token.json"
"#,
        );
        let p = load(&path, "default").unwrap();
        assert_eq!(
            p.base_url().unwrap().as_str(),
            "https://cluster-host.com:8086/"
        );
        assert_eq!(p.auth.oauth2.unwrap().client_id, "OAUTH_CLIENT_ID");
        let p = load(&path, "bypass").unwrap();
        assert_eq!(p.base_url().unwrap().as_str(), "https://[::1]:8443/");
    }

    #[test]
    fn unknown_keys_missing_profiles_and_bad_values_are_named() {
        let (_d, path) =
            write("[[profile]]\nname = \"default\"\nhost = \"h\"\nclient_secret = \"x\"\n");
        let e = load(&path, "default").unwrap_err().to_string();
        assert!(e.contains("unknown field `client_secret`"), "{e}");
        let (_d, path) = write("[[profile]]\nname = \"default\"\n[profile.tls]\nverify = true\n");
        let e = load(&path, "default").unwrap_err().to_string();
        assert!(e.contains("unknown field `verify`"), "{e}");
        let (_d, path) = write("[[profile]]\nname = \"default\"\nhost = \"h\"\n");
        let e = load(&path, "prod").unwrap_err().to_string();
        assert!(
            e.contains(r#"profile "prod" not found"#) && e.contains(r#""default""#),
            "{e}"
        );
        let (_d, path) = write("[[profile]]\nname = \"default\"\nhost = \"h\"\nport = \"http\"\n");
        let e = load(&path, "default").unwrap_err().to_string();
        assert!(e.contains("port must be a number"), "{e}");
        let (_d, path) = write("[[profile]]\nname = \"default\"\nhost = \"https://h\"\n");
        let e = load(&path, "default").unwrap_err().to_string();
        assert!(e.contains("without a scheme"), "{e}");
        let (_d, path) = write(
            "[[profile]]\nname = \"default\"\n[profile.auth.oauth2]\nclient_id = \"c\"\ntoken_url = \"http://idp.example/token\"\ndevice_url = \"https://idp.example/device\"\n",
        );
        let e = load(&path, "default").unwrap_err().to_string();
        assert!(e.contains("token_url") && e.contains("https"), "{e}");
    }

    #[test]
    fn the_readme_example_loads() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Command line (influxctl)")
            .nth(1)
            .expect("the README's influxctl section");
        let example = section
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a toml block");
        let (_dir, path) = write(example);
        let p = load(&path, "default").unwrap();
        assert_eq!(
            p.base_url().unwrap().as_str(),
            "https://tollgate.example.com:8086/"
        );
        assert!(p.auth.oauth2.is_some());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("apiv1_secret".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
    }
}
