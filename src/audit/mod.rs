//! The audit log: every management action and refusal, with who, what, from where.
//! Never a secret: actors are user ids or token ids.

pub mod log;

use serde::Serialize;
use time::OffsetDateTime;

pub use log::AuditLog;

/// Longest client-supplied request id kept in the log.
const MAX_REQUEST_ID_CHARS: usize = 64;

/// A client's `X-Request-Id` is kept only when it looks like one: short, plain characters,
/// and not shaped like a token or a JWT, so nothing secret can ride into the log that way.
pub fn plausible_request_id(id: &str) -> bool {
    id.len() <= MAX_REQUEST_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && crate::token::model::TokenKind::from_token(id).is_none()
        && !id.starts_with("eyJ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "refused" => Some(Outcome::Refused),
            _ => None,
        }
    }
}

/// What an audit entry records. Stored as its dotted name; a name this build does not know
/// (written by a newer replica) reads back as [`AuditAction::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    TokenCreate,
    TokenUpdate,
    TokenRevoke,
    TokenRotate,
    ManagementTokenCreate,
    ManagementTokenRevoke,
    OperatorTokenBootstrap,
    OperatorTokenRegenerate,
    UserAdd,
    UserChange,
    UserRemove,
    AuthRefused,
    CallRefused,
    SetupComplete,
    V2UserCreate,
    V2UserUpdate,
    V2UserDelete,
    OrgCreate,
    OrgDelete,
    Unknown,
}

impl AuditAction {
    const ALL: [AuditAction; 19] = [
        AuditAction::TokenCreate,
        AuditAction::TokenUpdate,
        AuditAction::TokenRevoke,
        AuditAction::TokenRotate,
        AuditAction::ManagementTokenCreate,
        AuditAction::ManagementTokenRevoke,
        AuditAction::OperatorTokenBootstrap,
        AuditAction::OperatorTokenRegenerate,
        AuditAction::UserAdd,
        AuditAction::UserChange,
        AuditAction::UserRemove,
        AuditAction::AuthRefused,
        AuditAction::CallRefused,
        AuditAction::SetupComplete,
        AuditAction::V2UserCreate,
        AuditAction::V2UserUpdate,
        AuditAction::V2UserDelete,
        AuditAction::OrgCreate,
        AuditAction::OrgDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenUpdate => "token.update",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::TokenRotate => "token.rotate",
            AuditAction::ManagementTokenCreate => "management_token.create",
            AuditAction::ManagementTokenRevoke => "management_token.revoke",
            AuditAction::OperatorTokenBootstrap => "operator_token.bootstrap",
            AuditAction::OperatorTokenRegenerate => "operator_token.regenerate",
            AuditAction::UserAdd => "user.add",
            AuditAction::UserChange => "user.change",
            AuditAction::UserRemove => "user.remove",
            AuditAction::AuthRefused => "auth.refused",
            AuditAction::CallRefused => "call.refused",
            AuditAction::SetupComplete => "setup.complete",
            AuditAction::V2UserCreate => "v2_user.create",
            AuditAction::V2UserUpdate => "v2_user.update",
            AuditAction::V2UserDelete => "v2_user.delete",
            AuditAction::OrgCreate => "org.create",
            AuditAction::OrgDelete => "org.delete",
            AuditAction::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> AuditAction {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .unwrap_or(AuditAction::Unknown)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refusals of one verified actor written to the audit log per minute; past it they are
/// counted, not written, so a leaked low-privilege token cannot flood the log.
const REFUSALS_PER_ACTOR_PER_MINUTE: u32 = 30;
/// Actors remembered before stale ones are forgotten.
const MAX_TRACKED_ACTORS: usize = 10_000;

/// How many refusals each actor may still have written to the log.
#[derive(Clone)]
pub struct RefusalBudget {
    limiter: std::sync::Arc<governor::DefaultKeyedRateLimiter<String>>,
}

impl Default for RefusalBudget {
    fn default() -> Self {
        let per_minute = std::num::NonZeroU32::new(REFUSALS_PER_ACTOR_PER_MINUTE)
            .unwrap_or(std::num::NonZeroU32::MIN);
        RefusalBudget {
            limiter: std::sync::Arc::new(governor::RateLimiter::keyed(
                governor::Quota::per_minute(per_minute),
            )),
        }
    }
}

impl RefusalBudget {
    /// Whether a refusal of `actor` is written now.
    pub fn allows(&self, actor: &str) -> bool {
        if self.limiter.len() > MAX_TRACKED_ACTORS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&actor.to_owned()).is_ok()
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client: Option<String>,
    pub request_id: Option<String>,
}

/// One entry to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: AuditAction,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub origin: Origin,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: AuditAction, origin: &Origin) -> Self {
        AuditEvent {
            at: crate::token::model::now(),
            actor: actor.into(),
            action,
            target: None,
            outcome: Outcome::Success,
            origin: Origin {
                client: origin.client.clone(),
                request_id: origin
                    .request_id
                    .clone()
                    .filter(|id| plausible_request_id(id)),
            },
            detail: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn refused(mut self, detail: impl Into<String>) -> Self {
        self.outcome = Outcome::Refused;
        self.detail = Some(detail.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_as_itself() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), action);
        }
        assert_eq!(
            AuditAction::parse("from.a.newer.build"),
            AuditAction::Unknown
        );
    }

    #[test]
    fn only_plausible_request_ids_are_kept() {
        assert!(plausible_request_id("5f2c1e0a9b8d7c6e"));
        assert!(plausible_request_id("req-123_abc.def"));
        assert!(!plausible_request_id(&"a".repeat(65)));
        assert!(!plausible_request_id("apiv1_0123456789abcdef"));
        assert!(!plausible_request_id("M.V1.0123456789abcdef"));
        assert!(!plausible_request_id("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
        assert!(!plausible_request_id("has space"));
        assert!(!plausible_request_id("user:admin"), "shaped like an actor");
    }
}
