//! The media path. A [`PublishedTrack`] reads one publisher track and fans each packet out to its
//! down-tracks through bounded queues (`try_send`: a full queue drops and counts, and asks for a
//! keyframe, so a slow site never stalls the publisher or the others). Each down-track has its own
//! task that rewrites the header and awaits the subscriber connection's back-pressure alone.
//! Keyframe requests go to the publisher through one throttled task per video track.

use super::keyframe::{Decision, Throttle};
use super::rewrite::Rewriter;
use crate::metrics::{Kind, Metrics};
use crate::signal::protocol::MediaKind;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// The sending end of one down-track's queue, held by the published track it subscribes to.
struct DownTrackTx {
    subscriber: Uuid,
    tx: mpsc::Sender<rtp::Packet>,
}

/// One track a site publishes, live in a room.
pub struct PublishedTrack {
    pub owner: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub kind: MediaKind,
    /// The publishing participant's id: the `stream_id` (msid) of the track at every subscriber.
    pub stream_id: String,
    pub track_id: String,
    /// The publisher's own id of the track (its msid), to find its transceiver again.
    pub remote_track_id: String,
    remote: Arc<dyn TrackRemote>,
    media_ssrc: u32,
    subscribers: RwLock<Vec<DownTrackTx>>,
    keyframe_wanted: Notify,
    pub(super) cancel: CancellationToken,
    metrics: Arc<Metrics>,
}

/// Who publishes a track, and which of its tracks it is.
pub struct Origin {
    pub owner: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub kind: MediaKind,
}

impl PublishedTrack {
    pub fn new(
        origin: Origin,
        remote: Arc<dyn TrackRemote>,
        remote_track_id: String,
        media_ssrc: u32,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let Origin {
            owner,
            site_id,
            site_name,
            kind,
        } = origin;
        Arc::new(PublishedTrack {
            owner,
            stream_id: owner.to_string(),
            // Unique per publication: receivers key remote tracks by track id, and a site that
            // rejoins must not be mistaken for its previous connection.
            track_id: format!(
                "{site_id}-{}-{}",
                kind.as_str(),
                &Uuid::new_v4().simple().to_string()[..8]
            ),
            site_id,
            site_name,
            kind,
            remote,
            remote_track_id,
            media_ssrc,
            subscribers: RwLock::new(Vec::new()),
            keyframe_wanted: Notify::new(),
            cancel: CancellationToken::new(),
            metrics,
        })
    }

    /// Asks the publisher for a keyframe (throttled by the keyframe task; audio ignores it).
    pub fn request_keyframe(&self) {
        if self.kind == MediaKind::Video {
            self.keyframe_wanted.notify_one();
        }
    }

    fn attach(&self, subscriber: Uuid, tx: mpsc::Sender<rtp::Packet>) {
        let mut subs = self.subscribers.write().expect("subscribers");
        subs.retain(|s| s.subscriber != subscriber);
        subs.push(DownTrackTx { subscriber, tx });
    }

    /// Removes a subscriber; its queue closes and its forwarding task ends.
    pub fn detach(&self, subscriber: Uuid) {
        self.subscribers
            .write()
            .expect("subscribers")
            .retain(|s| s.subscriber != subscriber);
    }

    /// Fans one packet out. Never awaits. Header extensions are dropped first: their ids were
    /// negotiated with the publisher, not with the subscribers (the sender refuses unknown ones),
    /// and without them the per-subscriber clones allocate nothing but the header.
    fn forward(&self, mut packet: rtp::Packet) {
        packet.header.extension = false;
        packet.header.extension_profile = 0;
        packet.header.extensions.clear();
        packet.header.extensions_padding = 0;
        let dropped = fan_out(&self.subscribers.read().expect("subscribers"), packet);
        if dropped > 0 {
            self.metrics.packets_dropped.fetch_add(dropped, Relaxed);
            self.request_keyframe();
        }
    }

    /// Starts the reader (and, for video, the keyframe task). `on_end` runs once the publisher's
    /// track ends or the track is cancelled.
    pub fn start(
        self: &Arc<Self>,
        keyframe_interval: Duration,
        on_end: impl FnOnce() + Send + 'static,
    ) {
        let me = self.clone();
        let gauge = self.metrics.hold(Kind::Task);
        tokio::spawn(async move {
            let _gauge = gauge;
            loop {
                let event = tokio::select! {
                    _ = me.cancel.cancelled() => break,
                    e = me.remote.poll() => e,
                };
                match event {
                    Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                        me.metrics.packets_in.fetch_add(1, Relaxed);
                        me.forward(packet);
                    }
                    Some(TrackRemoteEvent::OnEnded) | None => break,
                    Some(_) => {}
                }
            }
            me.cancel.cancel();
            me.subscribers.write().expect("subscribers").clear();
            on_end();
        });
        if self.kind == MediaKind::Video {
            let me = self.clone();
            let gauge = self.metrics.hold(Kind::Task);
            tokio::spawn(async move {
                let _gauge = gauge;
                let mut throttle = Throttle::new(keyframe_interval);
                loop {
                    tokio::select! {
                        _ = me.cancel.cancelled() => break,
                        _ = me.keyframe_wanted.notified() => {}
                    }
                    if let Decision::SendAt(at) = throttle.request(std::time::Instant::now()) {
                        tokio::select! {
                            _ = me.cancel.cancelled() => break,
                            _ = tokio::time::sleep_until(at.into()) => {}
                        }
                        throttle.fire(std::time::Instant::now());
                    }
                    me.metrics.keyframe_requests.fetch_add(1, Relaxed);
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc: me.media_ssrc,
                    };
                    if me.remote.write_rtcp(vec![Box::new(pli)]).await.is_err() {
                        break;
                    }
                }
            });
        }
    }
}

