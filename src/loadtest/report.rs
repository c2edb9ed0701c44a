//! What a load test found, as a JSON document and as a table: sites connected and failed, join
//! to first frame, packet rates and loss, forwarding delay, RTCP feedback, and the server's (and
//! the load tester's own) CPU and memory over the measured window. Pure: built from numbers the
//! run collected.

use serde::Serialize;
use std::fmt::Write;

/// Percentiles of a sample set (nearest rank), in the unit the samples were in.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spread {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// Sorts `samples` and reads the percentiles (all zero when empty).
    pub fn of(samples: &mut [f64]) -> Spread {
        if samples.is_empty() {
            return Spread::default();
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let n = samples.len();
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Spread {
            count: n,
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: samples[n - 1],
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Sites {
    pub requested: usize,
    pub publishers: usize,
    pub viewers: usize,
    pub sessions: usize,
    pub connected: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Packets {
    /// Sent by the simulated sites during the window.
    pub sent: u64,
    /// Received by the simulated sites during the window.
    pub received: u64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    /// Missing at the receivers (gaps in each forwarded stream's sequence numbers).
    pub lost: u64,
    /// lost / (received + lost).
    pub loss_ratio: f64,
}

/// RTCP feedback the simulated sites received from the server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Feedback {
    pub nacks_received: u64,
    pub keyframe_requests_received: u64,
    pub nacks_sent: u64,
}

/// `video_paused` messages: video that no site received, which the sites stopped sending.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pauses {
    /// Publishing sites whose camera was paused at the end of the window.
    pub sites_at_end: usize,
    /// Pause and resume messages received over the whole run.
    pub pauses: u64,
    pub resumes: u64,
    /// `--ignore-pause`: the sites kept sending.
    pub ignored: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_seconds: f64,
    /// Of one core.
    pub cpu_percent: f64,
    pub rss_mb_start: f64,
    pub rss_mb_end: f64,
    /// Highest RSS sampled during the window (every 250 ms).
    pub peak_rss_mb: f64,
    /// The server's own counters over the window (`/api/stats`), when readable.
    pub packets_in: Option<u64>,
    pub packets_out: Option<u64>,
    /// CPU µs per packet sent out by the server (its counter, else what the sites received).
    pub us_per_forwarded_packet: f64,
    /// Forwarded packets per second one core would carry at that cost.
    pub packets_per_s_per_core: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnUsage {
    pub cpu_seconds: f64,
    pub cpu_percent: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub server_url: String,
    pub window_s: f64,
    pub video_kbps: u64,
    pub video_pps_per_publisher: f64,
    pub sites: Sites,
    /// From the start of a site's join to its first complete video frame (ms).
    pub join_to_first_frame_ms: Spread,
    pub packets: Packets,
    /// Send to receive, through the server (ms).
    pub delay_ms: Spread,
    pub rtcp: Feedback,
    pub video_paused: Pauses,
    pub server: Option<ServerUsage>,
    pub loadtest: OwnUsage,
    /// The first failures (joins refused, connections lost), for the reader.
    pub errors: Vec<String>,
}

/// `µs of CPU per packet` and `packets per second per core` for `cpu_seconds` over `packets`.
pub fn per_packet(cpu_seconds: f64, packets: u64) -> (f64, f64) {
    if packets == 0 || cpu_seconds <= 0.0 {
        return (0.0, 0.0);
    }
    let us = cpu_seconds * 1e6 / packets as f64;
    (us, 1e6 / us)
}

impl Report {
    pub fn table(&self) -> String {
        let mut t = String::new();
        let s = &self.sites;
        let p = &self.packets;
        let j = &self.join_to_first_frame_ms;
        let d = &self.delay_ms;
        let _ = writeln!(t, "giaoban load test against {}", self.server_url);
        let _ = writeln!(
            t,
            "  sites                      {} connected, {} failed (of {}: {} publishing, {} viewing, {} session(s))",
            s.connected, s.failed, s.requested, s.publishers, s.viewers, s.sessions
        );
        let _ = writeln!(
            t,
            "  media per publisher        VP8 {} kbit/s ({:.0} packets/s) + Opus 50 packets/s",
            self.video_kbps, self.video_pps_per_publisher
        );
        let _ = writeln!(t, "  window                     {:.1} s", self.window_s);
        let _ = writeln!(
            t,
            "  join -> first frame        p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms ({} sites)",
            j.p50, j.p95, j.max, j.count
        );
        let _ = writeln!(
            t,
            "  packets sent / received    {} / {} ({:.0}/s out of the sites, {:.0}/s into them)",
            p.sent, p.received, p.sent_per_s, p.received_per_s
        );
        let _ = writeln!(
            t,
            "  loss                       {} packets ({:.3} %)",
            p.lost,
            p.loss_ratio * 100.0
        );
        let _ = writeln!(
            t,
            "  forwarding delay           p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            d.p50, d.p99, d.max
        );
        let _ = writeln!(
            t,
            "  RTCP at the sites          {} NACKs received, {} keyframe requests received",
            self.rtcp.nacks_received, self.rtcp.keyframe_requests_received
        );
        let v = &self.video_paused;
        let _ = writeln!(
            t,
            "  video paused (nobody sees) {} sites at the end ({} pauses, {} resumes{})",
            v.sites_at_end,
            v.pauses,
            v.resumes,
            if v.ignored {
                "; ignored: sites kept sending"
            } else {
                ""
            }
        );
        match &self.server {
            Some(v) => {
                let _ = writeln!(
                    t,
                    "  server CPU                 {:.2} s ({:.1} % of one core), RSS {:.0} -> {:.0} MB, peak {:.0} MB",
                    v.cpu_seconds, v.cpu_percent, v.rss_mb_start, v.rss_mb_end, v.peak_rss_mb
                );
                let _ = writeln!(
                    t,
                    "  server packets in / out    {} / {}",
                    v.packets_in.map_or("?".into(), |n| n.to_string()),
                    v.packets_out.map_or("?".into(), |n| n.to_string())
                );
                let _ = writeln!(
                    t,
                    "  CPU per forwarded packet   {:.1} µs ({:.0} packets/s per core)",
                    v.us_per_forwarded_packet, v.packets_per_s_per_core
                );
            }
            None => {
                let _ = writeln!(t, "  server CPU                 (give --server-pid)");
            }
        }
        let _ = writeln!(
            t,
            "  load tester CPU            {:.2} s ({:.1} % of one core)",
            self.loadtest.cpu_seconds, self.loadtest.cpu_percent
        );
        for e in &self.errors {
            let _ = writeln!(t, "  error: {e}");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Spread::of(&mut v);
        assert_eq!(
            (s.count, s.p50, s.p95, s.p99, s.max),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Spread::of(&mut []), Spread::default());
        assert_eq!(Spread::of(&mut [3.0]).p95, 3.0);
    }

    #[test]
    fn cost_per_packet() {
        assert_eq!(per_packet(2.0, 100_000), (20.0, 50_000.0));
        assert_eq!(per_packet(2.0, 0), (0.0, 0.0));
    }

    #[test]
    fn the_table_names_every_figure() {
        let r = Report {
            server: Some(ServerUsage::default()),
            errors: vec!["site 3: refused".into()],
            ..Default::default()
        };
        let t = r.table();
        for w in [
            "connected",
            "join -> first frame",
            "loss",
            "forwarding delay",
            "NACKs",
            "CPU per forwarded packet",
            "load tester CPU",
            "site 3: refused",
        ] {
            assert!(t.contains(w), "{w} missing from\n{t}");
        }
    }
}
