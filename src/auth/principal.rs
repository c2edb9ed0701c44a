//! Who is asking: the [`Principal`] extractor. A person logs in and carries an HttpOnly session
//! cookie; a state-changing request must also carry the session's CSRF token in `X-CSRF-Token`
//! (the page reads it from the `giaoban_csrf` cookie). A room PC sends its device credential as
//! `Authorization: Bearer gbd_…`. No credential → 401; a route's roles are checked with
//! [`Principal::require`] → 403. The default is deny: a handler without a `Principal` is public
//! and the public ones are listed in `api::router`.

use super::password::token_hash;
use super::roles::{Grant, Grants, Role};
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
    /// Sites of the units of unit-scoped grants (loaded once per request).
    unit_sites: Vec<String>,
}

impl Principal {
    /// Refuses with 403 unless one of `roles` is held.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.grants.any(roles) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this needs one of the roles: {}",
                names.join(", ")
            )))
        }
    }

    pub fn has(&self, roles: &[Role]) -> bool {
        self.grants.any(roles)
    }

    /// Organisation-wide roles see every site; site operators and room PCs their own site;
    /// unit-scoped grants the sites of their unit.
    pub fn can_see_site(&self, site_id: &str) -> bool {
        self.grants.can_see_site(site_id, None) || self.unit_sites.iter().any(|s| s == site_id)
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
                unit_sites: Vec::new(),
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
        let mut unit_sites = Vec::new();
        for unit in grants
            .iter()
            .filter(|g| g.site_id.is_none())
            .filter_map(|g| g.unit_id.as_deref())
        {
            unit_sites.extend(crate::store::org::site_ids_of_unit(&app.pool, unit).await?);
        }
        Ok(Principal {
            identity: Identity::User {
                id: user.id,
                username: user.username,
                display_name: user.display_name,
            },
            grants: Grants(grants),
            unit_sites,
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
