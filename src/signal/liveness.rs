//! When a signaling connection is given up: the pure rule over what the socket task observes
//! (time since the socket opened, time since the client last sent any frame, whether it joined)
//! and what the site's peer connections report. The socket task pings every `ping_interval`; a
//! live client answers (browsers and WebSocket libraries do so by themselves), so silence longer
//! than `silence_limit` means a frozen process or a cut network. The media connections are the
//! second signal: `failed` drops at once, `disconnected` drops as soon as one pong is missing.

use std::time::Duration;

/// The timings, from config `[signal]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub ping_interval: Duration,
    pub silence_limit: Duration,
    pub join_timeout: Duration,
}

impl Policy {
    pub fn from_config(c: &crate::config::SignalConfig) -> Self {
        Policy {
            ping_interval: Duration::from_millis(c.ping_interval_ms),
            silence_limit: Duration::from_millis(c.silence_timeout_ms),
            join_timeout: Duration::from_millis(c.join_timeout_ms),
        }
    }

    /// How often the socket task looks at the clock.
    pub fn tick(&self) -> Duration {
        (self.ping_interval / 4)
            .min(self.join_timeout / 4)
            .max(Duration::from_millis(20))
    }

    /// What to do with a connection now.
    pub fn verdict(
        &self,
        joined: bool,
        since_open: Duration,
        silent_for: Duration,
        media: MediaHealth,
    ) -> Verdict {
        if !joined && since_open >= self.join_timeout {
            return Verdict::JoinTimeout;
        }
        if silent_for >= self.silence_limit {
            return Verdict::Dropped(Cause::Silent);
        }
        match media {
            MediaHealth::Failed => Verdict::Dropped(Cause::MediaFailed),
            MediaHealth::Disconnected if silent_for >= self.ping_interval * 3 / 2 => {
                Verdict::Dropped(Cause::MediaDisconnected)
            }
            _ => Verdict::Alive,
        }
    }
}

/// The worst state among a site's peer connections that got connected at least once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum MediaHealth {
    /// No connection has connected yet (or the site publishes and watches nothing).
    #[default]
    Unknown,
    Connected,
    Disconnected,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Silent,
    MediaFailed,
    MediaDisconnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Alive,
    /// The site is gone: it leaves with reason `drop`.
    Dropped(Cause),
    /// No `join` in time: `error join_timeout`, then close.
    JoinTimeout,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            ping_interval: Duration::from_millis(1000),
            silence_limit: Duration::from_millis(3000),
            join_timeout: Duration::from_millis(10_000),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_socket_without_join_is_closed_after_the_join_timeout() {
        let p = policy();
        assert_eq!(
            p.verdict(false, ms(9_999), ms(0), MediaHealth::Unknown),
            Verdict::Alive
        );
        assert_eq!(
            p.verdict(false, ms(10_000), ms(0), MediaHealth::Unknown),
            Verdict::JoinTimeout
        );
        assert_eq!(
            p.verdict(true, ms(60_000), ms(0), MediaHealth::Connected),
            Verdict::Alive
        );
    }

    #[test]
    fn silence_drops_whatever_the_media_says() {
        let p = policy();
        for media in [
            MediaHealth::Unknown,
            MediaHealth::Connected,
            MediaHealth::Disconnected,
        ] {
            assert_eq!(
                p.verdict(true, ms(50_000), ms(3_000), media),
                Verdict::Dropped(Cause::Silent)
            );
        }
        for media in [MediaHealth::Unknown, MediaHealth::Connected] {
            assert_eq!(
                p.verdict(true, ms(50_000), ms(2_999), media),
                Verdict::Alive
            );
        }
    }

    #[test]
    fn media_is_the_second_signal() {
        let p = policy();
        assert_eq!(
            p.verdict(true, ms(5_000), ms(100), MediaHealth::Failed),
            Verdict::Dropped(Cause::MediaFailed)
        );
        // Disconnected alone (a lossy network) is tolerated while the socket answers.
        assert_eq!(
            p.verdict(true, ms(5_000), ms(1_400), MediaHealth::Disconnected),
            Verdict::Alive
        );
        assert_eq!(
            p.verdict(true, ms(5_000), ms(1_500), MediaHealth::Disconnected),
            Verdict::Dropped(Cause::MediaDisconnected)
        );
        assert_eq!(
            p.verdict(true, ms(5_000), ms(1_500), MediaHealth::Connected),
            Verdict::Alive
        );
    }

    #[test]
    fn the_tick_is_fine_enough_for_every_limit() {
        let p = policy();
        assert_eq!(p.tick(), ms(250));
        let fast = Policy {
            ping_interval: ms(40),
            silence_limit: ms(120),
            join_timeout: ms(200),
        };
        assert_eq!(fast.tick(), ms(20));
    }
}
