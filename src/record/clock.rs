//! Where a media frame sits on the session clock (nanoseconds since the recording started), from
//! its RTP timestamp. Pure: arrival times and sender reports come in as plain numbers.
//!
//! Each track starts with the arrival of its first packet as anchor (RTP time advances at the
//! codec's clock rate from there). A publisher's sender report ties an RTP time of a track to
//! the publisher's NTP wall clock, and the offset between that clock and the session clock is
//! taken from the arrivals: a packet arrives late by the network and the server's queues, never
//! early, so until the site's file opens ([`SiteClock::fix`]) each report moves the offset to
//! the track that arrived with the least delay; after that it never moves (a file cannot be
//! rewritten). Every track of the site with a report is placed through it. The audio and video
//! of a site share the publisher's clock, which keeps them in sync and free of drift however
//! long the silence between packets; the arrival anchor only serves until the first report.

/// 32-bit RTP timestamps, unwrapped into a monotonic 64-bit count (reordering across the wrap
/// goes back, not forward by 2^32).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    pub fn unwrap(&mut self, ts: u32) -> i64 {
        let Some(last) = self.last else {
            self.last = Some(i64::from(ts));
            return i64::from(ts);
        };
        let delta = ts.wrapping_sub(last as u32) as i32;
        let v = last + i64::from(delta);
        if v > last {
            self.last = Some(v);
        }
        v
    }

    /// The unwrapped value of `ts` near the last one, without moving it.
    pub fn peek(&self, ts: u32) -> i64 {
        match self.last {
            None => i64::from(ts),
            Some(last) => last + i64::from(ts.wrapping_sub(last as u32) as i32),
        }
    }
}

/// NTP timestamp (32.32 fixed point seconds since 1900) in nanoseconds.
pub fn ntp_to_ns(ntp: u64) -> i64 {
    let secs = (ntp >> 32) as i64;
    let frac = ntp & 0xFFFF_FFFF;
    secs * 1_000_000_000 + ((frac * 1_000_000_000) >> 32) as i64
}

/// The clock of one track (one SSRC).
#[derive(Debug, Clone)]
pub struct TrackClock {
    pub ssrc: u32,
    rate: i64,
    unwrap: Unwrapper,
    /// (unwrapped RTP time, session ns) of the first packet.
    arrival: Option<(i64, i64)>,
    /// (unwrapped RTP time, publisher NTP ns) of the latest sender report.
    report: Option<(i64, i64)>,
}

impl TrackClock {
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        TrackClock {
            ssrc,
            rate: i64::from(clock_rate.max(1)),
            unwrap: Unwrapper::default(),
            arrival: None,
            report: None,
        }
    }

    fn ticks_to_ns(&self, ticks: i64) -> i64 {
        (i128::from(ticks) * 1_000_000_000 / i128::from(self.rate)) as i64
    }

    /// A packet of this track arrived at `arrival_ns` on the session clock.
    pub fn on_packet(&mut self, ts: u32, arrival_ns: i64) {
        let ext = self.unwrap.unwrap(ts);
        if self.arrival.is_none() {
            self.arrival = Some((ext, arrival_ns));
        }
    }

    fn by_arrival(&self, ext: i64) -> Option<i64> {
        let (e0, t0) = self.arrival?;
        Some(t0 + self.ticks_to_ns(ext - e0))
    }

    fn by_report(&self, ext: i64) -> Option<i64> {
        let (e, ntp) = self.report?;
        Some(ntp + self.ticks_to_ns(ext - e))
    }
}

/// The clocks of one site's tracks, and the offset from its publisher's NTP clock to the session
/// clock once a sender report has come.
#[derive(Debug, Clone, Default)]
pub struct SiteClock {
    pub tracks: Vec<TrackClock>,
    /// Session ns minus publisher NTP ns.
    offset: Option<i64>,
    /// Set once the site's file opened: the offset no longer moves.
    fixed: bool,
}

