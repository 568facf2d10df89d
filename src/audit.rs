//! The audit log: every management action and refusal, with who, what, from where.
//! Never a secret: actors are user ids or token ids.

use serde::Serialize;
use time::OffsetDateTime;

/// Longest client-supplied request id kept in the log.
const MAX_REQUEST_ID_CHARS: usize = 64;

/// A client's `X-Request-Id` is kept only when it looks like one: short, plain characters,
/// and not shaped like a token or a JWT, so nothing secret can ride into the log that way.
pub fn plausible_request_id(id: &str) -> bool {
    id.len() <= MAX_REQUEST_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && crate::token::TokenKind::from_token(id).is_none()
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
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub origin: Origin,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: &'static str, origin: &Origin) -> Self {
        AuditEvent {
            at: crate::token::now(),
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
