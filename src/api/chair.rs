//! Chairing routes (*chủ trì điều hành*) for a logged-in chair, operator or admin in scope of the
//! session's host site: the live state of a session now. The decisions are the SFU's
//! (`sfu::control`, the room); these handlers only authorise (`access::controller`) and map errors.

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::Principal;
use crate::sfu::room::LiveView;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/sessions/{id}/live", get(live))
}

/// The live state of a session: its host site and the connected sites with their mutes (no site
/// connected: an empty list).
#[utoipa::path(get, path = "/api/sessions/{id}/live", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not a chair, operator or admin of this session", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody)))]
pub async fn live(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    access::controller(&app.pool, &principal, &id).await?;
    let view = match app.sfu.room(&id) {
        Some(room) => room.view(),
        None => LiveView {
            session_id: id.clone(),
            host_site_id: access::session_host(&app.pool, &id).await?.id,
            sites: Vec::new(),
        },
    };
    Ok(Json(view))
}
