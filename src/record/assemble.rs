//! Reorder and assemble one recorded track: RTP packets in (any order, with loss), whole frames
//! out in sequence order. A small ring of [`WINDOW`] packets replaces the `rtc` crate's
//! `SampleBuilder`, which preallocates two 65,536-entry tables per track (~12 MB); the payloads
//! are still depacketised by the crate's codec depacketisers (`Vp8Packet`, `OpusPacket`: partition
//! head and tail, `depacketize`).
//!
//! A frame is the packets from a partition head up to a partition tail (or up to the next
//! timestamp) with no sequence gap. A frame with a hole is given up once newer packets span more
//! than the allowed delay (in RTP time) or the window is full: it is dropped and counted, and a
//! video track then skips frames until the next keyframe. A new SSRC or a sequence jump beyond
//! the window is a publisher restarting: the buffer starts over. Pure: no clock, no IO.

use bytes::Bytes;
use rtc::rtp;
use rtc::rtp::packetizer::Depacketizer;
use std::time::Duration;

/// Packets one track may hold while it waits for a missing one (about 2 s of 2 Mbit/s video).
pub const WINDOW: usize = 512;

/// One assembled frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP timestamp of the frame's packets.
    pub rtp_ts: u32,
    /// The depacketised frame.
    pub data: Bytes,
}

/// What a track lost, for the logs at the end of a file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Losses {
    /// Frames given up because a packet never came (or did not depacketise).
    pub frames_dropped: u64,
    /// Whole frames skipped while a video track waited for a keyframe.
    pub frames_skipped: u64,
    /// Packets that came after their place had been passed, or duplicates.
    pub packets_late: u64,
    /// Times the stream restarted (new SSRC or sequence jump).
    pub restarts: u64,
}

impl Losses {
    /// Adds another track's losses.
    pub fn add(&mut self, o: Losses) {
        self.frames_dropped += o.frames_dropped;
        self.frames_skipped += o.frames_skipped;
        self.packets_late += o.packets_late;
        self.restarts += o.restarts;
    }
}

/// The reorder-and-assemble buffer of one track.
pub struct Assembler<D: Depacketizer> {
    depacketizer: D,
    /// Tells a keyframe from its depacketised data (video); `None` for audio.
    keyframe: Option<fn(&[u8]) -> bool>,
    /// Newer packets may span this much RTP time before a hole is given up.
    max_late: u32,
    slots: Vec<Option<rtp::Packet>>,
    ssrc: Option<u32>,
    /// Extended sequence number of the next packet to consume.
    head: u64,
    /// Highest extended sequence number seen.
    highest: u64,
    /// RTP timestamp of the highest packet.
    newest_ts: u32,
    /// Nothing consumed since the (re)start: an earlier packet may still move `head` back.
    fresh: bool,
    /// A video track lost a frame (or just started): skip until a keyframe.
    need_key: bool,
    losses: Losses,
}

/// Extended sequence numbers start here, so a packet a little before the first is not negative.
const BASE: u64 = 1 << 32;

impl<D: Depacketizer> Assembler<D> {
    /// A track at `rate` Hz; `keyframe` for video, `None` for audio. A hole waits at most
    /// `max_late` of newer media.
    pub fn new(
        depacketizer: D,
        rate: u32,
        max_late: Duration,
        keyframe: Option<fn(&[u8]) -> bool>,
    ) -> Self {
        let max_late = (u128::from(rate) * max_late.as_millis() / 1000).min(i32::MAX as u128);
        Assembler {
            depacketizer,
            keyframe,
            max_late: max_late as u32,
            slots: (0..WINDOW).map(|_| None).collect(),
            ssrc: None,
            head: 0,
            highest: 0,
            newest_ts: 0,
            fresh: true,
            need_key: keyframe.is_some(),
            losses: Losses::default(),
        }
    }

    pub fn losses(&self) -> Losses {
        self.losses
    }

    fn slot(&mut self, ext: u64) -> &mut Option<rtp::Packet> {
        &mut self.slots[(ext % WINDOW as u64) as usize]
    }

    fn restart(&mut self, packet: &rtp::Packet) {
        if self.ssrc.is_some() {
            self.losses.restarts += 1;
        }
        self.slots.iter_mut().for_each(|s| *s = None);
        self.ssrc = Some(packet.header.ssrc);
        self.head = BASE + u64::from(packet.header.sequence_number);
        self.highest = self.head;
        self.newest_ts = packet.header.timestamp;
        self.fresh = true;
        self.need_key = self.keyframe.is_some();
    }

