//! Kiosks over HTTP: the `/kiosk` page; pairing (the secretariat creates a device credential with
//! a pairing code, `POST /api/sites/{site_id}/pairings`; the room PC redeems the code once,
//! `POST /api/kiosk/pair`, and gets the credential as an HttpOnly cookie, never in a URL or in
//! script); what a paired device should do now (`GET /api/device/current`, with the current join
//! link) and the same as a stream that changes when the plan does and ends at once when the
//! credential is revoked (`GET /api/device/events`). Errors map once through [`ApiError`].

use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::password::{new_token, token_hash};
use crate::auth::principal::{DEVICE_TOKEN_PREFIX, cookie};
use crate::auth::{Action, Principal};
use crate::kiosk::state::{KioskState, site_state};
use crate::kiosk::{KioskError, pairing};
use crate::signal::conn::DEVICE_COOKIE;
use crate::store::accounts::{self, DeviceRow};
use crate::store::kiosk::{self as repo, Refusal};
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(|| async { super::web::file("kiosk.html") }))
        .route("/api/sites/{site_id}/pairings", post(create_pairing))
        .route("/api/kiosk/pair", post(pair))
        .route("/api/device/current", get(current))
        .route("/api/device/events", get(events))
}

impl From<KioskError> for ApiError {
    fn from(e: KioskError) -> Self {
        match e {
            KioskError::Schedule(s) => ApiError::Schedule(s),
            KioskError::Store(s) => ApiError::Store(s),
            other => ApiError::Kiosk(other),
        }
    }
}

/// A device credential lives this long in the kiosk's cookie (it survives reboots; revoking the
/// credential is what ends it).
const DEVICE_COOKIE_SECS: i64 = 10 * 365 * 24 * 3600;

fn device_cookie(app: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{DEVICE_COOKIE}={value}; Path=/; SameSite=Strict; Max-Age={max_age}; HttpOnly{secure}"
    );
    HeaderValue::from_str(&text).expect("cookie values are URL-safe")
}

/// The paired device asking: its credential from `Authorization: Bearer gbd_…` or the kiosk's
/// cookie. No credential: `not_paired`; unknown or revoked: `device_revoked`.
pub struct Device {
    pub id: String,
    pub site_id: String,
}

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Device::from_headers(app, &parts.headers).await
    }
}

impl Device {
    async fn from_headers(app: &AppState, headers: &HeaderMap) -> Result<Device, ApiError> {
        let credential = crate::signal::conn::device_credential(headers).or_else(|| {
            // A cookie value without the prefix is a wrong credential, not a missing one.
            cookie(headers, DEVICE_COOKIE)
                .filter(|c| !c.is_empty() && !c.starts_with(DEVICE_TOKEN_PREFIX))
                .map(str::to_owned)
        });
        let credential = credential.ok_or(KioskError::NotPaired)?;
        match repo::device_by_token_any(&app.pool, &token_hash(&credential)).await? {
            Some(d) if d.revoked_at.is_none() => Ok(Device {
                id: d.id,
                site_id: d.site_id,
            }),
            _ => Err(KioskError::DeviceRevoked.into()),
        }
    }
}