/// Offers `packet` to every down-track queue without waiting (the last one gets the original, the
/// others a clone). Returns how many queues were full: those down-tracks lose this packet.
fn fan_out(subs: &[DownTrackTx], packet: rtp::Packet) -> u64 {
    let mut dropped = 0;
    let mut packet = Some(packet);
    let n = subs.len();
    for (i, s) in subs.iter().enumerate() {
        let p = if i + 1 == n {
            packet.take()
        } else {
            packet.clone()
        };
        if let Some(p) = p
            && let Err(mpsc::error::TrySendError::Full(_)) = s.tx.try_send(p)
        {
            dropped += 1;
        }
    }
    dropped
}

/// One forwarded track at one subscriber.
pub struct DownTrack {
    pub published: Arc<PublishedTrack>,
    pub local: Arc<TrackLocalStaticRTP>,
    pub sender: Arc<dyn webrtc::rtp_transceiver::RtpSender>,
    subscriber: Uuid,
    cancel: CancellationToken,
    rtcp_started: AtomicBool,
}

impl DownTrack {
    /// Subscribes `subscriber` to `published` through `local` (already added to the subscriber's
    /// connection as `sender`) and starts the forwarding task.
    pub fn start(
        subscriber: Uuid,
        published: Arc<PublishedTrack>,
        local: Arc<TrackLocalStaticRTP>,
        sender: Arc<dyn webrtc::rtp_transceiver::RtpSender>,
        out_ssrc: u32,
        queue: usize,
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
        let writer = local.clone();
        tokio::spawn(async move {
            let _gauges = gauges;
            while let Some(mut packet) = rx.recv().await {
                let h = &mut packet.header;
                let Some(out) = rewriter.rewrite(h.ssrc, h.sequence_number, h.timestamp) else {
                    continue;
                };
                h.ssrc = out.ssrc;
                h.payload_type = out.payload_type;
                h.sequence_number = out.sequence_number;
                h.timestamp = out.timestamp;
                // Before the subscriber's answer binds the track, and after its connection
                // closed, writes fail: count them as drops, keep draining until detached.
                if writer.write_rtp(packet).await.is_ok() {
                    metrics.packets_out.fetch_add(1, Relaxed);
                } else {
                    metrics.packets_dropped.fetch_add(1, Relaxed);
                }
            }
        });
        published.attach(subscriber, tx);
        DownTrack {
            published,
            local,
            sender,
            subscriber,
            cancel: CancellationToken::new(),
            rtcp_started: AtomicBool::new(false),
        }
    }

    /// Once negotiated: relays the subscriber's keyframe requests to the publisher and asks for
    /// a first keyframe. Idempotent.
    pub fn on_negotiated(&self) {
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

impl Drop for DownTrack {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.published.detach(self.subscriber);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16) -> rtp::Packet {
        let mut p = rtp::Packet::default();
        p.header.sequence_number = seq;
        p
    }

    #[test]
    fn a_stalled_down_track_drops_without_holding_back_the_others() {
        let (fast_tx, mut fast_rx) = mpsc::channel(4);
        let (slow_tx, mut slow_rx) = mpsc::channel(4);
        let subs = vec![
            DownTrackTx {
                subscriber: Uuid::new_v4(),
                tx: slow_tx,
            },
            DownTrackTx {
                subscriber: Uuid::new_v4(),
                tx: fast_tx,
            },
        ];
        let mut dropped = 0;
        let mut fast = Vec::new();
        for seq in 0..100 {
            dropped += fan_out(&subs, packet(seq));
            // The fast subscriber drains as it goes; the slow one never reads.
            while let Ok(p) = fast_rx.try_recv() {
                fast.push(p.header.sequence_number);
            }
        }
        assert_eq!(
            fast,
            (0..100).collect::<Vec<_>>(),
            "the fast site gets every packet, in order"
        );
        assert_eq!(
            dropped, 96,
            "the slow site's queue holds 4, the rest are dropped and counted"
        );
        let slow: Vec<u16> = std::iter::from_fn(|| slow_rx.try_recv().ok())
            .map(|p| p.header.sequence_number)
            .collect();
        assert_eq!(slow, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_closed_down_track_is_not_counted_as_lag() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let subs = vec![DownTrackTx {
            subscriber: Uuid::new_v4(),
            tx,
        }];
        assert_eq!(fan_out(&subs, packet(1)), 0);
        assert_eq!(fan_out(&[], packet(1)), 0);
    }
}
