//! One permission vocabulary for every API: `{action, resource: {type, id?, name?, orgID?}}`.
//! A database permission is type `buckets`; no name and no id means every database.

use serde::{Deserialize, Serialize};

pub const BUCKETS: &str = "buckets";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Read,
    Write,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "orgID", default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Permission {
    pub action: Action,
    pub resource: Resource,
}

impl Permission {
    /// `database` of `None` means every database (the Clustered `*`).
    pub fn database(action: Action, database: Option<&str>) -> Self {
        Permission {
            action,
            resource: Resource {
                kind: BUCKETS.to_owned(),
                id: None,
                name: database.map(str::to_owned),
                org_id: None,
            },
        }
    }

    /// The Clustered view of a database permission: its name, or `*` for every database.
    /// `None` for permissions on other resource types.
    pub fn database_name(&self) -> Option<&str> {
        if self.resource.kind != BUCKETS {
            return None;
        }
        match (&self.resource.name, &self.resource.id) {
            (Some(name), _) => Some(name),
            (None, Some(id)) => Some(id),
            (None, None) => Some("*"),
        }
    }

    /// Whether this permission allows `action` on the database called (or with id) `database`.
    /// Write does not imply read.
    pub fn grants(&self, action: Action, database: &str) -> bool {
        if self.action != action || self.resource.kind != BUCKETS {
            return false;
        }
        match (&self.resource.name, &self.resource.id) {
            (None, None) => true,
            (name, id) => name.as_deref() == Some(database) || id.as_deref() == Some(database),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_grant_covers_only_that_database_and_action() {
        let p = Permission::database(Action::Write, Some("db1"));
        assert!(p.grants(Action::Write, "db1"));
        assert!(!p.grants(Action::Write, "db2"));
        assert!(!p.grants(Action::Read, "db1"));
    }

    #[test]
    fn a_wildcard_grant_covers_every_database() {
        let p = Permission::database(Action::Read, None);
        assert!(p.grants(Action::Read, "anything"));
        assert_eq!(p.database_name(), Some("*"));
    }
}
