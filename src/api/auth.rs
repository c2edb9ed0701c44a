//! Accounts over HTTP: log in / out (cookies), who am I, users (admin), room-PC device
//! credentials (admin, secretariat, for the sites in their scope) and the audit log (auditor,
//! admin). Accounts and the audit log are organisation-wide: a scoped grant does not open them.

use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::password::{dummy_hash, new_token, token_hash};
use crate::auth::principal::{CSRF_COOKIE, SESSION_COOKIE, SESSION_TOKEN_PREFIX, cookie};
use crate::auth::users::{NewUser, UserError};
use crate::auth::{Action, Grant, Principal};
use crate::store::accounts::{self, DeviceRow, UserRow};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/users", get(list_users).post(create_user))
        .route(
            "/api/sites/{site_id}/devices",
            get(list_devices).post(create_device),
        )
        .route("/api/devices/{id}/revoke", post(revoke_device))
        .route("/api/audit", get(audit_list))
        .route("/api/audit/verify", get(audit_verify))
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            UserError::Exists(_) => ApiError::Conflict(e.to_string()),
            UserError::Store(s) => ApiError::Store(s),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub identity: crate::auth::principal::Identity,
    pub grants: Vec<Grant>,
}

fn cookie_header(
    app: &AppState,
    name: &str,
    value: &str,
    http_only: bool,
    max_age: i64,
) -> HeaderValue {
    let secure = if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let text =
        format!("{name}={value}; Path=/; SameSite=Strict; Max-Age={max_age}{http_only}{secure}");
    HeaderValue::from_str(&text).expect("cookie values are URL-safe")
}

/// Logs in with a username and password; sets the HttpOnly session cookie and the CSRF cookie.
/// Repeated failures shut the account and the client address for a doubling delay, and more
/// logins at once than the server hashes in parallel are refused: both 429 with `Retry-After`.
/// Failures are audited (`login.failed`, `login.backoff`).
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = Credentials,
    responses((status = 200, body = Me), (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 429, description = "too many failed logins for this account or address, or too many logins at once; see Retry-After", body = ErrorBody)))]
pub(crate) async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(c) = body?;
    let ip = peer.ip();
    let guard = &app.login;
    let wait = guard.check(&c.username, ip, std::time::Instant::now());
    if let Err(retry_after) = wait {
        return Err(ApiError::TooManyRequests {
            message: "too many failed logins; try again later".into(),
            retry_after,
        });
    }
    let user = accounts::user_by_username(&app.pool, c.username.trim()).await?;
    let hash = user
        .as_ref()
        .map_or(dummy_hash(), |u| u.password_hash.as_str())
        .to_string();
    // argon2 is deliberately slow and big: it runs on the bounded pool, never more at once.
    let ok =
        guard
            .hasher
            .verify(c.password, hash)
            .await
            .map_err(|_| ApiError::TooManyRequests {
                message: "the server is busy with other logins; try again in a moment".into(),
                retry_after: std::time::Duration::from_secs(1),
            })?;
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        other => {
            let reason = match other {
                None => "unknown_user",
                Some(u) if u.disabled && ok => "disabled",
                Some(_) => "wrong_password",
            };
            login_failed(&app, &c.username, ip, reason).await;
            return Err(ApiError::Unauthorized("wrong username or password".into()));
        }
    };
    guard.succeeded(&c.username);
    let token = new_token(SESSION_TOKEN_PREFIX);
    let csrf = new_token("");
    let hours = i64::from(app.config.auth.login_session_hours);
    let expires = chrono::Utc::now() + chrono::Duration::hours(hours);
    accounts::insert_login(&app.pool, &token_hash(&token), &user, &csrf, expires).await?;
    let grants = accounts::grants(&app.pool, &user.id).await?;
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        cookie_header(&app, SESSION_COOKIE, &token, true, hours * 3600),
    );
    headers.append(
        header::SET_COOKIE,
        cookie_header(&app, CSRF_COOKIE, &csrf, false, hours * 3600),
    );
    Ok((headers, Json(me_of(user, grants))).into_response())
}

/// Counts a failed login against the account and the address, and audits it (and the start of a
/// delay). The typed username is recorded cut to 64 bytes.
async fn login_failed(app: &AppState, username: &str, ip: std::net::IpAddr, reason: &str) {
    use crate::audit::actions::{LOGIN_BACKOFF, LOGIN_FAILED};
    let started = app.login.failed(username, ip, std::time::Instant::now());
    let actor = format!("address:{ip}");
    let target = format!("user:{}", crate::auth::login::account_key(username));
    let detail = serde_json::json!({ "reason": reason });
    if let Err(e) = crate::audit::append(&app.pool, &actor, LOGIN_FAILED, &target, detail).await {
        tracing::error!("audit log: {e}");
    }
    if let Some(delay) = started {
        let detail = serde_json::json!({ "seconds": delay.as_secs() });
        if let Err(e) =
            crate::audit::append(&app.pool, &actor, LOGIN_BACKOFF, &target, detail).await
        {
            tracing::error!("audit log: {e}");
        }
    }
}

fn me_of(user: UserRow, grants: Vec<Grant>) -> Me {
    Me {
        identity: crate::auth::principal::Identity::User {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
        },
        grants,
    }
}

