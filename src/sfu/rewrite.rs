//! Per-down-track RTP header rewriting, as a pure state machine: every forwarded packet gets the
//! down-track's SSRC and payload type, and sequence numbers and timestamps stay continuous when the
//! source changes (a publisher that reconnects, later a simulcast layer switch), so the receiver's
//! jitter buffer never sees a jump. No sockets, no clocks: the caller passes what it knows.

/// Header fields of one forwarded packet after rewriting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub ssrc: u32,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
}

/// Rewrites the headers of one down-track.
#[derive(Debug, Clone)]
pub struct Rewriter {
    out_ssrc: u32,
    out_pt: u8,
    /// Timestamp step assumed between the last packet of an old source and the first of a new one
    /// (one 30 fps frame at 90 kHz for video, 20 ms at 48 kHz for audio).
    switch_ts_step: u32,
    state: Option<SourceState>,
}

#[derive(Debug, Clone, Copy)]
struct SourceState {
    in_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// Highest (in RTP wrap-around order) output sequence number and its timestamp.
    last_out_seq: u16,
    last_out_ts: u32,
    /// First input sequence number of this source: older packets belong to the previous source.
    first_in_seq: u16,
}

/// `a` is after `b` in 16-bit wrap-around order.
fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

impl Rewriter {
    pub fn new(out_ssrc: u32, out_pt: u8, clock_rate: u32) -> Self {
        let switch_ts_step = if clock_rate >= 90_000 {
            3000
        } else {
            clock_rate / 50
        };
        Rewriter {
            out_ssrc,
            out_pt,
            switch_ts_step,
            state: None,
        }
    }

    /// Maps one packet. `None` means drop it: a late packet of a source already switched away from.
    pub fn rewrite(&mut self, in_ssrc: u32, seq: u16, ts: u32) -> Option<Rewritten> {
        let st = match self.state {
            Some(st) if st.in_ssrc == in_ssrc => {
                if seq_after(st.first_in_seq, seq) {
                    return None;
                }
                st
            }
            Some(prev) => {
                // New source: continue right after what the receiver saw last.
                let next_seq = prev.last_out_seq.wrapping_add(1);
                let next_ts = prev.last_out_ts.wrapping_add(self.switch_ts_step);
                SourceState {
                    in_ssrc,
                    seq_offset: next_seq.wrapping_sub(seq),
                    ts_offset: next_ts.wrapping_sub(ts),
                    last_out_seq: next_seq,
                    last_out_ts: next_ts,
                    first_in_seq: seq,
                }
            }
            None => SourceState {
                in_ssrc,
                seq_offset: 0,
                ts_offset: 0,
                last_out_seq: seq,
                last_out_ts: ts,
                first_in_seq: seq,
            },
        };
        let out_seq = seq.wrapping_add(st.seq_offset);
        let out_ts = ts.wrapping_add(st.ts_offset);
        let mut st = st;
        if seq_after(out_seq, st.last_out_seq) {
            st.last_out_seq = out_seq;
            st.last_out_ts = out_ts;
        }
        self.state = Some(st);
        Some(Rewritten {
            ssrc: self.out_ssrc,
            payload_type: self.out_pt,
            sequence_number: out_seq,
            timestamp: out_ts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_source_passes_numbers_through_with_new_ssrc_and_pt() {
        let mut r = Rewriter::new(42, 96, 90_000);
        let a = r.rewrite(7, 100, 5000).unwrap();
        assert_eq!(
            a,
            Rewritten {
                ssrc: 42,
                payload_type: 96,
                sequence_number: 100,
                timestamp: 5000
            }
        );
        let b = r.rewrite(7, 101, 8000).unwrap();
        assert_eq!((b.sequence_number, b.timestamp), (101, 8000));
    }

    #[test]
    fn reordered_packets_keep_their_place() {
        let mut r = Rewriter::new(1, 111, 48_000);
        r.rewrite(7, 10, 0).unwrap();
        r.rewrite(7, 12, 1920).unwrap();
        let late = r.rewrite(7, 11, 960).unwrap();
        assert_eq!(late.sequence_number, 11);
        let next = r.rewrite(7, 13, 2880).unwrap();
        assert_eq!(next.sequence_number, 13);
    }

    #[test]
    fn a_source_switch_is_continuous() {
        let mut r = Rewriter::new(1, 96, 90_000);
        r.rewrite(7, 65534, 4_294_960_000).unwrap();
        r.rewrite(7, 65535, 4_294_963_000).unwrap();
        // New publisher connection: unrelated numbers.
        let s = r.rewrite(9, 300, 77).unwrap();
        assert_eq!(s.sequence_number, 0); // 65535 + 1 wraps
        assert_eq!(s.timestamp, 4_294_963_000u32.wrapping_add(3000));
        let t = r.rewrite(9, 301, 3077).unwrap();
        assert_eq!(t.sequence_number, 1);
        assert_eq!(t.timestamp, s.timestamp.wrapping_add(3000));
        // A straggler of the new source from before its first packet is dropped.
        assert_eq!(r.rewrite(9, 299, 0), None);
    }

    #[test]
    fn wraparound_within_one_source() {
        let mut r = Rewriter::new(1, 96, 90_000);
        r.rewrite(7, 65535, 0).unwrap();
        assert_eq!(r.rewrite(7, 0, 3000).unwrap().sequence_number, 0);
        assert_eq!(r.rewrite(7, 1, 6000).unwrap().sequence_number, 1);
    }
}
