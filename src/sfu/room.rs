//! One live session: who is connected (one member per site) and which tracks are published.
//! The room is the single place that decides who hears of what: it sends the signaling
//! notifications (joined / left / track published / ended / mute) and tells members to
//! re-synchronise their subscriptions. Its lock is a plain mutex, never held across `.await`.

use super::chair::Chair;
use super::control::{ControlDenied, Controller, Roster};
use super::forward::PublishedTrack;
use super::layout::{self, Feed, Limits, Stage, Subscription};
use super::participant::Control;
use crate::signal::protocol::{LeaveReason, MediaKind, PeerInfo, ServerMsg, TrackSource};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

/// A connected site as the room sees it.
#[derive(Clone)]
pub struct Member {
    pub id: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub out: mpsc::Sender<ServerMsg>,
    pub ctl: mpsc::Sender<Control>,
    /// Wakes the member's control task to reconcile its subscriptions with the room. One stored
    /// wake-up stands for any number of changes (150 joins are one reconciliation, not 150), and
    /// unlike a message on `ctl` it can never be lost to a full queue.
    pub resync: Arc<Notify>,
    /// The device credential the site joined with, if any.
    pub device_id: Option<String>,
    pub audio_muted: bool,
    pub video_muted: bool,
    /// What the site's page shows (its layout decides which video it is sent).
    pub subscription: Subscription,
}

impl Member {
    /// Queues a signaling message. A client whose queue is full is too far behind to follow the
    /// session: it is dropped (it will reconnect) rather than allowed to stall the room.
    pub fn send(&self, msg: ServerMsg) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(msg) {
            tracing::warn!(site = %self.site_id, "signaling queue full; dropping the connection");
            let _ = self.ctl.try_send(Control::Close(LeaveReason::Drop));
        }
    }

    /// Asks the member to bring its subscriptions in line with the room.
    pub fn resync(&self) {
        self.resync.notify_one();
    }

    fn info(&self) -> PeerInfo {
        PeerInfo {
            participant_id: self.id.to_string(),
            site_id: self.site_id.clone(),
            site_name: self.site_name.clone(),
            audio_muted: self.audio_muted,
            video_muted: self.video_muted,
        }
    }
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) members: HashMap<Uuid, Member>,
    pub(super) tracks: Vec<Arc<PublishedTrack>>,
    pub(super) roster: Roster,
    pub(super) chair: Chair,
}

pub struct Room {
    pub session_id: String,
    pub title: String,
    inner: Mutex<Inner>,
    pub(super) events: Arc<crate::live::Bus>,
    pub(super) limits: Limits,
}

