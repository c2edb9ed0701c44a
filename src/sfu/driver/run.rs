//! The media driver's loop: one task owning every connection ([`Conn`]). It waits for any of
//! four things (a control call, packets from down-tracks, datagrams from the shared port, a
//! connection's timer), handles all that is ready of it, then services each connection it
//! touched (see [`Conn::service`]): a publisher's packets are fanned out from there, and what
//! the connections produced is sent at once from the shared socket. A connection's next timer is
//! kept in one ordered set, so a pass touches only the connections that need it.

use super::conn::Conn;
use super::{Command, Write};
use crate::metrics::Metrics;
use crate::sfu::udp::SendBatch;
use crate::sfu::udp::engine_inbox::{EngineInbox, Inbound};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Packets taken from the down-tracks' queue at a time.
const WRITE_BATCH: usize = 512;
/// Rounds of writing what a pass fanned out, within that pass.
const SAME_PASS_ROUNDS: usize = 4;
/// After the last connection closed: when the thread's allocator cache is given back (what the
/// session's connections freed on this thread; the thread then sleeps until the next session).
const IDLE_FLUSH_AFTER: Duration = Duration::from_secs(1);

/// The loop's state.
struct Engine {
    conns: HashMap<u64, Conn>,
    timers: BTreeSet<(Instant, u64)>,
    touched: Vec<u64>,
    metrics: Arc<Metrics>,
    /// What the connections wrote during the pass, sent at its end.
    out: SendBatch,
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
                    conn.close(&mut self.out);
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
            let next = conn.service(now, &mut self.out);
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

/// Runs until every handle is gone; `(inbox, out)`: the shared port's ways in and out.
pub async fn run(
    (inbox, out): (Arc<EngineInbox>, SendBatch),
    mut commands: mpsc::Receiver<Command>,
    mut writes: mpsc::Receiver<Write>,
    metrics: Arc<Metrics>,
) {
    let mut engine = Engine {
        conns: HashMap::new(),
        timers: BTreeSet::new(),
        touched: Vec::new(),
        metrics,
        out,
    };
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut inbound = VecDeque::new();
    let mut idle_flush: Option<Instant> = None;
    loop {
        let next = engine.timers.first().map(|&(at, _)| at);
        let had_connections = !engine.conns.is_empty();
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
            () = sleep_until(idle_flush), if idle_flush.is_some() => {
                idle_flush = None;
                crate::memory::flush_thread_cache();
                inbound = VecDeque::new();
                inbox.shrink();
                engine.out.shrink();
                batch = Vec::with_capacity(WRITE_BATCH);
            }
        }
        let now = Instant::now();
        engine.expire(now);
        engine.service(now);
        // What this pass fanned out to down-tracks is written in the same pass (a few rounds at
        // most, so that control calls and the port are not starved).
        for _ in 0..SAME_PASS_ROUNDS {
            while batch.len() < WRITE_BATCH
                && let Ok(w) = writes.try_recv()
            {
                batch.push(w);
            }
            if batch.is_empty() {
                break;
            }
            for w in batch.drain(..) {
                engine.write(w, now);
            }
            engine.service(now);
        }
        engine.out.send();
        if engine.conns.is_empty() {
            if had_connections {
                idle_flush = Some(now + IDLE_FLUSH_AFTER);
            }
        } else {
            idle_flush = None;
        }
    }
    for (_, conn) in engine.conns.drain() {
        conn.close(&mut engine.out);
    }
    engine.out.send();
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::UdpCounters;
    use crate::sfu::driver::build;
    use crate::sfu::engine::{self, Direction};
    use crate::sfu::udp::MediaSocket;
    use rtc::media_stream::MediaStreamTrack;
    use rtc::peer_connection::state::RTCPeerConnectionState;
    use rtc::rtp;
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    use std::sync::Weak;
    use std::sync::atomic::AtomicBool;

    struct Quiet;

    impl super::super::Events for Quiet {
        fn state(&self, _: RTCPeerConnectionState) {}
        fn track(&self, _: super::super::TrackInfo) {}
    }

    fn track(id: &str, ssrc: u32) -> MediaStreamTrack {
        let names = ("stream".to_owned(), id.to_owned(), id.to_owned());
        engine::sent_track(names, RtpCodecKind::Video, ssrc)
    }

    fn write(conn: u64, (sender, down): (rtc::rtp_transceiver::RTCRtpSenderId, u64)) -> Write {
        Write {
            conn,
            sender,
            down,
            packet: rtp::Packet::default(),
        }
    }

    /// A subscribe connection (never connected) in an engine of its own.
    fn engine(metrics: &Arc<Metrics>) -> (Engine, u64, Arc<MediaSocket>) {
        let socket = MediaSocket::bind(
            "127.0.0.1:0".parse().unwrap(),
            Vec::new(),
            Arc::new(UdpCounters::default()),
        )
        .unwrap();
        let attachment = socket.attach();
        let id = attachment.id();
        let hosts = attachment.host_addrs();
        let pc = build::connection(Direction::Send, &hosts, metrics.rtcp.clone()).unwrap();
        let conn = Conn::new(
            pc,
            (attachment, hosts),
            Arc::new(AtomicBool::new(false)),
            Box::new(Quiet),
        );
        let mut engine = Engine {
            conns: HashMap::new(),
            timers: BTreeSet::new(),
            touched: Vec::new(),
            metrics: metrics.clone(),
            out: socket.send_batch(),
        };
        engine.command(Command::Open(Box::new(conn)), Instant::now());
        (engine, id, socket)
    }

    #[tokio::test]
    async fn a_packet_of_an_ended_down_track_is_dropped_not_written_to_its_successor() {
        let metrics = Arc::new(Metrics::default());
        let (mut engine, id, _socket) = engine(&metrics);
        let now = Instant::now();
        let conn = engine.conns.get_mut(&id).unwrap();
        let first = conn.add_track(track("a", 1), Weak::new()).unwrap();
        conn.remove_track(first.0).unwrap();
        let second = conn.add_track(track("b", 2), Weak::new()).unwrap();
        assert_ne!(first.1, second.1, "each down-track has its own id");
        let dropped = || metrics.packets_dropped.load(Relaxed);
        // Queued for the first down-track before it ended: dropped, whatever sender it names.
        engine.write(write(id, first), now);
        engine.write(write(id, (second.0, first.1)), now);
        assert_eq!(dropped(), 2);
        engine.write(write(id, second), now);
        assert_eq!(dropped(), 2, "the live down-track's packet is written");
        // For a connection that is gone: dropped too.
        engine.write(write(id + 1, second), now);
        assert_eq!(dropped(), 3);
        // Closing forgets the connection and its timer.
        engine.service(now);
        engine.command(Command::Close(id), now);
        assert!(engine.conns.is_empty() && engine.timers.is_empty());
    }
}
