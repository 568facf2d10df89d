//! InfluxDB v2 tenants as stored: organizations and v2 users.

use time::OffsetDateTime;

use crate::token::model::{OrgId, Status, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2User {
    pub id: UserId,
    pub name: String,
    pub status: Status,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}
