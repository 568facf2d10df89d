//! argon2id on a fixed set of threads per lane, each reusing its own argon2 memory.
//!
//! Each lane owns `threads` OS threads, started with the pool and fed by a bounded queue; past
//! threads + queue, callers get `Busy` and answer 503 with `Retry-After` instead of queueing.
//! On tokio's blocking pool, threads came and went and each 19 MiB hash went through another
//! malloc arena, so resident memory grew with every burst and never came back. Here a thread
//! keeps its blocks between jobs, grown to the largest hash it has computed; a stored hash
//! asking for more than 4× the configured memory (at most 256 MiB) is refused, not allocated.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

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

fn failed(err: impl std::fmt::Display) -> PoolError {
    PoolError::Failed(err.to_string())
}

/// How many hashes of one kind may run at once, and how many more may wait for a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    pub threads: usize,
    pub queue: usize,
}

/// What one lane is doing right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneLoad {
    /// Jobs running on one of the lane's threads.
    pub busy: usize,
    /// Jobs admitted and waiting for a thread.
    pub queued: usize,
}

/// What both lanes are doing right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashLoad {
    pub database: LaneLoad,
    pub management: LaneLoad,
}

/// The most memory a stored hash may ask for: 4× the larger configured `memory_kib`, but no
/// more than 256 MiB unless the configured cost itself is more. A stored hash cheaper than
/// that verifies whatever the configuration says today (lowering the cost leaves older tokens
/// valid); one dearer is refused instead of making a thread hold that memory from then on.
fn stored_hash_limit_kib(database: HashParams, management: HashParams) -> u32 {
    const CEILING_KIB: u32 = 256 * 1024;
    let largest = database.memory_kib.max(management.memory_kib);
    largest.saturating_mul(4).min(CEILING_KIB).max(largest)
}

/// One job for a lane's thread; it replies to its caller itself.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// One thread's argon2 blocks, kept from one job to the next.
struct Memory {
    blocks: Vec<Block>,
    /// Never more than this many blocks (1 KiB each), whatever a stored hash asks for.
    max_blocks: usize,
}

impl Memory {
    fn new(max_blocks: usize) -> Self {
        Memory {
            blocks: Vec::new(),
            max_blocks,
        }
    }

    /// The first `count` blocks, growing to exactly `count` if they are not there yet.
    fn blocks(&mut self, count: usize) -> Result<&mut [Block], PoolError> {
        if count > self.max_blocks {
            return Err(PoolError::Failed(format!(
                "the hash asks for {count} KiB of memory; this pool allows {} KiB",
                self.max_blocks
            )));
        }
        if self.blocks.len() < count {
            // Freed before the larger allocation, not copied into it: argon2 overwrites every
            // block, and the peak stays at the new size.
            self.blocks = Vec::new();
            self.blocks.try_reserve_exact(count).map_err(failed)?;
            self.blocks.resize(count, Block::default());
        }
        Ok(&mut self.blocks[..count])
    }
}

/// How many jobs a lane holds, running or waiting, against its threads + queue.
struct Gate {
    counts: Mutex<Counts>,
    capacity: usize,
}

#[derive(Default)]
struct Counts {
    admitted: usize,
    running: usize,
}

impl Gate {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place in the lane, or `None` when its threads and queue are all taken.
    fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut counts = self.counts();
        if counts.admitted >= self.capacity {
            return None;
        }
        counts.admitted += 1;
        Some(Ticket {
            gate: Arc::clone(self),
            started: false,
        })
    }

    fn load(&self) -> LaneLoad {
        let counts = self.counts();
        LaneLoad {
            busy: counts.running,
            queued: counts.admitted.saturating_sub(counts.running),
        }
    }
}

/// A job's place in its lane, given back when dropped (run, refused or abandoned).
struct Ticket {
    gate: Arc<Gate>,
    started: bool,
}

impl Ticket {
    fn start(&mut self) {
        self.gate.counts().running += 1;
        self.started = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.gate.counts();
        counts.admitted = counts.admitted.saturating_sub(1);
        if self.started {
            counts.running = counts.running.saturating_sub(1);
        }
    }
}

