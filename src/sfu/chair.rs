//! The chair of a live session, pure: the floor (`floor`), the mutes of every site (`mute`) and
//! the policy "sites join muted", changed by a site about itself ([`SiteRequest`]) or by a
//! [`Controller`] ([`ChairAction`]). Every call checks first and changes nothing when it refuses;
//! it returns the [`Effect`]s that the room turns into signaling messages, forwarding gates and
//! live events. Giving the floor unmutes the holder's microphone; taking it back mutes it again.

use super::control::{Actor, Controller, Roster};
use super::floor::{Floor, FloorError};
use super::mute::{MuteChange, MuteError, SiteMute};
use crate::signal::protocol::{ErrorCode, Hand, LeaveReason, MediaKind};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What a site asks about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRequest {
    RaiseHand,
    LowerHand,
    Mute { kind: MediaKind, muted: bool },
}

/// What a controller does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChairAction {
    /// To `site_id`, or to the first in the queue.
    GiveFloor {
        site_id: Option<String>,
    },
    RevokeFloor,
    LowerHand {
        site_id: String,
    },
    SetMute {
        site_id: String,
        kind: MediaKind,
        muted: bool,
    },
    /// The microphone of every invited site but the host.
    MuteAll,
    SetJoinMuted(bool),
}

/// What a change did, for the room to tell and apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The queue changed (a hand went up or down); `raised` or `lowered` names the site.
    Hands {
        site_id: String,
        raised: bool,
        by: Actor,
    },
    /// The floor moved from `previous` to `holder`.
    Floor {
        previous: Option<String>,
        holder: Option<String>,
        by: Actor,
    },
    /// A site's effective mute changed: gate its track, tell everyone.
    Mute {
        site_id: String,
        change: MuteChange,
        by: Actor,
    },
    Policy {
        join_muted: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChairError {
    #[error(transparent)]
    NotController(#[from] super::control::ControlDenied),
    #[error("site {0} is not invited to this session")]
    UnknownSite(String),
    #[error("site {0} is not connected")]
    NotConnected(String),
    #[error(transparent)]
    Floor(#[from] FloorError),
    #[error(transparent)]
    Mute(#[from] MuteError),
    #[error("no site is connected to this session")]
    NotLive,
    #[error("{0}")]
    BadValue(String),
}

impl From<super::layout::LayoutError> for ChairError {
    fn from(e: super::layout::LayoutError) -> Self {
        match e {
            super::layout::LayoutError::UnknownSite(s) => ChairError::UnknownSite(s),
            super::layout::LayoutError::Bad(m) => ChairError::BadValue(m),
        }
    }
}

impl ChairError {
    /// The protocol's error code (and, through `api`, the HTTP status).
    pub fn code(&self) -> ErrorCode {
        match self {
            ChairError::NotController(_) => ErrorCode::NotController,
            ChairError::UnknownSite(_) => ErrorCode::UnknownSite,
            ChairError::NotConnected(_) | ChairError::NotLive => ErrorCode::SiteNotConnected,
            ChairError::Floor(FloorError::QueueEmpty) => ErrorCode::QueueEmpty,
            ChairError::Mute(_) => ErrorCode::MutedByChair,
            ChairError::BadValue(_) => ErrorCode::BadMessage,
        }
    }
}

/// The chairing state of one session.
#[derive(Debug, Clone, Default)]
pub struct Chair {
    floor: Floor,
    mutes: HashMap<String, SiteMute>,
    join_muted: bool,
}

impl Chair {
    /// A new session's chair: sites join muted when `join_muted` (the policy's default).
    pub fn new(join_muted: bool) -> Self {
        Chair {
            join_muted,
            ..Default::default()
        }
    }

    pub fn hands(&self) -> &[Hand] {
        self.floor.hands()
    }

    pub fn holder(&self) -> Option<&str> {
        self.floor.holder()
    }

    pub fn join_muted(&self) -> bool {
        self.join_muted
    }

    /// A site's mutes (none: all on).
    pub fn mute_of(&self, site_id: &str) -> SiteMute {
        self.mutes.get(site_id).copied().unwrap_or_default()
    }

    /// Every site with a mute in force: (site, kind, by).
    pub fn muted(&self) -> Vec<(String, MuteChange)> {
        let mut out = Vec::new();
        for (site, m) in &self.mutes {
            for kind in [MediaKind::Audio, MediaKind::Video] {
                if m.muted(kind) {
                    out.push((
                        site.clone(),
                        MuteChange {
                            kind,
                            muted: true,
                            by: m.by(kind),
                        },
                    ));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn chair_mute(
        &mut self,
        site_id: &str,
        kind: MediaKind,
        muted: bool,
        by: &Actor,
    ) -> Vec<Effect> {
        let change = self
            .mutes
            .entry(site_id.to_string())
            .or_default()
            .by_chair(kind, muted);
        change
            .map(|change| Effect::Mute {
                site_id: site_id.to_string(),
                change,
                by: by.clone(),
            })
            .into_iter()
            .collect()
    }

    /// A site connected: its own mutes start over; the first time, the join policy applies
    /// (not to the host, nor to the floor holder).
    pub fn on_join(&mut self, site_id: &str, roster: &Roster) -> Vec<Effect> {
        if let Some(m) = self.mutes.get_mut(site_id) {
            m.rejoin();
            return Vec::new();
        }
        self.mutes.insert(site_id.to_string(), SiteMute::default());
        if self.join_muted && !roster.is_host(site_id) && self.holder() != Some(site_id) {
            return self.chair_mute(site_id, MediaKind::Audio, true, &Actor::Policy);
        }
        Vec::new()
    }

    /// A site left. A site that dropped (or was replaced by its own new connection) keeps its
    /// hand and the floor, as it comes back; one that left for good loses both.
    pub fn on_leave(&mut self, site_id: &str, reason: LeaveReason) -> Vec<Effect> {
        if matches!(reason, LeaveReason::Drop | LeaveReason::Replaced) {
            return Vec::new();
        }
        let by = Actor::Site(site_id.to_string());
        let (lowered, change) = self.floor.forget(site_id);
        let mut out = Vec::new();
        if lowered {
            out.push(Effect::Hands {
                site_id: site_id.to_string(),
                raised: false,
                by: by.clone(),
            });
        }
        if change.moved() {
            out.push(Effect::Floor {
                previous: change.previous,
                holder: change.holder,
                by,
            });
        }
        out
    }

    /// A site's request about itself. `site_id` must be connected (the caller's own socket).
    pub fn request(
        &mut self,
        site_id: &str,
        req: SiteRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, ChairError> {
        let by = Actor::Site(site_id.to_string());
        Ok(match req {
            SiteRequest::RaiseHand => self
                .floor
                .raise(site_id, now)
                .then(|| Effect::Hands {
                    site_id: site_id.to_string(),
                    raised: true,
                    by,
                })
                .into_iter()
                .collect(),
            SiteRequest::LowerHand => self
                .floor
                .lower(site_id)
                .then(|| Effect::Hands {
                    site_id: site_id.to_string(),
                    raised: false,
                    by,
                })
                .into_iter()
                .collect(),
            SiteRequest::Mute { kind, muted } => {
                let m = self.mutes.entry(site_id.to_string()).or_default();
                let change = m.by_site(kind, muted)?;
                change
                    .map(|change| Effect::Mute {
                        site_id: site_id.to_string(),
                        change,
                        by,
                    })
                    .into_iter()
                    .collect()
            }
        })
    }

    /// A controller's action. `connected` says whether a site is connected now.
    pub fn act(
        &mut self,
        by: &Controller,
        action: ChairAction,
        roster: &Roster,
        connected: impl Fn(&str) -> bool,
    ) -> Result<Vec<Effect>, ChairError> {
        let actor = by.actor().clone();
        let invited = |site: &str| {
            if roster.is_invited(site) {
                Ok(())
            } else {
                Err(ChairError::UnknownSite(site.to_string()))
            }
        };
        match action {
            ChairAction::GiveFloor { site_id } => {
                let change = match site_id {
                    Some(site) => {
                        invited(&site)?;
                        if !connected(&site) {
                            return Err(ChairError::NotConnected(site));
                        }
                        self.floor.give(&site)
                    }
                    None => {
                        // The first connected hand; a hand of a site that dropped waits.
                        let next = self
                            .floor
                            .hands()
                            .iter()
                            .find(|h| connected(&h.site_id))
                            .map(|h| h.site_id.clone())
                            .ok_or(FloorError::QueueEmpty)?;
                        self.floor.give(&next)
                    }
                };
                let mut out = Vec::new();
                if let Some(site) = change.lowered.clone() {
                    out.push(Effect::Hands {
                        site_id: site,
                        raised: false,
                        by: actor.clone(),
                    });
                }
                if change.moved() {
                    out.extend(self.floor_mutes(&change.previous, &change.holder, roster, &actor));
                    out.push(Effect::Floor {
                        previous: change.previous,
                        holder: change.holder,
                        by: actor,
                    });
                }
                Ok(out)
            }
            ChairAction::RevokeFloor => {
                let change = self.floor.revoke();
                let mut out = self.floor_mutes(&change.previous, &None, roster, &actor);
                if change.moved() {
                    out.push(Effect::Floor {
                        previous: change.previous,
                        holder: None,
                        by: actor,
                    });
                }
                Ok(out)
            }
            ChairAction::LowerHand { site_id } => {
                invited(&site_id)?;
                let lowered = self.floor.lower(&site_id);
                Ok(lowered
                    .then_some(Effect::Hands {
                        site_id,
                        raised: false,
                        by: actor,
                    })
                    .into_iter()
                    .collect())
            }
            ChairAction::SetMute {
                site_id,
                kind,
                muted,
            } => {
                invited(&site_id)?;
                Ok(self.chair_mute(&site_id, kind, muted, &actor))
            }
            ChairAction::MuteAll => {
                let sites: Vec<String> = roster
                    .sites
                    .iter()
                    .filter(|s| !roster.is_host(s))
                    .cloned()
                    .collect();
                Ok(sites
                    .iter()
                    .flat_map(|s| self.chair_mute(s, MediaKind::Audio, true, &actor))
                    .collect())
            }
            ChairAction::SetJoinMuted(on) => {
                let changed = std::mem::replace(&mut self.join_muted, on) != on;
                Ok(changed
                    .then_some(Effect::Policy { join_muted: on })
                    .into_iter()
                    .collect())
            }
        }
    }

    /// The floor moved: the new holder's microphone on, the previous holder's off (the host's is
    /// never touched by the floor).
    fn floor_mutes(
        &mut self,
        previous: &Option<String>,
        holder: &Option<String>,
        roster: &Roster,
        by: &Actor,
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Some(p) = previous.as_deref().filter(|p| !roster.is_host(p))
            && holder.as_deref() != Some(p)
        {
            out.extend(self.chair_mute(p, MediaKind::Audio, true, by));
        }
        if let Some(h) = holder.as_deref().filter(|h| !roster.is_host(h)) {
            out.extend(self.chair_mute(h, MediaKind::Audio, false, by));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::protocol::MutedBy;
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
}
