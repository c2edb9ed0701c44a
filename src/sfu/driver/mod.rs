//! The media driver: every peer connection of every session on the sans-IO `rtc` core, driven by
//! one loop ([`run`]) on the shared media port, instead of a webrtc driver task, a timer and
//! channels per connection. The loop owns the connections ([`conn`]); everything else reaches one
//! through its [`Connection`] handle, whose calls run on the connection inside the loop and
//! answer through a one-shot channel.
//! A publish connection's packets are fanned out from inside the loop; the fan-out hands each
//! one to the loop again through one bounded queue ([`DriverSink`], a full queue drops), and the
//! loop rewrites every packet it has for its down-track (`rewrite`), writes it to the subscribe
//! connection, then sends what the connections produced. A site's keyframe requests (PLI, FIR)
//! on a track go to its publisher; the publisher's are written by the loop ([`DriverKeyframes`]).

mod build;
mod conn;
mod run;
mod thread;

pub use thread::MediaThread;

use super::engine::Direction;
use super::forward::{DownSink, KeyframeSource, Offered, PublishedTrack};
use super::udp::MediaSocket;
use crate::metrics::{Gauge, Kind, Metrics};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
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
pub struct DriverSink {
    writes: mpsc::Sender<Write>,
    conn: u64,
    sender: RTCRtpSenderId,
    down: u64,
}

impl DownSink for DriverSink {
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
type Call = Box<dyn FnOnce(&mut conn::Conn, Instant) + Send>;

enum Command {
    Open(Box<conn::Conn>),
    Call(u64, Call),
    Close(u64),
}

/// A track a publish connection started receiving.
#[derive(Debug, Clone)]
pub struct TrackInfo {
    pub track_id: String,
    pub kind: RtpCodecKind,
    pub ssrc: u32,
    /// The m-line it arrives on.
    pub mid: Option<String>,
    /// The negotiated id of the audio level extension (0: none).
    pub audio_level_ext: u8,
}

/// What a connection tells its participant. Called from inside the loop: must not block.
pub trait Events: Send {
    fn state(&self, state: RTCPeerConnectionState);
    /// A publish connection received a new track.
    fn track(&self, track: TrackInfo);
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
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
pub struct Driver {
    commands: mpsc::Sender<Command>,
    writes: mpsc::Sender<Write>,
    media: Arc<MediaSocket>,
    metrics: Arc<Metrics>,
}

impl Driver {
    /// Starts the loop on `media`'s port, on `runtime` (the media thread's, where the port's
    /// receive task runs); `queue` packets may wait for it (all down-tracks).
    pub fn start(
        media: Arc<MediaSocket>,
        metrics: Arc<Metrics>,
        queue: usize,
        runtime: &tokio::runtime::Handle,
    ) -> Driver {
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        let (writes, write_rx) = mpsc::channel(queue.max(1));
        runtime.spawn(run::run(
            (media.engine_inbox(), media.send_batch()),
            command_rx,
            write_rx,
            metrics.clone(),
        ));
        Driver {
            commands,
            writes,
            media,
            metrics,
        }
    }

    /// A new connection on the shared port, whose media flows in `direction` (publish: the
    /// site sends; subscribe: the server sends); `events` hears about it.
    pub async fn open(
        &self,
        direction: Direction,
        events: Box<dyn Events>,
    ) -> Result<Connection, DriverError> {
        let attachment = self.media.attach();
        let id = attachment.id();
        let connected = Arc::new(AtomicBool::new(false));
        let counters = self.metrics.rtcp.clone();
        let hosts = attachment.host_addrs();
        let locals = hosts.clone();
        // Certificate and key generation: not on a runtime worker's hot path.
        let pc =
            tokio::task::spawn_blocking(move || build::connection(direction, &hosts, counters))
                .await
                .map_err(|_| DriverError::Stopped)??;
        let conn = conn::Conn::new(pc, (attachment, locals), connected.clone(), events);
        self.commands
            .send(Command::Open(Box::new(conn)))
            .await
            .map_err(|_| DriverError::Stopped)?;
        Ok(Connection {
            id,
            driver: self.clone(),
            connected,
            _gauge: self.metrics.hold(Kind::PeerConnection),
        })
    }

