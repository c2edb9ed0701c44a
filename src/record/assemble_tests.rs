//! Tests of the reorder-and-assemble buffer: order, loss, wrap-around, restarts, padding, and
//! the same frames as the `rtc` crate's `SampleBuilder` on a randomly reordered stream.

use super::*;
use crate::record::webm_file::vp8_keyframe_size;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::opus::OpusPacket;
use rtc::rtp::codec::vp8::Vp8Packet;
use std::time::Instant;

const SSRC: u32 = 0x1234;
/// 30 frames per second at 90 kHz.
const TICKS: u32 = 3000;

fn is_key(data: &[u8]) -> bool {
    vp8_keyframe_size(data).is_some()
}

fn video() -> Assembler<Vp8Packet> {
    Assembler::new(
        Vp8Packet::default(),
        90_000,
        Duration::from_millis(500),
        Some(is_key),
    )
}

/// One VP8 frame's bytes: a keyframe header (640×360) or a delta frame, then the frame number.
fn frame_data(n: u32, key: bool, len: usize) -> Vec<u8> {
    let mut d = if key {
        vec![0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]
    } else {
        vec![0x11, 0, 0]
    };
    d.extend_from_slice(&n.to_be_bytes());
    while d.len() < len {
        d.push((d.len() as u8).wrapping_mul(7) ^ n as u8);
    }
    d
}

/// The RTP packets of one frame: VP8 payload descriptor (S on the first), marker on the last.
fn packetize(data: &[u8], parts: usize, seq: &mut u16, ts: u32, ssrc: u32) -> Vec<rtp::Packet> {
    let chunk = data.len().div_ceil(parts);
    let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(piece);
            let p = rtp::Packet {
                header: rtp::Header {
                    version: 2,
                    marker: i == last,
                    payload_type: 96,
                    sequence_number: *seq,
                    timestamp: ts,
                    ssrc,
                    ..Default::default()
                },
                payload: Bytes::from(payload),
            };
            *seq = seq.wrapping_add(1);
            p
        })
        .collect()
}

/// A stream of `frames` frames (a keyframe every `gop`), 1 to 4 packets each, with the frames
/// expected out of it.
fn stream(frames: u32, gop: u32, seq0: u16, ts0: u32, ssrc: u32) -> (Vec<rtp::Packet>, Vec<Frame>) {
    let mut seq = seq0;
    let mut packets = Vec::new();
    let mut expected = Vec::new();
    for n in 0..frames {
        let key = n % gop == 0;
        let parts = 1 + (n as usize * 7 % 4);
        let data = frame_data(n, key, 12 + parts * 9);
        let ts = ts0.wrapping_add(n * TICKS);
        packets.extend(packetize(&data, parts, &mut seq, ts, ssrc));
        expected.push(Frame {
            rtp_ts: ts,
            data: Bytes::from(data),
        });
    }
    (packets, expected)
}

fn run(a: &mut Assembler<Vp8Packet>, packets: Vec<rtp::Packet>) -> Vec<Frame> {
    let mut out = Vec::new();
    for p in packets {
        a.push(p);
        while let Some(f) = a.pop() {
            out.push(f);
        }
    }
    out
}

/// Moves each packet less than `span` places away, deterministically.
fn shuffle(packets: &mut [rtp::Packet], span: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut keyed: Vec<(usize, rtp::Packet)> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| (i + rng.random_range(0..span), p.clone()))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    for (slot, (_, p)) in packets.iter_mut().zip(keyed) {
        *slot = p;
    }
}

#[test]
fn in_order_frames_come_out_whole_and_at_once() {
    let (packets, expected) = stream(60, 30, 100, 5000, SSRC);
    let mut a = video();
    let out = run(&mut a, packets);
    // Every frame, the last one too: a frame is out as soon as its marker packet is in.
    assert_eq!(out, expected);
    assert_eq!(a.losses(), Losses::default());
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let (mut packets, expected) = stream(90, 30, 7, 0, SSRC);
    shuffle(&mut packets, 12, 1);
    let mut a = video();
    let out = run(&mut a, packets);
    assert_eq!(out, expected);
    assert_eq!(a.losses(), Losses::default());
}

#[test]
fn first_packets_reordered_at_the_start_are_not_late() {
    let (mut packets, expected) = stream(3, 30, 500, 0, SSRC);
    packets.swap(0, 2);
    let mut a = video();
    assert_eq!(run(&mut a, packets), expected);
    assert_eq!(a.losses().packets_late, 0);
}

