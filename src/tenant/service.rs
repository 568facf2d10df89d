//! v2 users, orgs and setup use cases, with InfluxDB's permission checks and messages.

use std::collections::HashMap;

use tracing::instrument;

use super::{Holder, Org, V2User, name, operator_permissions};
use crate::audit::{AuditAction, AuditEvent, Origin};
use crate::error::Error;
use crate::identity::Principal;
use crate::store::{OnConstraint, Store, constraint};
use crate::token::format::MintedToken;
use crate::token::model::{NewToken, OrgId, Status, Token, TokenKind, UserId};
use crate::token::permission::{Action, Permission, Resource};
use crate::token::rules;
use crate::token::service::TokenService;

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

fn user_not_found() -> Error {
    Error::NotFound("user not found".into())
}

fn org_not_found() -> Error {
    Error::NotFound("organization not found".into())
}

fn fresh_id<K>() -> Result<crate::token::model::Id<K>, Error> {
    crate::token::model::Id::random().map_err(|e| Error::Internal(Box::new(e)))
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

    pub async fn setup_allowed(&self) -> Result<bool, Error> {
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
    ) -> Result<Onboarded, Error> {
        let done = || Error::conflict("onboarding has already been completed");
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
            return Err(Error::Unprocessable(format!(
                "onboarding failed: missing required fields [{}]",
                missing.join(",")
            )));
        }
        if request.token.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::Unprocessable(
                "onboarding failed: tollgate does not accept a chosen token; omit \"token\" and use the operator token in the response (it is shown once)".into(),
            ));
        }
        if let Some(bucket) = request.bucket.as_deref().filter(|b| !b.is_empty()) {
            rules::bucket_name(bucket)?;
        }
        let now = crate::token::model::now();
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
        let audit = AuditEvent::new(actor, AuditAction::SetupComplete, origin)
            .target(new.id.to_string())
            .detail(format!("user {}, org {}", user.id, org.id));
        let stored = self
            .store
            .complete_setup(&user, &org, &new, &audit, caller.is_none())
            .await;
        let token = match stored.as_ref().err().and_then(|e| e.constraint()) {
            // The setup row is the one a concurrent setup collides on: it was done first.
            Some(constraint::SETUP_PKEY) => return Err(done()),
            Some(constraint::ORGS_NAME_UNIQUE) => {
                return Err(name_taken("organization", &org.name));
            }
            Some(constraint::V2_USERS_NAME_UNIQUE) => return Err(name_taken("user", &user.name)),
            _ => stored?.ok_or_else(done)?,
        };
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
    pub async fn request_org(&self, named: Option<&str>) -> Result<Option<OrgId>, Error> {
        let Some(named) = named else {
            return Ok(self.store.default_org().await?);
        };
        if let Ok(id) = OrgId::parse_v2(named)
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
    ) -> Result<V2User, Error> {
        holder.require(Action::Write, Resource::of("users", None, None))?;
        let now = crate::token::model::now();
        let user = V2User {
            id: fresh_id()?,
            name: name("user", user_name)?,
            status,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEvent::new(holder.actor(), AuditAction::V2UserCreate, origin)
            .target(user.id.to_string());
        self.store
            .create_v2_user(&user, &audit)
            .await
            .on_constraint(constraint::V2_USERS_NAME_UNIQUE, || {
                taken("user", &user.name)
            })
    }

    /// `GET /api/v2/users/{id}`.
    pub async fn user(&self, holder: &Holder, id: &UserId) -> Result<V2User, Error> {
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
    ) -> Result<Vec<V2User>, Error> {
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
        after: Option<&UserId>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<V2User>, Error> {
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
        id: &UserId,
        new_name: Option<&str>,
        status: Option<Status>,
    ) -> Result<V2User, Error> {
        holder.require(
            Action::Write,
            Resource::of("users", Some(id.as_str()), None),
        )?;
        let new_name = new_name.map(|n| name("user", n)).transpose()?;
        let mut audit = AuditEvent::new(holder.actor(), AuditAction::V2UserUpdate, origin)
            .target(id.to_string());
        if let Some(status) = status {
            audit = audit.detail(format!("status: {}", status.as_str()));
        }
        self.store
            .update_v2_user(id, new_name.as_deref(), status, &audit)
            .await
            .on_constraint(constraint::V2_USERS_NAME_UNIQUE, || {
                taken("user", new_name.as_deref().unwrap_or_default())
            })?
            .map(|(user, _affected)| user)
            .ok_or_else(user_not_found)
    }

    /// Deletes the user; every authorization it owns stops working in the same transaction.
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn delete_user(
        &self,
        holder: &Holder,
        origin: &Origin,
        id: &UserId,
    ) -> Result<(), Error> {
        holder.require(
            Action::Write,
            Resource::of("users", Some(id.as_str()), None),
        )?;
        let audit = AuditEvent::new(holder.actor(), AuditAction::V2UserDelete, origin)
            .target(id.to_string());
        let deleted = self
            .store
            .delete_v2_user(id, &audit)
            .await?
            .ok_or_else(user_not_found)?;
        tracing::info!(
            revoked = deleted.revoked.len(),
            "v2 user deleted; its tokens revoked"
        );
        Ok(())
    }

    /// `GET /api/v2/me`: the caller's own user, which it must be allowed to read.
    pub async fn me(&self, holder: &Holder) -> Result<V2User, Error> {
        let id = holder.user_id().ok_or_else(|| {
            Error::NotFound("user not found: the calling token has no v2 user".into())
        })?;
        self.user(holder, id).await
    }

    /// The user called `user_name`; 404 `user not found` otherwise. Name filters resolve
    /// through this, unchecked: what the caller may see is decided on the results.
    pub async fn user_named(&self, user_name: &str) -> Result<V2User, Error> {
        self.store
            .find_v2_user_by_name(user_name)
            .await?
            .ok_or_else(user_not_found)
    }

    // ---- orgs ----

    /// The org called `org_name`; 404 with InfluxDB's message otherwise.
    pub async fn org_named(&self, org_name: &str) -> Result<Org, Error> {
        self.store
            .find_org_by_name(org_name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("organization name \"{org_name}\" not found")))
    }

    #[instrument(skip_all)]
    pub async fn create_org(
        &self,
        holder: &Holder,
        origin: &Origin,
        org_name: &str,
        description: &str,
    ) -> Result<Org, Error> {
        holder.require(Action::Write, Resource::of("orgs", None, None))?;
        let now = crate::token::model::now();
        let org = Org {
            id: fresh_id()?,
            name: name("org", org_name)?,
            description: rules::optional_description(description)?,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEvent::new(holder.actor(), AuditAction::OrgCreate, origin)
            .target(org.id.to_string());
        self.store
            .create_org(&org, &audit)
            .await
            .on_constraint(constraint::ORGS_NAME_UNIQUE, || {
                taken("organization", &org.name)
            })
    }

    pub async fn org(&self, holder: &Holder, id: &OrgId) -> Result<Org, Error> {
        holder.require(Action::Read, Resource::of("orgs", Some(id.as_str()), None))?;
        self.store.find_org(id).await?.ok_or_else(org_not_found)
    }

    /// `?org=`: unknown names are 404 with InfluxDB's message.
    pub async fn org_by_name(&self, holder: &Holder, org_name: &str) -> Result<Org, Error> {
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
    ) -> Result<Vec<Org>, Error> {
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
        id: &OrgId,
    ) -> Result<(), Error> {
        holder.require(Action::Write, Resource::of("orgs", Some(id.as_str()), None))?;
        let audit =
            AuditEvent::new(holder.actor(), AuditAction::OrgDelete, origin).target(id.to_string());
        let deleted = self
            .store
            .delete_org(id, &audit)
            .await?
            .ok_or_else(org_not_found)?;
        tracing::info!(
            revoked = deleted.revoked.len(),
            "org deleted; its tokens revoked"
        );
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

fn taken(what: &str, name: &str) -> String {
    format!("{what} with name {name} already exists")
}

fn name_taken(what: &str, name: &str) -> Error {
    Error::conflict(taken(what, name))
}

/// User and org names by id, looked up once per response.
pub struct Names {
    store: Store,
    users: HashMap<UserId, Option<String>>,
    orgs: HashMap<OrgId, Option<String>>,
}

impl Names {
    pub async fn user(&mut self, id: &UserId) -> Result<Option<String>, Error> {
        if let Some(name) = self.users.get(id) {
            return Ok(name.clone());
        }
        let name = self.store.find_v2_user(id).await?.map(|u| u.name);
        self.users.insert(id.clone(), name.clone());
        Ok(name)
    }

    pub async fn org(&mut self, id: &OrgId) -> Result<Option<String>, Error> {
        if let Some(name) = self.orgs.get(id) {
            return Ok(name.clone());
        }
        let name = self.store.find_org(id).await?.map(|o| o.name);
        self.orgs.insert(id.clone(), name.clone());
        Ok(name)
    }
}
