//! After a crash: recordings still marked `recording` are finalised at the next start. Each file
//! left open is remuxed with `ffmpeg -c copy` (no re-encoding: it writes the duration and the
//! cues a killed muxer never wrote; without ffmpeg the file stays as it is, playable up to its
//! last flushed second), its duration read back with `ffprobe`, and the recording is marked
//! `interrupted` with an event and an audit entry.

use super::store;
use crate::store::{Pool, StoreError};
use std::path::Path;
use tokio::process::Command;

/// Repairs every recording a crash left running; returns how many.
pub async fn repair_all(pool: &Pool, dir: &Path) -> Result<usize, StoreError> {
    let open = store::with_status(pool, "recording").await?;
    for rec in &open {
        let folder = dir.join(&rec.id);
        let mut last = rec.started_at;
        for f in store::files(pool, &rec.id).await? {
            if f.status != "open" {
                continue;
            }
            let path = folder.join(&f.name);
            remux(&path).await;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let duration_ms = probe_duration_ms(&path).await.unwrap_or(0);
            let end = rec.started_at + chrono::Duration::milliseconds(f.offset_ms + duration_ms);
            last = last.max(end);
            store::close_file(pool, &rec.id, &f.name, duration_ms, bytes, "interrupted").await?;
        }
        let at_ms = (last - rec.started_at).num_milliseconds();
        let detail = serde_json::json!({ "recording_id": rec.id, "reason": "the server stopped during the recording" });
        store::add_event(pool, &rec.id, at_ms, "recording_interrupted", None, &detail).await?;
        store::finish(pool, &rec.id, "interrupted", last, "system:repair", None, 0).await?;
        crate::audit::append(
            pool,
            "system:repair",
            crate::audit::actions::RECORDING_STOP,
            &format!("session:{}", rec.session_id),
            detail,
        )
        .await?;
        super::manifest::write(pool, &folder, &rec.id).await;
        tracing::warn!(recording = %rec.id, "recording interrupted by a server stop: finalised");
    }
    Ok(open.len())
}

/// Rewrites `path` with ffmpeg's stream copy (duration and cues), replacing it on success.
async fn remux(path: &Path) {
    let tmp = path.with_extension("repaired.webm");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-c", "copy", "-f", "webm"])
        .arg(&tmp)
        .status()
        .await;
    match status {
        Ok(s) if s.success() => {
            if let Err(e) = std::fs::rename(&tmp, path) {
                tracing::error!(file = %path.display(), "repair: {e}");
            }
        }
        Ok(s) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::error!(file = %path.display(), "repair: ffmpeg exited with {s}");
        }
        Err(e) => tracing::error!(file = %path.display(), "repair: cannot run ffmpeg: {e}"),
    }
}

/// The duration ffprobe reads from a file, in ms.
pub async fn probe_duration_ms(path: &Path) -> Option<i64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .await
        .ok()?;
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((secs * 1000.0).round() as i64)
}
