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

    /// Whether holding `self` satisfies `required`: whatever `required` would grant, `self`
    /// grants too. Write does not imply read; `instance` covers every type. Buckets follow
    /// the data path's rule ([`Permission::grants`]): every database `required` names, in every
    /// org it applies to, must be covered. Other types follow InfluxDB's `Permission.Matches`:
    /// an id binds regardless of org; an org binds every resource of the type in it.
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
        if held.kind == BUCKETS {
            return match (bucket_target(held), bucket_target(want)) {
                (Some(have), Some(need)) => have.covers(&need),
                _ => false,
            };
        }
        if let Some(id) = &held.id {
            return want.id.as_ref() == Some(id);
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

    /// Whether this permission allows `action` on `database` for a request made in `org`
    /// (`None`: no org is known). Write does not imply read. A permission with an `orgID`
    /// grants only requests in that org; one without grants in every org. A bucket
    /// permission naming both an `id` and a `name` grants nothing (it cannot be created).
    pub fn grants(&self, action: Action, database: &str, org: Option<&str>) -> bool {
        if self.action != action || self.resource.kind != BUCKETS {
            return false;
        }
        bucket_target(&self.resource).is_some_and(|target| target.grants(database, org))
    }

    /// As [`Permission::grants`], in whatever org the database is: the data path's rule
    /// (an InfluxDB 3 database has no org, and v2 writes' `org=` is ignored).
    pub fn grants_in_any_org(&self, action: Action, database: &str) -> bool {
        if self.action != action || self.resource.kind != BUCKETS {
            return false;
        }
        bucket_target(&self.resource).is_some_and(|target| target.grants_in_any_org(database))
    }

    /// Whether granting this permission needs the org a request is made in.
    pub fn is_org_scoped(&self) -> bool {
        self.resource.kind == BUCKETS && self.resource.org_id.is_some()
    }
}

/// Why a bucket permission cannot be created.
pub fn bucket_conflict(resource: &Resource) -> Option<String> {
    match (&resource.id, &resource.name) {
        (Some(id), Some(name)) if resource.kind == BUCKETS => Some(format!(
            "a buckets permission names its bucket by id or by name, not both (got id {id} and name {name:?}): tollgate binds databases by name, so send only \"name\", or only \"id\" to match that id literally"
        )),
        _ => None,
    }
}

/// What a bucket permission reaches: one database (by name, or an id matched literally) or
/// every database, in one org or in every org.
struct BucketTarget<'a> {
    database: Option<&'a str>,
    org: Option<&'a str>,
}

/// `None` for a bucket permission that names both an id and a name: it reaches nothing.
fn bucket_target(resource: &Resource) -> Option<BucketTarget<'_>> {
    let database = match (&resource.id, &resource.name) {
        (Some(_), Some(_)) => return None,
        (Some(one), None) | (None, Some(one)) => Some(one.as_str()),
        (None, None) => None,
    };
    Some(BucketTarget {
        database,
        org: resource.org_id.as_deref(),
    })
}

