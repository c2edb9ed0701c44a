//! The roll call of a session (what the board, the JSON report, CSV, XLSX and the printed record
//! show) and the per-site report over a date range. Reads the rows, then runs the pure core.

use super::intervals::{LiveState, intervals};
use super::store;
use super::summary::{Schedule, Status, Summary, Thresholds, summarize};
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One invited site in the roll call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SiteAttendance {
    pub site_id: String,
    pub site_name: String,
    pub unit_id: String,
    pub unit_name: String,
    pub is_host: bool,
    /// The invitation's readiness: invited, confirmed, tested, ready, revoked.
    pub readiness: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Counts at the top of the board.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Invited sites whose invitation is not revoked.
    pub expected: usize,
    /// Online now.
    pub online: usize,
    /// Status present, late or left early.
    pub attended: usize,
    pub present: usize,
    pub late: usize,
    pub left_early: usize,
    pub absent: usize,
    pub absent_with_reason: usize,
    pub excused: usize,
    pub not_checked: usize,
}

/// A session's roll call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionAttendance {
    pub session_id: String,
    pub title: String,
    pub chair: String,
    pub host_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// `scheduled` or `cancelled`.
    pub session_status: String,
    pub generated_at: DateTime<Utc>,
    pub reconnect_grace_secs: i64,
    pub late_after_minutes: i64,
    pub left_early_minutes: i64,
    pub min_presence_percent: u8,
    pub counts: Counts,
    pub sites: Vec<SiteAttendance>,
}

/// The roll call of `session_id` as of `now`; `None` for an unknown session.
pub async fn session_attendance(
    pool: &Pool,
    th: &Thresholds,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionAttendance>, StoreError> {
    let Some(session) = crate::store::sessions::get(pool, session_id).await? else {
        return Ok(None);
    };
    crate::store::invitations::ensure(pool, session_id, now).await?;
    let board = crate::store::invitations::board(pool, session_id).await?;
    let mut stints = store::stints(pool, session_id).await?;
    let mut marks = store::marks(pool, session_id).await?;
    let schedule = Schedule {
        start: session.starts_at,
        end: session.ends_at,
    };
    let host_name = board
        .iter()
        .find(|b| b.is_host)
        .map(|b| b.site_name.clone())
        .unwrap_or_default();
    let mut counts = Counts::default();
    let mut sites = Vec::with_capacity(board.len());
    for b in board {
        let site_id = b.invitation.site_id.clone();
        let ivs = intervals(&stints.remove(&site_id).unwrap_or_default(), th.grace);
        let summary = summarize(ivs, schedule, th, now, marks.remove(&site_id));
        if b.invitation.status != "revoked" {
            counts.expected += 1;
        }
        count(&mut counts, &summary);
        sites.push(SiteAttendance {
            site_id,
            site_name: b.site_name,
            unit_id: b.unit_id,
            unit_name: b.unit_name,
            is_host: b.is_host,
            readiness: b.invitation.status,
            summary,
        });
    }
    Ok(Some(SessionAttendance {
        session_id: session.id,
        title: session.title,
        chair: session.chair,
        host_name,
        starts_at: session.starts_at,
        ends_at: session.ends_at,
        session_status: session.status,
        generated_at: now,
        reconnect_grace_secs: th.grace.num_seconds(),
        late_after_minutes: th.late_after.num_minutes(),
        left_early_minutes: th.left_early.num_minutes(),
        min_presence_percent: th.min_presence_percent,
        counts,
        sites,
    }))
}

fn count(c: &mut Counts, s: &Summary) {
    if matches!(s.live, LiveState::Online { .. }) {
        c.online += 1;
    }
    if s.status.attended() {
        c.attended += 1;
    }
    match s.status {
        Status::Present => c.present += 1,
        Status::Late => c.late += 1,
        Status::LeftEarly => c.left_early += 1,
        Status::Absent => c.absent += 1,
        Status::AbsentWithReason => c.absent_with_reason += 1,
        Status::Excused => c.excused += 1,
        Status::NotChecked => c.not_checked += 1,
    }
}

/// One site's record over a range of sessions.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SiteRecord {
    pub site_id: String,
    pub site_name: String,
    pub unit_id: String,
    pub unit_name: String,
    pub invited: usize,
    pub attended: usize,
    pub late: usize,
    pub left_early: usize,
    pub absent: usize,
    pub absent_with_reason: usize,
    pub excused: usize,
}

/// Per site, over the sessions with times overlapping `[from, to)` (cancelled ones excluded),
/// optionally only the sites of one unit or one site.
pub async fn site_records(
    pool: &Pool,
    th: &Thresholds,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    unit_id: Option<&str>,
    site_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<SiteRecord>, StoreError> {
    let sessions = crate::store::sessions::list_range(pool, from, to, site_id).await?;
    let mut by_site: BTreeMap<(String, String), SiteRecord> = BTreeMap::new();
    for s in sessions.iter().filter(|s| !s.session.is_cancelled()) {
        let Some(roll) = session_attendance(pool, th, &s.session.id, now).await? else {
            continue;
        };
        for site in roll.sites {
            if site.readiness == "revoked"
                || unit_id.is_some_and(|u| u != site.unit_id)
                || site_id.is_some_and(|x| x != site.site_id)
            {
                continue;
            }
            let r = by_site
                .entry((site.unit_id.clone(), site.site_id.clone()))
                .or_insert_with(|| SiteRecord {
                    site_id: site.site_id.clone(),
                    site_name: site.site_name.clone(),
                    unit_id: site.unit_id.clone(),
                    unit_name: site.unit_name.clone(),
                    ..SiteRecord::default()
                });
            r.invited += 1;
            let st = site.summary.status;
            if st.attended() {
                r.attended += 1;
            }
            match st {
                Status::Late => r.late += 1,
                Status::LeftEarly => r.left_early += 1,
                Status::Absent => r.absent += 1,
                Status::AbsentWithReason => r.absent_with_reason += 1,
                Status::Excused => r.excused += 1,
                _ => {}
            }
        }
    }
    Ok(by_site.into_values().collect())
}
