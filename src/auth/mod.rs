//! Who is calling, for every surface, with no HTTP types: credentials, one `authenticate`,
//! and the data-path grant rule. Uses `token`, `verify`, `oauth`, `identity`,
//! `tenant` and `telemetry`; never `api` or `app`.

pub mod credential;
pub mod data_path;
pub mod grant;
pub mod influxql;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use credential::{Credential, CredentialError, Scheme};

use crate::identity::directory::Directory;
use crate::identity::{Group, Principal};
use crate::oauth::{self, JwtError, OAuth};
use crate::token::{Token, TokenKind, Unusable};
use crate::verify::{Rejection, Verifier};

/// A verified caller.
#[derive(Debug)]
pub enum Authenticated {
    /// The operator token, a manual management token, or a listed OAuth user.
    Management(Principal),
    /// A database token (a v2 authorization).
    Database(Arc<Token>),
}

impl Authenticated {
    /// The non-secret identity recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Authenticated::Management(principal) => principal.actor(),
            Authenticated::Database(token) => format!("token:{}", token.id),
        }
    }

    /// The management principal; a database token is refused, naming it.
    pub fn into_management(self) -> Result<Principal, AuthFailure> {
        match self {
            Authenticated::Management(principal) => Ok(principal),
            Authenticated::Database(token) => Err(AuthFailure {
                actor: Some(format!("token:{}", token.id)),
                reason: Reason::DatabaseToken,
                kind: Some(TokenKind::Database),
            }),
        }
    }
}

/// Why a credential was refused, with what a surface needs to word its answer.
#[derive(Debug)]
pub struct AuthFailure {
    pub reason: Reason,
    /// Named only when the credential itself verified (a database token where a management
    /// one is needed, a valid JWT for an unlisted user): only those refusals are audited, so
    /// an unauthenticated flood writes no rows and cannot name actors.
    pub actor: Option<String>,
    /// The kind of token presented, when it carried a kind prefix.
    pub kind: Option<TokenKind>,
}

/// Why, in machine-readable form; [`Reason::as_str`] is the metrics label.
#[derive(Debug)]
pub enum Reason {
    NoCredential(CredentialError),
    Malformed,
    Unknown,
    /// A live token id with the wrong secret: answered exactly as [`Reason::Unknown`].
    WrongSecret,
    /// Too many wrong secrets from this address: retry after this long.
    RateLimited(Duration),
    Revoked,
    Expired,
    Inactive,
    /// The v2 user that owns the token is inactive or deleted.
    OwnerInactive,
    /// A database token where a management credential is needed.
    DatabaseToken,
    /// A valid JWT naming a user not listed for this cluster (the user id).
    UnlistedUser(String),
    /// A JWT sent with `Token` instead of `Bearer`.
    JwtScheme,
    /// A JWT, and no identity provider is configured.
    OAuthOff,
    JwtInvalid(JwtError),
    Unavailable(Outage),
}

/// Our own failure, not the caller's.
#[derive(Debug)]
pub enum Outage {
    /// The store or the hashing pool; the detail is for the log only.
    Internal(String),
    /// An identity provider's keys have not loaded; its error is fit to show.
    IdentityProvider(JwtError),
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outage::Internal(detail) => f.write_str(detail),
            Outage::IdentityProvider(e) => write!(f, "{e}"),
        }
    }
}

impl Reason {
    /// A stable label for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::NoCredential(_) => "no_credential",
            Reason::Malformed => "malformed",
            Reason::Unknown => "not_found",
            Reason::WrongSecret => "wrong_secret",
            Reason::RateLimited(_) => "rate_limited",
            Reason::Revoked => "revoked",
            Reason::Expired => "expired",
            Reason::Inactive => "inactive",
            Reason::OwnerInactive => "user_inactive",
            Reason::DatabaseToken => "database_token",
            Reason::UnlistedUser(_) => "unlisted_user",
            Reason::JwtScheme => "jwt_scheme",
            Reason::OAuthOff => "oauth_off",
            Reason::JwtInvalid(_) => "jwt_invalid",
            Reason::Unavailable(_) => "unavailable",
        }
    }
}

