//! The file route of recordings: `GET /api/recordings/{rid}/files/{name}` with a signed query
//! (`record::signed`), no login needed: the URL is the credential, short-lived and bound to one
//! file. HTTP ranges (seeking in the browser, 206 / 416) are served by tower-http's `ServeFile`.
//! A download (`dl=1`) is sent as an attachment and audited. The composite file job
//! (`record::composite`) is asked for and followed here too.

use super::error::ApiError;
use super::recordings::RecError;
use crate::app::AppState;
use crate::auth::Principal;
use crate::record::composite::{self, Job};
use crate::record::signed;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/recordings/{rid}/files/{name}", get(file))
        .route(
            "/api/recordings/{rid}/composite",
            get(composite_status).post(composite_start),
        )
}

/// A composite job with, once done, the signed URL of its file.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    pub url: Option<String>,
}

fn view(app: &AppState, principal: &Principal, job: Job) -> JobView {
    let url = job.output.as_ref().map(|name| {
        let exp =
            chrono::Utc::now() + chrono::Duration::seconds(app.config.record.url_ttl_secs as i64);
        signed::url(
            &app.token_key.derive("recording-urls"),
            &signed::Claims {
                recording_id: job.recording_id.clone(),
                file: name.clone(),
                download: true,
                user: principal.actor(),
                exp: exp.timestamp(),
            },
        )
    });
    JobView { job, url }
}

/// Starts building the composite file (needs download access); 409 while one is being built.
#[utoipa::path(post, path = "/api/recordings/{rid}/composite", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")),
    responses((status = 202, body = JobView), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "a composite is being built, or the recording still runs", body = super::error::ErrorBody)))]
pub async fn composite_start(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
) -> Result<(StatusCode, Json<JobView>), RecError> {
    let rec = super::recordings::recording(&app, &rid).await?;
    if !super::recordings::access_to(&app, &principal, &rec)
        .await?
        .download
    {
        return Err(RecError::NoGrant);
    }
    if rec.status == "recording" {
        return Err(ApiError::Conflict("the recording is still running".into()).into());
    }
    if let Some(j) = composite::latest(&app.pool, &rid).await?
        && matches!(j.status.as_str(), "queued" | "running")
    {
        return Err(ApiError::Conflict(format!("composite job {} is being built", j.id)).into());
    }
    let job = Job {
        id: uuid::Uuid::new_v4().to_string(),
        recording_id: rid.clone(),
        status: "queued".into(),
        progress: 0.0,
        output: None,
        error: None,
        created_by: principal.actor(),
        created_at: chrono::Utc::now(),
        finished_at: None,
    };
    composite::insert(&app.pool, &job).await?;
    let manifest = crate::record::manifest::build(&app.pool, &rec).await?;
    let dir = app.config.record_dir().join(&rec.id);
    tokio::spawn(composite::run(
        app.pool.clone(),
        dir,
        job.id.clone(),
        manifest,
    ));
    Ok((StatusCode::ACCEPTED, Json(view(&app, &principal, job))))
}

/// The latest composite job of a recording (404 when none was asked for).
#[utoipa::path(get, path = "/api/recordings/{rid}/composite", tag = "recordings",
    params(("rid" = String, Path, description = "recording id")),
    responses((status = 200, body = JobView), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn composite_status(
    State(app): State<AppState>,
    principal: Principal,
    Path(rid): Path<String>,
) -> Result<Json<JobView>, RecError> {
    let rec = super::recordings::recording(&app, &rid).await?;
    if !super::recordings::access_to(&app, &principal, &rec)
        .await?
        .download
    {
        return Err(RecError::NoGrant);
    }
    let job = composite::latest(&app.pool, &rid)
        .await?
        .ok_or_else(|| ApiError::NotFound("no composite file was asked for".into()))?;
    Ok(Json(view(&app, &principal, job)))
}

/// A file name as the recorder writes them (no path, no dot files).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Serves a recording's file (ranges allowed) for a valid signed URL: 403 `bad_signature` or
/// `link_expired`, 404 when the file is gone, 416 for a range outside the file.
#[utoipa::path(get, path = "/api/recordings/{rid}/files/{name}", tag = "recordings",
    params(("rid" = String, Path, description = "recording id"),
        ("name" = String, Path, description = "file name from the manifest"), signed::Query),
    responses((status = 200, description = "the whole file", content_type = "video/webm"),
        (status = 206, description = "the requested range"),
        (status = 403, description = "bad_signature or link_expired", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 416, description = "range not satisfiable")))]
pub async fn file(
    State(app): State<AppState>,
    Path((rid, name)): Path<(String, String)>,
    Query(q): Query<signed::Query>,
    req: Request,
) -> Result<Response, RecError> {
    let key = app.token_key.derive("recording-urls");
    let claims = signed::verify(&key, &rid, &name, &q, chrono::Utc::now().timestamp())?;
    let gone = || RecError::NoRecording(format!("{rid}/{name}"));
    if !plain_name(&name) || uuid::Uuid::parse_str(&rid).is_err() {
        return Err(gone());
    }
    let rec = crate::record::store::get(&app.pool, &rid)
        .await?
        .filter(|r| r.status != "deleted")
        .ok_or_else(gone)?;
    let path = app.config.record_dir().join(&rec.id).join(&name);
    if !path.is_file() {
        return Err(gone());
    }
    let is_first_request = req
        .headers()
        .get(header::RANGE)
        .is_none_or(|r| r.as_bytes().starts_with(b"bytes=0-"));
    if claims.download && is_first_request {
        crate::audit::append(
            &app.pool,
            &claims.user,
            crate::audit::actions::RECORDING_DOWNLOAD,
            &format!("recording:{rid}"),
            serde_json::json!({ "file": name }),
        )
        .await?;
    }
    let mut res = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| super::error::ApiError::NotFound(e.to_string()))?
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if claims.download
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_file_names_are_served() {
        assert!(super::plain_name("site-a-1.webm"));
        for bad in ["", "../x", ".hidden", "a/b.webm", "a\\b", "x y"] {
            assert!(!super::plain_name(bad), "{bad}");
        }
    }
}
