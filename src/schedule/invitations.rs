//! Invitations and readiness (giấy mời họp, kiểm tra kết nối): each invited site's join link and
//! its status invited → confirmed → tested → ready (or revoked), as the secretariat's board shows
//! it. A link is the signed token of (session, site, link version, expiry); only the invitation's
//! current version joins, so re-issuing (a new version) retires the old link and revoking retires
//! every link. Links are not stored: the board signs the current one again from the invitation.
//! `tested` is set from the SFU's events (the site joined and published audio and video, see
//! [`TestWatch`]); `confirmed` and `ready` by hand; the room page reports its own test results.

use super::{ScheduleError, Scheduler, SessionSummary, link_expiry};
use crate::audit::actions;
use crate::auth::{JoinClaims, TokenKey};
use crate::signal::protocol::MediaKind;
use crate::store::{self, Pool, StoreError, invitations::BoardRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where an invitation stands. The forward path is ordered; `revoked` is outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Đã mời
    Invited,
    /// Đã xác nhận
    Confirmed,
    /// Đã kiểm tra (kết nối)
    Tested,
    /// Sẵn sàng
    Ready,
    /// Đã thu hồi
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Invited => "invited",
            Status::Confirmed => "confirmed",
            Status::Tested => "tested",
            Status::Ready => "ready",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Invited,
            Status::Confirmed,
            Status::Tested,
            Status::Ready,
            Status::Revoked,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// The statuses that are set by hand (by the secretariat or the site's operator).
    pub fn settable(s: &str) -> Option<Status> {
        Status::parse(s).filter(|st| matches!(st, Status::Confirmed | Status::Ready))
    }
}

/// The connection test the room page ran and reported (kết quả kiểm tra kết nối).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestResult {
    /// The camera gave a picture.
    pub camera: bool,
    /// The microphone gave sound.
    pub microphone: bool,
    /// Round-trip time to the server, milliseconds.
    pub network_ms: f64,
}

/// The longest round-trip time a report may claim (10 minutes): beyond that it is not a figure.
pub const MAX_NETWORK_MS: f64 = 600_000.0;

impl TestResult {
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if !self.network_ms.is_finite() || !(0.0..=MAX_NETWORK_MS).contains(&self.network_ms) {
            return Err(ScheduleError::Invalid {
                field: "network_ms",
                message: format!("must be a number of milliseconds from 0 to {MAX_NETWORK_MS}"),
            });
        }
        Ok(())
    }
}

/// A stored test report with the time it arrived.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    #[serde(flatten)]
    pub result: TestResult,
    pub at: DateTime<Utc>,
}

/// One site's line on the invitation board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub site_id: String,
    pub site_name: String,
    pub unit_id: String,
    pub unit_name: String,
    /// The session's host site (điểm cầu chủ trì).
    pub is_host: bool,
    pub status: Status,
    /// The current join link; none while revoked.
    pub link: Option<String>,
    pub link_version: u32,
    pub link_expires_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub tested_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The room page's last connection-test report.
    pub test: Option<TestReport>,
}

/// How many sites stand at each status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub invited: usize,
    pub confirmed: usize,
    pub tested: usize,
    pub ready: usize,
    pub revoked: usize,
}

/// The invitation board of one session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub session: SessionSummary,
    pub invitations: Vec<Invitation>,
    pub counts: StatusCounts,
    /// Sites connected to the session's room now (filled in by the API from the SFU).
    pub online_site_ids: Vec<String>,
}

impl Board {
    /// Keeps the lines `keep` accepts (a site operator sees their own site only) and recounts.
    pub fn retain(&mut self, keep: impl Fn(&Invitation) -> bool) {
        self.invitations.retain(keep);
        self.counts = count(&self.invitations);
    }
}

fn count(invitations: &[Invitation]) -> StatusCounts {
    let mut c = StatusCounts::default();
    for i in invitations {
        *match i.status {
            Status::Invited => &mut c.invited,
            Status::Confirmed => &mut c.confirmed,
            Status::Tested => &mut c.tested,
            Status::Ready => &mut c.ready,
            Status::Revoked => &mut c.revoked,
        } += 1;
    }
    c
}

