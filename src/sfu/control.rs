//! Who controls a live session (chairing: floor, mute, layouts, screen share, recording). Pure.
//! Two kinds of actor may: the session's host site (*điểm cầu chủ trì*), through its own signaling
//! messages, and a logged-in user holding the chair, operator or admin role for the session
//! (`auth::scope::Action::ControlSession`, scoped like every session action), through the REST API.
//! A [`Controller`] can only be obtained through one of those two checks, so every room action that
//! takes one has been authorised; the room keeps the session's [`Roster`] to check sites against.

use crate::auth::{Action, Denied, Grant, SiteRef, Target, authorize};
use std::collections::BTreeSet;

/// What the SFU knows of a session beyond its id: its host site and the sites invited to it.
/// Read from the schedule at every join (an edit between two joins is picked up by the next).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub host_site_id: String,
    /// Every invited site, the host included.
    pub sites: BTreeSet<String>,
}

impl Roster {
    pub fn new(host_site_id: impl Into<String>, sites: impl IntoIterator<Item = String>) -> Self {
        let host_site_id = host_site_id.into();
        let mut sites: BTreeSet<String> = sites.into_iter().collect();
        sites.insert(host_site_id.clone());
        Roster {
            host_site_id,
            sites,
        }
    }

    pub fn is_host(&self, site_id: &str) -> bool {
        self.host_site_id == site_id
    }

    pub fn is_invited(&self, site_id: &str) -> bool {
        self.sites.contains(site_id)
    }
}

pub use crate::live::Actor;

/// Why an actor may not control a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlDenied {
    #[error("only the host site ({host}) controls this session, not {site}")]
    NotHost { host: String, site: String },
    #[error(transparent)]
    User(#[from] Denied),
}

/// Proof that an actor controls a session: built only by [`Controller::site`] or
/// [`Controller::user`], taken by every room action that needs control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    actor: Actor,
}

impl Controller {
    /// A connected site controls the session it hosts, and no other.
    pub fn site(roster: &Roster, site_id: &str) -> Result<Controller, ControlDenied> {
        if roster.is_host(site_id) {
            Ok(Controller {
                actor: Actor::Site(site_id.to_string()),
            })
        } else {
            Err(ControlDenied::NotHost {
                host: roster.host_site_id.clone(),
                site: site_id.to_string(),
            })
        }
    }

    /// A user controls a session when a grant of theirs allows [`Action::ControlSession`] on it
    /// (the chair, operator or admin role, in a scope covering the session's host site).
    pub fn user(
        username: &str,
        grants: &[Grant],
        host: SiteRef<'_>,
    ) -> Result<Controller, ControlDenied> {
        authorize(grants, Action::ControlSession, Target::Session { host })?;
        Ok(Controller {
            actor: Actor::User(username.to_string()),
        })
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn roster() -> Roster {
        Roster::new(
            "ubnd-tp",
            ["so-y-te".to_string(), "phuong-ba-dinh".to_string()],
        )
    }

    fn grant(role: Role, unit: Option<&str>, site: Option<&str>) -> Grant {
        Grant {
            role,
            unit_id: unit.map(str::to_owned),
            site_id: site.map(str::to_owned),
        }
    }

    #[test]
    fn the_host_site_controls_and_no_other_site_does() {
        let r = roster();
        assert!(r.is_host("ubnd-tp") && r.is_invited("ubnd-tp"));
        assert!(r.is_invited("so-y-te") && !r.is_host("so-y-te"));
        assert!(!r.is_invited("xa-ngoai"));
        let c = Controller::site(&r, "ubnd-tp").unwrap();
        assert_eq!(c.actor(), &Actor::Site("ubnd-tp".into()));
        assert_eq!(
            Controller::site(&r, "so-y-te"),
            Err(ControlDenied::NotHost {
                host: "ubnd-tp".into(),
                site: "so-y-te".into()
            })
        );
        assert!(Controller::site(&r, "").is_err());
        assert!(
            Controller::site(&r, "UBND-TP").is_err(),
            "ids compare exactly"
        );
    }

    #[test]
    fn the_host_is_always_in_the_roster() {
        let r = Roster::new("h", Vec::new());
        assert!(r.is_invited("h") && r.sites.len() == 1);
        let r = Roster::new("h", ["a".to_string(), "h".to_string()]);
        assert_eq!(r.sites.len(), 2);
    }

    #[test]
    fn chairs_operators_and_admins_in_scope_control_others_do_not() {
        let units = vec!["ubnd-tp".to_string()];
        let hall = SiteRef {
            id: "ubnd-tp",
            units: &units,
        };
        for role in [Role::Chair, Role::Operator, Role::Admin] {
            let c = Controller::user("u1", &[grant(role, None, None)], hall).unwrap();
            assert_eq!(c.actor(), &Actor::User("u1".into()));
            assert!(Controller::user("u1", &[grant(role, Some("ubnd-tp"), None)], hall).is_ok());
            assert!(Controller::user("u1", &[grant(role, None, Some("ubnd-tp"))], hall).is_ok());
            // Scoped elsewhere: refused.
            assert_eq!(
                Controller::user("u1", &[grant(role, None, Some("so-y-te"))], hall),
                Err(ControlDenied::User(Denied::Scope))
            );
        }
        for role in [
            Role::Secretariat,
            Role::SiteOperator,
            Role::Reviewer,
            Role::Auditor,
        ] {
            assert!(matches!(
                Controller::user("u2", &[grant(role, None, None)], hall),
                Err(ControlDenied::User(Denied::Role(_)))
            ));
        }
        assert!(Controller::user("u3", &[], hall).is_err());
    }

    #[test]
    fn actors_are_labelled_for_the_audit_log() {
        assert_eq!(Actor::Site("a".into()).label(), "site:a");
        assert_eq!(Actor::User("b".into()).label(), "user:b");
        assert_eq!(
            serde_json::to_string(&Actor::User("b".into())).unwrap(),
            r#"{"kind":"user","id":"b"}"#
        );
    }
}
