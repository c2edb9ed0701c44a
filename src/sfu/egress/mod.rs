//! The subscribe connections (what the server sends each site) on the sans-IO `rtc` core, every
//! one of them driven by one loop ([`run`]) on the shared media port, instead of a webrtc driver
//! task, a timer and channels per connection. The loop owns the connections; everything else
//! reaches one through its [`SubConn`] handle, whose calls run on the connection inside the loop
//! and answer through a one-shot channel. The published tracks' fan-out hands each packet to the
//! loop through one bounded queue ([`EgressSink`], a full queue drops); the loop rewrites every
//! packet it has for its down-track (`rewrite`) and writes it to the connection, then sends what
//! the connections produced.
//! A site's keyframe requests (PLI, FIR) on a track go to the publisher of that track.

mod build;
mod run;

use super::forward::{DownSink, Offered, PublishedTrack};
use super::udp::MediaSocket;
use crate::metrics::{Gauge, Kind, Metrics};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

pub use build::BuildError;

/// Control calls queued for the loop (joins, negotiations, leaves); callers wait for room.
const COMMANDS: usize = 1024;

/// One packet for one down-track (`down`, of sender `sender`) of one connection.
pub struct Write {
    pub conn: u64,
    pub sender: RTCRtpSenderId,
    pub down: u64,
    pub packet: rtp::Packet,
}

/// A down-track's way into the loop (see [`DownSink`]).
pub struct EgressSink {
    writes: mpsc::Sender<Write>,
    conn: u64,
    sender: RTCRtpSenderId,
    down: u64,
}

impl DownSink for EgressSink {
    fn offer(&self, packet: rtp::Packet) -> Offered {
        let w = Write {
            conn: self.conn,
            sender: self.sender,
            down: self.down,
            packet,
        };
        match self.writes.try_send(w) {
            Ok(()) => Offered::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => Offered::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Offered::Closed,
        }
    }
}

/// What runs on a connection inside the loop.
type Call = Box<dyn FnOnce(&mut run::Conn, Instant) + Send>;

enum Command {
    Open(Box<run::Conn>),
    Call(u64, Call),
    Close(u64),
}

/// What a connection reports about itself (from inside the loop: must not block).
pub type StateHandler = Box<dyn Fn(RTCPeerConnectionState) + Send>;

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("peer connection: {0}")]
    Rtc(#[from] rtc::shared::error::Error),
    #[error("cannot build the connection: {0}")]
    Build(#[from] BuildError),
    #[error("the media loop has stopped")]
    Stopped,
    #[error("the connection is closed")]
    Closed,
}

/// The loop's handle (cheap to clone).
#[derive(Clone)]
pub struct Egress {
    commands: mpsc::Sender<Command>,
    writes: mpsc::Sender<Write>,
    media: Arc<MediaSocket>,
    metrics: Arc<Metrics>,
}

impl Egress {
    /// Starts the loop on `media`'s port; `queue` packets may wait for it (all down-tracks).
    pub fn start(media: Arc<MediaSocket>, metrics: Arc<Metrics>, queue: usize) -> Egress {
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        let (writes, write_rx) = mpsc::channel(queue.max(1));
        tokio::spawn(run::run(
            media.engine_inbox(),
            command_rx,
            write_rx,
            metrics.clone(),
        ));
        Egress {
            commands,
            writes,
            media,
            metrics,
        }
    }

    /// A new subscribe connection on the shared port; `on_state` hears its connection state.
    pub async fn open(&self, on_state: StateHandler) -> Result<SubConn, EgressError> {
        let attachment = self.media.attach();
        attachment.drive_by_engine();
        let id = attachment.id();
        let connected = Arc::new(AtomicBool::new(false));
        let counters = self.metrics.rtcp.clone();
        let hosts = attachment.host_addrs();
        let locals = hosts.clone();
        // Certificate and key generation: not on a runtime worker's hot path.
        let pc = tokio::task::spawn_blocking(move || build::subscribe_connection(&hosts, counters))
            .await
            .map_err(|_| EgressError::Stopped)??;
        let conn = run::Conn::new(pc, (attachment, locals), connected.clone(), on_state);
        self.commands
            .send(Command::Open(Box::new(conn)))
            .await
            .map_err(|_| EgressError::Stopped)?;
        Ok(SubConn {
            id,
            egress: self.clone(),
            connected,
            _gauge: self.metrics.hold(Kind::PeerConnection),
        })
    }

    /// The way into the loop of down-track `down`, sender `sender` of connection `conn`.
    pub fn sink(&self, conn: u64, sender: RTCRtpSenderId, down: u64) -> EgressSink {
        EgressSink {
            writes: self.writes.clone(),
            conn,
            sender,
            down,
        }
    }
}

/// A subscribe connection, as its participant holds it; closed when dropped.
pub struct SubConn {
    id: u64,
    egress: Egress,
    /// True while the connection is `connected` (ICE and DTLS up, SRTP keys known).
    pub connected: Arc<AtomicBool>,
    _gauge: Gauge,
}

impl Drop for SubConn {
    fn drop(&mut self) {
        self.connected.store(false, Relaxed);
        let commands = self.egress.commands.clone();
        let id = self.id;
        if commands.try_send(Command::Close(id)).is_err()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = commands.send(Command::Close(id)).await;
            });
        }
        super::engine::trim_when_idle(&self.egress.metrics);
    }
}

impl SubConn {
    /// The connection's id on the shared port (what [`Egress::write`] names it by).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn egress(&self) -> &Egress {
        &self.egress
    }

    /// Runs `f` on the connection inside the loop.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut run::Conn, Instant) -> R + Send + 'static,
    ) -> Result<R, EgressError> {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |conn, now| {
            let _ = tx.send(f(conn, now));
        });
        self.egress
            .commands
            .send(Command::Call(self.id, call))
            .await
            .map_err(|_| EgressError::Stopped)?;
        // Dropped unanswered: the connection was closed meanwhile.
        rx.await.map_err(|_| EgressError::Closed)
    }

    /// Adds a track to send, as a new down-track (sender, down-track id); a keyframe request of
    /// the site on it goes to `published`.
    pub async fn add_track(
        &self,
        track: MediaStreamTrack,
        published: Weak<PublishedTrack>,
    ) -> Result<(RTCRtpSenderId, u64), EgressError> {
        self.call(move |conn, _| conn.add_track(track, published))
            .await?
    }

    pub async fn remove_track(&self, sender: RTCRtpSenderId) -> Result<(), EgressError> {
        self.call(move |conn, _| conn.remove_track(sender)).await?
    }

    /// Creates an offer (with new ICE credentials on `restart`), applies it and returns it as it
    /// must be sent: with its candidates, naming the shared port, its credentials routed here.
    pub async fn offer(&self, restart: bool) -> Result<String, EgressError> {
        self.call(move |conn, now| {
            let options = restart.then_some(RTCOfferOptions { ice_restart: true });
            conn.offer(now, options)
        })
        .await?
    }

    pub async fn set_answer(&self, answer: RTCSessionDescription) -> Result<(), EgressError> {
        self.call(move |conn, now| conn.pc.set_remote_description(now, answer))
            .await?
            .map_err(Into::into)
    }

    pub async fn add_remote_candidate(
        &self,
        candidate: RTCIceCandidateInit,
    ) -> Result<(), EgressError> {
        self.call(move |conn, _| conn.pc.add_remote_candidate(candidate))
            .await?
            .map_err(Into::into)
    }
}
