//! One simulated site of a load test: joins through the real signaling with the crate's client,
//! publishes the media plan in a loop (when it is a publisher; while muted, one audio packet every
//! 400 ms, as a muted page with Opus DTX does), receives everything the server
//! forwards to it, and measures: time to the first complete video frame, packets received and
//! missing (per forwarded stream, from sequence gaps), forwarding delay from the payload stamps.
//! Counting into the shared totals happens only while the window is open.

use super::media::{self, MediaPlan, Stamp};
use crate::client::{Received, SiteClient};
use crate::sfu::forward::LossCounter;
use crate::signal::protocol::{MediaKind, ServerMsg, TrackSource};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a muted site sends an audio packet (Opus DTX sends one every 400 ms).
const DTX_INTERVAL_MS: u64 = 400;

/// Totals shared by every site of a run, and the switches the run flips.
#[derive(Debug, Default)]
pub struct Shared {
    /// Counting is on (the measured window).
    pub measuring: AtomicBool,
    /// Every site stops sending and leaves.
    pub stop: AtomicBool,
    pub joined: AtomicUsize,
    pub failed: AtomicUsize,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub lost: AtomicU64,
    /// All packets received since the start (for the progress line).
    pub received_all: AtomicU64,
    pub nacks_received: AtomicU64,
    pub nacks_sent: AtomicU64,
    pub keyframe_requests: AtomicU64,
    pub client_drops: AtomicU64,
    /// Publishing sites whose camera is paused now (`video_paused`), and the messages so far.
    pub paused_now: AtomicUsize,
    pub pauses: AtomicU64,
    pub resumes: AtomicU64,
}

