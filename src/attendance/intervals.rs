//! Pure: a site's connection stints (one per participant: from media connected to its leave) →
//! its presence intervals, and its live state. A stint that starts while another is open or
//! before it ended (a site replaced by its own second connection) continues the same interval.
//! A stint that starts within the reconnect grace after one that ended by a drop (or a server
//! interruption or stop) continues it too, with the gap kept as an [`Incident`]; after a plain
//! `leave`, or after the grace, it is a new interval (a new arrival).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// One connection of a site, as persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Stint {
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `leave`, `drop`, `replaced`, `server_stop`, `server_interrupted`, ... (`None` while open).
    pub end_reason: Option<String>,
}

/// Reason recorded for stints closed at the next start after a crash.
pub const SERVER_INTERRUPTED: &str = "server_interrupted";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The site's connection dropped and it came back within the grace (mất kết nối).
    ConnectionLost,
    /// The server stopped or crashed and the site came back within the grace.
    ServerInterrupted,
}

/// A gap inside an interval.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub kind: IncidentKind,
    pub lost_at: DateTime<Utc>,
    pub back_at: DateTime<Utc>,
}

/// A period during which the site was present, possibly with short gaps (incidents).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Interval {
    pub start: DateTime<Utc>,
    /// `None`: still present.
    pub end: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub incidents: Vec<Incident>,
}

impl Interval {
    /// Seconds present within `[from, to]` (gaps excluded), counting an open end as `now`.
    pub fn present_within(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> i64 {
        let clip = |a: DateTime<Utc>, b: DateTime<Utc>| {
            let a = from.map_or(a, |f| a.max(f));
            let b = to.map_or(b, |t| b.min(t));
            (b - a).num_seconds().max(0)
        };
        let end = self.end.unwrap_or(now).max(self.start);
        let gaps: i64 = self
            .incidents
            .iter()
            .map(|g| clip(g.lost_at, g.back_at))
            .sum();
        (clip(self.start, end) - gaps).max(0)
    }
}

/// Which end reasons a return within the grace continues from, and as what incident.
/// `None` for a continuation without incident (replaced), `Some(None)` for "never continues".
fn continuation(reason: Option<&str>) -> Option<Option<IncidentKind>> {
    match reason {
        Some("replaced") => Some(None),
        Some("drop") => Some(Some(IncidentKind::ConnectionLost)),
        Some("server_stop") | Some(SERVER_INTERRUPTED) => {
            Some(Some(IncidentKind::ServerInterrupted))
        }
        _ => None,
    }
}

/// Merges a site's stints into intervals (see the module doc).
pub fn intervals(stints: &[Stint], grace: Duration) -> Vec<Interval> {
    let mut sorted: Vec<&Stint> = stints.iter().collect();
    sorted.sort_by_key(|s| s.started_at);
    let mut out: Vec<Interval> = Vec::new();
    for s in sorted {
        let Some(cur) = out.last_mut() else {
            out.push(new_interval(s));
            continue;
        };
        match cur.end {
            // Overlap: a second connection while the first is open (replaced), or started
            // before the earlier one ended. The interval ends with whichever ends last.
            None => {}
            Some(end) if s.started_at <= end => match s.ended_at {
                None => {
                    cur.end = None;
                    cur.end_reason = None;
                }
                Some(e) if e > end => {
                    cur.end = Some(e);
                    cur.end_reason = s.end_reason.clone();
                }
                Some(_) => {}
            },
            Some(end) => match continuation(cur.end_reason.as_deref()) {
                Some(incident) if s.started_at - end <= grace => {
                    if let Some(kind) = incident {
                        cur.incidents.push(Incident {
                            kind,
                            lost_at: end,
                            back_at: s.started_at,
                        });
                    }
                    cur.end = s.ended_at;
                    cur.end_reason = s.end_reason.clone();
                }
                _ => out.push(new_interval(s)),
            },
        }
    }
    out
}

fn new_interval(s: &Stint) -> Interval {
    Interval {
        start: s.started_at,
        end: s.ended_at,
        end_reason: s.end_reason.clone(),
        incidents: Vec::new(),
    }
}

/// Where a site is now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LiveState {
    /// Present since `since` (the start of its current interval).
    Online { since: DateTime<Utc> },
    /// Lost its connection at `since`; still within the grace, so it may come back.
    Reconnecting { since: DateTime<Utc> },
    /// Left (or dropped beyond the grace) at `at`.
    Left { at: DateTime<Utc> },
    /// Never present in this session.
    NeverJoined,
}

