//! One UDP port for the media of every session (`media.udp_port`). [`MediaSocket`] owns the
//! socket and one receive task that reads it in batches (`recvmmsg` through `quinn-udp` where the
//! OS has it, GRO segments split) and routes each datagram (see [`demux`]): by remote address
//! once a connection has accepted a STUN check from it, else a STUN binding request by the local
//! ufrag it names, verified against that connection's password, or the answer to a connection's
//! own check by its transaction id. What routes goes to the media driver's inbox
//! ([`engine_inbox`]); what does not is dropped and counted (`giaoban_udp_dropped_total{reason}`).
//! Each peer connection gets an [`Attachment`]: its host addresses, its sends (queued into the
//! driver's [`SendBatch`], which leaves in `sendmmsg` batches), and the rewrite of what it
//! advertises ([`advertise`]). Bound to the wildcard
//! (`0.0.0.0`), the socket still is one: each datagram's destination address (`IP_PKTINFO`)
//! tells the connection which of its host addresses it reached, and each send names the
//! connection's local address as its source, so a reply leaves from the address the site sent to. Bound to `::`, it
//! is dual-stack: IPv4 sites arrive as IPv4-mapped addresses, named as plain IPv4 inside.

mod addr;
pub mod advertise;
pub mod demux;
pub mod engine_inbox;
mod send;

use crate::metrics::UdpCounters;
use addr::{canonical, on_socket};
use bytes::BytesMut;
use demux::{DropReason, PcId, Route, Table, check_credentials};
use engine_inbox::{EngineInbox, Inbound};
pub use send::SendBatch;
use std::collections::HashSet;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use webrtc::runtime::{BATCH_SIZE, RecvMeta, UdpSockRef, UdpSocketState};

/// Socket buffer sizes asked for: every session's media goes through this one socket, so the
/// default (about 200 KB) would overflow in a burst. The kernel caps them at
/// `net.core.rmem_max` / `wmem_max` (raise those for large briefings).
const SOCKET_BUFFER: usize = 8 << 20;

/// The routing state: the pure table, and the connections attached.
#[derive(Default)]
struct Routes {
    table: Table,
    attached: HashSet<PcId>,
}

pub(crate) struct Shared {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    local: SocketAddr,
    /// Bound to 0.0.0.0 / [::]: each send names the source address of its connection.
    wildcard: bool,
    /// Public addresses host candidates announce behind a 1:1 NAT (`media.nat_1to1_ips`).
    nat: Arc<[IpAddr]>,
    routes: RwLock<Routes>,
    next_id: AtomicU64,
    /// Live [`Attachment`]s; the receive loop keeps a batch-sized buffer while any is.
    attached: AtomicUsize,
    /// Wakes the receive loop when the last attachment goes, to give its buffer back.
    detached: tokio::sync::Notify,
    /// Bytes of the receive loop's buffer (see [`RecvBuffer`]).
    recv_buffer: AtomicUsize,
    counters: Arc<UdpCounters>,
    crypto: Arc<dyn rtc::crypto::RTCCryptoProvider>,
    /// Datagrams of the connections the media driver drives.
    engine: Arc<EngineInbox>,
}

impl Shared {
    fn bind(&self, addr: SocketAddr, pc: PcId) {
        if self.routes.read().expect("routes").table.is_bound(addr, pc) {
            return;
        }
        self.routes.write().expect("routes").table.bind(addr, pc);
    }

    fn expect_answer(&self, check: &[u8], pc: PcId, to: SocketAddr) {
        let mut routes = self.routes.write().expect("routes");
        routes.table.expect_answer(check, pc, to);
    }

