//! One forwarded track at one subscriber: a [`DownTrack`] rewrites each packet of a
//! [`PublishedTrack`] for its subscriber (SSRC, payload type, continuous sequence numbers and
//! timestamps) and writes it to the subscriber's connection, and relays the subscriber's keyframe
//! requests to the publisher once the track is negotiated. A packet is written by the
//! publisher's reader itself when the connection takes it at once (no task between them); only
//! when it cannot (its queue full, e.g. during a renegotiation) does the packet wait in the
//! down-track's bounded backlog, written in order by the down-track's task. Dropping it detaches
//! it from the publisher and stops its writes at once, before its sender leaves the connection.

use super::forward::{DownSink, DownTrackTx, Offered, PublishedTrack, Readiness};
use super::rewrite::Rewriter;
use crate::metrics::{Kind, Metrics, SessionCounters};
use crate::signal::protocol::MediaKind;
use futures_util::FutureExt;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::shared::marshal::MarshalSize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

/// One forwarded track at one subscriber.
pub struct DownTrack {
    pub published: Arc<PublishedTrack>,
    pub local: Arc<TrackLocalStaticRTP>,
    pub sender: Arc<dyn webrtc::rtp_transceiver::RtpSender>,
    subscriber: Uuid,
    cancel: CancellationToken,
    rtcp_started: AtomicBool,
    ready: Arc<Readiness>,
}

impl DownTrack {
    /// Subscribes `subscriber` to `published` through `local` (already added to the subscriber's
    /// connection as `sender`) and starts the forwarding task. Packets flow once `connected` (the
    /// subscriber connection's state) is true and [`DownTrack::on_negotiated`] was called.
    pub fn start(
        subscriber: Uuid,
        published: Arc<PublishedTrack>,
        (local, sender): (
            Arc<TrackLocalStaticRTP>,
            Arc<dyn webrtc::rtp_transceiver::RtpSender>,
        ),
        out_ssrc: u32,
        queue: usize,
        connected: Arc<AtomicBool>,
    ) -> DownTrack {
        let kind = if published.kind == MediaKind::Audio {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio
        } else {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video
        };
        let rewriter = Rewriter::new(
            out_ssrc,
            super::engine::payload_type(kind),
            super::engine::codec(kind).clock_rate,
        );
        let cancel = CancellationToken::new();
        let sink = TrackSink::start(
            local.clone(),
            rewriter,
            queue,
            cancel.clone(),
            (published.metrics.clone(), published.session.clone()),
        );
        let ready = Arc::new(Readiness::new(connected));
        published.attach(DownTrackTx::new(subscriber, sink, ready.clone()));
        DownTrack {
            published,
            local,
            sender,
            subscriber,
            cancel,
            rtcp_started: AtomicBool::new(false),
            ready,
        }
    }

