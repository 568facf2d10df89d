//! v2 authorizations: database tokens owned by a v2 user in an org. Creation follows InfluxDB's
//! validation order exactly, so that the first failure a client sees is the one InfluxDB gives.

use tracing::instrument;

use super::Holder;
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::error::Error;
use crate::store::{OnConstraint, OwnedTokens, Page, Revocation, Store, constraint};
use crate::token::format::MintedToken;
use crate::token::model::{Id, NewToken, OrgId, Status, Token, TokenId, TokenKind, UserId};
use crate::token::permission::{
    Action, BUCKETS, INSTANCE, Permission, RESOURCE_TYPES, Resource, bucket_conflict,
};
use crate::token::rules;
use crate::token::service::TokenService;

/// A requested permission exactly as decoded: every field may be missing.
#[derive(Debug, Default, Clone)]
pub struct RequestedPermission {
    pub action: Option<String>,
    pub kind: Option<String>,
    pub id: Option<String>,
    pub org_id: Option<String>,
    pub name: Option<String>,
}

/// `POST /api/v2/authorizations` as decoded; the rules below decide what it means.
#[derive(Debug, Default, Clone)]
pub struct CreateAuthorization {
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<RequestedPermission>>,
    /// The body carried a `token` of its own.
    pub chosen_token: bool,
}

/// The request once its ids parsed (InfluxDB does this while decoding JSON).
struct Decoded {
    org_id: Option<OrgId>,
    user_id: Option<UserId>,
    /// Each permission with its resource id and org id.
    permissions: Vec<(RequestedPermission, Option<String>, Option<OrgId>)>,
}

fn json_id<K>(raw: Option<&str>) -> Result<Option<Id<K>>, Error> {
    raw.map(Id::parse_v2)
        .transpose()
        .map_err(|e| Error::Invalid(format!("invalid json structure: {e}")))
}

/// Step 2: every id in the body parses.
fn decode(request: &CreateAuthorization) -> Result<Decoded, Error> {
    let org_id = json_id(request.org_id.as_deref())?;
    let user_id = json_id(request.user_id.as_deref())?;
    let mut permissions = Vec::new();
    for p in request.permissions.iter().flatten() {
        let id = json_id::<crate::token::model::Tokens>(p.id.as_deref())?.map(|id| id.to_string());
        let org = json_id(p.org_id.as_deref())?;
        permissions.push((p.clone(), id, org));
    }
    Ok(Decoded {
        org_id,
        user_id,
        permissions,
    })
}

/// Steps 3 and 4: at least one permission, each of a known type and action. A bucket keeps
/// its `name` (databases bind by name); other types drop it, as InfluxDB never stores names.
fn permissions(decoded: &Decoded) -> Result<Vec<Permission>, Error> {
    if decoded.permissions.is_empty() {
        return Err(Error::Invalid(
            "authorization must include permissions".into(),
        ));
    }
    let mut out = Vec::with_capacity(decoded.permissions.len());
    for (requested, id, org_id) in &decoded.permissions {
        let kind = requested
            .kind
            .as_deref()
            .filter(|k| RESOURCE_TYPES.contains(k))
            .ok_or_else(|| {
                Error::Invalid(
                    "invalid resource type for permission: unknown resource type for permission"
                        .into(),
                )
            })?;
        let action = requested
            .action
            .as_deref()
            .and_then(Action::parse)
            .ok_or_else(|| {
                Error::Invalid(
                    "invalid action type for permission: unknown action for permission".into(),
                )
            })?;
        let name = match requested.name.as_deref() {
            Some(name) if kind == BUCKETS && !name.is_empty() => Some(rules::bucket_name(name)?),
            _ => None,
        };
        let resource = Resource {
            kind: kind.to_owned(),
            id: id.clone(),
            name,
            org_id: org_id.as_ref().map(|i| i.to_string()),
        };
        if let Some(why) = bucket_conflict(&resource) {
            return Err(Error::Invalid(format!("invalid permission: {why}")));
        }
        out.push(Permission::new(action, resource));
    }
    Ok(out)
}

fn unable() -> Error {
    Error::Invalid("unable to create token".into())
}

/// The v2 authorization use cases.
#[derive(Clone)]
pub struct Authorizations {
    store: Store,
    tokens: TokenService,
}

impl Authorizations {
    pub fn new(store: Store, tokens: TokenService) -> Self {
        Authorizations { store, tokens }
    }

