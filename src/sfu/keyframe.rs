//! Keyframe-request throttling, pure: many subscribers (new ones, lagging ones, ones whose browser
//! sent a PLI) may ask for a keyframe of the same published video track at once; the publisher
//! gets at most one request per interval, and a request that arrives inside the interval is not
//! lost but sent when the interval ends.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send a request now.
    SendNow,
    /// A request is due at this instant (the caller waits, then calls [`Throttle::fire`]).
    SendAt(Instant),
}

#[derive(Debug, Clone)]
pub struct Throttle {
    min_interval: Duration,
    last_sent: Option<Instant>,
}

impl Throttle {
    pub fn new(min_interval: Duration) -> Self {
        Throttle {
            min_interval,
            last_sent: None,
        }
    }

    /// Someone wants a keyframe at `now`.
    pub fn request(&mut self, now: Instant) -> Decision {
        match self.last_sent {
            Some(last) if now < last + self.min_interval => {
                Decision::SendAt(last + self.min_interval)
            }
            _ => {
                self.last_sent = Some(now);
                Decision::SendNow
            }
        }
    }

    /// Records that a deferred request was sent at `now`.
    pub fn fire(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_per_interval_and_none_lost() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(1));
        assert_eq!(t.request(t0), Decision::SendNow);
        let due = t0 + Duration::from_secs(1);
        assert_eq!(
            t.request(t0 + Duration::from_millis(10)),
            Decision::SendAt(due)
        );
        assert_eq!(
            t.request(t0 + Duration::from_millis(900)),
            Decision::SendAt(due)
        );
        t.fire(due);
        assert_eq!(
            t.request(due + Duration::from_millis(500)),
            Decision::SendAt(due + Duration::from_secs(1))
        );
        assert_eq!(t.request(due + Duration::from_secs(1)), Decision::SendNow);
    }
}