impl Room {
    /// A new live room; `join_muted` is the session's initial policy (sites join muted).
    pub fn new(
        session_id: String,
        title: String,
        roster: Roster,
        join_muted: bool,
        events: Arc<crate::live::Bus>,
        limits: Limits,
    ) -> Self {
        Room {
            session_id,
            title,
            inner: Mutex::new(Inner {
                roster,
                chair: Chair::new(join_muted),
                ..Default::default()
            }),
            events,
            limits,
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("room lock")
    }

    /// The host site and the invited sites, as of the latest join.
    pub fn roster(&self) -> Roster {
        self.lock().roster.clone()
    }

    /// Takes the schedule's current host and invited sites (read at every join).
    pub fn set_roster(&self, roster: Roster) {
        self.lock().roster = roster;
    }

    /// Whether `site_id` is the session's host site.
    pub fn is_host(&self, site_id: &str) -> bool {
        self.lock().roster.is_host(site_id)
    }

    /// Control of the session by a connected site: only the host site has it.
    pub fn controller(&self, site_id: &str) -> Result<Controller, ControlDenied> {
        Controller::site(&self.lock().roster, site_id)
    }

    /// Adds a member. Under the room lock, so that nothing can come between: the new member is
    /// sent `welcome(peers)` and one `track_published` per live track of the other sites, and
    /// the others are told it joined. Returns the member of the same site it replaces, if any.
    pub fn add(
        &self,
        mut member: Member,
        welcome: impl FnOnce(Vec<PeerInfo>) -> ServerMsg,
    ) -> Option<Member> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let joined = inner.chair.on_join(&member.site_id, &inner.roster);
        let mute = inner.chair.mute_of(&member.site_id);
        member.audio_muted = mute.muted(MediaKind::Audio);
        member.video_muted = mute.muted(MediaKind::Video);
        let replaced = inner
            .members
            .values()
            .find(|m| m.site_id == member.site_id)
            .cloned();
        let peers = inner
            .members
            .values()
            .filter(|m| m.site_id != member.site_id)
            .map(Member::info)
            .collect();
        for m in inner
            .members
            .values()
            .filter(|m| m.site_id != member.site_id)
        {
            m.send(ServerMsg::ParticipantJoined {
                participant_id: member.id.to_string(),
                site_id: member.site_id.clone(),
                site_name: member.site_name.clone(),
            });
            // The host's grid of connected sites shifts.
            m.resync();
        }
        member.send(welcome(peers));
        for t in inner.tracks.iter().filter(|t| t.site_id != member.site_id) {
            member.send(announce(t));
        }
        for msg in self.chair_state(inner) {
            member.send(msg);
        }
        inner.members.insert(member.id, member);
        self.apply(inner, joined);
        replaced
    }

