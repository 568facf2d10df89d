//! The users allowed on this cluster (`[[users]]`): replaced from the configuration at start,
//! read by the management API and by OAuth sign-in.

use super::User;
use crate::audit::{AuditEvent, Origin};
use crate::error::Error;
use crate::store::Store;

#[derive(Clone)]
pub struct Directory {
    store: Store,
}

impl Directory {
    pub fn new(store: Store) -> Self {
        Directory { store }
    }

    /// Makes the stored users match the configuration; returns the audit entries written.
    pub async fn sync(&self, users: &[User], origin: &Origin) -> Result<Vec<AuditEvent>, Error> {
        Ok(self.store.sync_users(users, origin).await?)
    }

    pub async fn list(&self) -> Result<Vec<User>, Error> {
        Ok(self.store.list_users().await?)
    }

    pub async fn find(&self, id: &str) -> Result<Option<User>, Error> {
        Ok(self.store.find_user(id).await?)
    }
}
