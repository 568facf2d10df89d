//! What a token is: kinds, ids, status and the stored and new token. No I/O; the store and
//! the services both build on these.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::format;
use super::permission::Permission;

/// A database token grants data access; a management token administers tokens and users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Database,
    Management,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Database => "apiv1_",
            TokenKind::Management => "M.V1.",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Database => "database",
            TokenKind::Management => "management",
        }
    }

    pub fn from_token(token: &str) -> Option<Self> {
        [TokenKind::Database, TokenKind::Management]
            .into_iter()
            .find(|kind| token.starts_with(kind.prefix()))
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "database" => Some(TokenKind::Database),
            "management" => Some(TokenKind::Management),
            _ => None,
        }
    }
}

/// Every id (token, user, org) is 16 lowercase hex characters; the marker keeps the three
/// apart, so a user id cannot be passed where a token id is meant.
#[derive(Serialize, Deserialize)]
#[serde(transparent, bound = "")]
pub struct Id<K> {
    value: String,
    #[serde(skip)]
    kind: PhantomData<K>,
}

/// Markers of [`Id`]: what the id names.
#[derive(Debug)]
pub enum Tokens {}
#[derive(Debug)]
pub enum Users {}
#[derive(Debug)]
pub enum Orgs {}

pub type TokenId = Id<Tokens>;
/// A v2 user (the owner of v2 authorizations).
pub type UserId = Id<Users>;
pub type OrgId = Id<Orgs>;

#[derive(Debug, thiserror::Error)]
#[error("ids are 16 lowercase hexadecimal characters")]
pub struct InvalidId;

impl<K> Id<K> {
    fn new(value: String) -> Self {
        Id {
            value,
            kind: PhantomData,
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Id::new(s.to_owned()))
        } else {
            Err(InvalidId)
        }
    }

    /// InfluxDB v2's id parsing and messages: uppercase hex is accepted and lowercased,
    /// zero is not an id.
    pub fn parse_v2(s: &str) -> Result<Self, V2IdError> {
        if s.len() != 16 {
            return Err(V2IdError::Length);
        }
        let lower = s.to_ascii_lowercase();
        match u64::from_str_radix(&lower, 16) {
            Ok(n) if n != 0 && lower.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(Id::new(lower)),
            _ => Err(V2IdError::Invalid),
        }
    }

    pub fn random() -> Result<Self, format::RandomnessError> {
        let mut bytes = [0u8; 8];
        format::os_random(&mut bytes)?;
        Ok(Id::new(format!("{:016x}", u64::from_be_bytes(bytes))))
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The id as a number: what caches key by.
    pub fn key(&self) -> u64 {
        // Every id is 16 hex digits (checked where it is made), so this never falls back.
        u64::from_str_radix(&self.value, 16).unwrap_or_default()
    }

    /// The id a [`Id::key`] came from.
    pub fn from_key(key: u64) -> Self {
        Id::new(format!("{key:016x}"))
    }
}

// Written out rather than derived: a derive would require the marker to implement each trait.
impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        Id::new(self.value.clone())
    }
}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for Id<K> {}

impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<K> std::fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.value)
    }
}

/// Why a v2 id did not parse, in InfluxDB's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum V2IdError {
    #[error("id must have a length of 16 bytes")]
    Length,
    #[error("invalid ID")]
    Invalid,
}

impl<K> std::fmt::Display for Id<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

/// v2 status; an inactive token is refused everywhere until it is active again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }
}

/// A stored token. `secret_hash` is the argon2id PHC string; the plain token is never kept.
#[derive(Clone)]
pub struct Token {
    pub id: TokenId,
    pub kind: TokenKind,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub status: Status,
    pub operator: bool,
    pub token_prefix: String,
    pub secret_hash: String,
    pub created_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// The v2 user and org a token belongs to (v2 authorizations only).
    pub user_id: Option<UserId>,
    pub org_id: Option<OrgId>,
    /// The owning v2 user's state, read together with the token.
    pub owner: Option<Owner>,
}

/// The state of a token's v2 owner at the time the token was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Active,
    Inactive,
    /// Deleted (its tokens are revoked with it; this covers a create racing the delete).
    Missing,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Why an existing token may not be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired,
    Inactive,
    /// The v2 user that owns the token is inactive or deleted.
    OwnerInactive,
}

impl Token {
    pub fn unusable_at(&self, now: OffsetDateTime) -> Option<Unusable> {
        if self.revoked_at.is_some() {
            Some(Unusable::Revoked)
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some(Unusable::Expired)
        } else if self.status == Status::Inactive {
            Some(Unusable::Inactive)
        } else if matches!(self.owner, Some(Owner::Inactive | Owner::Missing)) {
            Some(Unusable::OwnerInactive)
        } else {
            None
        }
    }
}

/// A token ready to be stored: everything but what the store stamps.
#[derive(Clone)]
pub struct NewToken {
    pub id: TokenId,
    pub kind: TokenKind,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub operator: bool,
    pub token_prefix: String,
    pub secret_hash: String,
    pub created_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub status: Status,
    pub user_id: Option<UserId>,
    pub org_id: Option<OrgId>,
}

/// Timestamps are kept at microsecond precision, as PostgreSQL stores them.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}
