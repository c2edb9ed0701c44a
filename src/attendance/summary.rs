//! Pure: a site's attendance summary from its intervals, the session's schedule, the thresholds
//! and an optional manual mark: first join, last leave, time present within the schedule,
//! incidents, late / left early flags and the status. A manual mark (with its reason, who and
//! when) overrides the computed status; both are kept.

use super::intervals::{Interval, LiveState, live_state};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The status of a site in a session's roll call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Chưa điểm danh: the session has not started, or the late threshold has not passed.
    NotChecked,
    /// Có mặt.
    Present,
    /// Đến muộn.
    Late,
    /// Về sớm.
    LeftEarly,
    /// Vắng mặt.
    Absent,
    /// Vắng mặt có lý do (manual).
    AbsentWithReason,
    /// Được miễn (manual).
    Excused,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::NotChecked,
        Status::Present,
        Status::Late,
        Status::LeftEarly,
        Status::Absent,
        Status::AbsentWithReason,
        Status::Excused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotChecked => "not_checked",
            Status::Present => "present",
            Status::Late => "late",
            Status::LeftEarly => "left_early",
            Status::Absent => "absent",
            Status::AbsentWithReason => "absent_with_reason",
            Status::Excused => "excused",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The Vietnamese label used in reports.
    pub fn label_vi(self) -> &'static str {
        match self {
            Status::NotChecked => "Chưa điểm danh",
            Status::Present => "Có mặt",
            Status::Late => "Đến muộn",
            Status::LeftEarly => "Về sớm",
            Status::Absent => "Vắng mặt",
            Status::AbsentWithReason => "Vắng mặt có lý do",
            Status::Excused => "Được miễn",
        }
    }

    /// Counted as attended in the counts and the per-site report.
    pub fn attended(self) -> bool {
        matches!(self, Status::Present | Status::Late | Status::LeftEarly)
    }
}

/// The session's planned times (a session may have none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Thresholds from `[attendance]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub grace: Duration,
    pub late_after: Duration,
    pub left_early: Duration,
    /// Below this share of the planned duration, a site that joined is still absent.
    pub min_presence_percent: u8,
}

/// A manual mark by the secretariat.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Mark {
    pub status: Status,
    pub reason: String,
    pub marked_by: String,
    pub marked_at: DateTime<Utc>,
}

/// One site's attendance in one session.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub first_join: Option<DateTime<Utc>>,
    pub last_leave: Option<DateTime<Utc>>,
    /// Seconds present within the planned times (all of it for a session without times).
    pub present_seconds: i64,
    pub incidents: usize,
    pub late: bool,
    pub left_early: bool,
    pub below_minimum: bool,
    /// What the intervals say.
    pub computed_status: Status,
    /// The manual mark if any, else the computed status.
    pub status: Status,
    pub mark: Option<Mark>,
    pub live: LiveState,
    pub intervals: Vec<Interval>,
}

