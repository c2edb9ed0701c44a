//! Creating accounts: the checks on a new user (pure, [`validate`]) and the service that hashes
//! the password and stores the user with its grants. Used by the API and by `giaoban user add`.

use super::password::{MIN_PASSWORD_CHARS, hash_password};
use super::roles::{Grant, Role};
use crate::store::{self, Pool, StoreError, accounts::UserRow};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub grants: Vec<Grant>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("user {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> UserError {
    UserError::Invalid {
        field,
        message: message.into(),
    }
}

/// Shape checks that need no database.
pub fn validate(u: &NewUser) -> Result<(), UserError> {
    let name_ok = (3..=64).contains(&u.username.len())
        && u.username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !name_ok {
        return Err(invalid(
            "username",
            "3 to 64 characters: lower-case letters, digits, '.', '_' or '-'",
        ));
    }
    let display = u.display_name.trim();
    if display.is_empty() || display.chars().count() > 200 {
        return Err(invalid(
            "display_name",
            "1 to 200 characters (Họ và tên – Chức vụ – Đơn vị)",
        ));
    }
    if u.password.chars().count() < MIN_PASSWORD_CHARS || u.password.len() > 1024 {
        return Err(invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if u.grants.is_empty() || u.grants.len() > 32 {
        return Err(invalid("grants", "give between 1 and 32 roles"));
    }
    for g in &u.grants {
        if g.role == Role::SiteOperator && g.site_id.is_none() {
            return Err(invalid(
                "grants",
                "a site operator is scoped to one site (site_id)",
            ));
        }
        if g.site_id.is_some() && g.unit_id.is_some() {
            return Err(invalid(
                "grants",
                "scope a grant to a unit or a site, not both",
            ));
        }
    }
    Ok(())
}

/// Validates, checks that scoped units and sites exist, hashes and stores (audited as `actor`).
pub async fn create(pool: &Pool, u: &NewUser, actor: &str) -> Result<UserRow, UserError> {
    validate(u)?;
    for g in &u.grants {
        if let Some(site) = &g.site_id
            && store::org::site(pool, site).await?.is_none()
        {
            return Err(invalid("grants", format!("unknown site {site}")));
        }
        if let Some(unit) = &g.unit_id
            && store::org::site_ids_of_unit(pool, unit).await?.is_empty()
        {
            return Err(invalid(
                "grants",
                format!("unknown unit {unit} (or a unit without sites)"),
            ));
        }
    }
    if store::accounts::user_by_username(pool, &u.username)
        .await?
        .is_some()
    {
        return Err(UserError::Exists(u.username.clone()));
    }
    let row = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username: u.username.clone(),
        display_name: u.display_name.trim().to_string(),
        password_hash: hash_password(&u.password),
        disabled: false,
        created_at: chrono::Utc::now(),
    };
    store::accounts::insert_user(pool, &row, &u.grants, actor).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> NewUser {
        NewUser {
            username: "thuky.vp".into(),
            display_name: "Nguyễn Văn A – Chuyên viên – Văn phòng UBND".into(),
            password: "mat-khau-du-dai".into(),
            grants: vec![Grant::new(Role::Secretariat)],
        }
    }

    #[test]
    fn a_valid_user_passes_and_each_fault_is_named() {
        assert!(validate(&user()).is_ok());
        let field = |u: NewUser| match validate(&u) {
            Err(UserError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(NewUser {
                username: "A B".into(),
                ..user()
            }),
            "username"
        );
        assert_eq!(
            field(NewUser {
                username: "ab".into(),
                ..user()
            }),
            "username"
        );
        assert_eq!(
            field(NewUser {
                display_name: " ".into(),
                ..user()
            }),
            "display_name"
        );
        assert_eq!(
            field(NewUser {
                password: "short".into(),
                ..user()
            }),
            "password"
        );
        assert_eq!(
            field(NewUser {
                grants: vec![],
                ..user()
            }),
            "grants"
        );
        assert_eq!(
            field(NewUser {
                grants: vec![Grant::new(Role::SiteOperator)],
                ..user()
            }),
            "grants"
        );
    }
}