#[test]
fn a_frame_with_a_hole_is_dropped_and_video_waits_for_the_next_keyframe() {
    // Keyframes at 0 and 30; a packet of frame 5 (4 packets: 5 * 7 % 4 = 3, +1) never comes.
    let (packets, expected) = stream(60, 30, 0, 0, SSRC);
    let lost_seq = {
        let mut seq = 0u16;
        for n in 0..5 {
            seq += 1 + (n * 7 % 4) as u16;
        }
        seq + 1
    };
    let packets: Vec<_> = packets
        .into_iter()
        .filter(|p| p.header.sequence_number != lost_seq)
        .collect();
    let mut a = video();
    let out = run(&mut a, packets);
    let mut want: Vec<Frame> = expected[..5].to_vec();
    want.extend_from_slice(&expected[30..]);
    assert_eq!(out, want);
    let l = a.losses();
    assert_eq!(l.frames_dropped, 1);
    // Frames 6..29 decode against the lost one: skipped until the keyframe.
    assert_eq!(l.frames_skipped, 24);
}

#[test]
fn a_hole_waits_for_the_late_packet_within_the_delay() {
    let (mut packets, expected) = stream(20, 30, 0, 0, SSRC);
    // Packet 3 comes after 10 frames (333 ms of newer media < 500 ms).
    let late = packets.remove(3);
    let at = packets
        .iter()
        .position(|p| p.header.timestamp == 10 * TICKS)
        .expect("frame 10");
    packets.insert(at, late);
    let mut a = video();
    assert_eq!(run(&mut a, packets), expected);
}

#[test]
fn a_packet_after_its_frame_was_given_up_is_late_and_changes_nothing() {
    let (mut packets, expected) = stream(40, 10, 0, 0, SSRC);
    // Frame 1 (4 packets, seq 1..=4) loses its last packet, seq 4, until 28 frames later.
    let late = packets.remove(4);
    let at = packets
        .iter()
        .position(|p| p.header.timestamp == 30 * TICKS)
        .expect("frame 30");
    packets.insert(at, late);
    let mut a = video();
    let out = run(&mut a, packets);
    let mut want: Vec<Frame> = expected[..1].to_vec();
    want.extend_from_slice(&expected[10..]);
    assert_eq!(out, want);
    assert_eq!(a.losses().frames_dropped, 1);
    assert_eq!(a.losses().frames_skipped, 8);
    assert_eq!(a.losses().packets_late, 1);
}

#[test]
fn duplicates_are_counted_once() {
    let (packets, expected) = stream(10, 30, 0, 0, SSRC);
    let mut doubled = Vec::new();
    for p in packets {
        doubled.push(p.clone());
        doubled.push(p);
    }
    let mut a = video();
    assert_eq!(run(&mut a, doubled), expected);
    assert!(a.losses().packets_late > 0);
    assert_eq!(a.losses().frames_dropped, 0);
}

#[test]
fn sequence_numbers_wrap() {
    let (mut packets, expected) = stream(40, 30, 65_500, 0, SSRC);
    assert!(packets.iter().any(|p| p.header.sequence_number < 100));
    shuffle(&mut packets, 6, 2);
    let mut a = video();
    assert_eq!(run(&mut a, packets), expected);
}

#[test]
fn timestamps_wrap() {
    let (packets, expected) = stream(40, 30, 1, u32::MAX - 10 * TICKS, SSRC);
    assert!(expected.iter().any(|f| f.rtp_ts < TICKS * 40));
    let mut a = video();
    assert_eq!(run(&mut a, packets.clone()), expected);
    // And a hole across the wrap is still given up by RTP time.
    let mut a = video();
    let holed: Vec<_> = packets
        .into_iter()
        .filter(|p| p.header.sequence_number != 30)
        .collect();
    let out = run(&mut a, holed);
    assert_eq!(out.last(), expected.last());
    assert_eq!(a.losses().frames_dropped, 1);
}

#[test]
fn a_new_ssrc_starts_over_at_its_keyframe() {
    let (first, expected_first) = stream(20, 30, 1000, 0, SSRC);
    let (second, expected_second) = stream(20, 10, 9, 777, SSRC + 1);
    let mut packets = first;
    // The restarted publisher's first frames are lost: it is read from its next keyframe.
    packets.extend(second.into_iter().skip(5));
    let mut a = video();
    let out = run(&mut a, packets);
    let mut want = expected_first;
    want.extend_from_slice(&expected_second[10..]);
    assert_eq!(out, want);
    assert_eq!(a.losses().restarts, 1);
}