    /// The way into the loop of down-track `down`, sender `sender` of connection `conn`.
    pub fn sink(&self, conn: u64, sender: RTCRtpSenderId, down: u64) -> DriverSink {
        DriverSink {
            writes: self.writes.clone(),
            conn,
            sender,
            down,
        }
    }
}

/// A connection, as its participant holds it; closed when dropped.
pub struct Connection {
    id: u64,
    driver: Driver,
    /// True while the connection is `connected` (ICE and DTLS up, SRTP keys known).
    pub connected: Arc<AtomicBool>,
    _gauge: Gauge,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.connected.store(false, Relaxed);
        let commands = self.driver.commands.clone();
        let id = self.id;
        if commands.try_send(Command::Close(id)).is_err()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = commands.send(Command::Close(id)).await;
            });
        }
        super::engine::trim_when_idle(&self.driver.metrics);
    }
}

impl Connection {
    /// The connection's id on the shared port (what [`Driver::sink`] names it by).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Runs `f` on the connection inside the loop.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut conn::Conn, Instant) -> R + Send + 'static,
    ) -> Result<R, DriverError> {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |conn, now| {
            let _ = tx.send(f(conn, now));
        });
        self.driver
            .commands
            .send(Command::Call(self.id, call))
            .await
            .map_err(|_| DriverError::Stopped)?;
        // Dropped unanswered: the connection was closed meanwhile.
        rx.await.map_err(|_| DriverError::Closed)
    }

    /// Adds a track to send, as a new down-track (sender, down-track id); a keyframe request of
    /// the site on it goes to `published`.
    pub async fn add_track(
        &self,
        track: MediaStreamTrack,
        published: Weak<PublishedTrack>,
    ) -> Result<(RTCRtpSenderId, u64), DriverError> {
        self.call(move |conn, _| conn.add_track(track, published))
            .await?
    }

    pub async fn remove_track(&self, sender: RTCRtpSenderId) -> Result<(), DriverError> {
        self.call(move |conn, _| conn.remove_track(sender)).await?
    }

    /// Creates an offer (with new ICE credentials on `restart`), applies it and returns it as it
    /// must be sent: with its candidates, naming the shared port, its credentials routed here.
    pub async fn offer(&self, restart: bool) -> Result<String, DriverError> {
        self.call(move |conn, now| {
            let options = restart.then_some(RTCOfferOptions { ice_restart: true });
            conn.offer(now, options)
        })
        .await?
    }

    /// Applies the site's offer and answers it; returns the answer as it must be sent (see
    /// [`Connection::offer`]), after `edit`.
    pub async fn answer(
        &self,
        offer: RTCSessionDescription,
        edit: impl FnOnce(&str) -> String + Send + 'static,
    ) -> Result<String, DriverError> {
        self.call(move |conn, now| conn.answer(now, offer, edit))
            .await?
    }

    /// The received track `track_id` is published as `published`: its packets go there.
    pub async fn bind_track(
        &self,
        track_id: String,
        published: Weak<PublishedTrack>,
    ) -> Result<(), DriverError> {
        self.call(move |conn, _| conn.bind_track(&track_id, published))
            .await
    }

    /// The ids of the tracks whose transceiver still receives.
    pub async fn receiving_tracks(&self) -> Result<Vec<String>, DriverError> {
        self.call(|conn, _| conn.receiving_tracks()).await
    }

    /// How keyframes of the received track `track_id` are asked for.
    pub fn keyframes(&self, track_id: String) -> DriverKeyframes {
        DriverKeyframes {
            commands: self.driver.commands.clone(),
            conn: self.id,
            track_id: track_id.into(),
        }
    }

    pub async fn set_answer(&self, answer: RTCSessionDescription) -> Result<(), DriverError> {
        self.call(move |conn, now| conn.pc.set_remote_description(now, answer))
            .await?
            .map_err(Into::into)
    }

    pub async fn add_remote_candidate(
        &self,
        candidate: RTCIceCandidateInit,
    ) -> Result<(), DriverError> {
        self.call(move |conn, _| conn.pc.add_remote_candidate(candidate))
            .await?
            .map_err(Into::into)
    }
}

/// Asks a publisher for keyframes of one of its tracks (a PLI written by the loop).
pub struct DriverKeyframes {
    commands: mpsc::Sender<Command>,
    conn: u64,
    track_id: Arc<str>,
}

impl KeyframeSource for DriverKeyframes {
    fn request_keyframe(&self, media_ssrc: u32) -> bool {
        let track_id = self.track_id.clone();
        let call: Call = Box::new(move |conn, now| {
            if !conn.request_keyframe(&track_id, media_ssrc, now) {
                tracing::debug!(%track_id, "keyframe request for a track no longer received");
            }
        });
        match self.commands.try_send(Command::Call(self.conn, call)) {
            Ok(()) => true,
            // A busy loop skips this one (the next request comes soon enough).
            Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
