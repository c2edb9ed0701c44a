//! The invitation board's HTTP routes: list a session's invitations with their links, re-issue or
//! revoke a site's link, set a site's readiness by hand, and the room page's connection-test
//! report (authenticated by the join token, no login). Who may do what (decided by
//! `auth::scope`; scoped organisers act on the sessions hosted in their scope):
//! - board: admin, secretariat, operator (every line), a site operator or room PC (their own
//!   site's line only);
//! - re-issue, revoke: admin, secretariat;
//! - status (`confirmed`, `ready`): admin, secretariat, or the site's own operator / room PC.

use super::access::{self, Sites};
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::{Action, Principal};
use crate::schedule::ScheduleError;
use crate::schedule::invitations::{Board, Invitation, Status, TestResult};
use crate::sfu::Eviction;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/invitations", get(board))
        .route(
            "/api/sessions/{id}/invitations/{site_id}/reissue",
            post(reissue),
        )
        .route(
            "/api/sessions/{id}/invitations/{site_id}/revoke",
            post(revoke),
        )
        .route(
            "/api/sessions/{id}/invitations/{site_id}/status",
            post(set_status),
        )
        .route("/api/join/{token}/test-result", post(test_result))
}

/// A site that is not (or no longer) invited is "not found" on these routes, and a revoked
/// invitation cannot change its status (409).
fn not_found_or(e: ScheduleError) -> ApiError {
    match e {
        ScheduleError::NotInvited { .. } => ApiError::NotFound(e.to_string()),
        ScheduleError::LinkRevoked { .. } => {
            ApiError::Conflict(format!("{e}; re-issue the link before changing its status"))
        }
        e => e.into(),
    }
}

/// Refuses unless `action` is allowed on `site_id`'s line in session `id` (404 for no session).
async fn authorize_line(
    app: &AppState,
    principal: &Principal,
    action: Action,
    id: &str,
    site_id: &str,
) -> Result<(), ApiError> {
    principal.may(action)?;
    let host = access::session_host(&app.pool, id).await?;
    let site = access::site(&app.pool, site_id).await?;
    principal.authorize(action, host.invitation(&site))
}

/// The invitation board of a session: every invited site (host first) with its status, the
/// times it reached each stage, its current join link and its last connection-test report.
#[utoipa::path(get, path = "/api/sessions/{id}/invitations", tag = "invitations",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Board),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody)))]
async fn board(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Board>, ApiError> {
    principal.may(Action::ReadInvitation)?;
    let mut board = app.scheduler().board(&id).await?;
    let all = board.invitations.len();
    let mut sites = Sites::default();
    let host = sites
        .get(&app.pool, &board.session.host_site_id)
        .await?
        .clone();
    let mut visible = std::collections::HashSet::new();
    for inv in &board.invitations {
        let site = sites.get(&app.pool, &inv.site_id).await?;
        if principal.allows(Action::ReadInvitation, host.invitation(site)) {
            visible.insert(inv.site_id.clone());
        }
    }
    board.retain(|i| visible.contains(&i.site_id));
    if board.invitations.is_empty() && all > 0 {
        return Err(ApiError::Forbidden(
            "this session is outside the scope of your roles".into(),
        ));
    }
    let online = app.sfu.sites_in(&id);
    board.online_site_ids = board
        .invitations
        .iter()
        .filter(|i| online.contains(&i.site_id))
        .map(|i| i.site_id.clone())
        .collect();
    Ok(Json(board))
}

/// Issues a new join link for the site (link version + 1): the previous link stops working at
/// once. A revoked invitation is restored as `invited`. Audited as `invitation.issue`.
#[utoipa::path(post, path = "/api/sessions/{id}/invitations/{site_id}/reissue", tag = "invitations",
    params(("id" = String, Path, description = "session id"), ("site_id" = String, Path, description = "site id")),
    responses((status = 200, body = Invitation),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "session_not_found, or not_found: the site is not invited", body = ErrorBody)))]
