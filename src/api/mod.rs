//! The HTTP surface: JSON API under `/api`, the WebSocket at `/ws`, the room page at
//! `/room/<token>` and static files under `/static`. Handlers are thin: they call the services
//! and map their errors once, through [`error::ApiError`].

mod access;
mod agenda;
mod attendance;
mod auth;
mod chair;
pub mod error;
mod health;
mod invitations;
mod kiosk;
mod openapi;
mod org;
pub mod origin;
mod recording_files;
mod recordings;
mod sessions;
mod site_links;
mod web;

use crate::app::AppState;
use crate::store;
use axum::extract::{DefaultBodyLimit, Path, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/sites", get(list_sites))
        .route("/api/join/{token}", get(join_info))
        .route("/api/stats", get(stats))
        .route(
            "/api/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .route("/ws", get(ws))
        .merge(auth::routes())
        .merge(org::routes())
        .merge(invitations::routes())
        .merge(sessions::routes())
        .merge(attendance::routes())
        .merge(recordings::routes())
        .merge(web::routes())
        .merge(health::routes())
        .merge(chair::routes())
        .merge(agenda::routes())
        .merge(kiosk::routes())
        .merge(site_links::routes())
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Every site (điểm cầu) with its unit; host sites first.
#[utoipa::path(get, path = "/api/sites", tag = "org",
    responses((status = 200, body = Vec<store::org::Site>)))]
async fn list_sites(
    State(app): State<AppState>,
    principal: crate::auth::Principal,
) -> Result<Json<Vec<store::org::Site>>, ApiError> {
    use crate::auth::{Action, Target};
    principal.authorize(Action::ReadDirectory, Target::Directory)?;
    Ok(Json(store::org::list_sites(&app.pool).await?))
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
    let info = info.in_window(app.join_policy(), chrono::Utc::now())?;
    Ok(Json(info).into_response())
}

/// Live counters: peer connections, tasks, sockets, down-tracks, UDP ports, packets in / out /
/// dropped, keyframe requests, live rooms and sites, and the live events queued per persistent
/// consumer (`live_event_backlog`).
#[utoipa::path(get, path = "/api/stats", tag = "live",
    responses((status = 200, body = crate::metrics::Snapshot)))]
async fn stats(
    State(app): State<AppState>,
    principal: crate::auth::Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    use crate::auth::{Action, Target};
    principal.authorize(Action::ReadStats, Target::Org)?;
    let (rooms, sites) = app.sfu.live();
    let snap = app.metrics.snapshot(app.sfu.ports_in_use());
    let mut v = serde_json::to_value(snap).expect("snapshot serializes");
    v["live_rooms"] = rooms.into();
    v["live_sites"] = sites.into();
    // Events queued for each persistent consumer of the live events (attendance, audit, ...).
    let backlogs: serde_json::Map<String, serde_json::Value> = app
        .sfu
        .events()
        .backlogs()
        .into_iter()
        .map(|(name, n)| (name.to_string(), n.into()))
        .collect();
    v["live_event_backlog"] = backlogs.into();
    Ok(Json(v))
}

/// Every response: no MIME sniffing, and no `Referer` (join links carry their token in the path).
async fn security_headers(mut res: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn ws(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from = headers
        .get(axum::http::header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    if !origin::allowed(from, &app.public_url, &app.config.http.allowed_origins) {
        return ApiError::Forbidden(format!(
            "origin {} may not open the signaling socket (see http.allowed_origins)",
            from.unwrap_or_default()
        ))
        .into_response();
    }
    let device = crate::signal::conn::device_credential(&headers);
    // Frames up to 1 MiB are read so that the 64 KiB protocol limit can be answered with an
    // error code; beyond that the socket is cut by the WebSocket layer itself.
    upgrade
        .max_message_size(1024 * 1024)
        .max_frame_size(1024 * 1024)
        .on_upgrade(move |socket| crate::signal::conn::serve(socket, app, device))
}
