//! InfluxDB v2 tenants: organizations, v2 users, first-time setup, and what a v2 caller holds.
//! v2 users are the owners of v2 authorizations; they are not the identity provider's users
//! of `[[users]]`, which administer the cluster.

pub mod authorizations;
pub mod model;
pub mod service;

pub use model::{Org, V2User};

use crate::error::Error;
use crate::identity::Principal;
use crate::token::model::{Token, UserId};
use crate::token::permission::{Action, Permission, Resource};

/// An authenticated caller of the v2 API and the permissions it holds.
#[derive(Debug, Clone)]
pub enum Holder {
    /// Management identities (operator token, manual management tokens, OAuth Admins) act as
    /// InfluxDB's operator here: every permission.
    Management(Principal),
    /// A v2 authorization (a database token): exactly its permissions.
    Token(std::sync::Arc<Token>),
}

impl Holder {
    pub fn allows(&self, required: &Permission) -> bool {
        match self {
            Holder::Management(_) => true,
            Holder::Token(token) => token.permissions.iter().any(|p| p.matches(required)),
        }
    }

    /// 401 `<perm> is unauthorized` unless the caller holds `required`.
    pub fn require(&self, action: Action, resource: Resource) -> Result<(), Error> {
        let required = Permission::new(action, resource);
        if self.allows(&required) {
            Ok(())
        } else {
            Err(unauthorized(&required))
        }
    }

    /// The v2 user the caller acts as; management identities have none.
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            Holder::Management(_) => None,
            Holder::Token(token) => token.user_id.as_ref(),
        }
    }

    /// The non-secret identity recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Holder::Management(principal) => principal.actor(),
            Holder::Token(token) => format!("token:{}", token.id),
        }
    }
}

pub fn unauthorized(required: &Permission) -> Error {
    Error::Unauthorized(format!("{required} is unauthorized"))
}

/// The permissions InfluxDB's setup gives the first user's token: read and write on every
/// resource type but `instance`, in every org.
pub fn operator_permissions() -> Vec<Permission> {
    crate::token::permission::RESOURCE_TYPES
        .iter()
        .filter(|kind| **kind != crate::token::permission::INSTANCE)
        .flat_map(|kind| {
            [Action::Read, Action::Write]
                .map(|action| Permission::new(action, Resource::of(kind, None, None)))
        })
        .collect()
}

/// Names of users and orgs: non-empty, at most 256 characters, no control characters.
pub fn name(what: &str, text: &str) -> Result<String, Error> {
    const MAX_NAME_CHARS: usize = 256;
    if text.trim().is_empty() {
        return Err(Error::Invalid(format!("{what} name is empty")));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "{what} name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{what} name must not contain control characters"
        )));
    }
    // Requests name their org by name or by id: a name that reads as an id would be ambiguous.
    if what == "org" && crate::token::model::OrgId::parse_v2(text).is_ok() {
        return Err(Error::Invalid(
            "org name must not be 16 hexadecimal characters: it would read as an org id".into(),
        ));
    }
    Ok(text.to_owned())
}
