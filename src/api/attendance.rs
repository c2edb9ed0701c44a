//! Attendance routes: a session's roll call as JSON, CSV and XLSX, its live stream for the
//! roll-call board (Server-Sent Events), manual marks by the secretariat (audited), today's
//! sessions with live counts, and the per-site report over a date range. Reading is for the
//! schedule's readers (admin, secretariat, operator, chair, auditor); marking for the secretariat
//! and admins. A scoped grant reads and marks the sessions hosted in its scope and the report
//! rows of its sites (`auth::scope`).

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::attendance::report::{self, SessionAttendance, SiteRecord};
use crate::attendance::summary::{Mark, Status};
use crate::auth::{Action, Principal};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/attendance", get(attendance))
        .route("/api/sessions/{id}/attendance.csv", get(attendance_csv))
        .route("/api/sessions/{id}/attendance.xlsx", get(attendance_xlsx))
        .route("/api/sessions/{id}/attendance/stream", get(stream))
        .route("/api/sessions/{id}/attendance/marks", post(mark))
        .route("/api/attendance/today", get(today))
        .route("/api/attendance/sites", get(sites))
}

/// Longest range of the per-site report.
const MAX_RANGE_DAYS: i64 = 366;
/// Longest reason of a manual mark, in characters.
const MAX_REASON_CHARS: usize = 500;

/// Refuses unless `action` is allowed on session `id` (404 for no session).
async fn authorize_session(
    app: &AppState,
    principal: &Principal,
    action: Action,
    id: &str,
) -> Result<(), ApiError> {
    principal.may(action)?;
    let host = access::session_host(&app.pool, id).await?;
    principal.authorize(action, host.session())
}

async fn roll_call(app: &AppState, id: &str) -> Result<SessionAttendance, ApiError> {
    let th = crate::attendance::thresholds(&app.config);
    report::session_attendance(&app.pool, &th, id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no session {id}")))
}

/// The roll call (điểm danh) of a session: every invited site with its live state (online since,
/// reconnecting, left, never joined), readiness, intervals with incidents, time present, flags,
/// computed status and manual mark; counts at the top.
#[utoipa::path(get, path = "/api/sessions/{id}/attendance", tag = "attendance",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionAttendance), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn attendance(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SessionAttendance>, ApiError> {
    authorize_session(&app, &principal, Action::ReadSchedule, &id).await?;
    Ok(Json(roll_call(&app, &id).await?))
}

fn file(content_type: &'static str, name: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// File names: the session id is a UUID or slug; anything else is left out.
fn file_name(id: &str, ext: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    format!("diem-danh-{safe}.{ext}")
}

/// The roll call as CSV (UTF-8 with BOM; Vietnamese headers; dd/mm/yyyy HH:mm, Hanoi time).
#[utoipa::path(get, path = "/api/sessions/{id}/attendance.csv", tag = "attendance",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn attendance_csv(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize_session(&app, &principal, Action::ReadSchedule, &id).await?;
    let r = roll_call(&app, &id).await?;
    let bytes = crate::attendance::export::csv(&r)
        .map_err(|e| ApiError::BadRequest(format!("CSV: {e}")))?;
    Ok(file(
        "text/csv; charset=utf-8",
        file_name(&id, "csv"),
        bytes,
    ))
}

/// The roll call as an Excel workbook (XLSX): title block, then one row per site.
#[utoipa::path(get, path = "/api/sessions/{id}/attendance.xlsx", tag = "attendance",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200,
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn attendance_xlsx(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize_session(&app, &principal, Action::ReadSchedule, &id).await?;
    let r = roll_call(&app, &id).await?;
    let bytes = crate::attendance::export::xlsx(&r)
        .map_err(|e| ApiError::BadRequest(format!("XLSX: {e}")))?;
    Ok(file(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        file_name(&id, "xlsx"),
        bytes,
    ))
}

