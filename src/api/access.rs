//! What a request acts on, resolved for [`crate::auth::scope::authorize`]: a site with the chain
//! of units above it, a session's host site. The decision itself is pure and lives in
//! `auth::scope`; this file only reads the rows it needs (and remembers them within one request,
//! so filtering a list costs one lookup per distinct site).

use super::error::ApiError;
use crate::auth::{SiteRef, Target};
use crate::schedule::ScheduleError;
use crate::store::{self, Pool, StoreError};
use std::collections::HashMap;

/// A site and its units (its own first, then each parent); an unknown site has none, so only
/// unscoped grants cover it.
#[derive(Debug, Clone)]
pub struct SiteScope {
    pub id: String,
    pub units: Vec<String>,
}

impl SiteScope {
    pub fn site(&self) -> SiteRef<'_> {
        SiteRef {
            id: &self.id,
            units: &self.units,
        }
    }

    pub fn target(&self) -> Target<'_> {
        Target::Site(self.site())
    }

    /// A session hosted here.
    pub fn session(&self) -> Target<'_> {
        Target::Session { host: self.site() }
    }

    /// `site`'s line in a session hosted here.
    pub fn invitation<'a>(&'a self, site: &'a SiteScope) -> Target<'a> {
        Target::Invitation {
            host: self.site(),
            site: site.site(),
        }
    }
}

pub async fn site(pool: &Pool, id: &str) -> Result<SiteScope, StoreError> {
    Ok(SiteScope {
        id: id.to_string(),
        units: store::org::site_unit_chain(pool, id).await?,
    })
}

/// The host site of a session; 404 when there is no such session.
pub async fn session_host(pool: &Pool, session_id: &str) -> Result<SiteScope, ApiError> {
    let row = store::sessions::get(pool, session_id)
        .await?
        .ok_or_else(|| ScheduleError::SessionNotFound(session_id.to_string()))?;
    Ok(site(pool, &row.host_site_id).await?)
}

/// Control of a session by the logged-in user (chair, operator or admin in scope of its host
/// site): 404 when there is no such session, 403 otherwise (a device credential never controls).
pub async fn controller(
    pool: &Pool,
    principal: &crate::auth::Principal,
    session_id: &str,
) -> Result<crate::sfu::control::Controller, ApiError> {
    let host = session_host(pool, session_id).await?;
    let crate::auth::principal::Identity::User { username, .. } = &principal.identity else {
        return Err(ApiError::Forbidden(
            "a device credential does not control a session".into(),
        ));
    };
    crate::sfu::control::Controller::user(username, principal.grant_list(), host.site())
        .map_err(|e| ApiError::Forbidden(e.to_string()))
}

/// Sites resolved once per request.
#[derive(Default)]
pub struct Sites(HashMap<String, SiteScope>);

impl Sites {
    pub async fn get(&mut self, pool: &Pool, id: &str) -> Result<&SiteScope, StoreError> {
        if !self.0.contains_key(id) {
            let s = site(pool, id).await?;
            self.0.insert(id.to_string(), s);
        }
        Ok(&self.0[id])
    }
}
