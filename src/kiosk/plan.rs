//! What a site's room PC should do now, from the site's sessions and the clock: which session is
//! current (its join window is open and it has not ended: the kiosk is in its room), which is next
//! (the kiosk waits for its window, with a countdown), the state of each session of the day, and
//! when this answer changes next (the server pushes the new plan then). The kiosk leaves at the
//! session's end, not at the end of the join link's grace. Pure: no store, no clock.

use crate::schedule::window::Policy;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A session of the site, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub session_id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub cancelled: bool,
    /// The site's invitation to it was revoked.
    pub revoked: bool,
}

impl Slot {
    pub fn opens_at(&self, policy: Policy) -> DateTime<Utc> {
        self.starts_at - policy.opens_before
    }
}

/// Where a session stands for the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Its join window has not opened.
    Upcoming,
    /// The window is open; the session has not started (connection test time).
    Open,
    /// Started, not ended.
    Live,
    Ended,
    Cancelled,
    /// The site's invitation was revoked.
    Revoked,
}

/// The planner's answer. Indexes point into the slots given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub states: Vec<SlotState>,
    pub current: Option<usize>,
    pub next: Option<usize>,
    /// The next instant after `now` at which some state changes.
    pub next_change: Option<DateTime<Utc>>,
}

pub fn state_of(slot: &Slot, now: DateTime<Utc>, policy: Policy) -> SlotState {
    if slot.cancelled {
        SlotState::Cancelled
    } else if slot.revoked {
        SlotState::Revoked
    } else if now >= slot.ends_at {
        SlotState::Ended
    } else if now >= slot.starts_at {
        SlotState::Live
    } else if now >= slot.opens_at(policy) {
        SlotState::Open
    } else {
        SlotState::Upcoming
    }
}

pub fn plan(slots: &[Slot], now: DateTime<Utc>, policy: Policy) -> Plan {
    let states: Vec<SlotState> = slots.iter().map(|s| state_of(s, now, policy)).collect();
    let joinable = |i: &usize| matches!(states[*i], SlotState::Open | SlotState::Live);
    // Two open windows at once (the next session's opens while this one runs): stay in the one
    // that ends first; the next one's turn comes at that end.
    let current = (0..slots.len())
        .filter(joinable)
        .min_by_key(|&i| (slots[i].ends_at, slots[i].starts_at));
    let next = (0..slots.len())
        .filter(|&i| states[i] == SlotState::Upcoming)
        .min_by_key(|&i| (slots[i].opens_at(policy), slots[i].starts_at));
    let next_change = slots
        .iter()
        .filter(|s| !s.cancelled && !s.revoked)
        .flat_map(|s| [s.opens_at(policy), s.starts_at, s.ends_at])
        .filter(|t| *t > now)
        .min();
    Plan {
        states,
        current,
        next,
        next_change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    fn policy() -> Policy {
        Policy {
            opens_before: Duration::minutes(60),
            grace: Duration::hours(12),
        }
    }

    fn slot(id: &str, start: (u32, u32), end: (u32, u32)) -> Slot {
        Slot {
            session_id: id.into(),
            title: id.into(),
            starts_at: at(start.0, start.1),
            ends_at: at(end.0, end.1),
            cancelled: false,
            revoked: false,
        }
    }

    #[test]
    fn waits_then_joins_at_the_window_then_leaves_at_the_end() {
        let s = [slot("a", (9, 0), (10, 0))];
        let p = plan(&s, at(7, 0), policy());
        assert_eq!((p.current, p.next), (None, Some(0)));
        assert_eq!(p.states, vec![SlotState::Upcoming]);
        assert_eq!(p.next_change, Some(at(8, 0)));
        let p = plan(&s, at(8, 0), policy());
        assert_eq!((p.current, p.next), (Some(0), None));
        assert_eq!(p.states, vec![SlotState::Open]);
        assert_eq!(p.next_change, Some(at(9, 0)));
        let p = plan(&s, at(9, 30), policy());
        assert_eq!(p.states, vec![SlotState::Live]);
        assert_eq!(p.next_change, Some(at(10, 0)));
        let p = plan(&s, at(10, 0), policy());
        assert_eq!((p.current, p.next, p.next_change), (None, None, None));
        assert_eq!(p.states, vec![SlotState::Ended]);
    }

    #[test]
    fn back_to_back_sessions_stay_in_the_running_one() {
        let s = [slot("b", (10, 0), (11, 0)), slot("a", (8, 0), (10, 0))];
        // At 9:30 both windows are open; a ends first.
        let p = plan(&s, at(9, 30), policy());
        assert_eq!(p.current, Some(1));
        assert_eq!(p.states, vec![SlotState::Open, SlotState::Live]);
        let p = plan(&s, at(10, 0), policy());
        assert_eq!(p.current, Some(0));
    }

    #[test]
    fn cancelled_and_revoked_sessions_are_never_joined() {
        let mut s = [slot("a", (9, 0), (10, 0)), slot("b", (13, 0), (14, 0))];
        s[0].cancelled = true;
        s[1].revoked = true;
        let p = plan(&s, at(9, 30), policy());
        assert_eq!((p.current, p.next, p.next_change), (None, None, None));
        assert_eq!(p.states, vec![SlotState::Cancelled, SlotState::Revoked]);
    }

    #[test]
    fn a_site_without_sessions_waits_for_nothing() {
        let p = plan(&[], at(9, 0), policy());
        assert_eq!((p.current, p.next, p.next_change), (None, None, None));
    }

    #[test]
    fn the_next_is_the_earliest_to_open() {
        let s = [
            slot("late", (15, 0), (16, 0)),
            slot("early", (13, 0), (14, 0)),
        ];
        let p = plan(&s, at(8, 0), policy());
        assert_eq!(p.next, Some(1));
        assert_eq!(p.next_change, Some(at(12, 0)));
    }
}
