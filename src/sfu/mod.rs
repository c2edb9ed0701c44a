//! The SFU: live state only. [`Sfu`] keeps one [`room::Room`] per live session; a site that joins
//! becomes a participant with its own control task (`participant`), its published tracks are read
//! and fanned out to down-tracks (`forward`), with header rewriting (`rewrite`) and throttled
//! keyframe requests (`keyframe`) as pure logic. Publish connections are built in `engine`; the
//! subscribe connections are driven by one loop on the shared port (`driver`). The SFU
//! never touches the database: it reports what happens as [`SfuEvent`]s on the [`crate::live`] bus.

pub mod agenda;
pub mod chair;
pub mod chairing;
pub mod control;
pub mod downtrack;
pub mod driver;
pub mod dtx;
pub mod engine;
pub mod floor;
pub mod forward;
pub mod keyframe;
pub mod layout;
pub mod mute;
pub mod participant;
mod participant_chair;
pub mod pause;
pub mod recording;
pub mod rewrite;
pub mod room;
pub mod share;
pub mod speaker;
pub mod udp;

use crate::metrics::Metrics;
use crate::signal::liveness::MediaHealth;
use crate::signal::protocol::{ErrorCode, LeaveReason, PcKind, ServerMsg, SessionRef, SiteRef};
use engine::MediaSettings;
use participant::{Control, Participant};
use room::{Member, Room};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use udp::MediaSocket;
use uuid::Uuid;

/// What happened in a live session: the events of [`crate::live`], emitted by the rooms.
pub use crate::live::Event as SfuEvent;

/// What participants and rooms share: settings, ports, counters, the event channel, the rooms.
pub struct Shared {
    pub settings: MediaSettings,
    pub media: Arc<MediaSocket>,
    /// The loop that drives every peer connection.
    pub driver: driver::Driver,
    /// Where the driver and the media port's receive task run (stops with the SFU).
    _thread: driver::MediaThread,
    pub metrics: Arc<Metrics>,
    /// Chairing settings (join-muted threshold, grid page size, tile limit).
    pub chair: crate::config::ChairConfig,
    events: Arc<crate::live::Bus>,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Sessions being recorded, with what taps their new tracks (`recording`).
    recorders: Mutex<HashMap<String, recording::Recording>>,
}

impl Shared {
    /// Stamps and publishes an event (never blocks: see [`crate::live::Bus`]).
    pub fn emit(&self, event: SfuEvent) {
        self.events.emit(event);
    }

    fn forget_room_if_empty(&self, room: &Arc<Room>) {
        let mut rooms = self.rooms.lock().expect("rooms");
        if room.is_empty()
            && rooms
                .get(&room.session_id)
                .is_some_and(|r| Arc::ptr_eq(r, room))
        {
            rooms.remove(&room.session_id);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error(transparent)]
    Driver(#[from] driver::DriverError),
    #[error("the client's connection closed during the join")]
    ClientGone,
}

/// Why the server removes a connected site (see [`Sfu::evict`]): what the site is told (an
/// `error` whose code closes the socket) and the reason the others see in `participant_left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    LinkReissued,
    InvitationRevoked,
    DeviceRevoked,
    Cancelled,
}

impl Eviction {
    pub fn reason(self) -> LeaveReason {
        match self {
            Eviction::Cancelled => LeaveReason::Cancelled,
            _ => LeaveReason::Revoked,
        }
    }

    pub fn code(self) -> ErrorCode {
        match self {
            Eviction::LinkReissued => ErrorCode::LinkRevoked,
            Eviction::InvitationRevoked => ErrorCode::InvitationRevoked,
            Eviction::DeviceRevoked => ErrorCode::DeviceRevoked,
            Eviction::Cancelled => ErrorCode::SessionCancelled,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Eviction::LinkReissued => "this site's join link was re-issued; use the new link",
            Eviction::InvitationRevoked => "this site's invitation to the session was revoked",
            Eviction::DeviceRevoked => "the device credential of this room PC was revoked",
            Eviction::Cancelled => "the session was cancelled",
        }
    }
}

/// The state of a participant's two peer connections, written by their event handlers and read
/// by the socket task's liveness check.
#[derive(Debug, Default)]
pub struct MediaState {
    publish: std::sync::atomic::AtomicU8,
    subscribe: std::sync::atomic::AtomicU8,
}

impl MediaState {
    pub fn set(&self, kind: PcKind, health: MediaHealth) {
        let slot = match kind {
            PcKind::Publish => &self.publish,
            PcKind::Subscribe => &self.subscribe,
        };
        slot.store(health as u8, std::sync::atomic::Ordering::Relaxed);
    }

