//! Recording routes: start and stop a session's recording (chair, operator, admin, in scope),
//! list a session's recordings with their files and signed URLs, the review list and detail
//! (organisers, or reviewers with a grant; each view is audited), reviewers' grants (secretariat)
//! and the file route (`recording_files`), which takes a short-lived signed URL and serves HTTP
//! ranges. Errors map once, in [`RecError`], to a status and a stable code.

use super::access;
use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::{Action, Principal};
use crate::record::grants::{self, Access, GrantRow};
use crate::record::manifest::Manifest;
use crate::record::store::{self as rstore, RecordingRow};
use crate::record::{RecordError, Started, signed};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/recording/start", post(start))
        .route("/api/sessions/{id}/recording/stop", post(stop))
        .route("/api/sessions/{id}/recordings", get(of_session))
        .route("/api/recordings", get(review_list))
        .route("/api/recordings/{rid}", get(detail))
        .route(
            "/api/recordings/{rid}/grants",
            get(list_grants).post(add_grant),
        )
        .route("/api/recordings/{rid}/grants/{gid}", delete(revoke_grant))
        .route("/api/recordings/{rid}/hold", put(set_hold))
        .merge(super::recording_files::routes())
}

/// The errors of the recording routes.
#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("recording {0} does not exist")]
    NoRecording(String),
    #[error("you have no grant to view this recording")]
    NoGrant,
    #[error(transparent)]
    Url(#[from] signed::UrlError),
}

impl From<crate::store::StoreError> for RecError {
    fn from(e: crate::store::StoreError) -> Self {
        RecError::Api(e.into())
    }
}

impl From<JsonRejection> for RecError {
    fn from(e: JsonRejection) -> Self {
        RecError::Api(e.into())
    }
}

impl IntoResponse for RecError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            RecError::Api(_) => {
                let RecError::Api(e) = self else {
                    unreachable!()
                };
                return e.into_response();
            }
            RecError::Record(e) => match e {
                RecordError::NoSession(_) => (StatusCode::NOT_FOUND, "session_not_found"),
                RecordError::Classified(_) => (StatusCode::CONFLICT, "classified"),
                RecordError::Cancelled(_) => (StatusCode::GONE, "session_cancelled"),
                RecordError::AlreadyRecording { .. } => (StatusCode::CONFLICT, "already_recording"),
                RecordError::NotRecording(_) => (StatusCode::CONFLICT, "not_recording"),
                RecordError::Folder { .. } | RecordError::Store(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                }
            },
            RecError::NoRecording(_) => (StatusCode::NOT_FOUND, "recording_not_found"),
            RecError::NoGrant => (StatusCode::FORBIDDEN, "no_grant"),
            RecError::Url(signed::UrlError::Forged) => (StatusCode::FORBIDDEN, "bad_signature"),
            RecError::Url(signed::UrlError::Expired) => (StatusCode::FORBIDDEN, "link_expired"),
        };
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let body = Json(serde_json::json!({ "code": code, "message": self.to_string() }));
        (status, body).into_response()
    }
}

type Result<T> = std::result::Result<T, RecError>;

/// Refuses unless `action` is allowed on session `id` (404 when there is no such session).
async fn authorize_session(app: &AppState, p: &Principal, action: Action, id: &str) -> Result<()> {
    p.may(action)?;
    let host = access::session_host(&app.pool, id).await?;
    p.authorize(action, host.session())?;
    Ok(())
}

/// Starts recording the session: 409 `classified`, 409 `already_recording`.
#[utoipa::path(post, path = "/api/sessions/{id}/recording/start", tag = "recordings",
    params(("id" = String, Path, description = "session id")),
    responses((status = 201, body = Started),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "classified or already_recording", body = ErrorBody),
        (status = 410, description = "session_cancelled", body = ErrorBody)))]
pub async fn start(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Started>)> {
    authorize_session(&app, &principal, Action::Record, &id).await?;
    let started = app.recorder.start(&id, &principal.actor()).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

/// Stops the session's recording: 409 `not_recording`.
#[utoipa::path(post, path = "/api/sessions/{id}/recording/stop", tag = "recordings",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Started),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not_recording", body = ErrorBody)))]
pub async fn stop(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Started>> {
    authorize_session(&app, &principal, Action::Record, &id).await?;
    Ok(Json(app.recorder.stop(&id, &principal.actor()).await?))
}

/// One file of a recording with its signed URLs (those the caller may use).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileLinks {
    #[serde(flatten)]
    pub file: crate::record::manifest::ManifestFile,
    /// Signed URL to play (range requests); absent without view access.
    pub url: Option<String>,
    /// Signed URL to download; absent without download access.
    pub download_url: Option<String>,
}

/// A recording with its manifest, the caller's access and its files' URLs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordingDetail {
    pub recording: RecordingRow,
    pub manifest: Manifest,
    pub access: Access,
    pub files: Vec<FileLinks>,
    /// When the URLs expire.
    pub urls_expire_at: DateTime<Utc>,
}

