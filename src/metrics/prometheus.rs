//! The Prometheus text exposition format (version 0.0.4) of giaoban's counters: a pure function
//! from snapshots to text, served at `GET /metrics`. Metric names are listed in README.md.

use super::process::ProcessSample;
use super::{SessionSnapshot, Snapshot};
use std::fmt::Write;

/// What one scrape shows.
pub struct Scrape<'a> {
    pub snapshot: &'a Snapshot,
    /// Live rooms (sessions with at least one site connected) and connected sites.
    pub live_sessions: usize,
    pub live_sites: usize,
    pub sessions: &'a [SessionSnapshot],
    pub process: Option<ProcessSample>,
    /// The allocator's live and resident bytes.
    pub heap: Option<crate::memory::HeapStats>,
    /// Events the WebRTC stack logged (most held back: see `crate::logging`).
    pub stack_log_events: u64,
}

/// Escapes a label value (backslash, double quote, line feed).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

fn per_session(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    sessions: &[SessionSnapshot],
    value: impl Fn(&SessionSnapshot) -> String,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for s in sessions {
        let _ = writeln!(
            out,
            "{name}{{session=\"{}\"}} {}",
            label(&s.session_id),
            value(s)
        );
    }
}

/// The shared media port's datagrams and drops (by reason).
fn udp(out: &mut String, u: &super::UdpSnapshot) {
    let counters: [(&str, &str, u64); 5] = [
        (
            "giaoban_udp_datagrams_in_total",
            "Datagrams received on the media UDP port.",
            u.datagrams_in,
        ),
        (
            "giaoban_udp_datagrams_out_total",
            "Datagrams sent from the media UDP port.",
            u.datagrams_out,
        ),
        (
            "giaoban_udp_bytes_in_total",
            "Bytes received on the media UDP port.",
            u.bytes_in,
        ),
        (
            "giaoban_udp_bytes_out_total",
            "Bytes sent from the media UDP port.",
            u.bytes_out,
        ),
        (
            "giaoban_udp_send_failed_total",
            "Datagrams the media UDP port could not send (dropped).",
            u.send_failed,
        ),
    ];
    for (name, help, v) in counters {
        metric(out, name, "counter", help, v);
    }
    let name = "giaoban_udp_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} Datagrams received on the media UDP port and dropped, by reason.\n# TYPE {name} counter"
    );
    for (reason, v) in [
        ("malformed", u.dropped_malformed),
        ("unknown_source", u.dropped_unknown_source),
        ("unknown_ufrag", u.dropped_unknown_ufrag),
        ("bad_credentials", u.dropped_bad_credentials),
        ("queue_full", u.dropped_queue_full),
    ] {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {v}");
    }
}

