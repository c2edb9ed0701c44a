//! The load tester's media: pre-encoded VP8 frames from an IVF file and Opus packets from an Ogg
//! file, packetised once into RTP payloads (VP8 payload descriptor, at most [`MTU`] bytes), then
//! sent in a loop. Each sent payload carries a 16-byte tail, the [`Stamp`]: sender, send time and
//! a magic, so that a receiver measures the forwarding delay (the server forwards payloads as
//! they are and strips header extensions, so the tail survives). Parsing is pure and tested.

use bytes::{BufMut, Bytes, BytesMut};
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;

/// Largest RTP payload produced (before the stamp), leaving room for headers and SRTP.
pub const MTU: usize = 1100;
/// `b"GBLT"`: ends every stamped payload.
pub const MAGIC: [u8; 4] = *b"GBLT";
pub const STAMP_LEN: usize = 16;

/// The shipped defaults (see `benches/media/make.sh`), embedded so the binary runs anywhere.
pub const DEFAULT_VIDEO: &[u8] = include_bytes!("../../benches/media/video.ivf");
pub const DEFAULT_AUDIO: &[u8] = include_bytes!("../../benches/media/audio.ogg");

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MediaError {
    #[error("{path}: cannot read the media file: {why}")]
    Read { path: String, why: String },
    #[error("{path}: not an IVF file ({why})")]
    Ivf { path: String, why: String },
    #[error("{path}: IVF file holds {fourcc}, not VP8")]
    NotVp8 { path: String, fourcc: String },
    #[error("{path}: not an Ogg Opus file ({why})")]
    Ogg { path: String, why: String },
    #[error(
        "the video is encoded at {native} kbit/s; --bitrate {wanted} is lower (re-encode it, see benches/media/make.sh)"
    )]
    BitrateTooLow { native: u64, wanted: u64 },
}

/// One encoded video frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub data: Bytes,
    /// Presentation time in the file's time base.
    pub pts: u64,
}

