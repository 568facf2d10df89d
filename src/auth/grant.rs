//! The data-path rule: which requested permissions a database token grants, each request's
//! org resolved once and their number bounded. Uses `token` and `tenant`; no HTTP types.

use std::future::Future;

use super::{AuthFailure, Authenticator};
use crate::error::Error;
use crate::tenant::service::Tenants;
use crate::token::{Action, OrgId, Permission, TokenId};

/// Distinct orgs one request may name: each costs a lookup.
pub const MAX_ORGS_PER_REQUEST: usize = 16;

/// One permission asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub action: Action,
    pub database: String,
    /// The org the request is made in, by id or name; `None` is the org setup made.
    pub org: Option<String>,
}

/// The answer for a token.
#[derive(Debug)]
pub enum Decision {
    /// The token is not a live database token (or could not be checked: see
    /// [`AuthFailure::outage`]).
    Refused(AuthFailure),
    /// The requested permissions it grants, in the order asked (possibly none).
    Valid {
        token_id: TokenId,
        granted: Vec<Requested>,
    },
}

impl Decision {
    /// The reason word: `valid`, `forbidden` (a live token granting none of what was asked),
    /// or why the token was refused.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Refused(failure) => failure.reason.decision(),
            Decision::Valid { granted, .. } if granted.is_empty() => "forbidden",
            Decision::Valid { .. } => "valid",
        }
    }
}

/// Decides which of `requested` the token `presented` grants; `client` pays for failures.
pub async fn decide(
    authenticator: &Authenticator,
    tenants: &Tenants,
    presented: &str,
    requested: Vec<Requested>,
    client: Option<std::net::IpAddr>,
) -> Result<Decision, Error> {
    if let Some(index) = requested.iter().position(|p| p.database.is_empty()) {
        return Err(Error::Invalid(format!(
            "permissions[{index}].database must not be empty"
        )));
    }
    let token = match authenticator.database_token(presented, client).await {
        Ok(token) => token,
        Err(failure) => {
            if failure.outage().is_none() {
                tracing::debug!(reason = failure.reason.as_str(), "authorize: invalid token");
            }
            return Ok(Decision::Refused(failure));
        }
    };
    let granted = granted(&token.permissions, requested, |named| {
        let tenants = tenants.clone();
        async move { tenants.request_org(named.as_deref()).await }
    })
    .await?;
    Ok(Decision::Valid {
        token_id: token.id.clone(),
        granted,
    })
}

/// The requested permissions that `permissions` grant. Only org-scoped permissions look at
/// a request's org: `resolve` turns each distinct org name (or none) into an org id, once.
pub async fn granted<F, Fut>(
    permissions: &[Permission],
    requested: Vec<Requested>,
    mut resolve: F,
) -> Result<Vec<Requested>, Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Option<OrgId>, Error>>,
{
    let scoped = permissions.iter().any(Permission::is_org_scoped);
    let mut resolved: Vec<(Option<String>, Option<OrgId>)> = Vec::new();
    let mut granted = Vec::new();
    for want in requested {
        let org = if scoped {
            match resolved.iter().find(|(name, _)| *name == want.org) {
                Some((_, org)) => org.clone(),
                None => {
                    if resolved.len() >= MAX_ORGS_PER_REQUEST {
                        return Err(Error::Invalid(format!(
                            "permissions may name at most {MAX_ORGS_PER_REQUEST} distinct orgs in one request"
                        )));
                    }
                    let org = resolve(want.org.clone()).await?;
                    resolved.push((want.org.clone(), org.clone()));
                    org
                }
            }
        } else {
            None
        };
        let org = org.as_ref().map(OrgId::as_str);
        if permissions
            .iter()
            .any(|have| have.grants(want.action, &want.database, org))
        {
            granted.push(want);
        }
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Resource;

    fn want(database: &str, org: Option<&str>) -> Requested {
        Requested {
            action: Action::Write,
            database: database.to_owned(),
            org: org.map(str::to_owned),
        }
    }

    fn org_id(n: u64) -> OrgId {
        OrgId::parse(&format!("{n:016x}")).unwrap()
    }

    #[tokio::test]
    async fn unscoped_permissions_grant_without_resolving_any_org() {
        let permissions = [Permission::database(Action::Write, Some("db"))];
        let got = granted(
            &permissions,
            vec![want("db", Some("a")), want("other", None)],
            |_| async { panic!("no org is looked up") },
        )
        .await
        .unwrap();
        assert_eq!(got, vec![want("db", Some("a"))]);
    }

    #[tokio::test]
    async fn org_scoped_permissions_grant_in_their_org_only_resolving_each_name_once() {
        let mut bucket = Resource::of("buckets", None, Some(org_id(1).as_str()));
        bucket.name = Some("db".into());
        let scoped = Permission::new(Action::Write, bucket);
        let mut lookups = Vec::new();
        let got = granted(
            &[scoped],
            vec![
                want("db", Some("mine")),
                want("db", Some("theirs")),
                want("db", Some("mine")),
                want("db", None),
            ],
            |named| {
                lookups.push(named.clone());
                async move {
                    Ok(match named.as_deref() {
                        Some("mine") | None => Some(org_id(1)),
                        _ => Some(org_id(2)),
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            got,
            vec![
                want("db", Some("mine")),
                want("db", Some("mine")),
                want("db", None)
            ]
        );
        assert_eq!(
            lookups,
            vec![Some("mine".into()), Some("theirs".into()), None]
        );
    }

    #[tokio::test]
    async fn a_request_naming_too_many_orgs_is_invalid_and_outages_are_ours() {
        let scoped = Permission::new(
            Action::Write,
            Resource::of("buckets", None, Some(org_id(1).as_str())),
        );
        let many: Vec<Requested> = (0..=MAX_ORGS_PER_REQUEST)
            .map(|n| want("db", Some(&format!("org{n}"))))
            .collect();
        let err = granted(std::slice::from_ref(&scoped), many, |_| async { Ok(None) })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(m) if m.contains("at most 16")));
        let err = granted(&[scoped], vec![want("db", None)], |_| async {
            Err(Error::Unavailable("down".into()))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Unavailable(source) if source.to_string() == "down"));
    }
}
