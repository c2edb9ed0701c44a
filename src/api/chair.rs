//! Chairing routes (*chủ trì điều hành*) for a logged-in chair, operator or admin in scope of the
//! session's host site (the operator console): the live state of a session, the floor, hands,
//! mutes, the join-muted policy and the screen share. The decisions are the SFU's (`sfu::chair`, through the same
//! room entry as the host site's messages); these handlers only authorise
//! (`access::controller`), parse, and map errors. Every change answers with the new live state.

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::Principal;
use crate::sfu::chair::{ChairAction, ChairError};
use crate::sfu::room::LiveView;
use crate::signal::protocol::MediaKind;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/live", get(live))
        .route(
            "/api/sessions/{id}/floor",
            post(give_floor).delete(revoke_floor),
        )
        .route("/api/sessions/{id}/hands/{site_id}", delete(lower_hand))
        .route("/api/sessions/{id}/mute", post(set_mute))
        .route("/api/sessions/{id}/mute-all", post(mute_all))
        .route("/api/sessions/{id}/policy", put(set_policy))
        .route("/api/sessions/{id}/share", delete(stop_share))
}

/// The live state of a session: its host site, the connected sites with their mutes, the raised
/// hands, the floor and the policy (no site connected: an empty list).
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
            hands: Vec::new(),
            floor: None,
            join_muted: false,
            sharer: None,
        },
    };
    Ok(Json(view))
}

/// Runs one action as the logged-in controller on the session's live room.
async fn act(
    app: &AppState,
    principal: &Principal,
    id: &str,
    action: ChairAction,
) -> Result<Json<LiveView>, ApiError> {
    let by = access::controller(&app.pool, principal, id).await?;
    let room = app.sfu.room(id).ok_or(ChairError::NotLive)?;
    room.act(&by, action)?;
    Ok(Json(room.view()))
}

/// Whom to give the floor: a site, or (absent) the first in the queue.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveFloor {
    #[serde(default)]
    pub site_id: Option<String>,
}

/// Gives the floor (mời phát biểu): the site's microphone is unmuted, the previous holder's muted.
#[utoipa::path(post, path = "/api/sessions/{id}/floor", tag = "live", request_body = GiveFloor,
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "site_not_connected, queue_empty", body = ErrorBody),
        (status = 422, description = "unknown_site: not invited to the session", body = ErrorBody)))]
pub async fn give_floor(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<GiveFloor>, JsonRejection>,
) -> Result<Json<LiveView>, ApiError> {
    let Json(req) = body?;
    act(
        &app,
        &principal,
        &id,
        ChairAction::GiveFloor {
            site_id: req.site_id,
        },
    )
    .await
}

/// Takes the floor back (the holder's microphone is muted again).
#[utoipa::path(delete, path = "/api/sessions/{id}/floor", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "no site connected", body = ErrorBody)))]
pub async fn revoke_floor(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    act(&app, &principal, &id, ChairAction::RevokeFloor).await
}

/// Lowers a site's raised hand.
#[utoipa::path(delete, path = "/api/sessions/{id}/hands/{site_id}", tag = "live",
    params(("id" = String, Path, description = "session id"), ("site_id" = String, Path, description = "site")),
    responses((status = 200, body = LiveView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn lower_hand(
    State(app): State<AppState>,
    principal: Principal,
    Path((id, site_id)): Path<(String, String)>,
) -> Result<Json<LiveView>, ApiError> {
    act(&app, &principal, &id, ChairAction::LowerHand { site_id }).await
}

/// A mute or unmute of one site's microphone (`audio`) or camera (`video`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMute {
    pub site_id: String,
    pub kind: MediaKind,
    pub muted: bool,
}

/// Mutes or unmutes a site (held by the chair: the site cannot lift it; the unmute also lifts
/// the site's own mute). A muted track is not forwarded by the server.
#[utoipa::path(post, path = "/api/sessions/{id}/mute", tag = "live", request_body = SetMute,
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "no site connected", body = ErrorBody),
        (status = 422, description = "unknown_site", body = ErrorBody)))]
pub async fn set_mute(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<SetMute>, JsonRejection>,
) -> Result<Json<LiveView>, ApiError> {
    let Json(req) = body?;
    let action = ChairAction::SetMute {
        site_id: req.site_id,
        kind: req.kind,
        muted: req.muted,
    };
    act(&app, &principal, &id, action).await
}

/// Mutes the microphone of every invited site but the host.
#[utoipa::path(post, path = "/api/sessions/{id}/mute-all", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn mute_all(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    act(&app, &principal, &id, ChairAction::MuteAll).await
}

/// The session's chairing policy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Sites join with their microphone muted by the chair.
    pub join_muted: bool,
}

/// Sets the policy "sites join muted" for the rest of the live session.
#[utoipa::path(put, path = "/api/sessions/{id}/policy", tag = "live", request_body = Policy,
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_policy(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Policy>, JsonRejection>,
) -> Result<Json<LiveView>, ApiError> {
    let Json(req) = body?;
    act(
        &app,
        &principal,
        &id,
        ChairAction::SetJoinMuted(req.join_muted),
    )
    .await
}

/// Stops the screen share (*trình chiếu*) of whichever site shares: its page stops the capture
/// and every site is told (`share_changed`). Audited.
#[utoipa::path(delete, path = "/api/sessions/{id}/share", tag = "live",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = LiveView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not_sharing: no site shares; site_not_connected", body = ErrorBody)))]
pub async fn stop_share(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    act(
        &app,
        &principal,
        &id,
        ChairAction::StopShare { site_id: None },
    )
    .await
}