/// Microseconds since the load tester's clock started.
pub fn now_us(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// One site's part of a run.
pub struct SiteSpec {
    pub index: u32,
    pub ws_url: String,
    pub token: String,
    pub publish: bool,
    pub bind_ip: IpAddr,
    /// Subscribe to exactly these sites' video (`--layout all`); `None`: the default layout.
    pub subscribe_to: Option<Vec<String>>,
    /// Keep sending video when the server says nobody receives it (`--ignore-pause`).
    pub ignore_pause: bool,
}

/// What a site measured (besides the shared totals).
#[derive(Debug, Default)]
pub struct SiteOutcome {
    pub error: Option<String>,
    /// Join start to the end of the first video frame received (ms).
    pub first_frame_ms: Option<f64>,
    /// Forwarding delays in the window (ms).
    pub delays_ms: Vec<f64>,
}

/// Runs one site until `shared.stop`.
pub async fn run(
    spec: SiteSpec,
    plan: Arc<MediaPlan>,
    shared: Arc<Shared>,
    epoch: Instant,
) -> SiteOutcome {
    let t0 = Instant::now();
    let mut out = SiteOutcome::default();
    let mut client =
        match SiteClient::join_with(&spec.ws_url, &spec.token, spec.bind_ip, spec.publish).await {
            Ok(c) => c,
            Err(e) => {
                shared.failed.fetch_add(1, Relaxed);
                out.error = Some(format!("site {}: join: {e}", spec.index));
                return out;
            }
        };
    shared.joined.fetch_add(1, Relaxed);
    if let Some(sites) = &spec.subscribe_to {
        let video = sites
            .iter()
            .map(|s| crate::signal::protocol::TileRequest {
                site_id: s.clone(),
                width: 320,
                height: 180,
                source: Default::default(),
            })
            .collect();
        client
            .send_msg(crate::signal::protocol::ClientMsg::Subscribe {
                video: Some(video),
                page: None,
            })
            .await;
    }
    let mut packets = client.take_packets();
    let muted = Arc::new(AtomicBool::new(false));
    let paused = Arc::new(AtomicBool::new(false));
    let watch = tokio::spawn(follow(
        client.take_messages(),
        own_site(&client.joined),
        Follow {
            muted: muted.clone(),
            paused: (!spec.ignore_pause).then(|| paused.clone()),
            shared: shared.clone(),
        },
    ));
    let client = Arc::new(client);
    let sender = spec.publish.then(|| {
        tokio::spawn(publish(
            client.clone(),
            spec.index,
            plan,
            shared.clone(),
            epoch,
            muted,
            paused,
        ))
    });

    let mut streams: HashMap<u32, LossCounter> = HashMap::new();
    while !shared.stop.load(Relaxed) {
        let Ok(next) = tokio::time::timeout(Duration::from_millis(100), packets.recv()).await
        else {
            continue;
        };
        let Some(rx) = next else { break };
        receive(&rx, t0, &mut streams, &shared, &mut out, epoch);
        while let Ok(rx) = packets.try_recv() {
            receive(&rx, t0, &mut streams, &shared, &mut out, epoch);
        }
    }
    if let Some(s) = sender {
        let _ = s.await;
    }
    watch.abort();
    let rtcp = &client.rtcp;
    shared
        .nacks_received
        .fetch_add(rtcp.nacks_received.load(Relaxed), Relaxed);
    shared
        .nacks_sent
        .fetch_add(rtcp.nacks_sent.load(Relaxed), Relaxed);
    shared
        .keyframe_requests
        .fetch_add(client.keyframe_requests.load(Relaxed), Relaxed);
    shared.client_drops.fetch_add(client.dropped(), Relaxed);
    if let Ok(c) = Arc::try_unwrap(client) {
        c.leave().await;
    }
    out
}

fn receive(
    rx: &Received,
    t0: Instant,
    streams: &mut HashMap<u32, LossCounter>,
    shared: &Shared,
    out: &mut SiteOutcome,
    epoch: Instant,
) {
    shared.received_all.fetch_add(1, Relaxed);
    let lost = streams
        .entry(rx.packet.header.ssrc)
        .or_default()
        .on_packet(rx.packet.header.sequence_number);
    if out.first_frame_ms.is_none() && rx.kind == MediaKind::Video && rx.packet.header.marker {
        out.first_frame_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
    }
    if !shared.measuring.load(Relaxed) {
        return;
    }
    shared.received.fetch_add(1, Relaxed);
    if lost > 0 {
        shared.lost.fetch_add(lost, Relaxed);
    }
    if let Some(stamp) = media::read_stamp(&rx.packet.payload) {
        let at = rx.at.saturating_duration_since(epoch).as_micros() as u64;
        out.delays_ms
            .push(at.saturating_sub(stamp.sent_us) as f64 / 1000.0);
    }
}

fn own_site(joined: &ServerMsg) -> String {
    match joined {
        ServerMsg::Joined { site, .. } => site.id.clone(),
        _ => String::new(),
    }
}

/// What a site follows from the server's messages about itself.
struct Follow {
    /// Its microphone is muted (the server tells it after `joined`, and on changes).
    muted: Arc<AtomicBool>,
    /// Nobody receives its camera (`video_paused`); `None` with `--ignore-pause`.
    paused: Option<Arc<AtomicBool>>,
    shared: Arc<Shared>,
}

async fn follow(mut messages: mpsc::Receiver<ServerMsg>, me: String, f: Follow) {
    while let Some(msg) = messages.recv().await {
        match msg {
            ServerMsg::MuteChanged {
                site_id,
                kind: MediaKind::Audio,
                muted: m,
                ..
            } if site_id == me => f.muted.store(m, Relaxed),
            ServerMsg::VideoPaused {
                source: TrackSource::Camera,
                paused: p,
            } => {
                let count = if p {
                    &f.shared.pauses
                } else {
                    &f.shared.resumes
                };
                count.fetch_add(1, Relaxed);
                let Some(paused) = &f.paused else { continue };
                if paused.swap(p, Relaxed) != p {
                    if p {
                        f.shared.paused_now.fetch_add(1, Relaxed);
                    } else {
                        f.shared.paused_now.fetch_sub(1, Relaxed);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Sends the plan in a loop: video frames at their own pace (all packets of a frame at once, the
/// marker on the last), an Opus packet every 20 ms; timestamps keep rising across loops. While the
/// site is muted it sends as a muted page does with Opus DTX (the server's answer asks for it):
/// one packet every 400 ms. While nobody receives its camera (`video_paused`) it sends no video,
/// as a page that stopped encoding; it resumes at the next keyframe of the loop.
async fn publish(
    client: Arc<SiteClient>,
    site: u32,
    plan: Arc<MediaPlan>,
    shared: Arc<Shared>,
    epoch: Instant,
    muted: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
) {
    let start = tokio::time::Instant::now();
    let (mut next_video, mut next_audio) = (start, start);
    let (mut vi, mut ai) = (0usize, 0usize);
    let mut resume_at_key = false;
    while !shared.stop.load(Relaxed) {
        let dtx = muted.load(Relaxed);
        let audio_step = Duration::from_millis(if dtx { DTX_INTERVAL_MS } else { 20 });
        tokio::time::sleep_until(next_video.min(next_audio)).await;
        let now = tokio::time::Instant::now();
        let video_paused = paused.load(Relaxed);
        if now >= next_video && video_paused {
            resume_at_key = true;
            vi = (vi + 1) % plan.video.len();
            next_video += plan.video[vi].interval;
        } else if now >= next_video {
            if std::mem::take(&mut resume_at_key) {
                vi = plan.next_key(vi);
            }
            let frame = &plan.video[vi];
            let last = frame.payloads.len().saturating_sub(1);
            for (k, p) in frame.payloads.iter().enumerate() {
                let payload = media::stamp(
                    p,
                    Stamp {
                        site,
                        sent_us: now_us(epoch),
                    },
                );
                let ts = Some(if k == 0 { frame.ts_step } else { 0 });
                let sent = client
                    .send_packet(MediaKind::Video, payload, k == last, ts)
                    .await;
                if sent.is_ok() && shared.measuring.load(Relaxed) {
                    shared.sent.fetch_add(1, Relaxed);
                }
            }
            vi = (vi + 1) % plan.video.len();
            next_video += plan.video[vi].interval;
        }
        if now >= next_audio && !plan.audio.is_empty() {
            let payload = media::stamp(
                &plan.audio[ai],
                Stamp {
                    site,
                    sent_us: now_us(epoch),
                },
            );
            let samples = 48 * audio_step.as_millis() as u32;
            let sent = client
                .send_packet(MediaKind::Audio, payload, true, Some(samples))
                .await;
            if sent.is_ok() && shared.measuring.load(Relaxed) {
                shared.sent.fetch_add(1, Relaxed);
            }
            ai = (ai + 1) % plan.audio.len();
            next_audio += audio_step;
        }
        // A loaded machine falls behind: skip ahead rather than burst.
        let now = tokio::time::Instant::now();
        if now > next_video + Duration::from_millis(200) {
            next_video = now;
        }
        if now > next_audio + Duration::from_millis(200) {
            next_audio = now;
        }
    }
}
