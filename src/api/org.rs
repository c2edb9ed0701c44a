//! The organisation over HTTP: units (hierarchy with validity dates) and their sites. Every role
//! may read the directory; only admins change it, a unit-scoped admin only below its unit (a
//! top-level unit needs an unscoped admin). A unit whose validity has ended keeps
//! its history and cannot be invited to new sessions (checked by `schedule::validate`).

use super::error::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::auth::{Action, Principal, Target};
use crate::config::is_slug;
use crate::store::org::{self, Unit};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/units", get(list_units).post(create_unit))
        .route("/api/units/{id}", patch(update_unit))
        .route("/api/sites/{id}", put(save_site))
}

/// Refuses unless the principal may manage `unit_id` (with its ancestors), or the whole
/// organisation for `None` (a unit without a parent).
async fn authorize_unit(
    app: &AppState,
    principal: &Principal,
    unit_id: Option<&str>,
) -> Result<(), ApiError> {
    match unit_id {
        Some(u) => {
            let chain = org::unit_chain(&app.pool, u).await?;
            principal.authorize(Action::ManageOrg, Target::Unit(&chain))
        }
        None => principal.authorize(Action::ManageOrg, Target::Org),
    }
}

/// Checks a unit against the others: plain id, a name, an existing parent without cycles, and
/// validity dates in order. Pure.
pub fn validate_unit(u: &Unit, all: &[Unit]) -> Result<(), String> {
    if !is_slug(&u.id) {
        return Err("id: lower-case letters, digits and '-', at most 64".into());
    }
    let name = u.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("name: 1 to 200 characters".into());
    }
    if u.kind.trim().is_empty() || u.kind.len() > 32 {
        return Err("kind: 1 to 32 characters".into());
    }
    if let Some(to) = u.valid_to
        && to < u.valid_from
    {
        return Err("valid_to: before valid_from".into());
    }
    let mut parent = u.parent_id.clone();
    let mut steps = 0;
    while let Some(p) = parent {
        if p == u.id {
            return Err("parent_id: a unit cannot be its own ancestor".into());
        }
        let Some(next) = all.iter().find(|x| x.id == p) else {
            return Err(format!("parent_id: unknown unit {p}"));
        };
        parent = next.parent_id.clone();
        steps += 1;
        if steps > 64 {
            return Err("parent_id: the hierarchy is too deep or has a cycle".into());
        }
    }
    Ok(())
}

