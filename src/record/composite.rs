//! One file to hand over: a composite MP4 (H.264 + AAC) built by `ffmpeg` as a background job.
//! Following the timeline, whoever shares a screen, else whoever has the floor, is shown large
//! with the host site beside it (the host alone, large, when nobody does); every site's audio is
//! mixed. [`layout`] (who is large when) and [`ffmpeg_args`] (the filter graph) are pure; [`run`]
//! drives ffmpeg and writes its progress (from `-progress`) to the job's row.

use super::manifest::{Manifest, ManifestFile};
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Size of the composite picture, of the large picture and of the host beside it.
const W: u32 = 1280;
const H: u32 = 720;
const BIG: (u32, u32) = (960, 540);
const SMALL: (u32, u32) = (320, 180);

/// From `from_ms` to `to_ms`, `main` is shown large (`None`: the host alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub from_ms: i64,
    pub to_ms: i64,
    pub main: Option<String>,
}

/// Who is large when, from the timeline: a shared screen first, then the floor holder; a site
/// that leaves loses both. The host itself is never "beside itself".
pub fn layout(m: &Manifest) -> Vec<Segment> {
    let end = total_ms(m);
    let (mut floor, mut screen): (Option<String>, Option<String>) = (None, None);
    let mut out: Vec<Segment> = Vec::new();
    let mut at = 0;
    let mut current: Option<String> = None;
    let mut events: Vec<_> = m.timeline.iter().collect();
    events.sort_by_key(|e| (e.at_ms, e.seq));
    for e in events {
        let site = e.site_id.clone();
        match e.kind.as_str() {
            "floor_given" | "speaking_turn" => floor = site,
            "floor_taken" | "floor_released" if floor == site || site.is_none() => floor = None,
            "screen_share_started" => screen = site,
            "screen_share_stopped" if screen == site => screen = None,
            "site_left" => {
                if floor == site {
                    floor = None;
                }
                if screen == site {
                    screen = None;
                }
            }
            _ => {}
        }
        let next = screen
            .clone()
            .or_else(|| floor.clone())
            .filter(|s| *s != m.host_site_id);
        if next != current {
            let t = e.at_ms.clamp(0, end);
            if t > at {
                out.push(Segment {
                    from_ms: at,
                    to_ms: t,
                    main: current.clone(),
                });
            }
            at = t.max(at);
            current = next;
        }
    }
    if end > at {
        out.push(Segment {
            from_ms: at,
            to_ms: end,
            main: current,
        });
    }
    out
}