impl Reason {
    /// The decision reason reported by the data path (`/authz`, `/api/v0/authorize`), as
    /// API-key services word them; a missing or unreadable credential is `malformed`.
    pub fn decision(&self) -> &'static str {
        match self {
            Reason::NoCredential(_)
            | Reason::Malformed
            | Reason::JwtScheme
            | Reason::OAuthOff
            | Reason::JwtInvalid(_) => "malformed",
            Reason::Unknown | Reason::UnlistedUser(_) => "not_found",
            Reason::WrongSecret => "wrong_secret",
            Reason::RateLimited(_) => "rate_limited",
            Reason::Revoked => "revoked",
            Reason::Expired => "expired",
            Reason::Inactive => "inactive",
            Reason::OwnerInactive => "user_inactive",
            Reason::DatabaseToken => "forbidden",
            Reason::Unavailable(_) => "unavailable",
        }
    }
}

impl AuthFailure {
    fn unverified(reason: Reason, kind: Option<TokenKind>) -> Self {
        AuthFailure {
            reason,
            actor: None,
            kind,
        }
    }

    /// No credential could be read from the request.
    pub fn no_credential(error: CredentialError) -> Self {
        Self::unverified(Reason::NoCredential(error), None)
    }

    /// The verifier's refusal of a token of `kind`.
    fn rejected(rejection: Rejection, kind: TokenKind) -> Self {
        let reason = match rejection {
            Rejection::Malformed => Reason::Malformed,
            Rejection::NotFound => Reason::Unknown,
            Rejection::WrongSecret => Reason::WrongSecret,
            Rejection::RateLimited(wait) => Reason::RateLimited(wait),
            Rejection::Unusable(Unusable::Revoked) => Reason::Revoked,
            Rejection::Unusable(Unusable::Expired) => Reason::Expired,
            Rejection::Unusable(Unusable::Inactive) => Reason::Inactive,
            Rejection::Unusable(Unusable::OwnerInactive) => Reason::OwnerInactive,
            Rejection::Unavailable(detail) => Reason::Unavailable(Outage::Internal(detail)),
        };
        Self::unverified(reason, Some(kind))
    }

    /// Our own failure (answered 503, neither audited nor counted as a refusal).
    pub fn outage(&self) -> Option<&Outage> {
        match &self.reason {
            Reason::Unavailable(outage) => Some(outage),
            _ => None,
        }
    }

    /// A refusal of a credential that did not verify and was not our failure: what the
    /// refusal counters count.
    pub fn counted(&self) -> bool {
        self.actor.is_none() && self.outage().is_none()
    }
}

/// Verifies credentials: tokens through the [`Verifier`], JWTs through the identity
/// providers and the list of users. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
    oauth: Option<OAuth>,
    directory: Directory,
}

impl Authenticator {
    pub fn new(verifier: Verifier, oauth: Option<OAuth>, directory: Directory) -> Self {
        Authenticator {
            verifier,
            oauth,
            directory,
        }
    }

    /// Who `credential` is. `peer`, the client the call came from, pays for failures
    /// (see [`crate::verify::limits`]).
    pub async fn authenticate(
        &self,
        credential: &Credential,
        peer: Option<IpAddr>,
    ) -> Result<Authenticated, AuthFailure> {
        let Some(kind) = TokenKind::from_token(&credential.secret) else {
            return self.authenticate_jwt(credential).await;
        };
        let token = self
            .verifier
            .verify(&credential.secret, &[kind], peer)
            .await
            .map_err(|rejection| AuthFailure::rejected(rejection, kind))?;
        Ok(match kind {
            TokenKind::Database => Authenticated::Database(token),
            TokenKind::Management if token.operator => {
                Authenticated::Management(Principal::Operator {
                    token_id: token.id.clone(),
                })
            }
            TokenKind::Management => Authenticated::Management(Principal::ManagementToken {
                token_id: token.id.clone(),
            }),
        })
    }

