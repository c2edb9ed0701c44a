//! Process-wide counters and gauges of the live system: peer connections, forwarding tasks,
//! WebSockets, packets in/out and drops. Counted with relaxed atomics (never logged per packet);
//! gauges are held by RAII guards so that whatever ends a task or a connection, it is uncounted.
//! Served as JSON at `GET /api/stats`; the leak test asserts the gauges return to zero.

use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    pub peer_connections: AtomicI64,
    pub tasks: AtomicI64,
    pub websockets: AtomicI64,
    pub participants: AtomicI64,
    pub down_tracks: AtomicI64,
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub packets_dropped: AtomicU64,
    pub keyframe_requests: AtomicU64,
}

/// A snapshot, as served by the API.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Snapshot {
    pub peer_connections: i64,
    pub tasks: i64,
    pub websockets: i64,
    pub participants: i64,
    pub down_tracks: i64,
    pub udp_ports_in_use: i64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub packets_dropped: u64,
    pub keyframe_requests: u64,
}

/// Which gauge a [`Gauge`] guard holds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    PeerConnection,
    Task,
    WebSocket,
    Participant,
    DownTrack,
}

impl Metrics {
    fn gauge(&self, kind: Kind) -> &AtomicI64 {
        match kind {
            Kind::PeerConnection => &self.peer_connections,
            Kind::Task => &self.tasks,
            Kind::WebSocket => &self.websockets,
            Kind::Participant => &self.participants,
            Kind::DownTrack => &self.down_tracks,
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
            udp_ports_in_use: udp_ports_in_use as i64,
            packets_in: self.packets_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            packets_dropped: self.packets_dropped.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
        }
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
