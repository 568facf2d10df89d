//! Who may do what: the principals of the management API and their rights.

pub mod directory;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::token::model::TokenId;

/// Clustered's user groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Group {
    Admin,
    Member,
    Auditor,
}

impl Group {
    pub fn parse(name: &str) -> Option<Group> {
        match name {
            "Admin" => Some(Group::Admin),
            "Member" => Some(Group::Member),
            "Auditor" => Some(Group::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Admin => "Admin",
            Group::Member => "Member",
            Group::Auditor => "Auditor",
        }
    }

    fn allows(self, right: Right) -> bool {
        match self {
            Group::Admin => true,
            Group::Member => matches!(
                right,
                Right::ReadTokens | Right::ReadUsers | Right::CreateDatabaseTokens
            ),
            Group::Auditor => matches!(
                right,
                Right::ReadTokens | Right::ReadUsers | Right::ReadAudit
            ),
        }
    }
}

/// A user allowed on this cluster, as listed in `[[users]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The identity provider's id for the user (Keycloak/Auth0 `sub`, Entra ID `oid`).
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub groups: Vec<Group>,
}

/// The audit entries that turn the users `before` into `after`, each with the user to
/// store (`None`: remove it).
pub fn changes(
    before: &[User],
    after: &[User],
    origin: &Origin,
) -> Vec<(AuditEvent, Option<User>)> {
    let mut changes = Vec::new();
    for user in after {
        let action = match before.iter().find(|b| b.id == user.id) {
            None => AuditAction::UserAdd,
            Some(old) if old != user => AuditAction::UserChange,
            Some(_) => continue,
        };
        let groups: Vec<&str> = user.groups.iter().map(|g| g.as_str()).collect();
        let groups = if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(", ")
        };
        let event = AuditEvent::new("config", action, origin)
            .target(user.id.clone())
            .detail(format!("groups: {groups}"));
        changes.push((event, Some(user.clone())));
    }
    for old in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
    {
        let event =
            AuditEvent::new("config", AuditAction::UserRemove, origin).target(old.id.clone());
        changes.push((event, None));
    }
    changes
}

/// What a management call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    ReadTokens,
    CreateDatabaseTokens,
    /// Update or revoke database tokens.
    ChangeDatabaseTokens,
    CreateManagementTokens,
    RevokeManagementTokens,
    ReadUsers,
    ReadAudit,
}

impl Right {
    pub fn describe(self) -> &'static str {
        match self {
            Right::ReadTokens => "read tokens",
            Right::CreateDatabaseTokens => "create database tokens",
            Right::ChangeDatabaseTokens => "update or revoke database tokens",
            Right::CreateManagementTokens => "create management tokens",
            Right::RevokeManagementTokens => "revoke management tokens",
            Right::ReadUsers => "read users",
            Right::ReadAudit => "read the audit log",
        }
    }
}

/// An authenticated caller of the management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The break-glass operator token: everything.
    Operator { token_id: TokenId },
    /// A manual management token: what Admin may, except minting management tokens.
    ManagementToken { token_id: TokenId },
    /// An identity-provider user listed in `[[users]]`, with that user's groups.
    User { id: String, groups: Vec<Group> },
}

impl Principal {
    pub fn may(&self, right: Right) -> bool {
        match self {
            Principal::Operator { .. } => true,
            Principal::ManagementToken { .. } => right != Right::CreateManagementTokens,
            Principal::User { groups, .. } => groups.iter().any(|g| g.allows(right)),
        }
    }

    /// Whether this caller administers the cluster: the operator token, a manual management
    /// token, or an Admin user. These act as InfluxDB's operator on the v2 API.
    pub fn is_administrator(&self) -> bool {
        match self {
            Principal::Operator { .. } | Principal::ManagementToken { .. } => true,
            Principal::User { groups, .. } => groups.contains(&Group::Admin),
        }
    }

    /// The non-secret identity recorded as the actor in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator { token_id } | Principal::ManagementToken { token_id } => {
                format!("token:{token_id}")
            }
            Principal::User { id, .. } => format!("user:{id}"),
        }
    }

    /// Who this is, in a refusal message.
    pub fn describe(&self) -> String {
        match self {
            Principal::Operator { .. } => "the operator token".to_owned(),
            Principal::ManagementToken { .. } => "a manual management token".to_owned(),
            Principal::User { id, groups } if groups.is_empty() => format!("user {id} (no groups)"),
            Principal::User { id, groups } => {
                let groups: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
                format!("user {id} (groups: {})", groups.join(", "))
            }
        }
    }

    /// What the audit log and `createdBy` name as the creator.
    pub fn creator(&self) -> String {
        match self {
            Principal::Operator { token_id } | Principal::ManagementToken { token_id } => {
                token_id.to_string()
            }
            Principal::User { id, .. } => id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(groups: &[Group]) -> Principal {
        Principal::User {
            id: "u".into(),
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn group_rights_follow_the_clustered_table() {
        let all = [
            Right::ReadTokens,
            Right::CreateDatabaseTokens,
            Right::ChangeDatabaseTokens,
            Right::CreateManagementTokens,
            Right::RevokeManagementTokens,
            Right::ReadUsers,
            Right::ReadAudit,
        ];
        assert!(all.iter().all(|r| user(&[Group::Admin]).may(*r)));
        let member: Vec<_> = all
            .iter()
            .filter(|r| user(&[Group::Member]).may(**r))
            .collect();
        assert_eq!(
            member,
            [
                &Right::ReadTokens,
                &Right::CreateDatabaseTokens,
                &Right::ReadUsers
            ]
        );
        let auditor: Vec<_> = all
            .iter()
            .filter(|r| user(&[Group::Auditor]).may(**r))
            .collect();
        assert_eq!(
            auditor,
            [&Right::ReadTokens, &Right::ReadUsers, &Right::ReadAudit]
        );
        assert!(!user(&[]).may(Right::ReadTokens));
        let manual = Principal::ManagementToken {
            token_id: TokenId::parse("0000000000000001").unwrap(),
        };
        assert!(!manual.may(Right::CreateManagementTokens));
        assert!(
            manual.may(Right::RevokeManagementTokens) && manual.may(Right::ChangeDatabaseTokens)
        );
    }
}
