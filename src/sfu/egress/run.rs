//! The egress loop: one task owning every subscribe connection ([`Conn`]). It waits for any of
//! four things (a control call, packets from down-tracks, datagrams from the shared port, a
//! connection's timer), handles all that is ready of it, then services each connection it
//! touched: RTCP from the site (keyframe requests go to the publisher), connection state, and
//! the datagrams the connection produced, sent at once from the shared socket. A connection's
//! next timer is kept in one ordered set, so a pass touches only the connections that need it.

use super::{Command, EgressError, StateHandler, Write};
use crate::metrics::Metrics;
use crate::sfu::engine;
use crate::sfu::forward::PublishedTrack;
use crate::sfu::rewrite::Rewriter;
use crate::sfu::udp::Attachment;
use crate::sfu::udp::engine_inbox::{EngineInbox, Inbound};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::runtime::Transmit;

/// Packets taken from the down-tracks' queue per pass.
const WRITE_BATCH: usize = 512;

/// What the loop keeps of one down-track (a sender of a connection).
struct Down {
    id: u64,
    track_id: String,
    rewriter: Rewriter,
}

/// Names each down-track, so that a packet queued for one that ended meanwhile is never written
/// to a track that reuses its sender.
static NEXT_DOWN: AtomicU64 = AtomicU64::new(1);

/// One subscribe connection inside the loop.
pub struct Conn {
    pub pc: RTCPeerConnection,
    attachment: Attachment,
    /// Its host candidates (the addresses the shared port is reached on).
    locals: Vec<SocketAddr>,
    connected: Arc<AtomicBool>,
    on_state: StateHandler,
    /// The published track behind each sent track (by track id): where its keyframe requests go.
    keyframes: HashMap<String, Weak<PublishedTrack>>,
    senders: HashMap<RTCRtpSenderId, Down>,
    /// Its entry in the loop's timer set.
    deadline: Option<Instant>,
    /// Touched in this pass (queued for servicing once).
    touched: bool,
}

impl Conn {
    pub fn new(
        pc: RTCPeerConnection,
        (attachment, locals): (Attachment, Vec<SocketAddr>),
        connected: Arc<AtomicBool>,
        on_state: StateHandler,
    ) -> Conn {
        Conn {
            locals,
            pc,
            attachment,
            connected,
            on_state,
            keyframes: HashMap::new(),
            senders: HashMap::new(),
            deadline: None,
            touched: false,
        }
    }

    /// Adds a track whose first encoding names its SSRC and codec: a new down-track.
    pub fn add_track(
        &mut self,
        track: MediaStreamTrack,
        published: Weak<PublishedTrack>,
    ) -> Result<(RTCRtpSenderId, u64), EgressError> {
        let track_id = track.track_id().clone();
        let kind = track.kind();
        let (ssrc, clock_rate) = track
            .codings()
            .first()
            .map(|c| {
                (
                    c.rtp_coding_parameters.ssrc.unwrap_or(0),
                    c.codec.clock_rate,
                )
            })
            .unwrap_or_default();
        let sender = self.pc.add_track(track)?;
        let id = NEXT_DOWN.fetch_add(1, Relaxed);
        let rewriter = Rewriter::new(ssrc, engine::payload_type(kind), clock_rate);
        self.keyframes.insert(track_id.clone(), published);
        let down = Down {
            id,
            track_id,
            rewriter,
        };
        self.senders.insert(sender, down);
        Ok((sender, id))
    }

    pub fn remove_track(&mut self, sender: RTCRtpSenderId) -> Result<(), EgressError> {
        if let Some(down) = self.senders.remove(&sender) {
            self.keyframes.remove(&down.track_id);
        }
        self.pc.remove_track(sender)?;
        Ok(())
    }

    /// Creates and applies an offer; returns it as the site must get it (see `SubConn::offer`).
    pub fn offer(
        &mut self,
        now: Instant,
        options: Option<RTCOfferOptions>,
    ) -> Result<String, EgressError> {
        let offer = self.pc.create_offer(options)?;
        self.pc.set_local_description(now, offer)?;
        // The applied description carries the host candidates.
        let sdp = self
            .pc
            .local_description()
            .map(|d| d.sdp)
            .unwrap_or_default();
        Ok(self.attachment.advertise(&sdp))
    }

