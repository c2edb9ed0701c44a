//! The per-connection side of the shared media port: an [`Inbox`] (a bounded queue of datagrams
//! the shared socket routed to one connection, on reused buffers) and the [`VirtualSocket`] that
//! a webrtc peer connection reads and writes as if it were its own UDP socket, handed to it by
//! [`MuxRuntime`], the connection's runtime (tokio for everything but sockets). Receiving copies
//! out of the inbox; sending goes straight out of the shared socket, non-blocking: a full socket
//! buffer drops the datagram and counts it, as UDP would. A run of equal-size datagrams to one
//! peer that the connection's driver hands over as one buffer (GSO, where the OS has it) leaves
//! in one system call, the kernel cutting it into datagrams. A connection sending a STUN binding
//! success response has accepted a check from that address, which binds the address to it; one
//! sending a binding request (a check of its own) is expecting the answer from its destination.

use super::Shared;
use super::demux::PcId;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    TokioRuntime, Transmit,
};

/// Datagrams queued per connection before the shared socket drops (and counts) for it.
pub const INBOX_CAPACITY: usize = 256;
/// Size of a pooled datagram buffer (above any path MTU the media uses).
pub const DATAGRAM_BUF: usize = 2048;

pub(super) struct Datagram {
    pub buf: Vec<u8>,
    pub len: usize,
    pub from: SocketAddr,
}

/// The datagrams routed to one connection (one per local address it bound), waiting to be read.
#[derive(Default)]
pub struct Inbox {
    queue: Mutex<VecDeque<Datagram>>,
    waker: AtomicWaker,
}

impl Inbox {
    /// Queues a datagram; gives the buffer back when the queue is full.
    pub(super) fn push(&self, d: Datagram) -> Result<(), Vec<u8>> {
        {
            let mut q = self.queue.lock().expect("inbox");
            if q.len() >= INBOX_CAPACITY {
                return Err(d.buf);
            }
            q.push_back(d);
        }
        self.waker.wake();
        Ok(())
    }

    /// Buffers still queued (given back to the pool when a connection goes).
    pub(super) fn drain(&self) -> Vec<Vec<u8>> {
        let mut q = self.queue.lock().expect("inbox");
        q.drain(..).map(|d| d.buf).collect()
    }
}

/// What a peer connection sees as its UDP socket.
pub struct VirtualSocket {
    shared: Arc<Shared>,
    pc: PcId,
    /// The address the stack bound (and gathered its host candidate from); the candidate it
    /// advertises is rewritten to the shared port.
    local: SocketAddr,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for VirtualSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualSocket")
            .field("pc", &self.pc)
            .field("local", &self.local)
            .field("shared", &self.shared.local)
            .finish()
    }
}

impl AsyncUdpSocket for VirtualSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn max_gso_segments(&self) -> usize {
        self.shared.state.max_gso_segments()
    }

    fn poll_send(&self, _cx: &mut Context<'_>, t: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.shared.transmit(self.pc, self.local.ip(), t);
        Poll::Ready(Ok(t.contents.len()))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut q = self.inbox.queue.lock().expect("inbox");
        if q.is_empty() {
            self.inbox.waker.register(cx.waker());
            if q.is_empty() {
                return Poll::Pending;
            }
        }
        let n = bufs.len().min(meta.len()).min(q.len());
        for i in 0..n {
            let d = q.pop_front().expect("counted");
            let len = d.len.min(bufs[i].len());
            bufs[i][..len].copy_from_slice(&d.buf[..len]);
            let mut m = RecvMeta::default();
            m.addr = d.from;
            m.len = len;
            m.stride = len.max(1);
            m.dst_ip = Some(self.local.ip());
            meta[i] = m;
            self.shared.give_back(d.buf);
        }
        Poll::Ready(Ok(n))
    }
}

