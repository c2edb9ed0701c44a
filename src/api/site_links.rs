//! Stable per-site links over HTTP: `/s/<token>` (the page that follows the site's schedule,
//! `web/kiosk.html` in link mode), what a link shows now (`GET /api/s/{token}`, public: the token
//! is the proof), each site's link with re-issue and revoke (`/api/sites/{site_id}/link…`,
//! organisers), and the links of a session's invited sites for the board's "copy all links".

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::{Action, Principal};
use crate::kiosk::KioskError;
use crate::kiosk::link;
use crate::kiosk::state::{KioskState, site_state};
use crate::store::kiosk::{self as repo, SiteLinkRow};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/s/{token}",
            get(|_: Path<String>| async { super::web::file("kiosk.html") }),
        )
        .route("/api/s/{token}", get(resolve))
        .route("/api/sites/{site_id}/link", get(site_link))
        .route("/api/sites/{site_id}/link/reissue", post(reissue))
        .route("/api/sites/{site_id}/link/revoke", post(revoke))
        .route("/api/sessions/{id}/site-links", get(session_links))
}

/// A site's stable link as the organisers see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteLinkView {
    pub site_id: String,
    pub site_name: String,
    /// `<public URL>/s/<token>`; none while revoked.
    pub link: Option<String>,
    pub version: i64,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn view(app: &AppState, row: SiteLinkRow, site_name: String) -> SiteLinkView {
    let link = row.revoked_at.is_none().then(|| {
        let v = u32::try_from(row.version).unwrap_or(0);
        link::url(&app.token_key, &app.public_url, &row.site_id, v)
    });
    SiteLinkView {
        site_id: row.site_id,
        site_name,
        link,
        version: row.version,
        issued_at: row.issued_at,
        revoked_at: row.revoked_at,
    }
}

/// The site's name; 404 for an unknown site.
async fn site_name(app: &AppState, site_id: &str) -> Result<String, ApiError> {
    Ok(crate::store::org::site(&app.pool, site_id)
        .await?
        .ok_or_else(|| KioskError::UnknownSite(site_id.to_string()))?
        .name)
}

/// What a stable link leads to now: the site, today's sessions, the current session with its
/// join link, the next one. Public: the signed token is the proof.
#[utoipa::path(get, path = "/api/s/{token}", tag = "kiosk",
    params(("token" = String, Path, description = "the last segment of a /s/ link")),
    responses((status = 200, body = KioskState),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 410, description = "link_revoked: revoked, or replaced by a newer link", body = ErrorBody)))]
async fn resolve(
    State(app): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let claims = link::verify(&app.token_key, &token).map_err(KioskError::from)?;
    let row = repo::site_link(&app.pool, &claims.site_id).await?;
    let valid =
        row.is_some_and(|r| r.revoked_at.is_none() && r.version == i64::from(claims.version));
    if !valid {
        return Err(KioskError::LinkRevoked.into());
    }
    let state = site_state(
        &app.pool,
        &app.scheduler(),
        app.join_policy(),
        &claims.site_id,
        Utc::now(),
    )
    .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(state)).into_response())
}

async fn authorize_site(
    app: &AppState,
    principal: &Principal,
    action: Action,
    site_id: &str,
) -> Result<String, ApiError> {
    principal.may(action)?;
    let name = site_name(app, site_id).await?;
    let site = access::site(&app.pool, site_id).await?;
    principal.authorize(action, site.target())?;
    Ok(name)
}

/// The site's stable link (issued at version 1 on first use; audited as `sitelink.issue`).
#[utoipa::path(get, path = "/api/sites/{site_id}/link", tag = "kiosk", params(("site_id" = String, Path)),
    responses((status = 200, body = SiteLinkView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn site_link(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
) -> Result<Json<SiteLinkView>, ApiError> {
    let name = authorize_site(&app, &principal, Action::ReadInvitation, &site_id).await?;
    let row = repo::ensure_site_link(&app.pool, &site_id, &principal.actor()).await?;
    Ok(Json(view(&app, row, name)))
}

/// A new stable link for the site: the previous one stops working at once; a revoked link works
/// again in its new version (admin, secretariat; audited as `sitelink.issue`).
#[utoipa::path(post, path = "/api/sites/{site_id}/link/reissue", tag = "kiosk", params(("site_id" = String, Path)),
    responses((status = 200, body = SiteLinkView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reissue(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
) -> Result<Json<SiteLinkView>, ApiError> {
    let name = authorize_site(&app, &principal, Action::IssueInvitation, &site_id).await?;
    let row = repo::reissue_site_link(&app.pool, &site_id, &principal.actor()).await?;
    Ok(Json(view(&app, row, name)))
}

/// Revokes the site's stable link until the next re-issue (admin, secretariat; audited once as
/// `sitelink.revoke`). Per-session join links are not affected.
#[utoipa::path(post, path = "/api/sites/{site_id}/link/revoke", tag = "kiosk", params(("site_id" = String, Path)),
    responses((status = 200, body = SiteLinkView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
) -> Result<Json<SiteLinkView>, ApiError> {
    let name = authorize_site(&app, &principal, Action::IssueInvitation, &site_id).await?;
    let row = repo::revoke_site_link(&app.pool, &site_id, &principal.actor()).await?;
    Ok(Json(view(&app, row, name)))
}

/// The stable links of a session's invited sites that the caller may see (host first, as on the
/// board): what "copy all links" pastes into a message.
#[utoipa::path(get, path = "/api/sessions/{id}/site-links", tag = "kiosk", params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Vec<SiteLinkView>), (status = 403, body = ErrorBody),
        (status = 404, description = "session_not_found", body = ErrorBody)))]
async fn session_links(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<SiteLinkView>>, ApiError> {
    principal.may(Action::ReadInvitation)?;
    let board = app.scheduler().board(&id).await?;
    let host = access::site(&app.pool, &board.session.host_site_id).await?;
    let mut out = Vec::new();
    for inv in board.invitations {
        let site = access::site(&app.pool, &inv.site_id).await?;
        if !principal.allows(Action::ReadInvitation, host.invitation(&site)) {
            continue;
        }
        let row = repo::ensure_site_link(&app.pool, &inv.site_id, &principal.actor()).await?;
        out.push(view(&app, row, inv.site_name));
    }
    if out.is_empty() {
        return Err(ApiError::Forbidden(
            "this session is outside the scope of your roles".into(),
        ));
    }
    Ok(Json(out))
}