    /// The worst of the two.
    pub fn health(&self) -> MediaHealth {
        let load =
            |a: &std::sync::atomic::AtomicU8| match a.load(std::sync::atomic::Ordering::Relaxed) {
                1 => MediaHealth::Connected,
                2 => MediaHealth::Disconnected,
                3 => MediaHealth::Failed,
                _ => MediaHealth::Unknown,
            };
        load(&self.publish).max(load(&self.subscribe))
    }
}

/// A joined participant, as its socket task holds it.
pub struct ParticipantHandle {
    pub id: Uuid,
    /// The session and the site it joined (for the recording messages of the host site).
    pub session_id: String,
    pub site_id: String,
    ctl: mpsc::Sender<Control>,
    media: Arc<MediaState>,
}

impl ParticipantHandle {
    /// What the participant's peer connections report (for the liveness check).
    pub fn media(&self) -> MediaHealth {
        self.media.health()
    }

    /// Hands a client message to the participant's control task.
    pub async fn send(&self, msg: crate::signal::protocol::ClientMsg) {
        let _ = self.ctl.send(Control::Client(msg)).await;
    }

    /// Leaves the session (idempotent).
    pub async fn close(&self, reason: LeaveReason) {
        let _ = self.ctl.send(Control::Close(reason)).await;
    }
}

pub struct Sfu {
    shared: Arc<Shared>,
}

impl Sfu {
    /// The SFU on `media`, whose receive task runs on `thread` (see [`driver::MediaThread`]),
    /// where its driver runs too.
    pub fn new(
        settings: MediaSettings,
        (media, thread): (Arc<MediaSocket>, driver::MediaThread),
        metrics: Arc<Metrics>,
    ) -> Self {
        let events = Arc::new(crate::live::Bus::default());
        let driver = driver::Driver::start(
            media.clone(),
            metrics.clone(),
            settings.egress_queue,
            thread.handle(),
        );
        Sfu {
            shared: Arc::new(Shared {
                settings,
                driver,
                _thread: thread,
                media,
                metrics,
                chair: crate::config::ChairConfig::default(),
                events,
                rooms: Mutex::new(HashMap::new()),
                recorders: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Takes the `[chair]` settings (before any site joins).
    pub fn with_chair(mut self, chair: crate::config::ChairConfig) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.chair = chair;
        }
        self
    }

    /// The bus the rooms' events go out on (lossless queues and a lossy live view).
    pub fn events(&self) -> &Arc<crate::live::Bus> {
        &self.shared.events
    }

    /// The live room of a session, if any site is connected (for control through the API).
    pub fn room(&self, session_id: &str) -> Option<Arc<Room>> {
        self.shared
            .rooms
            .lock()
            .expect("rooms")
            .get(session_id)
            .cloned()
    }

    /// Ids of the sites connected to a session's room now.
    pub fn sites_in(&self, session_id: &str) -> Vec<String> {
        let room = self
            .shared
            .rooms
            .lock()
            .expect("rooms")
            .get(session_id)
            .cloned();
        room.map(|r| r.members().into_iter().map(|m| m.site_id).collect())
            .unwrap_or_default()
    }

    /// UDP ports bound for media: the one shared port.
    pub fn ports_in_use(&self) -> usize {
        1
    }

    /// What the shared media port still routes: (bound remote addresses, registered ICE ufrags,
    /// attached connections). All zero once every connection is gone.
    pub fn media_routes(&self) -> (usize, usize, usize) {
        self.shared.media.routes()
    }

    /// The shared media port's address.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.shared.media.local_addr()
    }

    /// Server stop: every connected site is told (`error server_stop`, then close 1001) and
    /// leaves with the reason `server_stop`; waits up to `grace` for them to be gone.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        let rooms: Vec<Arc<Room>> = self
            .shared
            .rooms
            .lock()
            .expect("rooms")
            .values()
            .cloned()
            .collect();
        for member in rooms.iter().flat_map(|r| r.members()) {
            let _ = member
                .ctl
                .send(Control::Close(LeaveReason::ServerStop))
                .await;
            let _ = member.out.try_send(ServerMsg::Error {
                code: crate::signal::protocol::ErrorCode::ServerStop,
                message: "the server is stopping; join again in a moment".into(),
            });
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.live().1 > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Removes connected sites whose access was withdrawn: every member of the session (or only
    /// `site_id`'s) is sent `error` with the eviction's code (which closes its socket) and leaves
    /// with its reason, which the others see. Returns how many were removed.
    pub async fn evict(&self, session_id: &str, site_id: Option<&str>, why: Eviction) -> usize {
        let room = self
            .shared
            .rooms
            .lock()
            .expect("rooms")
            .get(session_id)
            .cloned();
        let members = room.map(|r| r.members()).unwrap_or_default();
        let victims = members
            .into_iter()
            .filter(|m| site_id.is_none_or(|s| s == m.site_id));
        self.remove_members(victims, why).await
    }

    /// [`Sfu::evict`] for each session (a series cancelled at once).
    pub async fn evict_sessions(&self, session_ids: &[String], why: Eviction) -> usize {
        let mut n = 0;
        for id in session_ids {
            n += self.evict(id, None, why).await;
        }
        n
    }

    /// Removes every site that joined with the device credential `device_id` (in any session).
    pub async fn evict_device(&self, device_id: &str) -> usize {
        let members: Vec<Member> = {
            let rooms = self.shared.rooms.lock().expect("rooms");
            rooms.values().flat_map(|r| r.members()).collect()
        };
        let victims = members
            .into_iter()
            .filter(|m| m.device_id.as_deref() == Some(device_id));
        self.remove_members(victims, Eviction::DeviceRevoked).await
    }

    async fn remove_members(&self, victims: impl Iterator<Item = Member>, why: Eviction) -> usize {
        let mut n = 0;
        for member in victims {
            // Close first: the socket task's own close (when the error ends the socket) comes
            // later on the same channel and finds the participant gone.
            let _ = member.ctl.send(Control::Close(why.reason())).await;
            let _ = member.out.try_send(ServerMsg::Error {
                code: why.code(),
                message: why.message().into(),
            });
            tracing::info!(site = %member.site_id, ?why, "evicted");
            n += 1;
        }
        n
    }

    /// Number of live rooms and connected sites.
    pub fn live(&self) -> (usize, usize) {
        let rooms = self.shared.rooms.lock().expect("rooms");
        (rooms.len(), rooms.values().map(|r| r.member_count()).sum())
    }

    /// Joins a site to a session's room: sends `joined` (and the tracks already live) on `out`,
    /// then the participant's control task takes over. A member of the same site is replaced.
    /// `device_id` is the device credential the socket carried, if any ([`Sfu::evict_device`]);
    /// `invited` the session's invited sites (with `session.host_site_id`, the room's [`control::Roster`]).
    pub async fn join(
        &self,
        session: SessionRef,
        site: SiteRef,
        invited: Vec<String>,
        device_id: Option<String>,
        out: mpsc::Sender<ServerMsg>,
    ) -> Result<ParticipantHandle, SfuError> {
        let shared = &self.shared;
        let roster = control::Roster::new(session.host_site_id.clone(), invited);
        let room = {
            let mut rooms = shared.rooms.lock().expect("rooms");
            let room = rooms
                .entry(session.id.clone())
                .or_insert_with(|| {
                    Arc::new(Room::new(
                        session.id.clone(),
                        session.title.clone(),
                        roster.clone(),
                        roster.sites.len() > shared.chair.join_muted_above_sites,
                        shared.events.clone(),
                        layout::Limits {
                            page_size: shared.chair.grid_page_size,
                            max_tiles: shared.chair.max_tiles,
                        },
                    ))
                })
                .clone();
            room.set_roster(roster);
            room
        };
        let id = Uuid::new_v4();
        let (ctl, rx) = mpsc::channel(256);
        let resync = Arc::new(tokio::sync::Notify::new());
        let media = Arc::new(MediaState::default());
        let events = Box::new(participant::ConnEvents {
            kind: PcKind::Subscribe,
            ctl: ctl.clone(),
            media: media.clone(),
        });
        let subscribe = match shared.driver.open(engine::Direction::Send, events).await {
            Ok(pc) => pc,
            Err(e) => {
                shared.forget_room_if_empty(&room);
                return Err(e.into());
            }
        };
        let member = Member {
            id,
            site_id: site.id.clone(),
            site_name: site.name.clone(),
            out: out.clone(),
            ctl: ctl.clone(),
            resync: resync.clone(),
            device_id,
            audio_muted: false,
            video_muted: false,
            subscription: Default::default(),
        };
        let participant = Participant {
            id,
            site_id: site.id.clone(),
            site_name: site.name.clone(),
            room: room.clone(),
            shared: shared.clone(),
            out: out.clone(),
            ctl: ctl.clone(),
            resync: resync.clone(),
            media: media.clone(),
            subscribe,
            publish: None,
            down: HashMap::new(),
            own: Vec::new(),
            offer_pending: false,
            dirty: false,
            restart: false,
            trickled_ufrag: (None, None),
            content_mid: None,
            _gauges: participant::gauges(shared),
        };
        let replaced = room.add(member, |peers| ServerMsg::Joined {
            v: crate::signal::protocol::PROTOCOL_VERSION,
            participant_id: id.to_string(),
            session: session.clone(),
            site: site.clone(),
            peers,
        });
        if let Some(notice) = shared.recording_notice(&session.id) {
            let _ = out.try_send(notice);
        }
        resync.notify_one();
        tokio::spawn(participant.run(rx));
        if let Some(old) = replaced {
            let _ = old.ctl.send(Control::Close(LeaveReason::Replaced)).await;
        }
        let (recorded_session, recorded_site) = (session.id.clone(), site.id.clone());
        shared.emit(SfuEvent::Joined {
            session_id: session.id,
            site_id: site.id,
            participant_id: id,
        });
        Ok(ParticipantHandle {
            id,
            session_id: recorded_session,
            site_id: recorded_site,
            ctl,
            media,
        })
    }
}
