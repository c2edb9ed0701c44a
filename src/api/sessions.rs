//! Session routes (secretariat): create one-off or recurring sessions, list them by week, read,
//! edit and cancel them with a scope, and the calendar files — one session's `.ics` and the
//! subscribable per-site and per-user feeds (a logged-in user, or anyone with the feed's token URL,
//! for calendar apps that cannot log in). Reads are for every logged-in role except site
//! operators and reviewers; writes for the secretariat and admins; a scoped grant acts on the
//! sessions whose host site is in its scope, and lists keep only those (`auth::scope`). A site's
//! own technician lists the sessions of its site. A scheduling conflict is a 409
//! whose body lists the conflicts; an invalid field a 422 naming it.

use super::access::{self, Sites};
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::{Action, Principal, Role};
use crate::schedule::ScheduleError;
use crate::schedule::feeds;
use crate::schedule::model::{
    CancelRequest, ConflictReport, SessionCreated, SessionError, SessionInput, SessionPatch,
};
use crate::schedule::service::{FeedLink, SessionDetail, SessionListItem};
use crate::store;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::Deserialize;

/// Longest range `GET /api/sessions` lists.
const MAX_RANGE_DAYS: i64 = 62;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", post(create).get(list))
        .route("/api/sessions/{id}", get(detail).patch(update))
        .route("/api/sessions/{id}/cancel", post(cancel))
        .route("/api/sessions/{id}/calendar.ics", get(session_ics))
        .route("/api/calendar/site/{file}", get(site_ics))
        .route("/api/calendar/user/{file}", get(user_ics))
        .route("/api/calendar/links", get(my_links))
}

/// The errors of these routes: the shared mapping, plus the 409 body and a 422 naming the field.
pub enum SessionsApiError {
    Api(ApiError),
    Session(SessionError),
}

impl<E: Into<ApiError>> From<E> for SessionsApiError {
    fn from(e: E) -> Self {
        SessionsApiError::Api(e.into())
    }
}

impl From<SessionError> for SessionsApiError {
    fn from(e: SessionError) -> Self {
        SessionsApiError::Session(e)
    }
}

