//! Authorisation, decided in one place: [`authorize`] says whether a principal's grants allow an
//! [`Action`] on a [`Target`]. Pure: the caller resolves what the target is (a site and the chain
//! of units above it, a session's host site) and every handler asks here.
//!
//! The rule: an unscoped grant acts everywhere; a grant scoped to a unit covers that unit, its
//! sub-units (at any depth) and their sites; a grant scoped to a site covers that site. A session
//! is in scope when its host site is. A site's line in a session (its invitation and join link)
//! is in scope for the organisers when the session is, and for the site's own technician (a site
//! operator or the room PC's device credential) when the site is theirs. Organisation-wide things
//! (users, the audit log, live counters, top-level units) need an unscoped grant; the directory of
//! units and sites is readable by every role.

use super::roles::{Grant, Role};
use Role::*;

/// What a handler is about to do. Each action names the roles that may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the directory of units and sites.
    ReadDirectory,
    /// Read the schedule: session detail, list, calendar file.
    ReadSchedule,
    /// Read the sessions of one site (its technician's view): list by `site_id`, site feed.
    ReadSiteSchedule,
    /// Create, edit, cancel sessions.
    WriteSchedule,
    /// Read an invitation board line (status and join link of a site).
    ReadInvitation,
    /// Re-issue or revoke a site's join link.
    IssueInvitation,
    /// Mark a site confirmed or ready.
    SetInvitationStatus,
    /// List, issue and revoke the device credentials of a site's room PC.
    ManageDevices,
    /// Create and edit units and sites.
    ManageOrg,
    /// List and create user accounts, read other users' calendar feeds.
    ManageUsers,
    /// Read and verify the audit log.
    ReadAudit,
    /// Read the live counters of the server.
    ReadStats,
    /// Chair a live session: floor, mute, layouts, screen share (see `sfu::control`).
    ControlSession,
    /// Start and stop the recording of a session.
    Record,
    /// See a session's recordings and play them (the organisers; reviewers need a grant).
    ReadRecordings,
    /// Grant reviewers access to recordings, set a legal hold, delete.
    ManageRecordings,
}

impl Action {
    /// The roles that may perform the action (in some scope).
    pub fn roles(self) -> &'static [Role] {
        match self {
            Action::ReadDirectory => &Role::ALL,
            Action::ReadSchedule => &[Admin, Secretariat, Operator, Chair, Auditor],
            Action::ReadSiteSchedule => {
                &[Admin, Secretariat, Operator, Chair, Auditor, SiteOperator]
            }
            Action::WriteSchedule | Action::IssueInvitation | Action::ManageDevices => {
                &[Admin, Secretariat]
            }
            Action::ReadInvitation => &[Admin, Secretariat, Operator, SiteOperator],
            Action::SetInvitationStatus => &[Admin, Secretariat, SiteOperator],
            Action::ManageOrg | Action::ManageUsers => &[Admin],
            Action::ReadAudit => &[Auditor, Admin],
            Action::ReadStats => &[Admin, Operator, Secretariat],
            Action::ControlSession => &[Admin, Operator, Chair],
            Action::Record => &[Admin, Operator, Chair],
            Action::ReadRecordings => &[Admin, Secretariat, Operator, Chair],
            Action::ManageRecordings => &[Admin, Secretariat],
        }
    }
}

/// A site with the chain of units it belongs to: its unit first, then each parent up to the root.
#[derive(Debug, Clone, Copy)]
pub struct SiteRef<'a> {
    pub id: &'a str,
    pub units: &'a [String],
}

