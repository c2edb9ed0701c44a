//! One site's recorder: the taps of its tracks feed one bounded queue (a full queue drops and
//! counts, like a down-track: the SFU never waits for a recorder); one task depacketises each
//! track (`assemble`: a reorder window and the `rtc` crate's depacketisers), places frames on the session clock (`clock`), interleaves
//! audio and video in time order with a short hold, and writes the site's WebM file
//! (`webm_file`). The file opens on the first video keyframe (audio before it is dropped, so both
//! streams start together) or, for a site without video, after [`AUDIO_ONLY_AFTER`] of audio;
//! before it opens, frames wait (up to [`START_WAIT`]) for a sender report of each track and are
//! then placed again, so that a track whose first packets were held up does not start late.

use super::assemble::{Assembler, Losses};
use super::clock::SiteClock;
use super::webm_file::{Budget, SiteFile, vp8_keyframe_size};
use crate::sfu::forward::Tap;
use crate::signal::protocol::MediaKind;
use crate::store::Pool;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp;
use rtc::rtp::codec::opus::OpusPacket;
use rtc::rtp::codec::vp8::Vp8Packet;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames wait this long for a later frame of the other track before they are written.
const HOLD_NS: i64 = 300_000_000;
/// Before the file opens, frames wait this long (of media) for a sender report of each track.
/// Placed by arrival alone, a track whose first packets were held up (a loaded server, a
/// retransmission) would start that much late in the file for good.
const START_WAIT: i64 = 1_500_000_000;
/// With no video keyframe after this much audio, the file opens with audio only.
const AUDIO_ONLY_AFTER: i64 = 2_000_000_000;
/// The size declared for a file that opened before any keyframe.
const DEFAULT_SIZE: (u32, u32) = (640, 360);
/// How long a frame may wait for a missing packet.
const MAX_LATE: Duration = Duration::from_millis(500);

/// What a site's taps queue for its task.
pub enum SiteMsg {
    Rtp {
        kind: MediaKind,
        packet: rtp::Packet,
        at: Instant,
    },
    Report {
        ssrc: u32,
        ntp: u64,
        rtp: u32,
    },
}

/// The tap of one track of a site.
pub struct SiteTap {
    pub kind: MediaKind,
    pub tx: mpsc::Sender<SiteMsg>,
    pub dropped: Arc<AtomicU64>,
}

