//! v2 users, orgs and setup use cases, with InfluxDB's permission checks and messages.

use std::collections::HashMap;

use tracing::instrument;

use super::{Holder, Org, TenantError, V2User, name, operator_permissions};
use crate::audit::{AuditEvent, Origin};
use crate::identity::Principal;
use crate::store::{Store, StoreError};
use crate::token::format::MintedToken;
use crate::token::service::TokenService;
use crate::token::{Action, NewToken, Permission, Resource, Status, Token, TokenId, TokenKind};

/// `POST /api/v2/setup` as decoded.
#[derive(Debug, Default)]
pub struct SetupRequest {
    pub username: Option<String>,
    pub org: Option<String>,
    pub bucket: Option<String>,
    pub token: Option<String>,
}

/// What setup created.
pub struct Onboarded {
    pub user: V2User,
    pub org: Org,
    pub token: Token,
    pub minted: MintedToken,
}

fn user_not_found() -> TenantError {
    TenantError::NotFound("user not found".into())
}

fn org_not_found() -> TenantError {
    TenantError::NotFound("organization not found".into())
}

fn fresh_id() -> Result<TokenId, TenantError> {
    TokenId::random().map_err(|e| TenantError::Internal(e.to_string()))
}

#[derive(Clone)]
pub struct Tenants {
    store: Store,
    tokens: TokenService,
}

impl Tenants {
    pub fn new(store: Store, tokens: TokenService) -> Self {
        Tenants { store, tokens }
    }

    pub async fn setup_allowed(&self) -> Result<bool, TenantError> {
        Ok(self.store.setup_allowed().await?)
    }

