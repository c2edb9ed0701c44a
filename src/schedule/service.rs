//! The sessions service, reading and creating: create a one-off or recurring session (each
//! occurrence a `sessions` row) in one transaction with its audit row and the conflict check,
//! list sessions in a time range (the week calendar) and assemble a session's detail. Edits and
//! cancellations are in `edit.rs`; the request types in `model.rs`.

use super::conflict::{self, Booking, Interval};
use super::feeds;
use super::model::*;
use super::recurrence::{Series, expand};
use super::{ScheduleError, Scheduler};
use crate::audit::{self, actions};
use crate::store::series::SeriesRow;
use crate::store::sessions::{self as rows, SCHEDULED, SessionRow, SiteInvite};
use crate::store::{self, Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One line of the week calendar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionListItem {
    pub id: String,
    pub title: String,
    pub host_site_id: String,
    pub host_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: String,
    pub chair: String,
    pub classified: bool,
    pub record_auto: bool,
    pub series_id: Option<String>,
    pub overridden: bool,
    pub sequence: i64,
    pub site_count: i64,
    pub required_count: i64,
}

/// A series as the detail shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeriesInfo {
    pub id: String,
    pub rrule: String,
    pub dtstart: DateTime<Utc>,
    pub duration_minutes: i64,
    pub status: String,
    pub sequence: i64,
    pub occurrences: Vec<OccurrenceBrief>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OccurrenceBrief {
    pub id: String,
    pub recurrence_id: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: String,
    pub overridden: bool,
}

/// A site's subscribable calendar, with its unguessable token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedLink {
    pub site_id: String,
    pub url: String,
}

/// Everything the session page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionDetail {
    pub id: String,
    pub title: String,
    pub host_site_id: String,
    pub host_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub agenda: Vec<AgendaItem>,
    pub chair: String,
    pub classified: bool,
    pub record_auto: bool,
    pub status: String,
    pub sequence: i64,
    pub recurrence_id: Option<DateTime<Utc>>,
    pub overridden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Invited site ids, host first.
    pub site_ids: Vec<String>,
    pub sites: Vec<rows::InvitedSite>,
    pub series: Option<SeriesInfo>,
    /// `/api/sessions/{id}/calendar.ics`.
    pub calendar_url: String,
    pub site_feeds: Vec<FeedLink>,
    pub live_sites: usize,
}

pub(crate) fn parse_agenda(json: &str) -> Vec<AgendaItem> {
    serde_json::from_str(json).unwrap_or_default()
}