/// Every unit with its parent and validity.
#[utoipa::path(get, path = "/api/units", tag = "org",
    responses((status = 200, body = Vec<Unit>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_units(
    State(app): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Unit>>, ApiError> {
    principal.authorize(Action::ReadDirectory, Target::Directory)?;
    Ok(Json(org::list_units(&app.pool).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUnit {
    pub id: String,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
}

/// Creates a unit (admin).
#[utoipa::path(post, path = "/api/units", tag = "org", request_body = NewUnit,
    responses((status = 201, body = Unit), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_unit(
    State(app): State<AppState>,
    principal: Principal,
    body: Result<Json<NewUnit>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Unit>), ApiError> {
    principal.may(Action::ManageOrg)?;
    let Json(n) = body?;
    authorize_unit(&app, &principal, n.parent_id.as_deref()).await?;
    let all = org::list_units(&app.pool).await?;
    if all.iter().any(|u| u.id == n.id) {
        return Err(ApiError::Conflict(format!("unit {} exists already", n.id)));
    }
    let unit = Unit {
        id: n.id,
        name: n.name.trim().to_string(),
        kind: n.kind,
        parent_id: n.parent_id,
        valid_from: n.valid_from,
        valid_to: n.valid_to,
        managed_by: "admin".into(),
    };
    validate_unit(&unit, &all).map_err(ApiError::Unprocessable)?;
    org::save_unit(&app.pool, &unit, &principal.actor(), true).await?;
    Ok((StatusCode::CREATED, Json(unit)))
}

/// Changes to a unit; absent fields stay. `valid_to: null` clears the end date.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnitPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    pub valid_from: Option<NaiveDate>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub valid_to: Option<Option<NaiveDate>>,
}

/// `null` → Some(None), absent → None.
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Edits a unit (admin): name, parent, validity. History that refers to it is kept.
#[utoipa::path(patch, path = "/api/units/{id}", tag = "org", request_body = UnitPatch, params(("id" = String, Path)),
    responses((status = 200, body = Unit), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_unit(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<UnitPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Unit>, ApiError> {
    principal.may(Action::ManageOrg)?;
    authorize_unit(&app, &principal, Some(&id)).await?;
    let Json(p) = body?;
    if let Some(parent) = &p.parent_id {
        authorize_unit(&app, &principal, parent.as_deref()).await?;
    }
    let all = org::list_units(&app.pool).await?;
    let mut unit = all
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("unit {id} not found")))?;
    if let Some(name) = p.name {
        unit.name = name.trim().to_string();
    }
    if let Some(kind) = p.kind {
        unit.kind = kind;
    }
    if let Some(parent) = p.parent_id {
        unit.parent_id = parent;
    }
    if let Some(from) = p.valid_from {
        unit.valid_from = from;
    }
    if let Some(to) = p.valid_to {
        unit.valid_to = to;
    }
    unit.managed_by = "admin".into();
    validate_unit(&unit, &all).map_err(ApiError::Unprocessable)?;
    org::save_unit(&app.pool, &unit, &principal.actor(), false).await?;
    Ok(Json(unit))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SiteBody {
    pub unit_id: String,
    pub name: String,
    #[serde(default)]
    pub is_host: bool,
}

/// Creates or edits a site of a unit (admin).
#[utoipa::path(put, path = "/api/sites/{id}", tag = "org", request_body = SiteBody, params(("id" = String, Path)),
    responses((status = 200, body = crate::store::org::Site), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn save_site(
    State(app): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<SiteBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::store::org::Site>, ApiError> {
    principal.may(Action::ManageOrg)?;
    let Json(b) = body?;
    authorize_unit(&app, &principal, Some(&b.unit_id)).await?;
    let existing = super::access::site(&app.pool, &id).await?;
    if !existing.units.is_empty() {
        principal.authorize(Action::ManageOrg, existing.target())?;
    }
    if !is_slug(&id) {
        return Err(ApiError::Unprocessable(
            "id: lower-case letters, digits and '-', at most 64".into(),
        ));
    }
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable("name: 1 to 200 characters".into()));
    }
    if org::unit(&app.pool, &b.unit_id).await?.is_none() {
        return Err(ApiError::Unprocessable(format!(
            "unit_id: unknown unit {}",
            b.unit_id
        )));
    }
    org::save_site(
        &app.pool,
        &id,
        &b.unit_id,
        name,
        b.is_host,
        &principal.actor(),
    )
    .await?;
    let site = org::site(&app.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.clone()))?;
    Ok(Json(site))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, parent: Option<&str>) -> Unit {
        Unit {
            id: id.into(),
            name: id.into(),
            kind: "ward".into(),
            parent_id: parent.map(str::to_owned),
            valid_from: NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
            valid_to: None,
            managed_by: "admin".into(),
        }
    }

    #[test]
    fn hierarchy_and_dates_are_checked() {
        let all = vec![
            unit("city", None),
            unit("a", Some("city")),
            unit("b", Some("a")),
        ];
        assert!(validate_unit(&unit("c", Some("b")), &all).is_ok());
        assert!(
            validate_unit(&unit("c", Some("nope")), &all)
                .unwrap_err()
                .contains("unknown")
        );
        // Making "a" a child of its own descendant "b" is a cycle.
        assert!(
            validate_unit(&unit("a", Some("b")), &all)
                .unwrap_err()
                .contains("ancestor")
        );
        let mut late = unit("c", None);
        late.valid_to = NaiveDate::from_ymd_opt(2025, 1, 1);
        assert!(validate_unit(&late, &all).unwrap_err().contains("valid_to"));
        assert!(validate_unit(&unit("Bad Id", None), &all).is_err());
    }
}