#[test]
fn a_sequence_jump_on_the_same_ssrc_is_a_restart() {
    let (first, expected_first) = stream(20, 30, 100, 0, SSRC);
    let (second, expected_second) = stream(20, 30, 30_000, 90_000, SSRC);
    let (back, expected_back) = stream(5, 30, 10, 200_000, SSRC);
    let mut a = video();
    let mut out = run(&mut a, first);
    out.extend(run(&mut a, second));
    out.extend(run(&mut a, back));
    let mut want = expected_first;
    want.extend(expected_second);
    want.extend(expected_back);
    assert_eq!(out, want);
    assert_eq!(a.losses().restarts, 2);
}

#[test]
fn a_full_window_gives_up_the_hole_without_waiting_for_time() {
    // A delay of an hour: only the window can give the hole up.
    let mut a = Assembler::new(OpusPacket, 48_000, Duration::from_secs(3600), None);
    let mut seq = 0u16;
    let mut got = Vec::new();
    for n in 0..(WINDOW as u32 + 50) {
        let p = rtp::Packet {
            header: rtp::Header {
                sequence_number: seq,
                timestamp: n * 960,
                ssrc: SSRC,
                ..Default::default()
            },
            payload: Bytes::from(n.to_be_bytes().to_vec()),
        };
        seq = seq.wrapping_add(1);
        if n != 3 {
            a.push(p);
        }
        while let Some(f) = a.pop() {
            got.push(f.rtp_ts / 960);
        }
    }
    // 0..3 at once, then 4.. once the window of WINDOW packets was full past the hole.
    assert_eq!(&got[..3], &[0, 1, 2]);
    assert_eq!(got[3], 4);
    assert_eq!(a.losses().frames_dropped, 1);
    assert!(got.len() > 3 + 40);
}

#[test]
fn lost_audio_is_dropped_without_waiting_for_anything() {
    let mut a = Assembler::new(OpusPacket, 48_000, Duration::from_millis(500), None);
    let mut got = Vec::new();
    for n in 0u32..100 {
        if n == 10 {
            continue;
        }
        a.push(rtp::Packet {
            header: rtp::Header {
                sequence_number: n as u16,
                timestamp: n * 960,
                ssrc: SSRC,
                ..Default::default()
            },
            payload: Bytes::from(vec![0xfc, n as u8]),
        });
        while let Some(f) = a.pop() {
            got.push(f.rtp_ts / 960);
        }
    }
    // Frame 10 is given up 500 ms (25 frames) later; every other frame is written.
    let want: Vec<u32> = (0..100).filter(|n| *n != 10).collect();
    assert_eq!(got, want);
    assert_eq!(a.losses().frames_dropped, 1);
    assert_eq!(a.losses().frames_skipped, 0);
}

#[test]
fn padding_packets_are_not_losses() {
    let (packets, expected) = stream(10, 30, 0, 0, SSRC);
    let mut with_padding = Vec::new();
    let mut seq = 0u16;
    for (i, mut p) in packets.into_iter().enumerate() {
        let marker = p.header.marker;
        let ts = p.header.timestamp;
        p.header.sequence_number = seq;
        seq += 1;
        with_padding.push(p);
        if marker && i % 3 == 0 {
            with_padding.push(rtp::Packet {
                header: rtp::Header {
                    sequence_number: seq,
                    timestamp: ts,
                    ssrc: SSRC,
                    ..Default::default()
                },
                payload: Bytes::new(),
            });
            seq += 1;
        }
    }
    let mut a = video();
    assert_eq!(run(&mut a, with_padding), expected);
    assert_eq!(a.losses(), Losses::default());
}

#[test]
fn the_same_frames_as_the_crates_sample_builder_on_a_reordered_stream() {
    for seed in 0..8 {
        let (mut packets, expected) = stream(300, 60, 65_000, u32::MAX - 100_000, SSRC);
        // The builder loses a frame whose first packet is not the first it sees: keep the start.
        shuffle(&mut packets[8..], 20, seed);
        let now = Instant::now();
        let mut builder = SampleBuilder::new(128, Vp8Packet::default(), 90_000)
            .with_max_time_delay(Duration::from_millis(500));
        let mut theirs = Vec::new();
        for p in packets.clone() {
            builder.push(now, p);
            while let Some(s) = builder.pop(now) {
                theirs.push(Frame {
                    rtp_ts: s.packet_timestamp,
                    data: s.data,
                });
            }
        }
        let mut a = video();
        let ours = run(&mut a, packets);
        // The builder holds the last frame until a later packet shows it complete.
        assert_eq!(ours[..theirs.len()], theirs[..], "seed {seed}");
        assert!(ours.len() - theirs.len() <= 1, "seed {seed}");
        assert_eq!(ours, expected, "seed {seed}");
    }
}