    /// Removes a member and tells the others. Its tracks must have been unpublished first.
    pub fn remove(&self, id: Uuid, reason: LeaveReason) -> Option<Member> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let gone = inner.members.remove(&id)?;
        for m in inner.members.values() {
            m.send(ServerMsg::ParticipantLeft {
                participant_id: id.to_string(),
                site_id: gone.site_id.clone(),
                reason,
            });
            m.resync();
        }
        let left = inner.chair.on_leave(&gone.site_id, reason);
        self.apply(inner, left);
        Some(gone)
    }

    pub fn is_empty(&self) -> bool {
        self.lock().members.is_empty()
    }

    /// Every member, for a server-wide notice.
    pub fn members(&self) -> Vec<Member> {
        self.lock().members.values().cloned().collect()
    }

    /// What a controller sees of the room now (the console's live view).
    pub fn view(&self) -> LiveView {
        let inner = self.lock();
        let mut sites: Vec<LiveSite> = inner
            .members
            .values()
            .map(|m| {
                let mute = inner.chair.mute_of(&m.site_id);
                LiveSite {
                    site_id: m.site_id.clone(),
                    site_name: m.site_name.clone(),
                    audio_muted: m.audio_muted,
                    video_muted: m.video_muted,
                    audio_muted_by_chair: mute.chair_holds(MediaKind::Audio),
                    video_muted_by_chair: mute.chair_holds(MediaKind::Video),
                }
            })
            .collect();
        sites.sort_by(|a, b| {
            (!inner.roster.is_host(&a.site_id), &a.site_id)
                .cmp(&(!inner.roster.is_host(&b.site_id), &b.site_id))
        });
        LiveView {
            session_id: self.session_id.clone(),
            host_site_id: inner.roster.host_site_id.clone(),
            sites,
            hands: inner.chair.hands().to_vec(),
            floor: inner.chair.holder().map(str::to_owned),
            join_muted: inner.chair.join_muted(),
            sharer: inner.chair.sharer().map(str::to_owned),
        }
    }

    pub fn member_count(&self) -> usize {
        self.lock().members.len()
    }

    /// The tracks a member should receive: the audio of other sites that can be heard (not
    /// muted), and the video its layout shows (cameras, and the screen of the site sharing).
    /// A muted site's audio is not negotiated at all, so a briefing of 150 muted communes costs
    /// each page only the few audio tracks that are live, and a muted site joining changes no
    /// other site's subscription (only the host's grid, when it lands on the page shown).
    pub fn tracks_for(&self, subscriber: Uuid) -> Vec<Arc<PublishedTrack>> {
        let inner = self.lock();
        let Some(me) = inner.members.get(&subscriber) else {
            return Vec::new();
        };
        let connected = connected_sites(&inner);
        let stage = Stage {
            roster: &inner.roster,
            connected: &connected,
            floor: inner.chair.holder(),
            sharer: inner.chair.sharer(),
        };
        let video = layout::video_for(&me.site_id, &me.subscription, &stage, self.limits);
        inner
            .tracks
            .iter()
            .filter(|t| t.site_id != me.site_id)
            .filter(|t| {
                (t.kind == MediaKind::Audio && !t.is_muted())
                    || video.contains(&Feed {
                        site_id: t.site_id.clone(),
                        source: t.source,
                    })
            })
            .cloned()
            .collect()
    }

    /// Every live track of the room (a recorder taps them all).
    pub fn tracks(&self) -> Vec<Arc<PublishedTrack>> {
        self.lock().tracks.clone()
    }

    /// Makes a track live: announces it, then asks every other member to subscribe.
    pub fn publish(&self, track: Arc<PublishedTrack>) {
        let mut inner = self.lock();
        track.set_muted(inner.chair.mute_of(&track.site_id).muted(track.kind));
        for m in inner
            .members
            .values()
            .filter(|m| m.site_id != track.site_id)
        {
            m.send(announce(&track));
            m.resync();
        }
        inner.tracks.push(track);
    }

    /// Ends a track (idempotent): announces the end and asks members to unsubscribe. The end of
    /// a screen track ends its site's share.
    pub fn unpublish(&self, track: &Arc<PublishedTrack>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let before = inner.tracks.len();
        inner.tracks.retain(|t| !Arc::ptr_eq(t, track));
        if inner.tracks.len() == before {
            return;
        }
        if track.source == TrackSource::Screen {
            let ended = inner.chair.on_screen_ended(&track.site_id);
            self.apply(inner, ended);
        }
        for m in inner
            .members
            .values()
            .filter(|m| m.site_id != track.site_id)
        {
            m.send(ServerMsg::TrackEnded {
                participant_id: track.owner.to_string(),
                site_id: track.site_id.clone(),
                kind: track.kind,
                stream_id: track.stream_id.clone(),
                track_id: track.track_id.clone(),
                source: track.source,
            });
            m.resync();
        }
    }
}

/// The connected sites, sorted by id (the order of the host's grid).
pub(super) fn connected_sites(inner: &Inner) -> Vec<String> {
    let mut v: Vec<String> = inner.members.values().map(|m| m.site_id.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// The live state of a session for its controllers (`GET /api/sessions/{id}/live`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LiveView {
    pub session_id: String,
    pub host_site_id: String,
    /// The connected sites, host first, then by id.
    pub sites: Vec<LiveSite>,
    /// Raised hands, first raised first.
    pub hands: Vec<crate::signal::protocol::Hand>,
    /// The site holding the floor.
    pub floor: Option<String>,
    /// Whether sites join with their microphone muted by the chair.
    pub join_muted: bool,
    /// The site sharing its screen.
    pub sharer: Option<String>,
}

/// A connected site in [`LiveView`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LiveSite {
    pub site_id: String,
    pub site_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    /// The chair holds the mute: the site cannot lift it.
    pub audio_muted_by_chair: bool,
    pub video_muted_by_chair: bool,
}

/// The `track_published` message for a track.
pub fn announce(track: &PublishedTrack) -> ServerMsg {
    ServerMsg::TrackPublished {
        participant_id: track.owner.to_string(),
        site_id: track.site_id.clone(),
        site_name: track.site_name.clone(),
        kind: track.kind,
        stream_id: track.stream_id.clone(),
        track_id: track.track_id.clone(),
        source: track.source,
    }
}