fn not_invited(session: &str, site: &str) -> ScheduleError {
    ScheduleError::NotInvited {
        session: session.to_string(),
        site: site.to_string(),
    }
}

impl Scheduler<'_> {
    /// The board of a session: every invited site with its status and current link.
    pub async fn board(&self, session_id: &str) -> Result<Board, ScheduleError> {
        let session = store::sessions::get(self.pool, session_id)
            .await?
            .ok_or_else(|| ScheduleError::SessionNotFound(session_id.to_string()))?;
        store::invitations::ensure(self.pool, session_id, Utc::now()).await?;
        let rows = store::invitations::board(self.pool, session_id).await?;
        let invitations: Vec<Invitation> = rows
            .into_iter()
            .map(|row| self.view(row, session.ends_at))
            .collect();
        Ok(Board {
            counts: count(&invitations),
            invitations,
            session: SessionSummary {
                id: session.id,
                title: session.title,
                host_site_id: session.host_site_id,
                starts_at: session.starts_at,
                ends_at: session.ends_at,
                agenda: super::service::parse_agenda(&session.agenda),
            },
            online_site_ids: Vec::new(),
        })
    }

    /// One site's line of the board.
    async fn invitation(
        &self,
        session_id: &str,
        site_id: &str,
    ) -> Result<Invitation, ScheduleError> {
        self.board(session_id)
            .await?
            .invitations
            .into_iter()
            .find(|i| i.site_id == site_id)
            .ok_or_else(|| not_invited(session_id, site_id))
    }

    /// Issues a new link for the site (the old one stops working); a revoked invitation is
    /// restored as `invited`. Audited as `invitation.issue`.
    pub async fn reissue(
        &self,
        session_id: &str,
        site_id: &str,
        actor: &str,
    ) -> Result<Invitation, ScheduleError> {
        self.prepare(session_id).await?;
        let action = actions::INVITATION_ISSUE;
        let now = Utc::now();
        store::invitations::reissue(self.pool, session_id, site_id, actor, action, now)
            .await?
            .ok_or_else(|| not_invited(session_id, site_id))?;
        self.invitation(session_id, site_id).await
    }

    /// Revokes the site's invitation: no link of it joins any more. Audited as
    /// `invitation.revoke` (once: revoking a revoked invitation changes nothing).
    pub async fn revoke(
        &self,
        session_id: &str,
        site_id: &str,
        actor: &str,
    ) -> Result<Invitation, ScheduleError> {
        self.prepare(session_id).await?;
        let action = actions::INVITATION_REVOKE;
        let now = Utc::now();
        store::invitations::revoke(self.pool, session_id, site_id, actor, action, now)
            .await?
            .ok_or_else(|| not_invited(session_id, site_id))?;
        self.invitation(session_id, site_id).await
    }

    /// Records a stage set by hand (`confirmed` or `ready`; see [`Status::settable`]). The status
    /// never moves back. Refused for a revoked invitation. Audited as `invitation.status`.
    pub async fn set_status(
        &self,
        session_id: &str,
        site_id: &str,
        status: Status,
        actor: &str,
    ) -> Result<Invitation, ScheduleError> {
        self.prepare(session_id).await?;
        let stage = match status {
            Status::Confirmed => "confirmed",
            Status::Ready => "ready",
            other => {
                return Err(ScheduleError::Invalid {
                    field: "status",
                    message: format!("{} cannot be set by hand", other.as_str()),
                });
            }
        };
        let action = actions::INVITATION_STATUS;
        let now = Utc::now();
        let changed = store::invitations::advance(
            self.pool, session_id, site_id, stage, false, actor, action, now,
        )
        .await?;
        let current = self.invitation(session_id, site_id).await?;
        if changed.is_none() && current.status == Status::Revoked {
            return Err(ScheduleError::LinkRevoked {
                session: session_id.to_string(),
                site: site_id.to_string(),
            });
        }
        Ok(current)
    }

    /// The session exists and its invitations are stored.
    async fn prepare(&self, session_id: &str) -> Result<(), ScheduleError> {
        if store::sessions::get(self.pool, session_id).await?.is_none() {
            return Err(ScheduleError::SessionNotFound(session_id.to_string()));
        }
        store::invitations::ensure(self.pool, session_id, Utc::now()).await?;
        Ok(())
    }

    /// The current join link of one site to a session: `None` when the site is not invited or
    /// its invitation is revoked (a kiosk asks this for the session it is about to join).
    pub async fn current_link(
        &self,
        session_id: &str,
        site_id: &str,
    ) -> Result<Option<String>, ScheduleError> {
        let Some(session) = store::sessions::get(self.pool, session_id).await? else {
            return Ok(None);
        };
        store::invitations::ensure(self.pool, session_id, Utc::now()).await?;
        let mut conn = self.pool.acquire().await.map_err(StoreError::from)?;
        let Some(inv) = store::invitations::get(&mut conn, session_id, site_id).await? else {
            return Ok(None);
        };
        if inv.status == Status::Revoked.as_str() {
            return Ok(None);
        }
        let version = u32::try_from(inv.link_version).unwrap_or(0);
        let exp = link_expiry(session.ends_at, inv.issued_at, self.grace_hours);
        Ok(Some(self.link(session_id, site_id, version, exp)))
    }

    fn view(&self, row: BoardRow, session_ends_at: Option<DateTime<Utc>>) -> Invitation {
        let inv = row.invitation;
        let status = Status::parse(&inv.status).unwrap_or(Status::Invited);
        let version = u32::try_from(inv.link_version).unwrap_or(0);
        let (link, link_expires_at) = if status == Status::Revoked {
            (None, None)
        } else {
            let exp = link_expiry(session_ends_at, inv.issued_at, self.grace_hours);
            (
                Some(self.link(&inv.session_id, &inv.site_id, version, exp)),
                DateTime::from_timestamp(exp, 0),
            )
        };
        let test = match (&inv.test_result, inv.test_result_at) {
            (Some(json), Some(at)) => serde_json::from_str(json)
                .ok()
                .map(|result| TestReport { result, at }),
            _ => None,
        };
        Invitation {
            site_id: inv.site_id,
            site_name: row.site_name,
            unit_id: row.unit_id,
            unit_name: row.unit_name,
            is_host: row.is_host,
            status,
            link,
            link_version: version,
            link_expires_at,
            issued_at: inv.issued_at,
            revoked_at: inv.revoked_at,
            confirmed_at: inv.confirmed_at,
            tested_at: inv.tested_at,
            ready_at: inv.ready_at,
            updated_at: inv.updated_at,
            test,
        }
    }
}

