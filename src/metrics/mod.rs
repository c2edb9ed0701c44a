//! Process-wide counters and gauges of the live system: peer connections, forwarding tasks,
//! WebSockets, tracks, packets and bytes in/out, drops, NACKs and keyframe requests, and per
//! session packets in/out/lost. Counted with relaxed atomics (never logged per packet); gauges are
//! held by RAII guards so that whatever ends a task or a connection, it is uncounted. Served as
//! JSON at `GET /api/stats` and in Prometheus text format at `GET /metrics` (`prometheus`), with
//! the process's CPU time and memory (`process`); the leak test asserts the gauges return to zero.

pub mod process;
pub mod prometheus;

use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Metrics {
    pub peer_connections: AtomicI64,
    pub tasks: AtomicI64,
    pub websockets: AtomicI64,
    pub participants: AtomicI64,
    pub down_tracks: AtomicI64,
    pub tracks: AtomicI64,
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Lost to a full down-track queue (a lagging subscriber) or a failed write.
    pub packets_dropped: AtomicU64,
    /// Not offered to a subscriber whose connection is not up yet or that has not applied the
    /// offer declaring the track (nothing to decrypt it with: not an error, not logged).
    pub packets_not_ready: AtomicU64,
    /// Keyframe requests (PLI) the SFU sent to publishers.
    pub keyframe_requests: AtomicU64,
    /// RTCP the peer connections received and sent: NACK packets, PLI/FIR.
    pub rtcp: Arc<RtcpCounters>,
    /// The shared media port: datagrams in/out and what it dropped, by reason.
    pub udp: Arc<UdpCounters>,
    sessions: Mutex<HashMap<String, Arc<SessionCounters>>>,
}

/// RTCP feedback seen by a set of peer connections (the SFU's, or one client's).
#[derive(Debug, Default)]
pub struct RtcpCounters {
    pub nacks_received: AtomicU64,
    pub nacks_sent: AtomicU64,
    pub keyframe_requests_received: AtomicU64,
    pub keyframe_requests_sent: AtomicU64,
}

/// Datagrams on the shared media UDP port (all sessions' media, STUN and DTLS included).
#[derive(Debug, Default)]
pub struct UdpCounters {
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_unknown_source: AtomicU64,
    pub dropped_unknown_ufrag: AtomicU64,
    pub dropped_bad_credentials: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    /// Sends refused by the socket (full send buffer, unreachable destination): dropped.
    pub send_failed: AtomicU64,
}

/// [`UdpCounters`] as exported.
#[derive(
    Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema,
)]
pub struct UdpSnapshot {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dropped_malformed: u64,
    pub dropped_unknown_source: u64,
    pub dropped_unknown_ufrag: u64,
    pub dropped_bad_credentials: u64,
    pub dropped_queue_full: u64,
    pub send_failed: u64,
}

impl UdpCounters {
    pub fn snapshot(&self) -> UdpSnapshot {
        UdpSnapshot {
            datagrams_in: self.datagrams_in.load(Relaxed),
            datagrams_out: self.datagrams_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            dropped_malformed: self.dropped_malformed.load(Relaxed),
            dropped_unknown_source: self.dropped_unknown_source.load(Relaxed),
            dropped_unknown_ufrag: self.dropped_unknown_ufrag.load(Relaxed),
            dropped_bad_credentials: self.dropped_bad_credentials.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            send_failed: self.send_failed.load(Relaxed),
        }
    }
}

/// Packets of one live session: received from its publishers, lost on the way in (gaps in
/// their sequence numbers), sent to its subscribers.
#[derive(Debug, Default)]
pub struct SessionCounters {
    pub packets_in: AtomicU64,
    pub packets_lost: AtomicU64,
    pub packets_out: AtomicU64,
}

/// One session's counters as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    pub session_id: String,
    pub packets_in: u64,
    pub packets_lost: u64,
    pub packets_out: u64,
}

/// A snapshot, as served by the API.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Snapshot {
    pub peer_connections: i64,
    pub tasks: i64,
    pub websockets: i64,
    pub participants: i64,
    pub down_tracks: i64,
    pub tracks: i64,
    pub udp_ports_in_use: i64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_dropped: u64,
    pub packets_not_ready: u64,
    pub keyframe_requests: u64,
    pub nacks_received: u64,
    pub nacks_sent: u64,
    pub keyframe_requests_received: u64,
    /// The shared media port.
    #[serde(default)]
    pub udp: UdpSnapshot,
}

/// Which gauge a [`Gauge`] guard holds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    PeerConnection,
    Task,
    WebSocket,
    Participant,
    DownTrack,
    Track,
}

impl Metrics {
    fn gauge(&self, kind: Kind) -> &AtomicI64 {
        match kind {
            Kind::PeerConnection => &self.peer_connections,
            Kind::Task => &self.tasks,
            Kind::WebSocket => &self.websockets,
            Kind::Participant => &self.participants,
            Kind::DownTrack => &self.down_tracks,
            Kind::Track => &self.tracks,
        }
    }

    /// Counts one more of `kind` until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>, kind: Kind) -> Gauge {
        self.gauge(kind).fetch_add(1, Relaxed);
        Gauge {
            metrics: self.clone(),
            kind,
        }
    }

    pub fn snapshot(&self, udp_ports_in_use: usize) -> Snapshot {
        Snapshot {
            peer_connections: self.peer_connections.load(Relaxed),
            tasks: self.tasks.load(Relaxed),
            websockets: self.websockets.load(Relaxed),
            participants: self.participants.load(Relaxed),
            down_tracks: self.down_tracks.load(Relaxed),
            tracks: self.tracks.load(Relaxed),
            udp_ports_in_use: udp_ports_in_use as i64,
            packets_in: self.packets_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            packets_dropped: self.packets_dropped.load(Relaxed),
            packets_not_ready: self.packets_not_ready.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
            nacks_received: self.rtcp.nacks_received.load(Relaxed),
            nacks_sent: self.rtcp.nacks_sent.load(Relaxed),
            keyframe_requests_received: self.rtcp.keyframe_requests_received.load(Relaxed),
            udp: self.udp.snapshot(),
        }
    }

    /// The counters of one session (shared by its tracks; created on first use).
    pub fn session(&self, session_id: &str) -> Arc<SessionCounters> {
        self.sessions
            .lock()
            .expect("session counters")
            .entry(session_id.to_string())
            .or_default()
            .clone()
    }

    /// Every session whose counters are still held by a live track, sorted by id; the counters
    /// of sessions no track holds any more are forgotten here.
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let mut map = self.sessions.lock().expect("session counters");
        map.retain(|_, c| Arc::strong_count(c) > 1);
        let mut out: Vec<SessionSnapshot> = map
            .iter()
            .map(|(id, c)| SessionSnapshot {
                session_id: id.clone(),
                packets_in: c.packets_in.load(Relaxed),
                packets_lost: c.packets_lost.load(Relaxed),
                packets_out: c.packets_out.load(Relaxed),
            })
            .collect();
        out.sort_by(|a, b| a.session_id.cmp(&b.session_id));
        out
    }
}

/// RAII gauge increment.
#[derive(Debug)]
pub struct Gauge {
    metrics: Arc<Metrics>,
    kind: Kind,
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.metrics.gauge(self.kind).fetch_sub(1, Relaxed);
    }
}