/// The live state from the merged intervals.
pub fn live_state(intervals: &[Interval], grace: Duration, now: DateTime<Utc>) -> LiveState {
    let Some(last) = intervals.last() else {
        return LiveState::NeverJoined;
    };
    match last.end {
        None => LiveState::Online { since: last.start },
        Some(end) if continuation(last.end_reason.as_deref()).is_some() && now - end <= grace => {
            LiveState::Reconnecting { since: end }
        }
        Some(end) => LiveState::Left { at: end },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
            + Duration::seconds(sec)
    }

    fn stint(a: DateTime<Utc>, b: Option<DateTime<Utc>>, reason: Option<&str>) -> Stint {
        Stint {
            started_at: a,
            ended_at: b,
            end_reason: reason.map(str::to_string),
        }
    }

    const GRACE: Duration = Duration::seconds(30);

    #[test]
    fn a_drop_within_the_grace_is_one_interval_with_an_incident() {
        let s = [
            stint(t(0, 0), Some(t(10, 0)), Some("drop")),
            stint(t(10, 20), Some(t(50, 0)), Some("leave")),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 1);
        assert_eq!(iv[0].start, t(0, 0));
        assert_eq!(iv[0].end, Some(t(50, 0)));
        assert_eq!(iv[0].end_reason.as_deref(), Some("leave"));
        assert_eq!(
            iv[0].incidents,
            vec![Incident {
                kind: IncidentKind::ConnectionLost,
                lost_at: t(10, 0),
                back_at: t(10, 20)
            }]
        );
        // The gap is not counted as presence.
        assert_eq!(iv[0].present_within(None, None, t(60, 0)), 50 * 60 - 20);
    }

    #[test]
    fn a_drop_beyond_the_grace_or_a_leave_starts_a_new_interval() {
        let s = [
            stint(t(0, 0), Some(t(10, 0)), Some("drop")),
            stint(t(10, 31), Some(t(20, 0)), Some("leave")),
            stint(t(20, 5), None, None),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 3);
        assert!(iv.iter().all(|i| i.incidents.is_empty()));
        assert_eq!(iv[2].end, None);
    }

    #[test]
    fn overlapping_reconnects_and_a_replacing_second_connection_merge_without_incident() {
        // The site opens a second connection while the first is open; the first is replaced.
        let s = [
            stint(t(0, 0), Some(t(5, 1)), Some("replaced")),
            stint(t(5, 0), Some(t(7, 0)), Some("drop")),
            // A reconnect that raced the drop: started before the previous one ended.
            stint(t(6, 59), None, None),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 1, "{iv:?}");
        assert!(iv[0].incidents.is_empty());
        assert_eq!(iv[0].end, None);
        // Replaced after the new connection's media: a small gap within the grace, no incident.
        let s = [
            stint(t(0, 0), Some(t(5, 0)), Some("replaced")),
            stint(t(5, 2), Some(t(9, 0)), Some("leave")),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 1);
        assert!(iv[0].incidents.is_empty());
        // A stint entirely inside another changes nothing.
        let s = [
            stint(t(0, 0), Some(t(30, 0)), Some("leave")),
            stint(t(5, 0), Some(t(6, 0)), Some("replaced")),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 1);
        assert_eq!(iv[0].end, Some(t(30, 0)));
        assert_eq!(iv[0].end_reason.as_deref(), Some("leave"));
    }

    #[test]
    fn a_server_interruption_within_the_grace_is_an_incident_of_its_own_kind() {
        let s = [
            stint(t(0, 0), Some(t(10, 0)), Some(SERVER_INTERRUPTED)),
            stint(t(10, 25), None, None),
        ];
        let iv = intervals(&s, GRACE);
        assert_eq!(iv.len(), 1);
        assert_eq!(iv[0].incidents[0].kind, IncidentKind::ServerInterrupted);
        // Unsorted input gives the same result.
        let mut r = s.to_vec();
        r.reverse();
        assert_eq!(intervals(&r, GRACE), iv);
    }

    #[test]
    fn live_state_follows_the_last_interval_and_the_grace() {
        let open = intervals(&[stint(t(0, 0), None, None)], GRACE);
        assert_eq!(
            live_state(&open, GRACE, t(1, 0)),
            LiveState::Online { since: t(0, 0) }
        );
        let dropped = intervals(&[stint(t(0, 0), Some(t(1, 0)), Some("drop"))], GRACE);
        assert_eq!(
            live_state(&dropped, GRACE, t(1, 10)),
            LiveState::Reconnecting { since: t(1, 0) }
        );
        assert_eq!(
            live_state(&dropped, GRACE, t(1, 31)),
            LiveState::Left { at: t(1, 0) }
        );
        let left = intervals(&[stint(t(0, 0), Some(t(1, 0)), Some("leave"))], GRACE);
        assert_eq!(
            live_state(&left, GRACE, t(1, 1)),
            LiveState::Left { at: t(1, 0) }
        );
        assert_eq!(live_state(&[], GRACE, t(1, 1)), LiveState::NeverJoined);
    }

    #[test]
    fn presence_is_clipped_to_the_window() {
        // Joined before the start, still there after the end (session running over).
        let iv = intervals(&[stint(t(-10, 0), None, None)], GRACE);
        assert_eq!(
            iv[0].present_within(Some(t(0, 0)), Some(t(60, 0)), t(75, 0)),
            3600
        );
        assert_eq!(iv[0].present_within(Some(t(0, 0)), None, t(75, 0)), 75 * 60);
    }
}