/// The recording's length: the end of its last file.
pub fn total_ms(m: &Manifest) -> i64 {
    m.files
        .iter()
        .map(|f| f.offset_ms + f.duration_ms.unwrap_or(0))
        .max()
        .unwrap_or(0)
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// `between(t,a,b)+...` over the parts of `spans` that overlap `[from, to)`.
fn enable(spans: &[(i64, i64)], file: &ManifestFile) -> Option<String> {
    let (from, to) = (
        file.offset_ms,
        file.offset_ms + file.duration_ms.unwrap_or(0),
    );
    let parts: Vec<String> = spans
        .iter()
        .filter_map(|&(a, b)| {
            let (a, b) = (a.max(from), b.min(to));
            (b > a).then(|| format!("between(t,{},{})", secs(a), secs(b)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("+"))
}

/// The ffmpeg arguments that build the composite of `m`'s files (in `dir`) into `out`.
pub fn ffmpeg_args(m: &Manifest, dir: &Path, out: &Path) -> Vec<String> {
    let total = total_ms(m);
    let segments = layout(m);
    let host_large: Vec<(i64, i64)> = segments
        .iter()
        .filter(|s| s.main.is_none())
        .map(|s| (s.from_ms, s.to_ms))
        .collect();
    let host_small: Vec<(i64, i64)> = segments
        .iter()
        .filter(|s| s.main.is_some())
        .map(|s| (s.from_ms, s.to_ms))
        .collect();
    let mut args: Vec<String> = ["-v", "error", "-y", "-nostats", "-progress", "pipe:1"]
        .map(String::from)
        .to_vec();
    let files: Vec<&ManifestFile> = m
        .files
        .iter()
        .filter(|f| f.duration_ms.unwrap_or(0) > 0)
        .collect();
    for f in &files {
        args.push("-i".into());
        args.push(dir.join(&f.file).display().to_string());
    }
    let mut graph = vec![format!(
        "color=c=black:s={W}x{H}:r=25:d={}[base0]",
        secs(total)
    )];
    let mut layer = 0;
    let mut audio = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let is_host = f.site_id == m.host_site_id;
        let spans: Vec<(i64, i64)> = segments
            .iter()
            .filter(|s| s.main.as_deref() == Some(&f.site_id))
            .map(|s| (s.from_ms, s.to_ms))
            .collect();
        let mut uses = Vec::new();
        if is_host {
            if let Some(e) = enable(&host_large, f) {
                uses.push((BIG, ((W - BIG.0) / 2, (H - BIG.1) / 2), e));
            }
            if let Some(e) = enable(&host_small, f) {
                uses.push((SMALL, (BIG.0, (H - BIG.1) / 2), e));
            }
        } else if let Some(e) = enable(&spans, f) {
            uses.push((BIG, (0, (H - BIG.1) / 2), e));
        }
        let pad = format!(
            "[{i}:v]setpts=PTS-STARTPTS,tpad=start_duration={}:color=black,fps=25",
            secs(f.offset_ms)
        );
        match uses.len() {
            0 => {}
            1 => graph.push(format!("{pad}[v{i}_0]")),
            n => graph.push(format!(
                "{pad},split={n}{}",
                (0..n).map(|k| format!("[v{i}_{k}]")).collect::<String>()
            )),
        }
        for (k, ((w, h), (x, y), e)) in uses.into_iter().enumerate() {
            graph.push(format!("[v{i}_{k}]scale={w}:{h}[s{i}_{k}]"));
            graph.push(format!(
                "[base{layer}][s{i}_{k}]overlay=x={x}:y={y}:eof_action=pass:enable='{e}'[base{}]",
                layer + 1
            ));
            layer += 1;
        }
        graph.push(format!(
            "[{i}:a]aresample=48000,adelay=delays={}:all=1[a{i}]",
            f.offset_ms.max(0)
        ));
        audio.push(format!("[a{i}]"));
    }
    graph.push(format!("[base{layer}]null[vout]"));
    if audio.is_empty() {
        graph.push(format!(
            "anullsrc=r=48000:cl=stereo:d={}[aout]",
            secs(total)
        ));
    } else {
        graph.push(format!(
            "{}amix=inputs={}:duration=longest:normalize=0[aout]",
            audio.concat(),
            audio.len()
        ));
    }
    args.extend(["-filter_complex".into(), graph.join(";")]);
    args.extend(
        [
            "-map",
            "[vout]",
            "-map",
            "[aout]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "26",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-movflags",
            "+faststart",
            "-t",
        ]
        .map(String::from),
    );
    args.push(secs(total));
    args.push(out.display().to_string());
    args
}

/// A composite job as stored and shown.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub recording_id: String,
    /// `queued`, `running`, `done`, `failed`.
    pub status: String,
    /// 0 to 1.
    pub progress: f64,
    /// The output file's name in the recording's folder, once done.
    pub output: Option<String>,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLS: &str =
    "id, recording_id, status, progress, output, error, created_by, created_at, finished_at";

pub async fn latest(pool: &Pool, recording_id: &str) -> Result<Option<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM recording_jobs WHERE recording_id = ? ORDER BY created_at DESC LIMIT 1"
    );
    Ok(sqlx::query_as(&sql)
        .bind(recording_id)
        .fetch_optional(pool)
        .await?)
}

pub async fn insert(pool: &Pool, job: &Job) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recording_jobs (id, recording_id, status, progress, created_by, created_at) \
         VALUES (?, ?, 'queued', 0, ?, ?)",
    )
    .bind(&job.id)
    .bind(&job.recording_id)
    .bind(&job.created_by)
    .bind(job.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

async fn update(
    pool: &Pool,
    id: &str,
    status: &str,
    progress: f64,
    output: Option<&str>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let finished = matches!(status, "done" | "failed").then(Utc::now);
    sqlx::query(
        "UPDATE recording_jobs SET status = ?, progress = ?, output = ?, error = ?, \
         finished_at = ? WHERE id = ?",
    )
    .bind(status)
    .bind(progress)
    .bind(output)
    .bind(error)
    .bind(finished)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Jobs left queued or running by a stop of the server fail (their ffmpeg is gone).
pub async fn fail_unfinished(pool: &Pool) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE recording_jobs SET status = 'failed', error = 'the server stopped during the job' \
         WHERE status IN ('queued', 'running')",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Builds the composite of `m` (files in `dir`) for job `id`; progress goes to the job's row.
pub async fn run(pool: Pool, dir: PathBuf, id: String, m: Manifest) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let name = format!("composite-{}.mp4", &id[..8.min(id.len())]);
    let out = dir.join(&name);
    let total_us = (total_ms(&m).max(1) * 1000) as f64;
    let args = ffmpeg_args(&m, &dir, &out);
    let _ = update(&pool, &id, "running", 0.0, None, None).await;
    let child = tokio::process::Command::new("ffmpeg")
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot run ffmpeg: {e}");
            let _ = update(&pool, &id, "failed", 0.0, None, Some(&why)).await;
            return;
        }
    };
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut last = std::time::Instant::now();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(us) = line
            .strip_prefix("out_time_us=")
            .and_then(|v| v.parse::<f64>().ok())
            && last.elapsed() >= std::time::Duration::from_millis(500)
        {
            last = std::time::Instant::now();
            let p = (us / total_us).clamp(0.0, 0.99);
            let _ = update(&pool, &id, "running", p, None, None).await;
        }
    }
    let output = child.wait_with_output().await;
    match output {
        Ok(o) if o.status.success() => {
            let _ = update(&pool, &id, "done", 1.0, Some(&name), None).await;
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let why = format!(
                "ffmpeg failed ({}): {}",
                o.status,
                err.chars().take(500).collect::<String>()
            );
            let _ = update(&pool, &id, "failed", 0.0, None, Some(&why)).await;
            let _ = std::fs::remove_file(&out);
        }
        Err(e) => {
            let _ = update(&pool, &id, "failed", 0.0, None, Some(&e.to_string())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::store::EventRow;

    fn manifest(events: &[(i64, &str, Option<&str>)]) -> Manifest {
        let file = |site: &str, offset_ms, duration_ms| ManifestFile {
            file: format!("{site}-1.webm"),
            site_id: site.into(),
            site_name: site.into(),
            offset_ms,
            duration_ms: Some(duration_ms),
            bytes: Some(1),
            status: "complete".into(),
        };
        Manifest {
            version: 1,
            recording_id: "r".into(),
            session_id: "s".into(),
            title: "t".into(),
            started_at: Utc::now(),
            stopped_at: None,
            status: "complete".into(),
            host_site_id: "host".into(),
            files: vec![
                file("host", 0, 60_000),
                file("a", 10_000, 40_000),
                file("b", 20_000, 40_000),
            ],
            timeline: events
                .iter()
                .enumerate()
                .map(|(i, (at, kind, site))| EventRow {
                    seq: i as i64 + 1,
                    at_ms: *at,
                    kind: kind.to_string(),
                    site_id: site.map(String::from),
                    detail: "{}".into(),
                })
                .collect(),
        }
    }

    fn seg(a: i64, b: i64, main: Option<&str>) -> Segment {
        Segment {
            from_ms: a,
            to_ms: b,
            main: main.map(String::from),
        }
    }

    #[test]
    fn the_screen_wins_over_the_floor_and_leaving_ends_both() {
        let m = manifest(&[
            (0, "recording_started", None),
            (15_000, "floor_given", Some("a")),
            (25_000, "screen_share_started", Some("b")),
            (30_000, "screen_share_stopped", Some("b")),
            (40_000, "site_left", Some("a")),
            (45_000, "floor_given", Some("host")),
        ]);
        assert_eq!(
            layout(&m),
            vec![
                seg(0, 15_000, None),
                seg(15_000, 25_000, Some("a")),
                seg(25_000, 30_000, Some("b")),
                seg(30_000, 40_000, Some("a")),
                seg(40_000, 60_000, None),
            ]
        );
        assert_eq!(layout(&manifest(&[])), vec![seg(0, 60_000, None)]);
    }

    #[test]
    fn the_graph_places_each_file_at_its_offset_and_mixes_every_site() {
        let m = manifest(&[(15_000, "floor_given", Some("a"))]);
        let args = ffmpeg_args(&m, Path::new("/r"), Path::new("/r/out.mp4"));
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.contains("[1:v]setpts=PTS-STARTPTS,tpad=start_duration=10.000"),
            "{graph}"
        );
        assert!(
            graph.contains("enable='between(t,15.000,50.000)'"),
            "a large while it has the floor and is there: {graph}"
        );
        assert!(
            graph.contains(
                "[0:v]setpts=PTS-STARTPTS,tpad=start_duration=0.000:color=black,fps=25,split=2"
            ),
            "{graph}"
        );
        assert!(!graph.contains("[2:v]"), "b is never large: {graph}");
        assert!(
            graph.contains("[2:a]aresample=48000,adelay=delays=20000:all=1"),
            "{graph}"
        );
        assert!(graph.contains("amix=inputs=3"), "{graph}");
        assert_eq!(args.last().unwrap(), "/r/out.mp4");
        assert_eq!(args[args.len() - 2], "60.000");
    }
}
