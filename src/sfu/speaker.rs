//! Active speaker detection, pure and without decoding: each audio packet of a publisher carries
//! its level in the RFC 6464 header extension (`ssrc-audio-level`: 0 is the loudest, 127 is
//! silence, in −dBov), read before the forwarder strips the extensions. A [`Meter`] per published
//! audio track smooths the loudness (an exponential average over packets) and decides, with
//! hysteresis and time thresholds, when the site starts and stops speaking: it must be loud for
//! [`Tuning::start_after`] to start (a cough does not count) and quiet for [`Tuning::stop_after`]
//! to stop (pauses between words do not end a turn). The caller turns changes into `speaking`
//! events; nothing here allocates.

use std::time::{Duration, Instant};

/// Thresholds of the detector (loudness is `127 − level`: 0 silence, 127 loudest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Weight of a new packet in the smoothed loudness (0 to 1).
    pub alpha: f32,
    /// Smoothed loudness at or above which the site sounds like speech (−dBov 127 − this).
    pub loud: f32,
    /// Smoothed loudness below which it is quiet (hysteresis: below `loud`).
    pub quiet: f32,
    pub start_after: Duration,
    pub stop_after: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            alpha: 0.25,
            // Speech at a room microphone is around −25 to −45 dBov; room noise below −60.
            loud: 127.0 - 50.0,
            quiet: 127.0 - 58.0,
            start_after: Duration::from_millis(200),
            stop_after: Duration::from_millis(900),
        }
    }
}

/// The detector of one audio track.
#[derive(Debug, Clone)]
pub struct Meter {
    tuning: Tuning,
    smoothed: f32,
    speaking: bool,
    /// Since when the smoothed loudness is on the other side of the threshold.
    crossing_since: Option<Instant>,
}

impl Meter {
    pub fn new(tuning: Tuning) -> Self {
        Meter {
            tuning,
            smoothed: 0.0,
            speaking: false,
            crossing_since: None,
        }
    }

    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// The smoothed loudness (0 silence … 127 loudest).
    pub fn loudness(&self) -> f32 {
        self.smoothed
    }

    /// Takes one packet's level (RFC 6464, 0–127; higher values are clamped) at `now`; returns
    /// `Some(speaking)` when the site starts or stops speaking.
    pub fn on_level(&mut self, level: u8, now: Instant) -> Option<bool> {
        let loudness = 127.0 - f32::from(level.min(127));
        let t = &self.tuning;
        self.smoothed += t.alpha * (loudness - self.smoothed);
        let crossing = if self.speaking {
            self.smoothed < t.quiet
        } else {
            self.smoothed >= t.loud
        };
        if !crossing {
            self.crossing_since = None;
            return None;
        }
        let since = *self.crossing_since.get_or_insert(now);
        let needed = if self.speaking {
            t.stop_after
        } else {
            t.start_after
        };
        if now.duration_since(since) < needed {
            return None;
        }
        self.speaking = !self.speaking;
        self.crossing_since = None;
        Some(self.speaking)
    }

    /// The track was muted or ended: a speaker stops at once.
    pub fn silence(&mut self) -> Option<bool> {
        self.smoothed = 0.0;
        self.crossing_since = None;
        std::mem::take(&mut self.speaking).then_some(false)
    }
}

/// The URI of the RFC 6464 extension, negotiated with publishers for audio.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The id negotiated for the audio level extension among `extensions` (0: none).
pub fn audio_level_id(
    extensions: &[rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionParameters],
) -> u8 {
    extensions
        .iter()
        .find(|e| e.uri == AUDIO_LEVEL_URI)
        .and_then(|e| u8::try_from(e.id).ok())
        .unwrap_or(0)
}

/// The RFC 6464 level in a one-byte header extension payload (`V` bit, then 7 bits of level).
pub fn level_of(payload: &[u8]) -> Option<u8> {
    payload.first().map(|b| b & 0x7f)
}

