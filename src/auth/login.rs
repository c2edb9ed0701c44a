//! The guard in front of password logins: a client address or an account that keeps failing is
//! shut for a doubling delay (`throttle`), and password hashes run on the bounded pool
//! (`hasher`), so a flood of wrong logins costs a fixed amount of memory and the excess is refused
//! at once. The HTTP handler asks [`LoginGuard::check`] before hashing and reports the outcome.

use super::hasher::Hasher;
use super::throttle::{Policy, Throttle};
use crate::config::AuthConfig;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered per table (accounts, addresses).
const CAPACITY: usize = 100_000;
/// A key quiet for this long starts afresh.
const FORGET: Duration = Duration::from_secs(30 * 60);
/// Usernames longer than any valid one are cut to this for the account key.
const MAX_KEY: usize = 64;

pub struct LoginGuard {
    accounts: Mutex<Throttle>,
    addresses: Mutex<Throttle>,
    pub hasher: Hasher,
}

/// The account key of a typed username (trimmed, cut to 64 bytes on a character boundary).
pub fn account_key(username: &str) -> String {
    let u = username.trim();
    let mut end = u.len().min(MAX_KEY);
    while !u.is_char_boundary(end) {
        end -= 1;
    }
    u[..end].to_string()
}

/// IPv6 clients are counted per /64, since one host usually holds the whole prefix.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl LoginGuard {
    pub fn new(config: &AuthConfig) -> LoginGuard {
        let policy = |free| Policy {
            free,
            base: Duration::from_secs(config.login_backoff_base_secs.into()),
            max: Duration::from_secs(config.login_backoff_max_secs.into()),
            forget: FORGET,
        };
        LoginGuard {
            accounts: Mutex::new(Throttle::new(
                policy(config.login_free_failures_per_account),
                CAPACITY,
            )),
            addresses: Mutex::new(Throttle::new(
                policy(config.login_free_failures_per_address),
                CAPACITY,
            )),
            hasher: Hasher::new(config.login_hash_workers as usize),
        }
    }

    /// `Err(wait)` while the account or the address is shut (the longer wait of the two).
    pub fn check(&self, username: &str, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let a = lock(&self.accounts).check(&account_key(username), now);
        let b = lock(&self.addresses).check(&address_key(ip), now);
        match (a, b) {
            (Ok(()), Ok(())) => Ok(()),
            (a, b) => Err(a.err().max(b.err()).unwrap_or_default()),
        }
    }

    /// Counts a failure against both; the longest delay this starts, if any.
    pub fn failed(&self, username: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let a = lock(&self.accounts).failed(&account_key(username), now);
        let b = lock(&self.addresses).failed(&address_key(ip), now);
        a.max(b)
    }

    /// A right password clears the account (the address keeps its count).
    pub fn succeeded(&self, username: &str) {
        lock(&self.accounts).succeeded(&account_key(username));
    }
}

fn lock(m: &Mutex<Throttle>) -> std::sync::MutexGuard<'_, Throttle> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            token_secret: String::new(),
            join_link_grace_hours: 12,
            login_session_hours: 12,
            join_opens_minutes_before: 60,
            login_hash_workers: 1,
            login_free_failures_per_account: 2,
            login_free_failures_per_address: 4,
            login_backoff_base_secs: 1,
            login_backoff_max_secs: 60,
        }
    }

    #[test]
    fn an_account_is_shut_from_any_address_and_an_address_for_any_account() {
        let g = LoginGuard::new(&config());
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(g.failed("admin", a, t0), None);
        assert_eq!(g.failed(" admin ", b, t0), None);
        assert_eq!(g.failed("admin", a, t0), Some(Duration::from_secs(1)));
        // The account is shut everywhere; another account from another address is not.
        assert!(g.check("admin", b, t0).is_err());
        assert!(g.check("thuky", b, t0).is_ok());
        // Address a: 2 failures so far; 4 are free, the fifth shuts it for every account.
        g.failed("x1", a, t0);
        assert_eq!(g.failed("x2", a, t0), None);
        assert_eq!(g.failed("x3", a, t0), Some(Duration::from_secs(1)));
        assert!(g.check("thuky", a, t0).is_err());
        assert!(g.check("thuky", b, t0).is_ok());
        g.succeeded("admin");
        assert!(g.check("admin", b, t0).is_ok());
    }

    #[test]
    fn keys_are_bounded_and_v6_counts_per_prefix() {
        assert_eq!(account_key(&"ă".repeat(100)).len(), 64);
        let x: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(x), address_key(y));
        let m: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(m), "10.0.0.1");
    }
}
