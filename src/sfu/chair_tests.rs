//! Unit tests of the pure chair (`chair.rs`): join policy, floor and its mutes, bad actions,
//! mute all, hands and leaving, screen sharing.

use super::*;
use crate::signal::protocol::{MutedBy, ShareReason};
use chrono::TimeZone;

fn roster() -> Roster {
    Roster::new("host", ["a", "b", "c"].map(String::from))
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

fn host() -> Controller {
    Controller::site(&roster(), "host").unwrap()
}

fn all(_: &str) -> bool {
    true
}

fn mutes(effects: &[Effect]) -> Vec<(String, bool, MutedBy)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mute {
                site_id, change, ..
            } => Some((site_id.clone(), change.muted, change.by)),
            _ => None,
        })
        .collect()
}

#[test]
fn sites_join_muted_by_policy_except_the_host_and_rejoin_still_muted() {
    let r = roster();
    let mut c = Chair::new(true);
    assert_eq!(c.on_join("host", &r), vec![]);
    let e = c.on_join("a", &r);
    assert_eq!(mutes(&e), vec![("a".into(), true, MutedBy::Chair)]);
    assert!(matches!(
        &e[0],
        Effect::Mute {
            by: Actor::Policy,
            ..
        }
    ));
    // The site cannot unmute itself.
    let refused = c.request(
        "a",
        SiteRequest::Mute {
            kind: MediaKind::Audio,
            muted: false,
        },
        t(0),
    );
    assert_eq!(
        refused.unwrap_err().code(),
        ErrorCode::MutedByChair,
        "unmuting against the chair is refused"
    );
    assert!(c.mute_of("a").muted(MediaKind::Audio));
    // Reconnecting changes nothing.
    assert_eq!(c.on_join("a", &r), vec![]);
    assert!(c.mute_of("a").chair_holds(MediaKind::Audio));
    let mut open = Chair::new(false);
    assert_eq!(open.on_join("a", &r), vec![]);
    assert!(!open.mute_of("a").muted(MediaKind::Audio));
}

#[test]
fn the_floor_unmutes_its_holder_and_mutes_it_again_when_it_moves_on() {
    let r = roster();
    let mut c = Chair::new(true);
    for s in ["host", "a", "b", "c"] {
        c.on_join(s, &r);
    }
    c.request("b", SiteRequest::RaiseHand, t(1)).unwrap();
    c.request("a", SiteRequest::RaiseHand, t(2)).unwrap();
    let e = c
        .act(&host(), ChairAction::GiveFloor { site_id: None }, &r, all)
        .unwrap();
    assert_eq!(mutes(&e), vec![("b".into(), false, MutedBy::Site)]);
    assert!(e.contains(&Effect::Floor {
        previous: None,
        holder: Some("b".into()),
        by: Actor::Site("host".into())
    }));
    assert_eq!(c.holder(), Some("b"));
    assert_eq!(c.hands().len(), 1, "b's hand went down");
    let e = c
        .act(&host(), ChairAction::GiveFloor { site_id: None }, &r, all)
        .unwrap();
    assert_eq!(
        mutes(&e),
        vec![
            ("b".into(), true, MutedBy::Chair),
            ("a".into(), false, MutedBy::Site)
        ]
    );
    let e = c.act(&host(), ChairAction::RevokeFloor, &r, all).unwrap();
    assert_eq!(mutes(&e), vec![("a".into(), true, MutedBy::Chair)]);
    assert_eq!(c.holder(), None);
    // Giving the floor to the host touches no microphone.
    let e = c
        .act(
            &host(),
            ChairAction::GiveFloor {
                site_id: Some("host".into()),
            },
            &r,
            all,
        )
        .unwrap();
    assert_eq!(mutes(&e), vec![]);
}

#[test]
fn bad_floor_and_mute_actions_change_nothing() {
    let r = roster();
    let mut c = Chair::new(false);
    c.on_join("a", &r);
    let connected = |s: &str| s == "a" || s == "host";
    let before = (c.hands().to_vec(), c.holder().map(str::to_owned), c.muted());
    let give = |s: &str| ChairAction::GiveFloor {
        site_id: Some(s.into()),
    };
    assert_eq!(
        c.act(&host(), give("x"), &r, connected).unwrap_err().code(),
        ErrorCode::UnknownSite
    );
    assert_eq!(
        c.act(&host(), give("b"), &r, connected).unwrap_err().code(),
        ErrorCode::SiteNotConnected
    );
    assert_eq!(
        c.act(
            &host(),
            ChairAction::GiveFloor { site_id: None },
            &r,
            connected
        )
        .unwrap_err()
        .code(),
        ErrorCode::QueueEmpty
    );
    let mute_x = ChairAction::SetMute {
        site_id: "x".into(),
        kind: MediaKind::Audio,
        muted: true,
    };
    assert_eq!(
        c.act(&host(), mute_x, &r, connected).unwrap_err().code(),
        ErrorCode::UnknownSite
    );
    assert_eq!(
        (c.hands().to_vec(), c.holder().map(str::to_owned), c.muted()),
        before
    );
    // A hand of a site that dropped is skipped by "next".
    c.request("b", SiteRequest::RaiseHand, t(1)).unwrap();
    assert_eq!(
        c.act(
            &host(),
            ChairAction::GiveFloor { site_id: None },
            &r,
            connected
        )
        .unwrap_err()
        .code(),
        ErrorCode::QueueEmpty
    );
}

