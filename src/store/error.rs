//! What can go wrong in the store, classified once: our own outage (callers answer 503), a
//! named constraint refusing a change, or anything else. The sqlx error is kept as the source.

/// The constraint names the migrations give; SQLite's messages are mapped back to them.
pub mod constraint {
    pub const TOKENS_PKEY: &str = "tokens_pkey";
    pub const ONE_ACTIVE_OPERATOR: &str = "tokens_one_active_operator";
    pub const ORGS_PKEY: &str = "orgs_pkey";
    pub const ORGS_NAME_UNIQUE: &str = "orgs_name_unique";
    pub const V2_USERS_PKEY: &str = "v2_users_pkey";
    pub const V2_USERS_NAME_UNIQUE: &str = "v2_users_name_unique";
    pub const SETUP_PKEY: &str = "setup_pkey";
    pub const USERS_PKEY: &str = "users_pkey";
}

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or is overloaded; callers answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Source),
    /// A named constraint refused the change.
    #[error("conflict on {constraint}")]
    Conflict {
        constraint: String,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row that does not decode: a bug or a hand-edited database.
    #[error("stored {0} is invalid")]
    Corrupt(&'static str),
    #[error("store error: {0}")]
    Internal(#[source] sqlx::Error),
}

impl StoreError {
    /// The store could not be reached or is overloaded (not a refusal of this change).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// The constraint that refused the change, if that is what happened.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            StoreError::Conflict { constraint, .. } => Some(constraint),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(err)),
            sqlx::Error::Database(db) => {
                if db.kind() == ErrorKind::UniqueViolation {
                    let constraint = db
                        .constraint()
                        .or_else(|| sqlite_unique_constraint(db.message()))
                        .unwrap_or(db.message())
                        .to_owned();
                    return StoreError::Conflict {
                        constraint,
                        source: err,
                    };
                }
                let code = db.code().unwrap_or_default();
                // PostgreSQL: connection, resources, operator intervention, serialization, and
                // a database we cannot log in to, that refuses connections or is gone (28xxx,
                // 55000, 3D000): all our outage, not the caller's fault nor a bug.
                // SQLite: BUSY and LOCKED (with extended codes). Each engine's codes are read
                // only for its own errors: SQLSTATE 22021 would otherwise read as BUSY.
                let transient = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6))
                } else {
                    ["08", "28", "53", "57"].iter().any(|c| code.starts_with(c))
                        || matches!(code.as_ref(), "40001" | "40P01" | "55000" | "3D000")
                };
                if transient {
                    StoreError::Unavailable(Box::new(err))
                } else {
                    StoreError::Internal(err)
                }
            }
            _ => StoreError::Internal(err),
        }
    }
}

/// SQLite names the columns, not the constraint, of a unique violation.
fn sqlite_unique_constraint(message: &str) -> Option<&'static str> {
    use constraint::*;
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "tokens.id" => TOKENS_PKEY,
        "tokens.operator" => ONE_ACTIVE_OPERATOR,
        "orgs.id" => ORGS_PKEY,
        "orgs.name" => ORGS_NAME_UNIQUE,
        "v2_users.id" => V2_USERS_PKEY,
        "v2_users.name" => V2_USERS_NAME_UNIQUE,
        "setup.id" => SETUP_PKEY,
        "users.id" => USERS_PKEY,
        _ => return None,
    })
}

impl From<StoreError> for crate::error::Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => crate::error::Error::Unavailable(Box::new(err)),
            _ => crate::error::Error::Internal(Box::new(err)),
        }
    }
}

/// realworld-axum-sqlx's `on_constraint`: the refusal of one named constraint becomes the
/// domain error the caller chooses; any other store error converts as usual.
pub trait OnConstraint<T> {
    fn on_constraint(
        self,
        constraint: &'static str,
        then: impl FnOnce() -> String,
    ) -> Result<T, crate::error::Error>;
}

impl<T> OnConstraint<T> for Result<T, StoreError> {
    fn on_constraint(
        self,
        constraint: &'static str,
        then: impl FnOnce() -> String,
    ) -> Result<T, crate::error::Error> {
        self.map_err(|err| match err.constraint() {
            Some(name) if name == constraint => crate::error::Error::Conflict {
                constraint: Some(constraint),
                message: then(),
            },
            _ => err.into(),
        })
    }
}
