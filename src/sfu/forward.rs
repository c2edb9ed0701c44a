//! The media path. A [`PublishedTrack`] takes one publisher track's packets from the media driver
//! ([`PublishedTrack::on_rtp`]) and fans each one out to its
//! down-tracks, offering it to each one's [`DownSink`] (the engine's side of the seam: the media
//! loop rewrites the header for the subscriber and sends it). An offer never waits: a full queue
//! drops and counts, and asks for a keyframe, so a slow site never stalls the publisher or the
//! others.
//! A down-track is offered nothing until it is [`Readiness`]-open: its subscriber's connection is
//! up (DTLS) and has applied the offer that declares the track; a first keyframe is asked for when
//! it opens. Keyframe requests go to the publisher through one throttled task per video track.
//! A recorder observes a published track through a [`Tap`] (every packet before fan-out, and the
//! publisher's sender reports): it is offered, never awaited.

use super::keyframe::{Decision, Throttle};
use crate::metrics::{Gauge, Kind, Metrics, SessionCounters};
use crate::signal::protocol::{MediaKind, TrackSource};
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp;
use rtc::shared::marshal::MarshalSize;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Whether a down-track may be sent packets: its subscriber's connection is up (`connected`,
/// shared by all the down-tracks of that connection) and the subscriber has applied the offer
/// that declares the track (`negotiated`). `opened` remembers that the gate was seen open, so
/// that its opening is noticed once (the new subscriber then needs a keyframe).
#[derive(Debug, Default)]
pub struct Readiness {
    connected: Arc<AtomicBool>,
    negotiated: AtomicBool,
    opened: AtomicBool,
}

impl Readiness {
    pub fn new(connected: Arc<AtomicBool>) -> Self {
        Readiness {
            connected,
            negotiated: AtomicBool::new(false),
            opened: AtomicBool::new(false),
        }
    }

    pub fn set_negotiated(&self) {
        self.negotiated.store(true, Relaxed);
    }

    fn is_open(&self) -> bool {
        self.negotiated.load(Relaxed) && self.connected.load(Relaxed)
    }
}

/// What became of a packet offered to a down-track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Queued,
    /// Its queue is full (the down-track lags): the packet is lost.
    Full,
    /// Its queue is gone (the down-track is ending).
    Closed,
}

/// Where one down-track's packets go (the engine behind the seam). Never waits.
pub trait DownSink: Send + Sync {
    fn offer(&self, packet: rtp::Packet) -> Offered;
}

/// A queue of its own (benchmarks and tests read the packets from it).
impl DownSink for mpsc::Sender<rtp::Packet> {
    fn offer(&self, packet: rtp::Packet) -> Offered {
        match self.try_send(packet) {
            Ok(()) => Offered::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => Offered::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Offered::Closed,
        }
    }
}

/// One down-track as the published track it subscribes to holds it.
pub struct DownTrackTx {
    subscriber: Uuid,
    sink: Box<dyn DownSink>,
    ready: Arc<Readiness>,
}

impl DownTrackTx {
    pub fn new(subscriber: Uuid, sink: impl DownSink + 'static, ready: Arc<Readiness>) -> Self {
        DownTrackTx {
            subscriber,
            sink: Box::new(sink),
            ready,
        }
    }
}

/// What one fan-out did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOut {
    /// Queued for a down-track.
    pub queued: u64,
    /// Lost to a full queue (a lagging down-track).
    pub dropped: u64,
    /// Not offered: the down-track's subscriber was not ready.
    pub not_ready: u64,
    /// A down-track opened with this packet (it needs a keyframe).
    pub opened: bool,
}

/// Counts packets that never arrived from a publisher, from gaps in sequence numbers.
/// Reordered or repeated packets (behind the highest seen) are not counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct LossCounter {
    highest: Option<u16>,
}