async fn reissue(
    State(app): State<AppState>,
    principal: Principal,
    Path((id, site_id)): Path<(String, String)>,
) -> Result<Json<Invitation>, ApiError> {
    authorize_line(&app, &principal, Action::IssueInvitation, &id, &site_id).await?;
    let scheduler = app.scheduler();
    let inv = scheduler.reissue(&id, &site_id, &principal.actor()).await;
    let inv = inv.map_err(not_found_or)?;
    app.sfu
        .evict(&id, Some(&site_id), Eviction::LinkReissued)
        .await;
    Ok(Json(inv))
}

/// Revokes the site's invitation: none of its links joins any more (`site_not_invited`).
/// Audited as `invitation.revoke`; revoking again changes nothing.
#[utoipa::path(post, path = "/api/sessions/{id}/invitations/{site_id}/revoke", tag = "invitations",
    params(("id" = String, Path, description = "session id"), ("site_id" = String, Path, description = "site id")),
    responses((status = 200, body = Invitation),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "session_not_found, or not_found: the site is not invited", body = ErrorBody)))]
async fn revoke(
    State(app): State<AppState>,
    principal: Principal,
    Path((id, site_id)): Path<(String, String)>,
) -> Result<Json<Invitation>, ApiError> {
    authorize_line(&app, &principal, Action::IssueInvitation, &id, &site_id).await?;
    let scheduler = app.scheduler();
    let inv = scheduler.revoke(&id, &site_id, &principal.actor()).await;
    let inv = inv.map_err(not_found_or)?;
    app.sfu
        .evict(&id, Some(&site_id), Eviction::InvitationRevoked)
        .await;
    Ok(Json(inv))
}

/// A readiness stage set by hand.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct StatusChange {
    /// `confirmed` (đã xác nhận) or `ready` (sẵn sàng).
    status: String,
}

/// Records that the site confirmed its attendance or is ready. The status only moves forward
/// (setting `confirmed` on a `tested` site records the time and keeps `tested`). Audited as
/// `invitation.status`.
#[utoipa::path(post, path = "/api/sessions/{id}/invitations/{site_id}/status", tag = "invitations",
    params(("id" = String, Path, description = "session id"), ("site_id" = String, Path, description = "site id")),
    request_body = StatusChange,
    responses((status = 200, body = Invitation),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "session_not_found, or not_found: the site is not invited", body = ErrorBody),
        (status = 409, description = "the invitation is revoked", body = ErrorBody),
        (status = 422, description = "status is not confirmed or ready", body = ErrorBody)))]
async fn set_status(
    State(app): State<AppState>,
    principal: Principal,
    Path((id, site_id)): Path<(String, String)>,
    body: Result<Json<StatusChange>, JsonRejection>,
) -> Result<Json<Invitation>, ApiError> {
    authorize_line(&app, &principal, Action::SetInvitationStatus, &id, &site_id).await?;
    let Json(change) = body?;
    let status = Status::settable(&change.status).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "status must be \"confirmed\" or \"ready\", not {:?}",
            change.status
        ))
    })?;
    let scheduler = app.scheduler();
    let inv = scheduler
        .set_status(&id, &site_id, status, &principal.actor())
        .await;
    Ok(Json(inv.map_err(not_found_or)?))
}

/// The room page reports its connection test (camera, microphone, round-trip time); stored on the
/// token's invitation and shown on the board. Authenticated by the join token.
#[utoipa::path(post, path = "/api/join/{token}/test-result", tag = "invitations",
    params(("token" = String, Path, description = "join token, the last segment of a join link")),
    request_body = TestResult,
    responses((status = 204, description = "stored"),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_token (also a re-issued link) or token_expired", body = ErrorBody),
        (status = 403, description = "site_not_invited (also a revoked invitation)", body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody),
        (status = 422, description = "network_ms out of range", body = ErrorBody)))]
async fn test_result(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Result<Json<TestResult>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(result) = body?;
    crate::schedule::invitations::record_test(&app.pool, &app.token_key, &token, &result).await?;
    Ok(StatusCode::NO_CONTENT)
}
