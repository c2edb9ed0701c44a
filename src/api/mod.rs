//! The HTTP surface: JSON API under `/api`, the WebSocket at `/ws`, the room page at
//! `/room/<token>` and static files under `/static`. Handlers are thin: they call the services
//! and map their errors once, through [`error::ApiError`].

pub mod error;
mod openapi;
mod web;

use crate::app::AppState;
use crate::schedule::{CreatedSession, NewSession};
use crate::store;
use axum::extract::{DefaultBodyLimit, Path, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use error::ApiError;
use serde::Serialize;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/sites", get(list_sites))
        .route("/api/sessions", post(create_session))
        .route("/api/sessions/{id}", get(get_session))
        .route("/api/sessions/{id}/calendar.ics", get(session_ics))
        .route("/api/join/{token}", get(join_info))
        .route("/api/stats", get(stats))
        .route(
            "/api/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .route("/ws", get(ws))
        .merge(web::routes())
        .layer(DefaultBodyLimit::max(256 * 1024))
        .with_state(state)
}

/// Every site (điểm cầu) with its unit; host sites first.
#[utoipa::path(get, path = "/api/sites", tag = "org",
    responses((status = 200, body = Vec<store::org::Site>)))]
async fn list_sites(State(app): State<AppState>) -> Result<Json<Vec<store::org::Site>>, ApiError> {
    Ok(Json(store::org::list_sites(&app.pool).await?))
}

/// Creates a session with its host and invited sites; returns one signed join link per site.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions", request_body = NewSession,
    responses(
        (status = 201, body = CreatedSession),
        (status = 400, description = "malformed JSON or missing field", body = error::ErrorBody),
        (status = 413, description = "body over 256 KiB", body = error::ErrorBody),
        (status = 422, description = "invalid title or times, unknown site, site not valid on that date", body = error::ErrorBody)))]
async fn create_session(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    body: Result<Json<NewSession>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    let Json(req) = body?;
    // Accounts arrive with the secretariat issue; until then the API is reachable only where
    // http.addr listens, and the audit log names the peer address.
    let actor = format!("api:{peer}");
    let created = app.scheduler().create(&req, &actor).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionView {
    #[serde(flatten)]
    session: store::sessions::SessionRow,
    site_ids: Vec<String>,
    live_sites: usize,
}

/// A session and the ids of its invited sites (host first).
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionView), (status = 404, body = error::ErrorBody)))]
async fn get_session(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let session = store::sessions::get(&app.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("session {id} not found")))?;
    let site_ids = store::sessions::site_ids(&app.pool, &id).await?;
    Ok(Json(SessionView {
        session,
        site_ids,
        live_sites: 0,
    }))
}

/// The session as an iCalendar (RFC 5545) file, times in Asia/Ho_Chi_Minh.
#[utoipa::path(get, path = "/api/sessions/{id}/calendar.ics", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 404, body = error::ErrorBody),
        (status = 422, description = "a session without start and end has no calendar entry", body = error::ErrorBody)))]
async fn session_ics(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = store::sessions::get(&app.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("session {id} not found")))?;
    let (Some(start), Some(end)) = (session.starts_at, session.ends_at) else {
        return Err(ApiError::Unprocessable(format!(
            "session {id} has no start and end"
        )));
    };
    let host = store::org::site(&app.pool, &session.host_site_id).await?;
    let event = crate::calendar::CalEvent {
        uid: format!("{}@giaoban", session.id),
        sequence: 0,
        title: session.title,
        description: String::new(),
        location: host.map(|h| h.name).unwrap_or_default(),
        start,
        end,
        status: crate::calendar::CalStatus::Confirmed,
        rrule: None,
        exdates: Vec::new(),
        recurrence_id: None,
        organizer: None,
        url: None,
    };
    let text = crate::calendar::event_ics(&event, chrono::Utc::now())
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        "text/calendar; charset=utf-8",
    )];
    Ok((content_type, text).into_response())
}

/// What a join token opens: the session and the site (used by the room page before joining).
#[utoipa::path(get, path = "/api/join/{token}", tag = "sessions",
    params(("token" = String, Path, description = "join token, the last segment of a join link")),
    responses((status = 200, body = crate::schedule::JoinInfo),
        (status = 401, description = "invalid_token or token_expired", body = error::ErrorBody),
        (status = 403, description = "site_not_invited", body = error::ErrorBody),
        (status = 404, description = "session_not_found", body = error::ErrorBody)))]
async fn join_info(
    State(app): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let info = crate::schedule::resolve_join(&app.pool, &app.token_key, &token).await?;
    Ok(Json(info).into_response())
}

/// Live counters: peer connections, tasks, sockets, down-tracks, UDP ports, packets in / out /
/// dropped, keyframe requests, live rooms and sites.
#[utoipa::path(get, path = "/api/stats", tag = "live",
    responses((status = 200, body = crate::metrics::Snapshot)))]
async fn stats(State(app): State<AppState>) -> Json<serde_json::Value> {
    let (rooms, sites) = app.sfu.live();
    let snap = app.metrics.snapshot(app.sfu.ports_in_use());
    let mut v = serde_json::to_value(snap).expect("snapshot serializes");
    v["live_rooms"] = rooms.into();
    v["live_sites"] = sites.into();
    Json(v)
}

async fn ws(State(app): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    // Frames up to 1 MiB are read so that the 64 KiB protocol limit can be answered with an
    // error code; beyond that the socket is cut by the WebSocket layer itself.
    upgrade
        .max_message_size(1024 * 1024)
        .max_frame_size(1024 * 1024)
        .on_upgrade(move |socket| crate::signal::conn::serve(socket, app))
}