/// Site id → name for the given ids.
pub(crate) async fn site_names(
    pool: &Pool,
    ids: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    Ok(store::org::sites_by_ids(pool, ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect())
}

/// Refuses with [`SessionError::Conflict`] when any of `sites` is in a scheduled session
/// (other than those in `exclude`) overlapping one of `intervals`. Reads only the candidate rows
/// (one indexed query in the caller's transaction), then runs `conflict::find_conflicts`.
pub async fn check_conflicts(
    conn: &mut SqliteConnection,
    title: &str,
    sites: &[SiteInvite],
    intervals: &[(DateTime<Utc>, DateTime<Utc>)],
    exclude: &HashSet<String>,
    names: &HashMap<String, String>,
) -> Result<(), SessionError> {
    let site_ids: Vec<String> = sites.iter().map(|s| s.site_id.clone()).collect();
    let found = rows::conflict_candidates_in(conn, &site_ids, intervals).await?;
    let mut by_session: BTreeMap<String, Booking> = BTreeMap::new();
    for r in found
        .into_iter()
        .filter(|r| !exclude.contains(&r.session_id))
    {
        let b = by_session
            .entry(r.session_id.clone())
            .or_insert_with(|| Booking {
                id: r.session_id.clone(),
                title: r.title.clone(),
                site_ids: Vec::new(),
                intervals: vec![Interval::new(r.starts_at, r.ends_at)],
                cancelled: false,
            });
        b.site_ids.push(r.site_id);
    }
    let existing: Vec<Booking> = by_session.into_values().collect();
    let candidate = Booking {
        id: String::new(),
        title: title.to_string(),
        site_ids,
        intervals: intervals
            .iter()
            .map(|(s, e)| Interval::new(*s, *e))
            .collect(),
        cancelled: false,
    };
    let found = conflict::find_conflicts(&candidate, &existing);
    if found.is_empty() {
        return Ok(());
    }
    let name = |id: &str| names.get(id).cloned();
    let conflicts = found
        .iter()
        .take(MAX_CONFLICTS_LISTED)
        .map(|c| ConflictItem {
            session_id: c.session_id.to_string(),
            title: c.title.to_string(),
            site_id: c.site_id.to_string(),
            site_name: name(c.site_id).unwrap_or_else(|| c.site_id.to_string()),
            starts_at: c.existing.start,
            ends_at: c.existing.end,
        })
        .collect();
    Err(SessionError::Conflict(Box::new(ConflictReport {
        code: "conflict".into(),
        message: conflict::message_vi(&found, name, 10),
        message_en: conflict::message_en(&found, name, 10),
        total: found.len(),
        conflicts,
    })))
}

/// The not-cancelled occurrence intervals of a series.
pub(crate) fn series_intervals(series: &Series) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    expand(series, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
        .into_iter()
        .filter(|o| !o.cancelled)
        .map(|o| (o.start, o.end))
        .collect()
}

/// A fresh session row from a checked request.
pub(crate) fn new_row(v: &ValidInput, now: DateTime<Utc>) -> SessionRow {
    SessionRow {
        id: uuid::Uuid::new_v4().to_string(),
        title: v.title.clone(),
        host_site_id: v.host_site_id.clone(),
        starts_at: v.starts_at,
        ends_at: v.ends_at,
        created_at: now,
        agenda: v.agenda_json(),
        chair: v.chair.clone(),
        classified: v.classified,
        record_auto: v.record_auto,
        status: SCHEDULED.into(),
        sequence: 0,
        series_id: None,
        recurrence_id: None,
        overridden: false,
        updated_at: Some(now),
    }
}

/// The series row and one session row per occurrence.
pub(crate) fn series_rows(
    v: &ValidInput,
    series: &Series,
    id: &str,
    now: DateTime<Utc>,
) -> (SeriesRow, Vec<SessionRow>) {
    let row = SeriesRow {
        id: id.to_string(),
        rrule: series.rule().to_string(),
        dtstart: series.start(),
        duration_secs: series.duration().num_seconds(),
        title: v.title.clone(),
        agenda: v.agenda_json(),
        host_site_id: v.host_site_id.clone(),
        chair: v.chair.clone(),
        classified: v.classified,
        record_auto: v.record_auto,
        sequence: 0,
        status: SCHEDULED.into(),
        created_at: now,
        updated_at: now,
    };
    let occurrences = expand(series, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
        .into_iter()
        .map(|o| SessionRow {
            starts_at: Some(o.start),
            ends_at: Some(o.end),
            series_id: Some(id.to_string()),
            recurrence_id: Some(o.recurrence_id),
            ..new_row(v, now)
        })
        .collect();
    (row, occurrences)
}

impl Scheduler<'_> {
    /// Validates, checks conflicts and stores a session or a series with its occurrences, all in
    /// one transaction with the audit row; returns the first occurrence's join links.
    pub async fn create_session(
        &self,
        req: &SessionInput,
        actor: &str,
    ) -> Result<SessionCreated, SessionError> {
        let now = Utc::now();
        let known = store::org::sites_by_ids(self.pool, &wanted_sites(req)).await?;
        let v = validate_input(req, &known, now, self.max_session_hours)?;
        let names: HashMap<String, String> = known.into_iter().map(|s| (s.id, s.name)).collect();
        let (series, sessions) = match &v.series {
            Some(s) => {
                let (row, occ) = series_rows(&v, s, &uuid::Uuid::new_v4().to_string(), now);
                (Some(row), occ)
            }
            None => (None, vec![new_row(&v, now)]),
        };
        let intervals: Vec<_> = match &v.series {
            Some(s) => series_intervals(s),
            None => v.starts_at.zip(v.ends_at).into_iter().collect(),
        };
        let ids: Vec<String> = sessions.iter().map(|r| r.id.clone()).collect();
        let target = series.as_ref().map_or(&ids[0], |s| &s.id);
        let detail = serde_json::json!({
            "title": v.title, "host_site_id": v.host_site_id,
            "site_ids": v.sites.iter().map(|s| &s.site_id).collect::<Vec<_>>(),
            "starts_at": v.starts_at, "ends_at": v.ends_at,
            "series_id": series.as_ref().map(|s| &s.id),
            "rrule": series.as_ref().map(|s| &s.rrule), "occurrences": ids.len(),
        });
        let mut tx = self.pool.begin().await?;
        // The audit row first: it takes the write lock, so the conflict check below cannot race.
        audit::append_in(&mut tx, actor, actions::SESSION_CREATE, target, detail).await?;
        let none = HashSet::new();
        check_conflicts(&mut tx, &v.title, &v.sites, &intervals, &none, &names).await?;
        if let Some(s) = &series {
            store::series::insert_in(&mut tx, s, &v.sites).await?;
        }
        rows::insert_in(&mut tx, &sessions, &v.sites).await?;
        tx.commit().await?;
        self.ensure_invitations(&ids, now).await;
        let exp = super::link_expiry(sessions[0].ends_at, now, self.grace_hours);
        let links = v
            .sites
            .iter()
            .map(|s| {
                (
                    s.site_id.clone(),
                    self.link(
                        &ids[0],
                        &s.site_id,
                        store::invitations::FIRST_LINK_VERSION,
                        exp,
                    ),
                )
            })
            .collect();
        Ok(SessionCreated {
            session_id: ids[0].clone(),
            series_id: series.map(|s| s.id),
            occurrence_ids: ids,
            links,
        })
    }

    /// Creates the invitation rows of new or changed sessions (idempotent; see
    /// `store::invitations::ensure`: a failure here is repaired on first use).
    pub(crate) async fn ensure_invitations(&self, ids: &[String], now: DateTime<Utc>) {
        for id in ids {
            if let Err(e) = store::invitations::ensure(self.pool, id, now).await {
                tracing::warn!(session = %id, "invitations will be created on first use: {e}");
            }
        }
    }

    /// Sessions overlapping `[from, to)`, by start (optionally only those inviting `site_id`).
    pub async fn list(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        site_id: Option<&str>,
    ) -> Result<Vec<SessionListItem>, StoreError> {
        let found = rows::list_range(self.pool, from, to, site_id).await?;
        Ok(found
            .into_iter()
            .map(|r| {
                let s = r.session;
                SessionListItem {
                    id: s.id,
                    title: s.title,
                    host_site_id: s.host_site_id,
                    host_name: r.host_name,
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                    status: s.status,
                    chair: s.chair,
                    classified: s.classified,
                    record_auto: s.record_auto,
                    series_id: s.series_id,
                    overridden: s.overridden,
                    sequence: s.sequence,
                    site_count: r.site_count,
                    required_count: r.required_count,
                }
            })
            .collect())
    }

    /// A session with its sites, series and calendar links.
    pub async fn detail(&self, id: &str) -> Result<SessionDetail, SessionError> {
        let s = rows::get(self.pool, id)
            .await?
            .ok_or_else(|| ScheduleError::SessionNotFound(id.to_string()))?;
        let sites = rows::invited_sites(self.pool, id).await?;
        let host_name = store::org::site(self.pool, &s.host_site_id)
            .await?
            .map(|h| h.name)
            .unwrap_or_default();
        let series = match &s.series_id {
            Some(sid) => {
                let mut conn = self.pool.acquire().await?;
                match store::series::get_in(&mut conn, sid).await? {
                    Some(row) => {
                        let occ = rows::by_series_in(&mut conn, sid).await?;
                        Some(SeriesInfo {
                            id: row.id,
                            rrule: row.rrule,
                            dtstart: row.dtstart,
                            duration_minutes: row.duration_secs / 60,
                            status: row.status,
                            sequence: row.sequence,
                            occurrences: occ
                                .into_iter()
                                .map(|o| OccurrenceBrief {
                                    id: o.id,
                                    recurrence_id: o.recurrence_id,
                                    starts_at: o.starts_at,
                                    ends_at: o.ends_at,
                                    status: o.status,
                                    overridden: o.overridden,
                                })
                                .collect(),
                        })
                    }
                    None => None,
                }
            }
            None => None,
        };
        let site_feeds = sites
            .iter()
            .map(|x| FeedLink {
                site_id: x.site_id.clone(),
                url: feeds::site_feed_url(self.key, self.public_url, &x.site_id),
            })
            .collect();
        Ok(SessionDetail {
            calendar_url: format!("{}/api/sessions/{}/calendar.ics", self.public_url, s.id),
            agenda: parse_agenda(&s.agenda),
            site_ids: sites.iter().map(|x| x.site_id.clone()).collect(),
            id: s.id,
            title: s.title,
            host_site_id: s.host_site_id,
            host_name,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            chair: s.chair,
            classified: s.classified,
            record_auto: s.record_auto,
            status: s.status,
            sequence: s.sequence,
            recurrence_id: s.recurrence_id,
            overridden: s.overridden,
            created_at: s.created_at,
            updated_at: s.updated_at,
            sites,
            series,
            site_feeds,
            live_sites: 0,
        })
    }
}