/// One lane of the pool, with its own threads and queue: the data path's (database-token
/// checks) or administration's (management-token checks and minting), so a flood in one
/// (forged management tokens cost ~20 ms each) never makes the other wait.
#[derive(Clone)]
struct LaneHandle {
    gate: Arc<Gate>,
    jobs: SyncSender<Job>,
    /// Held by the lane's threads only: gone once they have all exited.
    #[cfg(test)]
    threads: std::sync::Weak<Mutex<Receiver<Job>>>,
}

impl LaneHandle {
    /// Starts the lane's threads, `argon2-{name}-{i}`.
    fn start(name: &str, lane: Lane, max_blocks: usize) -> Result<Self, PoolError> {
        let threads = lane.threads.max(1);
        let capacity = threads.saturating_add(lane.queue);
        let (jobs, queue) = sync_channel::<Job>(capacity);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{name}-{i}"))
                .spawn(move || serve(&queue, max_blocks))
                .map_err(|e| PoolError::Failed(format!("starting a hashing thread: {e}")))?;
        }
        Ok(LaneHandle {
            gate: Arc::new(Gate {
                counts: Mutex::default(),
                capacity,
            }),
            jobs,
            #[cfg(test)]
            threads: Arc::downgrade(&queue),
        })
    }

    /// Runs `work` on one of the lane's threads, or refuses at once when the lane is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let mut ticket = self.gate.admit().ok_or(PoolError::Busy)?;
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if reply.is_closed() {
                return; // the caller has gone: nobody is waiting for this hash
            }
            ticket.start();
            let out = work(memory);
            // Before replying, so that a caller never counts its own finished job in flight.
            drop(ticket);
            let _ = reply.send(out); // the caller may have gone meanwhile
        });
        // The gate keeps the queue from filling; `Full` would only mean the same as Busy.
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy,
            TrySendError::Disconnected(_) => failed("the hashing threads have stopped"),
        })?;
        result
            .await
            .map_err(|_| failed("the hashing thread dropped the job"))
    }
}

/// A lane thread: takes jobs until every sender (every `HashPool` clone) is gone.
fn serve(queue: &Mutex<Receiver<Job>>, max_blocks: usize) {
    let mut memory = Memory::new(max_blocks);
    loop {
        // One thread waits in recv holding the lock; the others wait for the lock.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else {
            return;
        };
        // A panicking job drops its reply (its caller gets `Failed`); the thread carries on.
        if catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
            tracing::error!("an argon2 job panicked");
        }
    }
}