    /// Creates a v2 authorization, checking in InfluxDB's order (its steps 2–14).
    #[instrument(skip_all, fields(actor = %holder.actor()))]
    pub async fn create(
        &self,
        holder: &Holder,
        origin: &Origin,
        request: CreateAuthorization,
    ) -> Result<(Token, MintedToken), Error> {
        let decoded = decode(&request)?;
        if request.chosen_token {
            return Err(Error::Unprocessable(
                "tollgate mints every token itself: omit \"token\"; the new token is in the response, shown once".into(),
            ));
        }
        let permissions = permissions(&decoded)?;
        let org_id = decoded
            .org_id
            .ok_or_else(|| Error::Invalid("org id required: invalid ID".into()))?;
        let status = match request.status.as_deref() {
            None | Some("") => Status::Active,
            Some(other) => rules::status(other)?,
        };
        let description =
            rules::optional_description(request.description.as_deref().unwrap_or_default())?;
        // Step 7: the caller's own user must load; it is the default owner.
        let caller_user = match holder.user_id() {
            Some(id) => Some(self.store.find_v2_user(id).await?.ok_or_else(unable)?.id),
            None => None,
        };
        let user_id = match (decoded.user_id, caller_user) {
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => {
                return Err(Error::Invalid(
                    "unable to create token: a management token has no v2 user; pass userID".into(),
                ));
            }
        };
        holder.require(
            Action::Write,
            Resource::of("authorizations", None, Some(org_id.as_str())),
        )?;
        holder.require(
            Action::Write,
            Resource::of("users", Some(user_id.as_str()), None),
        )?;
        grantable(holder, &permissions)?;
        if permissions.iter().any(|p| p.resource.kind == INSTANCE) {
            // InfluxDB answers 500 here; bad input is a 400 in tollgate.
            return Err(Error::Invalid(
                "authorizations cannot be created with the instance type, it is only used during setup"
                    .into(),
            ));
        }
        if let Some(p) = permissions.iter().find(|p| {
            p.resource
                .org_id
                .as_deref()
                .is_some_and(|o| o != org_id.as_str())
        }) {
            return Err(Error::Invalid(format!(
                "permission {p} is not for org id {org_id}"
            )));
        }
        let (new, minted) = self
            .tokens
            .mint(
                TokenKind::Database,
                description,
                permissions,
                crate::token::model::now(),
                None,
            )
            .await?;
        let new = NewToken {
            status,
            user_id: Some(user_id),
            org_id: Some(org_id.clone()),
            created_by: Some(holder.actor()),
            ..new
        };
        let audit = AuditEvent::new(holder.actor(), AuditAction::TokenCreate, origin)
            .target(new.id.to_string());
        let token = self
            .store
            .create_owned_token(&new, &audit)
            .await
            .on_constraint(constraint::TOKENS_PKEY, || "token already exists".into())?;
        let Some(token) = token else {
            // The request passed every check: say which owner is missing.
            let missing = if self.store.find_org(&org_id).await?.is_none() {
                "organization not found"
            } else {
                "user not found"
            };
            return Err(Error::Invalid(format!("unable to create token: {missing}")));
        };
        tracing::info!(token_id = %token.id, "v2 authorization created");
        Ok((token, minted))
    }

    /// A live v2 authorization the caller may read (401 naming the missing permission).
    pub async fn get(&self, holder: &Holder, id: &TokenId) -> Result<Token, Error> {
        let token = self.find(id).await?;
        require_on(holder, Action::Read, &token)?;
        Ok(token)
    }

    async fn find(&self, id: &TokenId) -> Result<Token, Error> {
        self.store
            .find_token(id)
            .await?
            .filter(|t| {
                t.kind == TokenKind::Database
                    && t.revoked_at.is_none()
                    && t.user_id.is_some()
                    && t.org_id.is_some()
            })
            .ok_or_else(|| Error::NotFound("authorization not found".into()))
    }

    /// One page of live v2 authorizations of a user and/or an org (`None`: any), keeping
    /// only those the caller may read (silently, as InfluxDB does).
    pub async fn list_page(
        &self,
        holder: &Holder,
        user_id: Option<&UserId>,
        org_id: Option<&OrgId>,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<(Vec<Token>, Option<TokenId>), Error> {
        let filter = OwnedTokens { user_id, org_id };
        let page = self
            .store
            .list_owned_tokens(&filter, Page { after, limit })
            .await?;
        let next = crate::paging::next_cursor(&page, limit, |last| last.id.clone());
        let visible = page
            .into_iter()
            .filter(|t| require_on(holder, Action::Read, t).is_ok())
            .collect();
        Ok((visible, next))
    }

    /// PATCH: only status and description change.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn update(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &TokenId,
        status: Option<Status>,
        description: Option<&str>,
    ) -> Result<Token, Error> {
        let token = self.find(id).await?;
        require_on(holder, Action::Write, &token)?;
        let description = description.map(rules::optional_description).transpose()?;
        let mut audit = AuditEvent::new(holder.actor(), AuditAction::TokenUpdate, origin)
            .target(id.to_string());
        if let Some(status) = status {
            audit = audit.detail(format!("status: {}", status.as_str()));
        }
        self.store
            .update_owned_token(id, status, description.as_deref(), &audit)
            .await?
            .ok_or_else(|| Error::NotFound("authorization not found".into()))
    }

