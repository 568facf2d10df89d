//! A real local identity provider: OIDC discovery and JWKS over HTTP on port 0, signing
//! with RSA and EC keys generated for the test. Keys can rotate and the JWKS can fail.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub public_pem: Vec<u8>,
    jwk: Jwk,
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command generates the test keys");
    if let Some(input) = input {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl SigningKey {
    pub fn generate(alg: Algorithm, kid: &str) -> SigningKey {
        let private = match alg {
            Algorithm::RS256 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ],
                None,
            ),
            Algorithm::ES256 => openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ],
                None,
            ),
            other => panic!("no test key for {other:?}"),
        };
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private));
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&private).unwrap(),
            _ => EncodingKey::from_ec_pem(&private).unwrap(),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        SigningKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            public_pem,
            jwk,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct IdpState {
    issuer: String,
    keys: Mutex<Vec<SigningKey>>,
    jwks_requests: AtomicUsize,
    jwks_down: AtomicBool,
}

pub struct Idp {
    pub issuer: String,
    state: Arc<IdpState>,
}

impl Idp {
    /// Serves an issuer at `base + issuer_path` (`"/"` gives an Auth0-style trailing slash).
    pub async fn start(issuer_path: &str, keys: Vec<SigningKey>) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{issuer_path}");
        let state = Arc::new(IdpState {
            issuer: issuer.clone(),
            keys: Mutex::new(keys),
            jwks_requests: AtomicUsize::new(0),
            jwks_down: AtomicBool::new(false),
        });
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer_path.trim_end_matches('/')
        );
        let app = axum::Router::new()
            .route(&discovery, get(discovery_document))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Idp { issuer, state }
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    pub fn set_jwks_down(&self, down: bool) {
        self.state.jwks_down.store(down, Ordering::SeqCst);
    }

    /// Replaces the published keys (a rotation: new `kid`s appear, old ones go).
    pub fn publish(&self, keys: Vec<SigningKey>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    /// Claims a well-behaved provider would issue for `user` to `audience`, valid for an hour.
    pub fn claims(&self, user: &str, audience: &str) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({
            "iss": self.issuer,
            "sub": user,
            "aud": audience,
            "iat": now,
            "nbf": now - 1,
            "exp": now + 3600,
        })
    }
}

async fn discovery_document(State(state): State<Arc<IdpState>>) -> Json<Value> {
    let base = state
        .issuer
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{base}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Response {
    state.jwks_requests.fetch_add(1, Ordering::SeqCst);
    if state.jwks_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    Json(JwkSet { keys }).into_response()
}

/// The audience every test identity provider's tokens are for.
pub const AUDIENCE: &str = "https://tollgate.test/api";

/// A user of `[[users]]`, named "Test <id>".
pub fn listed_user(id: &str, groups: &[&str]) -> tollgate::config::UserConfig {
    tollgate::config::UserConfig {
        id: id.into(),
        first_name: "Test".into(),
        last_name: id.into(),
        email: format!("{id}@example.com"),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// `idp` as a configured issuer: tokens for [`AUDIENCE`], RS256 or ES256, the user in `sub`.
pub fn issuer(idp: &Idp) -> tollgate::config::IssuerConfig {
    tollgate::config::IssuerConfig {
        issuer: idp.issuer.clone(),
        audience: vec![AUDIENCE.into()],
        jwks_url: None,
        algorithms: vec!["RS256".into(), "ES256".into()],
        leeway_seconds: 60,
        user_claims: vec!["sub".into()],
        groups_claim: None,
    }
}