impl LossCounter {
    /// Takes one received sequence number; returns how many were skipped before it.
    pub fn on_packet(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            self.highest = Some(seq);
            return 0;
        };
        let step = seq.wrapping_sub(h);
        if step == 0 || step >= 0x8000 {
            return 0;
        }
        self.highest = Some(seq);
        u64::from(step - 1)
    }
}

/// The publisher's side of the seam: how a keyframe request reaches the site's encoder (a PLI
/// on its connection). False once the track's connection is gone.
pub trait KeyframeSource: Send + Sync {
    fn request_keyframe(&self, media_ssrc: u32) -> bool;
}

/// What reading one published track keeps between its packets (the media driver holds it).
pub struct Reading {
    loss: LossCounter,
    meter: super::speaker::Meter,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            loss: LossCounter::default(),
            meter: super::speaker::Meter::new(Default::default()),
        }
    }
}

/// A recorder's observer of one published track (see `crate::record`). Both calls run on the
/// track's reader and must not block: queue (bounded) or drop and count.
pub trait Tap: Send + Sync {
    /// A packet as it is forwarded (header extensions already removed).
    fn rtp(&self, packet: &rtp::Packet);
    /// A sender report of the publisher (RTP time against its NTP wall clock).
    fn sender_report(&self, report: &SenderReport);
}

/// Gives each newly published track of a session its [`Tap`] while that session records.
pub trait TapSource: Send + Sync {
    fn tap(&self, track: &PublishedTrack) -> Option<Arc<dyn Tap>>;
}

/// One track a site publishes, live in a room.
pub struct PublishedTrack {
    pub owner: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub kind: MediaKind,
    /// The site's camera (and microphone) or its shared screen.
    pub source: TrackSource,
    /// The publishing participant's id (and `-screen` for its screen): the `stream_id` (msid) of
    /// the track at every subscriber.
    pub stream_id: String,
    pub track_id: String,
    /// The publisher's own id of the track (its msid), to find its transceiver again.
    pub remote_track_id: String,
    keyframes: Box<dyn KeyframeSource>,
    media_ssrc: u32,
    subscribers: RwLock<Vec<DownTrackTx>>,
    tap: RwLock<Option<Arc<dyn Tap>>>,
    /// Whether some site receives the track or a recording taps it (`sfu::pause`).
    watched: tokio::sync::watch::Sender<bool>,
    /// Muted (by the site or the chair): nothing is forwarded.
    muted: AtomicBool,
    /// The negotiated id of the RFC 6464 audio level extension (0: none), and who is told when
    /// the site starts or stops speaking (`speaker`).
    level_ext: std::sync::atomic::AtomicU8,
    on_speaking: std::sync::OnceLock<Box<dyn Fn(bool) + Send + Sync>>,
    /// What was last reported (a site speaking when its track ends is reported silent).
    speaking: AtomicBool,
    keyframe_wanted: Notify,
    pub(super) cancel: CancellationToken,
    pub(super) metrics: Arc<Metrics>,
    pub(super) session: Arc<SessionCounters>,
    _gauge: Gauge,
}

/// Who publishes a track, and which of its tracks it is.
pub struct Origin {
    pub session_id: String,
    pub owner: Uuid,
    pub site_id: String,
    pub site_name: String,
    pub kind: MediaKind,
    pub source: TrackSource,
}

