//! argon2id on a bounded set of blocking threads, with a bounded wait.
//!
//! tokio's blocking pool is unbounded (512 threads at ~19 MiB each would be gigabytes), so a
//! semaphore caps running hashes at the thread count and another caps how many may wait.
//! Past that, callers get `Busy` and answer 503 with `Retry-After` instead of queueing.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use serde::{Deserialize, Serialize};

use super::TokenKind;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's argon2id minimum: management tokens guard the whole cluster.
    pub const MANAGEMENT: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
    /// Database tokens carry 256 random bits; cost only delays cold writes (README explains).
    pub const DATABASE: HashParams = HashParams {
        memory_kib: 1_024,
        iterations: 1,
        parallelism: 1,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the hashing pool is saturated")]
    Busy,
    #[error("hashing failed: {0}")]
    Failed(String),
}

impl From<PoolError> for crate::error::Error {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Busy => crate::error::Error::Unavailable(Box::new(err)),
            PoolError::Failed(_) => crate::error::Error::Internal(Box::new(err)),
        }
    }
}

/// How many hashes of one kind may run at once, and how many more may wait for a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    pub threads: usize,
    pub queue: usize,
}

/// One lane of the pool, with its own threads and queue: the data path's (database-token
/// checks) or administration's (management-token checks and minting), so a flood in one
/// (forged management tokens cost ~20 ms each) never makes the other wait.
#[derive(Clone)]
struct Admission {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    capacity: usize,
    threads: usize,
}

impl Admission {
    fn new(lane: Lane) -> Self {
        let threads = lane.threads.max(1);
        Admission {
            running: Arc::new(Semaphore::new(threads)),
            admitted: Arc::new(Semaphore::new(threads + lane.queue)),
            capacity: threads + lane.queue,
            threads,
        }
    }

    fn in_flight(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }

    fn load(&self) -> LaneLoad {
        let busy = self.threads - self.running.available_permits();
        LaneLoad {
            busy,
            queued: self.in_flight().saturating_sub(busy),
        }
    }
}

/// What each lane is doing now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashLoad {
    pub database: LaneLoad,
    pub management: LaneLoad,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneLoad {
    /// Hashes running on a thread.
    pub busy: usize,
    /// Hashes admitted, waiting for a thread.
    pub queued: usize,
}

#[derive(Clone)]
pub struct HashPool {
    database_lane: Admission,
    management_lane: Admission,
    database: Params,
    management: Params,
}

impl HashPool {
    /// `database`: the data path's lane; `management`: administration's. `*_params`: the
    /// cost of new hashes of each kind.
    pub fn new(
        database: Lane,
        management: Lane,
        database_params: HashParams,
        management_params: HashParams,
    ) -> Result<Self, PoolError> {
        let params = |p: HashParams| {
            Params::new(p.memory_kib, p.iterations, p.parallelism, None)
                .map_err(|e| PoolError::Failed(e.to_string()))
        };
        Ok(HashPool {
            database_lane: Admission::new(database),
            management_lane: Admission::new(management),
            database: params(database_params)?,
            management: params(management_params)?,
        })
    }

    /// Hashes a new token's plain string into an argon2id PHC string. Minting is
    /// administration, whatever the kind: it runs in the management lane, never the data
    /// path's.
    pub async fn hash(&self, kind: TokenKind, plain: String) -> Result<String, PoolError> {
        let params = match kind {
            TokenKind::Database => self.database.clone(),
            TokenKind::Management => self.management.clone(),
        };
        self.run(&self.management_lane, move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(plain.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| PoolError::Failed(e.to_string()))
        })
        .await?
    }

    /// Checks a token of `kind` against its stored PHC string (constant-time comparison
    /// inside argon2).
    pub async fn verify(
        &self,
        kind: TokenKind,
        plain: String,
        phc: String,
    ) -> Result<bool, PoolError> {
        let lane = match kind {
            TokenKind::Database => &self.database_lane,
            TokenKind::Management => &self.management_lane,
        };
        self.run(lane, move || {
            match Argon2::default().verify_password(plain.as_bytes(), phc.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(PoolError::Failed(e.to_string())),
            }
        })
        .await?
    }

    pub fn load(&self) -> HashLoad {
        HashLoad {
            database: self.database_lane.load(),
            management: self.management_lane.load(),
        }
    }

    /// Hashes of both kinds waiting or running right now.
    pub fn in_flight(&self) -> usize {
        self.database_lane.in_flight() + self.management_lane.in_flight()
    }

    async fn run<T: Send + 'static>(
        &self,
        lane: &Admission,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let admitted = lane
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PoolError::Busy)?;
        let running = lane
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(running);
            drop(admitted);
            out
        })
        .await
        .map_err(|e| PoolError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize, queue: usize) -> HashPool {
        let lane = Lane { threads, queue };
        HashPool::new(lane, lane, HashParams::DATABASE, HashParams::MANAGEMENT).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_token() {
        let pool = pool(1, 0);
        let phc = pool
            .hash(TokenKind::Database, "right".into())
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        let verify = |plain: &str| pool.verify(TokenKind::Database, plain.into(), phc.clone());
        assert!(verify("right").await.unwrap());
        assert!(!verify("wrong").await.unwrap());
        assert_eq!(pool.in_flight(), 0);
    }

    #[tokio::test]
    async fn work_beyond_the_threads_and_queue_is_refused_not_queued() {
        let pool = pool(1, 1);
        // join! polls in order: the first two are admitted (one running, one waiting),
        // the third finds no room and is refused at once.
        let (a, b, c) = tokio::join!(
            pool.hash(TokenKind::Management, "a".into()),
            pool.hash(TokenKind::Management, "b".into()),
            pool.hash(TokenKind::Management, "c".into()),
        );
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(c, Err(PoolError::Busy)));
        assert_eq!(pool.in_flight(), 0, "permits are returned");
    }

    #[tokio::test]
    async fn a_full_management_lane_does_not_refuse_or_delay_database_verifications() {
        let pool = pool(1, 0);
        let phc = pool.hash(TokenKind::Database, "c".into()).await.unwrap();
        // join! polls in order: the first mint takes the management lane's only slot, the
        // second is refused, and the database check runs in its own lane all the same.
        let (first, second, database) = tokio::join!(
            pool.hash(TokenKind::Management, "a".into()),
            pool.hash(TokenKind::Database, "b".into()),
            pool.verify(TokenKind::Database, "c".into(), phc),
        );
        assert!(first.is_ok());
        assert!(
            matches!(second, Err(PoolError::Busy)),
            "minting is administration"
        );
        assert!(database.unwrap(), "verified in its own lane");
    }
}
