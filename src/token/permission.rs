//! One permission vocabulary for every API: `{action, resource: {type, id?, name?, orgID?}}`.
//! A database permission is type `buckets`; no name and no id means every database.

use serde::{Deserialize, Serialize};

pub const BUCKETS: &str = "buckets";
pub const INSTANCE: &str = "instance";

/// InfluxDB OSS 2.x resource types, in its `AllResourceTypes` order.
pub const RESOURCE_TYPES: [&str; 23] = [
    "authorizations",
    "buckets",
    "dashboards",
    "orgs",
    "sources",
    "tasks",
    "telegrafs",
    "users",
    "variables",
    "scrapers",
    "secrets",
    "labels",
    "views",
    "documents",
    "notificationRules",
    "notificationEndpoints",
    "checks",
    "dbrp",
    "notebooks",
    "annotations",
    "remotes",
    "replications",
    INSTANCE,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Read,
    Write,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Action::Read),
            "write" => Some(Action::Write),
            _ => None,
        }
    }

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

impl Resource {
    /// A resource of `kind`, optionally one (`id`) and optionally within an org.
    pub fn of(kind: &str, id: Option<&str>, org_id: Option<&str>) -> Self {
        Resource {
            kind: kind.to_owned(),
            id: id.map(str::to_owned),
            name: None,
            org_id: org_id.map(str::to_owned),
        }
    }
}

/// InfluxDB's path form: `orgs/<orgID>/<type>/<id>`, `orgs/<orgID>/<type>`, `<type>/<id>`
/// or `<type>`.
impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.org_id, &self.id) {
            (Some(org), Some(id)) => write!(f, "orgs/{org}/{}/{id}", self.kind),
            (Some(org), None) => write!(f, "orgs/{org}/{}", self.kind),
            (None, Some(id)) => write!(f, "{}/{id}", self.kind),
            (None, None) => f.write_str(&self.kind),
        }
    }
}

/// `action:resource`, as InfluxDB names a permission in its messages.
impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.action.as_str(), self.resource)
    }
}

impl Permission {
    pub fn new(action: Action, resource: Resource) -> Self {
        Permission { action, resource }
    }

    /// Whether holding `self` satisfies `required` (InfluxDB's `Permission.Matches`): write
    /// does not imply read; `instance` covers every type; an id binds regardless of org; an
    /// org binds every resource of the type in it. A bucket `name` (kept by tollgate, which
    /// binds databases by name) binds like an id, within its org when it has one.
    pub fn matches(&self, required: &Permission) -> bool {
        let (held, want) = (&self.resource, &required.resource);
        if self.action != required.action {
            return false;
        }
        if held.kind == INSTANCE {
            return true;
        }
        if held.kind != want.kind {
            return false;
        }
        if let Some(id) = &held.id {
            return want.id.as_ref() == Some(id);
        }
        if let Some(name) = &held.name {
            let same_org = held.org_id.is_none() || held.org_id == want.org_id;
            return same_org && want.name.as_ref() == Some(name);
        }
        match &held.org_id {
            None => true,
            Some(org) => want.org_id.as_ref() == Some(org),
        }
    }

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

    fn perm(action: Action, kind: &str, id: Option<&str>, org: Option<&str>) -> Permission {
        Permission::new(action, Resource::of(kind, id, org))
    }

    #[test]
    fn matching_follows_influxdb_rules() {
        let org = Some("00000000000000a1");
        let other = Some("00000000000000b2");
        let id = Some("00000000000000c3");
        let global = perm(Action::Read, "authorizations", None, None);
        let org_wide = perm(Action::Read, "authorizations", None, org);
        let by_id = perm(Action::Read, "authorizations", id, other);
        let want_one = perm(Action::Read, "authorizations", id, org);
        let want_in_org = perm(Action::Read, "authorizations", None, org);
        assert!(global.matches(&want_one) && global.matches(&want_in_org));
        assert!(org_wide.matches(&want_one) && org_wide.matches(&want_in_org));
        assert!(!org_wide.matches(&perm(Action::Read, "authorizations", None, other)));
        assert!(by_id.matches(&want_one), "an id binds regardless of org");
        assert!(!by_id.matches(&want_in_org));
        assert!(!global.matches(&perm(Action::Write, "authorizations", None, None)));
        assert!(!global.matches(&perm(Action::Read, "buckets", None, None)));
        let users_in_org = perm(Action::Read, "users", None, org);
        assert!(!users_in_org.matches(&perm(Action::Read, "users", id, None)));
        let instance = perm(Action::Write, INSTANCE, None, None);
        assert!(instance.matches(&perm(Action::Write, "dashboards", id, org)));
        assert!(!instance.matches(&perm(Action::Read, "dashboards", id, org)));
    }

    #[test]
    fn a_named_bucket_grant_matches_only_that_name() {
        let sensors = Permission::database(Action::Write, Some("sensors"));
        assert!(sensors.matches(&Permission::database(Action::Write, Some("sensors"))));
        assert!(!sensors.matches(&Permission::database(Action::Write, Some("other"))));
        assert!(!sensors.matches(&Permission::database(Action::Write, None)));
        assert!(Permission::database(Action::Write, None).matches(&sensors));
    }

    #[test]
    fn permissions_print_as_influxdb_names_them() {
        let org = Some("00000000000000a1");
        let id = Some("00000000000000c3");
        assert_eq!(
            perm(Action::Write, "buckets", id, org).to_string(),
            "write:orgs/00000000000000a1/buckets/00000000000000c3"
        );
        assert_eq!(
            perm(Action::Read, "authorizations", None, org).to_string(),
            "read:orgs/00000000000000a1/authorizations"
        );
        assert_eq!(
            perm(Action::Write, "users", id, None).to_string(),
            "write:users/00000000000000c3"
        );
        assert_eq!(
            perm(Action::Write, "users", None, None).to_string(),
            "write:users"
        );
    }

    #[test]
    fn a_wildcard_grant_covers_every_database() {
        let p = Permission::database(Action::Read, None);
        assert!(p.grants(Action::Read, "anything"));
        assert_eq!(p.database_name(), Some("*"));
    }
}