impl PublishedTrack {
    pub fn new(
        origin: Origin,
        keyframes: Box<dyn KeyframeSource>,
        remote_track_id: String,
        media_ssrc: u32,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let Origin {
            session_id,
            owner,
            site_id,
            site_name,
            kind,
            source,
        } = origin;
        let (stream_id, label) = match source {
            TrackSource::Camera => (owner.to_string(), kind.as_str()),
            TrackSource::Screen => (format!("{owner}-screen"), "screen"),
        };
        Arc::new(PublishedTrack {
            owner,
            source,
            stream_id,
            // Unique per publication: receivers key remote tracks by track id, and a site that
            // rejoins must not be mistaken for its previous connection.
            track_id: format!(
                "{site_id}-{label}-{}",
                &Uuid::new_v4().simple().to_string()[..8]
            ),
            site_id,
            site_name,
            kind,
            keyframes,
            remote_track_id,
            media_ssrc,
            subscribers: RwLock::new(Vec::new()),
            tap: RwLock::new(None),
            watched: tokio::sync::watch::Sender::new(false),
            muted: AtomicBool::new(false),
            level_ext: std::sync::atomic::AtomicU8::new(0),
            on_speaking: std::sync::OnceLock::new(),
            speaking: AtomicBool::new(false),
            keyframe_wanted: Notify::new(),
            cancel: CancellationToken::new(),
            session: metrics.session(&session_id),
            _gauge: metrics.hold(Kind::Track),
            metrics,
        })
    }

    /// Asks the publisher for a keyframe (throttled by the keyframe task; audio ignores it).
    pub fn request_keyframe(&self) {
        if self.kind == MediaKind::Video {
            self.keyframe_wanted.notify_one();
        }
    }

    /// Starts (`Some`) or ends (`None`) a recorder's observation of this track.
    pub fn set_tap(&self, tap: Option<Arc<dyn Tap>>) {
        *self.tap.write().expect("tap") = tap;
        self.update_watched();
    }