    /// The first user, its org, and an operator authorization, once. Without a management
    /// caller only on a pristine store (nothing but the bootstrap operator token); a
    /// management caller may run it once on a store already in use through `/api/v0`.
    #[instrument(skip_all, fields(actor = caller.map(|c| c.actor())))]
    pub async fn setup(
        &self,
        caller: Option<&Principal>,
        origin: &Origin,
        request: SetupRequest,
    ) -> Result<Onboarded, TenantError> {
        let done = || TenantError::Conflict("onboarding has already been completed".into());
        let allowed = match caller {
            None => self.store.setup_allowed().await?,
            Some(_) => !self.store.setup_done().await?,
        };
        if !allowed {
            return Err(done());
        }
        let missing: Vec<&str> = [("username", &request.username), ("org", &request.org)]
            .into_iter()
            .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            return Err(TenantError::Unprocessable(format!(
                "onboarding failed: missing required fields [{}]",
                missing.join(",")
            )));
        }
        if request.token.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(TenantError::Unprocessable(
                "onboarding failed: tollgate does not accept a chosen token; omit \"token\" and use the operator token in the response (it is shown once)".into(),
            ));
        }
        if let Some(bucket) = request.bucket.as_deref().filter(|b| !b.is_empty()) {
            super::authorizations::bucket_name(bucket)?;
        }
        let now = crate::token::now();
        let user = V2User {
            id: fresh_id()?,
            name: name("user", request.username.as_deref().unwrap_or_default())?,
            status: Status::Active,
            created_at: now,
            updated_at: now,
        };
        let org = Org {
            id: fresh_id()?,
            name: name("org", request.org.as_deref().unwrap_or_default())?,
            description: String::new(),
            created_at: now,
            updated_at: now,
        };
        let (new, minted) = self
            .tokens
            .mint(
                TokenKind::Database,
                format!("{}'s Token", user.name),
                operator_permissions(),
                now,
                None,
            )
            .await?;
        let new = NewToken {
            user_id: Some(user.id.clone()),
            org_id: Some(org.id.clone()),
            created_by: Some("setup".into()),
            ..new
        };
        let actor = caller.map_or_else(|| "anonymous".to_owned(), Principal::actor);
        let audit = AuditEvent::new(actor, "setup.complete", origin)
            .target(new.id.to_string())
            .detail(format!("user {}, org {}", user.id, org.id));
        let token = self
            .store
            .complete_setup(&user, &org, &new, &audit, caller.is_none())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(c) if c == "orgs_name_unique" => TenantError::Conflict(
                    format!("organization with name {} already exists", org.name),
                ),
                StoreError::Conflict(c) if c == "v2_users_name_unique" => {
                    TenantError::Conflict(format!("user with name {} already exists", user.name))
                }
                other => other.into(),
            })?
            .ok_or_else(done)?;
        tracing::info!(user_id = %user.id, org_id = %org.id, "v2 setup completed");
        Ok(Onboarded {
            user,
            org,
            token,
            minted,
        })
    }

    /// The org a data-path request is in: the one it names, by id or by name (`None` when
    /// no such org exists), or else the org setup made.
    pub async fn request_org(&self, named: Option<&str>) -> Result<Option<TokenId>, TenantError> {
        let Some(named) = named else {
            return Ok(self.store.default_org().await?);
        };
        if let Ok(id) = TokenId::parse_v2(named)
            && let Some(org) = self.store.find_org(&id).await?
        {
            return Ok(Some(org.id));
        }
        Ok(self.store.find_org_by_name(named).await?.map(|org| org.id))
    }

    // ---- users ----

    #[instrument(skip_all)]
    pub async fn create_user(
        &self,
        holder: &Holder,
        origin: &Origin,
        user_name: &str,
        status: Status,
    ) -> Result<V2User, TenantError> {
        holder.require(Action::Write, Resource::of("users", None, None))?;
        let now = crate::token::now();
        let user = V2User {
            id: fresh_id()?,
            name: name("user", user_name)?,
            status,
            created_at: now,
            updated_at: now,
        };
        let audit =
            AuditEvent::new(holder.actor(), "v2_user.create", origin).target(user.id.to_string());
        self.store
            .create_v2_user(&user, &audit)
            .await
            .map_err(|e| name_taken(e, "user", &user.name))
    }

    /// `GET /api/v2/users/{id}`.
    pub async fn user(&self, holder: &Holder, id: &TokenId) -> Result<V2User, TenantError> {
        holder.require(Action::Read, Resource::of("users", Some(id.as_str()), None))?;
        self.store
            .find_v2_user(id)
            .await?
            .ok_or_else(user_not_found)
    }

    /// `GET /api/v2/users?name=`: a single lookup; unknown names are 404.
    pub async fn user_by_name(
        &self,
        holder: &Holder,
        user_name: &str,
    ) -> Result<Vec<V2User>, TenantError> {
        let user = self.user_named(user_name).await?;
        Ok(readable_user(holder, &user)
            .then_some(user)
            .into_iter()
            .collect())
    }

    /// A page of users, keeping those the caller may read.
    pub async fn users(
        &self,
        holder: &Holder,
        after: Option<&TokenId>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<V2User>, TenantError> {
        let users = self.store.list_v2_users(after, offset, limit).await?;
        Ok(users
            .into_iter()
            .filter(|u| readable_user(holder, u))
            .collect())
    }

    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn update_user(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &TokenId,
        new_name: Option<&str>,
        status: Option<Status>,
    ) -> Result<V2User, TenantError> {
        holder.require(
            Action::Write,
            Resource::of("users", Some(id.as_str()), None),
        )?;
        let new_name = new_name.map(|n| name("user", n)).transpose()?;
        let mut audit =
            AuditEvent::new(holder.actor(), "v2_user.update", origin).target(id.to_string());
        if let Some(status) = status {
            audit = audit.detail(format!("status: {}", status.as_str()));
        }
        self.store
            .update_v2_user(id, new_name.as_deref(), status, &audit)
            .await
            .map_err(|e| name_taken(e, "user", new_name.as_deref().unwrap_or_default()))?
            .ok_or_else(user_not_found)
    }

    /// Deletes the user; every authorization it owns stops working in the same transaction.
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn delete_user(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &TokenId,
    ) -> Result<(), TenantError> {
        holder.require(
            Action::Write,
            Resource::of("users", Some(id.as_str()), None),
        )?;
        let audit =
            AuditEvent::new(holder.actor(), "v2_user.delete", origin).target(id.to_string());
        let revoked = self
            .store
            .delete_v2_user(id, &audit)
            .await?
            .ok_or_else(user_not_found)?;
        tracing::info!(revoked, "v2 user deleted; its tokens revoked");
        Ok(())
    }

    /// `GET /api/v2/me`: the caller's own user, which it must be allowed to read.
    pub async fn me(&self, holder: &Holder) -> Result<V2User, TenantError> {
        let id = holder.user_id().ok_or_else(|| {
            TenantError::NotFound("user not found: the calling token has no v2 user".into())
        })?;
        self.user(holder, id).await
    }

    /// The user called `user_name`; 404 `user not found` otherwise. Name filters resolve
    /// through this, unchecked: what the caller may see is decided on the results.
    pub async fn user_named(&self, user_name: &str) -> Result<V2User, TenantError> {
        self.store
            .find_v2_user_by_name(user_name)
            .await?
            .ok_or_else(user_not_found)
    }

    // ---- orgs ----

    /// The org called `org_name`; 404 with InfluxDB's message otherwise.
    pub async fn org_named(&self, org_name: &str) -> Result<Org, TenantError> {
        self.store.find_org_by_name(org_name).await?.ok_or_else(|| {
            TenantError::NotFound(format!("organization name \"{org_name}\" not found"))
        })
    }

    #[instrument(skip_all)]
    pub async fn create_org(
        &self,
        holder: &Holder,
        origin: &Origin,
        org_name: &str,
        description: &str,
    ) -> Result<Org, TenantError> {
        holder.require(Action::Write, Resource::of("orgs", None, None))?;
        let now = crate::token::now();
        let org = Org {
            id: fresh_id()?,
            name: name("org", org_name)?,
            description: super::authorizations::description(Some(description))?,
            created_at: now,
            updated_at: now,
        };
        let audit =
            AuditEvent::new(holder.actor(), "org.create", origin).target(org.id.to_string());
        self.store
            .create_org(&org, &audit)
            .await
            .map_err(|e| name_taken(e, "organization", &org.name))
    }

    pub async fn org(&self, holder: &Holder, id: &TokenId) -> Result<Org, TenantError> {
        holder.require(Action::Read, Resource::of("orgs", Some(id.as_str()), None))?;
        self.store.find_org(id).await?.ok_or_else(org_not_found)
    }

    /// `?org=`: unknown names are 404 with InfluxDB's message.
    pub async fn org_by_name(&self, holder: &Holder, org_name: &str) -> Result<Org, TenantError> {
        let org = self.org_named(org_name).await?;
        holder.require(
            Action::Read,
            Resource::of("orgs", Some(org.id.as_str()), None),
        )?;
        Ok(org)
    }

    /// A page of orgs, keeping those the caller may read.
    pub async fn orgs(
        &self,
        holder: &Holder,
        offset: u32,
        limit: u32,
        descending: bool,
    ) -> Result<Vec<Org>, TenantError> {
        let orgs = self.store.list_orgs(offset, limit, descending).await?;
        Ok(orgs
            .into_iter()
            .filter(|o| {
                holder.allows(&Permission::new(
                    Action::Read,
                    Resource::of("orgs", Some(o.id.as_str()), None),
                ))
            })
            .collect())
    }

    /// Deletes the org; every authorization in it stops working in the same transaction.
    #[instrument(skip_all, fields(org_id = %id))]
    pub async fn delete_org(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &TokenId,
    ) -> Result<(), TenantError> {
        holder.require(Action::Write, Resource::of("orgs", Some(id.as_str()), None))?;
        let audit = AuditEvent::new(holder.actor(), "org.delete", origin).target(id.to_string());
        let revoked = self
            .store
            .delete_org(id, &audit)
            .await?
            .ok_or_else(org_not_found)?;
        tracing::info!(revoked, "org deleted; its tokens revoked");
        Ok(())
    }

    /// Resolves the names responses are decorated with, each id at most once per response.
    pub fn names(&self) -> Names {
        Names {
            store: self.store.clone(),
            users: HashMap::new(),
            orgs: HashMap::new(),
        }
    }
}