impl IntoResponse for SessionsApiError {
    fn into_response(self) -> Response {
        match self {
            SessionsApiError::Api(e) => e.into_response(),
            SessionsApiError::Session(SessionError::Conflict(report)) => {
                (StatusCode::CONFLICT, Json(*report)).into_response()
            }
            SessionsApiError::Session(SessionError::Schedule(ScheduleError::Invalid {
                field,
                message,
            })) => {
                let body = serde_json::json!({
                    "code": "invalid", "field": field, "message": format!("{field}: {message}"),
                });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            SessionsApiError::Session(SessionError::Schedule(e)) => {
                ApiError::Schedule(e).into_response()
            }
        }
    }
}

type Result<T> = std::result::Result<T, SessionsApiError>;

fn not_found(id: &str) -> SessionsApiError {
    ApiError::Schedule(ScheduleError::SessionNotFound(id.to_string())).into()
}

/// Creates a session, or a series when `rrule` is given (one session per occurrence); returns
/// the first occurrence's join links.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions", request_body = SessionInput,
    responses(
        (status = 201, body = SessionCreated),
        (status = 400, description = "malformed JSON or unknown field", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "a site is already in an overlapping session", body = ConflictReport),
        (status = 422, description = "invalid field (named in `field`), unknown site, site not valid on the date", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    principal: Principal,
    body: std::result::Result<Json<SessionInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SessionCreated>)> {
    principal.may(Action::WriteSchedule)?;
    let Json(req) = body?;
    let host = access::site(&app.pool, &req.host_site_id).await?;
    principal.authorize(Action::WriteSchedule, host.session())?;
    let created = app
        .scheduler()
        .create_session(&req, &principal.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `week` (ISO week, e.g. `2026-W48`, Monday to Sunday in Hanoi) or `from`/`to` (RFC 3339 or
/// `yyyy-mm-dd`, Hanoi midnight; `to` exclusive); `site_id` keeps the sessions inviting that site.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    pub week: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub site_id: Option<String>,
}

fn hanoi_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN)
        .and_local_timezone(crate::tz())
        .single()
        .expect("fixed offset")
        .to_utc()
}

fn bad(field: &'static str, message: &str) -> SessionsApiError {
    SessionError::Schedule(ScheduleError::Invalid {
        field,
        message: message.to_string(),
    })
    .into()
}

fn parse_instant(field: &'static str, v: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.to_utc());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(hanoi_midnight)
        .map_err(|_| bad(field, "expected yyyy-mm-dd or an RFC 3339 time"))
}

/// The `[from, to)` range a query names.
pub fn range(q: &ListQuery) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = match (&q.week, &q.from, &q.to) {
        (Some(w), None, None) => {
            let (y, n) = w
                .split_once("-W")
                .and_then(|(y, n)| Some((y.parse::<i32>().ok()?, n.parse::<u32>().ok()?)))
                .ok_or_else(|| bad("week", "expected an ISO week like 2026-W48"))?;
            let monday = NaiveDate::from_isoywd_opt(y, n, Weekday::Mon)
                .ok_or_else(|| bad("week", "no such week"))?;
            let from = hanoi_midnight(monday);
            (from, from + TimeDelta::days(7))
        }
        (None, Some(f), Some(t)) => (parse_instant("from", f)?, parse_instant("to", t)?),
        _ => return Err(bad("week", "give week, or from and to")),
    };
    if to <= from {
        return Err(bad("to", "must be after from"));
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(bad("to", "the range is longer than 62 days"));
    }
    Ok((from, to))
}

/// Sessions (occurrences) overlapping a week or a range, by start, with host, site counts and
/// status (cancelled ones included). A site operator may list those of their own site (`site_id`).
#[utoipa::path(get, path = "/api/sessions", tag = "sessions", params(ListQuery),
    responses((status = 200, body = Vec<SessionListItem>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SessionListItem>>> {
    // The whole schedule of a site in scope (a site operator: their own site); otherwise the
    // sessions hosted in scope.
    let whole_site = match q.site_id.as_deref() {
        Some(s) => {
            let site = access::site(&app.pool, s).await?;
            principal.allows(Action::ReadSiteSchedule, site.target())
        }
        None => false,
    };
    if !whole_site {
        principal.may(Action::ReadSchedule)?;
    }
    let (from, to) = range(&q)?;
    let mut items = app.scheduler().list(from, to, q.site_id.as_deref()).await?;
    if !whole_site {
        let mut sites = Sites::default();
        let mut keep = Vec::with_capacity(items.len());
        for item in items {
            let host = sites.get(&app.pool, &item.host_site_id).await?;
            if principal.allows(Action::ReadSchedule, host.session()) {
                keep.push(item);
            }
        }
        items = keep;
    }
    Ok(Json(items))
}

/// A session: agenda, chair, flags, status, invited sites (host first, required or not), its
/// series with every occurrence, and its calendar links.
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>> {
    principal.may(Action::ReadSchedule)?;
    let host = access::session_host(&app.pool, &id).await?;
    principal.authorize(Action::ReadSchedule, host.session())?;
    let mut detail = app.scheduler().detail(&id).await?;
    detail.live_sites = app.sfu.sites_in(&id).len();
    Ok(Json(detail))
}

/// Changes the fields given. `scope`: `this` (this occurrence only), `following` (split the
/// series here), `series` (every occurrence). Returns the session as changed.
#[utoipa::path(patch, path = "/api/sessions/{id}", tag = "sessions", request_body = SessionPatch,
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionDetail), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ConflictReport), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: std::result::Result<Json<SessionPatch>, JsonRejection>,
) -> Result<Json<SessionDetail>> {
    principal.may(Action::WriteSchedule)?;
    let host = access::session_host(&app.pool, &id).await?;
    principal.authorize(Action::WriteSchedule, host.session())?;
    let Json(patch) = body?;
    if let Some(new_host) = &patch.host_site_id {
        let new_host = access::site(&app.pool, new_host).await?;
        principal.authorize(Action::WriteSchedule, new_host.session())?;
    }
    let s = app.scheduler();
    let changed = s.update_session(&id, &patch, &principal.actor()).await?;
    crate::signal::revoke::recheck(&app, &changed).await;
    Ok(Json(s.detail(&id).await?))
}

/// Cancels the session; for an occurrence, `scope` as for edits (`this` becomes an EXDATE).
#[utoipa::path(post, path = "/api/sessions/{id}/cancel", tag = "sessions",
    request_body = CancelRequest, params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Option<Json<CancelRequest>>,
) -> Result<Json<SessionDetail>> {
    principal.may(Action::WriteSchedule)?;
    let host = access::session_host(&app.pool, &id).await?;
    principal.authorize(Action::WriteSchedule, host.session())?;
    let scope = body.map(|Json(b)| b.scope).unwrap_or_default();
    let s = app.scheduler();
    let cancelled = s.cancel_session(&id, scope, &principal.actor()).await?;
    app.sfu
        .evict_sessions(&cancelled, crate::sfu::Eviction::Cancelled)
        .await;
    Ok(Json(s.detail(&id).await?))
}