    /// Follows whether the track is watched (some site receives it, or a recording taps it).
    pub fn watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.watched.subscribe()
    }

    /// Recomputes [`PublishedTrack::watch`]'s answer after a change of subscribers or tap. The
    /// answer is computed under the watch's own lock, so concurrent changes end on the last state.
    fn update_watched(&self) {
        self.watched.send_if_modified(|w| {
            let subscribers = self.subscribers.read().expect("subscribers").len();
            let tapped = self.tap.read().expect("tap").is_some();
            let now = super::pause::is_watched(subscribers, tapped);
            std::mem::replace(w, now) != now
        });
    }

    /// Stops or resumes forwarding (a mute). Resumed video starts with a keyframe.
    pub fn set_muted(&self, muted: bool) {
        if self.muted.swap(muted, Relaxed) && !muted {
            self.request_keyframe();
        }
    }

    pub fn is_muted(&self) -> bool {
        self.muted.load(Relaxed)
    }

    /// Active speaker detection of an audio track: the audio level extension's id on the
    /// publisher's leg, and what to call when the site starts (`true`) or stops speaking.
    pub fn detect_speaking(&self, ext_id: u8, on_change: impl Fn(bool) + Send + Sync + 'static) {
        self.level_ext.store(ext_id, Relaxed);
        let _ = self.on_speaking.set(Box::new(on_change));
    }

    fn speaking_changed(&self, change: Option<bool>) {
        let Some(speaking) = change else { return };
        self.speaking.store(speaking, Relaxed);
        if let Some(f) = self.on_speaking.get() {
            f(speaking);
        }
    }

    pub(super) fn attach(&self, down: DownTrackTx) {
        let mut subs = self.subscribers.write().expect("subscribers");
        subs.retain(|s| s.subscriber != down.subscriber);
        subs.push(down);
        drop(subs);
        self.update_watched();
    }

    /// Removes a subscriber: nothing more is offered to it.
    pub fn detach(&self, subscriber: Uuid) {
        self.subscribers
            .write()
            .expect("subscribers")
            .retain(|s| s.subscriber != subscriber);
        self.update_watched();
    }

    /// Fans one packet out. Never awaits. Header extensions are dropped first: their ids were
    /// negotiated with the publisher, not with the subscribers (the sender refuses unknown ones),
    /// and without them the per-subscriber clones allocate nothing but the header.
    fn forward(&self, mut packet: rtp::Packet) {
        if self.muted.load(Relaxed) {
            return;
        }
        packet.header.extension = false;
        packet.header.extension_profile = 0;
        packet.header.extensions.clear();
        packet.header.extensions_padding = 0;
        if let Some(tap) = self.tap.read().expect("tap").as_ref() {
            tap.rtp(&packet);
        }
        let bytes = (packet.header.marshal_size() + packet.payload.len()) as u64;
        let done = fan_out(&self.subscribers.read().expect("subscribers"), packet);
        if done.queued > 0 {
            self.metrics.packets_out.fetch_add(done.queued, Relaxed);
            self.metrics
                .bytes_out
                .fetch_add(done.queued * bytes, Relaxed);
            self.session.packets_out.fetch_add(done.queued, Relaxed);
        }
        if done.not_ready > 0 {
            self.metrics
                .packets_not_ready
                .fetch_add(done.not_ready, Relaxed);
        }
        if done.dropped > 0 {
            self.metrics
                .packets_dropped
                .fetch_add(done.dropped, Relaxed);
        }
        if done.dropped > 0 || done.opened {
            self.request_keyframe();
        }
    }

    /// One packet from the publisher (the media driver calls it, in order, per track): counted,
    /// measured (loss, the speaker's level) and fanned out.
    pub fn on_rtp(&self, packet: rtp::Packet, reading: &mut Reading) {
        let bytes = packet.header.marshal_size() + packet.payload.len();
        self.metrics.packets_in.fetch_add(1, Relaxed);
        self.metrics.bytes_in.fetch_add(bytes as u64, Relaxed);
        self.session.packets_in.fetch_add(1, Relaxed);
        let lost = reading.loss.on_packet(packet.header.sequence_number);
        if lost > 0 {
            self.session.packets_lost.fetch_add(lost, Relaxed);
        }
        if self.kind == MediaKind::Audio {
            let ext = self.level_ext.load(Relaxed);
            let now = std::time::Instant::now();
            let change = super::speaker::measure(
                &mut reading.meter,
                &packet.header,
                ext,
                self.is_muted(),
                now,
            );
            self.speaking_changed(change);
        }
        self.forward(packet);
    }

    /// RTCP from the publisher about this track: its sender reports go to the recorder's tap.
    pub fn on_rtcp(&self, packets: &[Box<dyn rtc::rtcp::Packet>]) {
        if let Some(tap) = self.tap.read().expect("tap").as_ref() {
            for sr in packets
                .iter()
                .filter_map(|p| p.as_any().downcast_ref::<SenderReport>())
            {
                tap.sender_report(sr);
            }
        }
    }

    /// Starts the track's life: it ends when [`PublishedTrack::cancel`] fires (the track ended at
    /// the site, its connection closed, the site replaced it or left), then `on_end` runs. For
    /// video, it also starts the keyframe task.
    pub fn start(
        self: &Arc<Self>,
        keyframe_interval: Duration,
        on_end: impl FnOnce() + Send + 'static,
    ) {
        let me = self.clone();
        let gauge = self.metrics.hold(Kind::Task);
        tokio::spawn(async move {
            let _gauge = gauge;
            me.cancel.cancelled().await;
            me.subscribers.write().expect("subscribers").clear();
            me.set_tap(None);
            if me.speaking.load(Relaxed) {
                me.speaking_changed(Some(false));
            }
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
                    if !me.keyframes.request_keyframe(me.media_ssrc) {
                        break;
                    }
                }
            });
        }
    }
}