/// Renders one scrape.
pub fn render(s: &Scrape) -> String {
    let n = s.snapshot;
    let mut out = String::with_capacity(4096);
    let gauges: [(&str, &str, i64); 9] = [
        (
            "giaoban_sessions",
            "Live sessions (rooms with a site connected).",
            s.live_sessions as i64,
        ),
        (
            "giaoban_sites",
            "Sites connected to a live session.",
            s.live_sites as i64,
        ),
        (
            "giaoban_participants",
            "Participants held by the SFU.",
            n.participants,
        ),
        ("giaoban_tracks", "Tracks published by sites.", n.tracks),
        (
            "giaoban_down_tracks",
            "Forwarded tracks (one per subscriber and track).",
            n.down_tracks,
        ),
        (
            "giaoban_peer_connections",
            "WebRTC peer connections.",
            n.peer_connections,
        ),
        (
            "giaoban_websockets",
            "Open signaling WebSockets.",
            n.websockets,
        ),
        ("giaoban_tasks", "SFU tasks.", n.tasks),
        (
            "giaoban_udp_ports_in_use",
            "UDP ports bound for media (one: media.udp_port).",
            n.udp_ports_in_use,
        ),
    ];
    for (name, help, v) in gauges {
        metric(&mut out, name, "gauge", help, v);
    }
    let counters: [(&str, &str, u64); 12] = [
        (
            "giaoban_packets_in_total",
            "RTP packets received from publishers.",
            n.packets_in,
        ),
        (
            "giaoban_packets_out_total",
            "RTP packets sent to subscribers.",
            n.packets_out,
        ),
        (
            "giaoban_bytes_in_total",
            "RTP bytes (header and payload) received from publishers.",
            n.bytes_in,
        ),
        (
            "giaoban_bytes_out_total",
            "RTP bytes (header and payload) sent to subscribers.",
            n.bytes_out,
        ),
        (
            "giaoban_packets_dropped_total",
            "Packets lost to a full down-track queue (lagging subscriber) or a failed write.",
            n.packets_dropped,
        ),
        (
            "giaoban_packets_not_ready_total",
            "Packets not forwarded to a subscriber whose connection or negotiation was not ready yet.",
            n.packets_not_ready,
        ),
        (
            "giaoban_nacks_received_total",
            "RTCP NACK packets received (from subscribers).",
            n.nacks_received,
        ),
        (
            "giaoban_nacks_sent_total",
            "RTCP NACK packets sent (to publishers).",
            n.nacks_sent,
        ),
        (
            "giaoban_plis_received_total",
            "Keyframe requests (PLI/FIR) received from subscribers.",
            n.keyframe_requests_received,
        ),
        (
            "giaoban_plis_sent_total",
            "Keyframe requests (PLI) sent to publishers.",
            n.keyframe_requests,
        ),
        (
            "giaoban_media_stack_log_events_total",
            "Warnings and errors the WebRTC stack logged; each of its call sites writes one line per 10 s.",
            s.stack_log_events,
        ),
        (
            "giaoban_keyframe_requests_total",
            "Keyframe requests sent to publishers (same as giaoban_plis_sent_total).",
            n.keyframe_requests,
        ),
    ];
    for (name, help, v) in counters {
        metric(&mut out, name, "counter", help, v);
    }
    udp(&mut out, &n.udp);
    per_session(
        &mut out,
        "giaoban_session_packets_in_total",
        "counter",
        "RTP packets received from the session's publishers.",
        s.sessions,
        |x| x.packets_in.to_string(),
    );
    per_session(
        &mut out,
        "giaoban_session_packets_lost_total",
        "counter",
        "RTP packets of the session's publishers that never arrived (sequence gaps).",
        s.sessions,
        |x| x.packets_lost.to_string(),
    );
    per_session(
        &mut out,
        "giaoban_session_packets_out_total",
        "counter",
        "RTP packets sent to the session's subscribers.",
        s.sessions,
        |x| x.packets_out.to_string(),
    );
    per_session(
        &mut out,
        "giaoban_session_loss_ratio",
        "gauge",
        "Lost / (received + lost) on the way in, since the session's first track.",
        s.sessions,
        |x| {
            let total = x.packets_in + x.packets_lost;
            let r = if total == 0 {
                0.0
            } else {
                x.packets_lost as f64 / total as f64
            };
            format!("{r}")
        },
    );
    if let Some(p) = s.process {
        metric(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of the server process.",
            p.cpu_seconds,
        );
        metric(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the server process.",
            p.rss_bytes,
        );
        metric(
            &mut out,
            "process_resident_memory_peak_bytes",
            "gauge",
            "Peak resident memory of the server process.",
            p.peak_rss_bytes,
        );
    }
    if let Some(h) = s.heap {
        metric(
            &mut out,
            "giaoban_heap_allocated_bytes",
            "gauge",
            "Bytes of live heap allocations (jemalloc).",
            h.allocated,
        );
        metric(
            &mut out,
            "giaoban_heap_resident_bytes",
            "gauge",
            "Resident bytes of the heap allocator: live, free not yet given back, metadata.",
            h.resident,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_sessions_and_escaped_labels() {
        let snapshot = Snapshot {
            peer_connections: 4,
            tasks: 9,
            websockets: 2,
            participants: 2,
            down_tracks: 4,
            tracks: 4,
            udp_ports_in_use: 0,
            packets_in: 1000,
            packets_out: 990,
            bytes_in: 500_000,
            bytes_out: 495_000,
            packets_dropped: 3,
            packets_not_ready: 7,
            keyframe_requests: 2,
            nacks_received: 1,
            nacks_sent: 5,
            keyframe_requests_received: 6,
            udp: crate::metrics::UdpSnapshot {
                dropped_bad_credentials: 4,
                ..Default::default()
            },
        };
        let sessions = vec![SessionSnapshot {
            session_id: "a\"b\\c".into(),
            packets_in: 90,
            packets_lost: 10,
            packets_out: 80,
        }];
        let text = render(&Scrape {
            snapshot: &snapshot,
            live_sessions: 1,
            live_sites: 2,
            sessions: &sessions,
            process: Some(ProcessSample {
                cpu_seconds: 1.5,
                rss_bytes: 10,
                peak_rss_bytes: 20,
            }),
            heap: Some(crate::memory::HeapStats {
                allocated: 30,
                resident: 40,
            }),
            stack_log_events: 12,
        });
        assert!(text.contains("giaoban_media_stack_log_events_total 12\n"));
        assert!(
            text.contains(
                "# TYPE giaoban_packets_out_total counter\ngiaoban_packets_out_total 990\n"
            )
        );
        assert!(text.contains("giaoban_sessions 1\n"));
        assert!(text.contains("giaoban_session_loss_ratio{session=\"a\\\"b\\\\c\"} 0.1\n"));
        assert!(text.contains("process_cpu_seconds_total 1.5\n"));
        assert!(text.contains("giaoban_heap_allocated_bytes 30\n"));
        assert!(text.contains("giaoban_heap_resident_bytes 40\n"));
        assert!(text.contains("giaoban_udp_dropped_total{reason=\"bad_credentials\"} 4\n"));
        assert!(text.ends_with('\n'));
    }
}
