//! The chair of a live session, pure: the floor (`floor`), the mutes of every site (`mute`) and
//! the policy "sites join muted", changed by a site about itself ([`SiteRequest`]) or by a
//! [`Controller`] ([`ChairAction`]). Every call checks first and changes nothing when it refuses;
//! it returns the [`Effect`]s that the room turns into signaling messages, forwarding gates and
//! live events. Giving the floor unmutes the holder's microphone; taking it back mutes it again.
//! The screen share (`share`) is kept here too, so that one call decides for floor, mutes and share.

use super::control::{Actor, Controller, Roster};
use super::floor::{Floor, FloorError};
use super::mute::{MuteChange, MuteError, SiteMute};
use super::share::{Share, ShareChange, ShareError};
use crate::signal::protocol::{ErrorCode, Hand, LeaveReason, MediaKind};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What a site asks about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRequest {
    RaiseHand,
    LowerHand,
    Mute {
        kind: MediaKind,
        muted: bool,
    },
    /// Start sharing the screen (replacing another site's share).
    StartShare,
    /// Stop the own share.
    StopShare,
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
    /// Stop the screen share of `site_id`, or (absent) whoever shares.
    StopShare {
        site_id: Option<String>,
    },
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
    /// The screen share changed: re-sync every member, tell everyone.
    Share {
        change: ShareChange,
        by: Actor,
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
    #[error(transparent)]
    Share(#[from] ShareError),
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
            ChairError::Share(ShareError::AlreadySharing(_)) => ErrorCode::AlreadySharing,
            ChairError::Share(_) => ErrorCode::NotSharing,
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
    share: Share,
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

    /// The site sharing its screen.
    pub fn sharer(&self) -> Option<&str> {
        self.share.sharer()
    }

    /// A site's screen track ended: its share, if any, ends.
    pub fn on_screen_ended(&mut self, site_id: &str) -> Vec<Effect> {
        share_effect(
            self.share.on_ended(site_id),
            Actor::Site(site_id.to_string()),
        )
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
    /// Its screen share ends in every case (the capture went with the connection).
    pub fn on_leave(&mut self, site_id: &str, reason: LeaveReason) -> Vec<Effect> {
        let mut out = self.on_screen_ended(site_id);
        if matches!(reason, LeaveReason::Drop | LeaveReason::Replaced) {
            return out;
        }
        let by = Actor::Site(site_id.to_string());
        let (lowered, change) = self.floor.forget(site_id);
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
            SiteRequest::StartShare => share_effect(Some(self.share.start(site_id)?), by),
            SiteRequest::StopShare => share_effect(Some(self.share.stop_own(site_id)?), by),
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
            ChairAction::StopShare { site_id } => {
                if let Some(site) = &site_id {
                    invited(site)?;
                }
                let change = self.share.stop_by_controller(site_id.as_deref())?;
                Ok(share_effect(Some(change), actor))
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

fn share_effect(change: Option<ShareChange>, by: Actor) -> Vec<Effect> {
    change
        .map(|change| Effect::Share { change, by })
        .into_iter()
        .collect()
}

#[cfg(test)]
#[path = "chair_tests.rs"]
mod tests;
