//! Sessions and their invitations: validating a new session, storing it, issuing one signed join
//! link per invited site, and resolving a join token back to its session and site. The checks are
//! a pure function ([`validate`]) over the request, the sites it names and the current time.

pub mod conflict;
mod edit;
pub mod feeds;
pub mod invitations;
pub mod live;
pub mod model;
pub mod recurrence;
pub mod service;
pub mod window;

use crate::auth::{JoinClaims, TokenError, TokenKey};
use crate::store::{self, Pool, StoreError, org::Site};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_SITES: usize = 500;

/// What the secretariat asks for.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewSession {
    pub title: String,
    pub host_site_id: String,
    #[serde(default)]
    pub site_ids: Vec<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}

/// A created session with one join link per invited site (the host included).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedSession {
    pub session_id: String,
    pub links: BTreeMap<String, String>,
}

/// What a join token resolves to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JoinInfo {
    pub session: SessionSummary,
    pub site: SiteSummary,
    /// Whether the room is open now, or when it opens (see [`JoinInfo::in_window`]).
    pub window: window::JoinWindow,
}

impl JoinInfo {
    /// Places the join in its window: an ended session is refused like an expired link;
    /// `too_early` is kept in `window` (the page shows it; `join` refuses it).
    pub fn in_window(
        mut self,
        policy: window::Policy,
        now: DateTime<Utc>,
    ) -> Result<JoinInfo, ScheduleError> {
        self.window =
            window::join_window(self.session.starts_at, self.session.ends_at, now, policy);
        match self.window {
            window::JoinWindow::Ended { .. } => Err(TokenError::Expired.into()),
            _ => Ok(self),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub id: String,
    pub title: String,
    pub host_site_id: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The agenda (the room page lists it; the host site marks the item the session is on).
    pub agenda: Vec<model::AgendaItem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SiteSummary {
    pub id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("unknown site {0}")]
    UnknownSite(String),
    #[error("site {0} is not valid on the session's date (its unit has ended or not begun)")]
    SiteNotValid(String),
    #[error("session {0} not found")]
    SessionNotFound(String),
    #[error("session {0} was cancelled")]
    SessionCancelled(String),
    #[error("site {site} is not invited to session {session}")]
    NotInvited { session: String, site: String },
    #[error("the invitation of site {site} to session {session} has been revoked")]
    LinkRevoked { session: String, site: String },
    #[error("this join link of site {site} has been replaced by a newer one; ask the organiser")]
    LinkSuperseded { session: String, site: String },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        field,
        message: message.into(),
    }
}

/// The checked form of a [`NewSession`]: trimmed title, host first, no duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSession {
    pub title: String,
    pub host_site_id: String,
    pub site_ids: Vec<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Checks a request against the sites it names (`known`, looked up by the caller) and `now`.
pub fn validate(
    req: &NewSession,
    known: &[Site],
    now: DateTime<Utc>,
    max_hours: u32,
) -> Result<ValidSession, ScheduleError> {
    let title = req.title.trim();
    if title.is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(
            "title",
            format!("longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    if req.site_ids.len() > MAX_SITES {
        return Err(invalid("site_ids", format!("more than {MAX_SITES} sites")));
    }
    match (req.starts_at, req.ends_at) {
        (Some(s), Some(e)) => {
            if e <= s {
                return Err(invalid("ends_at", "must be after starts_at"));
            }
            if e - s > Duration::hours(i64::from(max_hours)) {
                return Err(invalid(
                    "ends_at",
                    format!("a session lasts at most {max_hours} hours"),
                ));
            }
        }
        (None, Some(_)) => return Err(invalid("starts_at", "required when ends_at is given")),
        _ => {}
    }
    let day = req
        .starts_at
        .unwrap_or(now)
        .with_timezone(&crate::tz())
        .date_naive();
    let mut ids = vec![req.host_site_id.clone()];
    for id in &req.site_ids {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    for id in &ids {
        let site = known
            .iter()
            .find(|s| &s.id == id)
            .ok_or_else(|| ScheduleError::UnknownSite(id.clone()))?;
        if !site.valid_on(day) {
            return Err(ScheduleError::SiteNotValid(id.clone()));
        }
    }
    Ok(ValidSession {
        title: title.to_string(),
        host_site_id: req.host_site_id.clone(),
        site_ids: ids,
        starts_at: req.starts_at,
        ends_at: req.ends_at,
    })
}

/// Everything session creation needs besides the request.
pub struct Scheduler<'a> {
    pub pool: &'a Pool,
    pub key: &'a TokenKey,
    pub public_url: &'a str,
    pub grace_hours: u32,
    pub max_session_hours: u32,
}

impl Scheduler<'_> {
    /// Validates, stores (one transaction) and returns the join links.
    pub async fn create(
        &self,
        req: &NewSession,
        actor: &str,
    ) -> Result<CreatedSession, ScheduleError> {
        // The sessions service does the work (validation, conflicts, audit, invitations); a
        // conflict is reported here as an invalid site list, since this API predates 409s.
        match self
            .create_session(&model::SessionInput::from(req), actor)
            .await
        {
            Ok(created) => Ok(CreatedSession {
                session_id: created.session_id,
                links: created.links,
            }),
            Err(model::SessionError::Schedule(e)) => Err(e),
            Err(model::SessionError::Conflict(report)) => Err(invalid("site_ids", report.message)),
        }
    }

    /// The join link of version `v` of a site's invitation.
    fn link(&self, session_id: &str, site_id: &str, v: u32, exp: i64) -> String {
        let token = self.key.sign(&JoinClaims {
            sid: session_id.to_string(),
            site: site_id.to_string(),
            exp,
            v,
        });
        format!("{}/room/{token}", self.public_url)
    }
}

/// When a link issued at `issued_at` expires (Unix seconds): `grace_hours` after the session's
/// end, or after the issue for a session without an end (or one already over).
pub fn link_expiry(
    ends_at: Option<DateTime<Utc>>,
    issued_at: DateTime<Utc>,
    grace_hours: u32,
) -> i64 {
    let base = ends_at.unwrap_or(issued_at).max(issued_at);
    (base + Duration::hours(i64::from(grace_hours))).timestamp()
}

/// Resolves a join token: signature, expiry, the session exists, the site is invited, its
/// invitation is not revoked and the token is of the invitation's current link version.
pub async fn resolve_join(
    pool: &Pool,
    key: &TokenKey,
    token: &str,
) -> Result<JoinInfo, ScheduleError> {
    let claims = key.verify(token, Utc::now().timestamp())?;
    let session = store::sessions::get(pool, &claims.sid)
        .await?
        .ok_or_else(|| ScheduleError::SessionNotFound(claims.sid.clone()))?;
    if session.status == "cancelled" {
        return Err(ScheduleError::SessionCancelled(claims.sid));
    }
    if !store::sessions::is_invited(pool, &claims.sid, &claims.site).await? {
        return Err(ScheduleError::NotInvited {
            session: claims.sid,
            site: claims.site,
        });
    }
    invitations::check_link(pool, &claims).await?;
    let site = store::org::site(pool, &claims.site)
        .await?
        .ok_or_else(|| ScheduleError::UnknownSite(claims.site.clone()))?;
    Ok(JoinInfo {
        session: SessionSummary {
            id: session.id,
            title: session.title,
            host_site_id: session.host_site_id,
            starts_at: session.starts_at,
            ends_at: session.ends_at,
            agenda: service::parse_agenda(&session.agenda),
        },
        site: SiteSummary {
            id: site.id,
            name: site.name,
        },
        window: window::JoinWindow::Open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn site(id: &str, from: (i32, u32, u32), to: Option<(i32, u32, u32)>) -> Site {
        Site {
            id: id.into(),
            name: id.into(),
            unit_id: "u".into(),
            unit_name: "u".into(),
            is_host: false,
            valid_from: NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap(),
            valid_to: to.map(|t| NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap()),
        }
    }

    fn req(sites: &[&str]) -> NewSession {
        NewSession {
            title: " Giao ban tuần ".into(),
            host_site_id: "h".into(),
            site_ids: sites.iter().map(|s| s.to_string()).collect(),
            starts_at: Some(Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap()),
            ends_at: Some(Utc.with_ymd_and_hms(2026, 11, 30, 3, 0, 0).unwrap()),
        }
    }

    fn known() -> Vec<Site> {
        vec![
            site("h", (2025, 7, 1), None),
            site("a", (2025, 7, 1), None),
            site("old", (2008, 8, 1), Some((2025, 6, 30))),
        ]
    }

    #[test]
    fn host_first_and_deduplicated() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let v = validate(&req(&["a", "h", "a"]), &known(), now, 12).unwrap();
        assert_eq!(v.site_ids, vec!["h", "a"]);
        assert_eq!(v.title, "Giao ban tuần");
    }

    #[test]
    fn refusals() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        assert!(
            matches!(validate(&req(&["zzz"]), &known(), now, 12), Err(ScheduleError::UnknownSite(s)) if s == "zzz")
        );
        assert!(
            matches!(validate(&req(&["old"]), &known(), now, 12), Err(ScheduleError::SiteNotValid(s)) if s == "old")
        );
        let mut r = req(&["a"]);
        r.ends_at = r.starts_at;
        assert!(matches!(
            validate(&r, &known(), now, 12),
            Err(ScheduleError::Invalid {
                field: "ends_at",
                ..
            })
        ));
        assert!(matches!(
            validate(&req(&["a"]), &known(), now, 1),
            Err(ScheduleError::Invalid {
                field: "ends_at",
                ..
            })
        ));
        let mut r = req(&["a"]);
        r.title = "x".repeat(MAX_TITLE_CHARS + 1);
        assert!(matches!(
            validate(&r, &known(), now, 12),
            Err(ScheduleError::Invalid { field: "title", .. })
        ));
        r.title = "   ".into();
        assert!(matches!(
            validate(&r, &known(), now, 12),
            Err(ScheduleError::Invalid { field: "title", .. })
        ));
        let mut r = req(&["a"]);
        r.starts_at = None;
        assert!(matches!(
            validate(&r, &known(), now, 12),
            Err(ScheduleError::Invalid {
                field: "starts_at",
                ..
            })
        ));
    }

    #[test]
    fn validity_uses_the_local_date() {
        // 30/06/2025 23:30 in Hanoi is 30/06 16:30 UTC: the old district is still valid then.
        let mut r = req(&["old"]);
        r.starts_at = Some(Utc.with_ymd_and_hms(2025, 6, 30, 16, 30, 0).unwrap());
        r.ends_at = Some(Utc.with_ymd_and_hms(2025, 6, 30, 16, 50, 0).unwrap());
        r.host_site_id = "old".into();
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        assert!(validate(&r, &known(), now, 12).is_ok());
        // 01/07/2025 00:10 Hanoi time (30/06 17:10 UTC): merged away.
        r.starts_at = Some(Utc.with_ymd_and_hms(2025, 6, 30, 17, 10, 0).unwrap());
        r.ends_at = Some(Utc.with_ymd_and_hms(2025, 6, 30, 18, 0, 0).unwrap());
        assert!(matches!(
            validate(&r, &known(), now, 12),
            Err(ScheduleError::SiteNotValid(_))
        ));
    }
}
