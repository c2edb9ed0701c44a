//! Roles and grants, pure: what a role may do is decided by [`Grants`] over plain data, so the
//! role matrix is unit-tested without a server. A grant can be scoped to a unit or a site; what a
//! scope covers is decided in `scope`.

use serde::{Deserialize, Serialize};

/// The roles of DOMAIN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System administrator (quản trị hệ thống): units, sites, users, configuration.
    Admin,
    /// Secretariat / organiser (văn phòng, ban tổ chức): schedules, invites, required attendees.
    Secretariat,
    /// Central operator (quản trị, vận hành): connects sites, layouts, mute, recording.
    Operator,
    /// Site technician (cán bộ kỹ thuật) of one site.
    SiteOperator,
    /// Chair (chủ trì).
    Chair,
    /// Watches recordings with an explicit grant.
    Reviewer,
    /// Reads the audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Secretariat,
        Role::Operator,
        Role::SiteOperator,
        Role::Chair,
        Role::Reviewer,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Secretariat => "secretariat",
            Role::Operator => "operator",
            Role::SiteOperator => "site_operator",
            Role::Chair => "chair",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One role, possibly limited to a unit or a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
}

impl Grant {
    pub fn new(role: Role) -> Self {
        Grant {
            role,
            unit_id: None,
            site_id: None,
        }
    }
}

/// The grants of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(pub Vec<Grant>);

impl Grants {
    /// Holds any of `roles` (in any scope).
    pub fn any(&self, roles: &[Role]) -> bool {
        self.0.iter().any(|g| roles.contains(&g.role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn any_finds_a_role_in_any_scope() {
        let site_op = Grants(vec![Grant {
            role: Role::SiteOperator,
            unit_id: None,
            site_id: Some("a".into()),
        }]);
        assert!(site_op.any(&[Role::SiteOperator, Role::Admin]));
        assert!(!site_op.any(&[Role::Admin]));
        assert!(!Grants::default().any(&[Role::Admin]));
    }
}