#[test]
fn mute_all_spares_the_host_and_reaches_sites_not_yet_connected() {
    let r = roster();
    let mut c = Chair::new(false);
    let e = c.act(&host(), ChairAction::MuteAll, &r, all).unwrap();
    let muted: Vec<_> = mutes(&e).into_iter().map(|m| m.0).collect();
    assert_eq!(muted, ["a", "b", "c"]);
    assert!(!c.mute_of("host").muted(MediaKind::Audio));
    // Again: nothing new.
    assert_eq!(
        c.act(&host(), ChairAction::MuteAll, &r, all).unwrap(),
        vec![]
    );
    // A controller's unmute lifts it.
    let e = c
        .act(
            &host(),
            ChairAction::SetMute {
                site_id: "b".into(),
                kind: MediaKind::Audio,
                muted: false,
            },
            &r,
            all,
        )
        .unwrap();
    assert_eq!(mutes(&e), vec![("b".into(), false, MutedBy::Site)]);
}

#[test]
fn hands_policy_and_leaving() {
    let r = roster();
    let mut c = Chair::new(false);
    assert_eq!(
        c.request("a", SiteRequest::RaiseHand, t(1)).unwrap().len(),
        1
    );
    assert_eq!(
        c.request("a", SiteRequest::RaiseHand, t(2)).unwrap(),
        vec![]
    );
    assert_eq!(c.hands()[0].raised_at, t(1));
    let e = c
        .act(
            &host(),
            ChairAction::LowerHand {
                site_id: "a".into(),
            },
            &r,
            all,
        )
        .unwrap();
    assert!(matches!(&e[..], [Effect::Hands { raised: false, .. }]));
    assert_eq!(
        c.act(&host(), ChairAction::SetJoinMuted(true), &r, all)
            .unwrap(),
        vec![Effect::Policy { join_muted: true }]
    );
    assert_eq!(
        c.act(&host(), ChairAction::SetJoinMuted(true), &r, all)
            .unwrap(),
        vec![]
    );
    // A drop keeps the floor and the hand; leaving for good loses both.
    c.request("b", SiteRequest::RaiseHand, t(3)).unwrap();
    c.act(
        &host(),
        ChairAction::GiveFloor {
            site_id: Some("a".into()),
        },
        &r,
        all,
    )
    .unwrap();
    assert_eq!(c.on_leave("a", LeaveReason::Drop), vec![]);
    assert_eq!(c.on_leave("b", LeaveReason::Drop), vec![]);
    assert_eq!(c.holder(), Some("a"));
    let e = c.on_leave("a", LeaveReason::Leave);
    assert!(matches!(&e[..], [Effect::Floor { holder: None, .. }]));
    assert_eq!(c.on_leave("b", LeaveReason::Leave).len(), 1);
    assert!(c.hands().is_empty());
}

fn shares(effects: &[Effect]) -> Vec<(Option<String>, Option<String>, ShareReason, Actor)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Share { change, by } => Some((
                change.sharer.clone(),
                change.previous.clone(),
                change.reason,
                by.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn screen_share_one_at_a_time_stopped_by_a_controller_not_by_another_site() {
    let r = roster();
    let mut c = Chair::new(false);
    let e = c.request("a", SiteRequest::StartShare, t(0)).unwrap();
    assert_eq!(
        shares(&e),
        vec![(
            Some("a".into()),
            None,
            ShareReason::Started,
            Actor::Site("a".into())
        )]
    );
    // A second share from the sharing site: refused, nothing changes.
    let err = c.request("a", SiteRequest::StartShare, t(1)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AlreadySharing);
    assert_eq!(c.sharer(), Some("a"));
    // Another site replaces it.
    let e = c.request("b", SiteRequest::StartShare, t(2)).unwrap();
    assert_eq!(
        shares(&e),
        vec![(
            Some("b".into()),
            Some("a".into()),
            ShareReason::Replaced,
            Actor::Site("b".into())
        )]
    );
    // A site stops only its own share.
    let err = c.request("a", SiteRequest::StopShare, t(3)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotSharing);
    // A non-controller cannot stop another site's share (no Controller can be made for it).
    assert_eq!(
        Controller::site(&r, "a").unwrap_err().to_string(),
        "only the host site (host) controls this session, not a"
    );
    // The controller: a site not invited, a site not sharing, then the sharer.
    let stop = |s: &str| ChairAction::StopShare {
        site_id: Some(s.into()),
    };
    assert_eq!(
        c.act(&host(), stop("x"), &r, all).unwrap_err().code(),
        ErrorCode::UnknownSite
    );
    assert_eq!(
        c.act(&host(), stop("c"), &r, all).unwrap_err().code(),
        ErrorCode::NotSharing
    );
    assert_eq!(c.sharer(), Some("b"));
    let e = c.act(&host(), stop("b"), &r, all).unwrap();
    assert_eq!(
        shares(&e),
        vec![(
            None,
            Some("b".into()),
            ShareReason::StoppedByController,
            Actor::Site("host".into())
        )]
    );
    // Nothing shared: stopping is refused.
    assert_eq!(
        c.act(&host(), ChairAction::StopShare { site_id: None }, &r, all)
            .unwrap_err()
            .code(),
        ErrorCode::NotSharing
    );
}

#[test]
fn a_share_ends_with_its_track_or_its_connection() {
    let r = roster();
    let mut c = Chair::new(false);
    c.on_join("a", &r);
    c.request("a", SiteRequest::StartShare, t(0)).unwrap();
    assert_eq!(c.on_screen_ended("b"), vec![]);
    let e = c.on_screen_ended("a");
    assert_eq!(shares(&e)[0].2, ShareReason::Ended);
    assert_eq!(c.sharer(), None);
    c.request("a", SiteRequest::StartShare, t(1)).unwrap();
    let e = c.on_leave("a", LeaveReason::Drop);
    assert_eq!(shares(&e)[0].1.as_deref(), Some("a"));
    assert_eq!(c.sharer(), None);
}
