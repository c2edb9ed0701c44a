//! Who is asking: the [`Principal`] extractor. A person logs in and carries an HttpOnly session
//! cookie; a state-changing request must also carry the session's CSRF token in `X-CSRF-Token`
//! (the page reads it from the `giaoban_csrf` cookie). A room PC sends its device credential as
//! `Authorization: Bearer gbd_…`. No credential → 401. What the principal may do is asked of
//! [`super::scope::authorize`] through [`Principal::authorize`] (an action on a target in scope)
//! or [`Principal::require`] (an organisation-wide role: scoped grants do not count) → 403. The
//! default is deny: a handler without a `Principal` is public and the public ones are listed in
//! `api::router`.

use super::password::token_hash;
use super::roles::{Grant, Grants, Role};
use super::scope::{self, Action, Denied, Target};
use crate::api::error::ApiError;
use crate::app::AppState;
use crate::store::accounts;
use axum::extract::FromRequestParts;
use axum::http::{Method, header, request::Parts};
use serde::Serialize;

pub const SESSION_COOKIE: &str = "giaoban_session";
pub const CSRF_COOKIE: &str = "giaoban_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const DEVICE_TOKEN_PREFIX: &str = "gbd_";
pub const SESSION_TOKEN_PREFIX: &str = "gbs_";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    User {
        id: String,
        username: String,
        display_name: String,
    },
    Device {
        id: String,
        site_id: String,
        label: String,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    pub grants: Grants,
}

fn forbidden(d: Denied) -> ApiError {
    ApiError::Forbidden(d.to_string())
}

impl Principal {
    /// Refuses with 403 unless `action` on `target` is allowed (see [`scope::authorize`]).
    pub fn authorize(&self, action: Action, target: Target<'_>) -> Result<(), ApiError> {
        scope::authorize(&self.grants.0, action, target).map_err(forbidden)
    }

    /// Whether `action` on `target` is allowed (to filter a list).
    pub fn allows(&self, action: Action, target: Target<'_>) -> bool {
        scope::authorize(&self.grants.0, action, target).is_ok()
    }

    /// Refuses with 403 unless a role of `action` is held in some scope (before filtering a list).
    pub fn may(&self, action: Action) -> Result<(), ApiError> {
        scope::may(&self.grants.0, action).map_err(forbidden)
    }

    /// Refuses with 403 unless one of `roles` is held organisation-wide: a grant scoped to a unit
    /// or a site does not count here (use [`Principal::authorize`] with the target instead).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if !self.grants.any(roles) {
            return Err(forbidden(Denied::Role(roles.to_vec())));
        }
        if self.has(roles) {
            Ok(())
        } else {
            Err(forbidden(Denied::Scope))
        }
    }

    /// Holds one of `roles` organisation-wide (unscoped).
    pub fn has(&self, roles: &[Role]) -> bool {
        self.grants
            .0
            .iter()
            .any(|g| roles.contains(&g.role) && g.unit_id.is_none() && g.site_id.is_none())
    }

    /// Who to name in the audit log.
    pub fn actor(&self) -> String {
        match &self.identity {
            Identity::User { username, .. } => format!("user:{username}"),
            Identity::Device { id, site_id, .. } => format!("device:{site_id}/{id}"),
        }
    }

    pub fn user_id(&self) -> Option<String> {
        match &self.identity {
            Identity::User { id, .. } => Some(id.clone()),
            Identity::Device { .. } => None,
        }
    }

    pub fn grant_list(&self) -> &[Grant] {
        &self.grants.0
    }
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time comparison of two secrets.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let now = chrono::Utc::now();
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            let device = accounts::device_by_token(&app.pool, &token_hash(bearer.trim()))
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized("device credential unknown or revoked".into())
                })?;
            let grant = Grant {
                role: Role::SiteOperator,
                unit_id: None,
                site_id: Some(device.site_id.clone()),
            };
            return Ok(Principal {
                identity: Identity::Device {
                    id: device.id,
                    site_id: device.site_id,
                    label: device.label,
                },
                grants: Grants(vec![grant]),
            });
        }
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(|| ApiError::Unauthorized("log in first".into()))?;
        let (user, csrf) = accounts::login_session(&app.pool, &token_hash(token), now)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("the login session has expired; log in again".into())
            })?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &csrf) {
                return Err(ApiError::Csrf);
            }
        }
        let grants = accounts::grants(&app.pool, &user.id).await?;
        Ok(Principal {
            identity: Identity::User {
                id: user.id,
                username: user.username,
                display_name: user.display_name,
            },
            grants: Grants(grants),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; giaoban_session=gbs_x; b=2".parse().unwrap(),
        );
        h.append(header::COOKIE, "giaoban_csrf=c".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("gbs_x"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("c"));
        assert_eq!(cookie(&h, "none"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