    /// The local address a datagram that arrived on `dst` reached (one of the candidates').
    fn local_for(&self, dst: Option<IpAddr>) -> SocketAddr {
        dst.and_then(|ip| self.locals.iter().find(|a| a.ip() == ip))
            .or_else(|| self.locals.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// After anything happened to the connection: what it read (RTCP), its events, what it
    /// has to send. Returns its next deadline.
    fn service(&mut self, now: Instant) -> Option<Instant> {
        while let Some(msg) = self.pc.poll_read() {
            if let RTCMessage::RtcpPacket(track_id, packets) = msg.message
                && packets.iter().any(|p| {
                    let any = p.as_any();
                    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
                })
                && let Some(published) = self.keyframes.get(&track_id).and_then(Weak::upgrade)
            {
                published.request_keyframe();
            }
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.connected
                    .store(state == RTCPeerConnectionState::Connected, Relaxed);
                (self.on_state)(state);
            }
        }
        self.flush();
        let next = self.pc.poll_timeout()?;
        // A deadline already past is handled on the next pass, not in a spin.
        Some(next.max(now + Duration::from_millis(1)))
    }

    /// Sends every datagram the connection produced.
    fn flush(&mut self) {
        while let Some(msg) = self.pc.poll_write() {
            let t = Transmit {
                destination: msg.transport.peer_addr,
                ecn: None,
                contents: &msg.message,
                segment_size: None,
                src_ip: None,
            };
            self.attachment.transmit(msg.transport.local_addr.ip(), &t);
        }
    }

    fn close(mut self) {
        self.connected.store(false, Relaxed);
        if let Err(e) = self.pc.close() {
            tracing::debug!("closing a subscribe connection: {e}");
        }
        // Tells the site (DTLS close) before the routes go with the attachment.
        self.flush();
    }
}

/// The loop's state.
struct Engine {
    conns: HashMap<u64, Conn>,
    timers: BTreeSet<(Instant, u64)>,
    touched: Vec<u64>,
    metrics: Arc<Metrics>,
}

impl Engine {
    fn touch(&mut self, id: u64) {
        if let Some(conn) = self.conns.get_mut(&id)
            && !std::mem::replace(&mut conn.touched, true)
        {
            self.touched.push(id);
        }
    }

    fn command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Open(conn) => {
                let id = conn.attachment.id();
                self.conns.insert(id, *conn);
                self.touch(id);
            }
            Command::Call(id, call) => {
                // A call on a closed connection is dropped unanswered (the caller hears so).
                if let Some(conn) = self.conns.get_mut(&id) {
                    call(conn, now);
                    self.touch(id);
                }
            }
            Command::Close(id) => {
                if let Some(conn) = self.conns.remove(&id) {
                    if let Some(at) = conn.deadline {
                        self.timers.remove(&(at, id));
                    }
                    conn.close();
                }
                if self.conns.is_empty() {
                    self.conns.shrink_to_fit();
                }
            }
        }
    }

    fn write(&mut self, w: Write, now: Instant) {
        let Some(conn) = self.conns.get_mut(&w.conn) else {
            self.metrics.packets_dropped.fetch_add(1, Relaxed);
            return;
        };
        // A down-track removed while its packets were queued: they are dropped (counted).
        let written = match conn.senders.get_mut(&w.sender) {
            Some(down) if down.id == w.down => {
                let mut packet = w.packet;
                let h = &mut packet.header;
                match down
                    .rewriter
                    .rewrite(h.ssrc, h.sequence_number, h.timestamp)
                {
                    Some(out) => {
                        h.ssrc = out.ssrc;
                        h.payload_type = out.payload_type;
                        h.sequence_number = out.sequence_number;
                        h.timestamp = out.timestamp;
                        conn.pc
                            .rtp_sender(w.sender)
                            .is_some_and(|mut s| s.write_rtp(now, packet).is_ok())
                    }
                    // Not forwarded (see `Rewriter::rewrite`): nothing lost.
                    None => true,
                }
            }
            _ => false,
        };
        if !written {
            self.metrics.packets_dropped.fetch_add(1, Relaxed);
        }
        self.touch(w.conn);
    }

    fn read(&mut self, d: Inbound, now: Instant) {
        let Some(conn) = self.conns.get_mut(&d.pc) else {
            return;
        };
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: conn.local_for(d.dst),
                peer_addr: d.from,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            message: d.data,
        };
        if let Err(e) = conn.pc.handle_read(msg) {
            tracing::debug!(from = %d.from, "subscribe connection refused a datagram: {e}");
        }
        self.touch(d.pc);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.deadline = None;
                if let Err(e) = conn.pc.handle_timeout(now) {
                    tracing::debug!("subscribe connection timer: {e}");
                }
                self.touch(id);
            }
        }
    }

    fn service(&mut self, now: Instant) {
        for id in std::mem::take(&mut self.touched) {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            conn.touched = false;
            let next = conn.service(now);
            if next != conn.deadline {
                if let Some(at) = conn.deadline {
                    self.timers.remove(&(at, id));
                }
                if let Some(at) = next {
                    self.timers.insert((at, id));
                }
                conn.deadline = next;
            }
        }
    }
}

/// Runs until every handle is gone.
pub async fn run(
    inbox: Arc<EngineInbox>,
    mut commands: mpsc::Receiver<Command>,
    mut writes: mpsc::Receiver<Write>,
    metrics: Arc<Metrics>,
) {
    let mut engine = Engine {
        conns: HashMap::new(),
        timers: BTreeSet::new(),
        touched: Vec::new(),
        metrics,
    };
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut inbound = VecDeque::new();
    loop {
        let next = engine.timers.first().map(|&(at, _)| at);
        tokio::select! {
            biased;
            command = commands.recv() => {
                let Some(command) = command else { break };
                let now = Instant::now();
                engine.command(command, now);
                while let Ok(command) = commands.try_recv() {
                    engine.command(command, now);
                }
            }
            () = inbox.ready() => {
                let now = Instant::now();
                inbox.drain_into(&mut inbound);
                for d in inbound.drain(..) {
                    engine.read(d, now);
                }
            }
            n = writes.recv_many(&mut batch, WRITE_BATCH) => {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                for w in batch.drain(..) {
                    engine.write(w, now);
                }
            }
            () = sleep_until(next), if next.is_some() => {}
        }
        let now = Instant::now();
        engine.expire(now);
        engine.service(now);
    }
    for (_, conn) in engine.conns.drain() {
        conn.close();
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}