/// The invitation side of resolving a join token (the site is known to be invited): the
/// invitation is not revoked and the token carries its current link version.
pub(super) async fn check_link(pool: &Pool, claims: &JoinClaims) -> Result<(), ScheduleError> {
    let mut conn = pool.acquire().await.map_err(StoreError::from)?;
    let mut row = store::invitations::get(&mut conn, &claims.sid, &claims.site).await?;
    if row.is_none() {
        drop(conn);
        store::invitations::ensure(pool, &claims.sid, Utc::now()).await?;
        conn = pool.acquire().await.map_err(StoreError::from)?;
        row = store::invitations::get(&mut conn, &claims.sid, &claims.site).await?;
    }
    let row = row.ok_or_else(|| not_invited(&claims.sid, &claims.site))?;
    if row.status == Status::Revoked.as_str() {
        return Err(ScheduleError::LinkRevoked {
            session: claims.sid.clone(),
            site: claims.site.clone(),
        });
    }
    if i64::from(claims.v) != row.link_version {
        return Err(ScheduleError::LinkSuperseded {
            session: claims.sid.clone(),
            site: claims.site.clone(),
        });
    }
    Ok(())
}

/// Stores the connection test a site's room page reports; the token authenticates it.
pub async fn record_test(
    pool: &Pool,
    key: &TokenKey,
    token: &str,
    result: &TestResult,
) -> Result<(), ScheduleError> {
    result.validate()?;
    let info = super::resolve_join(pool, key, token).await?;
    let json = serde_json::to_value(result).expect("test result serializes");
    store::invitations::record_test(pool, &info.session.id, &info.site.id, &json, Utc::now())
        .await?
        .ok_or_else(|| not_invited(&info.session.id, &info.site.id))?;
    Ok(())
}