/// Computes the summary (see the module doc). `now` decides what is known so far: before the end
/// a site can be late but not yet "left early" unless it has gone beyond the grace.
pub fn summarize(
    intervals: Vec<Interval>,
    schedule: Schedule,
    th: &Thresholds,
    now: DateTime<Utc>,
    mark: Option<Mark>,
) -> Summary {
    let live = live_state(&intervals, th.grace, now);
    let first_join = intervals.first().map(|i| i.start);
    let last_leave = match intervals.last() {
        Some(i) => i.end,
        None => None,
    };
    let (from, to) = (schedule.start, schedule.end);
    let present_seconds: i64 = intervals
        .iter()
        .map(|i| i.present_within(from, to, now))
        .sum();
    let incidents = intervals.iter().map(|i| i.incidents.len()).sum();
    // Intervals that touch the planned times (an interval that has just opened counts).
    let in_window: Vec<&Interval> = intervals
        .iter()
        .filter(|i| {
            to.is_none_or(|t| i.start < t) && i.end.is_none_or(|e| from.is_none_or(|f| e > f))
        })
        .collect();
    let started = from.is_none_or(|s| now >= s);
    let ended = to.is_some_and(|e| now >= e);

    let arrival = in_window
        .first()
        .map(|i| from.map_or(i.start, |s| i.start.max(s)));
    let late = match (arrival, from) {
        (Some(a), Some(s)) => a > s + th.late_after,
        _ => false,
    };
    let departure = in_window.last().and_then(|i| i.end);
    let gone = ended || matches!(live, LiveState::Left { .. });
    let left_early = match (departure, to) {
        (Some(d), Some(e)) => gone && d < e - th.left_early,
        _ => false,
    };
    let below_minimum = match (from, to) {
        (Some(s), Some(e)) if ended && e > s && !in_window.is_empty() => {
            present_seconds * 100 < (e - s).num_seconds() * i64::from(th.min_presence_percent)
        }
        _ => false,
    };
    let computed_status = if in_window.is_empty() {
        let grace_over = from.is_none_or(|s| now > s + th.late_after);
        if !started || (!ended && !grace_over) {
            Status::NotChecked
        } else {
            Status::Absent
        }
    } else if below_minimum {
        Status::Absent
    } else if late {
        Status::Late
    } else if left_early {
        Status::LeftEarly
    } else {
        Status::Present
    };
    Summary {
        first_join,
        last_leave,
        present_seconds,
        incidents,
        late,
        left_early,
        below_minimum,
        computed_status,
        status: mark.as_ref().map_or(computed_status, |m| m.status),
        mark,
        live,
        intervals,
    }
}

#[cfg(test)]
mod tests {
    use super::super::intervals::{SERVER_INTERRUPTED, Stint, intervals};
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn st(a: i64, b: Option<i64>, reason: Option<&str>) -> Stint {
        Stint {
            started_at: t(a),
            ended_at: b.map(t),
            end_reason: reason.map(str::to_string),
        }
    }

    const TH: Thresholds = Thresholds {
        grace: Duration::seconds(30),
        late_after: Duration::minutes(10),
        left_early: Duration::minutes(10),
        min_presence_percent: 50,
    };
    // 08:00–10:00 Hanoi time.
    const SCHED: Schedule = Schedule {
        start: None,
        end: None,
    };

    fn sched() -> Schedule {
        Schedule {
            start: Some(t(0)),
            end: Some(t(120)),
        }
    }

    fn status(stints: &[Stint], now: i64) -> Summary {
        summarize(intervals(stints, TH.grace), sched(), &TH, t(now), None)
    }

    #[test]
    fn on_time_late_left_early_and_absent() {
        let s = status(&[st(-5, Some(125), Some("leave"))], 130);
        assert_eq!(s.computed_status, Status::Present);
        assert_eq!(
            s.present_seconds,
            120 * 60,
            "joined before the start, clipped"
        );
        assert_eq!(s.first_join, Some(t(-5)));
        assert_eq!(s.last_leave, Some(t(125)));

        let s = status(&[st(15, Some(120), Some("leave"))], 130);
        assert_eq!(s.computed_status, Status::Late);
        assert!(s.late && !s.left_early);

        let s = status(&[st(9, Some(120), Some("leave"))], 130);
        assert_eq!(
            s.computed_status,
            Status::Present,
            "within the late threshold"
        );

        let s = status(&[st(0, Some(100), Some("leave"))], 130);
        assert_eq!(s.computed_status, Status::LeftEarly);

        let s = status(&[], 130);
        assert_eq!(s.computed_status, Status::Absent);
        assert_eq!(s.live, LiveState::NeverJoined);
    }