/// The roll call as a stream of `roll_call` events (Server-Sent Events), each carrying the whole
/// roll call as JSON: one at once, then one whenever the session's attendance is written, and
/// one every 5 s (live states and times move on by themselves).
#[utoipa::path(get, path = "/api/sessions/{id}/attendance/stream", tag = "attendance",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, content_type = "text/event-stream", body = SessionAttendance),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn stream(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize_session(&app, &principal, Action::ReadSchedule, &id).await?;
    let first = roll_call(&app, &id).await?;
    let changed = app.attendance_changed.subscribe();
    let id: Arc<str> = id.into();
    let state = (app, id, changed, Some(first));
    let events = futures_util::stream::unfold(state, |(app, id, mut changed, first)| async move {
        let snapshot = match first {
            Some(f) => f,
            None => {
                let tick = tokio::time::sleep(Duration::from_secs(5));
                tokio::pin!(tick);
                loop {
                    tokio::select! {
                        _ = &mut tick => break,
                        got = changed.recv() => match got {
                            Ok(s) if *s == *id => break,
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(_) => return None,
                        },
                    }
                }
                roll_call(&app, &id).await.ok()?
            }
        };
        let event = Event::default().event("roll_call").json_data(&snapshot);
        Some((event, (app, id, changed, None)))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A manual mark.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRequest {
    pub site_id: String,
    /// present, late, left_early, absent, absent_with_reason, excused.
    pub status: String,
    /// Required for absent_with_reason and excused; at most 500 characters.
    #[serde(default)]
    pub reason: String,
}

/// Marks a site's status by hand (e.g. *vắng mặt có lý do* with its reason). The mark keeps who
/// and when, overrides the computed status, and is audited as `attendance.mark`. Refused for a
/// site not invited (404), a cancelled session (409), a bad status or missing reason (422).
#[utoipa::path(post, path = "/api/sessions/{id}/attendance/marks", tag = "attendance",
    request_body = MarkRequest, params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionAttendance), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn mark(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<MarkRequest>, JsonRejection>,
) -> Result<Json<SessionAttendance>, ApiError> {
    authorize_session(&app, &principal, Action::WriteSchedule, &id).await?;
    let Json(req) = body?;
    let status = Status::parse(&req.status)
        .filter(|s| *s != Status::NotChecked)
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "status {:?}: use present, late, left_early, absent, absent_with_reason or excused",
                req.status
            ))
        })?;
    let reason = req.reason.trim().to_string();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "reason: at most {MAX_REASON_CHARS} characters"
        )));
    }
    if reason.is_empty() && matches!(status, Status::AbsentWithReason | Status::Excused) {
        return Err(ApiError::Unprocessable(
            "reason: required for absent_with_reason and excused".into(),
        ));
    }
    let session = crate::store::sessions::get(&app.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no session {id}")))?;
    if session.is_cancelled() {
        return Err(ApiError::Conflict(format!(
            "session {id} is cancelled: its roll call cannot be marked"
        )));
    }
    if !crate::store::sessions::is_invited(&app.pool, &id, &req.site_id).await? {
        return Err(ApiError::NotFound(format!(
            "site {} is not invited to session {id}",
            req.site_id
        )));
    }
    let m = Mark {
        status,
        reason,
        marked_by: principal.actor(),
        marked_at: Utc::now(),
    };
    crate::attendance::store::add_mark(&app.pool, &id, &req.site_id, &m).await?;
    let _ = app.attendance_changed.send(id.as_str().into());
    Ok(Json(roll_call(&app, &id).await?))
}

/// A session of today with its live counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TodayItem {
    pub session_id: String,
    pub title: String,
    pub host_name: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub session_status: String,
    pub expected: usize,
    pub online: usize,
    pub attended: usize,
}

/// Today's sessions (Hanoi date), by start, with live counts: sites online now / expected.
#[utoipa::path(get, path = "/api/attendance/today", tag = "attendance",
    responses((status = 200, body = Vec<TodayItem>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn today(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<TodayItem>>, ApiError> {
    principal.may(Action::ReadSchedule)?;
    let now = Utc::now();
    let date = now.with_timezone(&crate::tz()).date_naive();
    let (from, to) = day_range(date, date);
    let th = crate::attendance::thresholds(&app.config);
    let rows = crate::store::sessions::list_range(&app.pool, from, to, None).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut hosts = access::Sites::default();
    for row in rows {
        let host = hosts.get(&app.pool, &row.session.host_site_id).await?;
        if !principal.allows(Action::ReadSchedule, host.session()) {
            continue;
        }
        let Some(r) = report::session_attendance(&app.pool, &th, &row.session.id, now).await?
        else {
            continue;
        };
        out.push(TodayItem {
            online: app.sfu.sites_in(&r.session_id).len(),
            session_id: r.session_id,
            title: r.title,
            host_name: row.host_name,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            session_status: r.session_status,
            expected: r.counts.expected,
            attended: r.counts.attended,
        });
    }
    Ok(Json(out))
}

/// `[from 00:00, to + 1 day 00:00)` in Hanoi time.
fn day_range(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_local_timezone(crate::tz())
            .single()
            .expect("fixed offset")
            .with_timezone(&Utc)
    };
    (midnight(from), midnight(to) + chrono::Duration::days(1))
}

/// The per-site report's query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SitesQuery {
    /// First day (yyyy-mm-dd, Hanoi time).
    pub from: String,
    /// Last day, included (yyyy-mm-dd); at most 366 days after `from`.
    pub to: String,
    /// Only the sites of this unit.
    pub unit_id: Option<String>,
    /// Only this site.
    pub site_id: Option<String>,
}

/// Per site (or the sites of one unit) over a date range: sessions invited, attended, late,
/// left early, absent (with reason, excused). Cancelled sessions do not count.
#[utoipa::path(get, path = "/api/attendance/sites", tag = "attendance", params(SitesQuery),
    responses((status = 200, body = Vec<SiteRecord>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sites(
    State(app): State<AppState>,
    principal: Principal,
    Query(q): Query<SitesQuery>,
) -> Result<Json<Vec<SiteRecord>>, ApiError> {
    principal.may(Action::ReadSchedule)?;
    let day = |field: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            ApiError::Unprocessable(format!("{field}: {v:?} is not a date (yyyy-mm-dd)"))
        })
    };
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if to < from {
        return Err(ApiError::Unprocessable(
            "to: must not be before from".into(),
        ));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::Unprocessable(format!(
            "to: the range is at most {MAX_RANGE_DAYS} days"
        )));
    }
    let (start, end) = day_range(from, to);
    let th = crate::attendance::thresholds(&app.config);
    let records = report::site_records(
        &app.pool,
        &th,
        start,
        end,
        q.unit_id.as_deref(),
        q.site_id.as_deref(),
        Utc::now(),
    )
    .await?;
    let mut sites = access::Sites::default();
    let mut kept = Vec::with_capacity(records.len());
    for r in records {
        let site = sites.get(&app.pool, &r.site_id).await?;
        if principal.allows(Action::ReadSchedule, site.target()) {
            kept.push(r);
        }
    }
    Ok(Json(kept))
}
