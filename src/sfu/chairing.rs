//! The room's side of chairing: runs the pure [`Chair`](super::chair::Chair) under the room lock
//! and applies what it decided — the forwarding gate of a muted track (a muted track is not
//! forwarded at all), the signaling messages (`hands_changed`, `floor_changed`, `mute_changed`,
//! `chair_policy`, `share_changed`), the live events, and a re-sync of every member's
//! subscriptions when the floor or the screen share moves (the default layouts follow them). One entry for sites ([`Room::request`], [`Room::act_as`])
//! and one for users of the API ([`Room::act`]).

use super::chair::{ChairAction, ChairError, Effect, SiteRequest};
use super::control::Controller;
use super::layout::{self, Stage};
use super::room::{Inner, Room, connected_sites};
use crate::live::Event;
use crate::signal::protocol::{MediaKind, ServerMsg, ShareReason, TileRequest};
use uuid::Uuid;

impl Room {
    /// A site's request about itself (hand, own mute), from its member `id`.
    pub fn request(&self, id: Uuid, req: SiteRequest) -> Result<(), ChairError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let site = inner
            .members
            .get(&id)
            .map(|m| m.site_id.clone())
            .ok_or(ChairError::NotLive)?;
        let effects = inner.chair.request(&site, req, chrono::Utc::now())?;
        self.apply(inner, effects);
        Ok(())
    }

    /// What a site's page shows (`subscribe`): checked, kept, and the site's subscriptions
    /// re-synchronised (new video starts with a keyframe).
    pub fn subscribe(
        &self,
        id: Uuid,
        video: Option<Vec<TileRequest>>,
        page: Option<u32>,
    ) -> Result<(), ChairError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let connected = connected_sites(inner);
        let me = inner.members.get(&id).ok_or(ChairError::NotLive)?;
        let stage = Stage {
            roster: &inner.roster,
            connected: &connected,
            floor: inner.chair.holder(),
            sharer: inner.chair.sharer(),
        };
        let sub = layout::validate(&me.site_id, video, page, &stage, self.limits)?;
        if let Some(me) = inner.members.get_mut(&id) {
            me.subscription = sub;
            me.resync();
        }
        Ok(())
    }

    /// A control message of a connected site: refused unless it is the host site.
    pub fn act_as(&self, site_id: &str, action: ChairAction) -> Result<(), ChairError> {
        let by = self.controller(site_id)?;
        self.act(&by, action)
    }

    /// A controller's action.
    pub fn act(&self, by: &Controller, action: ChairAction) -> Result<(), ChairError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let members = &inner.members;
        let connected = |site: &str| members.values().any(|m| m.site_id == site);
        let effects = inner.chair.act(by, action, &inner.roster, connected)?;
        self.apply(inner, effects);
        Ok(())
    }

    /// A site started or stopped speaking (from its audio levels): everyone is told, and the live
    /// events get a speaking turn.
    pub fn speaking(&self, site_id: &str, speaking: bool) {
        let inner = self.lock();
        broadcast(
            &inner,
            ServerMsg::Speaking {
                site_id: site_id.to_string(),
                speaking,
            },
        );
        drop(inner);
        self.events.emit(Event::Speaking {
            session_id: self.session_id.clone(),
            site_id: site_id.to_string(),
            speaking,
        });
    }

    /// What a member is told after `joined`: the queue, the floor, the policy, the screen share,
    /// every mute.
    pub(super) fn chair_state(&self, inner: &Inner) -> Vec<ServerMsg> {
        let mut out = vec![
            ServerMsg::HandsChanged {
                hands: inner.chair.hands().to_vec(),
            },
            ServerMsg::FloorChanged {
                site_id: inner.chair.holder().map(str::to_owned),
                previous: None,
            },
            ServerMsg::ChairPolicy {
                join_muted: inner.chair.join_muted(),
                page_size: self.limits.page_size as u32,
            },
            ServerMsg::ShareChanged {
                site_id: inner.chair.sharer().map(str::to_owned),
                previous: None,
                reason: ShareReason::Started,
            },
        ];
        for (site_id, m) in inner.chair.muted() {
            out.push(ServerMsg::MuteChanged {
                participant_id: participant_of(inner, &site_id),
                site_id,
                kind: m.kind,
                muted: m.muted,
                by: m.by,
            });
        }
        out
    }

    /// Applies the chair's decisions: gates, member state, messages to every member, events.
    pub(super) fn apply(&self, inner: &mut Inner, effects: Vec<Effect>) {
        let session_id = || self.session_id.clone();
        for effect in effects {
            match effect {
                Effect::Hands {
                    site_id,
                    raised,
                    by,
                } => {
                    broadcast(
                        inner,
                        ServerMsg::HandsChanged {
                            hands: inner.chair.hands().to_vec(),
                        },
                    );
                    self.events.emit(if raised {
                        Event::HandRaised {
                            session_id: session_id(),
                            site_id,
                        }
                    } else {
                        Event::HandLowered {
                            session_id: session_id(),
                            site_id,
                            by,
                        }
                    });
                }
                Effect::Floor {
                    previous,
                    holder,
                    by,
                } => {
                    broadcast(
                        inner,
                        ServerMsg::FloorChanged {
                            site_id: holder.clone(),
                            previous: previous.clone(),
                        },
                    );
                    if let Some(site_id) = previous {
                        self.events.emit(Event::FloorRevoked {
                            session_id: session_id(),
                            site_id,
                            by: by.clone(),
                        });
                    }
                    if let Some(site_id) = holder {
                        self.events.emit(Event::FloorGiven {
                            session_id: session_id(),
                            site_id,
                            by,
                        });
                    }
                    for m in inner.members.values() {
                        m.resync();
                    }
                }
                Effect::Mute {
                    site_id,
                    change,
                    by,
                } => {
                    for t in inner
                        .tracks
                        .iter()
                        .filter(|t| t.site_id == site_id && t.kind == change.kind)
                    {
                        t.set_muted(change.muted);
                    }
                    for m in inner.members.values_mut().filter(|m| m.site_id == site_id) {
                        match change.kind {
                            MediaKind::Audio => m.audio_muted = change.muted,
                            MediaKind::Video => m.video_muted = change.muted,
                        }
                    }
                    broadcast(
                        inner,
                        ServerMsg::MuteChanged {
                            participant_id: participant_of(inner, &site_id),
                            site_id: site_id.clone(),
                            kind: change.kind,
                            muted: change.muted,
                            by: change.by,
                        },
                    );
                    // A muted site's audio is not negotiated: the others drop it or take it up
                    // (the gate above already stopped or let through its packets).
                    if change.kind == MediaKind::Audio {
                        for m in inner.members.values().filter(|m| m.site_id != site_id) {
                            m.resync();
                        }
                    }
                    self.events.emit(Event::MuteChanged {
                        session_id: session_id(),
                        site_id,
                        kind: change.kind,
                        muted: change.muted,
                        by,
                    });
                }
                Effect::Share { change, by } => {
                    broadcast(
                        inner,
                        ServerMsg::ShareChanged {
                            site_id: change.sharer.clone(),
                            previous: change.previous.clone(),
                            reason: change.reason,
                        },
                    );
                    if let Some(site_id) = change.previous {
                        self.events.emit(Event::ScreenShare {
                            session_id: session_id(),
                            site_id,
                            sharing: false,
                            by: by.clone(),
                            reason: change.reason,
                        });
                    }
                    if let Some(site_id) = change.sharer {
                        self.events.emit(Event::ScreenShare {
                            session_id: session_id(),
                            site_id,
                            sharing: true,
                            by,
                            reason: change.reason,
                        });
                    }
                    for m in inner.members.values() {
                        m.resync();
                    }
                }
                Effect::Policy { join_muted } => {
                    let page_size = self.limits.page_size as u32;
                    broadcast(
                        inner,
                        ServerMsg::ChairPolicy {
                            join_muted,
                            page_size,
                        },
                    );
                }
            }
        }
    }
}

fn broadcast(inner: &Inner, msg: ServerMsg) {
    for m in inner.members.values() {
        m.send(msg.clone());
    }
}

fn participant_of(inner: &Inner, site_id: &str) -> String {
    inner
        .members
        .values()
        .find(|m| m.site_id == site_id)
        .map(|m| m.id.to_string())
        .unwrap_or_default()
}
