//! Login backoff, pure: failed logins are counted per key (an account, a client address); after
//! `free` failures each further one shuts the key for a doubling delay (base, 2×base, … up to
//! `max`), and a key quiet for `forget` starts afresh. Time is passed in, so the policy is tested
//! without clocks. The table is bounded: when full, expired keys go first, then the oldest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed before the first delay.
    pub free: u32,
    /// The first delay; each further failure doubles it.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A key without failures for this long is forgotten.
    pub forget: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    until: Option<Instant>,
}

/// Failure counts per key under one policy.
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    keys: HashMap<String, Entry>,
    capacity: usize,
}

impl Throttle {
    pub fn new(policy: Policy, capacity: usize) -> Throttle {
        Throttle {
            policy,
            keys: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// `Err(wait)` while `key` is shut.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.keys.get(key).and_then(|e| e.until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure; returns the delay it starts, if it starts one.
    pub fn failed(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let policy = self.policy;
        if !self.keys.contains_key(key) && self.keys.len() >= self.capacity {
            self.make_room(now);
        }
        let e = self.keys.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            last: now,
            until: None,
        });
        if now.duration_since(e.last) >= policy.forget {
            e.failures = 0;
            e.until = None;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        let over = e.failures.checked_sub(policy.free + 1)?;
        let delay = policy
            .base
            .checked_mul(1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(policy.max)
            .min(policy.max);
        e.until = Some(now + delay);
        Some(delay)
    }

    /// A success clears the key.
    pub fn succeeded(&mut self, key: &str) {
        self.keys.remove(key);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn make_room(&mut self, now: Instant) {
        let forget = self.policy.forget;
        self.keys
            .retain(|_, e| now.duration_since(e.last) < forget || e.until.is_some_and(|u| u > now));
        if self.keys.len() >= self.capacity
            && let Some(oldest) = self
                .keys
                .iter()
                .min_by_key(|(_, e)| (e.until.is_some_and(|u| u > now), e.last))
                .map(|(k, _)| k.clone())
        {
            self.keys.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            free: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            forget: Duration::from_secs(600),
        }
    }

    #[test]
    fn free_failures_then_doubling_delays_up_to_the_cap() {
        let t0 = Instant::now();
        let mut t = Throttle::new(policy(), 100);
        for _ in 0..3 {
            assert_eq!(t.failed("a", t0), None);
            assert_eq!(t.check("a", t0), Ok(()));
        }
        let s = Duration::from_secs;
        assert_eq!(t.failed("a", t0), Some(s(1)));
        assert_eq!(t.check("a", t0), Err(s(1)));
        assert_eq!(t.check("a", t0 + s(1)), Ok(()));
        assert_eq!(t.failed("a", t0 + s(1)), Some(s(2)));
        assert_eq!(t.failed("a", t0 + s(3)), Some(s(4)));
        assert_eq!(t.failed("a", t0 + s(7)), Some(s(8)));
        assert_eq!(t.failed("a", t0 + s(15)), Some(s(8)), "capped");
        for i in 0..100 {
            assert_eq!(t.failed("a", t0 + s(16 + i)), Some(s(8)), "no overflow");
        }
        // Other keys are untouched.
        assert_eq!(t.check("b", t0 + s(16)), Ok(()));
    }

    #[test]
    fn success_and_quiet_time_clear_a_key() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Throttle::new(policy(), 100);
        for _ in 0..4 {
            t.failed("a", t0);
        }
        assert!(t.check("a", t0).is_err());
        t.succeeded("a");
        assert_eq!(t.check("a", t0), Ok(()));
        for _ in 0..4 {
            t.failed("b", t0);
        }
        // Ten quiet minutes later the count starts again from zero.
        assert_eq!(t.failed("b", t0 + s(600)), None);
    }

    #[test]
    fn the_table_stays_bounded_and_evicts_shut_keys_last() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Throttle::new(policy(), 10);
        for _ in 0..4 {
            t.failed("victim", t0);
        }
        for i in 0..1000 {
            t.failed(&format!("k{i}"), t0 + s(601));
            assert!(t.len() <= 10);
        }
        let mut t = Throttle::new(policy(), 3);
        for _ in 0..4 {
            t.failed("shut", t0);
        }
        t.failed("x", t0);
        t.failed("y", t0);
        t.failed("z", t0);
        assert_eq!(t.len(), 3);
        assert!(t.check("shut", t0).is_err());
    }
}
