//! The audit action names, in one place. Actions are dotted lowercase strings (`object.verb`);
//! they are stored verbatim in `audit_log.action`, so never rename one that has been written.

pub const LOGIN: &str = "login";
pub const LOGOUT: &str = "logout";
/// A login refused for a wrong password, an unknown user or a disabled account.
pub const LOGIN_FAILED: &str = "login.failed";
/// Repeated failures shut an account or a client address for a while.
pub const LOGIN_BACKOFF: &str = "login.backoff";

pub const SESSION_CREATE: &str = "session.create";
pub const SESSION_UPDATE: &str = "session.update";
pub const SESSION_CANCEL: &str = "session.cancel";

pub const INVITATION_ISSUE: &str = "invitation.issue";
pub const INVITATION_REVOKE: &str = "invitation.revoke";
/// An invitation's readiness status moved (confirmed, tested, ready).
pub const INVITATION_STATUS: &str = "invitation.status";

pub const SITE_JOIN: &str = "site.join";
/// A manual roll-call mark (attendance status and reason) by the secretariat.
pub const ATTENDANCE_MARK: &str = "attendance.mark";
pub const SITE_LEAVE: &str = "site.leave";
pub const FLOOR_GIVE: &str = "floor.give";
/// A controller took the floor back (or gave it to another site).
pub const FLOOR_REVOKE: &str = "floor.revoke";
pub const SITE_MUTE: &str = "site.mute";
pub const SITE_UNMUTE: &str = "site.unmute";
/// A controller stopped a site's screen share.
pub const SCREEN_SHARE_STOP: &str = "screenshare.stop";
/// A controller marked the agenda item the session is on (or cleared it: `index` null).
pub const AGENDA_ITEM: &str = "agenda.item";

pub const RECORDING_START: &str = "recording.start";
pub const RECORDING_STOP: &str = "recording.stop";
pub const RECORDING_VIEW: &str = "recording.view";
pub const RECORDING_DOWNLOAD: &str = "recording.download";
pub const RECORDING_DELETE: &str = "recording.delete";
/// A legal hold set on or lifted from a recording (it is then never deleted by retention).
pub const RECORDING_HOLD: &str = "recording.hold";

pub const PERMISSION_GRANT: &str = "permission.grant";
pub const PERMISSION_REVOKE: &str = "permission.revoke";
/// A site's stable link (/s/<token>) issued (first or new version) or revoked.
pub const SITE_LINK_ISSUE: &str = "sitelink.issue";
pub const SITE_LINK_REVOKE: &str = "sitelink.revoke";
/// A kiosk redeemed a pairing code for its device credential.
pub const DEVICE_PAIR: &str = "device.pair";

/// Every action above (for filters in the audit viewer).
pub const ALL: &[&str] = &[
    LOGIN,
    LOGOUT,
    LOGIN_FAILED,
    LOGIN_BACKOFF,
    SESSION_CREATE,
    SESSION_UPDATE,
    SESSION_CANCEL,
    INVITATION_ISSUE,
    INVITATION_REVOKE,
    INVITATION_STATUS,
    SITE_JOIN,
    SITE_LEAVE,
    ATTENDANCE_MARK,
    FLOOR_GIVE,
    FLOOR_REVOKE,
    SITE_MUTE,
    SITE_UNMUTE,
    SCREEN_SHARE_STOP,
    AGENDA_ITEM,
    RECORDING_START,
    RECORDING_STOP,
    RECORDING_VIEW,
    RECORDING_DOWNLOAD,
    RECORDING_DELETE,
    RECORDING_HOLD,
    PERMISSION_GRANT,
    SITE_LINK_ISSUE,
    SITE_LINK_REVOKE,
    DEVICE_PAIR,
    PERMISSION_REVOKE,
];

#[cfg(test)]
mod tests {
    #[test]
    fn actions_are_unique_lowercase_dotted() {
        let mut seen = std::collections::BTreeSet::new();
        for a in super::ALL {
            assert!(seen.insert(*a), "duplicate {a}");
            assert!(
                a.bytes().all(|b| b.is_ascii_lowercase() || b == b'.'),
                "{a}"
            );
        }
    }

    /// The audit viewer names and groups every action the server writes, in both languages.
    #[test]
    fn every_action_has_a_label_and_a_group_in_the_viewer() {
        let js = include_str!("../../web/app/audit-actions.js");
        let org = ["org.unit.create", "org.unit.update", "org.site.save"];
        for a in super::ALL.iter().chain(org.iter()) {
            let label = format!("\"action.{a}\":");
            assert_eq!(
                js.matches(&label).count(),
                2,
                "{a}: a Vietnamese and an English name"
            );
            assert!(js.contains(&format!("\"{a}\"")), "{a}: in a group");
        }
    }
}
