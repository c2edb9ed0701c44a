//! The live agenda routes (*nội dung đang thảo luận*) for the operator console: read the session's
//! agenda with the item it is on, mark an item current, or clear it. A chair, operator or admin in
//! scope of the session's host site (`access::controller`, as for the floor); the decision and its
//! effects are the SFU's (`sfu::agenda`, the same entry as the host site's `set_agenda_item`).
//! Errors map once, in [`AgendaApiError`], to a status and the protocol's code.

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::Principal;
use crate::schedule::model::AgendaItem;
use crate::sfu::agenda::{AgendaError, agenda_of};
use crate::signal::protocol::AgendaNow;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/sessions/{id}/agenda/current",
        get(current).put(set_current).delete(clear_current),
    )
}

/// The errors of the agenda routes.
#[derive(Debug, thiserror::Error)]
pub enum AgendaApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Agenda(#[from] AgendaError),
}

impl From<JsonRejection> for AgendaApiError {
    fn from(e: JsonRejection) -> Self {
        AgendaApiError::Api(e.into())
    }
}

impl IntoResponse for AgendaApiError {
    fn into_response(self) -> Response {
        let e = match self {
            AgendaApiError::Api(e) => return e.into_response(),
            AgendaApiError::Agenda(e) => e,
        };
        let status = match &e {
            AgendaError::NotController(_) => StatusCode::FORBIDDEN,
            AgendaError::NoAgenda(_) | AgendaError::NotLive => StatusCode::CONFLICT,
            AgendaError::OutOfRange { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AgendaError::NoSession(_) => StatusCode::NOT_FOUND,
            AgendaError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!("{e}");
        }
        let code = serde_json::to_value(e.code()).unwrap_or_default();
        let body = Json(serde_json::json!({ "code": code, "message": e.to_string() }));
        (status, body).into_response()
    }
}

/// The session's agenda and the item it is on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgendaState {
    pub agenda: Vec<AgendaItem>,
    /// The current item (`null`: none).
    pub current: Option<AgendaNow>,
}

/// Which item to mark current (from 0).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAgendaItem {
    pub index: u32,
}

type Result<T> = std::result::Result<T, AgendaApiError>;

async fn state(app: &AppState, id: &str) -> Result<Json<AgendaState>> {
    Ok(Json(AgendaState {
        agenda: agenda_of(&app.pool, id).await?,
        current: app.agendas.current(id),
    }))
}

async fn mark(
    app: &AppState,
    principal: &Principal,
    id: &str,
    index: Option<u32>,
) -> Result<Json<AgendaState>> {
    let by = access::controller(&app.pool, principal, id).await?;
    let agenda = agenda_of(&app.pool, id).await?;
    let current = app.agendas.mark(&app.sfu, id, &agenda, index, &by)?;
    Ok(Json(AgendaState { agenda, current }))
}

/// The session's agenda and the item it is on (controllers of the session).
#[utoipa::path(get, path = "/api/sessions/{id}/agenda/current", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = AgendaState),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not a chair, operator or admin of this session", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody)))]
pub async fn current(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgendaState>> {
    access::controller(&app.pool, &principal, &id).await?;
    state(&app, &id).await
}

/// Marks an agenda item as the one the session is on: every site shows it, the recording's
/// timeline gets a chapter, the audit log the controller.
#[utoipa::path(put, path = "/api/sessions/{id}/agenda/current", tag = "live", request_body = SetAgendaItem,
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = AgendaState),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not_controller", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody),
        (status = 409, description = "no_agenda, site_not_connected", body = ErrorBody),
        (status = 422, description = "agenda_item_out_of_range", body = ErrorBody)))]
pub async fn set_current(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: std::result::Result<Json<SetAgendaItem>, JsonRejection>,
) -> Result<Json<AgendaState>> {
    let Json(req) = body?;
    mark(&app, &principal, &id, Some(req.index)).await
}

/// Clears the current agenda item.
#[utoipa::path(delete, path = "/api/sessions/{id}/agenda/current", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = AgendaState),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not_controller", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody),
        (status = 409, description = "no_agenda, site_not_connected", body = ErrorBody)))]
pub async fn clear_current(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgendaState>> {
    mark(&app, &principal, &id, None).await
}