/// Marks an invitation `tested` (if it is `invited` or `confirmed`), audited with the site as
/// actor. Returns whether it changed.
pub async fn mark_tested(pool: &Pool, session_id: &str, site_id: &str) -> Result<bool, StoreError> {
    let actor = format!("site:{site_id}");
    let action = actions::INVITATION_STATUS;
    let changed = store::invitations::advance(
        pool,
        session_id,
        site_id,
        "tested",
        true,
        &actor,
        action,
        Utc::now(),
    )
    .await?;
    Ok(changed.is_some())
}

/// Watches a session's sites in the SFU's events and says when one has published both audio and
/// video since it joined: that site's connection is tested. Pure; the event loop in `app` feeds
/// it and writes the result.
#[derive(Debug, Default)]
pub struct TestWatch {
    /// Per (session, site): audio seen, video seen.
    published: HashMap<(String, String), (bool, bool)>,
}

impl TestWatch {
    /// A site joined: it starts with nothing published.
    pub fn joined(&mut self, session_id: &str, site_id: &str) {
        self.published.insert(
            (session_id.to_string(), site_id.to_string()),
            (false, false),
        );
    }

    /// A site left: forget it.
    pub fn left(&mut self, session_id: &str, site_id: &str) {
        self.published
            .remove(&(session_id.to_string(), site_id.to_string()));
    }

    /// A site published a track. True exactly when this completes audio and video.
    pub fn published(&mut self, session_id: &str, site_id: &str, kind: MediaKind) -> bool {
        let entry = self
            .published
            .entry((session_id.to_string(), site_id.to_string()))
            .or_default();
        let before = entry.0 && entry.1;
        match kind {
            MediaKind::Audio => entry.0 = true,
            MediaKind::Video => entry.1 = true,
        }
        !before && entry.0 && entry.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_two_are_set_by_hand() {
        for s in ["invited", "confirmed", "tested", "ready", "revoked"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
            assert_eq!(serde_json::to_value(Status::parse(s).unwrap()).unwrap(), s);
        }
        assert_eq!(Status::settable("confirmed"), Some(Status::Confirmed));
        assert_eq!(Status::settable("ready"), Some(Status::Ready));
        for s in ["tested", "revoked", "invited", "Ready", "", "sẵn sàng"] {
            assert_eq!(Status::settable(s), None, "{s}");
        }
    }

    #[test]
    fn test_results_are_checked() {
        let ok = TestResult {
            camera: true,
            microphone: false,
            network_ms: 42.5,
        };
        assert!(ok.validate().is_ok());
        for bad in [-1.0, f64::NAN, f64::INFINITY, MAX_NETWORK_MS + 1.0] {
            let r = TestResult {
                network_ms: bad,
                ..ok.clone()
            };
            assert!(r.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn links_expire_after_the_session_or_after_their_issue() {
        use chrono::TimeZone;
        let issued = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 11, 30, 3, 0, 0).unwrap();
        let hour = 3600;
        assert_eq!(
            link_expiry(Some(end), issued, 12),
            end.timestamp() + 12 * hour
        );
        assert_eq!(
            link_expiry(None, issued, 12),
            issued.timestamp() + 12 * hour
        );
        // Re-issued after the session ended: valid for the grace period from the re-issue.
        let late = end + chrono::Duration::hours(2);
        assert_eq!(
            link_expiry(Some(end), late, 12),
            late.timestamp() + 12 * hour
        );
    }

    #[test]
    fn a_site_is_tested_once_it_has_published_audio_and_video() {
        let mut w = TestWatch::default();
        w.joined("s", "a");
        assert!(!w.published("s", "a", MediaKind::Audio));
        assert!(!w.published("s", "b", MediaKind::Video), "another site");
        assert!(!w.published("s", "a", MediaKind::Audio), "audio again");
        assert!(w.published("s", "a", MediaKind::Video));
        assert!(!w.published("s", "a", MediaKind::Video), "reported once");
        w.left("s", "a");
        w.joined("s", "a");
        assert!(!w.published("s", "a", MediaKind::Video));
        assert!(w.published("s", "a", MediaKind::Audio), "after a rejoin");
        w.left("s", "a");
        w.left("s", "b");
        assert!(w.published.is_empty());
    }
}