/// An IVF file: frame rate (time base) and frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Ivf {
    pub fourcc: [u8; 4],
    pub timebase_num: u32,
    pub timebase_den: u32,
    pub frames: Vec<Frame>,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Parses an IVF file: a 32-byte header (`DKIF`, version, header size, FourCC, size, time base,
/// frame count), then frames of a 12-byte header (size, 64-bit pts) and data.
pub fn parse_ivf(path: &str, data: &[u8]) -> Result<Ivf, MediaError> {
    let bad = |why: &str| MediaError::Ivf {
        path: path.to_string(),
        why: why.to_string(),
    };
    if data.len() < 32 || &data[..4] != b"DKIF" {
        return Err(bad("no DKIF signature"));
    }
    let header_len = usize::from(u16::from_le_bytes([data[6], data[7]]));
    if header_len < 32 || header_len > data.len() {
        return Err(bad("bad header length"));
    }
    let fourcc = [data[8], data[9], data[10], data[11]];
    let (timebase_den, timebase_num) = (le32(&data[16..20]), le32(&data[20..24]));
    if timebase_den == 0 || timebase_num == 0 {
        return Err(bad("zero time base"));
    }
    let mut frames = Vec::new();
    let mut at = header_len;
    while at < data.len() {
        if data.len() - at < 12 {
            return Err(bad("truncated frame header"));
        }
        let size = le32(&data[at..]) as usize;
        let pts = u64::from_le_bytes(data[at + 4..at + 12].try_into().expect("8 bytes"));
        at += 12;
        if size == 0 || data.len() - at < size {
            return Err(bad("truncated or empty frame"));
        }
        frames.push(Frame {
            data: Bytes::copy_from_slice(&data[at..at + size]),
            pts,
        });
        at += size;
    }
    if frames.is_empty() {
        return Err(bad("no frames"));
    }
    Ok(Ivf {
        fourcc,
        timebase_num,
        timebase_den,
        frames,
    })
}

/// The Opus packets of an Ogg Opus file (its `OpusHead` and `OpusTags` headers skipped).
pub fn parse_ogg_opus(path: &str, data: &[u8]) -> Result<Vec<Bytes>, MediaError> {
    let bad = |why: String| MediaError::Ogg {
        path: path.to_string(),
        why,
    };
    let mut reader = ogg::PacketReader::new(std::io::Cursor::new(data));
    let mut packets = Vec::new();
    let mut head = false;
    loop {
        match reader.read_packet() {
            Ok(Some(p)) => {
                if p.data.starts_with(b"OpusHead") {
                    head = true;
                } else if p.data.starts_with(b"OpusTags") {
                } else if head && !p.data.is_empty() {
                    packets.push(Bytes::from(p.data));
                }
            }
            Ok(None) => break,
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    if !head {
        return Err(bad("no OpusHead".into()));
    }
    if packets.is_empty() {
        return Err(bad("no audio packets".into()));
    }
    Ok(packets)
}

/// One video frame ready to send: its RTP payloads and the RTP timestamp step before it.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    pub payloads: Vec<Bytes>,
    /// 90 kHz ticks since the previous frame.
    pub ts_step: u32,
    /// Wall-clock time since the previous frame.
    pub interval: std::time::Duration,
    /// A VP8 keyframe (RFC 6386 9.1: the frame tag's first bit is 0).
    pub key: bool,
}

/// What every publishing site sends, in a loop.
#[derive(Debug, Clone)]
pub struct MediaPlan {
    pub video: Vec<VideoFrame>,
    pub audio: Vec<Bytes>,
    /// Average video bitrate of one loop, as sent (kbit/s).
    pub video_kbps: u64,
    /// Video packets per second.
    pub video_pps: f64,
}

impl MediaPlan {
    /// The first keyframe at or after `from`, going round the loop (`from` if there is none).
    pub fn next_key(&self, from: usize) -> usize {
        let n = self.video.len();
        (0..n)
            .map(|k| (from + k) % n)
            .find(|&i| self.video[i].key)
            .unwrap_or(from)
    }
}

/// Packetises the IVF frames (padded with zeros at the end of each frame, after the VP8 data, to
/// reach `bitrate_kbps` when given) and takes the Opus packets as they are (20 ms each).
pub fn plan(ivf: &Ivf, audio: Vec<Bytes>, bitrate_kbps: u64) -> Result<MediaPlan, MediaError> {
    let secs_per_tick = f64::from(ivf.timebase_num) / f64::from(ivf.timebase_den);
    let n = ivf.frames.len();
    // Frame durations from the pts; the last one repeats the previous (or 1/30 s).
    let mut durations: Vec<f64> = ivf
        .frames
        .windows(2)
        .map(|w| w[1].pts.saturating_sub(w[0].pts) as f64 * secs_per_tick)
        .collect();
    durations.push(durations.last().copied().unwrap_or(1.0 / 30.0));
    for d in &mut durations {
        if *d <= 0.0 {
            *d = 1.0 / 30.0;
        }
    }
    let loop_secs: f64 = durations.iter().sum();
    let bytes: usize = ivf.frames.iter().map(|f| f.data.len()).sum();
    let native = (bytes as f64 * 8.0 / loop_secs / 1000.0) as u64;
    if bitrate_kbps > 0 && bitrate_kbps < native {
        return Err(MediaError::BitrateTooLow {
            native,
            wanted: bitrate_kbps,
        });
    }
    let extra_per_frame = if bitrate_kbps > native {
        ((bitrate_kbps - native) as f64 * 1000.0 / 8.0 * loop_secs / n as f64) as usize
    } else {
        0
    };
    let mut payloader = Vp8Payloader::default();
    let mut video = Vec::with_capacity(n);
    let mut packets = 0usize;
    let mut sent_bytes = 0usize;
    for (i, f) in ivf.frames.iter().enumerate() {
        let data = if extra_per_frame > 0 {
            let mut b = BytesMut::with_capacity(f.data.len() + extra_per_frame);
            b.put_slice(&f.data);
            b.put_bytes(0, extra_per_frame);
            b.freeze()
        } else {
            f.data.clone()
        };
        sent_bytes += data.len();
        let payloads = payloader.payload(MTU, &data).map_err(|e| MediaError::Ivf {
            path: "video".into(),
            why: format!("frame {i}: {e}"),
        })?;
        packets += payloads.len();
        let prev = if i == 0 { n - 1 } else { i - 1 };
        video.push(VideoFrame {
            payloads,
            ts_step: (durations[prev] * 90_000.0).round() as u32,
            interval: std::time::Duration::from_secs_f64(durations[prev]),
            key: f.data.first().is_some_and(|tag| tag & 1 == 0),
        });
    }
    Ok(MediaPlan {
        video,
        audio,
        video_kbps: (sent_bytes as f64 * 8.0 / loop_secs / 1000.0) as u64,
        video_pps: packets as f64 / loop_secs,
    })
}

/// What a receiver reads back from a payload's tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The sending site's index in the load test.
    pub site: u32,
    /// Send time, µs since the load tester's start.
    pub sent_us: u64,
}

/// `payload` followed by the stamp: site (u32 BE), send time (u64 BE), magic.
pub fn stamp(payload: &[u8], s: Stamp) -> Bytes {
    let mut b = BytesMut::with_capacity(payload.len() + STAMP_LEN);
    b.put_slice(payload);
    b.put_u32(s.site);
    b.put_u64(s.sent_us);
    b.put_slice(&MAGIC);
    b.freeze()
}

/// The stamp at the end of a received payload, if there is one.
pub fn read_stamp(payload: &[u8]) -> Option<Stamp> {
    let n = payload.len();
    if n < STAMP_LEN || payload[n - 4..] != MAGIC {
        return None;
    }
    let t = &payload[n - STAMP_LEN..];
    Some(Stamp {
        site: u32::from_be_bytes(t[..4].try_into().ok()?),
        sent_us: u64::from_be_bytes(t[4..12].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivf(frames: &[(&[u8], u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"DKIF");
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(b"VP80");
        b.extend_from_slice(&640u16.to_le_bytes());
        b.extend_from_slice(&360u16.to_le_bytes());
        b.extend_from_slice(&30u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for (data, pts) in frames {
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&pts.to_le_bytes());
            b.extend_from_slice(data);
        }
        b
    }

    #[test]
    fn ivf_frames_and_time_base_are_read() {
        let f = parse_ivf("x.ivf", &ivf(&[(&[1, 2, 3], 0), (&[4; 2500], 1)])).unwrap();
        assert_eq!(&f.fourcc, b"VP80");
        assert_eq!((f.timebase_num, f.timebase_den), (1, 30));
        assert_eq!(f.frames.len(), 2);
        assert_eq!(f.frames[1].data.len(), 2500);
        let p = plan(&f, vec![Bytes::from_static(b"op")], 0).unwrap();
        assert_eq!(
            p.video[1].payloads.len(),
            3,
            "2500 bytes in 1100-byte payloads"
        );
        assert_eq!(p.video[1].ts_step, 3000);
    }

    #[test]
    fn broken_ivf_files_are_refused_with_a_reason() {
        let good = ivf(&[(&[1, 2, 3], 0)]);
        assert!(matches!(
            parse_ivf("a", b"OggS not ivf at all, long enough to hold a header"),
            Err(MediaError::Ivf { .. })
        ));
        assert!(
            parse_ivf("a", &good[..good.len() - 1]).is_err(),
            "truncated frame"
        );
        assert!(parse_ivf("a", &good[..32]).is_err(), "no frames");
        assert!(parse_ivf("a", &good[..20]).is_err(), "short header");
    }

    #[test]
    fn a_bitrate_pads_frames_and_a_lower_one_is_refused() {
        let f = parse_ivf("x.ivf", &ivf(&[(&[7; 1000], 0), (&[7; 1000], 1)])).unwrap();
        // 2000 bytes over 2/30 s = 240 kbit/s.
        let p = plan(&f, vec![Bytes::from_static(b"op")], 480).unwrap();
        assert!((470..=490).contains(&p.video_kbps), "{}", p.video_kbps);
        assert_eq!(
            plan(&f, vec![], 100).unwrap_err(),
            MediaError::BitrateTooLow {
                native: 240,
                wanted: 100
            }
        );
    }

    #[test]
    fn the_shipped_media_parse() {
        let v = parse_ivf("video.ivf", DEFAULT_VIDEO).unwrap();
        assert_eq!(&v.fourcc, b"VP80");
        assert!(v.frames.len() >= 60);
        let a = parse_ogg_opus("audio.ogg", DEFAULT_AUDIO).unwrap();
        assert!(a.len() >= 100, "3 s of 20 ms packets");
        assert!(parse_ogg_opus("video.ivf", DEFAULT_VIDEO).is_err());
        let p = plan(&v, a, 0).unwrap();
        assert!(p.video_pps > 30.0 && p.video_kbps > 200, "{p:?}");
    }

    #[test]
    fn stamps_round_trip_and_unstamped_payloads_are_told_apart() {
        let s = Stamp {
            site: 7,
            sent_us: 123_456_789,
        };
        let b = stamp(b"\x90\x80payload", s);
        assert_eq!(read_stamp(&b), Some(s));
        assert_eq!(read_stamp(b"short"), None);
        assert_eq!(read_stamp(&[0u8; 40]), None);
    }
}