    /// DELETE: a soft revoke, after which the authorization is gone from the v2 API.
    #[instrument(skip_all, fields(token_id = %id))]
    pub async fn delete(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &TokenId,
    ) -> Result<(), Error> {
        let token = self.find(id).await?;
        require_on(holder, Action::Write, &token)?;
        let audit = AuditEvent::new(holder.actor(), AuditAction::TokenRevoke, origin)
            .target(id.to_string());
        match self
            .store
            .revoke_token(id, TokenKind::Database, &audit)
            .await?
        {
            Revocation::Revoked(_) => Ok(()),
            Revocation::AlreadyRevoked(_) | Revocation::NotFound => {
                Err(Error::NotFound("authorization not found".into()))
            }
        }
    }
}

/// Step 10: a caller grants only what it holds; privilege cannot be escalated.
pub fn grantable(holder: &Holder, permissions: &[Permission]) -> Result<(), Error> {
    match permissions.iter().find(|p| !holder.allows(p)) {
        Some(p) => Err(Error::Forbidden(format!(
            "permission {p} is not allowed: {p} is unauthorized"
        ))),
        None => Ok(()),
    }
}

/// InfluxDB's check on one authorization: `authorizations` in its org (or by id), then the
/// owning user.
fn require_on(holder: &Holder, action: Action, token: &Token) -> Result<(), Error> {
    let org = token.org_id.as_ref().map(OrgId::as_str);
    let user = token.user_id.as_ref().map(UserId::as_str);
    holder.require(
        action,
        Resource::of("authorizations", Some(token.id.as_str()), org),
    )?;
    holder.require(action, Resource::of("users", user, None))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn holder(permissions: Vec<Permission>) -> Holder {
        let id = TokenId::parse("00000000000000aa").expect("id");
        let at = crate::token::model::now();
        Holder::Token(std::sync::Arc::new(Token {
            id,
            kind: TokenKind::Database,
            description: String::new(),
            permissions,
            status: Status::Active,
            operator: false,
            token_prefix: String::new(),
            secret_hash: String::new(),
            created_by: None,
            created_at: at,
            updated_at: at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            user_id: None,
            org_id: None,
            owner: None,
        }))
    }

    const ORGS: [&str; 2] = ["00000000000000a1", "00000000000000b2"];

    fn requested() -> impl Strategy<Value = RequestedPermission> {
        let pick = |values: &'static [&'static str]| {
            proptest::option::of(proptest::sample::select(values).prop_map(str::to_owned))
        };
        (
            prop_oneof![Just("read"), Just("write")],
            prop_oneof![4 => Just("buckets"), 1 => Just("users")],
            pick(&["00000000000000cc", "00000000000000dd"]),
            pick(&ORGS),
            pick(&["sensors", "production", "00000000000000cc"]),
        )
            .prop_map(|(action, kind, id, org_id, name)| RequestedPermission {
                action: Some(action.to_owned()),
                kind: Some(kind.to_owned()),
                id,
                org_id,
                name,
            })
    }

    /// Through the same decoding and checks `create` runs: steps 2 to 4, then 10.
    fn created(held: &Holder, wanted: Vec<RequestedPermission>) -> Option<Vec<Permission>> {
        let request = CreateAuthorization {
            permissions: Some(wanted),
            ..CreateAuthorization::default()
        };
        let permissions = permissions(&decode(&request).ok()?).ok()?;
        grantable(held, &permissions).ok()?;
        Some(permissions)
    }

    proptest! {
        #[test]
        fn a_created_token_grants_nothing_its_creator_does_not_hold(
            held in proptest::collection::vec(requested(), 1..4),
            wanted in proptest::collection::vec(requested(), 1..4),
            action in prop_oneof![Just(Action::Read), Just(Action::Write)],
            database in proptest::sample::select(&["sensors", "production", "00000000000000cc", "00000000000000dd"][..]),
            org in proptest::option::of(proptest::sample::select(&ORGS[..])),
        ) {
            let request = CreateAuthorization { permissions: Some(held), ..Default::default() };
            let Some(held) = decode(&request).ok().and_then(|d| permissions(&d).ok()) else {
                return Ok(());
            };
            let caller = holder(held.clone());
            if let Some(token) = created(&caller, wanted) {
                let grants = |set: &[Permission]| set.iter().any(|p| p.grants(action, database, org));
                prop_assert!(!grants(&token) || grants(&held), "{held:?} created {token:?}");
            }
        }
    }
}