/// The runtime of one peer connection: tokio's, except that the sockets it asks for are
/// virtual sockets on the shared port.
#[derive(Debug)]
pub struct MuxRuntime {
    pub(super) shared: Arc<Shared>,
    pub(super) pc: PcId,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("local", &self.local)
            .finish()
    }
}

impl Runtime for MuxRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn(future)
    }

    fn wrap_udp_socket(&self, sock: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        // The stack bound a socket of its own to learn an address; the port it got is only a
        // name inside this connection (the candidate says the shared port), so it is freed.
        let local = sock.local_addr()?;
        drop(sock);
        let inbox = self.shared.inbox(self.pc, local.ip());
        Ok(Arc::new(VirtualSocket {
            shared: self.shared.clone(),
            pc: self.pc,
            local,
            inbox,
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        TokioRuntime.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        TokioRuntime.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { tokio::net::lookup_host(host).await.map(|i| i.collect()) })
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        TokioRuntime.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        TokioRuntime.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.yield_now()
    }

    fn name(&self) -> &'static str {
        "giaoban-shared-udp"
    }
}

/// An address as the rest of the server names it: an IPv4 peer of the dual-stack socket (`::`)
/// arrives as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which the connections, their
/// candidates and the routes know as plain IPv4.
pub(super) fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// An address as a socket of the family `v6` takes it: IPv4 mapped into IPv6 on an IPv6 socket.
pub(super) fn on_socket(a: SocketAddr, v6: bool) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(ip) if v6 => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), a.port()),
        _ => a,
    }
}

/// Which inbox of a connection a datagram that arrived on local address `dst` goes to.
pub(super) fn pick(inboxes: &[(IpAddr, Arc<Inbox>)], dst: Option<IpAddr>) -> Option<&Arc<Inbox>> {
    dst.and_then(|ip| inboxes.iter().find(|(i, _)| *i == ip))
        .or_else(|| inboxes.first())
        .map(|(_, inbox)| inbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_peers_of_a_dual_stack_socket_are_named_as_ipv4() {
        assert_eq!(
            canonical(at("[::ffff:10.77.0.2]:4000")),
            at("10.77.0.2:4000")
        );
        assert_eq!(canonical(at("10.77.0.2:4000")), at("10.77.0.2:4000"));
        assert_eq!(canonical(at("[fd77::2]:4000")), at("[fd77::2]:4000"));
        assert_eq!(canonical(at("[::1]:4000")), at("[::1]:4000"), "not mapped");
        assert_eq!(
            on_socket(at("10.77.0.2:4000"), true),
            at("[::ffff:10.77.0.2]:4000")
        );
        assert_eq!(on_socket(at("10.77.0.2:4000"), false), at("10.77.0.2:4000"));
        assert_eq!(on_socket(at("[fd77::2]:4000"), true), at("[fd77::2]:4000"));
        for a in ["10.77.0.2:4000", "[fd77::2]:4000"] {
            assert_eq!(canonical(on_socket(at(a), true)), at(a), "{a}: round trip");
        }
    }

    #[test]
    fn a_datagram_goes_to_the_inbox_of_the_address_it_arrived_on() {
        let (a, b) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
        let list = vec![
            ("10.77.0.1".parse().unwrap(), a.clone()),
            ("10.78.0.1".parse().unwrap(), b.clone()),
        ];
        let picked = |dst: Option<&str>| pick(&list, dst.map(|d| d.parse().unwrap())).cloned();
        assert!(Arc::ptr_eq(&picked(Some("10.78.0.1")).unwrap(), &b));
        assert!(Arc::ptr_eq(&picked(Some("10.77.0.1")).unwrap(), &a));
        assert!(
            Arc::ptr_eq(&picked(None).unwrap(), &a),
            "no destination read: the first"
        );
        assert!(
            Arc::ptr_eq(&picked(Some("10.79.0.1")).unwrap(), &a),
            "unknown: the first"
        );
        assert!(pick(&[], Some("10.77.0.1".parse().unwrap())).is_none());
    }
}