impl SiteClock {
    /// The track of `ssrc`, created at `clock_rate` when new.
    pub fn track(&mut self, ssrc: u32, clock_rate: u32) -> &mut TrackClock {
        if let Some(i) = self.tracks.iter().position(|t| t.ssrc == ssrc) {
            return &mut self.tracks[i];
        }
        self.tracks.push(TrackClock::new(ssrc, clock_rate));
        self.tracks.last_mut().expect("just pushed")
    }

    /// A sender report for `ssrc`: RTP time `rtp` is `ntp` on the publisher's clock. Reports of
    /// an unknown SSRC (no packet seen yet) are ignored.
    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, rtp: u32) {
        let (offset, fixed) = (self.offset, self.fixed);
        let Some(t) = self.tracks.iter_mut().find(|t| t.ssrc == ssrc) else {
            return;
        };
        let ext = t.unwrap.peek(rtp);
        let ntp_ns = ntp_to_ns(ntp);
        if offset.is_none() || !fixed {
            // Where arrival put this track, as an offset: the least delayed track's wins until
            // the file opens; the first report after that keeps its track where it is.
            let Some(at) = t.by_arrival(ext) else {
                return;
            };
            let candidate = at - ntp_ns;
            self.offset = Some(match offset {
                Some(o) if !fixed => o.min(candidate),
                Some(o) => o,
                None => candidate,
            });
        }
        let t = self
            .tracks
            .iter_mut()
            .find(|t| t.ssrc == ssrc)
            .expect("found above");
        t.report = Some((ext, ntp_ns));
    }

    /// Session-clock ns of RTP time `ts` of `ssrc` (None before its first packet).
    pub fn at(&self, ssrc: u32, ts: u32) -> Option<i64> {
        let t = self.tracks.iter().find(|t| t.ssrc == ssrc)?;
        let ext = t.unwrap.peek(ts);
        match (self.offset, t.by_report(ext)) {
            (Some(off), Some(ntp)) => Some(ntp + off),
            _ => t.by_arrival(ext),
        }
    }

    /// Whether a sender report placed `ssrc` on the publisher's clock.
    pub fn reported(&self, ssrc: u32) -> bool {
        self.tracks
            .iter()
            .any(|t| t.ssrc == ssrc && t.report.is_some())
    }

    /// The site's file opened: what was written stays where it is, the offset no longer moves.
    pub fn fix(&mut self) {
        self.fixed = true;
    }

    /// Forgets a track (its publisher restarted it with a new SSRC).
    pub fn forget(&mut self, ssrc: u32) {
        self.tracks.retain(|t| t.ssrc != ssrc);
    }
}