impl BucketTarget<'_> {
    fn grants(&self, database: &str, org: Option<&str>) -> bool {
        let in_org = self.org.is_none_or(|mine| org == Some(mine));
        in_org && self.database.is_none_or(|mine| mine == database)
    }

    fn grants_in_any_org(&self, database: &str) -> bool {
        self.database.is_none_or(|mine| mine == database)
    }

    /// Every (database, org) `other` grants, `self` grants.
    fn covers(&self, other: &BucketTarget<'_>) -> bool {
        let org = self.org.is_none_or(|mine| other.org == Some(mine));
        let database = self
            .database
            .is_none_or(|mine| other.database == Some(mine));
        org && database
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_grant_covers_only_that_database_and_action() {
        let p = Permission::database(Action::Write, Some("db1"));
        assert!(p.grants(Action::Write, "db1", None));
        assert!(!p.grants(Action::Write, "db2", None));
        assert!(!p.grants(Action::Read, "db1", None));
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
        assert!(p.grants(Action::Read, "anything", None));
        assert!(p.grants(Action::Read, "anything", Some("00000000000000a1")));
        assert_eq!(p.database_name(), Some("*"));
    }

    fn bucket(
        action: Action,
        id: Option<&str>,
        name: Option<&str>,
        org: Option<&str>,
    ) -> Permission {
        Permission::new(
            action,
            Resource {
                kind: BUCKETS.to_owned(),
                id: id.map(str::to_owned),
                name: name.map(str::to_owned),
                org_id: org.map(str::to_owned),
            },
        )
    }

    #[test]
    fn a_bucket_permission_with_an_id_and_a_name_matches_and_grants_nothing() {
        let held = bucket(Action::Write, Some("00000000000000cc"), None, Some("a"));
        let both = bucket(
            Action::Write,
            Some("00000000000000cc"),
            Some("production"),
            Some("a"),
        );
        assert!(
            !held.matches(&both),
            "holding the id must not cover the name"
        );
        let by_name = bucket(Action::Write, None, Some("production"), Some("a"));
        assert!(
            !by_name.matches(&both),
            "holding the name must not cover the id"
        );
        assert!(!both.grants(Action::Write, "production", Some("a")));
        assert!(!both.grants(Action::Write, "00000000000000cc", Some("a")));
        assert!(bucket_conflict(&both.resource).is_some());
        assert!(bucket_conflict(&held.resource).is_none());
    }

    #[test]
    fn an_org_wide_bucket_grant_covers_only_requests_in_its_org() {
        let org_wide = bucket(Action::Write, None, None, Some("a"));
        assert!(org_wide.grants(Action::Write, "production", Some("a")));
        assert!(!org_wide.grants(Action::Write, "production", Some("b")));
        assert!(!org_wide.grants(Action::Write, "production", None));
        assert!(org_wide.matches(&bucket(Action::Write, None, Some("sensors"), Some("a"))));
        assert!(!org_wide.matches(&bucket(Action::Write, None, Some("sensors"), Some("b"))));
        assert!(!org_wide.matches(&bucket(Action::Write, None, Some("sensors"), None)));
        let named = bucket(Action::Write, None, Some("sensors"), None);
        assert!(
            named.grants(Action::Write, "sensors", Some("b")),
            "no org: every org"
        );
    }

    mod rule {
        use super::*;
        use proptest::prelude::*;

        fn action() -> impl Strategy<Value = Action> {
            prop_oneof![Just(Action::Read), Just(Action::Write)]
        }

        fn pick(options: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
            proptest::option::of(proptest::sample::select(options).prop_map(str::to_owned))
        }

        fn permission() -> impl Strategy<Value = Permission> {
            let kind = prop_oneof![4 => Just(BUCKETS), 1 => Just("users"), 1 => Just(INSTANCE)];
            (
                action(),
                kind,
                pick(&["db1", "db2"]),
                pick(&["db1", "db3"]),
                pick(&["o1", "o2"]),
            )
                .prop_map(|(action, kind, id, name, org_id)| {
                    Permission::new(
                        action,
                        Resource {
                            kind: kind.to_owned(),
                            id,
                            name,
                            org_id,
                        },
                    )
                })
        }

        proptest! {
            #[test]
            fn whatever_matches_grants_nothing_the_holder_does_not(
                held in permission(),
                want in permission(),
                action in action(),
                database in proptest::sample::select(&["db1", "db2", "db3", "other"][..]),
                org in pick(&["o1", "o2", "o3"]),
            ) {
                if held.resource.kind != INSTANCE && held.matches(&want) {
                    prop_assert!(
                        !want.grants(action, database, org.as_deref())
                            || held.grants(action, database, org.as_deref()),
                        "{held:?} matches {want:?}, which grants {action:?} {database} in {org:?}"
                    );
                }
            }
        }
    }
}
