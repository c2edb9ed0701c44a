//! The join window of a session: a link opens the room `opens_before` the start (time for the
//! connection test) and closes `grace` after the end. Earlier, `join` is refused (`too_early`)
//! while `/api/join/{token}` still answers, so the room page can say when the session starts and
//! offer the camera and microphone check. A session without a start is always open (until its
//! link expires). Pure: the caller gives the clock.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// The window's settings, from config `[auth]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub opens_before: Duration,
    pub grace: Duration,
}

impl Policy {
    pub fn from_config(auth: &crate::config::AuthConfig) -> Self {
        Policy {
            opens_before: Duration::minutes(auth.join_opens_minutes_before.into()),
            grace: Duration::hours(auth.join_link_grace_hours.into()),
        }
    }
}

/// Where `now` falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JoinWindow {
    /// The room is open.
    Open,
    /// The room opens at `opens_at` (the session starts at `starts_at`).
    TooEarly {
        opens_at: DateTime<Utc>,
        starts_at: DateTime<Utc>,
    },
    /// The session ended and its grace has passed (`closed_at`).
    Ended { closed_at: DateTime<Utc> },
}

/// The window of a session starting at `starts_at` and ending at `ends_at`.
pub fn join_window(
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: Policy,
) -> JoinWindow {
    if let Some(starts_at) = starts_at {
        let opens_at = starts_at - policy.opens_before;
        if now < opens_at {
            return JoinWindow::TooEarly {
                opens_at,
                starts_at,
            };
        }
    }
    if let Some(end) = ends_at {
        let closed_at = end + policy.grace;
        if now >= closed_at {
            return JoinWindow::Ended { closed_at };
        }
    }
    JoinWindow::Open
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            opens_before: Duration::minutes(60),
            grace: Duration::hours(12),
        }
    }

    #[test]
    fn opens_an_hour_before_the_start() {
        let (start, end) = (Some(at(9, 0)), Some(at(11, 0)));
        assert_eq!(
            join_window(start, end, at(7, 59), policy()),
            JoinWindow::TooEarly {
                opens_at: at(8, 0),
                starts_at: at(9, 0)
            }
        );
        assert_eq!(
            join_window(start, end, at(8, 0), policy()),
            JoinWindow::Open
        );
        assert_eq!(
            join_window(start, end, at(10, 0), policy()),
            JoinWindow::Open
        );
    }

    #[test]
    fn closes_after_the_end_plus_the_grace() {
        let (start, end) = (Some(at(1, 0)), Some(at(3, 0)));
        assert_eq!(
            join_window(start, end, at(14, 59), policy()),
            JoinWindow::Open
        );
        assert_eq!(
            join_window(start, end, at(15, 0), policy()),
            JoinWindow::Ended {
                closed_at: at(15, 0)
            }
        );
    }

    #[test]
    fn a_session_without_times_is_open() {
        assert_eq!(
            join_window(None, None, at(0, 0), policy()),
            JoinWindow::Open
        );
        // No start: open however early; an end still closes it.
        assert_eq!(
            join_window(None, Some(at(3, 0)), at(0, 0), policy()),
            JoinWindow::Open
        );
    }

    #[test]
    fn zero_lead_time_opens_at_the_start() {
        let p = Policy {
            opens_before: Duration::zero(),
            grace: Duration::zero(),
        };
        assert!(matches!(
            join_window(Some(at(9, 0)), Some(at(10, 0)), at(8, 59), p),
            JoinWindow::TooEarly { .. }
        ));
        assert_eq!(
            join_window(Some(at(9, 0)), Some(at(10, 0)), at(9, 0), p),
            JoinWindow::Open
        );
        assert!(matches!(
            join_window(Some(at(9, 0)), Some(at(10, 0)), at(10, 0), p),
            JoinWindow::Ended { .. }
        ));
    }
}
