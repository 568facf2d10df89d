//! The token domain: kinds, ids, permissions, the rules for creating and changing tokens.

pub mod format;
pub mod hashing;
pub mod model;
pub mod permission;
pub mod rules;
pub mod service;

pub use model::{
    InvalidId, NewToken, OrgId, Owner, Status, Token, TokenId, TokenKind, Unusable, UserId,
    V2IdError, now,
};
pub use permission::{Action, Permission, Resource};