    fn dropped(&self, reason: DropReason) {
        let c = &self.counters;
        let counter = match reason {
            DropReason::Malformed => &c.dropped_malformed,
            DropReason::UnknownSource => &c.dropped_unknown_source,
            DropReason::UnknownUfrag => &c.dropped_unknown_ufrag,
            DropReason::BadCredentials => &c.dropped_bad_credentials,
            DropReason::QueueFull => &c.dropped_queue_full,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// What connection `pc` is about to send to `to` tells the routes: a STUN binding success
    /// binds its destination to the connection; a binding request (a check of its own) expects
    /// the answer from there.
    fn note_sent(&self, pc: PcId, contents: &[u8], to: SocketAddr) {
        if demux::is_binding_success(contents) {
            self.bind(to, pc);
        } else if demux::is_binding_request(contents) {
            self.expect_answer(contents, pc, to);
        }
    }

    /// Routes one datagram (under the routes' read lock, held by the caller).
    fn route(&self, routes: &Routes, from: SocketAddr, dst: Option<IpAddr>, d: &[u8]) {
        self.counters.datagrams_in.fetch_add(1, Relaxed);
        self.counters.bytes_in.fetch_add(d.len() as u64, Relaxed);
        let pc = match routes.table.route(from, d) {
            Route::Bound(pc) => pc,
            Route::Check { pc, pwd } => {
                if !check_credentials(d, pwd, self.crypto.crypto()) {
                    return self.dropped(DropReason::BadCredentials);
                }
                pc
            }
            Route::Drop(reason) => return self.dropped(reason),
        };
        if !routes.attached.contains(&pc) {
            return self.dropped(DropReason::UnknownSource);
        }
        let inbound = Inbound {
            pc,
            data: bytes::BytesMut::from(d),
            from,
            dst,
        };
        if !self.engine.push(inbound) {
            self.dropped(DropReason::QueueFull);
        }
    }
}

/// The shared media socket and its receive task (stopped when this is dropped).
pub struct MediaSocket {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MediaSocket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MediaSocket {
    /// Binds `addr` (port 0: an ephemeral port, for tests) and starts routing; host candidates
    /// will announce `nat` addresses instead of local ones (1:1 NAT; empty: none).
    pub fn bind(
        addr: SocketAddr,
        nat: Vec<IpAddr>,
        counters: Arc<UdpCounters>,
    ) -> io::Result<Arc<MediaSocket>> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // Best effort: a smaller buffer still works, it only drops sooner under a burst.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            // `::` serves IPv4 sites too, whatever net.ipv6.bindv6only says.
            socket.set_only_v6(false)?;
        }
        socket.bind(&addr.into())?;
        socket.set_nonblocking(true)?;
        tracing::debug!(
            recv = socket.recv_buffer_size().unwrap_or(0),
            send = socket.send_buffer_size().unwrap_or(0),
            "media socket buffers"
        );
        let io = tokio::net::UdpSocket::from_std(socket.into())?;
        let state = UdpSocketState::new(UdpSockRef::from(&io))?;
        let local = io.local_addr()?;
        let crypto = rtc::crypto::default_provider().map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            io,
            state,
            local,
            wildcard: local.ip().is_unspecified(),
            nat: nat.into(),
            routes: RwLock::new(Routes::default()),
            next_id: AtomicU64::new(1),
            attached: AtomicUsize::new(0),
            detached: tokio::sync::Notify::new(),
            recv_buffer: AtomicUsize::new(0),
            counters,
            crypto,
            engine: Arc::new(EngineInbox::default()),
        });
        let task = tokio::spawn(receive(shared.clone()));
        Ok(Arc::new(MediaSocket { shared, task }))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// A new connection's place on the shared port (its datagrams go to the driver's inbox).
    pub fn attach(&self) -> Attachment {
        let pc = self.shared.next_id.fetch_add(1, Relaxed);
        self.shared.attached.fetch_add(1, Relaxed);
        let mut routes = self.shared.routes.write().expect("routes");
        routes.attached.insert(pc);
        drop(routes);
        Attachment {
            shared: self.shared.clone(),
            pc,
        }
    }

    /// A batch of datagrams to send from this port (the media driver keeps one).
    pub fn send_batch(&self) -> SendBatch {
        SendBatch::new(self.shared.clone())
    }

    /// The inbox of the connections the media driver drives (one per port).
    pub fn engine_inbox(&self) -> Arc<EngineInbox> {
        self.shared.engine.clone()
    }

    /// Bytes of the receive buffer: a batch while connections are attached, one chunk when none.
    pub fn receive_buffer(&self) -> usize {
        self.shared.recv_buffer.load(Relaxed)
    }

    /// (bound remote addresses, registered ufrags, attached connections).
    pub fn routes(&self) -> (usize, usize, usize) {
        let r = self.shared.routes.read().expect("routes");
        let (addrs, ufrags) = r.table.len();
        (addrs, ufrags, r.attached.len())
    }
}

/// One peer connection's place on the shared port; forgotten (routes, queued datagrams) when
/// dropped.
pub struct Attachment {
    shared: Arc<Shared>,
    pc: PcId,
}

impl Attachment {
    pub fn port(&self) -> u16 {
        self.shared.local.port()
    }

    /// What this connection's host candidates must announce.
    pub fn announce(&self) -> advertise::Announce {
        advertise::Announce {
            port: self.port(),
            nat: self.shared.nat.clone(),
        }
    }

    /// The connection's id on the port (the media driver names its connections by it).
    pub fn id(&self) -> PcId {
        self.pc
    }