/// One received audio packet through the meter: its level from extension `ext_id` (0: not
/// negotiated), or silence when the track is muted. Returns a start / stop of speaking.
pub fn measure(
    meter: &mut Meter,
    header: &rtc::rtp::header::Header,
    ext_id: u8,
    muted: bool,
    now: Instant,
) -> Option<bool> {
    if muted {
        return meter.silence();
    }
    if ext_id == 0 || !header.extension {
        return None;
    }
    let level = header
        .extensions
        .iter()
        .find(|e| e.id == ext_id)
        .and_then(|e| level_of(&e.payload))?;
    meter.on_level(level, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS20: Duration = Duration::from_millis(20);
    const NONE: Vec<bool> = Vec::new();

    /// Feeds `n` packets of `level`, 20 ms apart from `*t`; returns the changes seen.
    fn feed(m: &mut Meter, t: &mut Instant, level: u8, n: usize) -> Vec<bool> {
        let mut out = Vec::new();
        for _ in 0..n {
            *t += MS20;
            out.extend(m.on_level(level, *t));
        }
        out
    }

    #[test]
    fn speech_starts_after_a_while_and_pauses_do_not_end_the_turn() {
        let mut m = Meter::new(Tuning::default());
        let mut t = Instant::now();
        assert_eq!(
            feed(&mut m, &mut t, 110, 100),
            NONE,
            "room noise is not speech"
        );
        // Speech at −35 dBov: starts once, after the smoothing and 200 ms.
        let started = feed(&mut m, &mut t, 35, 8);
        assert_eq!(started, NONE, "not within the first 160 ms");
        assert_eq!(feed(&mut m, &mut t, 35, 20), vec![true]);
        assert!(m.speaking());
        // A 400 ms pause between sentences keeps the turn.
        assert_eq!(feed(&mut m, &mut t, 120, 20), NONE);
        assert_eq!(feed(&mut m, &mut t, 35, 20), NONE);
        // Silence for a second ends it.
        assert_eq!(feed(&mut m, &mut t, 127, 60), vec![false]);
        assert!(!m.speaking());
    }

    #[test]
    fn a_cough_is_not_a_turn_and_muting_stops_at_once() {
        let mut m = Meter::new(Tuning::default());
        let mut t = Instant::now();
        // 100 ms loud, then quiet: below start_after once smoothed.
        let mut seen = feed(&mut m, &mut t, 20, 5);
        seen.extend(feed(&mut m, &mut t, 127, 50));
        assert_eq!(seen, NONE);
        feed(&mut m, &mut t, 30, 30);
        assert!(m.speaking());
        assert_eq!(m.silence(), Some(false));
        assert_eq!(m.silence(), None, "only once");
        assert_eq!(m.loudness(), 0.0);
    }

    #[test]
    fn packets_are_measured_by_their_negotiated_extension() {
        let mut h = rtc::rtp::header::Header::default();
        h.set_extension(3, bytes::Bytes::from_static(&[30]))
            .unwrap();
        let mut m = Meter::new(Tuning::default());
        let mut t = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..30 {
            t += MS20;
            seen.extend(measure(&mut m, &h, 3, false, t));
            assert_eq!(measure(&mut m.clone(), &h, 5, false, t), None, "another id");
            assert_eq!(
                measure(&mut m.clone(), &h, 0, false, t),
                None,
                "not negotiated"
            );
        }
        assert_eq!(seen, vec![true]);
        assert_eq!(measure(&mut m, &h, 3, true, t), Some(false), "muted: stops");
    }

    #[test]
    fn levels_are_read_from_the_extension_byte() {
        assert_eq!(level_of(&[0x80 | 35]), Some(35), "the voice bit is ignored");
        assert_eq!(level_of(&[127]), Some(127));
        assert_eq!(level_of(&[]), None);
        let mut m = Meter::new(Tuning::default());
        // Out-of-range values cannot come from 7 bits, and are clamped anyway.
        assert_eq!(m.on_level(255, Instant::now()), None);
        assert_eq!(m.loudness(), 0.0);
    }
}