    /// A database token as a data-path caller presents it, for `client` (whose failures
    /// are limited).
    pub async fn database_token(
        &self,
        presented: &str,
        client: Option<IpAddr>,
    ) -> Result<Arc<Token>, AuthFailure> {
        self.verifier
            .verify(presented, &[TokenKind::Database], client)
            .await
            .map_err(|rejection| AuthFailure::rejected(rejection, TokenKind::Database))
    }

    /// An identity provider's access token: Bearer only, from a configured issuer, naming a
    /// user listed for this cluster.
    async fn authenticate_jwt(
        &self,
        credential: &Credential,
    ) -> Result<Authenticated, AuthFailure> {
        let refused = |reason| Err(AuthFailure::unverified(reason, None));
        if !oauth::looks_like_jwt(&credential.secret) {
            return refused(Reason::Malformed);
        }
        if credential.scheme != Scheme::Bearer {
            return refused(Reason::JwtScheme);
        }
        let Some(oauth) = &self.oauth else {
            return refused(Reason::OAuthOff);
        };
        let identity = match oauth.verify(&credential.secret).await {
            Ok(identity) => identity,
            Err(e @ JwtError::KeysUnavailable(_)) => {
                crate::telemetry::unavailable(&e.to_string());
                return refused(Reason::Unavailable(Outage::IdentityProvider(e)));
            }
            Err(e) => {
                tracing::debug!(reason = %e, "JWT refused");
                return refused(Reason::JwtInvalid(e));
            }
        };
        let user = match self.directory.find(&identity.user_id).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return Err(AuthFailure {
                    actor: Some(format!("user:{}", identity.user_id)),
                    reason: Reason::UnlistedUser(identity.user_id),
                    kind: None,
                });
            }
            Err(e) => return refused(Reason::Unavailable(Outage::Internal(e.to_string()))),
        };
        let mut groups = user.groups;
        for name in &identity.claimed_groups {
            if let Some(group) = Group::parse(name)
                && !groups.contains(&group)
            {
                groups.push(group);
            }
        }
        Ok(Authenticated::Management(Principal::User {
            id: user.id,
            groups,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_the_metric_labels() {
        let labels: Vec<&str> = [
            Reason::NoCredential(CredentialError::Missing),
            Reason::Malformed,
            Reason::Unknown,
            Reason::WrongSecret,
            Reason::RateLimited(Duration::from_secs(1)),
            Reason::Revoked,
            Reason::Expired,
            Reason::Inactive,
            Reason::OwnerInactive,
            Reason::DatabaseToken,
            Reason::UnlistedUser("u".into()),
            Reason::JwtScheme,
            Reason::OAuthOff,
            Reason::JwtInvalid(JwtError::Expired),
            Reason::Unavailable(Outage::Internal("x".into())),
        ]
        .iter()
        .map(Reason::as_str)
        .collect();
        assert_eq!(
            labels,
            [
                "no_credential",
                "malformed",
                "not_found",
                "wrong_secret",
                "rate_limited",
                "revoked",
                "expired",
                "inactive",
                "user_inactive",
                "database_token",
                "unlisted_user",
                "jwt_scheme",
                "oauth_off",
                "jwt_invalid",
                "unavailable",
            ]
        );
    }

    #[test]
    fn only_unverified_refusals_that_are_not_our_failure_are_counted() {
        let unknown = AuthFailure::rejected(Rejection::NotFound, TokenKind::Database);
        assert!(unknown.counted());
        let outage =
            AuthFailure::rejected(Rejection::Unavailable("db".into()), TokenKind::Database);
        assert!(!outage.counted());
        let verified = AuthFailure {
            reason: Reason::DatabaseToken,
            actor: Some("token:x".into()),
            kind: Some(TokenKind::Database),
        };
        assert!(!verified.counted());
    }
}