fn ics(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// The session as an iCalendar file; for an occurrence, its whole series (RRULE, EXDATE,
/// overrides).
#[utoipa::path(get, path = "/api/sessions/{id}/calendar.ics", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "a session without start and end has no calendar entry", body = ErrorBody)))]
pub async fn session_ics(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    principal.may(Action::ReadSchedule)?;
    let s = store::sessions::get(&app.pool, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let host = access::site(&app.pool, &s.host_site_id).await?;
    principal.authorize(Action::ReadSchedule, host.session())?;
    let events = feeds::session_events(&app.pool, &app.public_url, &s).await?;
    if events.is_empty() {
        return Err(ApiError::Unprocessable(format!("session {id} has no start and end")).into());
    }
    let text = crate::calendar::feed_ics(&s.title, &events, Utc::now())
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    Ok(ics(text))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// The feed's token (from the session detail's `site_feeds`, or `GET /api/calendar/me`).
    pub token: Option<String>,
}

/// Allowed with the feed's token, or else as the logged-in principal `allowed` accepts.
async fn feed_access(
    app: &AppState,
    parts: &mut Parts,
    subject: &str,
    token: Option<&str>,
    allowed: impl Fn(&Principal) -> bool,
) -> Result<()> {
    if let Some(token) = token {
        return if feeds::feed_token_ok(&app.token_key, subject, token) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized("the calendar feed token is not valid".into()).into())
        };
    }
    let principal = Principal::from_request_parts(parts, app).await?;
    if allowed(&principal) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("not allowed to read this calendar".into()).into())
    }
}

fn strip_ics(file: &str) -> Result<&str> {
    file.strip_suffix(".ics")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::NotFound(format!("{file}: a feed ends in .ics")).into())
}

/// The subscribable calendar of a site: every session it is invited to (series as RRULE).
#[utoipa::path(get, path = "/api/calendar/site/{site_id}.ics", tag = "sessions",
    params(("site_id" = String, Path, description = "site id"), FeedQuery),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn site_ics(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedQuery>,
    mut parts: Parts,
) -> Result<Response> {
    let site_id = strip_ics(&file)?;
    let subject = format!("site:{site_id}");
    let scope = access::site(&app.pool, site_id).await?;
    feed_access(&app, &mut parts, &subject, q.token.as_deref(), |p| {
        p.allows(Action::ReadSiteSchedule, scope.target())
    })
    .await?;
    let site = store::org::site(&app.pool, site_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("site {site_id} not found")))?;
    let links = feeds::SiteLinks {
        key: &app.token_key,
        site_id,
        grace_hours: app.config.auth.join_link_grace_hours,
    };
    let text = feeds::site_feed(&app.pool, &app.public_url, links, &site.name)
        .await?
        .map_err(ApiError::Unprocessable)?;
    Ok(ics(text))
}

/// The subscribable calendar of a user: the sessions of the sites they hold a site role for and
/// those whose chair names them.
#[utoipa::path(get, path = "/api/calendar/user/{user_id}.ics", tag = "sessions",
    params(("user_id" = String, Path, description = "user id"), FeedQuery),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn user_ics(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedQuery>,
    mut parts: Parts,
) -> Result<Response> {
    let user_id = strip_ics(&file)?;
    let subject = format!("user:{user_id}");
    feed_access(&app, &mut parts, &subject, q.token.as_deref(), |p| {
        p.user_id().as_deref() == Some(user_id) || p.has(&[Role::Admin, Role::Secretariat])
    })
    .await?;
    let name: Option<String> = sqlx::query_scalar("SELECT display_name FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_optional(&app.pool)
        .await
        .map_err(store::StoreError::from)?;
    let name = name.ok_or_else(|| ApiError::NotFound(format!("user {user_id} not found")))?;
    let text = feeds::user_feed(&app.pool, &app.public_url, user_id, &name)
        .await?
        .map_err(ApiError::Unprocessable)?;
    Ok(ics(text))
}

/// The logged-in person's subscribable calendars: their own feed and those of the sites they
/// hold a site-scoped role for, as token URLs to paste into a calendar app.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MyFeeds {
    pub user_feed: Option<String>,
    pub site_feeds: Vec<FeedLink>,
}

/// The caller's calendar feed links (user feed and own sites' feeds).
#[utoipa::path(get, path = "/api/calendar/links", tag = "sessions",
    responses((status = 200, body = MyFeeds), (status = 401, body = ErrorBody)))]
pub async fn my_links(State(app): State<AppState>, principal: Principal) -> Result<Json<MyFeeds>> {
    let key = &app.token_key;
    let mut site_ids: Vec<&str> = principal
        .grant_list()
        .iter()
        .filter_map(|g| g.site_id.as_deref())
        .collect();
    site_ids.sort_unstable();
    site_ids.dedup();
    Ok(Json(MyFeeds {
        user_feed: principal
            .user_id()
            .map(|u| feeds::user_feed_url(key, &app.public_url, &u)),
        site_feeds: site_ids
            .into_iter()
            .map(|s| FeedLink {
                site_id: s.to_string(),
                url: feeds::site_feed_url(key, &app.public_url, s),
            })
            .collect(),
    }))
}
