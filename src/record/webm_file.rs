//! One site's WebM file (VP8 + Opus muxed by libwebm through the `webm` crate), written for crash
//! safety: libwebm starts a cluster at every video keyframe and writes each frame as it comes
//! (cluster sizes are back-filled, unknown until then), and the bytes reach the disk at least
//! once a second ([`FLUSH_EVERY`]), so a file cut by a crash plays up to its last second or so.
//! Writes are counted against the recording's byte budget; a write past it, or one the disk
//! refuses, fails the file with the reason kept in [`Budget`].

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use webm::mux::{
    AudioCodecId, AudioTrack, Segment, SegmentBuilder, VideoCodecId, VideoTrack, Writer,
};

/// Longest time written bytes wait in memory.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
const BUFFER: usize = 256 * 1024;

/// The bytes a recording may write, and the first write error (shared by its files).
#[derive(Debug, Default)]
pub struct Budget {
    pub written: AtomicU64,
    /// 0: no limit.
    pub limit: u64,
    pub error: Mutex<Option<String>>,
}

impl Budget {
    pub fn new(limit: u64) -> Self {
        Budget {
            limit,
            ..Default::default()
        }
    }

    fn fail(&self, why: String) -> io::Error {
        let mut e = self.error.lock().expect("budget error");
        if e.is_none() {
            *e = Some(why.clone());
        }
        io::Error::other(why)
    }

    pub fn failed(&self) -> Option<String> {
        self.error.lock().expect("budget error").clone()
    }
}

/// A file with a write buffer that is flushed when full or [`FLUSH_EVERY`] after its oldest byte.
pub struct Flushing {
    file: File,
    buf: Vec<u8>,
    since: Option<Instant>,
    budget: std::sync::Arc<Budget>,
    bytes: u64,
}

impl Flushing {
    pub fn new(file: File, budget: std::sync::Arc<Budget>) -> Self {
        Flushing {
            file,
            buf: Vec::with_capacity(BUFFER),
            since: None,
            budget,
            bytes: 0,
        }
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            if let Err(e) = self.file.write_all(&self.buf) {
                return Err(self
                    .budget
                    .fail(format!("writing the recording failed: {e}")));
            }
            self.buf.clear();
        }
        self.since = None;
        Ok(())
    }
}

impl Write for Flushing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let total = self.budget.written.fetch_add(data.len() as u64, Relaxed) + data.len() as u64;
        if self.budget.limit > 0 && total > self.budget.limit {
            return Err(self.budget.fail(format!(
                "the recording reached its size limit of {} bytes (record.max_bytes)",
                self.budget.limit
            )));
        }
        if self.budget.failed().is_some() {
            return Err(io::Error::other("the recording failed"));
        }
        self.bytes += data.len() as u64;
        self.buf.extend_from_slice(data);
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.buf.len() >= BUFFER || since.elapsed() >= FLUSH_EVERY {
            self.drain()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

impl Seek for Flushing {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.drain()?;
        self.file.seek(pos)
    }
}

/// Width and height from a VP8 keyframe's header, if `frame` is one.
pub fn vp8_keyframe_size(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let h = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    (w > 0 && h > 0).then_some((w, h))
}

/// `OpusHead` (RFC 7845): what WebM players need as the Opus track's codec private data.
fn opus_head(channels: u8) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1;
    h[9] = channels;
    h[10..12].copy_from_slice(&312u16.to_le_bytes());
    h[12..16].copy_from_slice(&48_000u32.to_le_bytes());
    h
}

/// An open WebM file of one site.
pub struct SiteFile {
    segment: Segment<Flushing>,
    video: VideoTrack,
    audio: AudioTrack,
    last_ns: u64,
    pub frames: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot create {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("the WebM muxer refused the {0}")]
    Mux(&'static str),
}

impl SiteFile {
    /// Creates the file with a VP8 track of `size` (from the first keyframe; players read the
    /// real size from the stream) and a 48 kHz stereo Opus track.
    pub fn create(
        path: &Path,
        size: (u32, u32),
        budget: std::sync::Arc<Budget>,
    ) -> Result<SiteFile, FileError> {
        let file = File::create(path).map_err(|source| FileError::Create {
            path: path.display().to_string(),
            source,
        })?;
        let writer = Writer::new(Flushing::new(file, budget));
        let mux = |_| FileError::Mux("track set-up");
        let builder = SegmentBuilder::new(writer)
            .map_err(mux)?
            .set_writing_app("giaoban")
            .map_err(mux)?;
        let (builder, video) = builder
            .add_video_track(size.0, size.1, VideoCodecId::VP8, None)
            .map_err(mux)?;
        let (builder, audio) = builder
            .add_audio_track(48_000, 2, AudioCodecId::Opus, None)
            .map_err(mux)?;
        let builder = builder
            .set_codec_private(audio, &opus_head(2))
            .map_err(mux)?;
        Ok(SiteFile {
            segment: builder.build(),
            video,
            audio,
            last_ns: 0,
            frames: 0,
        })
    }

    /// Adds a frame at `ns` from the file's start. Times must not go back: an earlier one is
    /// written at the last time (the caller interleaves in time order, so this is rare).
    pub fn add(&mut self, video: bool, data: &[u8], ns: u64, key: bool) -> Result<(), FileError> {
        let ns = ns.max(self.last_ns);
        let result = if video {
            self.segment.add_frame(self.video, data, ns, key)
        } else {
            self.segment.add_frame(self.audio, data, ns, true)
        };
        result.map_err(|_| FileError::Mux("frame"))?;
        self.last_ns = ns;
        self.frames += 1;
        Ok(())
    }

    /// Time of the last frame written (ns from the start).
    pub fn last_ns(&self) -> u64 {
        self.last_ns
    }

    /// Writes the cues and the duration, and flushes. Returns the bytes written.
    pub fn finish(self) -> Result<u64, FileError> {
        let mut writer = self
            .segment
            .finalize(None)
            .map_err(|_| FileError::Mux("finalisation"))?
            .into_inner();
        writer.flush().map_err(|_| FileError::Mux("last write"))?;
        Ok(writer.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframe_sizes_are_read_and_delta_frames_are_not_keyframes() {
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
        assert_eq!(vp8_keyframe_size(&key), Some((640, 360)));
        let mut delta = key;
        delta[0] |= 1;
        assert_eq!(vp8_keyframe_size(&delta), None);
        assert_eq!(vp8_keyframe_size(&key[..5]), None);
    }

    #[test]
    fn a_budget_stops_the_file_and_keeps_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let budget = std::sync::Arc::new(Budget::new(600));
        let mut f = Flushing::new(File::create(dir.path().join("x")).unwrap(), budget.clone());
        f.write_all(&[0; 500]).unwrap();
        assert!(f.write_all(&[0; 200]).is_err());
        assert!(budget.failed().unwrap().contains("size limit"));
        assert!(f.write_all(&[0; 1]).is_err(), "stays failed");
    }
}