    /// Once the subscriber applied the offer declaring this track: packets may flow (when its
    /// connection is up), its keyframe requests are relayed to the publisher, and a first
    /// keyframe is asked for. Idempotent.
    pub fn on_negotiated(&self) {
        self.ready.set_negotiated();
        self.published.request_keyframe();
        if self.rtcp_started.swap(true, Relaxed) {
            return;
        }
        let local = self.local.clone();
        let published = self.published.clone();
        let cancel = self.cancel.clone();
        let gauge = published.metrics.hold(Kind::Task);
        tokio::spawn(async move {
            let _gauge = gauge;
            loop {
                let event = tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = published.cancel.cancelled() => break,
                    e = local.poll() => e,
                };
                match event {
                    Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                        if packets.iter().any(|p| {
                            let any = p.as_any();
                            any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
                        }) {
                            published.request_keyframe();
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        });
    }
}

/// A subscriber connection's track, as a down-track writes to it: the write completes once the
/// connection has queued the packet (false: the connection is gone).
pub(super) trait Connection: Send + Sync + 'static {
    fn write(&self, packet: rtp::Packet) -> impl Future<Output = bool> + Send + '_;
}

impl Connection for TrackLocalStaticRTP {
    async fn write(&self, packet: rtp::Packet) -> bool {
        self.write_rtp(packet).await.is_ok()
    }
}

/// The subscriber connection's side of a down-track, as the publisher's reader offers to it.
struct TrackSink<C: Connection> {
    writer: Arc<Writer<C>>,
    rewriter: Mutex<Rewriter>,
    /// Packets the connection could not take at once, written in order by the down-track's task.
    backlog: mpsc::Sender<rtp::Packet>,
}

/// What writing to the subscriber's connection needs, shared by the reader and the task.
struct Writer<C> {
    local: Arc<C>,
    /// Packets in the backlog not yet written: while there are any, new ones go behind them.
    waiting: AtomicUsize,
    stopped: CancellationToken,
    metrics: Arc<Metrics>,
    session: Arc<SessionCounters>,
}

fn wire_size(p: &rtp::Packet) -> u64 {
    (p.header.marshal_size() + p.payload.len()) as u64
}

impl<C> Writer<C> {
    /// Counts one write: after the subscriber's connection closed, writes fail and count as
    /// drops until the down-track is detached.
    fn count(&self, written: bool, bytes: u64) {
        if written {
            self.metrics.packets_out.fetch_add(1, Relaxed);
            self.metrics.bytes_out.fetch_add(bytes, Relaxed);
            self.session.packets_out.fetch_add(1, Relaxed);
        } else {
            self.metrics.packets_dropped.fetch_add(1, Relaxed);
        }
    }
}

impl<C: Connection> TrackSink<C> {
    /// A sink writing to `local`, and its task writing the backlog (at most `queue` packets);
    /// both stop at `stopped`.
    fn start(
        local: Arc<C>,
        rewriter: Rewriter,
        queue: usize,
        stopped: CancellationToken,
        (metrics, session): (Arc<Metrics>, Arc<SessionCounters>),
    ) -> Arc<Self> {
        let (backlog, mut rx) = mpsc::channel::<rtp::Packet>(queue);
        let gauges = (metrics.hold(Kind::Task), metrics.hold(Kind::DownTrack));
        let writer = Arc::new(Writer {
            local,
            waiting: AtomicUsize::new(0),
            stopped,
            metrics,
            session,
        });
        // The task holds no sender of its backlog: once the publisher lets go of the sink
        // (detached, or its track ended), the backlog closes and the task ends.
        let sink = Arc::new(TrackSink {
            writer: writer.clone(),
            rewriter: Mutex::new(rewriter),
            backlog,
        });
        tokio::spawn(async move {
            let _gauges = gauges;
            loop {
                let packet = tokio::select! {
                    p = rx.recv() => p,
                    _ = writer.stopped.cancelled() => None,
                };
                let Some(packet) = packet else { break };
                // Dropped (unsubscribed): what is still queued is not written, since the sender
                // is being removed from the connection and a write to it would fail (and webrtc
                // logs every such failure).
                if writer.stopped.is_cancelled() {
                    break;
                }
                let bytes = wire_size(&packet);
                let written = writer.local.write(packet).await;
                writer.count(written, bytes);
                writer.waiting.fetch_sub(1, Relaxed);
            }
        });
        sink
    }

    fn enqueue(&self, packet: rtp::Packet) -> Offered {
        // Counted before it is queued: the task may write it (and count it down) at once.
        self.writer.waiting.fetch_add(1, Relaxed);
        match self.backlog.try_send(packet) {
            Ok(()) => Offered::Queued,
            Err(e) => {
                self.writer.waiting.fetch_sub(1, Relaxed);
                match e {
                    mpsc::error::TrySendError::Full(_) => Offered::Full,
                    mpsc::error::TrySendError::Closed(_) => Offered::Closed,
                }
            }
        }
    }
}

impl<C: Connection> DownSink for TrackSink<C> {
    fn offer(&self, mut packet: rtp::Packet) -> Offered {
        let w = &self.writer;
        if w.stopped.is_cancelled() {
            return Offered::Closed;
        }
        let h = &mut packet.header;
        let out = {
            let mut rewriter = self.rewriter.lock().expect("rewriter");
            rewriter.rewrite(h.ssrc, h.sequence_number, h.timestamp)
        };
        let Some(out) = out else {
            return Offered::Queued;
        };
        h.ssrc = out.ssrc;
        h.payload_type = out.payload_type;
        h.sequence_number = out.sequence_number;
        h.timestamp = out.timestamp;
        if w.waiting.load(Relaxed) > 0 {
            return self.enqueue(packet);
        }
        // A write that cannot complete at once hands nothing over (the packet goes down with
        // the future), so the backlog gets a copy: the payload is shared, the header small.
        let copy = packet.clone();
        let bytes = wire_size(&packet);
        match w.local.write(packet).now_or_never() {
            Some(written) => {
                w.count(written, bytes);
                Offered::Queued
            }
            None => self.enqueue(copy),
        }
    }
}

impl Drop for DownTrack {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.published.detach(self.subscriber);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose queue holds `n` packets until the test reads them.
    struct Fake(mpsc::Sender<rtp::Packet>);