/// What an action is on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The whole organisation: only unscoped grants.
    Org,
    /// The directory of units and sites: every grant.
    Directory,
    /// A unit, given as itself followed by its ancestors.
    Unit(&'a [String]),
    /// A site.
    Site(SiteRef<'a>),
    /// A session, in scope when its host site is.
    Session { host: SiteRef<'a> },
    /// One site's line in a session.
    Invitation {
        host: SiteRef<'a>,
        site: SiteRef<'a>,
    },
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this needs one of the roles: {}", names(.0))]
    Role(Vec<Role>),
    #[error("this is outside the scope of your roles")]
    Scope,
}

fn names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `grants` allow `action` on `target`: some grant of a role the action accepts whose
/// scope covers the target.
pub fn authorize(grants: &[Grant], action: Action, target: Target<'_>) -> Result<(), Denied> {
    let roles = action.roles();
    let mut held = grants.iter().filter(|g| roles.contains(&g.role)).peekable();
    if held.peek().is_none() {
        return Err(Denied::Role(roles.to_vec()));
    }
    if held.any(|g| covers(g, target)) {
        Ok(())
    } else {
        Err(Denied::Scope)
    }
}

/// Whether `grants` hold a role for `action` in any scope (the first check of a list, which is
/// then filtered item by item with [`authorize`]).
pub fn may(grants: &[Grant], action: Action) -> Result<(), Denied> {
    let roles = action.roles();
    if grants.iter().any(|g| roles.contains(&g.role)) {
        Ok(())
    } else {
        Err(Denied::Role(roles.to_vec()))
    }
}

fn covers_site(g: &Grant, site: SiteRef<'_>) -> bool {
    match (&g.site_id, &g.unit_id) {
        (Some(s), _) => s == site.id,
        (None, Some(u)) => site.units.contains(u),
        (None, None) => true,
    }
}

/// Whether one grant's scope covers the target.
fn covers(g: &Grant, target: Target<'_>) -> bool {
    let unscoped = g.site_id.is_none() && g.unit_id.is_none();
    match target {
        Target::Directory => true,
        Target::Org => unscoped,
        Target::Unit(chain) => match (&g.site_id, &g.unit_id) {
            (Some(_), _) => false,
            (None, Some(u)) => chain.contains(u),
            (None, None) => true,
        },
        Target::Site(site) => covers_site(g, site),
        Target::Session { host } => g.role != SiteOperator && covers_site(g, host),
        // A site's technician acts on its own line; the organisers on the lines of their sessions.
        Target::Invitation { host, site } => {
            if g.role == SiteOperator {
                g.site_id.is_some() && covers_site(g, site)
            } else {
                covers_site(g, host)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, unit: Option<&str>, site: Option<&str>) -> Grant {
        Grant {
            role,
            unit_id: unit.map(str::to_owned),
            site_id: site.map(str::to_owned),
        }
    }

    fn chain(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    // city > so-y-te ; city > phuong-ba-dinh > to-dan-pho-1 (a sub-unit)
    struct Org {
        city_hall: Vec<String>,
        yte: Vec<String>,
        badinh: Vec<String>,
        tdp1: Vec<String>,
    }

    fn org() -> Org {
        Org {
            city_hall: chain(&["ubnd-tp"]),
            yte: chain(&["so-y-te", "ubnd-tp"]),
            badinh: chain(&["phuong-ba-dinh", "ubnd-tp"]),
            tdp1: chain(&["to-dan-pho-1", "phuong-ba-dinh", "ubnd-tp"]),
        }
    }

    fn site<'a>(id: &'a str, units: &'a [String]) -> SiteRef<'a> {
        SiteRef { id, units }
    }

    #[test]
    fn unit_scope_covers_the_unit_its_sub_units_and_their_sites() {
        let o = org();
        let sec = vec![grant(Secretariat, Some("phuong-ba-dinh"), None)];
        let badinh = site("phuong-ba-dinh-phonghop", &o.badinh);
        let tdp = site("tdp1-phonghop", &o.tdp1);
        let yte = site("so-y-te-phonghop", &o.yte);
        let hall = site("ubnd-tp-hoitruong", &o.city_hall);
        let write = Action::WriteSchedule;
        assert_eq!(
            authorize(&sec, write, Target::Session { host: badinh }),
            Ok(())
        );
        assert_eq!(
            authorize(&sec, write, Target::Session { host: tdp }),
            Ok(())
        );
        assert_eq!(
            authorize(&sec, write, Target::Session { host: yte }),
            Err(Denied::Scope)
        );
        assert_eq!(
            authorize(&sec, write, Target::Session { host: hall }),
            Err(Denied::Scope)
        );
        // Devices: only for the sites in scope.
        assert!(authorize(&sec, Action::ManageDevices, Target::Site(badinh)).is_ok());
        assert!(authorize(&sec, Action::ManageDevices, Target::Site(yte)).is_err());
        // Units: its own and below, never its parent, never the whole organisation.
        assert!(authorize(&sec, Action::ReadSchedule, Target::Unit(&o.tdp1)).is_ok());
        assert!(authorize(&sec, Action::ReadSchedule, Target::Unit(&o.city_hall)).is_err());
        assert_eq!(
            authorize(&sec, Action::ReadStats, Target::Org),
            Err(Denied::Scope)
        );
        // The directory is everyone's.
        assert!(authorize(&sec, Action::ReadDirectory, Target::Directory).is_ok());
    }

    #[test]
    fn site_scope_covers_that_site_only() {
        let o = org();
        let chair = vec![grant(Chair, None, Some("ubnd-tp-hoitruong"))];
        let hall = site("ubnd-tp-hoitruong", &o.city_hall);
        let yte = site("so-y-te-phonghop", &o.yte);
        let read = Action::ReadSchedule;
        assert!(authorize(&chair, read, Target::Session { host: hall }).is_ok());
        assert_eq!(
            authorize(&chair, read, Target::Session { host: yte }),
            Err(Denied::Scope)
        );
        // A site grant is not a unit grant, even for the unit of its site.
        assert!(authorize(&chair, read, Target::Unit(&o.city_hall)).is_err());
        assert_eq!(
            authorize(
                &chair,
                Action::WriteSchedule,
                Target::Session { host: hall }
            ),
            Err(Denied::Role(Action::WriteSchedule.roles().to_vec()))
        );
    }

    #[test]
    fn a_sites_technician_sees_its_own_line_and_nothing_else() {
        let o = org();
        let device = vec![grant(SiteOperator, None, Some("so-y-te-phonghop"))];
        let hall = site("ubnd-tp-hoitruong", &o.city_hall);
        let yte = site("so-y-te-phonghop", &o.yte);
        let badinh = site("phuong-ba-dinh-phonghop", &o.badinh);
        let own = Target::Invitation {
            host: hall,
            site: yte,
        };
        let other = Target::Invitation {
            host: hall,
            site: badinh,
        };
        assert!(authorize(&device, Action::ReadInvitation, own).is_ok());
        assert!(authorize(&device, Action::SetInvitationStatus, own).is_ok());
        assert_eq!(
            authorize(&device, Action::ReadInvitation, other),
            Err(Denied::Scope)
        );
        assert!(authorize(&device, Action::IssueInvitation, own).is_err());
        // Hosting a session does not open its other lines to the host site's technician.
        let host_op = vec![grant(SiteOperator, None, Some("ubnd-tp-hoitruong"))];
        assert!(authorize(&host_op, Action::ReadInvitation, other).is_err());
        assert!(
            authorize(
                &host_op,
                Action::ReadSchedule,
                Target::Session { host: hall }
            )
            .is_err()
        );
        assert!(authorize(&device, Action::ReadSiteSchedule, Target::Site(yte)).is_ok());
        assert!(authorize(&device, Action::ReadSiteSchedule, Target::Site(badinh)).is_err());
    }

    #[test]
    fn organisers_act_on_every_line_of_their_sessions() {
        let o = org();
        let sec = vec![grant(Secretariat, Some("phuong-ba-dinh"), None)];
        let badinh = site("phuong-ba-dinh-phonghop", &o.badinh);
        let yte = site("so-y-te-phonghop", &o.yte);
        let hall = site("ubnd-tp-hoitruong", &o.city_hall);
        let theirs = Target::Invitation {
            host: badinh,
            site: yte,
        };
        let not_theirs = Target::Invitation {
            host: hall,
            site: badinh,
        };
        assert!(authorize(&sec, Action::IssueInvitation, theirs).is_ok());
        assert!(authorize(&sec, Action::ReadInvitation, theirs).is_ok());
        // Their unit's site invited to someone else's session: not theirs to re-issue or read.
        assert_eq!(
            authorize(&sec, Action::IssueInvitation, not_theirs),
            Err(Denied::Scope)
        );
        assert!(authorize(&sec, Action::ReadInvitation, not_theirs).is_err());
    }

    #[test]
    fn unscoped_grants_act_everywhere_and_roles_still_count() {
        let o = org();
        let admin = vec![grant(Admin, None, None)];
        let yte = site("so-y-te-phonghop", &o.yte);
        for action in [Action::ManageUsers, Action::ReadAudit, Action::ManageOrg] {
            assert!(authorize(&admin, action, Target::Org).is_ok());
        }
        assert!(authorize(&admin, Action::WriteSchedule, Target::Session { host: yte }).is_ok());
        let auditor = vec![grant(Auditor, None, None)];
        assert!(authorize(&auditor, Action::ReadAudit, Target::Org).is_ok());
        assert!(matches!(
            authorize(&auditor, Action::ManageUsers, Target::Org),
            Err(Denied::Role(_))
        ));
        assert_eq!(
            authorize(&[], Action::ReadDirectory, Target::Directory),
            Err(Denied::Role(Role::ALL.to_vec()))
        );
        // Two grants: the one in scope decides.
        let two = vec![
            grant(Secretariat, Some("so-y-te"), None),
            grant(Chair, None, Some("ubnd-tp-hoitruong")),
        ];
        let hall = site("ubnd-tp-hoitruong", &o.city_hall);
        assert!(authorize(&two, Action::ReadSchedule, Target::Session { host: hall }).is_ok());
        assert!(authorize(&two, Action::WriteSchedule, Target::Session { host: hall }).is_err());
        assert!(authorize(&two, Action::WriteSchedule, Target::Session { host: yte }).is_ok());
        assert_eq!(
            may(&two, Action::ManageUsers),
            Err(Denied::Role(vec![Admin]))
        );
    }
}
