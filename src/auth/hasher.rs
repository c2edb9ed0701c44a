//! Password verification off the async workers, with bounded memory: a fixed pool of worker
//! threads (one per core by default) sharing at most one argon2 working memory each (about
//! 19 MiB for the default parameters), reused from hash to hash while logins keep coming, so a
//! login flood neither grows the heap nor leaves freed arenas behind; after [`KEEP_IDLE`] without
//! a login it is given back, so an idle server does not hold it. At most one job per worker is in
//! flight: [`Hasher::verify`] refuses at once with [`Busy`] when every worker is taken (the caller
//! answers 429).

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};

/// Working memory above this is refused (a stored hash asking for more is not ours).
const MAX_BLOCKS: usize = 64 * 1024; // 64 MiB of 1 KiB blocks

/// The working memories are given back after this long without a login.
pub const KEEP_IDLE: Duration = Duration::from_secs(5);

/// Every worker is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

struct Job {
    password: String,
    phc: String,
    reply: oneshot::Sender<bool>,
}

/// The verification pool. Cloning shares it.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::SyncSender<Job>,
    permits: Arc<Semaphore>,
    workers: usize,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    memories: Arc<Memories>,
}

/// The working memories not in use (at most one per worker) and the bytes of all of them, in
/// use or not.
#[derive(Default)]
struct Memories {
    spare: Mutex<Vec<Vec<Block>>>,
    bytes: AtomicUsize,
}

impl Memories {
    fn take(&self) -> Vec<Block> {
        lock(&self.spare).pop().unwrap_or_default()
    }

    fn put_back(&self, memory: Vec<Block>, grown_by: usize) {
        self.bytes.fetch_add(grown_by, Ordering::Relaxed);
        lock(&self.spare).push(memory);
    }

    /// Frees the memories no worker is using (outside the lock).
    fn release(&self) {
        let freed = std::mem::take(&mut *lock(&self.spare));
        let bytes: usize = freed
            .iter()
            .map(|m| m.capacity() * size_of::<Block>())
            .sum();
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        drop(freed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hasher {
    /// A pool of `workers` threads (`0`: one per core) that gives its memory back after
    /// [`KEEP_IDLE`] without a login.
    pub fn new(workers: usize) -> Hasher {
        Hasher::with_keep_idle(workers, KEEP_IDLE)
    }

    /// Same, giving the memory back after `keep_idle` without a login.
    pub fn with_keep_idle(workers: usize, keep_idle: Duration) -> Hasher {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (jobs, rx) = mpsc::sync_channel::<Job>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let memories = Arc::new(Memories::default());
        for i in 0..workers {
            let rx = rx.clone();
            let memories = memories.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // Only the worker holding the receiver takes jobs: when none came for
                        // `keep_idle`, every hash started before has ended (one takes well
                        // under a second) and all the memories are spare.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv_timeout(keep_idle),
                            Err(_) => return,
                        };
                        let job = match job {
                            Ok(job) => job,
                            Err(RecvTimeoutError::Timeout) => {
                                memories.release();
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        };
                        let mut memory = memories.take();
                        let before = memory.capacity();
                        let ok = verify_with(&job.password, &job.phc, &mut memory);
                        let grown_by = (memory.capacity() - before) * size_of::<Block>();
                        memories.put_back(memory, grown_by);
                        let _ = job.reply.send(ok);
                    }
                })
                .expect("spawn an argon2 worker");
        }
        Hasher {
            jobs,
            permits: Arc::new(Semaphore::new(workers)),
            workers,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
            memories,
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Bytes of argon2 working memory held now (in use or kept for the next login).
    pub fn memory_bytes(&self) -> usize {
        self.memories.bytes.load(Ordering::Relaxed)
    }

    /// The most verifications that were ever in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Checks `password` against the PHC string on a worker; [`Busy`] at once when all are taken.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, Busy> {
        let _permit = self.permits.clone().try_acquire_owned().map_err(|_| Busy)?;
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let sent = self.jobs.try_send(Job {
            password,
            phc,
            reply,
        });
        let ok = match sent {
            Ok(()) => answer.await.unwrap_or(false),
            Err(_) => false,
        };
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        Ok(ok)
    }
}

/// Verifies with the caller's working memory (grown once, then reused). A malformed or
/// unsupported hash never verifies.
pub fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|o| o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::hash_password;

    #[test]
    fn verifies_like_argon2_with_reused_memory() {
        let a = hash_password("mật khẩu đủ dài");
        let b = hash_password("một mật khẩu khác");
        let mut memory = Vec::new();
        assert!(verify_with("mật khẩu đủ dài", &a, &mut memory));
        let size = memory.len();
        assert!(size > 0);
        assert!(!verify_with("mật khẩu sai", &a, &mut memory));
        assert!(verify_with("một mật khẩu khác", &b, &mut memory));
        assert_eq!(memory.len(), size, "the memory is reused, not regrown");
        assert!(!verify_with("x", "not a phc string", &mut memory));
        // A hash asking for 1 GiB of memory is refused without allocating it.
        let greedy = a.replace("m=19456", "m=1048576");
        assert!(!verify_with("mật khẩu đủ dài", &greedy, &mut memory));
        assert_eq!(memory.len(), size);
    }

    #[tokio::test]
    async fn the_pool_refuses_beyond_its_workers() {
        let hasher = Hasher::new(1);
        let phc = hash_password("mật khẩu đủ dài");
        let many: Vec<_> = (0..8)
            .map(|_| {
                let h = hasher.clone();
                let phc = phc.clone();
                tokio::spawn(async move { h.verify("mật khẩu đủ dài".into(), phc).await })
            })
            .collect();
        let mut done = Vec::new();
        for t in many {
            done.push(t.await.unwrap());
        }
        assert!(done.contains(&Ok(true)));
        assert!(done.contains(&Err(Busy)), "{done:?}");
        assert_eq!(hasher.peak_in_flight(), 1);
        // Free again afterwards.
        assert_eq!(hasher.verify("sai".into(), phc).await, Ok(false));
    }

    #[tokio::test]
    async fn memory_is_reused_while_logins_come_and_given_back_when_idle() {
        let phc = hash_password("mật khẩu đủ dài");
        let busy = Hasher::with_keep_idle(2, Duration::from_secs(3600));
        assert_eq!(busy.memory_bytes(), 0, "nothing before the first login");
        for _ in 0..4 {
            assert_eq!(
                busy.verify("mật khẩu đủ dài".into(), phc.clone()).await,
                Ok(true)
            );
        }
        let held = busy.memory_bytes();
        // One hash at a time: one working memory (19 MiB for the default parameters), reused.
        assert_eq!(held, 19 * 1024 * 1024, "{held}");

        let idle = Hasher::with_keep_idle(2, Duration::from_millis(50));
        assert_eq!(idle.verify("sai".into(), phc.clone()).await, Ok(false));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while idle.memory_bytes() != 0 {
            assert!(std::time::Instant::now() < deadline, "never given back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // And taken again for the next login.
        assert_eq!(idle.verify("mật khẩu đủ dài".into(), phc).await, Ok(true));
    }
}