/// A refused device loses its cookie with the answer: the kiosk is unpaired.
fn unpair_on_refusal(app: &AppState, r: Result<Response, ApiError>) -> Response {
    match r {
        Ok(r) => r,
        Err(ApiError::Kiosk(KioskError::DeviceRevoked)) => {
            let mut res = ApiError::Kiosk(KioskError::DeviceRevoked).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, device_cookie(app, "", 0));
            res
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewPairing {
    /// What the room PC is, e.g. "Máy tính phòng họp tầng 3".
    pub label: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedPairing {
    pub device: DeviceRow,
    /// The code to type on the room PC's `/kiosk` page, as `ABCD-EFGH`.
    pub code: String,
    /// The link to open on the room PC instead (the code in the fragment, never sent to a server log).
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// Creates a device credential for a site's room PC together with a one-time pairing code
/// (valid `kiosk.pairing_minutes`); the PC redeems it on `/kiosk` (admin, secretariat).
#[utoipa::path(post, path = "/api/sites/{site_id}/pairings", tag = "kiosk", request_body = NewPairing,
    params(("site_id" = String, Path)),
    responses((status = 201, body = IssuedPairing), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_pairing(
    State(app): State<AppState>,
    principal: Principal,
    Path(site_id): Path<String>,
    body: Result<Json<NewPairing>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<IssuedPairing>), ApiError> {
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
    let device = DeviceRow {
        id: uuid::Uuid::new_v4().to_string(),
        site_id,
        label: label.to_string(),
        created_by: principal.actor(),
        created_at: Utc::now(),
        revoked_at: None,
    };
    // Until the code is redeemed the credential is a random secret nobody holds.
    accounts::insert_device(
        &app.pool,
        &device,
        &token_hash(&new_token(DEVICE_TOKEN_PREFIX)),
    )
    .await?;
    let code = pairing::new_code();
    let minutes = i64::from(app.config.kiosk.pairing_minutes);
    let expires_at = Utc::now() + chrono::Duration::minutes(minutes);
    repo::insert_pairing(
        &app.pool,
        &pairing::hash(&code),
        &device.id,
        &principal.actor(),
        expires_at,
    )
    .await?;
    let shown = pairing::display(&code);
    Ok((
        StatusCode::CREATED,
        Json(IssuedPairing {
            link: format!("{}/kiosk#pair={shown}", app.public_url),
            code: shown,
            device,
            expires_at,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PairRequest {
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Paired {
    pub device_id: String,
    pub site_id: String,
    pub label: String,
}

/// Redeems a pairing code (public; the code is the proof): the answer sets the device credential
/// as an HttpOnly cookie for this browser. Each code works once, before it expires. Wrong codes
/// count against the client address like wrong passwords (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/kiosk/pair", tag = "kiosk", request_body = PairRequest,
    responses((status = 200, body = Paired, description = "paired; Set-Cookie giaoban_device"),
        (status = 404, description = "pairing_invalid", body = ErrorBody),
        (status = 410, description = "pairing_used or pairing_expired", body = ErrorBody),
        (status = 401, description = "device_revoked: the credential was revoked before pairing", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn pair(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    body: Result<Json<PairRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body?;
    let ip = peer.ip();
    // Wrong codes are throttled per address with the login backoff (an account key of its own).
    let key = format!("kiosk-pairing {ip}");
    if let Err(retry_after) = app.login.check(&key, ip, std::time::Instant::now()) {
        return Err(ApiError::TooManyRequests {
            message: "too many wrong pairing codes; try again later".into(),
            retry_after,
        });
    }
    let refused = |why: KioskError| {
        app.login.failed(&key, ip, std::time::Instant::now());
        ApiError::from(why)
    };
    let Some(code) = pairing::normalise(&req.code) else {
        return Err(refused(KioskError::PairingInvalid));
    };
    let token = new_token(DEVICE_TOKEN_PREFIX);
    let from = format!("address:{ip}");
    let device = match repo::redeem_pairing(
        &app.pool,
        &pairing::hash(&code),
        &token_hash(&token),
        Utc::now(),
        &from,
    )
    .await?
    {
        Ok(d) => d,
        Err(Refusal::Unknown) => return Err(refused(KioskError::PairingInvalid)),
        Err(Refusal::Used) => return Err(refused(KioskError::PairingUsed)),
        Err(Refusal::Expired) => return Err(refused(KioskError::PairingExpired)),
        Err(Refusal::DeviceRevoked) => return Err(refused(KioskError::DeviceRevoked)),
    };
    app.login.succeeded(&key);
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        device_cookie(&app, &token, DEVICE_COOKIE_SECS),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = Paired {
        device_id: device.id,
        site_id: device.site_id,
        label: device.label,
    };
    Ok((headers, Json(body)).into_response())
}

async fn state_of(app: &AppState, site_id: &str) -> Result<KioskState, ApiError> {
    Ok(site_state(
        &app.pool,
        &app.scheduler(),
        app.join_policy(),
        site_id,
        Utc::now(),
    )
    .await?)
}

/// What the paired device should do now: its site, today's sessions, the current session with
/// the site's join link (`current.join_path`), the next one, and the server's clock. A refused
/// credential (`device_revoked`) also clears the kiosk's cookie.
#[utoipa::path(get, path = "/api/device/current", tag = "kiosk",
    responses((status = 200, body = KioskState),
        (status = 401, description = "not_paired or device_revoked", body = ErrorBody)))]
async fn current(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let r = async {
        let device = Device::from_headers(&app, &headers).await?;
        let state = state_of(&app, &device.site_id).await?;
        Ok(([(header::CACHE_CONTROL, "no-store")], Json(state)).into_response())
    }
    .await;
    unpair_on_refusal(&app, r)
}

/// Longest quiet time of the stream: the plan is recomputed (and the credential re-read) at
/// least this often, so changes made elsewhere (a schedule edit, the CLI) arrive within it.
const RECHECK: Duration = Duration::from_secs(20);

/// Server-sent events for a paired kiosk: `state` (a [`KioskState`]) at once and whenever it
/// changes (the server wakes at the plan's next change), and `revoked` — then the end — when the
/// credential is revoked.
#[utoipa::path(get, path = "/api/device/events", tag = "kiosk",
    responses((status = 200, description = "text/event-stream of `state` and `revoked` events"),
        (status = 401, description = "not_paired or device_revoked", body = ErrorBody)))]
async fn events(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let device = match Device::from_headers(&app, &headers).await {
        Ok(d) => d,
        Err(e) => return unpair_on_refusal(&app, Err(e)),
    };
    let revocations = app.kiosk.revocations();
    let stopping = app.kiosk.stopping();
    let init = Some((app, device, revocations, None::<KioskState>, stopping));
    let events = futures_util::stream::unfold(init, |st| async move {
        let (app, device, mut revoked, last, mut stopping) = st?;
        let mut wake = tokio::time::Instant::now();
        loop {
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stopping.changed() => return None,
                got = revoked.recv() => match got {
                    Ok(id) if *id == *device.id => {
                        let e = Event::default().event("revoked").data("device_revoked");
                        return Some((Ok::<_, std::convert::Infallible>(e), None));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                },
            }
            match repo::device_revoked(&app.pool, &device.id).await {
                Ok(true) => {
                    let e = Event::default().event("revoked").data("device_revoked");
                    return Some((Ok(e), None));
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("kiosk stream: {e}"),
            }
            let state = match state_of(&app, &device.site_id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("kiosk stream: {e}");
                    wake = tokio::time::Instant::now() + RECHECK;
                    continue;
                }
            };
            wake = next_wake(&state);
            let same = last
                .as_ref()
                .is_some_and(|l| l.without_clock() == state.without_clock());
            if !same {
                let e = Event::default().event("state").json_data(&state).ok()?;
                return Some((Ok(e), Some((app, device, revoked, Some(state), stopping))));
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// When to recompute: just after the plan's next change, and never later than [`RECHECK`].
pub(crate) fn next_wake(state: &KioskState) -> tokio::time::Instant {
    let recheck = tokio::time::Instant::now() + RECHECK;
    match state.next_change {
        Some(at) => {
            let ms = (at - state.now).num_milliseconds().max(0) as u64 + 20;
            recheck.min(tokio::time::Instant::now() + Duration::from_millis(ms))
        }
        None => recheck,
    }
}