    /// Takes one packet (it is not copied).
    pub fn push(&mut self, packet: rtp::Packet) {
        if self.ssrc != Some(packet.header.ssrc) {
            self.restart(&packet);
        }
        let delta = packet
            .header
            .sequence_number
            .wrapping_sub(self.highest as u16) as i16;
        let mut ext = self.highest.wrapping_add_signed(i64::from(delta));
        let window = WINDOW as u64;
        if ext > self.highest + window || ext + window < self.head {
            // Far outside the window either way: the publisher restarted its sequence.
            self.restart(&packet);
            ext = self.head;
        }
        if ext < self.head {
            if self.fresh && self.highest - ext < window {
                self.head = ext;
            } else {
                self.losses.packets_late += 1;
                return;
            }
        }
        while ext >= self.head + window {
            // The window is full: give up the frame in the way of this packet.
            self.skip_hole();
        }
        if ext > self.highest {
            self.highest = ext;
            self.newest_ts = packet.header.timestamp;
        }
        let slot = self.slot(ext);
        if slot.is_some() {
            self.losses.packets_late += 1;
            return;
        }
        *slot = Some(packet);
    }

    fn present(&self, ext: u64) -> Option<&rtp::Packet> {
        self.slots[(ext % WINDOW as u64) as usize].as_ref()
    }

    /// Gives up the frame at the head (it waits for a packet that has not come, or its start
    /// was lost): drops the head and what follows until the next frame's start.
    fn skip_hole(&mut self) {
        let h = self.head;
        self.slot(h).take();
        self.head += 1;
        while self.head <= self.highest {
            let starts = match self.present(self.head) {
                Some(p) => self.depacketizer.is_partition_head(&p.payload),
                None => false,
            };
            if starts {
                break;
            }
            let h = self.head;
            self.slot(h).take();
            self.head += 1;
        }
        self.lost_frame();
        self.fresh = false;
    }

    fn lost_frame(&mut self) {
        self.losses.frames_dropped += 1;
        if self.keyframe.is_some() {
            self.need_key = true;
        }
    }

    /// Whether newer packets make the first packet after `from` too old to wait for.
    fn too_late(&self, from: u64) -> bool {
        let oldest =
            (from..=self.highest).find_map(|e| self.present(e).map(|p| p.header.timestamp));
        match oldest {
            Some(ts) => self.newest_ts.wrapping_sub(ts) as i32 > self.max_late as i32,
            None => false,
        }
    }

    /// The next whole frame, if one is ready.
    pub fn pop(&mut self) -> Option<Frame> {
        loop {
            if self.ssrc.is_none() || self.head > self.highest {
                return None;
            }
            let h = self.head;
            let Some(first) = self.present(h) else {
                if self.too_late(h) {
                    self.skip_hole();
                    continue;
                }
                return None;
            };
            if first.payload.is_empty() {
                // Padding (sent to probe bandwidth): no media, no loss.
                self.slot(h).take();
                self.head += 1;
                continue;
            }
            if !self.depacketizer.is_partition_head(&first.payload) {
                // The rest of a frame whose start was lost: not decodable. Before the first
                // frame its start may still come, reordered.
                if !self.fresh || self.too_late(h) {
                    self.skip_hole();
                    continue;
                }
                return None;
            }
            let ts = first.header.timestamp;
            // Find the end of the frame that starts at `h`.
            let mut end = None;
            let mut e = h;
            while e <= self.highest {
                let Some(p) = self.present(e) else {
                    break;
                };
                if p.header.timestamp != ts {
                    end = Some(e);
                    break;
                }
                if self
                    .depacketizer
                    .is_partition_tail(p.header.marker, &p.payload)
                {
                    end = Some(e + 1);
                    break;
                }
                e += 1;
            }
            let Some(end) = end else {
                // A hole (or the frame is still arriving).
                if self.too_late(h) {
                    self.skip_hole();
                    continue;
                }
                return None;
            };
            self.fresh = false;
            let data = self.take_frame(h, end);
            self.head = end;
            let Some(data) = data else {
                self.lost_frame();
                continue;
            };
            if let Some(is_key) = self.keyframe
                && self.need_key
            {
                if !is_key(&data) {
                    self.losses.frames_skipped += 1;
                    continue;
                }
                self.need_key = false;
            }
            return Some(Frame { rtp_ts: ts, data });
        }
    }

    /// Depacketises and joins the packets `from..to` (all present), emptying their slots.
    fn take_frame(&mut self, from: u64, to: u64) -> Option<Bytes> {
        if to - from == 1 {
            let p = self.slot(from).take()?;
            return self.depacketizer.depacketize(&p.payload).ok();
        }
        let mut data = Vec::new();
        let mut ok = true;
        for e in from..to {
            let p = self.slot(e).take()?;
            if ok {
                match self.depacketizer.depacketize(&p.payload) {
                    Ok(b) => data.extend_from_slice(&b),
                    Err(_) => ok = false,
                }
            }
        }
        ok.then(|| Bytes::from(data))
    }
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