fn url_key(app: &AppState) -> Vec<u8> {
    app.token_key.derive("recording-urls")
}

async fn detail_of(
    app: &AppState,
    principal: &Principal,
    rec: RecordingRow,
    access: Access,
) -> Result<RecordingDetail> {
    let manifest = crate::record::manifest::build(&app.pool, &rec).await?;
    let exp = Utc::now() + chrono::Duration::seconds(app.config.record.url_ttl_secs as i64);
    let key = url_key(app);
    let link = |file: &str, download: bool| {
        signed::url(
            &key,
            &signed::Claims {
                recording_id: rec.id.clone(),
                file: file.to_string(),
                download,
                user: principal.actor(),
                exp: exp.timestamp(),
            },
        )
    };
    let files = manifest
        .files
        .iter()
        .map(|f| FileLinks {
            file: f.clone(),
            url: access.view.then(|| link(&f.file, false)),
            download_url: access.download.then(|| link(&f.file, true)),
        })
        .collect();
    Ok(RecordingDetail {
        recording: rec,
        manifest,
        access,
        files,
        urls_expire_at: exp,
    })
}

/// The caller's access to a recording: organisers of its session, or a reviewer's live grants.
pub(super) async fn access_to(app: &AppState, p: &Principal, rec: &RecordingRow) -> Result<Access> {
    let organiser = match access::session_host(&app.pool, &rec.session_id).await {
        Ok(host) => p.allows(Action::ReadRecordings, host.session()),
        Err(_) => false,
    };
    let mine = match p.user_id() {
        Some(uid) => grants::of_user(&app.pool, &uid, &rec.id, &rec.session_id).await?,
        None => Vec::new(),
    };
    Ok(grants::access(organiser, &mine, Utc::now()))
}

pub(super) async fn recording(app: &AppState, rid: &str) -> Result<RecordingRow> {
    rstore::get(&app.pool, rid)
        .await?
        .filter(|r| r.status != "deleted")
        .ok_or_else(|| RecError::NoRecording(rid.to_string()))
}

/// The session's recordings, each with its files and their signed URLs (organisers).
#[utoipa::path(get, path = "/api/sessions/{id}/recordings", tag = "recordings",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Vec<RecordingDetail>),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn of_session(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecordingDetail>>> {
    authorize_session(&app, &principal, Action::ReadRecordings, &id).await?;
    let full = Access {
        view: true,
        download: true,
    };
    let mut out = Vec::new();
    for rec in rstore::of_session(&app.pool, &id).await? {
        out.push(detail_of(&app, &principal, rec, full).await?);
    }
    Ok(Json(out))
}

/// A line of the review list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewItem {
    pub recording: RecordingRow,
    pub title: String,
    pub session_starts_at: Option<DateTime<Utc>>,
    pub access: Access,
}

/// The recordings the caller may view (organisers in scope, reviewers with a live grant),
/// newest first.
#[utoipa::path(get, path = "/api/recordings", tag = "recordings",
    responses((status = 200, body = Vec<ReviewItem>), (status = 401, body = ErrorBody)))]
pub async fn review_list(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<ReviewItem>>> {
    let mine = match principal.user_id() {
        Some(uid) => grants::all_of_user(&app.pool, &uid).await?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    let mut sites = access::Sites::default();
    for rec in rstore::all(&app.pool).await? {
        let Some(session) = crate::store::sessions::get(&app.pool, &rec.session_id).await? else {
            continue;
        };
        let host = sites.get(&app.pool, &session.host_site_id).await?;
        let organiser = principal.allows(Action::ReadRecordings, host.session());
        let relevant: Vec<GrantRow> = mine
            .iter()
            .filter(|g| {
                g.recording_id.as_deref() == Some(&rec.id)
                    || g.session_id.as_deref() == Some(&rec.session_id)
            })
            .cloned()
            .collect();
        let access = grants::access(organiser, &relevant, Utc::now());
        if access.view {
            out.push(ReviewItem {
                recording: rec,
                title: session.title,
                session_starts_at: session.starts_at,
                access,
            });
        }
    }
    Ok(Json(out))
}

/// A recording for the review page: manifest, chapters (the timeline) and signed file URLs.
/// 403 `no_grant` without access; every view is audited.
#[utoipa::path(get, path = "/api/recordings/{rid}", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")),
    responses((status = 200, body = RecordingDetail),
        (status = 403, description = "no_grant", body = ErrorBody),
        (status = 404, description = "recording_not_found", body = ErrorBody)))]
