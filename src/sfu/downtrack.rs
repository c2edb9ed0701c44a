//! One forwarded track at one subscriber: a [`DownTrack`] owns the task that rewrites each packet
//! of a [`PublishedTrack`] for its subscriber (SSRC, payload type, continuous sequence numbers and
//! timestamps) and hands it to the egress loop for the subscriber's connection (the loop also
//! relays the subscriber's keyframe requests to the publisher). Dropping it detaches it from the
//! publisher and stops its writes at once, before its sender leaves the connection.

use super::egress::Egress;
use super::forward::{PublishedTrack, Readiness};
use super::rewrite::Rewriter;
use crate::metrics::Kind;
use crate::signal::protocol::MediaKind;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::shared::marshal::MarshalSize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One forwarded track at one subscriber.
pub struct DownTrack {
    pub published: Arc<PublishedTrack>,
    pub sender: RTCRtpSenderId,
    subscriber: Uuid,
    cancel: CancellationToken,
    ready: Arc<Readiness>,
}

impl DownTrack {
    /// Subscribes `subscriber` to `published` through `sender` (already added to the
    /// subscriber's connection `conn` of `egress`) and starts the forwarding task. Packets flow
    /// once `connected` (the subscriber connection's state) is true and
    /// [`DownTrack::on_negotiated`] was called.
    pub fn start(
        subscriber: Uuid,
        published: Arc<PublishedTrack>,
        (egress, conn, sender): (Egress, u64, RTCRtpSenderId),
        out_ssrc: u32,
        queue: usize,
        connected: Arc<AtomicBool>,
    ) -> DownTrack {
        let (tx, mut rx) = mpsc::channel::<rtp::Packet>(queue);
        let metrics = published.metrics.clone();
        let kind = if published.kind == MediaKind::Audio {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio
        } else {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video
        };
        let mut rewriter = Rewriter::new(
            out_ssrc,
            super::engine::payload_type(kind),
            super::engine::codec(kind).clock_rate,
        );
        let gauges = (metrics.hold(Kind::Task), metrics.hold(Kind::DownTrack));
        let session = published.session.clone();
        let cancel = CancellationToken::new();
        let stopped = cancel.clone();
        tokio::spawn(async move {
            let _gauges = gauges;
            while let Some(mut packet) = rx.recv().await {
                // Dropped (unsubscribed): what is still queued is not written, since the sender
                // is being removed from the connection and a write to it would fail (and webrtc
                // logs every such failure).
                if stopped.is_cancelled() {
                    break;
                }
                let h = &mut packet.header;
                let Some(out) = rewriter.rewrite(h.ssrc, h.sequence_number, h.timestamp) else {
                    continue;
                };
                h.ssrc = out.ssrc;
                h.payload_type = out.payload_type;
                h.sequence_number = out.sequence_number;
                h.timestamp = out.timestamp;
                let bytes = (h.marshal_size() + packet.payload.len()) as u64;
                // A full egress queue (the loop lagging) drops the packet and counts it.
                if egress.write(conn, sender, packet) {
                    metrics.packets_out.fetch_add(1, Relaxed);
                    metrics.bytes_out.fetch_add(bytes, Relaxed);
                    session.packets_out.fetch_add(1, Relaxed);
                } else {
                    metrics.packets_dropped.fetch_add(1, Relaxed);
                }
            }
        });
        let ready = Arc::new(Readiness::new(connected));
        published.attach(subscriber, tx, ready.clone());
        DownTrack {
            published,
            sender,
            subscriber,
            cancel,
            ready,
        }
    }

    /// Once the subscriber applied the offer declaring this track: packets may flow (when its
    /// connection is up) and a first keyframe is asked for. Idempotent.
    pub fn on_negotiated(&self) {
        self.ready.set_negotiated();
        self.published.request_keyframe();
    }
}

impl Drop for DownTrack {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.published.detach(self.subscriber);
    }
}
