//! The SFU: live state only. [`Sfu`] keeps one [`room::Room`] per live session; a site that joins
//! becomes a participant with its own control task (`participant`), its published tracks are read
//! and fanned out to down-tracks (`forward`), with header rewriting (`rewrite`) and throttled
//! keyframe requests (`keyframe`) as pure logic. Peer connections are built in `engine`. The SFU
//! never touches the database: it reports what happens as [`SfuEvent`]s on the [`crate::live`] bus.

pub mod engine;
pub mod forward;
pub mod keyframe;
pub mod participant;
pub mod rewrite;
pub mod room;

use crate::metrics::Metrics;
use crate::signal::protocol::{LeaveReason, PcKind, ServerMsg, SessionRef, SiteRef};
use engine::{MediaSettings, PortPool};
use participant::{Control, Participant, PcHandler};
use room::{Member, Room};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// What happened in a live session: the events of [`crate::live`], emitted by the rooms.
pub use crate::live::Event as SfuEvent;

/// What participants and rooms share: settings, ports, counters, the event channel, the rooms.
pub struct Shared {
    pub settings: MediaSettings,
    pub ports: Arc<PortPool>,
    pub metrics: Arc<Metrics>,
    events: Arc<crate::live::Bus>,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
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
    Engine(#[from] engine::EngineError),
    #[error("the client's connection closed during the join")]
    ClientGone,
}

/// A joined participant, as its socket task holds it.
pub struct ParticipantHandle {
    pub id: Uuid,
    ctl: mpsc::Sender<Control>,
}

impl ParticipantHandle {
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
    pub fn new(settings: MediaSettings, ports: Arc<PortPool>, metrics: Arc<Metrics>) -> Self {
        let events = Arc::new(crate::live::Bus::default());
        Sfu {
            shared: Arc::new(Shared {
                settings,
                ports,
                metrics,
                events,
                rooms: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The bus the rooms' events go out on (lossless queues and a lossy live view).
    pub fn events(&self) -> &Arc<crate::live::Bus> {
        &self.shared.events
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

    pub fn ports_in_use(&self) -> usize {
        self.shared.ports.in_use()
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

    /// Number of live rooms and connected sites.
    pub fn live(&self) -> (usize, usize) {
        let rooms = self.shared.rooms.lock().expect("rooms");
        (rooms.len(), rooms.values().map(|r| r.member_count()).sum())
    }

    /// Joins a site to a session's room: sends `joined` (and the tracks already live) on `out`,
    /// then the participant's control task takes over. A member of the same site is replaced.
    pub async fn join(
        &self,
        session: SessionRef,
        site: SiteRef,
        out: mpsc::Sender<ServerMsg>,
    ) -> Result<ParticipantHandle, SfuError> {
        let shared = &self.shared;
        let room = {
            let mut rooms = shared.rooms.lock().expect("rooms");
            rooms
                .entry(session.id.clone())
                .or_insert_with(|| Arc::new(Room::new(session.id.clone(), session.title.clone())))
                .clone()
        };
        let id = Uuid::new_v4();
        let (ctl, rx) = mpsc::channel(256);
        let handler = Arc::new(PcHandler {
            kind: PcKind::Subscribe,
            ctl: ctl.clone(),
        });
        let subscribe = match engine::new_peer_connection(
            &shared.settings,
            &shared.ports,
            &shared.metrics,
            handler,
        )
        .await
        {
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
            audio_muted: false,
            video_muted: false,
        };
        let participant = Participant {
            id,
            site_id: site.id.clone(),
            site_name: site.name.clone(),
            room: room.clone(),
            shared: shared.clone(),
            out: out.clone(),
            ctl: ctl.clone(),
            subscribe,
            publish: None,
            down: HashMap::new(),
            own: Vec::new(),
            offer_pending: false,
            dirty: false,
            _gauges: participant::gauges(shared),
        };
        let replaced = room.add(member, |peers| ServerMsg::Joined {
            v: crate::signal::protocol::PROTOCOL_VERSION,
            participant_id: id.to_string(),
            session: session.clone(),
            site: site.clone(),
            peers,
        });
        let _ = ctl.send(Control::Sync).await;
        tokio::spawn(participant.run(rx));
        if let Some(old) = replaced {
            let _ = old.ctl.send(Control::Close(LeaveReason::Replaced)).await;
        }
        shared.emit(SfuEvent::Joined {
            session_id: session.id,
            site_id: site.id,
            participant_id: id,
        });
        Ok(ParticipantHandle { id, ctl })
    }
}