    #[test]
    fn what_is_known_before_the_end() {
        assert_eq!(status(&[], -30).computed_status, Status::NotChecked);
        assert_eq!(status(&[], 5).computed_status, Status::NotChecked);
        assert_eq!(status(&[], 11).computed_status, Status::Absent);
        // Present and still there in the middle of the session.
        let s = status(&[st(0, None, None)], 60);
        assert_eq!(s.computed_status, Status::Present);
        assert_eq!(s.present_seconds, 3600);
        assert!(matches!(s.live, LiveState::Online { .. }));
        // Just arrived: counted at once, before a second has passed.
        assert_eq!(
            status(&[st(60, None, None)], 60).computed_status,
            Status::Late
        );
        let just = summarize(
            intervals(&[st(0, None, None)], TH.grace),
            SCHED,
            &TH,
            t(0),
            None,
        );
        assert_eq!(just.computed_status, Status::Present);
        // Dropped a few seconds ago: not (yet) left early.
        let mut stints = vec![st(0, Some(60), Some("drop"))];
        let s = summarize(
            intervals(&stints, TH.grace),
            sched(),
            &TH,
            t(60) + Duration::seconds(10),
            None,
        );
        assert_eq!(s.computed_status, Status::Present);
        assert!(matches!(s.live, LiveState::Reconnecting { .. }));
        // ... and a minute later it has left early.
        assert_eq!(status(&stints, 61).computed_status, Status::LeftEarly);
        // Back within the grace: one interval, one incident, present.
        stints.push(Stint {
            started_at: t(60) + Duration::seconds(20),
            ended_at: Some(t(121)),
            end_reason: Some("leave".into()),
        });
        let s = status(&stints, 130);
        assert_eq!(s.computed_status, Status::Present);
        assert_eq!((s.intervals.len(), s.incidents), (1, 1));
        assert_eq!(s.present_seconds, 120 * 60 - 20);
    }

    #[test]
    fn a_session_running_over_and_a_server_interruption() {
        // The session runs 40 minutes over; the site stays to the real end: present, and the
        // overtime is not counted in time present.
        let s = status(&[st(0, Some(160), Some("leave"))], 170);
        assert_eq!(s.computed_status, Status::Present);
        assert_eq!(s.present_seconds, 7200);
        // The server crashed at 60 and came back at 70: every site's interval was closed as
        // "server interrupted"; those that came back are two intervals (beyond the grace).
        let s = status(
            &[
                st(0, Some(60), Some(SERVER_INTERRUPTED)),
                st(70, Some(120), Some("leave")),
            ],
            130,
        );
        assert_eq!(s.intervals.len(), 2);
        assert_eq!(
            s.intervals[0].end_reason.as_deref(),
            Some(SERVER_INTERRUPTED)
        );
        assert_eq!(s.present_seconds, 110 * 60);
        assert_eq!(s.computed_status, Status::Present);
        // A site the crash left closed at 60 that never came back has left early.
        let s = status(&[st(0, Some(60), Some(SERVER_INTERRUPTED))], 130);
        assert_eq!(s.computed_status, Status::LeftEarly);
    }

    #[test]
    fn minimum_presence_and_sessions_without_times() {
        // Late and gone early, 30 of 120 minutes: below 50 %, absent although it joined.
        let s = status(&[st(40, Some(70), Some("leave"))], 130);
        assert!(s.below_minimum && s.late && s.left_early);
        assert_eq!(s.computed_status, Status::Absent);
        // Joined only after the end: not present in the session.
        let s = status(&[st(125, Some(128), Some("leave"))], 130);
        assert_eq!(s.computed_status, Status::Absent);
        // A session without planned times: present if ever present.
        let s = summarize(
            intervals(&[st(0, Some(3), Some("leave"))], TH.grace),
            SCHED,
            &TH,
            t(10),
            None,
        );
        assert_eq!(s.computed_status, Status::Present);
        assert_eq!(s.present_seconds, 180);
    }

    #[test]
    fn a_mark_overrides_the_computed_status() {
        let mark = Mark {
            status: Status::AbsentWithReason,
            reason: "Đi công tác".into(),
            marked_by: "user:thu-ky".into(),
            marked_at: t(30),
        };
        let s = summarize(Vec::new(), sched(), &TH, t(130), Some(mark.clone()));
        assert_eq!(s.computed_status, Status::Absent);
        assert_eq!(s.status, Status::AbsentWithReason);
        assert_eq!(s.mark, Some(mark));
        for x in Status::ALL {
            assert_eq!(Status::parse(x.as_str()), Some(x));
        }
        assert_eq!(Status::parse("có mặt"), None);
    }
}