/// Ends the login session and clears the cookies.
#[utoipa::path(post, path = "/api/logout", tag = "accounts", responses((status = 204)))]
pub(crate) async fn logout(
    State(app): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        accounts::delete_login(&app.pool, &token_hash(token), &principal.actor()).await?;
    }
    let mut out = HeaderMap::new();
    out.append(
        header::SET_COOKIE,
        cookie_header(&app, SESSION_COOKIE, "", true, 0),
    );
    out.append(
        header::SET_COOKIE,
        cookie_header(&app, CSRF_COOKIE, "", false, 0),
    );
    Ok((StatusCode::NO_CONTENT, out).into_response())
}

/// Who is logged in, with their roles.
#[utoipa::path(get, path = "/api/me", tag = "accounts",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        grants: principal.grant_list().to_vec(),
        identity: principal.identity,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: UserRow,
    pub grants: Vec<Grant>,
}

/// Every account with its roles (admin).
#[utoipa::path(get, path = "/api/users", tag = "accounts",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_users(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<UserView>>, ApiError> {
    principal.authorize(Action::ManageUsers, crate::auth::Target::Org)?;
    let users = accounts::list_users(&app.pool).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|(user, grants)| UserView { user, grants })
            .collect(),
    ))
}

/// Creates an account (admin).
#[utoipa::path(post, path = "/api/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody),
        (status = 409, description = "username taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_user(
    State(app): State<AppState>,
    principal: Principal,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    principal.authorize(Action::ManageUsers, crate::auth::Target::Org)?;
    let Json(new) = body?;
    let user = crate::auth::users::create(&app.pool, &new, &principal.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            user,
            grants: new.grants,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDevice {
    pub label: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedDevice {
    #[serde(flatten)]
    pub device: DeviceRow,
    /// Shown once: the room PC sends it as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Issues a long-lived credential for a site's room PC (admin, secretariat).
#[utoipa::path(post, path = "/api/sites/{site_id}/devices", tag = "accounts", request_body = NewDevice,
    params(("site_id" = String, Path)),
    responses((status = 201, body = IssuedDevice), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create_device(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
    body: Result<Json<NewDevice>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<IssuedDevice>), ApiError> {
    principal.may(Action::ManageDevices)?;
    let site = super::access::site(&app.pool, &site_id).await?;
    principal.authorize(Action::ManageDevices, site.target())?;
    let Json(new) = body?;
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::Unprocessable("label: 1 to 100 characters".into()));
    }
    if crate::store::org::site(&app.pool, &site_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("site {site_id} not found")));
    }
    let token = new_token(crate::auth::principal::DEVICE_TOKEN_PREFIX);
    let device = DeviceRow {
        id: uuid::Uuid::new_v4().to_string(),
        site_id,
        label: label.to_string(),
        created_by: principal.actor(),
        created_at: chrono::Utc::now(),
        revoked_at: None,
    };
    accounts::insert_device(&app.pool, &device, &token_hash(&token)).await?;
    Ok((StatusCode::CREATED, Json(IssuedDevice { device, token })))
}

/// The device credentials of a site (admin, secretariat).
#[utoipa::path(get, path = "/api/sites/{site_id}/devices", tag = "accounts", params(("site_id" = String, Path)),
    responses((status = 200, body = Vec<DeviceRow>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_devices(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
) -> Result<Json<Vec<DeviceRow>>, ApiError> {
    principal.may(Action::ManageDevices)?;
    let site = super::access::site(&app.pool, &site_id).await?;
    principal.authorize(Action::ManageDevices, site.target())?;
    Ok(Json(accounts::devices_of_site(&app.pool, &site_id).await?))
}

/// Revokes a device credential: the room PC is refused from its next request (admin, secretariat).
#[utoipa::path(post, path = "/api/devices/{id}/revoke", tag = "accounts", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_device(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.may(Action::ManageDevices)?;
    let site_id = accounts::live_device_site(&app.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no live device {id}")))?;
    let site = super::access::site(&app.pool, &site_id).await?;
    principal.authorize(Action::ManageDevices, site.target())?;
    if accounts::revoke_device(&app.pool, &id, &principal.actor()).await? {
        app.sfu.evict_device(&id).await;
        app.kiosk.device_revoked(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no live device {id}")))
    }
}

/// Audit log entries, newest first, with filters (auditor, admin).
#[utoipa::path(get, path = "/api/audit", tag = "audit",
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query), ("target" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "entries"), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_list(
    State(app): State<AppState>,
    principal: Principal,
    query: Result<Query<crate::audit::AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::audit::Entry>>, ApiError> {
    principal.authorize(Action::ReadAudit, crate::auth::Target::Org)?;
    let Query(filter) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(Json(crate::audit::list(&app.pool, &filter).await?))
}

/// Checks the whole hash chain (auditor, admin).
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, description = "{ok, entries} or {ok: false, error, seq}"), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_verify(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.authorize(Action::ReadAudit, crate::auth::Target::Org)?;
    Ok(Json(match crate::audit::verify_all(&app.pool).await {
        Ok(n) => serde_json::json!({ "ok": true, "entries": n }),
        Err(crate::audit::VerifyError::Chain(e)) => {
            serde_json::json!({ "ok": false, "error": e.to_string(), "seq": e.seq() })
        }
        Err(crate::audit::VerifyError::Store(e)) => return Err(e.into()),
    }))
}
