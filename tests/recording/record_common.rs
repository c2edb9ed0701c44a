//! Shared by the recording tests: a site that publishes the load tester's real VP8 and Opus
//! media paced in real time (RTP timestamps follow the schedule, so they agree with the wall
//! clock), restarting its video at a keyframe when the server asks for one (as an encoder does),
//! and `ffprobe` readings of a recorded file.
#![allow(dead_code)]

use giaoban::client::SiteClient;
use giaoban::loadtest::media;
use giaoban::signal::protocol::MediaKind;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

/// What a publisher did, on the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The first keyframe sent after the server asked for one (the recorder's first frame).
    pub first_key: SystemTime,
    /// The last packet sent.
    pub last: SystemTime,
}

/// Sends media from `site` until `until` (and on until the first keyframe the server asked for
/// was sent); returns when it sent its first and last frames.
pub async fn publish(site: &SiteClient, until: Instant) -> Sent {
    let plan = media::plan(
        &media::parse_ivf("video", media::DEFAULT_VIDEO).unwrap(),
        media::parse_ogg_opus("audio", media::DEFAULT_AUDIO).unwrap(),
        0,
    )
    .unwrap();
    let t0 = Instant::now();
    let (mut next_audio, mut next_video) = (t0, t0);
    let (mut ai, mut vi) = (0usize, 0usize);
    let mut seen_requests = 0;
    let mut first_key = None;
    let mut last = SystemTime::now();
    let mut step = 3000u32;
    // On a loaded machine the keyframe request can come late: keep publishing past `until`
    // (up to 20 s more) until the server has had its keyframe, so that the recording has video.
    let hard_stop = until + Duration::from_secs(20);
    while Instant::now() < until || (first_key.is_none() && Instant::now() < hard_stop) {
        let now = Instant::now();
        if now >= next_audio {
            let p = plan.audio[ai % plan.audio.len()].clone();
            if site.send(MediaKind::Audio, p).await.is_ok() && first_key.is_some() {
                last = SystemTime::now();
            }
            ai += 1;
            next_audio += Duration::from_millis(20);
        }
        if now >= next_video {
            let requests = site.keyframe_requests.load(Relaxed);
            if requests > seen_requests {
                seen_requests = requests;
                vi = 0;
            }
            let frame = &plan.video[vi % plan.video.len()];
            let n = frame.payloads.len();
            let mut ok = true;
            for (i, p) in frame.payloads.iter().enumerate() {
                let adv = if i == 0 { step } else { 0 };
                ok &= site
                    .send_packet(MediaKind::Video, p.clone(), i + 1 == n, Some(adv))
                    .await
                    .is_ok();
            }
            if ok && vi.is_multiple_of(plan.video.len()) && seen_requests > 0 && first_key.is_none()
            {
                first_key = Some(SystemTime::now());
            }
            if first_key.is_some() {
                last = SystemTime::now();
            }
            step = (frame.interval.as_secs_f64() * 90_000.0).round() as u32;
            vi += 1;
            next_video += frame.interval;
        }
        let wake = next_audio.min(next_video);
        tokio::time::sleep_until(wake.into()).await;
    }
    Sent {
        first_key: first_key.expect("the server asked for a keyframe and got one"),
        last,
    }
}

/// (codec, start time s) of each stream and the format's duration (s), from ffprobe.
pub fn probe(path: &Path) -> (Vec<(String, f64)>, f64) {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,start_time:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_name"].as_str().unwrap_or("").to_string(),
                s["start_time"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect();
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or(f64::NAN);
    (streams, duration)
}

/// Seconds of media ffmpeg decodes from a file (the last decoded frame's time): a file cut by a
/// crash has no duration in its header, so this is what "plays up to" means.
pub fn decoded_secs(path: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .fold(0.0, f64::max)
}

pub fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}
