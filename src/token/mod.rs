//! The token domain: kinds, ids, permissions, the rules for creating and changing tokens.

pub mod format;
pub mod permission;
pub mod rules;
pub mod service;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use permission::{Action, Permission, Resource};

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

/// Every id (token, user, org) is 16 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(String);

#[derive(Debug, thiserror::Error)]
#[error("ids are 16 lowercase hexadecimal characters")]
pub struct InvalidId;

impl TokenId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(TokenId(s.to_owned()))
        } else {
            Err(InvalidId)
        }
    }

    pub fn random() -> Result<Self, format::RandomnessError> {
        let mut bytes = [0u8; 8];
        format::os_random(&mut bytes)?;
        Ok(TokenId(format!("{:016x}", u64::from_be_bytes(bytes))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
}

impl Token {
    pub fn unusable_at(&self, now: OffsetDateTime) -> Option<Unusable> {
        if self.revoked_at.is_some() {
            Some(Unusable::Revoked)
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some(Unusable::Expired)
        } else if self.status == Status::Inactive {
            Some(Unusable::Inactive)
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
}

/// Timestamps are kept at microsecond precision, as PostgreSQL stores them.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}