    /// The connection's host candidates: each address the port is reached on, with the shared
    /// port. What they announce is [`Attachment::advertise`]'s.
    pub fn host_addrs(&self) -> Vec<SocketAddr> {
        let bind = self.shared.local.ip();
        let interfaces: Vec<IpAddr> = if bind.is_unspecified() {
            match rtc::shared::ifaces::ifaces() {
                Ok(list) => list.iter().filter_map(|i| i.addr.map(|a| a.ip())).collect(),
                Err(e) => {
                    tracing::warn!("cannot list the interfaces' addresses: {e}");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        advertise::host_ips(bind, &interfaces)
            .into_iter()
            .map(|ip| SocketAddr::new(ip, self.port()))
            .collect()
    }

    /// Queues a datagram this connection wrote, to `to` from its local address `local` (the
    /// source named when the socket is bound to the wildcard), into `out` (sent at the end of the
    /// driver's pass, see [`SendBatch`]).
    pub fn queue(&self, out: &mut SendBatch, local: IpAddr, to: SocketAddr, data: BytesMut) {
        self.shared.note_sent(self.pc, &data, to);
        let v6 = self.shared.local.is_ipv6();
        let from = self
            .shared
            .wildcard
            .then(|| on_socket((local, 0).into(), v6).ip());
        out.push(on_socket(to, v6), from, data);
    }

    /// An offer or answer about to be sent: its ICE credentials start routing to this
    /// connection, and its host candidates name the shared port.
    pub fn advertise(&self, sdp: &str) -> String {
        if let Some((ufrag, pwd)) = advertise::ice_credentials(sdp) {
            let mut routes = self.shared.routes.write().expect("routes");
            routes.table.add_ufrag(self.pc, ufrag, pwd);
        }
        advertise::rewrite_sdp(sdp, &self.announce())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        {
            let mut routes = self.shared.routes.write().expect("routes");
            routes.table.forget(self.pc);
            routes.attached.remove(&self.pc);
            if routes.attached.is_empty() {
                // The last connection went: give back what the busiest moment grew.
                routes.attached.shrink_to_fit();
                routes.table.shrink_to_fit();
            }
        }
        if self.shared.attached.fetch_sub(1, Relaxed) == 1 {
            self.shared.detached.notify_one();
        }
    }
}

/// The receive loop's buffer: `slots` chunks, each one message (with GRO, up to
/// `gro_segments` datagrams of one flow). A batch's worth while a connection is attached; one
/// chunk while none is, so that an idle port gives the batch's memory back (a session ending is
/// when the last connection detaches) and what reaches it meanwhile is still read and dropped.
struct RecvBuffer {
    storage: Vec<u8>,
    chunk: usize,
}

impl RecvBuffer {
    fn new(chunk: usize) -> RecvBuffer {
        RecvBuffer {
            storage: Vec::new(),
            chunk,
        }
    }

    /// The number of chunks to read into with `attached` connections on the port.
    fn slots_for(attached: usize) -> usize {
        if attached == 0 { 1 } else { BATCH_SIZE }
    }

    fn slots(&self) -> usize {
        self.storage.len() / self.chunk
    }

    /// Resizes for `attached` connections: allocates a batch when the first attaches, frees it
    /// (a fresh one-chunk allocation) once none is left. Nothing happens between the two.
    /// True if it resized.
    fn fit(&mut self, attached: usize) -> bool {
        let slots = Self::slots_for(attached);
        if slots == self.slots() {
            return false;
        }
        self.storage = Vec::new();
        self.storage = vec![0; slots * self.chunk];
        true
    }
}

/// The receive loop: read a batch, route every datagram of it, repeat. Besides the batch, one
/// atomic load per batch (the attached count); a wake-up when the last connection detaches.
async fn receive(shared: Arc<Shared>) {
    // GRO may coalesce several datagrams of one flow into one message: size for it.
    let chunk = shared.state.gro_segments().max(1) * 1500;
    let mut buffer = RecvBuffer::new(chunk);
    let mut meta = [RecvMeta::default(); BATCH_SIZE];
    loop {
        if buffer.fit(shared.attached.load(Relaxed)) {
            shared.recv_buffer.store(buffer.storage.len(), Relaxed);
        }
        tokio::select! {
            // Ready at once while datagrams keep coming: the wake-up is not even polled then.
            biased;
            readable = shared.io.readable() => {
                if readable.is_err() {
                    return;
                }
            }
            () = shared.detached.notified(), if buffer.slots() > 1 => continue,
        }
        let slots = buffer.slots();
        let storage = &mut buffer.storage;
        let n = {
            let mut chunks = storage.chunks_mut(chunk);
            let mut iovs: [IoSliceMut<'_>; BATCH_SIZE] =
                std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
            match shared.io.try_io(tokio::io::Interest::READABLE, || {
                let n = shared.state.recv(
                    UdpSockRef::from(&shared.io),
                    &mut iovs[..slots],
                    &mut meta[..slots],
                )?;
                if n == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            }) {
                Ok(n) => n,
                // Nothing ready, an ICMP error from a peer that went away, an interrupt: on.
                Err(_) => continue,
            }
        };
        let routes = shared.routes.read().expect("routes");
        for (i, m) in meta.iter().enumerate().take(n) {
            let msg = &storage[i * chunk..i * chunk + m.len.min(chunk)];
            let stride = if m.stride == 0 {
                msg.len().max(1)
            } else {
                m.stride
            };
            let (from, dst) = (canonical(m.addr), m.dst_ip.map(|ip| ip.to_canonical()));
            for d in msg.chunks(stride) {
                shared.route(&routes, from, dst, d);
            }
            if msg.is_empty() {
                shared.dropped(DropReason::Malformed);
                shared.counters.datagrams_in.fetch_add(1, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_buffer_holds_a_batch_only_while_a_connection_is_attached() {
        let chunk = 64 * 1500;
        let mut buffer = RecvBuffer::new(chunk);
        assert!(buffer.fit(0));
        assert_eq!((buffer.slots(), buffer.storage.capacity()), (1, chunk));
        assert!(buffer.fit(1));
        assert_eq!(buffer.slots(), BATCH_SIZE);
        assert_eq!(buffer.storage.len(), BATCH_SIZE * chunk);
        // Written by traffic, then kept as long as any connection is attached.
        buffer.storage.fill(7);
        let at = buffer.storage.as_ptr();
        assert!(!buffer.fit(40));
        assert!(!buffer.fit(1));
        assert_eq!(buffer.storage.as_ptr(), at, "not reallocated while in use");
        assert!(buffer.storage.iter().all(|&b| b == 7));
        // The last one detached: the batch's memory is freed, one chunk stays.
        assert!(buffer.fit(0));
        assert_eq!((buffer.slots(), buffer.storage.capacity()), (1, chunk));
        assert!(!buffer.fit(0));
        assert_eq!(buffer.slots(), 1);
    }

    /// Polls `f` until it holds (the receive loop runs on its own task).
    async fn eventually(what: &str, f: impl Fn() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{what}");
    }

    /// A shared port on loopback, with counters of its own.
    fn loopback() -> Arc<MediaSocket> {
        MediaSocket::bind(
            "127.0.0.1:0".parse().unwrap(),
            Vec::new(),
            Arc::new(UdpCounters::default()),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_port_frees_its_batch_when_the_last_connection_detaches() {
        let socket = loopback();
        eventually("a chunk at start", || socket.receive_buffer() > 0).await;
        let idle = socket.receive_buffer();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Attached, the next datagram (here garbage, dropped) finds a batch in place.
        let a = socket.attach();
        let b = socket.attach();
        peer.send_to(b"garbage", socket.local_addr()).unwrap();
        eventually("a batch once a connection is attached", || {
            socket.receive_buffer() == idle * BATCH_SIZE
        })
        .await;
        drop(a);
        peer.send_to(b"garbage", socket.local_addr()).unwrap();
        eventually("the garbage was read", || {
            socket.shared.counters.datagrams_in.load(Relaxed) == 2
        })
        .await;
        assert_eq!(
            socket.receive_buffer(),
            idle * BATCH_SIZE,
            "one still attached"
        );
        // The last one goes: the loop, idle, is woken to free the batch.
        drop(b);
        eventually("one chunk once none is attached", || {
            socket.receive_buffer() == idle
        })
        .await;
        // An idle port still reads (and drops) what reaches it.
        peer.send_to(b"garbage", socket.local_addr()).unwrap();
        eventually("read while idle", || {
            socket.shared.counters.datagrams_in.load(Relaxed) == 3
        })
        .await;
        assert_eq!(socket.receive_buffer(), idle);
    }

    #[test]
    fn without_gro_a_chunk_is_one_datagram() {
        let mut buffer = RecvBuffer::new(1500);
        buffer.fit(3);
        assert_eq!(buffer.storage.len(), BATCH_SIZE * 1500);
        buffer.fit(0);
        assert_eq!(buffer.storage.capacity(), 1500);
    }
}