/// Offers `packet` to every ready down-track queue without waiting (the last one gets the
/// original, the others a clone). Down-tracks not ready are skipped; a full queue loses this
/// packet. Allocates nothing beyond the clones.
pub fn fan_out(subs: &[DownTrackTx], packet: rtp::Packet) -> FanOut {
    let mut done = FanOut::default();
    let mut packet = Some(packet);
    let last = subs.iter().rposition(|s| s.ready.is_open());
    for (i, s) in subs.iter().enumerate() {
        if !s.ready.is_open() {
            if s.ready.opened.load(Relaxed) {
                s.ready.opened.store(false, Relaxed);
            }
            done.not_ready += 1;
            continue;
        }
        if !s.ready.opened.load(Relaxed) {
            s.ready.opened.store(true, Relaxed);
            done.opened = true;
        }
        let p = if Some(i) == last {
            packet.take()
        } else {
            packet.clone()
        };
        if let Some(p) = p {
            match s.sink.offer(p) {
                Offered::Queued => done.queued += 1,
                Offered::Full => done.dropped += 1,
                Offered::Closed => {}
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16) -> rtp::Packet {
        let mut p = rtp::Packet::default();
        p.header.sequence_number = seq;
        p
    }

    fn open() -> Arc<Readiness> {
        let r = Readiness::new(Arc::new(AtomicBool::new(true)));
        r.set_negotiated();
        Arc::new(r)
    }

    fn down(tx: mpsc::Sender<rtp::Packet>, ready: Arc<Readiness>) -> DownTrackTx {
        DownTrackTx::new(Uuid::new_v4(), tx, ready)
    }

    #[test]
    fn a_stalled_down_track_drops_without_holding_back_the_others() {
        let (fast_tx, mut fast_rx) = mpsc::channel(4);
        let (slow_tx, mut slow_rx) = mpsc::channel(4);
        let subs = vec![down(slow_tx, open()), down(fast_tx, open())];
        let mut dropped = 0;
        let mut fast = Vec::new();
        for seq in 0..100 {
            dropped += fan_out(&subs, packet(seq)).dropped;
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
        let subs = vec![down(tx, open())];
        assert_eq!(fan_out(&subs, packet(1)).dropped, 0);
        assert_eq!(fan_out(&[], packet(1)), FanOut::default());
    }

    #[test]
    fn nothing_is_offered_before_the_connection_is_up_and_the_offer_applied() {
        let connected = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Readiness::new(connected.clone()));
        let (tx, mut rx) = mpsc::channel(8);
        let (other_tx, mut other_rx) = mpsc::channel(8);
        let subs = vec![down(tx, ready.clone()), down(other_tx, open())];
        let first = fan_out(&subs, packet(1));
        assert_eq!((first.queued, first.not_ready), (1, 1));
        assert!(first.opened, "the open down-track is seen opening once");
        connected.store(true, Relaxed);
        let second = fan_out(&subs, packet(2));
        assert_eq!(
            (second.not_ready, second.opened),
            (1, false),
            "not negotiated yet"
        );
        ready.set_negotiated();
        let third = fan_out(&subs, packet(3));
        assert_eq!((third.queued, third.not_ready, third.opened), (2, 0, true));
        assert_eq!(rx.try_recv().unwrap().header.sequence_number, 3);
        assert!(rx.try_recv().is_err());
        let seen: Vec<u16> = std::iter::from_fn(|| other_rx.try_recv().ok())
            .map(|p| p.header.sequence_number)
            .collect();
        assert_eq!(seen, vec![1, 2, 3]);
        // The connection drops: the down-track closes again, and reopening asks for a keyframe.
        connected.store(false, Relaxed);
        assert_eq!(fan_out(&subs, packet(4)).not_ready, 1);
        connected.store(true, Relaxed);
        assert!(fan_out(&subs, packet(5)).opened);
    }

    #[test]
    fn loss_is_counted_from_sequence_gaps_across_wrap_around() {
        let mut l = LossCounter::default();
        assert_eq!(l.on_packet(65_533), 0);
        assert_eq!(l.on_packet(65_534), 0);
        assert_eq!(l.on_packet(1), 2, "65535 and 0 are missing");
        assert_eq!(l.on_packet(0), 0, "a late packet is not counted again");
        assert_eq!(l.on_packet(1), 0, "a duplicate neither");
        assert_eq!(l.on_packet(2), 0);
    }
}