fn readable_user(holder: &Holder, user: &V2User) -> bool {
    holder.allows(&Permission::new(
        Action::Read,
        Resource::of("users", Some(user.id.as_str()), None),
    ))
}

fn name_taken(err: StoreError, what: &str, taken: &str) -> TenantError {
    match err {
        StoreError::Conflict(c) if c.ends_with("_name_unique") => {
            TenantError::Conflict(format!("{what} with name {taken} already exists"))
        }
        other => other.into(),
    }
}

/// User and org names by id, looked up once per response.
pub struct Names {
    store: Store,
    users: HashMap<TokenId, Option<String>>,
    orgs: HashMap<TokenId, Option<String>>,
}

impl Names {
    pub async fn user(&mut self, id: &TokenId) -> Result<Option<String>, TenantError> {
        if let Some(name) = self.users.get(id) {
            return Ok(name.clone());
        }
        let name = self.store.find_v2_user(id).await?.map(|u| u.name);
        self.users.insert(id.clone(), name.clone());
        Ok(name)
    }

    pub async fn org(&mut self, id: &TokenId) -> Result<Option<String>, TenantError> {
        if let Some(name) = self.orgs.get(id) {
            return Ok(name.clone());
        }
        let name = self.store.find_org(id).await?.map(|o| o.name);
        self.orgs.insert(id.clone(), name.clone());
        Ok(name)
    }
}
