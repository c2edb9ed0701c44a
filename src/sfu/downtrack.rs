//! One forwarded track at one subscriber. A [`DownTrack`] is what the subscriber's participant
//! holds: its sender on the subscriber's connection and its place among the published track's
//! down-tracks, whose packets go to the media driver (which rewrites each one for the subscriber:
//! SSRC, payload type, continuous sequence numbers and timestamps). Dropping it detaches it from
//! the publisher at once, before its sender leaves the connection.

use super::driver::Driver;
use super::forward::{DownTrackTx, PublishedTrack, Readiness};
use crate::metrics::{Gauge, Kind};
use rtc::rtp_transceiver::RTCRtpSenderId;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use uuid::Uuid;

/// One forwarded track at one subscriber.
pub struct DownTrack {
    pub published: Arc<PublishedTrack>,
    pub sender: RTCRtpSenderId,
    subscriber: Uuid,
    ready: Arc<Readiness>,
    _gauge: Gauge,
}

impl DownTrack {
    /// Subscribes `subscriber` to `published` through down-track `down` of sender `sender`
    /// (already added to the subscriber's connection `conn` of `driver`). Packets flow once
    /// `connected` (the subscriber connection's state) is true and
    /// [`DownTrack::on_negotiated`] was called.
    pub fn start(
        subscriber: Uuid,
        published: Arc<PublishedTrack>,
        (driver, conn, sender, down): (&Driver, u64, RTCRtpSenderId, u64),
        connected: Arc<AtomicBool>,
    ) -> DownTrack {
        let ready = Arc::new(Readiness::new(connected));
        let sink = driver.sink(conn, sender, down);
        published.attach(DownTrackTx::new(subscriber, sink, ready.clone()));
        DownTrack {
            _gauge: published.metrics.hold(Kind::DownTrack),
            published,
            sender,
            subscriber,
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
        self.published.detach(self.subscriber);
    }
}