pub async fn detail(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
) -> Result<Json<RecordingDetail>> {
    let rec = recording(&app, &rid).await?;
    let access = access_to(&app, &principal, &rec).await?;
    if !access.view {
        return Err(RecError::NoGrant);
    }
    crate::audit::append(
        &app.pool,
        &principal.actor(),
        crate::audit::actions::RECORDING_VIEW,
        &format!("recording:{rid}"),
        serde_json::json!({ "session_id": rec.session_id }),
    )
    .await?;
    Ok(Json(detail_of(&app, &principal, rec, access).await?))
}

/// A grant to add: to `username`, for this recording or (`whole_session`) every recording of its
/// session.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    pub username: String,
    #[serde(default = "yes")]
    pub view: bool,
    #[serde(default)]
    pub download: bool,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub whole_session: bool,
}

fn yes() -> bool {
    true
}

/// The grants on a recording (secretariat, admin).
#[utoipa::path(get, path = "/api/recordings/{rid}/grants", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")),
    responses((status = 200, body = Vec<GrantRow>), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list_grants(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
) -> Result<Json<Vec<GrantRow>>> {
    let rec = recording(&app, &rid).await?;
    authorize_session(&app, &principal, Action::ManageRecordings, &rec.session_id).await?;
    Ok(Json(
        grants::on_recording(&app.pool, &rid, &rec.session_id).await?,
    ))
}

/// Grants a user view and/or download until `expires_at` (audited). 422 for an unknown user,
/// an expiry in the past, or neither view nor download.
#[utoipa::path(post, path = "/api/recordings/{rid}/grants", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")), request_body = GrantInput,
    responses((status = 201, body = GrantRow), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_grant(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
    body: std::result::Result<Json<GrantInput>, JsonRejection>,
) -> Result<(StatusCode, Json<GrantRow>)> {
    let rec = recording(&app, &rid).await?;
    authorize_session(&app, &principal, Action::ManageRecordings, &rec.session_id).await?;
    let Json(input) = body?;
    let now = Utc::now();
    if input.expires_at <= now {
        return Err(ApiError::Unprocessable("expires_at: must be in the future".into()).into());
    }
    if !input.view && !input.download {
        return Err(ApiError::Unprocessable("grant view, download or both".into()).into());
    }
    let user = crate::store::accounts::user_by_username(&app.pool, &input.username)
        .await?
        .ok_or_else(|| {
            ApiError::Unprocessable(format!("username: no user {:?}", input.username))
        })?;
    let g = GrantRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id,
        recording_id: (!input.whole_session).then(|| rid.clone()),
        session_id: input.whole_session.then(|| rec.session_id.clone()),
        can_view: input.view,
        can_download: input.download,
        expires_at: input.expires_at,
        granted_by: principal.actor(),
        created_at: now,
        revoked_at: None,
    };
    grants::insert(&app.pool, &g).await?;
    crate::audit::append(
        &app.pool,
        &principal.actor(),
        crate::audit::actions::PERMISSION_GRANT,
        &format!("recording:{rid}"),
        serde_json::json!({ "grant_id": g.id, "user": input.username, "view": g.can_view,
            "download": g.can_download, "expires_at": g.expires_at,
            "whole_session": input.whole_session }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(g)))
}

/// Revokes a grant (audited).
#[utoipa::path(delete, path = "/api/recordings/{rid}/grants/{gid}", tag = "recordings",
    params(("rid" = String, Path, description = "recording id"),
        ("gid" = String, Path, description = "grant id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_grant(
    State(app): State<AppState>,
    principal: Principal,
    Path((rid, gid)): Path<(String, String)>,
) -> Result<StatusCode> {
    let rec = recording(&app, &rid).await?;
    authorize_session(&app, &principal, Action::ManageRecordings, &rec.session_id).await?;
    if !grants::revoke(&app.pool, &gid, &rid, &rec.session_id, Utc::now()).await? {
        return Err(ApiError::NotFound(format!("no live grant {gid} on this recording")).into());
    }
    crate::audit::append(
        &app.pool,
        &principal.actor(),
        crate::audit::actions::PERMISSION_REVOKE,
        &format!("recording:{rid}"),
        serde_json::json!({ "grant_id": gid }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A legal hold to set (`true`) or lift.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    pub hold: bool,
}

/// Sets or lifts the legal hold of a recording (secretariat, admin; audited): a held recording is
/// never deleted by retention.
#[utoipa::path(put, path = "/api/recordings/{rid}/hold", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")), request_body = HoldInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_hold(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
    body: std::result::Result<Json<HoldInput>, JsonRejection>,
) -> Result<StatusCode> {
    let rec = recording(&app, &rid).await?;
    authorize_session(&app, &principal, Action::ManageRecordings, &rec.session_id).await?;
    let Json(input) = body?;
    if !crate::record::retention::set_hold(&app.pool, &rid, input.hold).await? {
        return Err(RecError::NoRecording(rid));
    }
    crate::audit::append(
        &app.pool,
        &principal.actor(),
        crate::audit::actions::RECORDING_HOLD,
        &format!("recording:{rid}"),
        serde_json::json!({ "hold": input.hold }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
