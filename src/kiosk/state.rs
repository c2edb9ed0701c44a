//! The answer a kiosk or a stable-link page gets: the site, the server's clock, the site's
//! sessions of the day (Hanoi time) with their states, the current session with the site's join
//! link, the next one, and when the answer changes next. Reads the store; the decision is
//! `plan::plan`.

use super::KioskError;
use super::plan::{self, Slot, SlotState};
use crate::schedule::Scheduler;
use crate::schedule::window::Policy;
use crate::store::{self, Pool};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KioskSite {
    pub id: String,
    pub name: String,
}

/// One session of the site.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KioskSession {
    pub id: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When its join window opens (the kiosk joins then).
    pub opens_at: DateTime<Utc>,
    pub state: SlotState,
}

/// The session the kiosk should be in now, with the site's current join link.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrentSession {
    #[serde(flatten)]
    pub session: KioskSession,
    /// `/room/<token>` of the site's current link (path only: the page is on this server).
    pub join_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KioskState {
    pub site: KioskSite,
    /// The server's clock: pages count down from it, not from their own.
    pub now: DateTime<Utc>,
    /// The site's sessions of today (Asia/Ho_Chi_Minh), by start.
    pub today: Vec<KioskSession>,
    pub current: Option<CurrentSession>,
    /// The next session whose window has not opened (today or later, within a week).
    pub next: Option<KioskSession>,
    /// When this answer changes next (the stream sends the new one then).
    pub next_change: Option<DateTime<Utc>>,
}

impl KioskState {
    /// The same answer at another instant of the same plan (to compare answers without `now`).
    pub fn without_clock(&self) -> KioskState {
        KioskState {
            now: DateTime::<Utc>::UNIX_EPOCH,
            ..self.clone()
        }
    }
}

/// How far ahead the next session is looked for.
const LOOK_AHEAD_DAYS: i64 = 8;

/// The state of `site_id` at `now`.
pub async fn site_state(
    pool: &Pool,
    scheduler: &Scheduler<'_>,
    policy: Policy,
    site_id: &str,
    now: DateTime<Utc>,
) -> Result<KioskState, KioskError> {
    let site = store::org::site(pool, site_id)
        .await?
        .ok_or_else(|| KioskError::UnknownSite(site_id.to_string()))?;
    let tz = crate::tz();
    let day_start = now
        .with_timezone(&tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(tz)
        .single()
        .expect("fixed offset")
        .with_timezone(&Utc);
    let day_end = day_start + Duration::days(1);
    let rows = store::sessions::list_range(
        pool,
        day_start.min(now),
        now + Duration::days(LOOK_AHEAD_DAYS),
        Some(site_id),
    )
    .await?;
    let mut slots = Vec::with_capacity(rows.len());
    for r in rows {
        let s = r.session;
        let (Some(starts_at), Some(ends_at)) = (s.starts_at, s.ends_at) else {
            continue;
        };
        let revoked = store::kiosk::invitation_revoked(pool, &s.id, site_id).await?;
        slots.push(Slot {
            session_id: s.id,
            title: s.title,
            starts_at,
            ends_at,
            cancelled: s.status == store::sessions::CANCELLED,
            revoked,
        });
    }
    let p = plan::plan(&slots, now, policy);
    let view = |i: usize| KioskSession {
        id: slots[i].session_id.clone(),
        title: slots[i].title.clone(),
        starts_at: slots[i].starts_at,
        ends_at: slots[i].ends_at,
        opens_at: slots[i].opens_at(policy),
        state: p.states[i],
    };
    let current = match p.current {
        Some(i) => scheduler
            .current_link(&slots[i].session_id, site_id)
            .await?
            .map(|url| CurrentSession {
                session: view(i),
                join_path: url
                    .find("/room/")
                    .map(|at| url[at..].to_string())
                    .unwrap_or(url),
            }),
        None => None,
    };
    let today = (0..slots.len())
        .filter(|&i| slots[i].starts_at < day_end && slots[i].ends_at > day_start)
        .map(view)
        .collect();
    Ok(KioskState {
        site: KioskSite {
            id: site.id,
            name: site.name,
        },
        now,
        today,
        current,
        next: p.next.map(view),
        next_change: p.next_change,
    })
}
