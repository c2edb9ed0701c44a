//! The way out of the shared port: what the media driver's connections wrote during one pass of
//! its loop is queued in a [`SendBatch`] and leaves together, in one `sendmmsg` system call per
//! run of datagrams with the same source address (at most [`MAX_PER_CALL`] each) instead of one
//! `sendmsg` per datagram. Nothing waits: a full send buffer drops the datagram and counts it, as
//! the network would; a datagram the kernel refuses (no route, too large) is counted and skipped,
//! and the rest of the batch still leaves.

use super::Shared;
use bytes::BytesMut;
use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Datagrams handed to the kernel per call (Linux's `UIO_MAXIOV` is 1024).
pub const MAX_PER_CALL: usize = 64;

/// One datagram waiting for the end of the pass.
struct Pending {
    /// The source address to name (a socket bound to the wildcard), as the socket names it.
    from: Option<IpAddr>,
    data: BytesMut,
}

/// The datagrams of one pass, sent by [`SendBatch::send`]. Its storage is kept between passes.
pub struct SendBatch {
    shared: Arc<Shared>,
    pending: Vec<Pending>,
    /// Each pending datagram's destination, as the socket names it (IPv4-mapped on a dual-stack
    /// socket).
    to: Vec<Option<SockaddrStorage>>,
}

impl SendBatch {
    pub(super) fn new(shared: Arc<Shared>) -> SendBatch {
        SendBatch {
            shared,
            pending: Vec::new(),
            to: Vec::new(),
        }
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(super) fn push(&mut self, to: SocketAddr, from: Option<IpAddr>, data: BytesMut) {
        self.pending.push(Pending { from, data });
        self.to.push(Some(SockaddrStorage::from(to)));
    }

    /// Sends every datagram waiting, in order.
    pub fn send(&mut self) {
        let mut start = 0;
        while start < self.pending.len() {
            let from = self.pending[start].from;
            let run = self.pending[start..]
                .iter()
                .take(MAX_PER_CALL)
                .take_while(|p| p.from == from)
                .count();
            self.send_run(start, run);
            start += run;
        }
        // Their buffers go back to the allocator here, the vector's storage stays.
        self.pending.clear();
        self.to.clear();
    }

    /// Frees the storage a busy moment grew (the loop calls it when idle).
    pub fn shrink(&mut self) {
        if self.pending.is_empty() {
            self.pending = Vec::new();
            self.to = Vec::new();
        }
    }

    /// Sends `pending[start..start + n]`, which share one source address.
    fn send_run(&self, start: usize, n: usize) {
        let run = &self.pending[start..start + n];
        let c = &self.shared.counters;
        let fd = self.shared.io.as_raw_fd();
        let v4_info;
        let v6_info;
        let cmsg: Option<ControlMessage<'_>> = match run[0].from {
            None => None,
            Some(IpAddr::V4(ip)) => {
                v4_info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                Some(ControlMessage::Ipv4PacketInfo(&v4_info))
            }
            Some(IpAddr::V6(ip)) => {
                v6_info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: ip.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                Some(ControlMessage::Ipv6PacketInfo(&v6_info))
            }
        };
        let cmsgs = cmsg.as_slice();
        let space = match run[0].from {
            None => None,
            Some(IpAddr::V4(_)) => Some(nix::cmsg_space!(libc::in_pktinfo)),
            Some(IpAddr::V6(_)) => Some(nix::cmsg_space!(libc::in6_pktinfo)),
        };
        let mut headers: MultiHeaders<SockaddrStorage> = MultiHeaders::preallocate(n, space);
        let slices: Vec<[IoSlice<'_>; 1]> = run.iter().map(|p| [IoSlice::new(&p.data)]).collect();
        let addrs = &self.to[start..start + n];
        let mut at = 0;
        while at < n {
            match sendmmsg(
                fd,
                &mut headers,
                &slices[at..],
                &addrs[at..],
                cmsgs,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(sent) => {
                    let sent = sent.count();
                    if sent == 0 {
                        // Nothing taken and no error: the rest would not leave either.
                        c.send_failed.fetch_add((n - at) as u64, Relaxed);
                        return;
                    }
                    let bytes: usize = run[at..at + sent].iter().map(|p| p.data.len()).sum();
                    c.datagrams_out.fetch_add(sent as u64, Relaxed);
                    c.bytes_out.fetch_add(bytes as u64, Relaxed);
                    at += sent;
                }
                Err(Errno::EINTR) => {}
                // The first datagram left is refused (a full buffer, no route, too large):
                // dropped and counted; the others still go.
                Err(_) => {
                    c.send_failed.fetch_add(1, Relaxed);
                    at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::UdpCounters;
    use crate::sfu::udp::MediaSocket;
    use std::time::Duration;

    fn socket(bind: &str) -> Arc<MediaSocket> {
        MediaSocket::bind(
            bind.parse().unwrap(),
            Vec::new(),
            Arc::new(UdpCounters::default()),
        )
        .unwrap()
    }

    fn peer() -> std::net::UdpSocket {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        peer
    }

    /// Each datagram of a batch (more than one call's worth, two destinations, sizes of their
    /// own) arrives whole, in order, from the port.
    #[tokio::test]
    async fn a_batch_leaves_as_its_datagrams_in_order() {
        let socket = socket("127.0.0.1:0");
        let attachment = socket.attach();
        let (a, b) = (peer(), peer());
        let mut batch = socket.send_batch();
        let count = MAX_PER_CALL * 2 + 7;
        let local = socket.local_addr().ip();
        for i in 0..count {
            let to = if i % 3 == 0 { &a } else { &b };
            let data = BytesMut::from(&vec![i as u8; 20 + i][..]);
            attachment.queue(&mut batch, local, to.local_addr().unwrap(), data);
        }
        assert_eq!(batch.len(), count);
        batch.send();
        assert!(batch.is_empty());
        let mut buf = [0u8; 2048];
        for i in 0..count {
            let to = if i % 3 == 0 { &a } else { &b };
            let (n, from) = to.recv_from(&mut buf).unwrap();
            assert_eq!(from, socket.local_addr());
            assert_eq!(&buf[..n], &vec![i as u8; 20 + i][..], "datagram {i}");
        }
        let c = &socket.shared.counters;
        assert_eq!(c.datagrams_out.load(Relaxed), count as u64);
        let bytes: usize = (0..count).map(|i| 20 + i).sum();
        assert_eq!(c.bytes_out.load(Relaxed), bytes as u64);
        assert_eq!(c.send_failed.load(Relaxed), 0);
    }

    /// Bound to the wildcard, each datagram names the local address its connection uses as its
    /// source (here loopback: what the peer sees it come from).
    #[tokio::test]
    async fn bound_to_the_wildcard_a_datagram_leaves_from_its_connection_s_address() {
        let socket = socket("0.0.0.0:0");
        let attachment = socket.attach();
        let a = peer();
        let mut batch = socket.send_batch();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        for i in 0..3u8 {
            attachment.queue(
                &mut batch,
                local,
                a.local_addr().unwrap(),
                BytesMut::from(&[i][..]),
            );
        }
        batch.send();
        let mut buf = [0u8; 16];
        for i in 0..3u8 {
            let (n, from) = a.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i]);
            assert_eq!(from, SocketAddr::new(local, socket.local_addr().port()));
        }
    }

    /// A datagram the kernel refuses is counted; the ones after it still leave.
    #[tokio::test]
    async fn a_refused_datagram_is_counted_and_the_rest_still_leave() {
        let socket = socket("127.0.0.1:0");
        let attachment = socket.attach();
        let a = peer();
        let mut batch = socket.send_batch();
        let local = socket.local_addr().ip();
        let to = a.local_addr().unwrap();
        attachment.queue(&mut batch, local, to, BytesMut::from(&b"first"[..]));
        // Larger than any UDP datagram can be: EMSGSIZE.
        attachment.queue(
            &mut batch,
            local,
            to,
            BytesMut::from(&vec![0u8; 70_000][..]),
        );
        attachment.queue(&mut batch, local, to, BytesMut::from(&b"last"[..]));
        batch.send();
        let mut buf = [0u8; 64];
        let (n, _) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"first");
        let (n, _) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last");
        let c = &socket.shared.counters;
        assert_eq!(c.datagrams_out.load(Relaxed), 2);
        assert_eq!(c.send_failed.load(Relaxed), 1);
    }
}
