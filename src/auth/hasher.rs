//! Password verification off the async workers, with bounded memory: a fixed pool of worker
//! threads (one per core by default), each keeping its own argon2 working memory (about 19 MiB
//! for the default parameters) and reusing it for every hash, so a login flood neither grows the
//! heap nor leaves freed arenas behind. At most one job per worker is in flight: [`Hasher::verify`]
//! refuses at once with [`Busy`] when every worker is taken (the caller answers 429).

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Semaphore, oneshot};

/// Working memory above this is refused (a stored hash asking for more is not ours).
const MAX_BLOCKS: usize = 64 * 1024; // 64 MiB of 1 KiB blocks

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
}

impl Hasher {
    /// A pool of `workers` threads (`0`: one per core).
    pub fn new(workers: usize) -> Hasher {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (jobs, rx) = mpsc::sync_channel::<Job>(workers);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let ok = verify_with(&job.password, &job.phc, &mut memory);
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
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
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
}