/// A new argon2id PHC string for `plain`, as argon2's `PasswordHasher::hash_password` makes
/// it: a random 16-byte salt, the output length `params` name (32 bytes by default).
fn mint(memory: &mut Memory, params: &Params, plain: &[u8]) -> Result<String, PoolError> {
    let salt = argon2::password_hash::try_generate_salt().map_err(failed)?;
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let output = buffer
        .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
        .ok_or_else(|| failed("the output length is too long"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            plain,
            &salt,
            &mut *output,
            memory.blocks(params.block_count())?,
        )
        .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(failed)?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(output).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `plain` matches the PHC string `phc`, read as argon2's `verify_password` reads it:
/// algorithm, version (0x13 when absent), m/t/p/keyid/data from the string, the salt's decoded
/// bytes, an output as long as the stored one, and no secret.
fn check(memory: &mut Memory, plain: &[u8], phc: &str) -> Result<bool, PoolError> {
    let hash = PasswordHash::new(phc).map_err(failed)?;
    // argon2 answers `PasswordInvalid` for a string without salt or hash: a mismatch.
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Ok(false);
    };
    let params = Params::try_from(&hash).map_err(failed)?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(failed)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(failed)?
        .unwrap_or_default();
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let computed = buffer
        .get_mut(..expected.len())
        .ok_or_else(|| failed("the stored hash is too long"))?;
    let blocks = memory.blocks(params.block_count())?;
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(plain, salt, &mut *computed, blocks)
        .map_err(failed)?;
    Ok(computed.ct_eq(expected.as_bytes()).into())
}

#[derive(Clone)]
pub struct HashPool {
    database_lane: LaneHandle,
    management_lane: LaneHandle,
    database: Params,
    management: Params,
}

impl HashPool {
    /// `database`: the data path's lane; `management`: administration's. `*_params`: the
    /// cost of new hashes of each kind. Starts the lanes' threads, which exit once the last
    /// clone of the pool is dropped.
    pub fn new(
        database: Lane,
        management: Lane,
        database_params: HashParams,
        management_params: HashParams,
    ) -> Result<Self, PoolError> {
        let params = |p: HashParams| {
            Params::new(p.memory_kib, p.iterations, p.parallelism, None).map_err(failed)
        };
        let (database_cost, management_cost) =
            (params(database_params)?, params(management_params)?);
        let limit = stored_hash_limit_kib(database_params, management_params);
        let max_blocks = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(HashPool {
            database_lane: LaneHandle::start("db", database, max_blocks)?,
            management_lane: LaneHandle::start("mgmt", management, max_blocks)?,
            database: database_cost,
            management: management_cost,
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
        self.management_lane
            .run(move |memory| mint(memory, &params, plain.as_bytes()))
            .await?
    }

    /// Checks a token of `kind` against its stored PHC string (the outputs are compared in
    /// constant time).
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
        lane.run(move |memory| check(memory, plain.as_bytes(), &phc))
            .await?
    }

    /// Hashes of both kinds waiting or running right now.
    pub fn in_flight(&self) -> usize {
        let load = self.load();
        [load.database, load.management]
            .iter()
            .map(|lane| lane.busy + lane.queued)
            .sum()
    }

    /// Each lane's running and waiting hashes right now.
    pub fn load(&self) -> HashLoad {
        HashLoad {
            database: self.database_lane.gate.load(),
            management: self.management_lane.gate.load(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::time::Duration;

    use argon2::password_hash::{Error as PhcError, PasswordHasher, PasswordVerifier};
    use argon2::{AssociatedData, KeyId, ParamsBuilder};
    use futures_util::FutureExt;

    use super::*;

    fn pool(threads: usize, queue: usize) -> HashPool {
        let lane = Lane { threads, queue };
        HashPool::new(lane, lane, HashParams::DATABASE, HashParams::MANAGEMENT).unwrap()
    }

    /// Waits, with a generous bound, until `done` holds.
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// What the pool answered before it ran its own argon2: `Argon2::verify_password`.
    fn argon2_verify(plain: &str, phc: &str) -> Result<bool, ()> {
        match Argon2::default().verify_password(plain.as_bytes(), phc) {
            Ok(()) => Ok(true),
            Err(PhcError::PasswordInvalid) => Ok(false),
            Err(_) => Err(()),
        }
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

    #[tokio::test]
    async fn hashes_stored_by_argon2s_own_hasher_still_verify() {
        let pool = pool(1, 0);
        // Made by the pool before it ran argon2 itself (`Argon2::hash_password`).
        let stored = "$argon2id$v=19$m=1024,t=1,p=1$aYsjkcp8ug9JmQY5hwN1/A$137a/7jmwPYcEJM9UwJAX1GyiUPcYJtCL2opuoBI/kQ";
        assert!(
            pool.verify(TokenKind::Database, "right".into(), stored.into())
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify(TokenKind::Database, "wrong".into(), stored.into())
                .await
                .unwrap()
        );

        let with = |algorithm, version, params: Params| {
            Argon2::new(algorithm, version, params)
                .hash_password(b"right")
                .unwrap()
                .to_string()
        };
        let cost = |m, t, p, out| Params::new(m, t, p, out).unwrap();
        let mut context = ParamsBuilder::new();
        context
            .m_cost(64)
            .t_cost(2)
            .keyid(KeyId::new(b"key1").unwrap())
            .data(AssociatedData::new(b"tollgate").unwrap());
        let phcs = [
            with(
                Algorithm::Argon2id,
                Version::V0x13,
                cost(19_456, 2, 1, None),
            ),
            with(Algorithm::Argon2id, Version::V0x13, cost(1024, 1, 1, None)),
            with(
                Algorithm::Argon2i,
                Version::V0x10,
                cost(256, 3, 2, Some(16)),
            ),
            with(Algorithm::Argon2d, Version::V0x13, cost(64, 1, 1, Some(64))),
            with(
                Algorithm::Argon2id,
                Version::V0x13,
                context.build().unwrap(),
            ),
        ];
        for phc in phcs {
            for (plain, matches) in [("right", true), ("wrong", false)] {
                let verified = pool
                    .verify(TokenKind::Management, plain.into(), phc.clone())
                    .await
                    .unwrap();
                assert_eq!(verified, matches, "{plain} against {phc}");
            }
        }
    }

    #[tokio::test]
    async fn malformed_stored_strings_read_as_they_did_before() {
        let pool = pool(1, 0);
        let good = pool
            .hash(TokenKind::Database, "right".into())
            .await
            .unwrap();
        let without_hash = good.rsplit_once('$').unwrap().0.to_string();
        let v16 = good.replace("v=19", "v=16");
        let cases = [
            String::new(),
            "not a phc string".into(),
            "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo".into(),
            "$pbkdf2$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo".into(),
            good.replace("v=19", "v=20"),
            good.replace("t=1", "t=0"),
            good.replace("p=1", "p=1,x=2"),
            good.replace("$v=19", ""),
            without_hash.clone(),
            without_hash.rsplit_once('$').unwrap().0.to_string(),
            v16,
            good.clone(),
        ];
        for phc in cases {
            let before = argon2_verify("right", &phc);
            let now = pool
                .verify(TokenKind::Database, "right".into(), phc.clone())
                .await;
            match (before, now) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{phc:?}"),
                (Err(()), Err(PoolError::Failed(_))) => {}
                (before, now) => panic!("{phc:?}: was {before:?}, now {now:?}"),
            }
        }
    }

    #[tokio::test]
    async fn new_hashes_verify_with_argon2s_own_verifier() {
        let pool = pool(1, 0);
        for (kind, prefix) in [
            (TokenKind::Database, "$argon2id$v=19$m=1024,t=1,p=1$"),
            (TokenKind::Management, "$argon2id$v=19$m=19456,t=2,p=1$"),
        ] {
            let phc = pool.hash(kind, "right".into()).await.unwrap();
            assert!(phc.starts_with(prefix), "{phc}");
            let parsed = PasswordHash::new(&phc).unwrap();
            assert_eq!(parsed.salt.unwrap().len(), 16, "argon2's recommended salt");
            assert_eq!(parsed.hash.unwrap().len(), 32, "argon2's default output");
            assert_eq!(
                Argon2::default().verify_password(b"right", phc.as_str()),
                Ok(())
            );
            assert_eq!(
                Argon2::default().verify_password(b"wrong", phc.as_str()),
                Err(PhcError::PasswordInvalid)
            );
        }
    }

    #[test]
    fn stored_hashes_may_ask_for_four_times_the_configured_memory_up_to_256_mib() {
        let kib = |memory_kib| HashParams {
            memory_kib,
            ..HashParams::DATABASE
        };
        let limit = |database, management| stored_hash_limit_kib(kib(database), kib(management));
        assert_eq!(limit(1_024, 19_456), 4 * 19_456);
        assert_eq!(limit(19_456, 1_024), 4 * 19_456);
        assert_eq!(limit(1_024, 100_000), 256 * 1024);
        assert_eq!(
            limit(1_024, 300_000),
            300_000,
            "the configured cost always fits"
        );
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_more_memory_than_the_limit_is_refused() {
        let pool = pool(1, 0);
        let good = pool
            .hash(TokenKind::Database, "right".into())
            .await
            .unwrap();
        let limit = stored_hash_limit_kib(HashParams::DATABASE, HashParams::MANAGEMENT);
        let dear = good.replace("m=1024", &format!("m={}", limit + 4));
        for kind in [TokenKind::Database, TokenKind::Management] {
            let refused = pool.verify(kind, "right".into(), dear.clone()).await;
            assert!(
                matches!(&refused, Err(PoolError::Failed(why)) if why.contains("KiB")),
                "{refused:?}"
            );
        }
        assert!(
            pool.verify(TokenKind::Database, "right".into(), good)
                .await
                .unwrap()
        );
    }

    #[test]
    fn a_threads_memory_grows_to_what_a_job_needs_and_is_reused() {
        let mut memory = Memory::new(4096);
        let at = memory.blocks(1024).unwrap().as_ptr();
        assert_eq!(memory.blocks.capacity(), 1024);
        assert_eq!(memory.blocks(512).unwrap().len(), 512);
        assert_eq!(
            memory.blocks(1024).unwrap().as_ptr(),
            at,
            "reused, not reallocated"
        );
        assert_eq!(memory.blocks.capacity(), 1024, "kept, not shrunk");
        memory.blocks(1025).unwrap();
        assert_eq!(memory.blocks.capacity(), 1025, "exactly what was needed");
        assert!(matches!(memory.blocks(4097), Err(PoolError::Failed(_))));
        assert_eq!(
            memory.blocks.capacity(),
            1025,
            "a refused need allocates nothing"
        );
    }

    #[tokio::test]
    async fn a_lane_full_of_slow_hashes_refuses_the_next_one_at_once() {
        let management = Lane {
            threads: 1,
            queue: 1,
        };
        // Most of a second per hash, in little memory.
        let slow = HashParams {
            memory_kib: 4 * 1024,
            iterations: 150,
            parallelism: 1,
        };
        let database = Lane {
            threads: 1,
            queue: 0,
        };
        let pool = HashPool::new(database, management, HashParams::DATABASE, slow).unwrap();
        let load = |busy, queued| LaneLoad { busy, queued };

        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.hash(TokenKind::Management, "a".into()).await }
        });
        until("the first hash runs", || {
            pool.load().management == load(1, 0)
        })
        .await;
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.hash(TokenKind::Management, "b".into()).await }
        });
        until("the second hash waits", || {
            pool.load().management == load(1, 1)
        })
        .await;
        assert_eq!(pool.in_flight(), 2);
        assert_eq!(pool.load().database, LaneLoad::default());

        let refused = pool.hash(TokenKind::Management, "c".into()).await;
        assert!(matches!(refused, Err(PoolError::Busy)), "{refused:?}");
        assert_eq!(
            pool.load().management,
            load(1, 1),
            "the refusal took no place"
        );

        assert!(running.await.unwrap().is_ok());
        assert!(waiting.await.unwrap().is_ok());
        assert_eq!(pool.load(), HashLoad::default());
        assert_eq!(pool.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_lane_runs_every_job_on_its_own_few_threads_reusing_their_memory() {
        let pool = pool(2, 6);
        let phc = pool
            .hash(TokenKind::Database, "right".into())
            .await
            .unwrap();
        let mut seen: HashMap<std::thread::ThreadId, (String, HashSet<usize>)> = HashMap::new();
        for _ in 0..5 {
            let batch = (0..8).map(|_| {
                let phc = phc.clone();
                pool.database_lane.run(move |memory| {
                    let verified = check(memory, b"right", &phc);
                    let thread = std::thread::current();
                    let name = thread.name().unwrap_or_default().to_string();
                    let at = memory.blocks.as_ptr() as usize;
                    (verified.unwrap(), thread.id(), name, at)
                })
            });
            for job in futures_util::future::join_all(batch).await {
                let (verified, id, name, at) = job.unwrap();
                assert!(verified);
                let entry = seen.entry(id).or_insert_with(|| (name, HashSet::new()));
                entry.1.insert(at);
            }
        }
        assert!(seen.len() <= 2, "{} threads for one lane of 2", seen.len());
        for (name, memory) in seen.values() {
            assert!(name.starts_with("argon2-db-"), "{name}");
            assert_eq!(memory.len(), 1, "{name} kept one block of argon2 memory");
        }
    }

    #[tokio::test]
    async fn an_abandoned_call_still_gives_its_place_back() {
        let pool = pool(1, 0);
        assert!(
            pool.hash(TokenKind::Management, "gone".into())
                .now_or_never()
                .is_none()
        );
        until("the abandoned job leaves", || pool.in_flight() == 0).await;
        let phc = pool
            .hash(TokenKind::Management, "next".into())
            .await
            .unwrap();
        assert!(
            pool.verify(TokenKind::Management, "next".into(), phc)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_threads_exit_when_the_last_clone_of_the_pool_is_dropped() {
        let pool = pool(2, 1);
        let threads = [
            pool.database_lane.threads.clone(),
            pool.management_lane.threads.clone(),
        ];
        let clone = pool.clone();
        drop(pool);
        clone
            .hash(TokenKind::Database, "still served".into())
            .await
            .unwrap();
        assert!(threads.iter().all(|t| t.upgrade().is_some()));
        drop(clone);
        until("the threads exit", || {
            threads.iter().all(|t| t.upgrade().is_none())
        })
        .await;
    }
}
