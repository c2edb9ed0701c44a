//! The one mapping from service errors to HTTP: a status and a JSON body
//! `{"code": "<stable code>", "message": "<human text>"}`.

use crate::schedule::ScheduleError;
use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The JSON body of every API error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (e.g. `unknown_site`, `invalid_token`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("missing or wrong X-CSRF-Token header (send the giaoban_csrf cookie's value)")]
    Csrf,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// 429 with `Retry-After` (whole seconds, at least 1).
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Kiosks, pairing and stable site links (see `api::kiosk`).
    #[error(transparent)]
    Kiosk(crate::kiosk::KioskError),
    /// A chairing action refused (floor, mute, layout): the protocol's code, an HTTP status.
    #[error(transparent)]
    Chair(#[from] crate::sfu::chair::ChairError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use crate::auth::TokenError;
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Schedule(e) => match e {
                ScheduleError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
                ScheduleError::UnknownSite(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_site"),
                ScheduleError::SiteNotValid(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "site_not_valid")
                }
                ScheduleError::SessionNotFound(_) => (StatusCode::NOT_FOUND, "session_not_found"),
                ScheduleError::SessionCancelled(_) => (StatusCode::GONE, "session_cancelled"),
                ScheduleError::NotInvited { .. } | ScheduleError::LinkRevoked { .. } => {
                    (StatusCode::FORBIDDEN, "site_not_invited")
                }
                ScheduleError::LinkSuperseded { .. } => (StatusCode::UNAUTHORIZED, "invalid_token"),
                ScheduleError::Token(TokenError::Expired) => {
                    (StatusCode::UNAUTHORIZED, "token_expired")
                }
                ScheduleError::Token(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
                ScheduleError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Kiosk(e) => {
                use crate::kiosk::KioskError as K;
                match e {
                    K::NotPaired => (StatusCode::UNAUTHORIZED, "not_paired"),
                    K::DeviceRevoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
                    K::PairingInvalid => (StatusCode::NOT_FOUND, "pairing_invalid"),
                    K::PairingUsed => (StatusCode::GONE, "pairing_used"),
                    K::PairingExpired => (StatusCode::GONE, "pairing_expired"),
                    K::LinkToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
                    K::LinkRevoked => (StatusCode::GONE, "link_revoked"),
                    K::UnknownSite(_) => (StatusCode::NOT_FOUND, "unknown_site"),
                    K::Schedule(_) | K::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                }
            }
            ApiError::Chair(e) => {
                use crate::sfu::chair::ChairError as C;
                match e {
                    C::NotController(_) => (StatusCode::FORBIDDEN, "not_controller"),
                    C::UnknownSite(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_site"),
                    C::NotConnected(_) | C::NotLive => (StatusCode::CONFLICT, "site_not_connected"),
                    C::Floor(_) => (StatusCode::CONFLICT, "queue_empty"),
                    C::Mute(_) => (StatusCode::FORBIDDEN, "muted_by_chair"),
                    C::Share(crate::sfu::share::ShareError::AlreadySharing(_)) => {
                        (StatusCode::CONFLICT, "already_sharing")
                    }
                    C::Share(_) => (StatusCode::CONFLICT, "not_sharing"),
                    C::BadValue(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
                }
            }
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(e.body_text())
        } else {
            ApiError::BadRequest(e.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let body = Json(serde_json::json!({ "code": code, "message": self.to_string() }));
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let retry = [(axum::http::header::RETRY_AFTER, secs.max(1).to_string())];
            return (status, retry, body).into_response();
        }
        (status, body).into_response()
    }
}