impl Tap for SiteTap {
    fn rtp(&self, packet: &rtp::Packet) {
        let msg = SiteMsg::Rtp {
            kind: self.kind,
            packet: packet.clone(),
            at: Instant::now(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(msg) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    fn sender_report(&self, sr: &SenderReport) {
        let _ = self.tx.try_send(SiteMsg::Report {
            ssrc: sr.ssrc,
            ntp: sr.ntp_time,
            rtp: sr.rtp_time,
        });
    }
}

/// What a site's task needs.
pub struct SiteSpec {
    pub recording_id: String,
    pub site_id: String,
    pub site_name: String,
    pub dir: PathBuf,
    pub name: String,
    /// The recording's start: session clock 0.
    pub epoch: Instant,
    pub budget: Arc<Budget>,
    pub pool: Pool,
}

/// How a site's file ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub opened: bool,
    pub error: Option<String>,
}

struct Frame {
    at: i64,
    ssrc: u32,
    rtp_ts: u32,
    video: bool,
    key: bool,
    data: bytes::Bytes,
}

struct Track<D: rtc::rtp::packetizer::Depacketizer> {
    ssrc: u32,
    frames: Assembler<D>,
}

/// The state of one site's recording between messages (pure apart from the file writes).
struct Writer {
    spec: SiteSpec,
    clock: SiteClock,
    video: Option<Track<Vp8Packet>>,
    audio: Option<Track<OpusPacket>>,
    pending: VecDeque<Frame>,
    newest: i64,
    file: Option<(SiteFile, i64)>,
    error: Option<String>,
    /// Losses of the tracks replaced so far (a restarted publisher).
    lost: Losses,
}

impl Writer {
    fn on_rtp(&mut self, kind: MediaKind, packet: rtp::Packet, at: Instant) {
        let at_ns = at.saturating_duration_since(self.spec.epoch).as_nanos() as i64;
        let ssrc = packet.header.ssrc;
        let rate = if kind == MediaKind::Video {
            90_000
        } else {
            48_000
        };
        self.clock
            .track(ssrc, rate)
            .on_packet(packet.header.timestamp, at_ns);
        match kind {
            MediaKind::Video => {
                let t = self
                    .video
                    .get_or_insert_with(|| new_track(ssrc, Vp8Packet::default(), rate, VIDEO_KEY));
                if t.ssrc != ssrc {
                    // The publisher restarted its track: start over on the new stream.
                    self.clock.forget(t.ssrc);
                    self.lost.add(t.frames.losses());
                    *t = new_track(ssrc, Vp8Packet::default(), rate, VIDEO_KEY);
                    self.clock
                        .track(ssrc, rate)
                        .on_packet(packet.header.timestamp, at_ns);
                }
                t.frames.push(packet);
                while let Some(s) = t.frames.pop() {
                    if let Some(at) = self.clock.at(ssrc, s.rtp_ts) {
                        let key = vp8_keyframe_size(&s.data).is_some();
                        queue(
                            &mut self.pending,
                            Frame {
                                at,
                                ssrc,
                                rtp_ts: s.rtp_ts,
                                video: true,
                                key,
                                data: s.data,
                            },
                        );
                        self.newest = self.newest.max(at);
                    }
                }
            }
            MediaKind::Audio => {
                let t = self
                    .audio
                    .get_or_insert_with(|| new_track(ssrc, OpusPacket, rate, None));
                if t.ssrc != ssrc {
                    self.clock.forget(t.ssrc);
                    self.lost.add(t.frames.losses());
                    *t = new_track(ssrc, OpusPacket, rate, None);
                    self.clock
                        .track(ssrc, rate)
                        .on_packet(packet.header.timestamp, at_ns);
                }
                t.frames.push(packet);
                while let Some(s) = t.frames.pop() {
                    if let Some(at) = self.clock.at(ssrc, s.rtp_ts) {
                        queue(
                            &mut self.pending,
                            Frame {
                                at,
                                ssrc,
                                rtp_ts: s.rtp_ts,
                                video: false,
                                key: true,
                                data: s.data,
                            },
                        );
                        self.newest = self.newest.max(at);
                    }
                }
            }
        }
    }

    /// Writes the frames older than the hold (all of them when `all`).
    async fn write_due(&mut self, all: bool) {
        if self.file.is_none() && self.error.is_none() {
            let reported = [
                self.video.as_ref().map(|t| t.ssrc),
                self.audio.as_ref().map(|t| t.ssrc),
            ]
            .into_iter()
            .flatten()
            .all(|ssrc| self.clock.reported(ssrc));
            if !all && !ready_to_start(reported, &self.pending, self.newest) {
                return;
            }
            if let Some(newest) = place_again(&mut self.pending, &self.clock) {
                self.newest = newest;
            }
        }
        while let Some(f) = self.pending.front() {
            if !all && f.at > self.newest - HOLD_NS {
                break;
            }
            let f = self.pending.pop_front().expect("front");
            if self.error.is_some() {
                continue;
            }
            if self.file.is_none() {
                let start = if f.video && f.key {
                    Some(vp8_keyframe_size(&f.data).unwrap_or(DEFAULT_SIZE))
                } else if !f.video && self.video.is_none() && self.newest - f.at >= AUDIO_ONLY_AFTER
                {
                    Some(DEFAULT_SIZE)
                } else {
                    None
                };
                let Some(size) = start else {
                    // Before the first keyframe: video cannot be decoded, audio waits for it.
                    if f.video || self.video.is_some() || self.newest - f.at >= AUDIO_ONLY_AFTER {
                        continue;
                    }
                    self.pending.push_front(f);
                    break;
                };
                self.open(size, f.at).await;
                if self.error.is_some() {
                    continue;
                }
            }
            let (file, start) = self.file.as_mut().expect("opened");
            if f.at < *start {
                continue;
            }
            if f.video && file.frames == 0 && !f.key {
                continue;
            }
            let ns = (f.at - *start) as u64;
            if let Err(e) = file.add(f.video, &f.data, ns, f.key) {
                self.error = Some(self.spec.budget.failed().unwrap_or_else(|| e.to_string()));
            }
        }
    }

    async fn open(&mut self, size: (u32, u32), start: i64) {
        let path = self.spec.dir.join(&self.spec.name);
        match SiteFile::create(&path, size, self.spec.budget.clone()) {
            Ok(f) => {
                self.file = Some((f, start));
                self.clock.fix();
                let site = (self.spec.site_id.as_str(), self.spec.site_name.as_str());
                let offset_ms = start / 1_000_000;
                if let Err(e) = super::store::open_file(
                    &self.spec.pool,
                    &self.spec.recording_id,
                    &self.spec.name,
                    site,
                    offset_ms,
                )
                .await
                {
                    tracing::error!(file = %self.spec.name, "recording file row: {e}");
                }
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    async fn finish(mut self) -> Outcome {
        self.write_due(true).await;
        let mut lost = self.lost;
        if let Some(t) = &self.video {
            lost.add(t.frames.losses());
        }
        if let Some(t) = &self.audio {
            lost.add(t.frames.losses());
        }
        tracing::info!(
            file = %self.spec.name,
            frames_dropped = lost.frames_dropped,
            frames_skipped = lost.frames_skipped,
            packets_late = lost.packets_late,
            restarts = lost.restarts,
            "recording file ends"
        );
        let Some((file, _)) = self.file.take() else {
            return Outcome {
                name: self.spec.name,
                opened: false,
                error: self.error,
            };
        };
        let duration_ms = (file.last_ns() / 1_000_000) as i64 + 20;
        let result = if self.error.is_some() {
            Err(self.error.clone().unwrap_or_default())
        } else {
            file.finish().map_err(|e| e.to_string())
        };
        let (bytes, status) = match &result {
            Ok(b) => (*b, "complete"),
            Err(_) => (0, "failed"),
        };
        if let Err(e) = super::store::close_file(
            &self.spec.pool,
            &self.spec.recording_id,
            &self.spec.name,
            duration_ms,
            bytes,
            status,
        )
        .await
        {
            tracing::error!(file = %self.spec.name, "recording file row: {e}");
        }
        Outcome {
            name: self.spec.name,
            opened: true,
            error: result.err(),
        }
    }
}

/// A video frame is a keyframe (after a loss, video waits for one).
const VIDEO_KEY: Option<fn(&[u8]) -> bool> = Some(|d| vp8_keyframe_size(d).is_some());

fn new_track<D: rtc::rtp::packetizer::Depacketizer>(
    ssrc: u32,
    d: D,
    rate: u32,
    keyframe: Option<fn(&[u8]) -> bool>,
) -> Track<D> {
    Track {
        ssrc,
        frames: Assembler::new(d, rate, MAX_LATE, keyframe),
    }
}

/// Inserts in time order (frames come nearly sorted: search from the back).
fn queue(pending: &mut VecDeque<Frame>, f: Frame) {
    let pos = pending
        .iter()
        .rposition(|p| p.at <= f.at)
        .map_or(0, |i| i + 1);
    pending.insert(pos, f);
}

/// Whether the frames waiting for the file to open may be placed for good: every track has a
/// sender report, or they have waited [`START_WAIT`] for one.
fn ready_to_start(reported: bool, pending: &VecDeque<Frame>, newest: i64) -> bool {
    reported || pending.front().is_some_and(|f| newest - f.at >= START_WAIT)
}

/// Places the waiting frames again on the site's clock as it is now, in time order; the newest
/// frame's time (None when nothing waits).
fn place_again(pending: &mut VecDeque<Frame>, clock: &SiteClock) -> Option<i64> {
    for f in pending.iter_mut() {
        if let Some(at) = clock.at(f.ssrc, f.rtp_ts) {
            f.at = at;
        }
    }
    pending.make_contiguous().sort_by_key(|f| f.at);
    pending.iter().map(|f| f.at).max()
}

/// Runs one site's recording until its queue closes (every tap gone and the sender dropped).
/// `failed` hears of the first error (a full disk), once.
pub async fn run(
    spec: SiteSpec,
    mut rx: mpsc::Receiver<SiteMsg>,
    failed: mpsc::UnboundedSender<String>,
) -> Outcome {
    let mut w = Writer {
        spec,
        clock: SiteClock::default(),
        video: None,
        audio: None,
        pending: VecDeque::new(),
        newest: i64::MIN / 2,
        file: None,
        error: None,
        lost: Losses::default(),
    };
    while let Some(msg) = rx.recv().await {
        match msg {
            SiteMsg::Rtp { kind, packet, at } => w.on_rtp(kind, packet, at),
            SiteMsg::Report { ssrc, ntp, rtp } => w.clock.on_sender_report(ssrc, ntp, rtp),
        }
        let had_error = w.error.is_some();
        w.write_due(false).await;
        if !had_error && let Some(e) = &w.error {
            let _ = failed.send(e.clone());
        }
    }
    w.finish().await
}

#[cfg(test)]
mod tests {
    use super::super::clock::ntp_of;
    use super::*;

    const MS: i64 = 1_000_000;

    fn frame(at: i64, ssrc: u32, rtp_ts: u32, video: bool) -> Frame {
        Frame {
            at,
            ssrc,
            rtp_ts,
            video,
            key: true,
            data: bytes::Bytes::new(),
        }
    }

    #[test]
    fn frames_wait_for_the_reports_or_for_the_start_wait() {
        let mut pending = VecDeque::new();
        assert!(!ready_to_start(false, &pending, 0), "nothing waits");
        assert!(ready_to_start(true, &pending, 0));
        pending.push_back(frame(100 * MS, 1, 0, true));
        assert!(!ready_to_start(false, &pending, 100 * MS + START_WAIT - 1));
        assert!(ready_to_start(false, &pending, 100 * MS + START_WAIT));
        assert!(ready_to_start(true, &pending, 100 * MS));
    }

    #[test]
    fn a_held_up_track_is_placed_again_beside_the_other() {
        // Video (ssrc 10) and audio (20) captured together; the audio's packets came 200 ms late.
        let mut clock = SiteClock::default();
        clock.track(10, 90_000).on_packet(0, 100 * MS);
        clock.track(20, 48_000).on_packet(0, 300 * MS);
        let mut pending = VecDeque::new();
        for i in 0..5u32 {
            queue(
                &mut pending,
                frame(100 * MS + i as i64 * 33 * MS, 10, i * 2_970, true),
            );
            queue(
                &mut pending,
                frame(300 * MS + i as i64 * 20 * MS, 20, i * 960, false),
            );
        }
        assert_eq!(
            pending.iter().filter(|f| !f.video).map(|f| f.at).min(),
            Some(300 * MS)
        );
        clock.on_sender_report(20, ntp_of(50_000 * MS), 0);
        clock.on_sender_report(10, ntp_of(50_000 * MS), 0);
        let newest = place_again(&mut pending, &clock).unwrap();
        let first = |video: bool| pending.iter().find(|f| f.video == video).map(|f| f.at);
        assert_eq!(first(true), Some(100 * MS));
        assert_eq!(first(false), Some(100 * MS), "audio starts with video");
        assert!(
            pending
                .iter()
                .zip(pending.iter().skip(1))
                .all(|(a, b)| a.at <= b.at)
        );
        assert_eq!(newest, 100 * MS + 4 * 33 * MS);
        assert_eq!(place_again(&mut VecDeque::new(), &clock), None);
    }
}