/// Nanoseconds as an NTP timestamp (the inverse of [`ntp_to_ns`]), for tests.
#[cfg(test)]
pub(crate) fn ntp_of(ns: i64) -> u64 {
    let secs = (ns / 1_000_000_000) as u64;
    let frac = (((ns % 1_000_000_000) as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn unwrapping_crosses_the_wrap_and_survives_reordering() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 10), i64::from(u32::MAX - 10));
        assert_eq!(u.unwrap(5), i64::from(u32::MAX) + 6);
        assert_eq!(
            u.unwrap(u32::MAX - 2),
            i64::from(u32::MAX - 2),
            "late packet"
        );
        assert_eq!(u.unwrap(10), i64::from(u32::MAX) + 11);
        assert_eq!(ntp_to_ns(ntp_of(3_500 * MS)), 3_500 * MS);
    }

    #[test]
    fn before_any_report_frames_follow_the_first_arrival() {
        let mut c = SiteClock::default();
        c.track(1, 90_000).on_packet(1_000, 200 * MS);
        assert_eq!(c.at(1, 1_000), Some(200 * MS));
        assert_eq!(c.at(1, 1_000 + 90_000), Some(1_200 * MS));
        assert_eq!(c.at(2, 0), None, "unknown track");
    }

    #[test]
    fn reports_put_audio_and_video_on_one_clock_and_fix_a_late_arrival() {
        // The publisher captured video RTP 0 and audio RTP 0 at the same NTP instant 50 s. The
        // video's first packet came at 100 ms; the audio's was held up and came at 180 ms.
        let mut c = SiteClock::default();
        c.track(10, 90_000).on_packet(0, 100 * MS);
        c.track(20, 48_000).on_packet(0, 180 * MS);
        assert_eq!(c.at(20, 0), Some(180 * MS), "80 ms apart by arrival");
        c.on_sender_report(10, ntp_of(51_000 * MS), 90_000);
        assert_eq!(
            c.at(10, 0),
            Some(100 * MS),
            "the first report moves nothing"
        );
        c.on_sender_report(20, ntp_of(52_000 * MS), 96_000);
        assert_eq!(c.at(20, 0), Some(100 * MS), "audio now starts with video");
        // Ten minutes of silence later the audio is still on the same clock.
        let ten_min = 600 * 48_000;
        assert_eq!(c.at(20, ten_min), Some(100 * MS + 600_000 * MS));
    }

    #[test]
    fn until_the_file_opens_the_least_delayed_track_sets_the_clock() {
        // As above, but the held-up audio reports first: the video's report then moves the
        // clock to the video's arrival (the smaller delay), and both start at 100 ms.
        let mut c = SiteClock::default();
        c.track(10, 90_000).on_packet(0, 100 * MS);
        c.track(20, 48_000).on_packet(0, 180 * MS);
        assert!(!c.reported(10) && !c.reported(20));
        c.on_sender_report(20, ntp_of(52_000 * MS), 96_000);
        assert_eq!(c.at(20, 0), Some(180 * MS), "one report: audio stays");
        assert!(c.reported(20) && !c.reported(10));
        c.on_sender_report(10, ntp_of(51_000 * MS), 90_000);
        assert_eq!(c.at(10, 0), Some(100 * MS));
        assert_eq!(
            c.at(20, 0),
            Some(100 * MS),
            "audio moved to the video's clock"
        );
        // Once the file opened nothing moves, even for a report that says less delay.
        c.fix();
        c.on_sender_report(10, ntp_of(51_000 * MS - 50 * MS), 90_000);
        let video = c.at(10, 0).unwrap();
        assert!(
            (video - 50 * MS).abs() < 1_000,
            "the video's own report applies: {video}"
        );
        c.on_sender_report(20, ntp_of(52_000 * MS), 96_000);
        assert_eq!(c.at(20, 0), Some(100 * MS), "the offset did not move");
    }

    #[test]
    fn a_clock_fixed_before_any_report_takes_the_first_report_as_it_comes() {
        let mut c = SiteClock::default();
        c.track(10, 90_000).on_packet(0, 100 * MS);
        c.track(20, 48_000).on_packet(0, 180 * MS);
        c.fix();
        c.on_sender_report(20, ntp_of(52_000 * MS), 96_000);
        assert_eq!(c.at(20, 0), Some(180 * MS), "written audio does not jump");
        c.on_sender_report(10, ntp_of(51_000 * MS), 90_000);
        assert_eq!(c.at(10, 0), Some(180 * MS), "video follows the fixed clock");
    }

    #[test]
    fn a_drifting_rtp_clock_is_corrected_by_later_reports() {
        // The sender's RTP clock runs 0.1 % fast: after 100 s of its NTP time, RTP says 100.1 s.
        let mut c = SiteClock::default();
        c.track(1, 48_000).on_packet(0, 0);
        c.on_sender_report(1, ntp_of(1_000_000 * MS), 0);
        c.on_sender_report(1, ntp_of(1_100_000 * MS), 100 * 48_048);
        assert_eq!(c.at(1, 100 * 48_048), Some(100_000 * MS));
    }

    #[test]
    fn a_restarted_track_starts_over() {
        let mut c = SiteClock::default();
        c.track(1, 90_000).on_packet(500, 0);
        c.forget(1);
        c.track(1, 90_000).on_packet(9_000_000, 7_000 * MS);
        assert_eq!(c.at(1, 9_000_000), Some(7_000 * MS));
        c.on_sender_report(99, ntp_of(0), 0);
        assert_eq!(
            c.at(1, 9_000_000),
            Some(7_000 * MS),
            "report of no track ignored"
        );
    }
}