    impl Connection for Fake {
        async fn write(&self, packet: rtp::Packet) -> bool {
            self.0.send(packet).await.is_ok()
        }
    }

    fn packet(seq: u16) -> rtp::Packet {
        let mut p = rtp::Packet::default();
        p.header.ssrc = 7;
        p.header.sequence_number = seq;
        p.header.timestamp = u32::from(seq) * 3_000;
        p
    }

    fn sink(
        connection: usize,
        backlog: usize,
    ) -> (
        Arc<TrackSink<Fake>>,
        mpsc::Receiver<rtp::Packet>,
        CancellationToken,
        Arc<Metrics>,
    ) {
        let (tx, rx) = mpsc::channel(connection);
        let metrics = Arc::new(Metrics::default());
        let stopped = CancellationToken::new();
        let sink = TrackSink::start(
            Arc::new(Fake(tx)),
            Rewriter::new(99, 96, 90_000),
            backlog,
            stopped.clone(),
            (metrics.clone(), metrics.session("s")),
        );
        (sink, rx, stopped, metrics)
    }

    #[tokio::test]
    async fn a_connection_that_lags_gets_the_backlog_first_and_everything_in_order() {
        let (sink, mut rx, _stopped, metrics) = sink(2, 4);
        // Nobody reads the connection: two go straight in, four wait, the rest are lost.
        let offered: Vec<Offered> = (100..110).map(|s| sink.offer(packet(s))).collect();
        assert_eq!(&offered[..6], &[Offered::Queued; 6]);
        assert_eq!(&offered[6..], &[Offered::Full; 4]);
        // The connection drains: the backlog follows the direct writes, then new packets.
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(rx.recv().await.unwrap());
        }
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while sink.writer.waiting.load(Relaxed) > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("backlog written");
        assert_eq!(sink.offer(packet(110)), Offered::Queued);
        got.push(
            rx.try_recv()
                .expect("written at once, the backlog being empty"),
        );
        let seqs: Vec<u16> = got.iter().map(|p| p.header.sequence_number).collect();
        let first = seqs[0];
        // The four lost to the full backlog stay a gap (the subscriber may ask for them).
        let expected: Vec<u16> = (0..6).chain([10]).map(|i| first.wrapping_add(i)).collect();
        assert_eq!(seqs, expected);
        assert!(
            got.iter()
                .all(|p| p.header.ssrc == 99 && p.header.payload_type == 96)
        );
        assert_eq!(metrics.packets_out.load(Relaxed), 7);
    }

    #[tokio::test]
    async fn a_stopped_down_track_writes_nothing_more_and_its_task_ends() {
        let (sink, mut rx, stopped, metrics) = sink(1, 8);
        assert_eq!(sink.offer(packet(1)), Offered::Queued);
        assert_eq!(sink.offer(packet(2)), Offered::Queued, "into the backlog");
        stopped.cancel();
        assert_eq!(sink.offer(packet(3)), Offered::Closed);
        assert_eq!(rx.recv().await.unwrap().header.ssrc, 99);
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while metrics.snapshot(0).tasks > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task ended");
        assert!(rx.try_recv().is_err(), "the backlog was not written");
        drop(sink);
        assert!(rx.recv().await.is_none(), "the connection was let go");
    }
}
