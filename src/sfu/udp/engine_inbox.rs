//! The datagrams the shared socket routed to connections driven by the media driver
//! (`sfu::driver`): one bounded queue for all of them, drained by that loop in batches. A full
//! queue drops (the caller counts it), as a full socket buffer would.

use super::demux::PcId;
use bytes::BytesMut;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Datagrams queued for the media driver before the port drops.
pub const CAPACITY: usize = 8192;

/// One datagram for a connection of the media driver.
#[derive(Debug)]
pub struct Inbound {
    pub pc: PcId,
    pub data: BytesMut,
    pub from: SocketAddr,
    /// The local address it arrived on, when the socket reports it (bound to the wildcard).
    pub dst: Option<IpAddr>,
}

#[derive(Debug, Default)]
pub struct EngineInbox {
    queue: Mutex<VecDeque<Inbound>>,
    ready: Notify,
}

impl EngineInbox {
    /// Queues a datagram and wakes the loop; false (dropped) when the queue is full.
    pub fn push(&self, d: Inbound) -> bool {
        {
            let mut q = self.queue.lock().expect("engine inbox");
            if q.len() >= CAPACITY {
                return false;
            }
            q.push_back(d);
        }
        self.ready.notify_one();
        true
    }

    /// Moves everything queued into `out` (kept by the caller to reuse its allocation).
    pub fn drain_into(&self, out: &mut VecDeque<Inbound>) {
        let mut q = self.queue.lock().expect("engine inbox");
        if out.is_empty() {
            std::mem::swap(&mut *q, out);
        } else {
            out.extend(q.drain(..));
        }
    }

    /// Frees the queue's storage when nothing waits in it (after a busy session).
    pub fn shrink(&self) {
        let mut q = self.queue.lock().expect("engine inbox");
        if q.is_empty() {
            *q = VecDeque::new();
        }
    }

    /// Resolves once something was queued since the last call (at once if it was meanwhile).
    pub async fn ready(&self) {
        self.ready.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(pc: PcId) -> Inbound {
        Inbound {
            pc,
            data: BytesMut::from(&b"x"[..]),
            from: "127.0.0.1:9".parse().unwrap(),
            dst: None,
        }
    }

    #[tokio::test]
    async fn datagrams_wait_in_order_and_a_full_queue_drops() {
        let inbox = EngineInbox::default();
        for i in 0..CAPACITY as u64 {
            assert!(inbox.push(datagram(i)));
        }
        assert!(!inbox.push(datagram(0)), "full");
        // A push before the wait is not lost.
        inbox.ready().await;
        let mut out = VecDeque::new();
        inbox.drain_into(&mut out);
        assert_eq!(out.len(), CAPACITY);
        assert!(out.iter().enumerate().all(|(i, d)| d.pc == i as u64));
        assert!(inbox.push(datagram(7)), "room again");
        out.clear();
        inbox.drain_into(&mut out);
        assert_eq!(out.len(), 1);
    }
}
